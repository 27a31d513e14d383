/* store_reply.c -- the Redis protocol of picks, both ways (pure): build the
 * arguments of FCALL fd_pick for a plan, decode its replies (tests feed
 * RESP bytes).
 *
 * fd_pick answers an array: { "picked"|"recorded"|"none", id1, uri1, ... }.
 * Anything else (an error reply, odd lengths, a non-SIP contact, too long
 * values) is -EPROTO, and the caller answers with the plan's fallback.
 */
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <hiredis.h>

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

const char *store_strategy_name(rules_strategy_t st)
{
    switch (st) {
    case RULES_ROUND_ROBIN: return "round_robin";
    case RULES_MOST_SKILLED: return "most_skilled";
    case RULES_FEWEST_OFFERS: return "fewest_offers";
    case RULES_LONGEST_IDLE: break;
    }
    return "longest_idle";
}

/* Append one argument (borrowed). */
static void arg(store_argv_t *a, const char *s, size_t len)
{
    a->argv[a->argc] = s;
    a->lens[a->argc] = len;
    a->argc++;
}

static void arg_fmt(store_argv_t *a, const char *fmt, unsigned v)
{
    char *b = a->bufs[a->argc];
    int n = snprintf(b, sizeof(a->bufs[0]), fmt, v);
    arg(a, b, n > 0 ? (size_t)n : 0);
}

int store_build_pick(store_argv_t *a, const char *cmd, const char *fn, const plan_t *plan,
                     const char *callid, size_t callid_len, const char *offer_ms,
                     const char *ttl_ms)
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
    arg_fmt(a, "%u", nk);
    for (unsigned j = 0; j < nk; j++) {
        char *b = a->bufs[a->argc];
        int n = snprintf(b, sizeof(a->bufs[0]), "fd:{%s}", sites[j]);
        if (n < 0 || (size_t)n >= sizeof(a->bufs[0])) return -EINVAL;
        arg(a, b, (size_t)n);
    }
    arg(a, callid, callid_len);
    arg_fmt(a, "%u", plan->max_contacts ? plan->max_contacts : 1);
    arg(a, offer_ms, strlen(offer_ms));
    arg(a, ttl_ms, strlen(ttl_ms));
    if (plan->caller_aware) arg(a, plan->caller, strlen(plan->caller));
    else arg(a, "", 0);
    arg_fmt(a, "%u", plan->caller_aware ? plan->caller_window_s : 0);
    if (plan->local_date) arg_fmt(a, "%u", plan->local_date);
    else arg(a, "", 0);
    arg_fmt(a, "%u", nsteps);
    for (unsigned i = 0; i < plan->n_chain && i < RULES_MAX_CHAIN; i++) {
        const plan_step_t *st = &plan->chain[i];
        if (st->kind != PLAN_STEP_PICK) continue;
        unsigned j = 0;
        while (strcmp(sites[j], st->site) != 0) j++;
        arg_fmt(a, "%u", j + 1);
        arg(a, st->skill, strlen(st->skill));
        const char *sn = store_strategy_name(st->strategy);
        arg(a, sn, strlen(sn));
        arg_fmt(a, "%u", st->min_level ? st->min_level : 1);
    }
    return 0;
}
