/* eval.c -- rules_eval(): one request view and one snapshot, one plan.
 *
 * Runs on the worker threads for every INVITE: it only reads the snapshot,
 * never allocates, locks or reads a clock, and copies nothing from the
 * request into the plan except the caller's menu option, sanitised, in the
 * reason, and, on a caller-aware plan, the keyed hash of the caller's
 * number. The number itself is never copied anywhere.
 *
 * The caller's number is looked at only when the called site's group has
 * priority callers (its digits are looked up in the group's index) or the
 * site is caller-aware; the keyed hash (HMAC-SHA-256, about 0.2 us with
 * the CPU's SHA instructions) is computed only for a caller-aware
 * PICK plan, whose Redis caller memory is keyed by it.
 *
 * Order of decisions: called number -> single destination? -> closed? ->
 * the site's period at <now> (lunch, after hours, holiday may send the call
 * straight to a URI, or to the overflow steps only) -> skill (dedicated
 * line, menu option or default) -> chain: own staff, overflow steps whose
 * site is open, the final URI.
 */
#include <string.h>

#include <netinet/in.h>

#include "rules_int.h"

#define EVAL_OPTION_SHOWN 8 /* bytes of an unknown option put in a reason */

/* ---------------------------------------------------------------------- */
/* Reason text                                                            */

/* A bounded appender into plan_t.reason. Hand-rolled rather than
 * snprintf(): it must never allocate, and output longer than the buffer is
 * cut, never overflowed. Parts after the site id are joined by ": " (the
 * first) then "; ". */
typedef struct {
    char *buf;
    size_t len;
    unsigned parts;
} reason_t;

static void reason_put(reason_t *rs, const char *s, size_t n)
{
    size_t room = RULES_REASON_MAX - 1 - rs->len;

    if (n > room)
        n = room;
    memcpy(rs->buf + rs->len, s, n);
    rs->len += n;
    rs->buf[rs->len] = '\0';
}

static void reason_str(reason_t *rs, const char *s)
{
    reason_put(rs, s, strlen(s));
}

/* Start a new part of the reason. */
static void reason_part(reason_t *rs, const char *s)
{
    reason_str(rs, rs->parts++ ? "; " : ": ");
    reason_str(rs, s);
}

/* The option comes from the network: show a few bytes of it, and only
 * phone-pad and alphanumeric characters, so a reason written to a log line
 * cannot carry quotes, newlines or a caller's number pasted in a header. */
static void reason_option(reason_t *rs, span_t opt)
{
    size_t n = opt.len > EVAL_OPTION_SHOWN ? EVAL_OPTION_SHOWN : opt.len;

    for (size_t i = 0; i < n; i++) {
        char c = opt.s[i];
        bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                  (c >= 'A' && c <= 'Z') || c == '*' || c == '#';
        reason_put(rs, ok ? &c : "?", 1);
    }
    if (opt.len > n)
        reason_str(rs, "...");
}

/* ---------------------------------------------------------------------- */
/* Called number and option                                               */

static span_t span_trim(span_t sp)
{
    while (sp.len && (sp.s[0] == ' ' || sp.s[0] == '\t')) {
        sp.s++;
        sp.len--;
    }
    while (sp.len && (sp.s[sp.len - 1] == ' ' || sp.s[sp.len - 1] == '\t'))
        sp.len--;
    return sp;
}

/* Find the DID dialled in <num> ("DID" or "DID<sep>OPTION"). On a match,
 * the option part (possibly empty) is stored in *<opt>. NULL when <num> is
 * absent, not a phone number, or no site claims it. */
static const rules_slot_t *eval_lookup(const rules_t *r, span_t num,
                                       span_t *opt)
{
    char digits[RULES_DID_MAX];
    span_t did = num, rest = { NULL, 0 };
    const rules_slot_t *sl;
    const char *sep;
    int len;

    if (num.len == 0)
        return NULL;
    sep = memmem(num.s, num.len, r->option_sep, r->option_sep_len);
    if (sep) {
        did.len = (size_t)(sep - num.s);
        rest.s = sep + r->option_sep_len;
        rest.len = num.len - did.len - r->option_sep_len;
    }
    len = rules_did_normalise(did.s, did.len, digits);
    if (len <= 0)
        return NULL;
    sl = rules_index_find(&r->dids, digits, (size_t)len);
    if (!sl)
        return NULL;
    *opt = rest;
    return sl;
}

/* ---------------------------------------------------------------------- */
/* The plan                                                               */

static void plan_redirect(plan_t *plan, const char *uri)
{
    plan->kind = PLAN_REDIRECT;
    plan->fallback = uri;
    plan->skill = NULL;
    plan->strategy = RULES_LONGEST_IDLE;
    plan->chain[0] = (plan_step_t){ .kind = PLAN_STEP_URI, .uri = uri };
    plan->n_chain = 1;
}

static bool period_is_shut(rules_period_t p)
{
    return p == RULES_PERIOD_CLOSED || p == RULES_PERIOD_LUNCH ||
           p == RULES_PERIOD_HOLIDAY;
}

/* The caller's number as digits (0: none, or not a phone number). */
static size_t eval_caller_digits(const rules_req_t *req,
                                 char digits[RULES_DID_MAX])
{
    if (req->from_user.len == 0)
        return 0;
    return (size_t)rules_caller_digits(req->from_user.s, req->from_user.len,
                                       digits);
}

/* Skill, strategy and minimum level of the route asked for. */
typedef struct {
    const char *skill;
    int strategy;
    unsigned min_level;
} route_t;

static void eval_skill(const rules_site_t *site, const rules_did_t *did,
                       const rules_req_t *req, span_t opt, reason_t *rs,
                       route_t *rt, rules_trace_t *t)
{
    span_t hdr;
    int slot;

    rt->strategy = site->strategy;
    rt->min_level = site->min_level;
    if (did->skill) {
        rt->skill = did->skill;
        t->opt_kind = RULES_OPT_DEDICATED;
        reason_part(rs, "did ");
        reason_str(rs, did->num);
        reason_str(rs, " -> ");
        reason_str(rs, rt->skill);
        return;
    }
    /* A header set by the IVR is more deliberate than a Request-URI
     * suffix, so it wins when both are present. */
    hdr = span_trim(req->option);
    if (hdr.len)
        opt = hdr;
    opt = span_trim(opt);
    t->opt = opt;
    slot = opt.len == 1 ? rules_menu_slot(opt.s[0]) : -1;
    if (slot >= 0 && site->menu[slot].skill) {
        const rules_menu_t *m = &site->menu[slot];
        rt->skill = m->skill;
        if (m->strategy != RULES_NO_STRATEGY)
            rt->strategy = m->strategy;
        if (m->min_level)
            rt->min_level = m->min_level;
        t->opt_kind = RULES_OPT_KNOWN;
        t->slot = slot;
        reason_part(rs, "option ");
        reason_option(rs, opt);
        reason_str(rs, " -> ");
    } else if (opt.len) {
        rt->skill = site->default_skill;
        t->opt_kind = RULES_OPT_UNKNOWN;
        reason_part(rs, "option ");
        reason_option(rs, opt);
        reason_str(rs, " unknown -> default ");
    } else {
        rt->skill = site->default_skill;
        t->opt_kind = RULES_OPT_NONE;
        reason_part(rs, "no option -> default ");
    }
    reason_str(rs, rt->skill);
}

/* Own staff (unless skipped), then each overflow step whose site is open
 * at <now> (pools always), then the fallback. */
static void eval_chain(const rules_t *r, const rules_site_t *site,
                       const route_t *rt, int64_t now, bool own,
                       plan_t *plan, rules_trace_t *t)
{
    unsigned n = 0;

    if (own)
        plan->chain[n++] = (plan_step_t){
            .kind = PLAN_STEP_PICK, .site = site->id, .skill = rt->skill,
            .strategy = (rules_strategy_t)rt->strategy,
            .min_level = rt->min_level,
        };
    for (unsigned k = 0; k < site->noverflow; k++) {
        const rules_step_t *st = &site->overflow[k];
        const char *id;
        int strategy;
        unsigned level;

        if (st->pool) {
            /* a pool has no hours, and takes the route's way of picking */
            id = r->pools[st->target].id;
            strategy = rt->strategy;
            level = rt->min_level;
        } else {
            const rules_site_t *to = &r->sites[st->target];
            if (to->closed) {
                t->steps[k] = RULES_STEP_SITE_CLOSED;
                continue;
            }
            rules_site_when(to, now, &t->step_when[k]);
            if (period_is_shut(t->step_when[k].period)) {
                t->steps[k] = RULES_STEP_SITE_PERIOD;
                continue;
            }
            /* another site picks its staff its own way */
            id = to->id;
            strategy = to->strategy;
            level = to->min_level;
        }
        t->steps[k] = RULES_STEP_USED;
        plan->chain[n++] = (plan_step_t){
            .kind = PLAN_STEP_PICK,
            .site = id,
            .skill = st->skill ? st->skill : rt->skill,
            .strategy = (rules_strategy_t)(st->strategy != RULES_NO_STRATEGY
                                               ? st->strategy
                                               : strategy),
            .min_level = st->min_level ? st->min_level : level,
        };
    }
    plan->chain[n++] = (plan_step_t){ .kind = PLAN_STEP_URI,
                                      .uri = site->fallback };
    plan->n_chain = n;
}

static const char *period_words(rules_period_t p)
{
    return p == RULES_PERIOD_LUNCH     ? "lunch"
           : p == RULES_PERIOD_HOLIDAY ? "holiday"
                                       : "after hours";
}

/* ---------------------------------------------------------------------- */
/* Trusted sources                                                        */

/* Does block <c> hold address <sa>? */
static bool cidr_has(const rules_cidr_t *c, const struct sockaddr *sa)
{
    const uint8_t *a;
    if (sa->sa_family != c->family)
        return false;
    if (c->family == AF_INET)
        a = (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
    else
        a = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
    unsigned full = c->bits / 8u, rest = c->bits % 8u;
    if (memcmp(a, c->addr, full) != 0)
        return false;
    return !rest || ((a[full] ^ c->addr[full]) & (0xffu << (8u - rest))) == 0;
}

static bool list_has(const rules_cidr_t *v, size_t n, const struct sockaddr *sa)
{
    for (size_t i = 0; i < n; i++)
        if (cidr_has(&v[i], sa))
            return true;
    return false;
}

static bool site_trusts(const rules_t *r, const rules_site_t *site,
                        const rules_group_t *group, const struct sockaddr *sa)
{
    return list_has(site->trusted.v, site->trusted.n, sa) ||
           list_has(group->trusted.v, group->trusted.n, sa) ||
           list_has(r->trusted.v, r->trusted.n, sa);
}

bool rules_trusts(const rules_t *r, const struct sockaddr *src)
{
    return !r->trust_given || list_has(r->any_trusted, r->nany_trusted, src);
}

rules_strangers_t rules_strangers(const rules_t *r)
{
    return (rules_strangers_t)r->strangers;
}

bool rules_trust_given(const rules_t *r) { return r->trust_given; }

void rules_eval_trace(const rules_t *r, const rules_req_t *req, time_t now,
                      plan_t *plan, rules_trace_t *t)
{
    reason_t rs = { plan->reason, 0, 0 };
    rules_trace_t scratch;
    const rules_slot_t *sl;
    const rules_site_t *site;
    const rules_did_t *did;
    const rules_route_t *route = NULL;
    const rules_group_t *group;
    char digits[RULES_DID_MAX];
    size_t ndigits = 0;
    span_t opt = { NULL, 0 };
    route_t rt;
    int64_t local;

    if (!t)
        t = &scratch;
    memset(t, 0, sizeof(*t));
    memset(plan, 0, sizeof(*plan));
    plan->strategy = RULES_LONGEST_IDLE;

    /* The Request-URI is what the PBX/IVR routed to us; To keeps the number
     * first dialled, for PBXs that rewrite the Request-URI. */
    sl = eval_lookup(r, req->ruri_user, &opt);
    if (!sl)
        sl = eval_lookup(r, req->to_user, &opt);
    if (!sl) {
        t->mode = RULES_MODE_REJECT;
        plan->kind = PLAN_REJECT;
        plan->status = 404;
        reason_str(&rs, "no site for number");
        return;
    }
    site = t->site = &r->sites[sl->val];
    did = t->did = &site->dids[sl->aux];
    group = &r->groups[site->group];
    if (req->src && r->trust_given && !site_trusts(r, site, group, req->src)) {
        t->mode = RULES_MODE_REJECT;
        plan->kind = PLAN_REJECT;
        plan->status = 403;
        plan->untrusted = true;
        reason_str(&rs, site->id);
        reason_str(&rs, ": the source is not among its trusted sources");
        return;
    }

    plan->group = group->name;
    plan->site = site->id;
    plan->max_contacts = site->max_contacts;
    plan->fallback = site->fallback;
    plan->forward = (did->mode ? did->mode : site->mode ? site->mode : r->mode) ==
                    RULES_FWD_FORWARD;
    rules_site_when(site, (int64_t)now, &t->when);
    plan->period = t->when.period;
    if (t->when.day)
        plan->local_date = t->when.day->date;
    else if (rules_site_local(site, (int64_t)now, &local)) {
        int y;
        unsigned m, d;
        rules_civil_from_days(local >= 0 ? local / RULES_DAY_S
                                         : (local - RULES_DAY_S + 1) /
                                               RULES_DAY_S,
                              &y, &m, &d);
        plan->local_date = (unsigned)y * 10000 + m * 100 + d;
    }
    /* both need a caller key at load, so the check of has_key is only
     * belt and braces */
    t->caller_aware_site = site->caller_aware > 0;
    if (r->has_key && (group->prio_ix.count || t->caller_aware_site))
        ndigits = eval_caller_digits(req, digits);
    t->have_caller = ndigits > 0;
    plan->priority = t->have_caller &&
                     rules_group_is_priority(group, digits, ndigits);
    reason_str(&rs, site->id);

    if (did->to) {
        t->mode = RULES_MODE_DID_TO;
        plan_redirect(plan, did->to);
        reason_part(&rs, "did ");
        reason_str(&rs, did->num);
        reason_str(&rs, " -> ");
        reason_str(&rs, did->to);
        goto caller;
    }
    if (site->closed) {
        t->mode = RULES_MODE_CLOSED;
        plan_redirect(plan, site->fallback);
        reason_part(&rs, "closed -> fallback");
        goto caller;
    }

    if (t->when.unknown)
        reason_part(&rs, "hours not expanded for this date: reload the "
                         "rules");
    switch (t->when.period) {
    case RULES_PERIOD_OPEN:
        reason_part(&rs, "open");
        break;
    case RULES_PERIOD_LUNCH:
        route = &site->lunch;
        break;
    case RULES_PERIOD_CLOSED:
        route = &site->after_hours;
        break;
    case RULES_PERIOD_HOLIDAY:
        route = &site->holiday;
        break;
    case RULES_PERIOD_ALWAYS:
        break;
    }
    t->route = route;
    if (route && route->kind == RULES_ROUTE_URI) {
        t->mode = RULES_MODE_PERIOD_URI;
        plan_redirect(plan, route->uri);
        reason_part(&rs, period_words(t->when.period));
        reason_str(&rs, " -> ");
        reason_str(&rs, route->uri);
        goto caller;
    }
    if (route) {
        reason_part(&rs, period_words(t->when.period));
        reason_str(&rs, " -> overflow");
    }

    t->mode = route ? RULES_MODE_OVERFLOW : RULES_MODE_NORMAL;
    eval_skill(site, did, req, opt, &rs, &rt, t);
    if (t->opt_kind == RULES_OPT_KNOWN && t->opt.len < sizeof(plan->option)) {
        memcpy(plan->option, t->opt.s, t->opt.len);
        plan->option[t->opt.len] = '\0';
    }
    eval_chain(r, site, &rt, (int64_t)now, !route, plan, t);
    if (plan->n_chain == 1) {
        /* every step was skipped: nobody to pick, answer now */
        plan_redirect(plan, site->fallback);
        reason_part(&rs, "nobody to overflow to -> ");
        reason_str(&rs, site->fallback);
        goto caller;
    }
    plan->kind = PLAN_PICK;
    plan->skill = plan->chain[0].skill;
    plan->strategy = plan->chain[0].strategy;
    if (t->caller_aware_site && t->have_caller) {
        uint8_t d[RULES_HASH_BYTES];

        plan->caller_aware = true;
        plan->caller_window_s = site->caller_window_s;
        /* the key of the caller memory in Redis: the only plan that needs
         * the keyed hash */
        rules_caller_digest(r, digits, ndigits, d);
        rules_caller_hex(d, plan->caller);
    }

caller:
    if (plan->priority)
        reason_part(&rs, "priority caller");
}

int rules_eval(const rules_t *r, const rules_req_t *req, time_t now,
               plan_t *plan)
{
    rules_eval_trace(r, req, now, plan, NULL);
    return 0;
}
