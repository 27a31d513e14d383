/* route_fwd.c -- forward mode of the routing core (route.h): the INVITE
 * sent on to the first destination that is not down, its CANCEL and ACK
 * after it, in-dialog requests along our Route, responses back along the
 * Via path. Reaches the world through the route_env_t only.
 */
#include "route_int.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "outbuf.h"
#include "sipresp.h"

#define ROUTE_DNS_WAIT_MAX 1024 /* calls an environment lets wait for DNS */

/* Who we are on socket <sock> (our Via). */
const fwd_self_t *route_self(const route_env_t *env, unsigned sock)
{
    return &env->selves[sock < env->n_socks ? sock : 0];
}

/* Our Via names the socket a request came in on, so the request leaves by
 * it: a destination of the other address family cannot be reached from
 * there. The socket's family is its listen address's (not the one our Via
 * advertises: --advertise is one address for every socket). */
static bool family_ok(const route_env_t *env, unsigned sock, const struct sockaddr_storage *to)
{
    return to->ss_family == env->families[sock < env->n_socks ? sock : 0];
}

/* The request <buf> (our Via first, as fwd.c builds it) to <t>: over TCP
 * when the destination says so or when it is larger than UDP should carry
 * (RFC 3261 18.1.1: 1300 bytes when the path's MTU is not known), our Via
 * then saying TCP; over UDP otherwise. <force>: the transport to take (a
 * CANCEL or ACK follows its INVITE's), or -1. The transport used. */
static xport_kind_t send_out(route_env_t *env, unsigned sock, const fwd_target_t *t, char *buf, size_t len,
                             int force)
{
    xport_to_t to = { .kind = XPORT_UDP, .sock = sock, .addr_len = t->addr_len };
    if (t->addr_len > sizeof(to.addr)) {
        METRIC_INC(env->m, tx_errors);
        return XPORT_UDP;
    }
    memcpy(&to.addr, &t->addr, t->addr_len);
    if (force >= 0) to.kind = (xport_kind_t)force;
    else if (t->transport == XPORT_TCP || len > ROUTE_UDP_MAX) to.kind = XPORT_TCP;
    if (to.kind == XPORT_TCP) {
        /* our Via, right below the request line, says how it travels */
        char *eol = memchr(buf, '\n', len);
        static const char via[] = "Via: SIP/2.0/UDP ";
        if (eol && (size_t)(buf + len - (eol + 1)) > sizeof(via) && memcmp(eol + 1, via, sizeof(via) - 1) == 0)
            memcpy(eol + 1 + 13, "TCP", 3);
        METRIC_INC(env->m, forwarded_tcp);
    }
    env->send(env->ctx, &to, buf, len);
    return to.kind;
}

/* Send the request line "<method> <ruri> SIP/2.0" and <tail> to <t>. */
static xport_kind_t send_request(route_env_t *env, unsigned sock, const char *method, const char *ruri,
                                 const char *tail, size_t tail_len, const fwd_target_t *t, int force)
{
    char out[ROUTE_TX_MAX];
    out_t o = { out, 0, sizeof(out), false };
    puts_(&o, method);
    puts_(&o, " ");
    puts_(&o, ruri);
    puts_(&o, " SIP/2.0\r\n");
    put(&o, tail, tail_len);
    if (o.full) {
        METRIC_INC(env->m, tx_errors);
        return XPORT_UDP;
    }
    METRIC_INC(env->m, forwarded);
    return send_out(env, sock, t, out, o.len, force);
}

static void forward_next(call_t *c);

static void on_dns(void *arg)
{
    call_t *c = arg;
    c->state = c->state == CALL_LATE_DNS ? CALL_LATE : CALL_ACTIVE;
    c->env->dns_waiting--;
    forward_next(c);
    route_call_done(c);
}

/* The address of destination <uri>: 0; -EAGAIN when its name is being
 * resolved (on_dns() goes on); -EINVAL when it cannot be used. */
static int target_of(call_t *c, const char *uri, fwd_target_t *t)
{
    route_env_t *env = c->env;
    int bad = fwd_uri_target(uri, strlen(uri), t);
    char shown[300];
    if (bad == -EPROTONOSUPPORT) {
        LOG_WARN("destination skipped: a transport we do not send over (udp and tcp only)", "uri=\"%s\"",
                 log_uri(shown, sizeof(shown), uri));
        return -EINVAL;
    }
    if (bad < 0) {
        LOG_WARN("destination skipped: not a sip: URI with a host", "uri=\"%s\"", log_uri(shown, sizeof(shown), uri));
        return -EINVAL;
    }
    if (t->numeric) return 0;
    struct in_addr a;
    unsigned port;
    /* a flood of requests naming slow domains must not pile up calls */
    dns_cb *cb = env->dns_waiting < ROUTE_DNS_WAIT_MAX ? on_dns : NULL;
    int rc = env->resolve(env->ctx, t->host, t->port_given ? t->port : 0, &a, &port, cb, c);
    if (rc == -EAGAIN && !cb) return -EINVAL; /* not cached, and no room to wait */
    if (rc == -EAGAIN) return -EAGAIN;
    if (rc < 0) return -EINVAL; /* logged by the resolver */
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
    c->env->release(c->env->ctx, c->plan.site, c->rawcid, c->rawcid_len);
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
    route_env_t *env = c->env;
    char shown[300];
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
            c->state = c->state == CALL_LATE ? CALL_LATE_DNS : CALL_WAIT_DNS;
            env->dns_waiting++;
            return;
        }
        if (rc < 0) continue;
        if (env->is_down(env->ctx, (struct sockaddr *)&t.addr, t.addr_len)) {
            METRIC_INC(env->m, forward_failovers);
            continue;
        }
        if (!family_ok(env, c->to.sock, &t.addr)) {
            LOG_WARN("destination skipped: another address family than the socket the call came in on",
                     "uri=\"%s\"", log_uri(shown, sizeof(shown), uris[i]));
            continue;
        }
        if (c->direct) {
            char out[ROUTE_TX_MAX];
            METRIC_INC(env->m, forwarded);
            memcpy(out, c->head + c->head_len, c->tail_len);
            send_out(env, c->to.sock, &t, out, c->tail_len, -1);
            return;
        }
        bool staff = i < c->dec.n;
        const char *outcome = !staff && c->dec.n && !c->followup ? "fallback-staff-skipped" : c->outcome;
        route_count(c, outcome); /* before the request leaves */
        xport_kind_t went = send_request(env, c->to.sock, c->method, uris[i], c->head + c->head_len, c->tail_len,
                                         &t, -1);
        /* an INVITE of a pick: where it went, for its CANCEL and ACK */
        if (!c->followup && c->branch[0]) {
            fwdmemo_dest_t d;
            copy_cut(d.uri, sizeof(d.uri), uris[i], strlen(uris[i]));
            d.addr = t.addr;
            d.addr_len = t.addr_len;
            d.transport = went;
            env->memo_put(env->ctx, c->branch, strlen(c->branch), &d, route_ms_of(&c->t0));
        }
        if (!staff && c->dec.n && !c->followup) release_skipped_staff(c);
        if (!c->followup) {
            if (staff) METRIC_INC(env->m, answered_staff);
            else if (c->plan.kind == PLAN_REDIRECT) METRIC_INC(env->m, answered_direct);
            else METRIC_INC(env->m, answered_fallback);
        }
        LOG_INFO("route", "call=\"%s\" caller=%s method=%s site=%s skill=%s outcome=forward-%s staff=%s to=\"%s\" reason=\"%s\" ms=%.2f",
                 c->callid, c->caller, c->method, c->plan.site ? c->plan.site : "-",
                 c->plan.skill ? c->plan.skill : "-", outcome,
                 staff ? c->dec.id[i] : "-", log_uri(shown, sizeof(shown), uris[i]), c->plan.reason,
                 route_ms_since(&c->t0));
        return;
    }
    release_skipped_staff(c);
    METRIC_INC(env->m, forward_unreachable);
    LOG_WARN("route: every destination is down", "call=\"%s\" method=%s site=%s candidates=%zu",
             c->callid, c->method, c->plan.site ? c->plan.site : "-", n);
    if (strcmp(c->method, "ACK") == 0) return;
    char out[ROUTE_TX_MAX];
    int status = strcmp(c->method, "CANCEL") == 0 ? 200 : 503;
    int len = sipresp_build(out, sizeof(out), status, NULL, c->head, c->head_len,
                            status == 503 ? "Retry-After: 30\r\n" : NULL, status == 503 ? 17 : 0);
    if (len > 0) env->send(env->ctx, &c->to, out, (size_t)len);
}

void route_fwd_call(call_t *c, const store_decision_t *d, const char *outcome)
{
    if (d) c->dec = *d;
    c->next = 0;
    copy_cut(c->outcome, sizeof(c->outcome), outcome, strlen(outcome));
    forward_next(c);
}

/* Forward mode needs an address in our Via that peers can answer: a
 * wildcard listen address without --advertise has none (main.c refuses
 * that at start; a reload that turns forward mode on gets redirects). */
bool route_can_forward(const fwd_self_t *self)
{
    static _Atomic bool warned;
    if (strcmp(self->host, "0.0.0.0") != 0 && strcmp(self->host, "::") != 0) return true;
    if (!atomic_exchange(&warned, true))
        LOG_WARN("forward routes are redirected: listening on a wildcard address needs --advertise", "%s",
                 "mode=redirect");
    return false;
}

call_t *route_fwd_prepare(call_t *c, const sip_req_t *r)
{
    route_env_t *env = c->env;
    const fwd_self_t *self = route_self(env, c->to.sock);
    char tail[ROUTE_TX_MAX], branch[FWD_BRANCH_MAX];
    span_t next;
    fwd_branch(r, self, branch);
    fwd_flags_t f = { .record_route = env->record_route && r->method == SIP_INVITE,
                      .pop_route = fwd_route_is_self(r, self, &next), .branch = branch,
                      .conn = c->to.conn,
                      .site = env->history && r->method == SIP_INVITE && !c->followup ? c->plan.site : NULL };
    int tl = fwd_build_tail(r, self, &f, tail, sizeof(tail));
    if (tl < 0) {
        free(c);
        return NULL;
    }
    if (!(c = route_call_resize(c, (size_t)tl))) return NULL;
    memcpy(c->head + c->head_len, tail, (size_t)tl);
    c->tail_len = (size_t)tl;
    copy_cut(c->method, sizeof(c->method), r->method_name.s, r->method_name.len);
    if (!c->followup && c->plan.kind == PLAN_PICK) memcpy(c->branch, branch, sizeof(branch));
    return c;
}

bool route_fwd_refuse(route_env_t *env, const xport_to_t *from, const sip_req_t *r)
{
    if (!fwd_vias_ok(r)) {
        METRIC_INC(env->m, bad_requests);
        route_answer(env, from, r, 400, "Bad Via", NULL);
        return true;
    }
    if (fwd_is_loop(r, route_self(env, from->sock))) {
        METRIC_INC(env->m, loops);
        route_answer(env, from, r, 482, NULL, NULL);
        return true;
    }
    return false;
}

/* A follow-up whose INVITE this process forwarded lately goes where that
 * INVITE went, without the rules nor Redis (fwdmemo.h): where it went is
 * what counts, even if a reload changed the number's route since. False
 * when the memo does not know, that destination is down now, or the
 * request cannot be forwarded as it is: then the rules, the decision in
 * Redis and the destinations' health choose, as for the INVITE's
 * retransmission (which updates the memo). */
static bool followup_from_memo(route_env_t *env, const xport_to_t *from, const sip_req_t *r)
{
    char key[FWD_BRANCH_MAX], tail[ROUTE_TX_MAX], method[16];
    const fwd_self_t *self = route_self(env, from->sock);
    fwdmemo_dest_t d;
    struct timespec now;
    span_t next;

    clock_gettime(CLOCK_MONOTONIC, &now);
    fwd_branch(r, self, key); /* the INVITE's, as RFC 3261 9.1 and 17.1.1.3 want */
    if (!env->memo_get(env->ctx, key, strlen(key), route_ms_of(&now), &d) ||
        env->is_down(env->ctx, (struct sockaddr *)&d.addr, d.addr_len) ||
        !family_ok(env, from->sock, &d.addr) || !fwd_vias_ok(r))
        return false;
    fwd_flags_t f = { .pop_route = fwd_route_is_self(r, self, &next), .branch = key, .conn = from->conn };
    int tl = fwd_build_tail(r, self, &f, tail, sizeof(tail));
    if (tl < 0) return false;
    fwd_target_t t = { .addr = d.addr, .addr_len = d.addr_len };
    copy_cut(method, sizeof(method), r->method_name.s, r->method_name.len);
    send_request(env, from->sock, method, d.uri, tail, (size_t)tl, &t, (int)d.transport);
    METRIC_INC(env->m, followups_memo);
    if (LOG_ENABLED(LOG_LVL_INFO)) {
        char callid[LOG_CALL_HASH_LEN + 1], caller[RULES_CALLER_HASH_LEN + 1], shown[300];
        log_call_hash(r->call_id.s ? r->call_id.s : "", r->call_id.len, callid);
        log_caller_hash(r->from_user.s ? r->from_user.s : "", r->from_user.len, caller);
        LOG_INFO("route", "call=\"%s\" caller=%s method=%s outcome=forward-memo to=\"%s\"",
                 callid, caller, method, log_uri(shown, sizeof(shown), d.uri));
    }
    return true;
}

/* Forward mode, a CANCEL or the ACK of a non-2xx answer: to where the
 * INVITE went (RFC 3261 16.11), found from the rules and the decision
 * Redis recorded for the Call-ID. Returns false when the request's route
 * does not forward (the caller serves it as in redirect mode). */
static bool serve_followup(route_env_t *env, const xport_to_t *from, const sip_req_t *r, time_t now)
{
    if (followup_from_memo(env, from, r)) return true;
    call_t *c = route_call_new(env, from, r, now, true);
    if (!c) {
        if (r->method == SIP_CANCEL) route_answer(env, from, r, 500, NULL, NULL);
        return true;
    }
    if (!c->forward) {
        free(c);
        return false;
    }
    /* Vias we cannot read as libosip2 does are not passed on, as for the
     * INVITE (which got a 400) */
    if (!fwd_vias_ok(r)) {
        METRIC_INC(env->m, bad_requests);
        if (r->method == SIP_CANCEL) route_answer(env, from, r, 400, "Bad Via", NULL);
        free(c);
        return true;
    }
    if (c->plan.kind == PLAN_PICK) route_ask_store(c, r);
    else {
        route_answer_call(c, NULL, "redirect");
        route_call_done(c);
    }
    return true;
}

/* Forward mode, in a dialog: to the next Route (after ours) or the
 * Request-URI, which stays as it is (RFC 3261 16.12, loose routing). */
static void forward_direct(route_env_t *env, const xport_to_t *from, const sip_req_t *r, span_t next,
                           bool pop)
{
    const fwd_self_t *self = route_self(env, from->sock);
    fwd_target_t t;
    char out[ROUTE_TX_MAX];
    bool ack = r->method == SIP_ACK;

    if (!fwd_vias_ok(r)) {
        METRIC_INC(env->m, bad_requests);
        if (!ack) route_answer(env, from, r, 400, "Bad Via", NULL);
        return;
    }
    if (fwd_is_loop(r, self)) {
        METRIC_INC(env->m, loops);
        if (!ack) route_answer(env, from, r, 482, NULL, NULL);
        return;
    }
    if (fwd_uri_target(next.s, next.len, &t) < 0 || next.len > RULES_URI_MAX) {
        METRIC_INC(env->m, forward_unreachable);
        if (!ack) route_answer(env, from, r, 416, NULL, NULL);
        return;
    }
    fwd_flags_t f = { .pop_route = pop, .conn = from->conn };
    int n = fwd_build_request(r, NULL, self, &f, out, sizeof(out));
    if (n < 0) {
        METRIC_INC(env->m, tx_errors);
        if (!ack) route_answer(env, from, r, n == -EINVAL ? 483 : 513, NULL, NULL);
        return;
    }
    if (t.numeric) {
        METRIC_INC(env->m, forwarded);
        send_out(env, from->sock, &t, out, (size_t)n, -1);
        return;
    }
    /* a name: resolved without holding up the worker, then sent as built */
    call_t *c = route_call_alloc(env, from, r, (size_t)n);
    if (!c) {
        if (!ack) route_answer(env, from, r, 500, NULL, NULL);
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
    route_call_done(c);
}

/* A final response to an INVITE we forwarded for a site (our Via, which
 * fwd_build_response has just checked, names it: ";fds="): what the
 * destination answered goes into the site's call history. */
static void record_final(route_env_t *env, const sip_req_t *r)
{
    store_hist_rec_t rec = { .ms = route_wall_ms() };
    span_t cseq = { NULL, 0 }, via = { NULL, 0 }, callid = { NULL, 0 };
    /* "SIP/2.0 486 Busy Here": its code */
    if (r->raw_len < 12 || memcmp(r->raw, "SIP/2.0 ", 8) != 0 || r->raw[8] < '2' || r->raw[8] > '6') return;
    for (unsigned i = 0; i < r->n_hdrs; i++) {
        if (!cseq.s && sip_hdr_is(&r->hdrs[i], "CSeq", '\0')) cseq = r->hdrs[i].value;
        else if (!via.s && sip_hdr_is(&r->hdrs[i], "Via", 'v')) via = r->hdrs[i].value;
        else if (!callid.s && sip_hdr_is(&r->hdrs[i], "Call-ID", 'i')) callid = r->hdrs[i].value;
    }
    if (!cseq.s || !via.s || !callid.s || cseq.len < 8 || memcmp(cseq.s + cseq.len - 6, "INVITE", 6) != 0) return;
    span_t site = sip_hdr_param(via, "fds");
    if (!site.len || site.len >= sizeof(rec.site) || !sip_copy_span(rec.site, sizeof(rec.site), site.s, site.len) ||
        strspn(rec.site, FWD_SITE_CHARS) != site.len)
        return;
    memcpy(rec.status, r->raw + 8, 3);
    if (strspn(rec.status, "0123456789") != 3) return;
    log_call_hash(callid.s, callid.len, rec.callid);
    snprintf(rec.outcome, sizeof(rec.outcome), "final");
    env->history(env->ctx, &rec);
}

/* A response: ours to relay when its top Via is ours (RFC 3261 16.7). */
void route_fwd_relay_response(route_env_t *env, const xport_to_t *from, const sip_req_t *r)
{
    char out[ROUTE_TX_MAX];
    xport_to_t to = { 0 };
    int n = fwd_build_response(r, route_self(env, from->sock), out, sizeof(out), &to);
    if (n == -ENOENT) {
        METRIC_INC(env->m, responses_not_ours);
        return;
    }
    if (n < 0) {
        METRIC_INC(env->m, dropped);
        return;
    }
    METRIC_INC(env->m, responses_relayed);
    to.sock = from->sock; /* over UDP: back out by the socket it came in on */
    env->send(env->ctx, &to, out, (size_t)n);
    if (env->history) record_final(env, r);
}

/* Forward mode: requests that are not routed by the rules. True when
 * served here. Only what a dialog through us needs is relayed as it is:
 * a request with a To-tag and our Route on top (we record-routed its
 * dialog). The ACK of a non-2xx answer (a To-tag, none of our Route)
 * follows its INVITE; any other request with a To-tag and not our Route
 * has no business here (404): relaying it would make us an open relay. */
bool route_fwd_serve(route_env_t *env, const xport_to_t *from, const sip_req_t *r, time_t now)
{
    span_t next;
    const fwd_self_t *self = route_self(env, from->sock);

    if (r->method == SIP_CANCEL) return serve_followup(env, from, r, now);
    if (!r->to_tag.len) return false; /* an initial request: the rules */
    if (fwd_route_is_self(r, self, &next)) {
        if (fwd_route_signed(r, self)) {
            forward_direct(env, from, r, next, true);
        } else if (r->method != SIP_ACK) {
            METRIC_INC(env->m, other_methods);
            route_answer(env, from, r, 403, "Route Not Ours", NULL);
        }
        return true;
    }
    if (r->method == SIP_ACK) return serve_followup(env, from, r, now);
    METRIC_INC(env->m, other_methods);
    route_answer(env, from, r, 404, "Not Here", NULL);
    return true;
}
