/* worker.c -- a worker thread's event loop: read datagrams in batches, hand
 * each to route.c, send the answers in batches. Together with net.c and
 * store.c, the only code that touches sockets or the loop.
 */
#include "worker.h"

#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "arena.h"
#include "dns.h"
#include "log.h"
#include "route.h"
#include "stream.h"

#define RX_ROUNDS 4 /* batches read per wake-up before yielding to Redis replies */

static void flush_out(worker_t *w)
{
    unsigned done = 0;
    while (done < w->out_n) {
        int n = sendmmsg(w->out_fd, w->out_msgs + done, w->out_n - done, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            /* one bad destination (e.g. EACCES, EINVAL): skip it, keep the rest */
            METRIC_INC(&w->m, tx_errors);
            done++;
            continue;
        }
        METRIC_ADD(&w->m, tx_datagrams, (uint64_t)n);
        done += (unsigned)n;
    }
    w->out_n = 0;
}

static void on_log_timer(evutil_socket_t fd, short what, void *arg)
{
    worker_t *w = arg;
    (void)fd, (void)what;
    log_flush();
    event_base_gettimeofday_cached(w->base, &w->log_last);
}

/* Log lines leave at once when the last write is LOG_FLUSH_MS old (light
 * load: a line is seen as its call is answered); else when enough are
 * held, or when the timer armed for the first of them fires: under load, a
 * write per batch of datagrams was most of logging's cost. */
static void log_settle(worker_t *w)
{
    struct timeval now;
    if (!log_is_holding()) return;
    event_base_gettimeofday_cached(w->base, &now);
    long ago_ms = (long)(now.tv_sec - w->log_last.tv_sec) * 1000 + (now.tv_usec - w->log_last.tv_usec) / 1000;
    if (ago_ms >= LOG_FLUSH_MS || ago_ms < 0) {
        log_flush();
        w->log_last = now;
        return;
    }
    log_flush_full();
    if (log_is_holding() && !evtimer_pending(w->log_ev, NULL)) {
        static const struct timeval tv = { 0, LOG_FLUSH_MS * 1000 };
        evtimer_add(w->log_ev, &tv);
    }
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    worker_t *w = arg;
    (void)fd, (void)what;
    w->flush_pending = false;
    flush_out(w);
    log_settle(w);
}

/* Queue an answer of <len> bytes to <to> on socket <fd>. */
static void queue_out(worker_t *w, int fd, const struct sockaddr *to, socklen_t tolen,
                      const char *buf, size_t len)
{
    if (len > WORKER_TX_MAX || tolen > sizeof(struct sockaddr_storage)) {
        METRIC_INC(&w->m, tx_errors);
        return;
    }
    if (w->out_n && (w->out_n == WORKER_BATCH || w->out_fd != fd)) flush_out(w);
    unsigned i = w->out_n++;
    w->out_fd = fd;
    memcpy(w->out_buf[i], buf, len);
    memcpy(&w->out_addr[i], to, tolen);
    w->out_iov[i] = (struct iovec){ w->out_buf[i], len };
    w->out_msgs[i].msg_hdr = (struct msghdr){
        .msg_name = &w->out_addr[i], .msg_namelen = tolen,
        .msg_iov = &w->out_iov[i], .msg_iovlen = 1,
    };
    /* answers made inside a Redis callback leave after the current round of
     * callbacks, batched with whatever else is ready */
    if (!w->flush_pending) {
        w->flush_pending = true;
        event_active(w->flush_ev, EV_WRITE, 0);
    }
}

/* ------------------------------------------------------------------------
 * The routing core's environment (route.h): this worker's socket, loop,
 * store, resolver, and the shared health table and forward memo
 * ---------------------------------------------------------------------- */

static void env_send(void *ctx, const xport_to_t *to, const char *buf, size_t len)
{
    worker_t *w = ctx;
    if (to->kind != XPORT_UDP) {
        stream_send(w, to, buf, len);
        worker_kick(w); /* as for a datagram: the log lines of this answer leave soon */
        return;
    }
    if (to->sock >= w->n_fds || w->udp_of[to->sock] >= w->n_fds) {
        METRIC_INC(&w->m, tx_errors);
        return;
    }
    queue_out(w, w->fds[w->udp_of[to->sock]], (const struct sockaddr *)&to->addr, to->addr_len, buf, len);
}

static void on_call_deadline(evutil_socket_t fd, short what, void *call)
{
    (void)fd, (void)what;
    route_deadline(call);
}

static void env_timer_arm(void *ctx, void *timer, void *call)
{
    worker_t *w = ctx;
    event_assign(timer, w->base, -1, 0, on_call_deadline, call);
    event_add(timer, w->deadline);
}

static void env_timer_cancel(void *ctx, void *timer)
{
    (void)ctx;
    event_del(timer);
}

static int env_pick(void *ctx, const plan_t *plan, const char *callid, size_t len, const store_hist_t *hist,
                    store_pick_cb *cb, void *arg)
{
    return store_pick(((worker_t *)ctx)->store, plan, callid, len, hist, cb, arg);
}

static void env_history(void *ctx, const store_hist_rec_t *rec)
{
    worker_t *w = ctx;
    if (w->store && store_history_add(w->store, rec) == -ENOSPC) METRIC_INC(&w->m, history_dropped);
}

static int env_decision(void *ctx, const char *site, const char *callid, size_t len, store_pick_cb *cb,
                        void *arg)
{
    return store_decision(((worker_t *)ctx)->store, site, callid, len, cb, arg);
}

static void env_release(void *ctx, const char *site, const char *callid, size_t len)
{
    store_release(((worker_t *)ctx)->store, site, callid, len);
}

static int env_resolve(void *ctx, const char *host, unsigned port, struct in_addr *out, unsigned *out_port,
                       dns_cb *cb, void *arg)
{
    return dns_lookup_sip(((worker_t *)ctx)->dns, host, port, out, out_port, cb, arg);
}

static bool env_is_down(void *ctx, const struct sockaddr *addr, socklen_t len)
{
    return health_is_down(((worker_t *)ctx)->health, addr, len);
}

static bool env_memo_get(void *ctx, const char *key, size_t len, uint64_t now_ms, fwdmemo_dest_t *d)
{
    return fwdmemo_get(((worker_t *)ctx)->memo, key, len, now_ms, d);
}

static void env_memo_put(void *ctx, const char *key, size_t len, const fwdmemo_dest_t *d, uint64_t now_ms)
{
    fwdmemo_put(((worker_t *)ctx)->memo, key, len, d, now_ms);
}

static void env_init(worker_t *w)
{
    for (unsigned i = 0; i < w->n_fds; i++) w->families[i] = w->opts->listen[i].addr.ss_family;
    w->env = (route_env_t){
        .ctx = w,
        .send = env_send,
        .timer_size = event_get_struct_event_size(),
        .timer_arm = env_timer_arm,
        .timer_cancel = env_timer_cancel,
        .pick = env_pick,
        .decision = env_decision,
        .release = env_release,
        .history = env_history,
        .resolve = env_resolve,
        .is_down = env_is_down,
        .memo_get = env_memo_get,
        .memo_put = env_memo_put,
        .selves = w->selves,
        .families = w->families,
        .n_socks = w->n_fds,
        .record_route = w->record_route,
        .m = &w->m,
        .site_picks = w->opts->site_picks,
        .over_limit = w->opts->over_limit,
        .site_windows = w->site_windows,
        .source_rate = w->opts->source_rate,
        .source_503 = w->opts->source_503,
        .source_buckets = w->source_buckets,
        .sites = w->sites,
        .site_stats = w->site_stats,
    };
}

/* The ICMP errors queued on <fd> (IP_RECVERR, see net.c): a request we
 * forwarded that could not be delivered marks its destination down, so
 * the caller's retransmission goes to the next one. Errors for answers we
 * sent (a caller that went away) are only drained. Reading the queue also
 * clears the socket's error state, which would otherwise wake us for
 * ever. */
static void drain_errors(worker_t *w, int fd)
{
    static const char ours[] = ";branch=" FWD_BRANCH_PREFIX;
    for (int k = 0; k < 64; k++) {
        /* what ICMP quotes of the datagram: at most 576 bytes with IPv4,
         * 1280 with IPv6 (the request line and our Via below it fit, but
         * for an in-dialog request with a very long Request-URI, which then
         * goes unrecognised: its next hop is not marked down) */
        char data[1280], ctl[512];
        struct sockaddr_storage dst;
        struct iovec iov = { data, sizeof(data) };
        struct msghdr mh = { .msg_name = &dst, .msg_namelen = sizeof(dst), .msg_iov = &iov,
                             .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl) };
        ssize_t n = recvmsg(fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT);
        if (n < 0) return; /* EAGAIN: nothing (more) queued */
        /* a request we forwarded: it carries our Via, right at the top
         * (what the ICMP error quotes of it is enough to see that) */
        bool forwarded = n >= 8 && memcmp(data, "SIP/2.0 ", 8) != 0 &&
                         memmem(data, (size_t)n, ours, sizeof(ours) - 1) != NULL;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
            bool v4 = c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR;
            bool v6 = c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR;
            if (!v4 && !v6) continue;
            const struct sock_extended_err *ee = (const void *)CMSG_DATA(c);
            if (ee->ee_origin != SO_EE_ORIGIN_ICMP && ee->ee_origin != SO_EE_ORIGIN_ICMP6) continue;
            /* unreachable, not "too big" nor "time exceeded" */
            bool gone = ee->ee_errno == ECONNREFUSED || ee->ee_errno == EHOSTUNREACH ||
                        ee->ee_errno == ENETUNREACH;
            if (forwarded && gone && mh.msg_namelen) {
                METRIC_INC(&w->m, icmp_errors);
                health_mark_down(w->health, (struct sockaddr *)&dst, mh.msg_namelen);
            }
        }
    }
}

/* Arm (or disarm) our socket events: a worker after the first reads only
 * while the one before it finds full batches. */
static void set_reading(worker_t *w, bool on)
{
    for (unsigned i = 0; i < w->n_fds; i++) {
        if (!w->rx_ev[i]) continue; /* a TCP/TLS listener: stream.c's */
        if (on) event_add(w->rx_ev[i], NULL);
        else event_del(w->rx_ev[i]);
    }
    atomic_store_explicit(&w->reading, on, memory_order_relaxed);
}

/* A full batch: more is likely queued, let the next worker read too. */
static void wake_next(worker_t *w)
{
    worker_t *n = w->next;
    if (!n || !atomic_load_explicit(&n->wakeable, memory_order_acquire) ||
        atomic_load_explicit(&n->reading, memory_order_relaxed))
        return;
    atomic_store_explicit(&n->reading, 1, memory_order_relaxed);
    event_active(n->wake_ev, EV_READ, 0); /* thread-safe (evthread_use_pthreads) */
}

static unsigned read_socket(worker_t *w, int fd);

/* A follower goes back to sleep once a pass over all its sockets comes
 * back short (not the first worker: it always waits on the sockets). */
static void settle_follower(worker_t *w, unsigned got, int read_fd)
{
    if (w->id == 0 || got >= WORKER_BATCH || !atomic_load_explicit(&w->reading, memory_order_relaxed))
        return;
    for (unsigned i = 0; i < w->n_fds; i++)
        if (w->rx_ev[i] && w->fds[i] != read_fd && read_socket(w, w->fds[i]) >= WORKER_BATCH) return;
    set_reading(w, false);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    worker_t *w = arg;
    (void)fd, (void)what;
    set_reading(w, true);
    unsigned got = 0;
    for (unsigned i = 0; i < w->n_fds; i++) {
        if (!w->rx_ev[i]) continue;
        unsigned n = read_socket(w, w->fds[i]);
        if (n > got) got = n;
    }
    settle_follower(w, got, -1);
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    worker_t *w = arg;
    (void)what;
    settle_follower(w, read_socket(w, fd), fd);
}

/* Read and answer what <fd> holds, a few batches at most. Returns how
 * many datagrams it read. */
static unsigned read_socket(worker_t *w, int fd)
{
    unsigned got = 0, sock = 0;

    while (sock + 1 < w->n_fds && w->fds[sock] != fd) sock++;

    worker_batch_begin(w);
    for (int round = 0; round < RX_ROUNDS; round++) {
        for (unsigned i = 0; i < WORKER_BATCH; i++) {
            w->in_msgs[i].msg_hdr.msg_namelen = sizeof(w->in_addr[i]);
            w->in_msgs[i].msg_hdr.msg_flags = 0;
        }
        int n = recvmmsg(fd, w->in_msgs, WORKER_BATCH, MSG_DONTWAIT, NULL);
        if (n == WORKER_BATCH && round == 0) wake_next(w);
        if (n > 0) got += (unsigned)n;
        if (n <= 0) {
            /* EAGAIN: another worker took it, or nothing left; or an ICMP
             * error is pending. A wake-up that read nothing drains the
             * error queue: an error left queued would wake every worker
             * again and again (epoll reports it until it is read). */
            if (round == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) drain_errors(w, fd);
            break;
        }
        time_t now = w->batch_now = w->opts->fixed_time ? w->opts->fixed_time : time(NULL);
        for (int i = 0; i < n; i++) {
            METRIC_INC(&w->m, rx_datagrams);
            if (w->in_msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
                METRIC_INC(&w->m, dropped);
                continue;
            }
            xport_to_t from = { .kind = XPORT_UDP, .sock = sock,
                                .addr_len = w->in_msgs[i].msg_hdr.msg_namelen };
            if (from.addr_len > sizeof(from.addr)) from.addr_len = sizeof(from.addr);
            memcpy(&from.addr, &w->in_addr[i], from.addr_len);
            route_datagram(&w->env, &from, w->in_buf[i], w->in_msgs[i].msg_len, now);
            arena_reset(); /* the datagram's libosip2 objects are gone */
        }
        if (n < WORKER_BATCH) break;
    }
    worker_batch_end(w);
    return got;
}

void worker_kick(worker_t *w)
{
    if (w->flush_pending) return;
    w->flush_pending = true;
    event_active(w->flush_ev, EV_WRITE, 0);
}

void worker_batch_begin(worker_t *w)
{
    /* one snapshot for the whole batch: a reload waits for us to finish */
    reload_read_lock();
    w->env.rules = reload_current(w->reload);
    w->env.option_header = rules_option_header(w->env.rules);
    w->env.forwarding = rules_any_forward(w->env.rules);
    w->batch_now = w->opts->fixed_time ? w->opts->fixed_time : time(NULL);
}

void worker_batch_route(worker_t *w, const xport_to_t *from, const char *buf, size_t len)
{
    METRIC_INC(&w->m, stream_messages);
    route_datagram(&w->env, from, buf, len, w->batch_now);
    arena_reset(); /* the message's libosip2 objects are gone */
}

void worker_batch_end(worker_t *w)
{
    w->env.rules = NULL;
    w->env.option_header = NULL;
    reload_read_unlock();
    if (w->out_n) flush_out(w);
    log_settle(w);
}

/* Every 250 ms: the state the main thread reports (/readyz, /metrics). */
static void on_state(evutil_socket_t fd, short what, void *arg)
{
    worker_t *w = arg;
    (void)fd, (void)what;
    atomic_store_explicit(&w->redis_ready, store_is_ready(w->store), memory_order_relaxed);
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
    worker_t *w = arg;
    (void)fd, (void)what;
    event_base_loopexit(w->base, NULL);
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    char name[64];
    snprintf(name, sizeof(name), "frontdesk-%ld-w%u", (long)getpid(), w->id);
    store_opts_t so = {
        .host = w->opts->redis_host, .port = w->opts->redis_port,
        .offer_ms = w->opts->offer_ms, .ttl_ms = w->opts->decision_ttl_ms,
        .history_days = w->opts->history_days, .history_max = w->opts->history_max,
        .sentinels = w->opts->redis_sentinels, .master = w->opts->redis_master,
        .name = name, .user = w->opts->redis_user, .password = w->opts->redis_password,
    };

    log_buffer_thread(true);
    reload_thread_register();
    if (arena_thread_init(ARENA_SIZE) < 0) /* still works, on malloc */
        LOG_WARN("worker: no arena for libosip2", "worker=%u", w->id);
    if (store_open(&w->store, w->base, &so) < 0)
        LOG_ERROR("worker: cannot set up its Redis connection", "worker=%u", w->id);
    if (dns_open(&w->dns, w->base, w->opts->dns_servers) < 0)
        LOG_ERROR("worker: cannot set up its resolver: forward destinations given by name are skipped",
                  "worker=%u", w->id);
    event_base_dispatch(w->base);
    store_close(w->store); /* pending picks answer with their fallback */
    w->store = NULL;
    dns_close(w->dns); /* calls waiting for a name go to their next destination */
    w->dns = NULL;
    if (w->out_n) flush_out(w);
    log_buffer_thread(false);
    arena_thread_free();
    reload_thread_unregister();
    return NULL;
}

static void worker_free(worker_t *w)
{
    atomic_store_explicit(&w->wakeable, 0, memory_order_release);
    if (w->stream) stream_worker_end(w); /* its connections close */
    for (unsigned i = 0; i < w->n_fds; i++)
        if (w->rx_ev[i]) event_free(w->rx_ev[i]);
    if (w->flush_ev) event_free(w->flush_ev);
    if (w->wake_ev) event_free(w->wake_ev);
    if (w->log_ev) event_free(w->log_ev);
    if (w->stop_ev) event_free(w->stop_ev);
    if (w->state_ev) event_free(w->state_ev);
    if (w->base) event_base_free(w->base);
    free(w->out_msgs), free(w->out_iov), free(w->out_addr), free(w->out_buf);
    free(w->in_msgs), free(w->in_iov), free(w->in_addr), free(w->in_buf);
    /* the counters stay: the totals and /metrics read them after a stop */
    memset(w->rx_ev, 0, sizeof(w->rx_ev));
    w->flush_ev = w->stop_ev = w->state_ev = w->wake_ev = w->log_ev = NULL;
    w->base = NULL;
    w->out_msgs = NULL, w->out_iov = NULL, w->out_addr = NULL, w->out_buf = NULL;
    w->in_msgs = NULL, w->in_iov = NULL, w->in_addr = NULL, w->in_buf = NULL;
}

int worker_start(worker_t *w)
{
    int rc = -ENOMEM;
    struct timeval tv = { w->opts->redis_timeout_ms / 1000, (w->opts->redis_timeout_ms % 1000) * 1000 };

    if (!(w->base = event_base_new())) goto fail;
    if (!(w->site_stats = calloc(1, sizeof(*w->site_stats)))) goto fail;
    env_init(w);
    w->deadline = event_base_init_common_timeout(w->base, &tv);
    w->out_msgs = calloc(WORKER_BATCH, sizeof(*w->out_msgs));
    w->out_iov = calloc(WORKER_BATCH, sizeof(*w->out_iov));
    w->out_addr = calloc(WORKER_BATCH, sizeof(*w->out_addr));
    w->out_buf = calloc(WORKER_BATCH, sizeof(*w->out_buf));
    w->in_msgs = calloc(WORKER_BATCH, sizeof(*w->in_msgs));
    w->in_iov = calloc(WORKER_BATCH, sizeof(*w->in_iov));
    w->in_addr = calloc(WORKER_BATCH, sizeof(*w->in_addr));
    w->in_buf = calloc(WORKER_BATCH, sizeof(*w->in_buf));
    if (!w->deadline || !w->out_msgs || !w->out_iov || !w->out_addr || !w->out_buf ||
        !w->in_msgs || !w->in_iov || !w->in_addr || !w->in_buf)
        goto fail;
    for (unsigned i = 0; i < WORKER_BATCH; i++) {
        w->in_iov[i] = (struct iovec){ w->in_buf[i], WORKER_RX_MAX };
        w->in_msgs[i].msg_hdr = (struct msghdr){
            .msg_name = &w->in_addr[i], .msg_namelen = sizeof(w->in_addr[i]),
            .msg_iov = &w->in_iov[i], .msg_iovlen = 1,
        };
    }
    for (unsigned i = 0; i < w->n_fds; i++) {
        if (w->opts->listen[i].proto != OPTS_UDP) continue; /* stream.c accepts */
        w->rx_ev[i] = event_new(w->base, w->fds[i], EV_READ | EV_PERSIST, on_readable, w);
        if (!w->rx_ev[i] || (w->id == 0 && event_add(w->rx_ev[i], NULL) < 0)) goto fail;
    }
    atomic_store_explicit(&w->reading, w->id == 0, memory_order_relaxed);
    if (!(w->wake_ev = event_new(w->base, -1, 0, on_wake, w))) goto fail;
    if (!(w->flush_ev = event_new(w->base, -1, 0, on_flush, w))) goto fail;
    if (!(w->log_ev = evtimer_new(w->base, on_log_timer, w))) goto fail;
    if (!(w->stop_ev = event_new(w->base, -1, 0, on_stop, w))) goto fail;
    if (w->stream && stream_worker_init(w) < 0) goto fail;
    struct timeval st = { 0, 250 * 1000 };
    if (!(w->state_ev = event_new(w->base, -1, EV_PERSIST, on_state, w)) ||
        event_add(w->state_ev, &st) < 0)
        goto fail;
    if ((rc = -pthread_create(&w->thread, NULL, worker_main, w)) < 0) goto fail;
    /* the worker before us may wake us from now on (event_active works on a
     * base whose loop has not started yet) */
    atomic_store_explicit(&w->wakeable, 1, memory_order_release);
    return 0;
fail:
    worker_free(w);
    return rc;
}

void worker_stop(worker_t *w)
{
    if (!w->base) return;
    /* the workers stop in order, so the one that wakes us is gone already */
    atomic_store_explicit(&w->wakeable, 0, memory_order_release);
    event_active(w->stop_ev, EV_READ, 0); /* thread-safe with evthread_use_pthreads() */
    pthread_join(w->thread, NULL);
    worker_free(w);
}
