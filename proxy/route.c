/* route.c -- per-request flow: sip_parse -> answer now, or plan -> one
 * FCALL -> answer when Redis replies or the deadline passes, whichever comes
 * first. Dispatch, the redirect call and the call's lifecycle; forward mode
 * is route_fwd.c. See route.h, and route_int.h for the call's states.
 */
#include "route_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sodium.h>

#include "log.h"
#include "opts.h"
#include "outbuf.h"
#include "sipresp.h"

uint64_t route_ms_of(const struct timespec *t)
{
    return (uint64_t)t->tv_sec * 1000u + (uint64_t)t->tv_nsec / 1000000u;
}

double route_ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

void route_send_to(route_env_t *env, unsigned sock, const struct sockaddr_storage *addr, socklen_t len,
                   const char *buf, size_t n)
{
    xport_to_t to = { .kind = XPORT_UDP, .sock = sock, .addr_len = len };
    if (len > sizeof(to.addr)) {
        METRIC_INC(env->m, tx_errors);
        return;
    }
    memcpy(&to.addr, addr, len);
    env->send(env->ctx, &to, buf, n);
}

/* Answer with <status> and optional <extra> header lines. */
void route_answer(route_env_t *env, const xport_to_t *from, const sip_req_t *r, int status,
                  const char *reason, const char *extra)
{
    char head[SIPRESP_HEAD_MAX], out[ROUTE_TX_MAX];
    int hl = sipresp_head(r, head, sizeof(head));
    if (hl < 0) {
        METRIC_INC(env->m, tx_errors);
        return;
    }
    int n = sipresp_build(out, sizeof(out), status, reason, head, (size_t)hl,
                          extra, extra ? strlen(extra) : 0);
    if (n < 0) {
        METRIC_INC(env->m, tx_errors);
        return;
    }
    route_reply(env, from, r, out, (size_t)n);
}

void route_reply(route_env_t *env, const xport_to_t *from, const sip_req_t *r, const char *buf, size_t n)
{
    if (from->kind == XPORT_UDP) {
        route_send_to(env, from->sock, &r->reply_to, r->reply_len, buf, n);
        return;
    }
    xport_to_t to = *from; /* over TCP and TLS: the connection it came on */
    env->send(env->ctx, &to, buf, n);
}

static site_outcome_t outcome_of(const char *o)
{
    if (strcmp(o, "staff") == 0) return SO_STAFF;
    if (strcmp(o, "redirect") == 0) return SO_RULES;
    if (strcmp(o, "reject") == 0) return SO_REJECT;
    if (strcmp(o, "fallback-redis-timeout") == 0) return SO_REDIS_LATE;
    if (strcmp(o, "fallback-redis-down") == 0 || strcmp(o, "fallback-redis-busy") == 0) return SO_REDIS_DOWN;
    if (strcmp(o, "fallback-redis-error") == 0) return SO_REDIS_ERROR;
    if (strcmp(o, "fallback-site-capped") == 0) return SO_SITE_CAPPED;
    return SO_NOBODY_FREE; /* fallback-nobody-free, forward's staff-skipped */
}

static uint64_t us_since(const struct timespec *t0)
{
    double ms = route_ms_since(t0);
    return ms > 0 ? (uint64_t)(ms * 1000.0) : 0;
}

/* The call history's name for a call's outcome (STORE_OUTCOMES). */
static const char *history_outcome(const call_t *c, const char *o)
{
    switch (outcome_of(o)) {
    case SO_STAFF: return "staff";
    case SO_NOBODY_FREE: return "nobody";
    case SO_REDIS_LATE: return "late";
    case SO_REDIS_DOWN: return "redis_down";
    case SO_REDIS_ERROR: return "redis_error";
    case SO_SITE_CAPPED: return "capped";
    case SO_REJECT: return "rejected";
    case SO_RULES: break;
    default: break;
    }
    switch (c->plan.period) {
    case RULES_PERIOD_CLOSED: return "after_hours";
    case RULES_PERIOD_LUNCH: return "lunch";
    case RULES_PERIOD_HOLIDAY: return "holiday";
    default: return "rules";
    }
}

/* Queue the call's history entry (every INVITE routed, but a
 * retransmission's: its call has one). */
static void route_history(call_t *c, const char *outcome)
{
    route_env_t *env = c->env;
    if (!env->history || c->followup || c->recorded || !c->plan.site) return;
    store_hist_rec_t rec = { .ms = route_wall_ms() };
    copy_cut(rec.site, sizeof(rec.site), c->plan.site, strlen(c->plan.site));
    memcpy(rec.callid, c->rawcid_len ? c->rawcid : c->callid, LOG_CALL_HASH_LEN);
    if (c->plan.caller_aware) copy_cut(rec.caller, sizeof(rec.caller), c->plan.caller, strlen(c->plan.caller));
    memcpy(rec.number, c->number, sizeof(rec.number));
    memcpy(rec.option, c->option, sizeof(rec.option));
    if (c->plan.skill) copy_cut(rec.skill, sizeof(rec.skill), c->plan.skill, strlen(c->plan.skill));
    const char *h = history_outcome(c, outcome);
    copy_cut(rec.outcome, sizeof(rec.outcome), h, strlen(h));
    rec.offered = outcome_of(outcome) == SO_STAFF ? c->offered : 0;
    env->history(env->ctx, &rec);
}

uint64_t route_wall_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return route_ms_of(&t);
}

void route_count(call_t *c, const char *outcome)
{
    route_env_t *env = c->env;
    route_history(c, outcome);
    if (!env->site_stats || c->followup) return;
    int slot = metrics_site_slot(env->sites, c->plan.site);
    if (slot >= 0)
        atomic_fetch_add_explicit(&env->site_stats->outcome[slot][outcome_of(outcome)], 1, memory_order_relaxed);
    metrics_hist_add(&env->site_stats->decision, us_since(&c->t0));
}

/* Free <c> unless a callback still owes it a visit. */
void route_call_done(call_t *c)
{
    if (c && c->state == CALL_ACTIVE) free(c);
}

/* 302 to <n> staff contacts followed by the fallback, or the plan's final
 * answer when there is nothing to redirect to; in forward mode, the
 * request goes on to the first of them instead. */
void route_answer_call(call_t *c, const store_decision_t *d, const char *outcome)
{
    route_env_t *env = c->env;
    if (c->forward) {
        route_fwd_call(c, d, outcome);
        return;
    }
    const char *uris[RULES_MAX_CONTACTS + 1];
    size_t n = 0;
    char contacts[2048], out[ROUTE_TX_MAX], picked[RULES_MAX_CONTACTS * 66] = "";

    for (unsigned i = 0; d && i < d->n; i++) {
        uris[n++] = d->uri[i];
        size_t pl = strlen(picked);
        snprintf(picked + pl, sizeof(picked) - pl, "%s%s", pl ? "," : "", d->id[i]);
    }
    if (c->plan.fallback) uris[n++] = c->plan.fallback;
    if (c->plan.kind == PLAN_REDIRECT) METRIC_INC(env->m, answered_direct);
    else if (d && d->n) METRIC_INC(env->m, answered_staff);
    else METRIC_INC(env->m, answered_fallback);

    int cl = sipresp_contacts(contacts, sizeof(contacts), uris, n);
    int len = -1;
    if (cl >= 0 && n)
        len = sipresp_build(out, sizeof(out), 302, NULL, c->head, c->head_len, contacts, (size_t)cl);
    else if (!n)
        len = sipresp_build(out, sizeof(out), 480, NULL, c->head, c->head_len, "Retry-After: 60\r\n", 17);
    if (len < 0) {
        METRIC_INC(env->m, tx_errors);
        return;
    }
    route_count(c, outcome); /* before the answer leaves: whoever sees it sees it counted */
    env->send(env->ctx, &c->to, out, (size_t)len);
    LOG_INFO("route", "call=\"%s\" caller=%s priority=%d site=%s skill=%s outcome=%s staff=%s reason=\"%s\" ms=%.2f",
             c->callid, c->caller, c->plan.priority, c->plan.site ? c->plan.site : "-",
             c->plan.skill ? c->plan.skill : "-", outcome, picked[0] ? picked : "-",
             c->plan.reason, route_ms_since(&c->t0));
}

void route_deadline(void *call)
{
    call_t *c = call;
    if (c->state != CALL_WAIT_STORE) return;
    METRIC_INC(c->env->m, redis_timeouts);
    c->state = CALL_LATE;
    route_answer_call(c, NULL, "fallback-redis-timeout");
    route_call_done(c);
}

static void on_decision(void *arg, int err, const store_decision_t *d)
{
    call_t *c = arg;
    route_env_t *env = c->env;
    switch (c->state) {
    case CALL_LATE:
    case CALL_LATE_DNS:
        /* too late: the caller has the fallback; free whom Redis reserved,
         * so they are not held for a call that never rings them (the
         * pick's latency is counted all the same: it is the tail) */
        if (env->site_stats && !c->followup) metrics_hist_add(&env->site_stats->pick, us_since(&c->asked));
        c->state = c->state == CALL_LATE ? CALL_ACTIVE : CALL_WAIT_DNS;
        if (err == 0 && d->kind == STORE_PICKED && d->n)
            env->release(env->ctx, c->plan.site, c->rawcid, c->rawcid_len);
        route_call_done(c);
        return;
    case CALL_WAIT_STORE:
        /* a retransmission: its call's history entry is written already */
        c->recorded = err == 0 && d->kind == STORE_RECORDED;
        c->offered = err == 0 ? d->n : 0;
        break;
    case CALL_ACTIVE:
    case CALL_WAIT_DNS:
        return; /* a store that answers twice: nothing owed */
    }
    c->state = CALL_ACTIVE;
    env->timer_cancel(env->ctx, c->timer);
    if (env->site_stats && !c->followup) metrics_hist_add(&env->site_stats->pick, us_since(&c->asked));
    if (err == -ECONNRESET) {
        METRIC_INC(env->m, redis_unavailable);
        route_answer_call(c, NULL, "fallback-redis-down");
    } else if (err < 0) {
        METRIC_INC(env->m, redis_errors);
        route_answer_call(c, NULL, "fallback-redis-error");
    } else {
        if (d->kind == STORE_RECORDED && !c->followup) METRIC_INC(env->m, retransmissions);
        route_answer_call(c, d, d->n ? "staff" : "fallback-nobody-free");
    }
    route_call_done(c);
}

static const char *keep(char *buf, size_t cap, const char *s)
{
    if (!s) return NULL;
    copy_cut(buf, cap, s, strlen(s));
    return buf;
}

/* Point the plan's strings that outlive this batch at the call's copies
 * (the chain itself is sent to Redis before the batch ends). */
static void keep_plan_strings(call_t *c)
{
    c->plan.site = keep(c->site, sizeof(c->site), c->plan.site);
    c->plan.skill = keep(c->skill, sizeof(c->skill), c->plan.skill);
    c->plan.fallback = keep(c->fallback, sizeof(c->fallback), c->plan.fallback);
    c->plan.group = NULL;
}

/* The call's id in Redis (its decision's key) and in the logs: the keyed
 * hash of its Call-ID, never the Call-ID (it often carries the caller's
 * number or host); the same on every proxy of a group, so a retransmission
 * or a CANCEL finds the decision wherever it lands. */
static size_t rawcid_of(const sip_req_t *r, char out[256])
{
    log_call_hash(r->call_id.s ? r->call_id.s : "", r->call_id.len, out);
    return LOG_CALL_HASH_LEN;
}

/* Room for the timer, aligned, in front of the head */
static size_t timer_room(const route_env_t *env)
{
    return (env->timer_size + 15u) & ~(size_t)15u;
}

/* A call_t for <r>, with the answer's head (none for an ACK, which is
 * never answered) and room for <extra> bytes after it. NULL when out of
 * memory. */
call_t *route_call_alloc(route_env_t *env, const xport_to_t *from, const sip_req_t *r, size_t extra)
{
    char head[SIPRESP_HEAD_MAX];
    call_t *c;
    int hl = r->method == SIP_ACK ? 0 : sipresp_head(r, head, sizeof(head));
    if (hl < 0 || !(c = calloc(1, sizeof(*c) + timer_room(env) + (size_t)hl + extra))) return NULL;
    clock_gettime(CLOCK_MONOTONIC, &c->t0);
    c->env = env;
    c->state = CALL_ACTIVE;
    c->to = (xport_to_t){ .kind = from->kind, .sock = from->sock, .conn = from->conn, .addr_len = r->reply_len };
    memcpy(&c->to.addr, &r->reply_to, r->reply_len);
    c->timer = c->mem;
    c->head = (char *)c->mem + timer_room(env);
    memcpy(c->head, head, (size_t)hl);
    c->head_len = (size_t)hl;
    log_call_hash(r->call_id.s ? r->call_id.s : "", r->call_id.len, c->callid);
    return c;
}

/* <c> with room for <extra> bytes after its head (before any timer is
 * armed: the call moves). NULL, <c> freed, when out of memory. */
call_t *route_call_resize(call_t *c, size_t extra)
{
    size_t room = timer_room(c->env);
    call_t *bigger = realloc(c, sizeof(*c) + room + c->head_len + extra);
    if (!bigger) {
        free(c);
        return NULL;
    }
    bigger->timer = bigger->mem;
    bigger->head = (char *)bigger->mem + room;
    return bigger;
}

/* A call for request <r>: the answer's head, and in forward mode (the plan
 * says so) the tail of the request to send on. NULL when out of memory or
 * the request cannot be forwarded. */
call_t *route_call_new(route_env_t *env, const xport_to_t *from, const sip_req_t *r, time_t now,
                       bool followup)
{
    rules_req_t rq = { r->ruri_user, r->to_user, r->from_user, r->option, (const struct sockaddr *)&from->addr };
    call_t *c = route_call_alloc(env, from, r, 0);

    if (!c) return NULL;
    c->followup = followup;
    rules_eval(env->rules, &rq, now, &c->plan);
    c->forward = c->plan.forward && c->plan.kind != PLAN_REJECT &&
                 route_can_forward(route_self(env, from->sock));
    if (c->forward && !(c = route_fwd_prepare(c, r))) return NULL;
    if (env->history && !followup) {
        copy_cut(c->number, sizeof(c->number), r->to_user.s ? r->to_user.s : "", r->to_user.len);
        memcpy(c->option, c->plan.option, sizeof(c->plan.option));
    }
    /* a call that may outlive this batch (waiting for Redis or for DNS)
     * keeps its own copies: a reload may free the snapshot meanwhile */
    if (c->plan.kind == PLAN_PICK || c->forward) keep_plan_strings(c);
    /* the log's keyed hash of the number's digits: the same caller gets the
     * same value on every line, however the PBX wrote the number */
    if (LOG_ENABLED(LOG_LVL_INFO))
        log_caller_hash(r->from_user.s ? r->from_user.s : "", r->from_user.len, c->caller);
    return c;
}

/* Ask Redis (the pick, or for a follow-up the recorded decision); the
 * answer or forward happens in on_decision() or route_deadline(). */
void route_ask_store(call_t *c, const sip_req_t *r)
{
    route_env_t *env = c->env;
    c->rawcid_len = rawcid_of(r, c->rawcid);
    clock_gettime(CLOCK_MONOTONIC, &c->asked);
    /* the history entry is the proxy's to write, in its batches (NULL: not
     * fd_pick's; docs/decisions.md, "Contract version 4") */
    int rc = c->followup ? env->decision(env->ctx, c->plan.site, c->rawcid, c->rawcid_len, on_decision, c)
                         : env->pick(env->ctx, &c->plan, c->rawcid, c->rawcid_len, NULL, on_decision, c);
    if (rc < 0) {
        METRIC_INC(env->m, redis_unavailable);
        route_answer_call(c, NULL, rc == -EBUSY ? "fallback-redis-busy" : "fallback-redis-down");
        route_call_done(c);
        return;
    }
    c->state = CALL_WAIT_STORE;
    env->timer_arm(env->ctx, c->timer, c);
}

/* Logging a refusal at most once a second per environment: true when a
 * line is due now (*<more>: how many were refused unlogged since). */
static bool log_due(time_t *at, unsigned *quiet, time_t now, unsigned *more)
{
    if (*at == now) {
        (*quiet)++;
        return false;
    }
    *more = *quiet;
    *at = now;
    *quiet = 0;
    return true;
}

/* The source address of <from> as text, for a log line. */
static void source_text(const xport_to_t *from, char ip[INET6_ADDRSTRLEN])
{
    const struct sockaddr *sa = (const struct sockaddr *)&from->addr;
    strcpy(ip, "?");
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, ip, INET6_ADDRSTRLEN);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, ip, INET6_ADDRSTRLEN);
}

/* Whether <r> is an ACK, which is never answered (RFC 3261 17.2.1). */
static bool is_ack(const sip_req_t *r)
{
    return r->method_name.len == 3 && memcmp(r->method_name.s, "ACK", 3) == 0;
}

/* One more pick for <site> this second, if its cap allows: the window of
 * the slot its id hashes to ("<second> << 32 | picks"), shared by every
 * worker. Two sites that share a slot share a cap: with 65536 slots, a
 * few in a network of hundreds, and then only more careful. */
static bool site_pick_allowed(route_env_t *env, const char *site, time_t now)
{
    if (!env->site_picks || !env->site_windows || !site) return true;
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)site; *p; p++) h = (h ^ *p) * 16777619u;
    _Atomic uint64_t *w = &env->site_windows[h & (ROUTE_SITE_SLOTS - 1)];
    uint64_t cur = atomic_load_explicit(w, memory_order_relaxed), next;
    uint32_t sec = (uint32_t)now;
    do {
        if ((uint32_t)(cur >> 32) != sec) next = (uint64_t)sec << 32 | 1u;
        else if ((uint32_t)cur >= env->site_picks) return false;
        else next = cur + 1;
    } while (!atomic_compare_exchange_weak_explicit(w, &cur, next, memory_order_relaxed, memory_order_relaxed));
    return true;
}

/* A call past its site's pick cap: the fallback with nobody reserved, 503
 * or nothing (--over-limit). */
static void over_cap(call_t *c, const sip_req_t *r, time_t now)
{
    route_env_t *env = c->env;
    METRIC_INC(env->m, site_capped);
    unsigned more;
    if (log_due(&env->capped_at, &env->capped_quiet, now, &more))
        LOG_WARN("site over its pick cap", "site=%s picks_per_s=%u action=%s more=%u", c->plan.site,
                 env->site_picks,
                 env->over_limit == OPTS_OVER_503 ? "503" : env->over_limit == OPTS_OVER_DROP ? "drop" : "fallback",
                 more);
    if (env->over_limit == OPTS_OVER_DROP) return;
    if (env->over_limit == OPTS_OVER_503) {
        (void)r;
        char out[ROUTE_TX_MAX];
        int n = sipresp_build(out, sizeof(out), 503, NULL, c->head, c->head_len, "Retry-After: 5\r\n", 16);
        if (n > 0) env->send(env->ctx, &c->to, out, (size_t)n);
        return;
    }
    route_answer_call(c, NULL, "fallback-site-capped");
}

/* RFC 3261 8.2.2.3 and 16.3: the option tags <r> requires of us in header
 * <name> (Require when we answer it ourselves, Proxy-Require when we
 * forward it): we support none, so any is answered 420 with them listed
 * in Unsupported. True when answered. */
static bool refuse_extensions(route_env_t *env, const xport_to_t *from, const sip_req_t *r, const char *name)
{
    char extra[512];
    out_t o = { extra, 0, sizeof(extra) - 3, false };
    for (unsigned i = 0; i < r->n_hdrs; i++) {
        const sip_hdr_t *h = &r->hdrs[i];
        if (!sip_hdr_is(h, name, '\0')) continue;
        for (size_t at = sip_value_skip(h->value, 0, true); at < h->value.len;) {
            size_t end = sip_value_end(h->value, at), e = end;
            while (e > at && (h->value.s[e - 1] == ' ' || h->value.s[e - 1] == '\t')) e--;
            /* a tag is a token: anything else is not echoed */
            bool token = e > at;
            for (size_t k = at; k < e && token; k++) {
                unsigned char c = (unsigned char)h->value.s[k];
                token = c > ' ' && c < 0x7f && !strchr("()<>@,;:\\\"/[]?={}", c);
            }
            if (token) {
                puts_(&o, o.len ? ", " : "Unsupported: ");
                put(&o, h->value.s + at, e - at);
            }
            at = sip_value_skip(h->value, end, true);
        }
    }
    if (!o.len) return false;
    if (o.full) {
        o.full = false;
        o.len = 0;
        puts_(&o, "Unsupported: ");
        put(&o, "-", 1); /* too many to list: still refused */
    }
    puts_(&o, "\r\n");
    METRIC_INC(env->m, bad_requests);
    route_answer(env, from, r, 420, NULL, extra);
    return true;
}

/* A stranger's request (reason: "source", trusted by no list, or "site",
 * not by the site it calls): counted, logged once a second at most, and
 * dropped or answered 403 as the rules say. <r> NULL: dropped unread. */
static void refuse_stranger(route_env_t *env, const xport_to_t *from, const sip_req_t *r, bool site,
                            time_t now)
{
    bool reject = rules_strangers(env->rules) == RULES_STRANGERS_REJECT;
    if (site) METRIC_INC(env->m, untrusted_site);
    else METRIC_INC(env->m, untrusted_source);
    unsigned more;
    if (log_due(&env->strangers_at, &env->strangers_quiet, now, &more)) {
        char ip[INET6_ADDRSTRLEN];
        source_text(from, ip);
        LOG_WARN("request from an untrusted source refused", "from=%s reason=%s action=%s more=%u", ip,
                 site ? "not-trusted-by-site" : "not-trusted", reject ? "403" : "drop", more);
    }
    if (!reject || !r || is_ack(r)) return;
    route_answer(env, from, r, 403, NULL, NULL);
}

/* Forward mode: an in-dialog request along our own signed Route (a callee
 * hanging up through us) comes from a phone, not a trunk, and proves
 * itself by our key. */
static bool along_our_route(route_env_t *env, const xport_to_t *from, const sip_req_t *r)
{
    span_t next;
    const fwd_self_t *self = route_self(env, from->sock);
    return env->forwarding && r->to_tag.len && fwd_route_is_self(r, self, &next) && fwd_route_signed(r, self);
}

static void serve_invite(route_env_t *env, const xport_to_t *from, const sip_req_t *r, time_t now)
{
    METRIC_INC(env->m, invites);
    call_t *c = route_call_new(env, from, r, now, false);
    if (!c) {
        route_answer(env, from, r, 500, NULL, NULL);
        return;
    }
    if (c->forward && route_fwd_refuse(env, from, r)) {
        free(c);
        return;
    }
    if (c->plan.untrusted) {
        refuse_stranger(env, from, r, true, now);
        free(c);
        return;
    }
    /* after the number is known ours (RFC 3261 8.2.2.1 comes before 8.2.2.3) */
    if (c->plan.kind != PLAN_REJECT && refuse_extensions(env, from, r, c->forward ? "Proxy-Require" : "Require")) {
        free(c);
        return;
    }
    switch (c->plan.kind) {
    case PLAN_REJECT: {
        char out[ROUTE_TX_MAX];
        int n = sipresp_build(out, sizeof(out), c->plan.status, NULL, c->head, c->head_len, NULL, 0);
        route_count(c, "reject");
        if (n > 0) env->send(env->ctx, &c->to, out, (size_t)n);
        METRIC_INC(env->m, answered_direct);
        LOG_INFO("route", "call=\"%s\" caller=%s outcome=reject status=%d reason=\"%s\"",
                 c->callid, c->caller, c->plan.status, c->plan.reason);
        free(c);
        return;
    }
    case PLAN_REDIRECT:
        route_answer_call(c, NULL, "redirect");
        route_call_done(c);
        return;
    case PLAN_PICK:
        break;
    }
    if (!site_pick_allowed(env, c->plan.site, now)) {
        over_cap(c, r, now);
        route_call_done(c);
        return;
    }
    route_ask_store(c, r);
}

/* One token of <sa>'s bucket, if it has one: the slot its address hashes
 * to holds "<ms> << 24 | milli-tokens" (refilled at source_rate a second,
 * up to one second's worth), shared by every worker. Two sources that
 * share a slot share a bucket: with 65536 slots and a few trunks, rare,
 * and then only stricter. */
static bool source_allowed(route_env_t *env, const struct sockaddr *sa)
{
    if (!env->source_rate || !env->source_buckets) return true;
    const unsigned char *a;
    size_t n;
    if (sa->sa_family == AF_INET) a = (const void *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr, n = 4;
    else if (sa->sa_family == AF_INET6) a = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr, n = 16;
    else return true;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ a[i]) * 16777619u;
    _Atomic uint64_t *b = &env->source_buckets[h & (ROUTE_SOURCE_SLOTS - 1)];
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    uint64_t now = ((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u) & ((1ull << 40) - 1);
    uint64_t full = (uint64_t)env->source_rate * 1000u; /* milli-tokens: a second's worth */
    uint64_t cur = atomic_load_explicit(b, memory_order_relaxed), next;
    do {
        uint64_t last = cur >> 24, tokens = cur & 0xffffffu;
        if (!cur) tokens = full; /* a source not seen yet starts full */
        else if (now > last) tokens += (now - last) * env->source_rate; /* rate per ms, in milli-tokens */
        if (tokens > full) tokens = full;
        if (tokens < 1000u) return false;
        next = now << 24 | (tokens - 1000u);
    } while (!atomic_compare_exchange_weak_explicit(b, &cur, next, memory_order_relaxed, memory_order_relaxed));
    return true;
}

static void source_over(route_env_t *env, const xport_to_t *from, const sip_req_t *r, time_t now)
{
    METRIC_INC(env->m, source_limited);
    unsigned more;
    if (log_due(&env->limited_at, &env->limited_quiet, now, &more)) {
        char ip[INET6_ADDRSTRLEN];
        source_text(from, ip);
        LOG_WARN("source over its request rate", "from=%s requests_per_s=%u action=%s more=%u", ip,
                 env->source_rate, env->source_503 ? "503" : "drop", more);
    }
    if (!r || !env->source_503 || is_ack(r)) return;
    route_answer(env, from, r, 503, NULL, "Retry-After: 5\r\n");
}

void route_stream_error(route_env_t *env, const xport_to_t *from, const char *buf, size_t len, int status,
                        const char *reason, time_t now)
{
    sip_req_t r;
    const struct sockaddr *src = (const struct sockaddr *)&from->addr;
    if (!rules_trusts(env->rules, src) && rules_strangers(env->rules) == RULES_STRANGERS_DROP) {
        refuse_stranger(env, from, NULL, false, now);
        return;
    }
    METRIC_INC(env->m, bad_requests);
    sip_verdict_t v = sip_parse(&r, buf, len, src, from->addr_len, env->option_header);
    if ((v == SIP_REQ_OK || v == SIP_REQ_BAD) && !is_ack(&r)) route_answer(env, from, &r, status, reason, NULL);
    sip_req_free(&r);
}

void route_datagram(route_env_t *env, const xport_to_t *from, const char *buf, size_t len, time_t now)
{
    sip_req_t r;
    const struct sockaddr *src = (const struct sockaddr *)&from->addr;
    bool stranger = !rules_trusts(env->rules, src);

    /* redirect mode, strangers dropped: nothing of theirs is even read */
    if (stranger && !env->forwarding && rules_strangers(env->rules) == RULES_STRANGERS_DROP) {
        refuse_stranger(env, from, NULL, false, now);
        return;
    }
    /* a source past its rate (trusted or not: strangers cost a token too,
     * so a scanner cannot also flood the 403s); dropped unread unless 503
     * is wanted or forward mode must first tell responses (which pass) */
    bool limited = !source_allowed(env, src);
    if (limited && !env->source_503 && !env->forwarding) {
        source_over(env, from, NULL, now);
        return;
    }

    /* redirect mode: an ACK is only counted, and a third of what a caller
     * sends; the raw header index is enough for that */
    if (!env->forwarding && len >= 4 && memcmp(buf, "ACK ", 4) == 0) {
        if (sip_parse_ack(&r, buf, len)) {
            if (sip_is_ack_for_us(&r)) METRIC_INC(env->m, acks_absorbed);
            else METRIC_INC(env->m, acks_other);
            goto out;
        }
        sip_req_free(&r);
    }
    switch (sip_parse(&r, buf, len, src, from->addr_len, env->option_header)) {
    case SIP_REQ_DROP:
        METRIC_INC(env->m, dropped);
        goto out;
    case SIP_REQ_RESPONSE:
        route_fwd_relay_response(env, from, &r);
        goto out;
    case SIP_REQ_BAD:
        if (limited) {
            source_over(env, from, &r, now);
            goto out;
        }
        if (stranger) {
            refuse_stranger(env, from, &r, false, now);
            goto out;
        }
        METRIC_INC(env->m, bad_requests);
        /* never answer an ACK, not even a broken one (RFC 3261 17.2.1) */
        if (is_ack(&r)) goto out;
        route_answer(env, from, &r, r.bad_status, r.why, NULL);
        goto out;
    case SIP_REQ_OK:
        break;
    }
    if (limited && !along_our_route(env, from, &r)) {
        source_over(env, from, &r, now);
        goto out;
    }
    if (stranger && !along_our_route(env, from, &r)) {
        refuse_stranger(env, from, &r, false, now);
        goto out;
    }

    if (r.max_forwards == 0 && r.method != SIP_OPTIONS && r.method != SIP_ACK) {
        METRIC_INC(env->m, too_many_hops);
        route_answer(env, from, &r, 483, NULL, NULL);
        goto out;
    }
    if (env->forwarding && route_fwd_serve(env, from, &r, now)) goto out;
    if (r.method == SIP_ACK) {
        if (sip_is_ack_for_us(&r)) METRIC_INC(env->m, acks_absorbed);
        else METRIC_INC(env->m, acks_other);
        goto out;
    }
    switch (r.method) {
    case SIP_INVITE:
        serve_invite(env, from, &r, now);
        break;
    case SIP_CANCEL:
        /* stateless: the INVITE got (or is about to get) its final answer;
         * the CANCEL itself is answered 200 (RFC 3261 9.2) */
        METRIC_INC(env->m, other_methods);
        route_answer(env, from, &r, 200, NULL, NULL);
        break;
    case SIP_OPTIONS:
        METRIC_INC(env->m, other_methods);
        if (refuse_extensions(env, from, &r, "Require")) break;
        route_answer(env, from, &r, 200, NULL, "Allow: " ROUTE_ALLOW "\r\nAccept: application/sdp\r\n");
        break;
    case SIP_OTHER:
        METRIC_INC(env->m, other_methods);
        route_answer(env, from, &r, 405, NULL, "Allow: " ROUTE_ALLOW "\r\n");
        break;
    case SIP_UNKNOWN:
        METRIC_INC(env->m, other_methods);
        route_answer(env, from, &r, 501, NULL, "Allow: " ROUTE_ALLOW "\r\n");
        break;
    case SIP_ACK:
        break;
    }
out:
    sip_req_free(&r);
}
