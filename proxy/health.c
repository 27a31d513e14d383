/* health.c -- OPTIONS pings and the up/down verdict; see health.h. */
#include "health.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <sodium.h>
#include <event2/event.h>

#include "dns.h"
#include "fwd.h"
#include "log.h"
#include "sip.h"

typedef struct {
    struct sockaddr_storage addr;
    socklen_t len;
    char text[64];        /* "ip:port" or "[v6]:port" */
    _Atomic int down;     /* read by workers */
    _Atomic int learned;  /* a worker marked it down: keep pinging it */
    _Atomic int reset;    /* a worker marked it down since the last answer */
    /* main thread only */
    bool watched;         /* in the rules */
    bool named;           /* the current address of a name in the rules */
    bool outstanding;     /* the last ping is not answered yet */
    unsigned misses, oks;
    uint32_t seq;
    uint64_t pings, answers, downs;
} dest_t;

typedef struct {
    char host[256];
    unsigned port;        /* 0: none in the URI (SRV, else 5060) */
    int idx;              /* the entry of its current address, or -1 */
} name_t;

struct health {
    dest_t d[HEALTH_MAX];
    _Atomic unsigned n_learned; /* entries added by health_mark_down */
    name_t names[HEALTH_MAX]; /* destinations given by name, resolved at
                                 each tick (dns.c caches them by TTL) */
    size_t n_names;
    dns_t *dns;
    _Atomic unsigned n;
    pthread_mutex_t add_lock;
    struct event_base *base;
    struct event *tick, *rx4, *rx6;
    int fd4, fd6;
    health_opts_t o;
    uint32_t nonce;       /* in every ping's Call-ID: answers must echo it */
    char via_host[70];    /* over IPv4; bracketed when IPv6 */
    char via_host6[70];   /* over IPv6 */
    unsigned port4, port6;
};

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr *b, socklen_t len)
{
    if (a->ss_family != b->sa_family) return false;
    if (b->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (b->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
        return x->sin6_port == y->sin6_port &&
               memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
    }
    return false;
}

static int find(const health_t *h, const struct sockaddr *addr, socklen_t len)
{
    unsigned n = atomic_load_explicit(&h->n, memory_order_acquire);
    for (unsigned i = 0; i < n; i++)
        if (same_addr(&h->d[i].addr, addr, len)) return (int)i;
    return -1;
}

static void addr_text(const struct sockaddr *a, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (a->sa_family == AF_INET) {
        const struct sockaddr_in *v4 = (const void *)a;
        inet_ntop(AF_INET, &v4->sin_addr, ip, sizeof(ip));
        snprintf(out, cap, "%s:%u", ip, ntohs(v4->sin_port));
    } else {
        const struct sockaddr_in6 *v6 = (const void *)a;
        inet_ntop(AF_INET6, &v6->sin6_addr, ip, sizeof(ip));
        snprintf(out, cap, "[%s]:%u", ip, ntohs(v6->sin6_port));
    }
}

/* The index of <addr>, added when missing; -1 when the table is full. */
static int find_or_add(health_t *h, const struct sockaddr *addr, socklen_t len)
{
    int i = find(h, addr, len);
    if (i >= 0 || len > sizeof(struct sockaddr_storage)) return i;
    pthread_mutex_lock(&h->add_lock);
    i = find(h, addr, len); /* another thread may have added it */
    unsigned n = atomic_load_explicit(&h->n, memory_order_relaxed);
    if (i < 0 && n < HEALTH_MAX) {
        dest_t *d = &h->d[n];
        memset(&d->addr, 0, sizeof(d->addr));
        memcpy(&d->addr, addr, len);
        d->len = len;
        addr_text(addr, d->text, sizeof(d->text));
        atomic_store_explicit(&h->n, n + 1, memory_order_release);
        i = (int)n;
    }
    pthread_mutex_unlock(&h->add_lock);
    return i;
}

/* Is <d> pinged: in the rules (by address or name), or found unreachable
 * by a worker? */
static bool pinged(const dest_t *d)
{
    return d->watched || d->named || atomic_load(&d->learned);
}

bool health_is_down(const health_t *h, const struct sockaddr *addr, socklen_t len)
{
    if (!h) return false;
    int i = find(h, addr, len);
    return i >= 0 && atomic_load_explicit(&h->d[i].down, memory_order_relaxed);
}

void health_mark_down(health_t *h, const struct sockaddr *addr, socklen_t len)
{
    if (!h) return;
    int i = find(h, addr, len);
    /* addresses learned this way (staff phones) get at most half the
     * table: the rules' destinations always find room */
    if (i < 0 && atomic_load_explicit(&h->n_learned, memory_order_relaxed) >= HEALTH_MAX / 2) return;
    if (i < 0 && (i = find_or_add(h, addr, len)) >= 0) atomic_fetch_add(&h->n_learned, 1);
    if (i < 0) return;
    dest_t *d = &h->d[i];
    atomic_store_explicit(&d->learned, 1, memory_order_relaxed);
    atomic_store_explicit(&d->reset, 1, memory_order_relaxed);
    if (!atomic_exchange_explicit(&d->down, 1, memory_order_relaxed))
        LOG_WARN("destination down", "destination=%s why=unreachable", d->text);
}

void health_watch(health_t *h, const char *const *uris, size_t n)
{
    static name_t old[HEALTH_MAX]; /* main thread only */
    size_t n_old = h->n_names;
    unsigned have = atomic_load_explicit(&h->n, memory_order_acquire);

    memcpy(old, h->names, n_old * sizeof(old[0]));
    for (unsigned i = 0; i < have; i++) h->d[i].watched = false;
    h->n_names = 0;
    for (size_t k = 0; k < n; k++) {
        fwd_target_t t;
        if (fwd_uri_target(uris[k], strlen(uris[k]), &t) < 0) continue;
        if (!t.numeric) {
            if (h->n_names < HEALTH_MAX) {
                name_t *nm = &h->names[h->n_names++];
                snprintf(nm->host, sizeof(nm->host), "%s", t.host);
                nm->port = t.port_given ? t.port : 0;
                nm->idx = -1;
                /* a name still listed keeps its address and its verdict */
                for (size_t j = 0; j < n_old; j++)
                    if (old[j].port == nm->port && strcasecmp(old[j].host, nm->host) == 0) {
                        nm->idx = old[j].idx;
                        old[j].idx = -1;
                        break;
                    }
            }
            continue;
        }
        int i = find_or_add(h, (struct sockaddr *)&t.addr, t.addr_len);
        if (i < 0) {
            LOG_WARN("destination not health-checked: table full", "max=%d", HEALTH_MAX);
            break;
        }
        h->d[i].watched = true;
    }
    /* names no longer listed: their addresses are not pinged for them */
    for (size_t j = 0; j < n_old; j++)
        if (old[j].idx >= 0) h->d[old[j].idx].named = false;
    for (size_t k = 0; k < h->n_names; k++)
        if (h->names[k].idx >= 0) h->d[h->names[k].idx].named = true;
    /* one no longer in the rules counts as up, unless a worker found it
     * unreachable */
    have = atomic_load_explicit(&h->n, memory_order_acquire);
    for (unsigned i = 0; i < have; i++)
        if (!pinged(&h->d[i])) atomic_store(&h->d[i].down, 0);
}

/* The addresses of the names, as the resolver knows them now: a name
 * whose address changed has its new address pinged, its old one no
 * longer (unless listed otherwise). */
static void resolve_names(health_t *h)
{
    for (size_t k = 0; k < h->n_names; k++) {
        name_t *nm = &h->names[k];
        struct in_addr a;
        unsigned port;
        int rc = h->dns ? dns_lookup_sip(h->dns, nm->host, nm->port, &a, &port, NULL, NULL) : -ENOENT;
        if (rc == -EAGAIN) continue; /* being refreshed: keep pinging the address we had */
        int i = -1;
        if (rc == 0) {
            struct sockaddr_in v4 = { .sin_family = AF_INET, .sin_addr = a, .sin_port = htons((uint16_t)port) };
            i = find_or_add(h, (struct sockaddr *)&v4, sizeof(v4));
        }
        if (nm->idx >= 0 && nm->idx != i) h->d[nm->idx].named = false;
        nm->idx = i;
    }
    /* two names may share an address: one that moved away must not stop
     * the pings of the other */
    for (size_t k = 0; k < h->n_names; k++)
        if (h->names[k].idx >= 0) h->d[h->names[k].idx].named = true;
}

/* ---- pings ---- */

static void send_ping(health_t *h, unsigned i)
{
    dest_t *d = &h->d[i];
    int fd = d->addr.ss_family == AF_INET6 ? h->fd6 : h->fd4;
    unsigned port = d->addr.ss_family == AF_INET6 ? h->port6 : h->port4;
    const char *via = d->addr.ss_family == AF_INET6 ? h->via_host6 : h->via_host;
    char msg[1024];
    if (fd < 0) return;
    d->seq++;
    int n = snprintf(msg, sizeof(msg),
                     "OPTIONS sip:%s SIP/2.0\r\n"
                     "Via: SIP/2.0/UDP %s:%u;branch=z9hG4bK-fdhc-%u-%u;rport\r\n"
                     "Max-Forwards: 70\r\n"
                     "From: <sip:frontdesk@%s>;tag=fdhc%u\r\n"
                     "To: <sip:%s>\r\n"
                     "Call-ID: fdhc-%u-%u-%08x@frontdesk\r\n"
                     "CSeq: %u OPTIONS\r\n"
                     "User-Agent: frontdesk health check\r\n"
                     "Content-Length: 0\r\n\r\n",
                     d->text, via, port, i, d->seq, via, i, d->text, i, d->seq,
                     (unsigned)h->nonce, d->seq);
    if (n <= 0 || (size_t)n >= sizeof(msg)) return;
    d->outstanding = true;
    d->pings++;
    /* an error here (ICMP from an earlier ping, no route) is a miss like
     * any other: the next tick counts it */
    (void)sendto(fd, msg, (size_t)n, 0, (struct sockaddr *)&d->addr, d->len);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    health_t *h = arg;
    (void)fd, (void)what;
    resolve_names(h);
    unsigned n = atomic_load_explicit(&h->n, memory_order_acquire);
    for (unsigned i = 0; i < n; i++) {
        dest_t *d = &h->d[i];
        if (!pinged(d)) continue;
        if (d->outstanding) {
            d->oks = 0;
            if (++d->misses >= h->o.down_after && !atomic_exchange(&d->down, 1)) {
                d->downs++;
                LOG_WARN("destination down", "destination=%s why=no-answer missed=%u", d->text, d->misses);
            }
        }
        send_ping(h, i);
    }
}

/* "fdhc-<index>-<seq>-<nonce>" in the Call-ID of a response to a ping,
 * from the address pinged: anything else is not an answer. */
static void on_answer(health_t *h, const char *buf, size_t len, const struct sockaddr *from, socklen_t fromlen)
{
    size_t pos = 0;
    sip_hdr_t hd;
    if (len < 8 || memcmp(buf, "SIP/2.0 ", 8) != 0) return;
    while (sip_next_header(buf, len, &pos, &hd)) {
        if (!sip_hdr_is(&hd, "Call-ID", 'i')) continue;
        char cid[64];
        unsigned i, seq;
        size_t l = hd.value.len < sizeof(cid) - 1 ? hd.value.len : sizeof(cid) - 1;
        memcpy(cid, hd.value.s, l);
        cid[l] = '\0';
        unsigned nonce;
        if (sscanf(cid, "fdhc-%u-%u-%8x@", &i, &seq, &nonce) != 3 || nonce != h->nonce) return;
        if (i >= atomic_load_explicit(&h->n, memory_order_acquire)) return;
        dest_t *d = &h->d[i];
        if (seq != d->seq || !d->outstanding) return; /* late or repeated */
        if (!same_addr(&d->addr, from, fromlen)) return;
        d->outstanding = false;
        d->answers++;
        d->misses = 0;
        if (atomic_exchange(&d->reset, 0)) d->oks = 0;
        d->oks++;
        if (atomic_load(&d->down) && d->oks >= h->o.up_after) {
            atomic_store(&d->down, 0);
            LOG_INFO("destination up", "destination=%s answers=%u", d->text, d->oks);
        }
        return;
    }
}

static void on_rx(evutil_socket_t fd, short what, void *arg)
{
    char buf[4096];
    (void)what;
    for (int k = 0; k < 64; k++) {
        struct sockaddr_storage from;
        socklen_t fromlen = sizeof(from);
        ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fromlen);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            continue; /* an ICMP error reported on the socket: counted as a miss */
        }
        on_answer(arg, buf, (size_t)n, (struct sockaddr *)&from, fromlen);
    }
}

static int open_sock(int family, unsigned *port)
{
    int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    memset(&ss, 0, sizeof(ss));
    ss.ss_family = (sa_family_t)family;
    if (bind(fd, (struct sockaddr *)&ss, family == AF_INET ? sizeof(struct sockaddr_in)
                                                          : sizeof(struct sockaddr_in6)) < 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                    : ((struct sockaddr_in6 *)&ss)->sin6_port);
    return fd;
}

int health_open(health_t **out, struct event_base *base, const health_opts_t *o)
{
    health_t *h = calloc(1, sizeof(*h));
    if (!h) return -ENOMEM;
    h->o = *o;
    h->base = base;
    pthread_mutex_init(&h->add_lock, NULL);
    const char *vh = o->via_host ? o->via_host : "127.0.0.1", *vh6 = o->via_host6 ? o->via_host6 : vh;
    snprintf(h->via_host, sizeof(h->via_host), strchr(vh, ':') ? "[%s]" : "%s", vh);
    snprintf(h->via_host6, sizeof(h->via_host6), strchr(vh6, ':') ? "[%s]" : "%s", vh6);
    h->nonce = randombytes_random();
    h->fd4 = open_sock(AF_INET, &h->port4);
    h->fd6 = open_sock(AF_INET6, &h->port6); /* may fail on a host without IPv6 */
    if (h->fd4 < 0 && h->fd6 < 0) {
        int e = -errno;
        free(h);
        return e ? e : -EIO;
    }
    if (dns_open(&h->dns, base, o->dns_servers) < 0)
        LOG_WARN("health checks: no resolver, destinations given by name are not pinged",
                 "dns_servers=\"%s\"", o->dns_servers ? o->dns_servers : "");
    struct timeval iv = { o->interval_ms / 1000, (o->interval_ms % 1000) * 1000 };
    h->tick = event_new(base, -1, EV_PERSIST, on_tick, h);
    if (h->fd4 >= 0) h->rx4 = event_new(base, h->fd4, EV_READ | EV_PERSIST, on_rx, h);
    if (h->fd6 >= 0) h->rx6 = event_new(base, h->fd6, EV_READ | EV_PERSIST, on_rx, h);
    if (!h->tick || (h->fd4 >= 0 && !h->rx4) || (h->fd6 >= 0 && !h->rx6)) {
        health_close(h);
        return -ENOMEM;
    }
    event_add(h->tick, &iv);
    if (h->rx4) event_add(h->rx4, NULL);
    if (h->rx6) event_add(h->rx6, NULL);
    *out = h;
    return 0;
}

void health_close(health_t *h)
{
    if (!h) return;
    dns_close(h->dns);
    if (h->tick) event_free(h->tick);
    if (h->rx4) event_free(h->rx4);
    if (h->rx6) event_free(h->rx6);
    if (h->fd4 >= 0) close(h->fd4);
    if (h->fd6 >= 0) close(h->fd6);
    pthread_mutex_destroy(&h->add_lock);
    free(h);
}

void health_metrics(const health_t *h, struct evbuffer *b)
{
    if (!h) return;
    unsigned n = atomic_load_explicit(&h->n, memory_order_acquire);
    uint64_t pings = 0, answers = 0, downs = 0;
    evbuffer_add_printf(b, "# HELP frontdesk_destination_up forward destination answering health checks (1) or down (0)\n"
                           "# TYPE frontdesk_destination_up gauge\n");
    for (unsigned i = 0; i < n; i++) {
        const dest_t *d = &h->d[i];
        pings += d->pings, answers += d->answers, downs += d->downs;
        if (!pinged(d)) continue;
        evbuffer_add_printf(b, "frontdesk_destination_up{destination=\"%s\"} %d\n", d->text,
                            !atomic_load(&d->down));
    }
    evbuffer_add_printf(b, "# HELP frontdesk_health_pings_total OPTIONS pings sent\n"
                           "# TYPE frontdesk_health_pings_total counter\nfrontdesk_health_pings_total %llu\n"
                           "# HELP frontdesk_health_answers_total pings answered in time\n"
                           "# TYPE frontdesk_health_answers_total counter\nfrontdesk_health_answers_total %llu\n"
                           "# HELP frontdesk_health_downs_total destinations found down by missed pings\n"
                           "# TYPE frontdesk_health_downs_total counter\nfrontdesk_health_downs_total %llu\n",
                        (unsigned long long)pings, (unsigned long long)answers, (unsigned long long)downs);
}
