/* dns.c -- the per-worker resolver cache: A records over evdns, SRV
 * records over c-ares (evdns has no SRV queries), both on the worker's
 * event_base; see dns.h. */
#include "dns.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <ares.h>
#include <arpa/nameser.h>
#include <event2/dns.h>
#include <event2/event.h>

#include "log.h"

typedef struct waiter {
    dns_cb *cb;
    void *arg;
    struct waiter *next;
} waiter_t;

typedef enum { E_EMPTY = 0, E_PENDING, E_OK, E_FAILED } state_t;

typedef struct {
    dns_t *d;
    state_t state;
    bool srv;            /* an SRV entry ("_sip._udp.<host>"), else A */
    char name[256];
    struct in_addr addr; /* A */
    char target[256];    /* SRV: the chosen target ("" : no SRV record) */
    unsigned port;       /* SRV: its port */
    time_t expires;      /* CLOCK_MONOTONIC seconds */
    waiter_t *waiters;
} entry_t;

#define DNS_ARES_FDS 8

struct dns {
    struct evdns_base *base;
    ares_channel ares;
    bool have_ares;
    bool in_lookup;           /* inside ares_query(): see on_srv() */
    struct event_base *ev_base;
    struct event *ares_timer;
    struct {
        ares_socket_t fd;
        struct event *ev;
    } afd[DNS_ARES_FDS];
    bool closing;
    entry_t e[DNS_CACHE];
};

static time_t now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec;
}

static unsigned slot_of(const char *name)
{
    unsigned h = 2166136261u; /* FNV-1a over the lower-cased name */
    for (const char *p = name; *p; p++) {
        char c = *p >= 'A' && *p <= 'Z' ? (char)(*p + 32) : *p;
        h = (h ^ (unsigned char)c) * 16777619u;
    }
    return h % DNS_CACHE;
}

/* The entry of <name>, or the slot to put it in (NULL: the table is full
 * of queries in flight). Open addressing; an expired entry is reused. */
static entry_t *find(dns_t *d, const char *name, bool srv, time_t now)
{
    unsigned s = slot_of(name);
    entry_t *reuse = NULL;
    for (unsigned i = 0; i < DNS_CACHE; i++) {
        entry_t *e = &d->e[(s + i) % DNS_CACHE];
        if (e->state == E_EMPTY) return reuse ? reuse : e;
        if (e->srv == srv && strcasecmp(e->name, name) == 0) return e;
        if (!reuse && e->state != E_PENDING && e->expires <= now) reuse = e;
    }
    return reuse;
}

static void wake(entry_t *e)
{
    waiter_t *w = e->waiters;
    e->waiters = NULL;
    while (w) {
        waiter_t *next = w->next;
        w->cb(w->arg);
        free(w);
        w = next;
    }
}

static void on_answer(int result, char type, int count, int ttl, void *addrs, void *arg)
{
    entry_t *e = arg;
    time_t now = now_s();
    if (result == DNS_ERR_NONE && type == DNS_IPv4_A && count > 0) {
        e->state = E_OK;
        memcpy(&e->addr, addrs, sizeof(e->addr)); /* the first address */
        e->expires = now + (ttl < 1 ? 1 : ttl > 3600 ? 3600 : ttl);
    } else {
        e->state = E_FAILED;
        e->expires = now + DNS_NEGATIVE_S;
        if (!e->d->closing)
            LOG_WARN("destination name does not resolve", "host=\"%s\" err=\"%s\"", e->name,
                     evdns_err_to_string(result));
    }
    wake(e);
}

/* <cb>(<arg>) waits for <e>'s answer (NULL: nobody waits); in order, the
 * first to ask is the first told. <known>: <e> is already this name's (a
 * reused slot's old waiters are none: only a pending entry has any). */
static int add_waiter(entry_t *e, bool known, dns_cb *cb, void *arg)
{
    if (!known) e->waiters = NULL;
    if (!cb) return 0;
    waiter_t *w = malloc(sizeof(*w)), **p = &e->waiters;
    if (!w) return -ENOMEM;
    *w = (waiter_t){ cb, arg, NULL };
    while (*p) p = &(*p)->next;
    *p = w;
    return 0;
}

int dns_lookup(dns_t *d, const char *host, struct in_addr *out, dns_cb *cb, void *arg)
{
    time_t now = now_s();
    if (d->closing || strlen(host) >= sizeof(d->e[0].name)) return -ENOENT;
    entry_t *e = find(d, host, false, now);
    if (!e) return -ENOMEM;
    bool known = e->state != E_EMPTY && !e->srv && strcasecmp(e->name, host) == 0;
    if (known && e->state == E_OK && e->expires > now) {
        *out = e->addr;
        return 0;
    }
    if (known && e->state == E_FAILED && e->expires > now) return -ENOENT;

    if (add_waiter(e, known, cb, arg) < 0) return -ENOMEM;
    if (known && e->state == E_PENDING) return -EAGAIN;

    snprintf(e->name, sizeof(e->name), "%s", host);
    e->d = d;
    e->srv = false;
    e->state = E_PENDING;
    if (!evdns_base_resolve_ipv4(d->base, host, DNS_QUERY_NO_SEARCH, on_answer, e)) {
        e->state = E_FAILED; /* could not even send: failed for now */
        e->expires = now + DNS_NEGATIVE_S;
        while (e->waiters) { /* nobody is called back from inside a lookup */
            waiter_t *next = e->waiters->next;
            free(e->waiters);
            e->waiters = next;
        }
        return -ENOENT;
    }
    return -EAGAIN;
}

/* ---- SRV over c-ares, driven by the worker's event_base ---- */

static void ares_arm_timer(dns_t *d)
{
    struct timeval tv, *t = ares_timeout(d->ares, NULL, &tv);
    if (t) event_add(d->ares_timer, t);
    else event_del(d->ares_timer);
}

static void on_ares_fd(evutil_socket_t fd, short what, void *arg)
{
    dns_t *d = arg;
    ares_process_fd(d->ares, (what & EV_READ) ? fd : ARES_SOCKET_BAD,
                    (what & EV_WRITE) ? fd : ARES_SOCKET_BAD);
    ares_arm_timer(d);
}

static void on_ares_timer(evutil_socket_t fd, short what, void *arg)
{
    dns_t *d = arg;
    (void)fd, (void)what;
    ares_process_fd(d->ares, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    ares_arm_timer(d);
}

/* c-ares opens, uses and closes its sockets: follow them with events. */
static void on_ares_socket(void *data, ares_socket_t fd, int readable, int writable)
{
    dns_t *d = data;
    int slot = -1, free_slot = -1;
    for (int i = 0; i < DNS_ARES_FDS; i++) {
        if (d->afd[i].ev && d->afd[i].fd == fd) slot = i;
        else if (!d->afd[i].ev && free_slot < 0) free_slot = i;
    }
    if (slot >= 0) {
        event_free(d->afd[slot].ev);
        d->afd[slot].ev = NULL;
    } else {
        slot = free_slot;
    }
    if ((!readable && !writable) || slot < 0) return;
    short what = (short)(EV_PERSIST | (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0));
    d->afd[slot].fd = fd;
    d->afd[slot].ev = event_new(d->ev_base, fd, what, on_ares_fd, d);
    if (d->afd[slot].ev) event_add(d->afd[slot].ev, NULL);
}

static int ares_open(dns_t *d, const char *servers)
{
    struct ares_options o = { 0 };
    o.sock_state_cb = on_ares_socket;
    o.sock_state_cb_data = d;
    o.timeout = DNS_TIMEOUT_MS;
    o.tries = 2;
    if (ares_init_options(&d->ares, &o, ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES) != ARES_SUCCESS)
        return -EIO;
    if ((servers && ares_set_servers_ports_csv(d->ares, servers) != ARES_SUCCESS) ||
        !(d->ares_timer = event_new(d->ev_base, -1, 0, on_ares_timer, d))) {
        ares_destroy(d->ares);
        return -EIO;
    }
    d->have_ares = true;
    return 0;
}

/* The smallest TTL of the answer records in <abuf> (RFC 1035 4.1), or -1. */
static int answer_ttl(const unsigned char *abuf, int alen)
{
    const unsigned char *p = abuf + 12, *e = abuf + alen;
    int ttl = -1;
    if (alen < 12) return -1;
    unsigned qd = (unsigned)(abuf[4] << 8 | abuf[5]), an = (unsigned)(abuf[6] << 8 | abuf[7]);
    for (unsigned i = 0; i < qd + an; i++) {
        while (p < e && *p && (*p & 0xc0) != 0xc0) p += *p + 1; /* labels */
        p += (p < e && *p) ? 2 : 1;                             /* pointer or root */
        if (i < qd) {
            p += 4;
            continue;
        }
        if (p + 10 > e) return ttl;
        int t = (int)((uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7]);
        if (t >= 0 && (ttl < 0 || t < ttl)) ttl = t;
        p += 10 + (p[8] << 8 | p[9]);
    }
    return ttl;
}

/* RFC 2782: the lowest priority, and among those a weighted random pick. */
static const struct ares_srv_reply *choose_srv(const struct ares_srv_reply *l)
{
    const struct ares_srv_reply *best = NULL;
    unsigned total = 0;
    for (const struct ares_srv_reply *r = l; r; r = r->next)
        if (!best || r->priority < best->priority) best = r;
    if (!best) return NULL;
    for (const struct ares_srv_reply *r = l; r; r = r->next)
        if (r->priority == best->priority) total += r->weight;
    if (total == 0) return best;
    unsigned pick = (unsigned)rand() % total + 1; /* spread, not security */
    for (const struct ares_srv_reply *r = l; r; r = r->next) {
        if (r->priority != best->priority) continue;
        if (pick <= r->weight) return r;
        pick -= r->weight;
    }
    return best;
}

static void deferred_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    wake(arg);
}

static void on_srv(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    entry_t *e = arg;
    struct ares_srv_reply *srv = NULL;
    time_t now = now_s();
    (void)timeouts;
    e->state = E_OK;
    e->target[0] = '\0';
    e->expires = now + DNS_NEGATIVE_S;
    if (status == ARES_SUCCESS && ares_parse_srv_reply(abuf, alen, &srv) == ARES_SUCCESS) {
        const struct ares_srv_reply *r = choose_srv(srv);
        int ttl = answer_ttl(abuf, alen);
        if (r && r->host && (!r->host[0] || strcmp(r->host, ".") == 0)) {
            snprintf(e->target, sizeof(e->target), "."); /* the service is not offered */
            e->expires = now + (ttl < 1 ? 1 : ttl > 3600 ? 3600 : ttl);
        } else if (r && r->host && strlen(r->host) < sizeof(e->target) && r->port) {
            snprintf(e->target, sizeof(e->target), "%s", r->host);
            e->port = r->port;
            e->expires = now + (ttl < 1 ? 1 : ttl > 3600 ? 3600 : ttl);
        }
        ares_free_data(srv);
    } else if (status != ARES_ENOTFOUND && status != ARES_ENODATA && !e->d->closing) {
        /* no answer at all (timeout, refused): the A record is tried */
        LOG_WARN("SRV lookup failed: using the name's A record", "name=\"%s\" err=\"%s\"", e->name,
                 ares_strerror(status));
    }
    /* c-ares may answer inside ares_query() (a name it refuses, no
     * server...): the waiters are then told from the loop, never inside
     * a lookup (dns.h) */
    if (e->d->in_lookup && !e->d->closing) {
        static const struct timeval now0 = { 0, 0 };
        if (event_base_once(e->d->ev_base, -1, EV_TIMEOUT, deferred_wake, e, &now0) == 0) return;
    }
    wake(e);
}

int dns_lookup_sip(dns_t *d, const char *host, unsigned port, struct in_addr *out,
                   unsigned *out_port, dns_cb *cb, void *arg)
{
    char name[256];
    time_t now = now_s();

    *out_port = port ? port : 5060;
    if (port || !d->have_ares || d->closing) return dns_lookup(d, host, out, cb, arg);
    if (snprintf(name, sizeof(name), "_sip._udp.%s", host) >= (int)sizeof(name)) return -ENOENT;
    entry_t *e = find(d, name, true, now);
    if (!e) return -ENOMEM;
    bool known = e->state != E_EMPTY && e->srv && strcasecmp(e->name, name) == 0;
    if (known && e->state == E_OK && e->expires > now) {
        if (strcmp(e->target, ".") == 0) return -ENOENT; /* RFC 2782: no such service */
        if (!e->target[0]) return dns_lookup(d, host, out, cb, arg); /* no SRV: A, 5060 */
        *out_port = e->port;
        return dns_lookup(d, e->target, out, cb, arg);
    }
    if (add_waiter(e, known, cb, arg) < 0) return -ENOMEM;
    if (known && e->state == E_PENDING) return -EAGAIN;
    snprintf(e->name, sizeof(e->name), "%s", name);
    e->d = d;
    e->srv = true;
    e->state = E_PENDING;
    d->in_lookup = true;
    ares_query(d->ares, name, ns_c_in, ns_t_srv, on_srv, e);
    d->in_lookup = false;
    ares_arm_timer(d);
    return -EAGAIN;
}

int dns_open(dns_t **out, struct event_base *base, const char *servers)
{
    dns_t *d = calloc(1, sizeof(*d));
    char buf[256], tmo[16];
    if (!d) return -ENOMEM;
    bool own = servers && *servers;
    d->base = evdns_base_new(base, own ? 0 : EVDNS_BASE_INITIALIZE_NAMESERVERS);
    if (!d->base) {
        free(d);
        return -EIO;
    }
    if (own) {
        snprintf(buf, sizeof(buf), "%s", servers);
        for (char *save = NULL, *s = strtok_r(buf, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
            if (evdns_base_nameserver_ip_add(d->base, s) != 0) {
                evdns_base_free(d->base, 0);
                free(d);
                return -EINVAL;
            }
        }
    }
    snprintf(tmo, sizeof(tmo), "%.1f", DNS_TIMEOUT_MS / 1000.0);
    evdns_base_set_option(d->base, "timeout", tmo);
    evdns_base_set_option(d->base, "attempts", "2");
    d->ev_base = base;
    if (ares_open(d, own ? servers : NULL) < 0)
        LOG_WARN("no SRV lookups: destinations given by a name without a port use its A record",
                 "%s", "resolver=c-ares");
    *out = d;
    return 0;
}

void dns_close(dns_t *d)
{
    if (!d) return;
    d->closing = true;
    /* in-flight queries are dropped; their waiters are told below */
    evdns_base_free(d->base, 1);
    if (d->have_ares) ares_destroy(d->ares); /* in-flight: ARES_EDESTRUCTION */
    for (unsigned i = 0; i < DNS_ARES_FDS; i++)
        if (d->afd[i].ev) event_free(d->afd[i].ev);
    if (d->ares_timer) event_free(d->ares_timer);
    for (unsigned i = 0; i < DNS_CACHE; i++)
        if (d->e[i].waiters) wake(&d->e[i]);
    free(d);
}
