/* store_reply.c -- the Redis protocol of picks, both ways (pure): build the
 * arguments of FCALL fd_pick for a plan, decode its replies (tests feed
 * RESP bytes), and decide from fd_version's reply whether to load the
 * Functions library.
 *
 * fd_pick answers an array: { "picked"|"recorded"|"none", id1, uri1, ... }.
 * Anything else (an error reply, odd lengths, a non-SIP contact, too long
 * values) is -EPROTO, and the caller answers with the plan's fallback.
 */
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis.h>

#include "outbuf.h"

static bool str_is(const redisReply *e, const char *s)
{
    return e->type == REDIS_REPLY_STRING && e->len == strlen(s) && memcmp(e->str, s, e->len) == 0;
}

int store_decode_pick(const redisReply *r, store_decision_t *d)
{
    memset(d, 0, sizeof(*d));
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 || r->elements % 2 != 1)
        return -EPROTO;
    if (str_is(r->element[0], "picked")) d->kind = STORE_PICKED;
    else if (str_is(r->element[0], "recorded")) d->kind = STORE_RECORDED;
    else if (str_is(r->element[0], "none")) d->kind = STORE_NONE;
    else return -EPROTO;

    size_t pairs = (r->elements - 1) / 2;
    if (pairs > RULES_MAX_CONTACTS) pairs = RULES_MAX_CONTACTS;
    for (size_t i = 0; i < pairs; i++) {
        const redisReply *id = r->element[1 + 2 * i], *uri = r->element[2 + 2 * i];
        if (id->type != REDIS_REPLY_STRING || uri->type != REDIS_REPLY_STRING) return -EPROTO;
        if (id->len == 0 || id->len >= sizeof(d->id[0]) || uri->len >= sizeof(d->uri[0])) return -EPROTO;
        if (uri->len < 5 || (strncmp(uri->str, "sip:", 4) != 0 && strncmp(uri->str, "sips:", 5) != 0))
            return -EPROTO;
        /* a contact goes into a header line verbatim: no CR, LF, '<' or '>' */
        if (strcspn(uri->str, "\r\n<> \t") != uri->len) return -EPROTO;
        memcpy(d->id[i], id->str, id->len);
        memcpy(d->uri[i], uri->str, uri->len);
    }
    d->n = (unsigned)pairs;
    if (d->kind == STORE_NONE && d->n) return -EPROTO;
    if (d->kind != STORE_NONE && d->n == 0) d->kind = STORE_NONE;
    return 0;
}

const char *store_strategy_code(rules_strategy_t st)
{
    switch (st) {
    case RULES_ROUND_ROBIN: return "rr";
    case RULES_MOST_SKILLED: return "ms";
    case RULES_FEWEST_OFFERS: return "fo";
    case RULES_LONGEST_IDLE: break;
    }
    return "li";
}

/* Append <s> to <o>, at most <max> bytes of it, without tabs or control
 * characters (a history field). */
static void put_clean(out_t *o, const char *s, size_t max)
{
    for (size_t i = 0; s && s[i] && i < max; i++) {
        char c = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
        put(o, &c, 1);
    }
}

/* Append one argument (borrowed). */
static void arg(store_argv_t *a, const char *s, size_t len)
{
    a->argv[a->argc] = s;
    a->lens[a->argc] = len;
    a->argc++;
}

int store_build_pick(store_argv_t *a, const char *cmd, const char *fn, const plan_t *plan,
                     const char *callid, size_t callid_len, const char *offer_ms,
                     const char *ttl_ms, const char *keep, const store_hist_t *hist)
{
    const char *sites[RULES_MAX_CHAIN + 1];
    unsigned nk = 0, nsteps = 0;

    /* the site prefixes, called site first, each once */
    if (plan->site) sites[nk++] = plan->site;
    for (unsigned i = 0; i < plan->n_chain && i < RULES_MAX_CHAIN; i++) {
        const plan_step_t *st = &plan->chain[i];
        if (st->kind != PLAN_STEP_PICK) continue;
        if (!st->site || !st->skill) return -EINVAL;
        nsteps++;
        unsigned j = 0;
        while (j < nk && strcmp(sites[j], st->site) != 0) j++;
        if (j == nk) sites[nk++] = st->site;
    }
    if (nsteps == 0) return -EINVAL;

    a->argc = 0;
    arg(a, cmd, strlen(cmd));
    arg(a, fn, strlen(fn));
    out_t o = { a->nkeys, 0, sizeof(a->nkeys), false };
    put_uint(&o, nk);
    arg(a, a->nkeys, o.len);
    for (unsigned j = 0; j < nk; j++) {
        o = (out_t){ a->keys[j], 0, sizeof(a->keys[j]), false };
        puts_(&o, "fd:{");
        puts_(&o, sites[j]);
        puts_(&o, "}");
        if (o.full) return -EINVAL;
        arg(a, a->keys[j], o.len);
    }
    arg(a, callid, callid_len);
    if (plan->caller_aware) arg(a, plan->caller, strlen(plan->caller));
    else arg(a, "", 0);

    o = (out_t){ a->plan, 0, sizeof(a->plan), false };
    put_uint(&o, STORE_PLAN_VERSION);
    puts_(&o, "|");
    put_uint(&o, plan->max_contacts ? plan->max_contacts : 1);
    puts_(&o, "|");
    puts_(&o, offer_ms);
    puts_(&o, "|");
    puts_(&o, ttl_ms);
    puts_(&o, "|");
    put_uint(&o, plan->caller_aware ? plan->caller_window_s : 0);
    puts_(&o, "|");
    if (plan->local_date) put_uint(&o, plan->local_date);
    for (unsigned i = 0; i < plan->n_chain && i < RULES_MAX_CHAIN; i++) {
        const plan_step_t *st = &plan->chain[i];
        if (st->kind != PLAN_STEP_PICK) continue;
        unsigned j = 0;
        while (strcmp(sites[j], st->site) != 0) j++;
        puts_(&o, "|");
        put_uint(&o, j + 1);
        puts_(&o, ":");
        puts_(&o, st->skill);
        puts_(&o, ":");
        puts_(&o, store_strategy_code(st->strategy));
        puts_(&o, ":");
        put_uint(&o, st->min_level ? st->min_level : 1);
    }
    if (o.full) return -EINVAL;
    arg(a, a->plan, o.len);
    if (keep && *keep && hist) {
        o = (out_t){ a->hist, 0, sizeof(a->hist), false };
        puts_(&o, keep);
        puts_(&o, "\t");
        put_clean(&o, hist->number, 32);
        puts_(&o, "\t");
        put_clean(&o, hist->option, 7);
        puts_(&o, "\t");
        put_clean(&o, hist->skill, 32);
        if (o.full) return -EINVAL;
        arg(a, a->hist, o.len);
    }
    return 0;
}

store_lib_action_t store_lib_action(const redisReply *r, unsigned *version)
{
    unsigned long v = 0;
    *version = 0;
    if (!r) return STORE_LIB_LOAD;
    if (r->type == REDIS_REPLY_ERROR) {
        if (!strncmp(r->str, "NOAUTH", 6) || !strncmp(r->str, "NOPERM", 6)) return STORE_LIB_REFUSED;
        return STORE_LIB_LOAD; /* "Function not found": none loaded */
    }
    if (r->type == REDIS_REPLY_INTEGER && r->integer > 0) v = (unsigned long)r->integer;
    else if (r->type == REDIS_REPLY_STRING && r->len > 0 && r->len < 8 &&
             strspn(r->str, "0123456789") == r->len)
        v = strtoul(r->str, NULL, 10);
    else return STORE_LIB_NEWER; /* a version we cannot read: not ours to replace */
    *version = (unsigned)v;
    if (v == STORE_LIB_VERSION) return STORE_LIB_CURRENT;
    return v < STORE_LIB_VERSION ? STORE_LIB_UPGRADE : STORE_LIB_NEWER;
}

static void xarg(store_xadd_t *a, const char *s, size_t len)
{
    a->argv[a->argc] = s;
    a->lens[a->argc] = len;
    a->argc++;
}

int store_build_history(store_xadd_t *a, const store_hist_rec_t *const *recs, size_t n, const char *keep,
                        unsigned long long now_ms)
{
    if (!n || !keep || (keep[0] != 'd' && keep[0] != 'n') || !recs[0]->site[0]) return -EINVAL;
    const char *site = recs[0]->site;
    out_t o = { a->key, 0, sizeof(a->key), false };
    puts_(&o, "fd:{");
    puts_(&o, site);
    puts_(&o, "}:calls");
    if (o.full) return -EINVAL;
    size_t keylen = o.len;
    unsigned long long k = strtoull(keep + 1, NULL, 10);
    o = (out_t){ a->bound, 0, sizeof(a->bound), false };
    put_uint(&o, keep[0] == 'n' ? k : (now_ms > k ? now_ms - k : 0));
    size_t boundlen = o.len;

    /* the records of that site, one a line: what fd_pick's one would say,
     * then the proxy's clock and a final response's status, if any */
    o = (out_t){ a->value, 0, sizeof(a->value), false };
    int taken = 0;
    for (size_t r = 0; r < n && taken < STORE_HISTORY_BATCH; r++) {
        const store_hist_rec_t *rec = recs[r];
        if (strcmp(rec->site, site)) continue;
        char offered[12];
        snprintf(offered, sizeof(offered), "%u", rec->offered);
        const char *f[] = { rec->callid, rec->number, rec->option, rec->skill, rec->outcome, offered, rec->caller };
        size_t before = o.len;
        if (taken) puts_(&o, "\n");
        for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
            put_clean(&o, f[i], 64);
            puts_(&o, "\t");
        }
        put_uint(&o, rec->ms);
        if (rec->status[0]) {
            puts_(&o, "\t");
            put_clean(&o, rec->status, 3);
        }
        if (o.full) { /* no room for this one: the next batch */
            o.full = false;
            o.len = before;
            break;
        }
        taken++;
    }
    if (!taken) return -EINVAL;

    a->argc = 0;
    xarg(a, "XADD", 4);
    xarg(a, a->key, keylen);
    if (keep[0] == 'n') xarg(a, "MAXLEN", 6);
    else xarg(a, "MINID", 5);
    xarg(a, "~", 1);
    xarg(a, a->bound, boundlen);
    xarg(a, "*", 1);
    xarg(a, "v", 1);
    xarg(a, a->value, o.len);
    return taken;
}
