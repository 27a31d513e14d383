/* route.h -- what happens to one request: parse, check, plan, ask Redis,
 * answer. The routing core: it reaches the world only through the hooks of
 * a route_env_t (send, the deadline timer, the store, the resolver, the
 * destinations' health, the forward memo), so it runs the same on a
 * worker thread (worker.c fills the environment) and in a unit test (fakes).
 * It includes neither worker.h nor libevent.
 *
 * Redirect mode (RFC 3261 8.3), as DESIGN.md's table: INVITE -> 302 with
 * Contacts in preference order (picked staff, then the plan's fallback) or
 * the plan's final answer; ACK absorbed; CANCEL -> 200; OPTIONS -> 200 with
 * Allow; other known methods -> 405; unknown -> 501; malformed, or a
 * Content-Length no number or past the body -> 400 (or dropped when it
 * cannot be routed); a Request-URI scheme other than sip, sips, tel ->
 * 416; Require (forward mode: Proxy-Require) with any option tag -> 420
 * with Unsupported, after the number is known ours; Max-Forwards 0 -> 483;
 * too large -> 513. A pick that Redis does not answer within the deadline, or Redis
 * down, gets the fallback at once: no INVITE is left unanswered.
 *
 * A site gets at most env->site_picks staff picks a second (all workers
 * together): past that, a call gets the plan's fallback with nobody
 * reserved (or 503 / nothing, --over-limit), so a runaway trunk cannot
 * hold a whole site's staff. Counted (site_capped), logged once a second.
 *
 * A source address may send env->source_rate requests a second (a token
 * bucket shared by the workers, like Kamailio's pike): past it, requests
 * are dropped (or 503), so one trunk in a loop cannot starve another.
 *
 * Trusted sources (the rules' "trusted:" lists; docs/rules.md): a request
 * from a source no list holds, or to a site whose lists do not hold its
 * source, never reaches Redis: it is dropped, or answered 403 with
 * "strangers: reject" (an ACK never). Responses to what we forwarded, and
 * in-dialog requests along our signed Route, pass: the keyed branch and
 * Route prove them ours. Counted by reason; logged once a second at most.
 *
 * Forward mode (routes with mode: forward, RFC 3261 16.11; docs/forward.md;
 * route_fwd.c): the INVITE goes on to the first destination that is not
 * down, with our Via, Max-Forwards - 1 and the destination as Request-URI;
 * a loop is answered 482; responses whose top Via is ours go back along
 * the Via path, others are dropped; the CANCEL and the non-2xx ACK go where
 * the INVITE went (the decision recorded in Redis); in-dialog requests
 * follow our Route or their Request-URI; every destination down: 503.
 *
 * Threads: an environment and its calls belong to one thread; hooks are
 * called on it, and the callbacks they are given (store, resolver, timer)
 * must come back on it, never from inside the hook that took them.
 */
#ifndef FRONTDESK_ROUTE_H
#define FRONTDESK_ROUTE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "dns.h"
#include "fwd.h"
#include "fwdmemo.h"
#include "metrics.h"
#include "rules.h"
#include "sipresp.h"
#include "store.h"
#include "xport.h"

#define ROUTE_ALLOW "INVITE, ACK, CANCEL, OPTIONS"
#define ROUTE_SITE_SLOTS 65536u /* per-site pick windows (sites hash in) */
#define ROUTE_SOURCE_SLOTS 65536u /* per-source token buckets (addresses hash in) */
#define ROUTE_TX_MAX (SIPRESP_HEAD_MAX + 2048) /* largest answer: head, Contacts, ours;
                                                  and a forwarded request: the
                                                  request, our Via and Record-Route */

typedef struct route_env {
    void *ctx; /* given to every hook */

    /* The transport: queue <len> bytes for <to> (they leave with the batch) */
    void (*send)(void *ctx, const xport_to_t *to, const char *buf, size_t len);

    /* The Redis deadline of a call: <timer_size> bytes of the call hold the
     * timer (the hooks own their content); arm calls route_deadline(<call>)
     * once the deadline has passed, unless cancelled first */
    size_t timer_size;
    void (*timer_arm)(void *ctx, void *timer, void *call);
    void (*timer_cancel)(void *ctx, void *timer);

    /* The store (store.h): same returns and callback rules as store_pick,
     * store_decision and store_release */
    int (*pick)(void *ctx, const plan_t *plan, const char *callid, size_t len,
                const store_hist_t *hist, store_pick_cb *cb, void *arg);
    int (*decision)(void *ctx, const char *site, const char *callid, size_t len,
                    store_pick_cb *cb, void *arg);
    void (*release)(void *ctx, const char *site, const char *callid, size_t len);
    /* The call history: queue a record of a call answered without a pick
     * (store_history_add), or NULL */
    void (*history)(void *ctx, const store_hist_rec_t *rec);

    /* Forward mode: a name's address (dns_lookup_sip's contract), whether a
     * destination is down (health.h), where an INVITE went (fwdmemo.h) */
    int (*resolve)(void *ctx, const char *host, unsigned port, struct in_addr *out,
                   unsigned *out_port, dns_cb *cb, void *arg);
    bool (*is_down)(void *ctx, const struct sockaddr *addr, socklen_t len);
    bool (*memo_get)(void *ctx, const char *key, size_t len, uint64_t now_ms, fwdmemo_dest_t *d);
    void (*memo_put)(void *ctx, const char *key, size_t len, const fwdmemo_dest_t *d, uint64_t now_ms);

    /* The listen sockets, by xport_to_t.sock: who we are on each (our Via)
     * and its address family */
    const fwd_self_t *selves;
    const sa_family_t *families;
    unsigned n_socks;
    bool record_route; /* forward mode: add our Record-Route to INVITEs */

    /* The batch being served: the rules snapshot read for it and what
     * follows from it (set by the caller around route_request calls) */
    const rules_t *rules;
    const char *option_header;
    bool forwarding; /* some route forwards */

    metrics_t *m;

    /* The per-site pick cap: <site_picks> a second (0: none), counted in
     * <site_windows> (ROUTE_SITE_SLOTS, shared by every environment of the
     * process, zeroed by the caller); past it, <over_limit> (opts_over_t) */
    unsigned site_picks;
    int over_limit;
    _Atomic uint64_t *site_windows;

    /* The per-source token bucket: <source_rate> requests a second (a
     * second's worth of burst; 0: none), in <source_buckets>
     * (ROUTE_SOURCE_SLOTS, shared, zeroed by the caller); past it, dropped
     * or (<source_503>) answered 503 */
    unsigned source_rate;
    bool source_503;
    _Atomic uint64_t *source_buckets;

    /* Per-site outcomes and the latency histograms (metrics.h): the
     * process's site registry (shared, read-only here) and this
     * environment's counters; either NULL: not counted */
    metrics_sites_t *sites;
    metrics_sitestats_t *site_stats;

    unsigned dns_waiting; /* route's own: calls waiting for a name */
    time_t strangers_at;  /* route's own: when a refused stranger was last
                             logged (one line a second at most) */
    unsigned strangers_quiet; /* refused since, not logged */
    time_t capped_at;     /* route's own: the same for calls over a cap */
    unsigned capped_quiet;
    time_t limited_at;    /* route's own: the same for sources over their rate */
    unsigned limited_quiet;
} route_env_t;

/* Serve the datagram <buf> that came <from>; <now> is the wall clock the
 * rules judge hours by. Whatever it answers or forwards goes through
 * env->send, now or when a callback comes. */
void route_datagram(route_env_t *env, const xport_to_t *from, const char *buf, size_t len, time_t now);

/* A stream (TCP, TLS) whose next message cannot be cut out (no or a bad
 * Content-Length, too large): answer <status> <reason> to the request whose
 * headers are <buf>, when they route an answer (never an ACK, never a
 * stranger's when strangers are dropped). The transport closes the
 * connection after it. */
void route_stream_error(route_env_t *env, const xport_to_t *from, const char *buf, size_t len, int status,
                        const char *reason, time_t now);

/* The timer armed for <call> has passed its deadline (see timer_arm). */
void route_deadline(void *call);

#endif
