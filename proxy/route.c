/* route.c -- per-request flow: sip_parse -> answer now, or plan -> one
 * FCALL -> answer when Redis replies or the deadline passes, whichever comes
 * first. See route.h.
 *
 * A call waiting for Redis lives in a call_t: the answer's head (Via...CSeq)
 * is built before the FCALL, so the datagram and the libosip2 objects are
 * freed at once and the reply only appends the Contacts.
 */
#include "route.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <event2/event_struct.h>
#include <sodium.h>

#include "dns.h"
#include "fwd.h"
#include "fwdmemo.h"
#include "health.h"
#include "log.h"
#include "outbuf.h"
#include "sip.h"
#include "sipresp.h"

typedef struct call {
    worker_t *w;
    struct event timer;
    bool timer_set;        /* <timer> is assigned (a Redis deadline) */
    bool answered;         /* answered or forwarded: a late reply only frees */
    bool waiting_reply;    /* the store still owes us its callback */
    bool waiting_dns;      /* forward mode: a destination's name is being
                              resolved; the call goes on when it is */
    int fd;
    struct sockaddr_storage to;
    socklen_t tolen;
    struct timespec t0;
    plan_t plan;           /* strings owned by the rules snapshot */
    char caller[RULES_CALLER_HASH_LEN + 1]; /* keyed hash of the caller number */
    char callid[128];      /* for the log line, truncated and escaped */
    char rawcid[256];      /* the Call-ID as sent to Redis */
    size_t rawcid_len;
    char branch[FWD_BRANCH_MAX]; /* forward mode, an INVITE: the branch we
                                    give it, the memo's key */
    /* the plan's strings, copied: a reload may free the snapshot while the
     * call waits for Redis */
    char site[33], skill[33], fallback[RULES_URI_MAX + 1];
    /* forward mode: the request goes on instead of a 302 */
    bool forward;
    bool followup;         /* a CANCEL or ACK that goes where its INVITE
                              went: looks the decision up, picks no one */
    bool direct;           /* in a dialog: the whole request (its tail) goes
                              as it is to <dest>, a name being resolved */
    char dest[RULES_URI_MAX + 1];
    char method[16];       /* of the request line we write */
    store_decision_t dec;  /* the staff to try, copied from the reply */
    unsigned next;         /* the next destination to try: staff, then
                              the fallback */
    char outcome[40];      /* for the log line */
    size_t tail_len;       /* our Via ... body, after the head */
    size_t head_len;
    char head[];           /* Via ... CSeq of the answer; then, forward
                              mode, the tail */
} call_t;

static uint64_t ms_of(const struct timespec *t)
{
    return (uint64_t)t->tv_sec * 1000u + (uint64_t)t->tv_nsec / 1000000u;
}

static double ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Answer with <status> and optional <extra> header lines. */
static void answer(worker_t *w, int fd, const sip_req_t *r, int status, const char *reason,
                   const char *extra)
{
    char head[SIPRESP_HEAD_MAX], out[WORKER_TX_MAX];
    int hl = sipresp_head(r, head, sizeof(head));
    if (hl < 0) {
        METRIC_INC(&w->m, tx_errors);
        return;
    }
    int n = sipresp_build(out, sizeof(out), status, reason, head, (size_t)hl,
                          extra, extra ? strlen(extra) : 0);
    if (n < 0) {
        METRIC_INC(&w->m, tx_errors);
        return;
    }
    worker_send(w, fd, (const struct sockaddr *)&r->reply_to, r->reply_len, out, (size_t)n);
}

/* Send the request line "<method> <ruri> SIP/2.0" and <tail> to <t>. */
static void send_request(worker_t *w, int fd, const char *method, const char *ruri,
                         const char *tail, size_t tail_len, const fwd_target_t *t)
{
    char out[WORKER_TX_MAX];
    out_t o = { out, 0, sizeof(out), false };
    puts_(&o, method);
    puts_(&o, " ");
    puts_(&o, ruri);
    puts_(&o, " SIP/2.0\r\n");
    put(&o, tail, tail_len);
    if (o.full) {
        METRIC_INC(&w->m, tx_errors);
        return;
    }
    METRIC_INC(&w->m, forwarded);
    worker_send(w, fd, (const struct sockaddr *)&t->addr, t->addr_len, out, o.len);
}

/* Which listen socket <fd> is: the index into fds, selves and
 * opts->listen. */
static unsigned sock_index(const worker_t *w, int fd)
{
    for (unsigned i = 0; i < w->n_fds; i++)
        if (w->fds[i] == fd) return i;
    return 0;
}

/* Who we are on socket <fd> (our Via). */
static const fwd_self_t *self_of(const worker_t *w, int fd) { return &w->selves[sock_index(w, fd)]; }

/* Our Via names the socket a request came in on, so the request leaves by
 * it: a destination of the other address family cannot be reached from
 * there. The socket's family is its listen address's (not the one our Via
 * advertises: --advertise is one address for every socket). */
static bool family_ok(const worker_t *w, int fd, const struct sockaddr_storage *to)
{
    return to->ss_family == w->opts->listen[sock_index(w, fd)].addr.ss_family;
}

/* Free <c> unless a callback still owes it a visit. */
static void call_done(call_t *c)
{
    if (!c || c->waiting_reply || c->waiting_dns) return;
    if (c->timer_set) event_del(&c->timer);
    free(c);
}

static void forward_next(call_t *c);

#define ROUTE_DNS_WAIT_MAX 1024 /* calls a worker lets wait for DNS */

static void on_dns(void *arg)
{
    call_t *c = arg;
    c->waiting_dns = false;
    c->w->dns_waiting--;
    forward_next(c);
    call_done(c);
}

/* The address of destination <uri>: 0; -EAGAIN when its name is being
 * resolved (on_dns() goes on); -EINVAL when it cannot be used. */
static int target_of(call_t *c, const char *uri, fwd_target_t *t)
{
    if (fwd_uri_target(uri, strlen(uri), t) < 0) {
        LOG_WARN("destination skipped: not a sip: URI with a host", "uri=\"%s\"", uri);
        return -EINVAL;
    }
    if (t->numeric) return 0;
    struct in_addr a;
    unsigned port;
    /* a flood of requests naming slow domains must not pile up calls */
    dns_cb *cb = c->w->dns_waiting < ROUTE_DNS_WAIT_MAX ? on_dns : NULL;
    int rc = dns_lookup_sip(c->w->dns, t->host, t->port_given ? t->port : 0, &a, &port, cb, c);
    if (rc == -EAGAIN && !cb) return -EINVAL; /* not cached, and no room to wait */
    if (rc == -EAGAIN) return -EAGAIN;
    if (rc < 0) return -EINVAL; /* logged by dns.c */
    struct sockaddr_in *v4 = (struct sockaddr_in *)&t->addr;
    memset(&t->addr, 0, sizeof(t->addr));
    v4->sin_family = AF_INET;
    v4->sin_addr = a;
    v4->sin_port = htons((uint16_t)port);
    t->addr_len = sizeof(*v4);
    return 0;
}

/* The pick's staff were all skipped (down, another address family, a name
 * that does not resolve): nobody of them rings, so free them at once
 * rather than keep them offered for the offer window, and have Redis
 * record that nobody was offered (fd_release), so retransmissions go
 * where this INVITE goes. */
static void release_skipped_staff(call_t *c)
{
    if (c->followup || c->direct || !c->dec.n || !c->rawcid_len) return;
    store_release(c->w->store, c->plan.site, c->rawcid, c->rawcid_len);
    c->dec.n = 0;
}

/* Forward mode: the request goes to the first destination that is not
 * down (staff in the decision's order, then the plan's fallback), with
 * that destination as its Request-URI. A name is resolved first (the call
 * waits, the worker does not). A caller whose every destination is down
 * gets a 503 (a CANCEL gets 200: its INVITE ends by itself);
 * an ACK is dropped. */
static void forward_next(call_t *c)
{
    worker_t *w = c->w;
    const char *uris[RULES_MAX_CONTACTS + 1];
    size_t n = 0;

    if (c->direct) uris[n++] = c->dest;
    for (unsigned i = 0; i < c->dec.n; i++) uris[n++] = c->dec.uri[i];
    if (c->plan.fallback) uris[n++] = c->plan.fallback;
    for (size_t i = c->next; i < n; i++) {
        fwd_target_t t;
        int rc = target_of(c, uris[i], &t);
        if (rc == -EAGAIN) {
            c->next = (unsigned)i;
            c->waiting_dns = true;
            w->dns_waiting++;
            return;
        }
        if (rc < 0) continue;
        if (health_is_down(w->health, (struct sockaddr *)&t.addr, t.addr_len)) {
            METRIC_INC(&w->m, forward_failovers);
            continue;
        }
        if (!family_ok(w, c->fd, &t.addr)) {
            LOG_WARN("destination skipped: another address family than the socket the call came in on",
                     "uri=\"%s\"", uris[i]);
            continue;
        }
        if (c->direct) {
            METRIC_INC(&w->m, forwarded);
            worker_send(w, c->fd, (const struct sockaddr *)&t.addr, t.addr_len, c->head + c->head_len,
                        c->tail_len);
            return;
        }
        send_request(w, c->fd, c->method, uris[i], c->head + c->head_len, c->tail_len, &t);
        /* an INVITE of a pick: where it went, for its CANCEL and ACK */
        if (!c->followup && c->branch[0]) {
            fwdmemo_dest_t d;
            copy_cut(d.uri, sizeof(d.uri), uris[i], strlen(uris[i]));
            d.addr = t.addr;
            d.addr_len = t.addr_len;
            fwdmemo_put(w->memo, c->branch, strlen(c->branch), &d, ms_of(&c->t0));
        }
        bool staff = i < c->dec.n;
        const char *outcome = c->outcome;
        if (!staff && c->dec.n && !c->followup) {
            outcome = "fallback-staff-skipped";
            release_skipped_staff(c);
        }
        if (!c->followup) {
            if (staff) METRIC_INC(&w->m, answered_staff);
            else if (c->plan.kind == PLAN_REDIRECT) METRIC_INC(&w->m, answered_direct);
            else METRIC_INC(&w->m, answered_fallback);
        }
        LOG_INFO("route", "call=\"%s\" caller=%s method=%s site=%s skill=%s outcome=forward-%s staff=%s to=\"%s\" reason=\"%s\" ms=%.2f",
                 c->callid, c->caller, c->method, c->plan.site ? c->plan.site : "-",
                 c->plan.skill ? c->plan.skill : "-", outcome,
                 staff ? c->dec.id[i] : "-", uris[i], c->plan.reason, ms_since(&c->t0));
        return;
    }
    release_skipped_staff(c);
    METRIC_INC(&w->m, forward_unreachable);
    LOG_WARN("route: every destination is down", "call=\"%s\" method=%s site=%s candidates=%zu",
             c->callid, c->method, c->plan.site ? c->plan.site : "-", n);
    if (strcmp(c->method, "ACK") == 0) return;
    char out[WORKER_TX_MAX];
    int status = strcmp(c->method, "CANCEL") == 0 ? 200 : 503;
    int len = sipresp_build(out, sizeof(out), status, NULL, c->head, c->head_len,
                            status == 503 ? "Retry-After: 30\r\n" : NULL, status == 503 ? 17 : 0);
    if (len > 0) worker_send(w, c->fd, (const struct sockaddr *)&c->to, c->tolen, out, (size_t)len);
}

static void forward_call(call_t *c, const store_decision_t *d, const char *outcome)
{
    if (d) c->dec = *d;
    c->next = 0;
    copy_cut(c->outcome, sizeof(c->outcome), outcome, strlen(outcome));
    forward_next(c);
}

/* 302 to <n> staff contacts followed by the fallback, or the plan's final
 * answer when there is nothing to redirect to; in forward mode, the
 * request goes on to the first of them instead. */
static void answer_call(call_t *c, const store_decision_t *d, const char *outcome)
{
    worker_t *w = c->w;
    if (c->forward) {
        forward_call(c, d, outcome);
        return;
    }
    const char *uris[RULES_MAX_CONTACTS + 1];
    size_t n = 0;
    char contacts[2048], out[WORKER_TX_MAX], picked[RULES_MAX_CONTACTS * 66] = "";

    for (unsigned i = 0; d && i < d->n; i++) {
        uris[n++] = d->uri[i];
        size_t pl = strlen(picked);
        snprintf(picked + pl, sizeof(picked) - pl, "%s%s", pl ? "," : "", d->id[i]);
    }
    if (c->plan.fallback) uris[n++] = c->plan.fallback;
    if (c->plan.kind == PLAN_REDIRECT) METRIC_INC(&w->m, answered_direct);
    else if (d && d->n) METRIC_INC(&w->m, answered_staff);
    else METRIC_INC(&w->m, answered_fallback);

    int cl = sipresp_contacts(contacts, sizeof(contacts), uris, n);
    int len = -1;
    if (cl >= 0 && n)
        len = sipresp_build(out, sizeof(out), 302, NULL, c->head, c->head_len, contacts, (size_t)cl);
    else if (!n)
        len = sipresp_build(out, sizeof(out), 480, NULL, c->head, c->head_len, "Retry-After: 60\r\n", 17);
    if (len < 0) {
        METRIC_INC(&w->m, tx_errors);
        return;
    }
    worker_send(w, c->fd, (const struct sockaddr *)&c->to, c->tolen, out, (size_t)len);
    LOG_INFO("route", "call=\"%s\" caller=%s priority=%d site=%s skill=%s outcome=%s staff=%s reason=\"%s\" ms=%.2f",
             c->callid, c->caller, c->plan.priority, c->plan.site ? c->plan.site : "-",
             c->plan.skill ? c->plan.skill : "-", outcome, picked[0] ? picked : "-",
             c->plan.reason, ms_since(&c->t0));
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    call_t *c = arg;
    (void)fd, (void)what;
    if (c->answered) return;
    METRIC_INC(&c->w->m, redis_timeouts);
    c->answered = true;
    answer_call(c, NULL, "fallback-redis-timeout");
    call_done(c);
}

static void on_decision(void *arg, int err, const store_decision_t *d)
{
    call_t *c = arg;
    c->waiting_reply = false;
    if (c->answered) {
        /* too late: the caller has the fallback; free whom Redis reserved,
         * so they are not held for a call that never rings them */
        if (err == 0 && d->kind == STORE_PICKED && d->n)
            store_release(c->w->store, c->plan.site, c->rawcid, c->rawcid_len);
        call_done(c);
        return;
    }
    c->answered = true;
    event_del(&c->timer);
    if (err == -ECONNRESET) {
        METRIC_INC(&c->w->m, redis_unavailable);
        answer_call(c, NULL, "fallback-redis-down");
    } else if (err < 0) {
        METRIC_INC(&c->w->m, redis_errors);
        answer_call(c, NULL, "fallback-redis-error");
    } else {
        if (d->kind == STORE_RECORDED && !c->followup) METRIC_INC(&c->w->m, retransmissions);
        answer_call(c, d, d->n ? "staff" : "fallback-nobody-free");
    }
    call_done(c);
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

/* The key of the call's decision in Redis: its Call-ID, or the hash of a
 * long one, so that no two calls share a key. */
static size_t rawcid_of(const sip_req_t *r, char out[256])
{
    if (r->call_id.len <= 200) {
        memcpy(out, r->call_id.s, r->call_id.len);
        return r->call_id.len;
    }
    unsigned char h[16];
    memcpy(out, "fdh-", 4);
    crypto_generichash(h, sizeof(h), (const unsigned char *)r->call_id.s, r->call_id.len, NULL, 0);
    sodium_bin2hex(out + 4, 256 - 4, h, sizeof(h));
    return 4 + 2 * sizeof(h);
}

static void set_rawcid(call_t *c, const sip_req_t *r)
{
    c->rawcid_len = rawcid_of(r, c->rawcid);
}

/* Forward mode needs an address in our Via that peers can answer: a
 * wildcard listen address without --advertise has none (main.c refuses
 * that at start; a reload that turns forward mode on gets redirects). */
static bool can_forward(const fwd_self_t *self)
{
    static _Atomic bool warned;
    if (strcmp(self->host, "0.0.0.0") != 0 && strcmp(self->host, "::") != 0) return true;
    if (!atomic_exchange(&warned, true))
        LOG_WARN("forward routes are redirected: listening on a wildcard address needs --advertise", "%s",
                 "mode=redirect");
    return false;
}

/* A call_t for <r>, with the answer's head (none for an ACK, which is
 * never answered) and room for <extra> bytes after it. NULL when out of
 * memory. */
static call_t *call_alloc(worker_t *w, int fd, const sip_req_t *r, size_t extra)
{
    char head[SIPRESP_HEAD_MAX];
    call_t *c;
    int hl = r->method == SIP_ACK ? 0 : sipresp_head(r, head, sizeof(head));
    if (hl < 0 || !(c = calloc(1, sizeof(*c) + (size_t)hl + extra))) return NULL;
    clock_gettime(CLOCK_MONOTONIC, &c->t0);
    c->w = w;
    c->fd = fd;
    memcpy(&c->to, &r->reply_to, r->reply_len);
    c->tolen = r->reply_len;
    memcpy(c->head, head, (size_t)hl);
    c->head_len = (size_t)hl;
    log_value(c->callid, sizeof(c->callid), r->call_id.s ? r->call_id.s : "", r->call_id.len);
    return c;
}

/* A call for request <r>: the answer's head, and in forward mode (the plan
 * says so) the tail of the request to send on. NULL when out of memory or
 * the request cannot be forwarded (-EINVAL in *<err>: Max-Forwards). */
static call_t *call_new(worker_t *w, int fd, const sip_req_t *r, time_t now, bool followup)
{
    rules_req_t rq = { r->ruri_user, r->to_user, r->from_user, r->option };
    call_t *c = call_alloc(w, fd, r, 0);
    int hl = c ? (int)c->head_len : 0;

    if (!c) return NULL;
    c->followup = followup;
    rules_eval(w->rules, &rq, now, &c->plan);
    c->forward = c->plan.forward && c->plan.kind != PLAN_REJECT && can_forward(self_of(w, fd));
    if (c->forward) {
        char tail[WORKER_TX_MAX], branch[FWD_BRANCH_MAX];
        span_t next;
        fwd_branch(r, self_of(w, fd), branch);
        fwd_flags_t f = { .record_route = w->record_route && r->method == SIP_INVITE,
                          .pop_route = fwd_route_is_self(r, self_of(w, fd), &next), .branch = branch };
        int tl = fwd_build_tail(r, self_of(w, fd), &f, tail, sizeof(tail));
        call_t *bigger = tl < 0 ? NULL : realloc(c, sizeof(*c) + (size_t)hl + (size_t)tl);
        if (!bigger) {
            free(c);
            return NULL;
        }
        c = bigger;
        memcpy(c->head + hl, tail, (size_t)tl);
        c->tail_len = (size_t)tl;
        copy_cut(c->method, sizeof(c->method), r->method_name.s, r->method_name.len);
        if (!followup && c->plan.kind == PLAN_PICK) memcpy(c->branch, branch, sizeof(branch));
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
 * answer or forward happens in on_decision() or on_deadline(). */
static void ask_store(worker_t *w, call_t *c, const sip_req_t *r)
{
    set_rawcid(c, r);
    int rc = c->followup ? store_decision(w->store, c->plan.site, c->rawcid, c->rawcid_len, on_decision, c)
                         : store_pick(w->store, &c->plan, c->rawcid, c->rawcid_len, on_decision, c);
    if (rc < 0) {
        METRIC_INC(&w->m, redis_unavailable);
        answer_call(c, NULL, rc == -EBUSY ? "fallback-redis-busy" : "fallback-redis-down");
        call_done(c);
        return;
    }
    c->waiting_reply = true;
    c->timer_set = true;
    event_assign(&c->timer, w->base, -1, 0, on_deadline, c);
    event_add(&c->timer, w->deadline);
}

static void serve_invite(worker_t *w, int fd, const sip_req_t *r, time_t now)
{
    METRIC_INC(&w->m, invites);
    call_t *c = call_new(w, fd, r, now, false);
    if (!c) {
        answer(w, fd, r, 500, NULL, NULL);
        return;
    }
    if (c->forward && !fwd_vias_ok(r)) {
        METRIC_INC(&w->m, bad_requests);
        answer(w, fd, r, 400, "Bad Via", NULL);
        free(c);
        return;
    }
    if (c->forward && fwd_is_loop(r, self_of(w, fd))) {
        METRIC_INC(&w->m, loops);
        answer(w, fd, r, 482, NULL, NULL);
        free(c);
        return;
    }
    switch (c->plan.kind) {
    case PLAN_REJECT: {
        char out[WORKER_TX_MAX];
        int n = sipresp_build(out, sizeof(out), c->plan.status, NULL, c->head, c->head_len, NULL, 0);
        if (n > 0) worker_send(w, fd, (const struct sockaddr *)&c->to, c->tolen, out, (size_t)n);
        METRIC_INC(&w->m, answered_direct);
        LOG_INFO("route", "call=\"%s\" caller=%s outcome=reject status=%d reason=\"%s\"",
                 c->callid, c->caller, c->plan.status, c->plan.reason);
        free(c);
        return;
    }
    case PLAN_REDIRECT:
        answer_call(c, NULL, "redirect");
        call_done(c);
        return;
    case PLAN_PICK:
        break;
    }
    ask_store(w, c, r);
}

/* A follow-up whose INVITE this process forwarded lately goes where that
 * INVITE went, without the rules nor Redis (fwdmemo.h): where it went is
 * what counts, even if a reload changed the number's route since. False
 * when the memo does not know, that destination is down now, or the
 * request cannot be forwarded as it is: then the rules, the decision in
 * Redis and the destinations' health choose, as for the INVITE's
 * retransmission (which updates the memo). */
static bool followup_from_memo(worker_t *w, int fd, const sip_req_t *r)
{
    char key[FWD_BRANCH_MAX], tail[WORKER_TX_MAX], method[16];
    const fwd_self_t *self = self_of(w, fd);
    fwdmemo_dest_t d;
    struct timespec now;
    span_t next;

    clock_gettime(CLOCK_MONOTONIC, &now);
    fwd_branch(r, self, key); /* the INVITE's, as RFC 3261 9.1 and 17.1.1.3 want */
    if (!fwdmemo_get(w->memo, key, strlen(key), ms_of(&now), &d) ||
        health_is_down(w->health, (struct sockaddr *)&d.addr, d.addr_len) ||
        !family_ok(w, fd, &d.addr) || !fwd_vias_ok(r))
        return false;
    fwd_flags_t f = { .pop_route = fwd_route_is_self(r, self, &next), .branch = key };
    int tl = fwd_build_tail(r, self, &f, tail, sizeof(tail));
    if (tl < 0) return false;
    fwd_target_t t = { .addr = d.addr, .addr_len = d.addr_len };
    copy_cut(method, sizeof(method), r->method_name.s, r->method_name.len);
    send_request(w, fd, method, d.uri, tail, (size_t)tl, &t);
    METRIC_INC(&w->m, followups_memo);
    if (LOG_ENABLED(LOG_LVL_INFO)) {
        char callid[128], caller[RULES_CALLER_HASH_LEN + 1];
        log_value(callid, sizeof(callid), r->call_id.s ? r->call_id.s : "", r->call_id.len);
        log_caller_hash(r->from_user.s ? r->from_user.s : "", r->from_user.len, caller);
        LOG_INFO("route", "call=\"%s\" caller=%s method=%s outcome=forward-memo to=\"%s\"",
                 callid, caller, method, d.uri);
    }
    return true;
}

/* Forward mode, a CANCEL or the ACK of a non-2xx answer: to where the
 * INVITE went (RFC 3261 16.11), found from the rules and the decision
 * Redis recorded for the Call-ID. Returns false when the request's route
 * does not forward (the caller serves it as in redirect mode). */
static bool serve_followup(worker_t *w, int fd, const sip_req_t *r, time_t now)
{
    if (followup_from_memo(w, fd, r)) return true;
    call_t *c = call_new(w, fd, r, now, true);
    if (!c) {
        if (r->method == SIP_CANCEL) answer(w, fd, r, 500, NULL, NULL);
        return true;
    }
    if (!c->forward) {
        free(c);
        return false;
    }
    /* Vias we cannot read as libosip2 does are not passed on, as for the
     * INVITE (which got a 400) */
    if (!fwd_vias_ok(r)) {
        METRIC_INC(&w->m, bad_requests);
        if (r->method == SIP_CANCEL) answer(w, fd, r, 400, "Bad Via", NULL);
        free(c);
        return true;
    }
    if (c->plan.kind == PLAN_PICK) ask_store(w, c, r);
    else {
        answer_call(c, NULL, "redirect");
        call_done(c);
    }
    return true;
}

/* Forward mode, in a dialog: to the next Route (after ours) or the
 * Request-URI, which stays as it is (RFC 3261 16.12, loose routing). */
static void forward_direct(worker_t *w, int fd, const sip_req_t *r, span_t next, bool pop)
{
    const fwd_self_t *self = self_of(w, fd);
    fwd_target_t t;
    char out[WORKER_TX_MAX];
    bool ack = r->method == SIP_ACK;

    if (!fwd_vias_ok(r)) {
        METRIC_INC(&w->m, bad_requests);
        if (!ack) answer(w, fd, r, 400, "Bad Via", NULL);
        return;
    }
    if (fwd_is_loop(r, self)) {
        METRIC_INC(&w->m, loops);
        if (!ack) answer(w, fd, r, 482, NULL, NULL);
        return;
    }
    if (fwd_uri_target(next.s, next.len, &t) < 0 || next.len > RULES_URI_MAX) {
        METRIC_INC(&w->m, forward_unreachable);
        if (!ack) answer(w, fd, r, 416, NULL, NULL);
        return;
    }
    fwd_flags_t f = { .pop_route = pop };
    int n = fwd_build_request(r, NULL, self, &f, out, sizeof(out));
    if (n < 0) {
        METRIC_INC(&w->m, tx_errors);
        if (!ack) answer(w, fd, r, n == -EINVAL ? 483 : 513, NULL, NULL);
        return;
    }
    if (t.numeric) {
        METRIC_INC(&w->m, forwarded);
        worker_send(w, fd, (const struct sockaddr *)&t.addr, t.addr_len, out, (size_t)n);
        return;
    }
    /* a name: resolved without holding up the worker, then sent as built */
    call_t *c = call_alloc(w, fd, r, (size_t)n);
    if (!c) {
        if (!ack) answer(w, fd, r, 500, NULL, NULL);
        return;
    }
    memcpy(c->head + c->head_len, out, (size_t)n);
    c->tail_len = (size_t)n;
    c->forward = c->followup = c->direct = true;
    memcpy(c->dest, next.s, next.len);
    snprintf(c->method, sizeof(c->method), "%.*s", (int)r->method_name.len, r->method_name.s);
    snprintf(c->outcome, sizeof(c->outcome), "in-dialog");
    snprintf(c->plan.reason, sizeof(c->plan.reason), "in a dialog: next hop %.200s", t.host);
    strcpy(c->caller, "-");
    forward_next(c);
    call_done(c);
}

/* A response: ours to relay when its top Via is ours (RFC 3261 16.7). */
static void relay_response(worker_t *w, int fd, const sip_req_t *r)
{
    char out[WORKER_TX_MAX];
    struct sockaddr_storage to;
    socklen_t tolen = 0;
    int n = fwd_build_response(r, self_of(w, fd), out, sizeof(out), &to, &tolen);
    if (n == -ENOENT) {
        METRIC_INC(&w->m, responses_not_ours);
        return;
    }
    if (n < 0) {
        METRIC_INC(&w->m, dropped);
        return;
    }
    METRIC_INC(&w->m, responses_relayed);
    worker_send(w, fd, (const struct sockaddr *)&to, tolen, out, (size_t)n);
}

/* Forward mode: requests that are not routed by the rules. True when
 * served here. Only what a dialog through us needs is relayed as it is:
 * a request with a To-tag and our Route on top (we record-routed its
 * dialog). The ACK of a non-2xx answer (a To-tag, none of our Route)
 * follows its INVITE; any other request with a To-tag and not our Route
 * has no business here (404): relaying it would make us an open relay. */
static bool serve_forwarded(worker_t *w, int fd, const sip_req_t *r, time_t now)
{
    span_t next;

    if (r->method == SIP_CANCEL) return serve_followup(w, fd, r, now);
    if (!r->to_tag.len) return false; /* an initial request: the rules */
    if (fwd_route_is_self(r, self_of(w, fd), &next)) {
        if (fwd_route_signed(r, self_of(w, fd))) {
            forward_direct(w, fd, r, next, true);
        } else if (r->method != SIP_ACK) {
            METRIC_INC(&w->m, other_methods);
            answer(w, fd, r, 403, "Route Not Ours", NULL);
        }
        return true;
    }
    if (r->method == SIP_ACK) return serve_followup(w, fd, r, now);
    METRIC_INC(&w->m, other_methods);
    answer(w, fd, r, 404, "Not Here", NULL);
    return true;
}

void route_datagram(worker_t *w, int fd, const char *buf, size_t len,
                    const struct sockaddr *src, socklen_t srclen, time_t now)
{
    sip_req_t r;

    /* redirect mode: an ACK is only counted, and a third of what a caller
     * sends; the raw header index is enough for that */
    if (!w->forwarding && len >= 4 && memcmp(buf, "ACK ", 4) == 0) {
        if (sip_parse_ack(&r, buf, len)) {
            if (sip_is_ack_for_us(&r)) METRIC_INC(&w->m, acks_absorbed);
            else METRIC_INC(&w->m, acks_other);
            goto out;
        }
        sip_req_free(&r);
    }
    switch (sip_parse(&r, buf, len, src, srclen, w->option_header)) {
    case SIP_REQ_DROP:
        METRIC_INC(&w->m, dropped);
        goto out;
    case SIP_REQ_RESPONSE:
        relay_response(w, fd, &r);
        goto out;
    case SIP_REQ_BAD:
        METRIC_INC(&w->m, bad_requests);
        /* never answer an ACK, not even a broken one (RFC 3261 17.2.1) */
        if (r.method_name.len == 3 && memcmp(r.method_name.s, "ACK", 3) == 0) goto out;
        answer(w, fd, &r, r.bad_status, r.why, NULL);
        goto out;
    case SIP_REQ_OK:
        break;
    }

    if (r.max_forwards == 0 && r.method != SIP_OPTIONS && r.method != SIP_ACK) {
        METRIC_INC(&w->m, too_many_hops);
        answer(w, fd, &r, 483, NULL, NULL);
        goto out;
    }
    if (w->forwarding && serve_forwarded(w, fd, &r, now)) goto out;
    if (r.method == SIP_ACK) {
        if (sip_is_ack_for_us(&r)) METRIC_INC(&w->m, acks_absorbed);
        else METRIC_INC(&w->m, acks_other);
        goto out;
    }
    switch (r.method) {
    case SIP_INVITE:
        serve_invite(w, fd, &r, now);
        break;
    case SIP_CANCEL:
        /* stateless: the INVITE got (or is about to get) its final answer;
         * the CANCEL itself is answered 200 (RFC 3261 9.2) */
        METRIC_INC(&w->m, other_methods);
        answer(w, fd, &r, 200, NULL, NULL);
        break;
    case SIP_OPTIONS:
        METRIC_INC(&w->m, other_methods);
        answer(w, fd, &r, 200, NULL, "Allow: " ROUTE_ALLOW "\r\nAccept: application/sdp\r\n");
        break;
    case SIP_OTHER:
        METRIC_INC(&w->m, other_methods);
        answer(w, fd, &r, 405, NULL, "Allow: " ROUTE_ALLOW "\r\n");
        break;
    case SIP_UNKNOWN:
        METRIC_INC(&w->m, other_methods);
        answer(w, fd, &r, 501, NULL, "Allow: " ROUTE_ALLOW "\r\n");
        break;
    case SIP_ACK:
        break;
    }
out:
    sip_req_free(&r);
}
