/* stream.c -- SIP over TCP and TLS: listeners, connections, framing,
 * mailboxes; see stream.h. With worker.c, the only code that touches the
 * connections.
 */
#include "stream.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "log.h"
#include "reload.h"
#include "route.h"
#include "rules.h"
#include "sip.h"
#include "worker.h"

#define STREAM_OUT_MAX (1u << 20) /* answers queued for a peer that reads none */
#define STREAM_OUTS_MAX 64        /* destinations a worker keeps a connection to */
#define SLOT_BITS 24
#define CONN_OWNER(id) ((unsigned)((id) >> SLOT_BITS) & 0xffu)
#define CONN_SLOT(id) ((unsigned)(id) & ((1u << SLOT_BITS) - 1u))

typedef enum { ITEM_CONN, ITEM_REQ, ITEM_ANS } item_kind_t;

/* What a mailbox holds: a connection to adopt (its fd, the listen socket
 * and peer in <to>), a message to route (where it came from), an answer to
 * write (where it goes). */
typedef struct item {
    struct item *next;
    item_kind_t kind;
    int fd;
    xport_to_t to;
    size_t len;
    char data[];
} item_t;

struct box;

/* What a limit warning is about: each kind is logged once a second. */
enum { W_FRAMING, W_SLOW, W_CONNS, W_STALLED, W_TLS, W_STRANGER, W_ACCEPT, W_CONNECT, W_KINDS };

typedef struct conn {
    struct box *box;
    struct bufferevent *bev;
    struct event *timer;  /* the message's (or handshake's) deadline; after
                             EOF, the grace for late answers; when closing
                             with nothing left to write, now */
    uint64_t id;
    xport_to_t from;      /* kind, listen socket, this id, the peer */
    unsigned next;        /* the worker the next handed-out message goes to */
    bool closing;         /* close once what is queued is written */
    bool eof;             /* the peer is done sending */
    bool handshaking;     /* TLS handshake, or our connect, not yet done */
    bool outbound;        /* we opened it, to a forward destination */
} conn_t;

/* One worker's mailbox and connections. */
typedef struct box {
    pthread_mutex_t mu;
    item_t *head, *tail;  /* under mu */
    bool live;            /* under mu: the worker takes items */
    struct event *ev;
    worker_t *w;
    stream_t *s;
    conn_t **slots;       /* the owner's alone */
    uint32_t *gens;
    unsigned free_hint;
    conn_t *outs[STREAM_OUTS_MAX]; /* the ones we opened, to destinations */
    unsigned n_outs;
    time_t warned_at[W_KINDS]; /* limit warnings: one a second each */
    unsigned warned_quiet[W_KINDS];
} box_t;

typedef struct {
    stream_t *s;
    unsigned sock;
    struct evconnlistener *l;
    struct event *resume; /* accepting again after an accept error */
} listener_t;

struct stream {
    const opts_t *o;
    worker_t *workers;
    unsigned n;
    box_t *boxes;
    listener_t ls[OPTS_MAX_LISTEN];
    _Atomic unsigned open;        /* connections, all workers */
    _Atomic unsigned accept_next; /* the next owner */
    pthread_mutex_t tls_mu;       /* tls: swapped on SIGHUP */
    SSL_CTX *tls;
    struct timeval idle, msg, grace;
};

static struct timeval tv_of_ms(unsigned ms)
{
    return (struct timeval){ ms / 1000, (ms % 1000) * 1000 };
}

/* A warning about a limit (<kind>), one a second per worker at most. */
#define LIMIT_WARN(b, kind, msg, fmt, ...)                                                         \
    do {                                                                                           \
        time_t now_ = time(NULL);                                                                  \
        if ((b)->warned_at[kind] == now_) {                                                        \
            (b)->warned_quiet[kind]++;                                                             \
        } else {                                                                                   \
            LOG_WARN(msg, fmt " more=%u", __VA_ARGS__, (b)->warned_quiet[kind]);                    \
            worker_kick((b)->w);                                                                   \
            (b)->warned_at[kind] = now_;                                                           \
            (b)->warned_quiet[kind] = 0;                                                           \
        }                                                                                          \
    } while (0)

static void peer_text(const xport_to_t *t, char out[INET6_ADDRSTRLEN + 8])
{
    char ip[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (t->addr.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&t->addr;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
        port = ntohs(a->sin6_port);
        snprintf(out, INET6_ADDRSTRLEN + 8, "[%s]:%u", ip, port);
    } else {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&t->addr;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
        port = ntohs(a->sin_port);
        snprintf(out, INET6_ADDRSTRLEN + 8, "%s:%u", ip, port);
    }
}

/* ------------------------------------------------------------------------
 * Mailboxes
 * ---------------------------------------------------------------------- */

/* Hand <it> to <b>'s worker. False when that worker takes no more (it is
 * stopping): the item is still the caller's. */
static bool post(box_t *b, item_t *it)
{
    it->next = NULL;
    pthread_mutex_lock(&b->mu);
    if (!b->live) {
        pthread_mutex_unlock(&b->mu);
        return false;
    }
    bool wake = !b->head;
    if (b->tail) b->tail->next = it;
    else b->head = it;
    b->tail = it;
    if (wake) event_active(b->ev, EV_READ, 0); /* thread-safe (evthread_use_pthreads) */
    pthread_mutex_unlock(&b->mu);
    return true;
}

static item_t *item_new(item_kind_t kind, const xport_to_t *to, const char *data, size_t len)
{
    item_t *it = malloc(sizeof(*it) + len);
    if (!it) return NULL;
    it->kind = kind;
    it->fd = -1;
    it->to = *to;
    it->len = len;
    if (len) memcpy(it->data, data, len);
    return it;
}

/* An item nobody will take: let go of what it holds. */
static void item_drop(stream_t *s, item_t *it)
{
    if (it->kind == ITEM_CONN) {
        close(it->fd);
        atomic_fetch_sub_explicit(&s->open, 1, memory_order_relaxed);
    }
    free(it);
}

/* ------------------------------------------------------------------------
 * Connections (the owner's thread only)
 * ---------------------------------------------------------------------- */

static void conn_free(conn_t *c)
{
    box_t *b = c->box;
    unsigned slot = CONN_SLOT(c->id);
    b->slots[slot] = NULL;
    if (slot < b->free_hint) b->free_hint = slot;
    for (unsigned i = 0; c->outbound && i < b->n_outs; i++)
        if (b->outs[i] == c) {
            b->outs[i] = b->outs[--b->n_outs];
            break;
        }
    event_free(c->timer);
    bufferevent_free(c->bev); /* closes the socket (and the TLS session) */
    atomic_fetch_sub_explicit(&b->s->open, 1, memory_order_relaxed);
    METRIC_INC(&b->w->m, stream_closed);
    free(c);
    if (LOG_ENABLED(LOG_LVL_DEBUG)) worker_kick(b->w);
}

/* Close <c> once what is queued for it is written; never synchronously
 * (its own callbacks may be running). */
static void conn_close_soon(conn_t *c)
{
    static const struct timeval now = { 0, 0 };
    c->closing = true;
    bufferevent_disable(c->bev, EV_READ);
    evtimer_del(c->timer);
    if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) evtimer_add(c->timer, &now);
}

static bool same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b, socklen_t blen)
{
    if (!blen) return true;
    if (a->ss_family != b->ss_family) return false;
    if (a->ss_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr == ((const struct sockaddr_in *)b)->sin_addr.s_addr;
    return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, &((const struct sockaddr_in6 *)b)->sin6_addr,
                  sizeof(struct in6_addr)) == 0;
}

static void conn_write(conn_t *c, const char *buf, size_t len);

/* Write <buf> on the connection of <b> that <to> names. */
static void write_local(box_t *b, const xport_to_t *to, const char *buf, size_t len)
{
    worker_t *w = b->w;
    unsigned slot = CONN_SLOT(to->conn);
    conn_t *c = slot < b->s->o->tcp_max_conns ? b->slots[slot] : NULL;
    if (!c || c->id != to->conn || c->closing || !same_host(&c->from.addr, &to->addr, to->addr_len)) {
        METRIC_INC(&w->m, stream_lost_answers);
        return;
    }
    conn_write(c, buf, len);
}

/* <buf> onto <c>, unless its peer has let 1 MB pile up unread: then it is
 * closed. */
static void conn_write(conn_t *c, const char *buf, size_t len)
{
    box_t *b = c->box;
    worker_t *w = b->w;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    if (evbuffer_get_length(out) + len > STREAM_OUT_MAX) {
        char peer[INET6_ADDRSTRLEN + 8];
        peer_text(&c->from, peer);
        METRIC_INC(&w->m, stream_stalled);
        METRIC_INC(&w->m, stream_lost_answers);
        LIMIT_WARN(b, W_STALLED, "connection closed: the peer reads none of its answers", "peer=%s queued=%zu", peer,
                   evbuffer_get_length(out));
        evbuffer_drain(out, evbuffer_get_length(out));
        conn_close_soon(c);
        return;
    }
    if (bufferevent_write(c->bev, buf, len) < 0) {
        METRIC_INC(&w->m, tx_errors);
        return;
    }
    METRIC_INC(&w->m, tx_datagrams);
}

/* A connection we opened to a destination did not come up: the
 * destination is marked down (as an ICMP error does for UDP), so the
 * caller's retransmission, and the next calls, go to the next one. */
static void connect_failed(conn_t *c, const char *why)
{
    worker_t *w = c->box->w;
    char peer[INET6_ADDRSTRLEN + 8];
    peer_text(&c->from, peer);
    METRIC_INC(&w->m, stream_connect_failed);
    health_mark_down(w->health, (const struct sockaddr *)&c->from.addr, c->from.addr_len);
    LIMIT_WARN(c->box, W_CONNECT, "cannot connect to a destination over TCP: marked down", "to=%s why=%s", peer,
               why);
}

static void on_conn_timer(evutil_socket_t fd, short what, void *arg)
{
    conn_t *c = arg;
    (void)fd, (void)what;
    if (c->eof && !c->closing && evbuffer_get_length(bufferevent_get_output(c->bev))) {
        conn_close_soon(c); /* the grace is over: what is queued still goes */
        return;
    }
    if (c->outbound && c->handshaking && !c->closing) {
        connect_failed(c, "timeout");
        conn_free(c);
        return;
    }
    if (!c->closing && !c->eof) {
        char peer[INET6_ADDRSTRLEN + 8];
        peer_text(&c->from, peer);
        METRIC_INC(&c->box->w->m, stream_slow);
        LIMIT_WARN(c->box, W_SLOW, "connection closed: a message too slow to arrive", "peer=%s what=%s limit_ms=%u", peer,
                   c->handshaking ? "tls-handshake" : "message", c->box->s->o->tcp_msg_ms);
    }
    conn_free(c);
}

static void on_write(struct bufferevent *bev, void *arg)
{
    conn_t *c = arg;
    if (c->closing && evbuffer_get_length(bufferevent_get_output(bev)) == 0) conn_free(c);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    conn_t *c = arg;
    box_t *b = c->box;
    char peer[INET6_ADDRSTRLEN + 8];

    if (what & BEV_EVENT_CONNECTED) { /* the TLS handshake is done */
        c->handshaking = false;
        evtimer_del(c->timer);
        return;
    }
    peer_text(&c->from, peer);
    if (what & BEV_EVENT_TIMEOUT) {
        METRIC_INC(&b->w->m, stream_idle);
        LOG_DEBUG("connection closed: idle", "peer=%s %s", peer, what & BEV_EVENT_WRITING ? "writing" : "reading");
        conn_free(c);
        return;
    }
    if (c->handshaking && c->outbound) {
        int e = EVUTIL_SOCKET_ERROR();
        connect_failed(c, what & BEV_EVENT_EOF ? "closed" : e ? strerror(e) : "error");
        conn_free(c);
        return;
    }
    if (c->handshaking) {
        unsigned long e = bufferevent_get_openssl_error(bev);
        char why[160] = "closed";
        if (e) ERR_error_string_n(e, why, sizeof(why));
        METRIC_INC(&b->w->m, tls_failed);
        LIMIT_WARN(b, W_TLS, "TLS handshake failed", "peer=%s why=\"%s\"", peer, why);
        conn_free(c);
        return;
    }
    if ((what & BEV_EVENT_EOF) && !c->closing) {
        /* the peer is done sending: answers still being decided (a pick
         * waiting for Redis) may still go out for a moment */
        c->eof = true;
        bufferevent_disable(bev, EV_READ);
        evtimer_add(c->timer, &b->s->grace);
        return;
    }
    LOG_DEBUG("connection closed", "peer=%s why=%s", peer, what & BEV_EVENT_EOF ? "eof" : "error");
    conn_free(c);
}

/* The stream cannot be cut again: answer what the headers allow (400, 513)
 * and close. */
static void framing_error(conn_t *c, const char *msg, size_t head, long why, bool *batch)
{
    worker_t *w = c->box->w;
    char peer[INET6_ADDRSTRLEN + 8];
    int status = why == -EMSGSIZE ? 513 : 400;
    const char *reason = why == -EMSGSIZE ? "Message Too Large"
                         : why == -ENODATA ? "Missing Content-Length" : "Bad Content-Length";

    if (why == -EMSGSIZE) METRIC_INC(&w->m, stream_too_big);
    else METRIC_INC(&w->m, stream_bad_framing);
    peer_text(&c->from, peer);
    LIMIT_WARN(c->box, W_FRAMING, "connection closed: a message that cannot be framed", "peer=%s status=%d why=\"%s\"", peer,
               status, reason);
    if (head) { /* the headers, or as much as --tcp-max-message of them */
        if (!*batch) worker_batch_begin(w);
        *batch = true;
        route_stream_error(&w->env, &c->from, msg, head, status, reason, w->batch_now);
    }
    conn_close_soon(c);
}

/* Message <k> of this read: the first is routed here, the others go to
 * the workers in turn. */
static void dispatch(conn_t *c, unsigned k, const char *msg, size_t len, bool *batch)
{
    box_t *b = c->box;
    stream_t *s = b->s;
    unsigned target = b->w->id;
    if (k > 0 && s->n > 1) {
        target = c->next;
        c->next = (c->next + 1) % s->n;
    }
    if (target != b->w->id) {
        item_t *it = item_new(ITEM_REQ, &c->from, msg, len);
        if (it && post(&s->boxes[target], it)) return;
        free(it); /* that worker is stopping, or no memory: route it here */
    }
    if (!*batch) worker_batch_begin(b->w);
    *batch = true;
    worker_batch_route(b->w, &c->from, msg, len);
}

static bool only_crlf(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != '\r' && p[i] != '\n') return false;
    return true;
}

static void on_read(struct bufferevent *bev, void *arg)
{
    conn_t *c = arg;
    box_t *b = c->box;
    stream_t *s = b->s;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t n = evbuffer_get_length(in), off = 0;
    unsigned k = 0;
    bool batch = false;

    if (c->closing) {
        evbuffer_drain(in, n);
        return;
    }
    const char *p = n ? (const char *)evbuffer_pullup(in, -1) : NULL;
    while (off < n && !c->closing) {
        /* CRLFs between messages are ignored (RFC 3261 7.5), but a CRLF
         * CRLF ping gets its CRLF pong (RFC 5626 3.5.1), queued as any
         * answer: a peer that pings and never reads is cut at the cap */
        if (p[off] == '\r' || p[off] == '\n') {
            size_t left = n - off;
            if (left >= 4 && memcmp(p + off, "\r\n\r\n", 4) == 0) {
                conn_write(c, "\r\n", 2);
                off += 4;
            } else if (left < 4 && memcmp(p + off, "\r\n\r\n", left) == 0) {
                break; /* maybe a ping's first half: wait for the rest */
            } else {
                off++;
            }
            continue;
        }
        size_t head = 0;
        long total = sip_stream_frame(p + off, n - off, s->o->tcp_max_msg, &head);
        if (total < 0) {
            /* headers past the limit: what was read of them may still
             * route the 513 */
            framing_error(c, p + off, head ? head : n - off, total, &batch);
            off = n;
            break;
        }
        if (total == 0 || (size_t)total > n - off) break;
        dispatch(c, k++, p + off, (size_t)total, &batch);
        off += (size_t)total;
    }
    bool rest_blank = off >= n || only_crlf(p + off, n - off); /* nothing, or half a ping */
    if (batch) worker_batch_end(b->w);
    evbuffer_drain(in, off);
    if (c->closing) return;
    /* the rest is the start of a message: it has --tcp-message-timeout to
     * arrive whole (from its first byte, or from the end of the message
     * before it) */
    if (!rest_blank) {
        if (k || !evtimer_pending(c->timer, NULL)) evtimer_add(c->timer, &s->msg);
    } else if (!c->handshaking) {
        evtimer_del(c->timer);
    }
}

/* <c> (its bufferevent made) into <slot> of <b>, coming <from>: its id,
 * timer, callbacks and timeouts. 0, or -ENOMEM with the bufferevent freed
 * (and its socket closed). */
static int conn_setup(box_t *b, conn_t *c, unsigned slot, const xport_to_t *from)
{
    worker_t *w = b->w;
    stream_t *s = b->s;
    if (!(c->timer = evtimer_new(w->base, on_conn_timer, c))) {
        bufferevent_free(c->bev);
        return -ENOMEM;
    }
    if (++b->gens[slot] == 0) b->gens[slot] = 1;
    c->box = b;
    c->id = (uint64_t)b->gens[slot] << 32 | (uint64_t)w->id << SLOT_BITS | slot;
    c->from = *from;
    c->from.conn = c->id;
    c->next = (w->id + 1) % s->n;
    b->slots[slot] = c;
    b->free_hint = slot + 1;
    bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
    bufferevent_set_timeouts(c->bev, &s->idle, &s->idle);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    if (c->handshaking) evtimer_add(c->timer, &s->msg); /* TLS handshake, our connect */
    return 0;
}

/* A connection worker 0 accepted, in its owner's thread. */
static void adopt(box_t *b, item_t *it)
{
    stream_t *s = b->s;
    worker_t *w = b->w;
    unsigned max = s->o->tcp_max_conns, slot = b->free_hint;
    conn_t *c = NULL;
    SSL *ssl = NULL;

    while (slot < max && b->slots[slot]) slot++;
    if (slot >= max || !(c = calloc(1, sizeof(*c)))) goto fail;
    int one = 1;
    setsockopt(it->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* answers are small */
    if (it->to.kind == XPORT_TLS) {
        pthread_mutex_lock(&s->tls_mu);
        ssl = SSL_new(s->tls);
        pthread_mutex_unlock(&s->tls_mu);
        if (!ssl) goto fail;
        c->bev = bufferevent_openssl_socket_new(w->base, it->fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                                BEV_OPT_CLOSE_ON_FREE);
        ssl = NULL; /* the bufferevent's, or freed by libevent when it failed */
        if (c->bev) bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1); /* a close without
                                                                              close_notify is an EOF */
        c->handshaking = true;
    } else {
        c->bev = bufferevent_socket_new(w->base, it->fd, BEV_OPT_CLOSE_ON_FREE);
    }
    if (!c->bev) goto fail;
    it->fd = -1; /* the bufferevent's now */
    if (conn_setup(b, c, slot, &it->to) < 0) goto fail;
    METRIC_INC(&w->m, stream_accepted);
    return;
fail:
    if (ssl) SSL_free(ssl);
    free(c);
    if (it->fd >= 0) close(it->fd);
    it->fd = -1;
    atomic_fetch_sub_explicit(&s->open, 1, memory_order_relaxed);
    METRIC_INC(&w->m, stream_refused);
}

static void on_box(evutil_socket_t fd, short what, void *arg)
{
    box_t *b = arg;
    (void)fd, (void)what;
    pthread_mutex_lock(&b->mu);
    item_t *it = b->head;
    b->head = b->tail = NULL;
    pthread_mutex_unlock(&b->mu);
    if (!it) return;
    worker_batch_begin(b->w);
    while (it) {
        item_t *next = it->next;
        switch (it->kind) {
        case ITEM_CONN: adopt(b, it); break;
        case ITEM_REQ: worker_batch_route(b->w, &it->to, it->data, it->len); break;
        case ITEM_ANS: write_local(b, &it->to, it->data, it->len); break;
        }
        free(it);
        it = next;
    }
    worker_batch_end(b->w);
}

/* ------------------------------------------------------------------------
 * Accepting (worker 0's thread)
 * ---------------------------------------------------------------------- */

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
    listener_t *ls = arg;
    stream_t *s = ls->s;
    worker_t *w0 = &s->workers[0];
    box_t *b0 = &s->boxes[0];
    xport_to_t to = { .kind = (xport_kind_t)s->o->listen[ls->sock].proto, .sock = ls->sock };
    char peer[INET6_ADDRSTRLEN + 8];
    (void)l;

    if (salen < 0 || (size_t)salen > sizeof(to.addr)) salen = 0;
    memcpy(&to.addr, sa, (size_t)salen);
    to.addr_len = (socklen_t)salen;
    peer_text(&to, peer);
    if (atomic_fetch_add_explicit(&s->open, 1, memory_order_relaxed) >= s->o->tcp_max_conns) {
        atomic_fetch_sub_explicit(&s->open, 1, memory_order_relaxed);
        METRIC_INC(&w0->m, stream_refused);
        LIMIT_WARN(b0, W_CONNS, "connection refused: too many open", "peer=%s limit=%u", peer, s->o->tcp_max_conns);
        close(fd);
        return;
    }
    /* strangers dropped, and nothing forwarded that could come back to us
     * from them: not even their connection is kept */
    reload_read_lock();
    const rules_t *r = reload_current(w0->reload);
    bool stranger = !rules_trusts(r, sa) && !rules_any_forward(r) && rules_strangers(r) == RULES_STRANGERS_DROP;
    reload_read_unlock();
    if (stranger) {
        atomic_fetch_sub_explicit(&s->open, 1, memory_order_relaxed);
        METRIC_INC(&w0->m, stream_refused);
        METRIC_INC(&w0->m, untrusted_source);
        LIMIT_WARN(b0, W_STRANGER, "connection from an untrusted source refused", "from=%s", peer);
        close(fd);
        return;
    }
    item_t *it = item_new(ITEM_CONN, &to, NULL, 0);
    unsigned owner = atomic_fetch_add_explicit(&s->accept_next, 1, memory_order_relaxed) % s->n;
    if (it) it->fd = fd;
    if (!it || !post(&s->boxes[owner], it)) {
        if (it) item_drop(s, it);
        else {
            close(fd);
            atomic_fetch_sub_explicit(&s->open, 1, memory_order_relaxed);
        }
        METRIC_INC(&w0->m, stream_refused);
    }
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
    listener_t *ls = arg;
    (void)fd, (void)what;
    evconnlistener_enable(ls->l);
}

/* An accept error (out of descriptors: EMFILE, ENFILE): the socket stays
 * readable, so accepting pauses a little instead of spinning. */
static void on_accept_error(struct evconnlistener *l, void *arg)
{
    listener_t *ls = arg;
    static const struct timeval pause = { 0, 100 * 1000 };
    int e = EVUTIL_SOCKET_ERROR();
    LIMIT_WARN(&ls->s->boxes[0], W_ACCEPT, "cannot accept a connection: pausing 100 ms", "listen=%s error=\"%s\"",
               ls->s->o->listen[ls->sock].text, strerror(e));
    evconnlistener_disable(l);
    evtimer_add(ls->resume, &pause);
}

/* ------------------------------------------------------------------------
 * Set-up
 * ---------------------------------------------------------------------- */

static SSL_CTX *tls_ctx_new(const opts_t *o, char *err, size_t errlen)
{
    char why[200];
    const char *what = "cannot make a TLS context";
    SSL_CTX *ctx;

    ERR_clear_error();
    if (!(ctx = SSL_CTX_new(TLS_server_method()))) goto fail;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER); /* evbuffer chains move */
    /* sessions resume (a trunk reconnecting), also with client
     * certificates, which OpenSSL refuses without a session id context */
    static const unsigned char sid_ctx[] = "frontdesk";
    SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
    what = "--tls-cert";
    if (SSL_CTX_use_certificate_chain_file(ctx, o->tls_cert) != 1) goto fail;
    what = "--tls-key";
    if (SSL_CTX_use_PrivateKey_file(ctx, o->tls_key, SSL_FILETYPE_PEM) != 1) goto fail;
    if (SSL_CTX_check_private_key(ctx) != 1) goto fail; /* "key values mismatch" */
    if (o->tls_ca) {
        what = "--tls-ca";
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(o->tls_ca);
        if (!names || SSL_CTX_load_verify_locations(ctx, o->tls_ca, NULL) != 1) {
            if (names) sk_X509_NAME_pop_free(names, X509_NAME_free);
            goto fail;
        }
        SSL_CTX_set_client_CA_list(ctx, names);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    }
    return ctx;
fail:
    ERR_error_string_n(ERR_get_error(), why, sizeof(why));
    snprintf(err, errlen, "%s: %s", what, why);
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return NULL;
}

int stream_new(stream_t **out, const opts_t *o, worker_t *workers, unsigned n, char *err, size_t errlen)
{
    stream_t *s = calloc(1, sizeof(*s));
    bool tls = false;

    *out = NULL;
    if (!s || !(s->boxes = calloc(n, sizeof(*s->boxes)))) {
        free(s);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->o = o;
    s->workers = workers;
    s->n = n;
    s->idle = (struct timeval){ o->tcp_idle_s, 0 };
    s->msg = tv_of_ms(o->tcp_msg_ms);
    s->grace = tv_of_ms(o->redis_timeout_ms + 100);
    pthread_mutex_init(&s->tls_mu, NULL);
    for (unsigned i = 0; i < n; i++) {
        box_t *b = &s->boxes[i];
        pthread_mutex_init(&b->mu, NULL);
        b->s = s;
        b->w = &workers[i];
        b->slots = calloc(o->tcp_max_conns, sizeof(*b->slots));
        b->gens = calloc(o->tcp_max_conns, sizeof(*b->gens));
        if (!b->slots || !b->gens) {
            stream_free(s);
            snprintf(err, errlen, "out of memory for %u connections a worker (--tcp-max-conns)", o->tcp_max_conns);
            return -1;
        }
    }
    for (unsigned i = 0; i < o->n_listen; i++) tls |= o->listen[i].proto == OPTS_TLS;
    if (tls && !(s->tls = tls_ctx_new(o, err, errlen))) {
        stream_free(s);
        return -1;
    }
    *out = s;
    return 0;
}

int stream_worker_init(worker_t *w)
{
    box_t *b = &w->stream->boxes[w->id];
    if (!(b->ev = event_new(w->base, -1, 0, on_box, b))) return -ENOMEM;
    pthread_mutex_lock(&b->mu);
    b->live = true;
    pthread_mutex_unlock(&b->mu);
    return 0;
}

int stream_listen(stream_t *s, const int *fds)
{
    struct event_base *base = s->workers[0].base;
    for (unsigned i = 0; i < s->o->n_listen; i++) {
        listener_t *ls = &s->ls[i];
        if (s->o->listen[i].proto == OPTS_UDP) continue;
        ls->s = s;
        ls->sock = i;
        ls->resume = evtimer_new(base, on_resume, ls);
        /* backlog 0: the socket listens already (net_open_tcp) */
        ls->l = evconnlistener_new(base, on_accept, ls, LEV_OPT_THREADSAFE, 0, fds[i]);
        if (!ls->resume || !ls->l) return -ENOMEM;
        evconnlistener_set_error_cb(ls->l, on_accept_error);
    }
    return 0;
}

void stream_unlisten(stream_t *s)
{
    if (!s) return;
    for (unsigned i = 0; i < OPTS_MAX_LISTEN; i++) {
        if (s->ls[i].l) evconnlistener_free(s->ls[i].l);
        if (s->ls[i].resume) event_free(s->ls[i].resume);
        s->ls[i].l = NULL;
        s->ls[i].resume = NULL;
    }
}

void stream_worker_end(worker_t *w)
{
    stream_t *s = w->stream;
    box_t *b = &s->boxes[w->id];
    /* worker 0's loop has ended: none of the listeners' callbacks can run
     * now (freeing them while it ran raced with an accept) */
    if (w->id == 0) stream_unlisten(s);
    pthread_mutex_lock(&b->mu);
    b->live = false;
    item_t *it = b->head;
    b->head = b->tail = NULL;
    pthread_mutex_unlock(&b->mu);
    while (it) {
        item_t *next = it->next;
        item_drop(s, it);
        it = next;
    }
    for (unsigned i = 0; b->slots && i < s->o->tcp_max_conns; i++)
        if (b->slots[i]) conn_free(b->slots[i]);
    if (b->ev) event_free(b->ev);
    b->ev = NULL;
}

static bool same_addr(const xport_to_t *a, const xport_to_t *b)
{
    if (a->addr.ss_family != b->addr.ss_family || a->sock != b->sock) return false;
    if (a->addr.ss_family == AF_INET)
        return ((const struct sockaddr_in *)&a->addr)->sin_port == ((const struct sockaddr_in *)&b->addr)->sin_port &&
               same_host(&a->addr, &b->addr, b->addr_len);
    return ((const struct sockaddr_in6 *)&a->addr)->sin6_port == ((const struct sockaddr_in6 *)&b->addr)->sin6_port &&
           same_host(&a->addr, &b->addr, b->addr_len);
}

/* A request forward mode sends over TCP to <to>'s address: on this
 * worker's connection to it, opened first when there is none (what is
 * written meanwhile waits in the bufferevent). Its responses come back on
 * it and are relayed as any. */
static void send_outbound(worker_t *w, const xport_to_t *to, const char *buf, size_t len)
{
    stream_t *s = w->stream;
    box_t *b = &s->boxes[w->id];
    conn_t *c = NULL;
    for (unsigned i = 0; i < b->n_outs && !c; i++)
        if (!b->outs[i]->closing && same_addr(&b->outs[i]->from, to)) c = b->outs[i];
    if (!c) {
        unsigned slot = b->free_hint, max = s->o->tcp_max_conns;
        while (slot < max && b->slots[slot]) slot++;
        if (b->n_outs == STREAM_OUTS_MAX || slot >= max ||
            atomic_fetch_add_explicit(&s->open, 1, memory_order_relaxed) >= max) {
            if (b->n_outs < STREAM_OUTS_MAX && slot < max) atomic_fetch_sub_explicit(&s->open, 1, memory_order_relaxed);
            METRIC_INC(&w->m, tx_errors);
            return;
        }
        int one = 1, fd = socket(to->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd >= 0) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (fd < 0 || !(c = calloc(1, sizeof(*c))) ||
            !(c->bev = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE))) {
            if (fd >= 0) close(fd);
            free(c);
            atomic_fetch_sub_explicit(&s->open, 1, memory_order_relaxed);
            METRIC_INC(&w->m, tx_errors);
            return;
        }
        xport_to_t from = { .kind = XPORT_TCP, .sock = to->sock, .addr_len = to->addr_len };
        memcpy(&from.addr, &to->addr, to->addr_len);
        c->outbound = c->handshaking = true;
        if (conn_setup(b, c, slot, &from) < 0) {
            free(c);
            atomic_fetch_sub_explicit(&s->open, 1, memory_order_relaxed);
            METRIC_INC(&w->m, tx_errors);
            return;
        }
        b->outs[b->n_outs++] = c;
        METRIC_INC(&w->m, stream_accepted);
        if (bufferevent_socket_connect(c->bev, (const struct sockaddr *)&to->addr, (int)to->addr_len) < 0) {
            int e = EVUTIL_SOCKET_ERROR();
            connect_failed(c, e ? strerror(e) : "error");
            conn_close_soon(c);
            return;
        }
    }
    conn_write(c, buf, len);
}

void stream_send(worker_t *w, const xport_to_t *to, const char *buf, size_t len)
{
    stream_t *s = w->stream;
    if (s && !to->conn && to->kind == XPORT_TCP) {
        send_outbound(w, to, buf, len);
        return;
    }
    unsigned owner = CONN_OWNER(to->conn);
    if (!s || owner >= s->n) {
        METRIC_INC(&w->m, stream_lost_answers);
        return;
    }
    if (owner == w->id) {
        write_local(&s->boxes[owner], to, buf, len);
        return;
    }
    item_t *it = item_new(ITEM_ANS, to, buf, len);
    if (!it || !post(&s->boxes[owner], it)) {
        free(it);
        METRIC_INC(&w->m, stream_lost_answers);
    }
}

int stream_reload_tls(stream_t *s, char *err, size_t errlen)
{
    if (!s || !s->tls) return 0;
    SSL_CTX *fresh = tls_ctx_new(s->o, err, errlen);
    if (!fresh) return -1;
    pthread_mutex_lock(&s->tls_mu);
    SSL_CTX *old = s->tls;
    s->tls = fresh;
    pthread_mutex_unlock(&s->tls_mu);
    SSL_CTX_free(old); /* the connections' sessions hold their own reference */
    return 0;
}

void stream_free(stream_t *s)
{
    if (!s) return;
    stream_unlisten(s);
    for (unsigned i = 0; s->boxes && i < s->n; i++) {
        box_t *b = &s->boxes[i];
        for (item_t *it = b->head, *next; it; it = next) {
            next = it->next;
            item_drop(s, it);
        }
        free(b->slots);
        free(b->gens);
        pthread_mutex_destroy(&b->mu);
    }
    free(s->boxes);
    SSL_CTX_free(s->tls);
    pthread_mutex_destroy(&s->tls_mu);
    free(s);
}
