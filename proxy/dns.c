/* dns.c -- the per-worker resolver cache over evdns; see dns.h. */
#include "dns.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

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
    char name[256];
    struct in_addr addr;
    time_t expires;      /* CLOCK_MONOTONIC seconds */
    waiter_t *waiters;
} entry_t;

struct dns {
    struct evdns_base *base;
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
static entry_t *find(dns_t *d, const char *name, time_t now)
{
    unsigned s = slot_of(name);
    entry_t *reuse = NULL;
    for (unsigned i = 0; i < DNS_CACHE; i++) {
        entry_t *e = &d->e[(s + i) % DNS_CACHE];
        if (e->state == E_EMPTY) return reuse ? reuse : e;
        if (strcasecmp(e->name, name) == 0) return e;
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

int dns_lookup(dns_t *d, const char *host, struct in_addr *out, dns_cb *cb, void *arg)
{
    time_t now = now_s();
    if (d->closing || strlen(host) >= sizeof(d->e[0].name)) return -ENOENT;
    entry_t *e = find(d, host, now);
    if (!e) return -ENOMEM;
    bool known = e->state != E_EMPTY && strcasecmp(e->name, host) == 0;
    if (known && e->state == E_OK && e->expires > now) {
        *out = e->addr;
        return 0;
    }
    if (known && e->state == E_FAILED && e->expires > now) return -ENOENT;

    if (cb) { /* in order: the first to ask is the first told */
        waiter_t *w = malloc(sizeof(*w)), **p = &e->waiters;
        if (!w) return -ENOMEM;
        *w = (waiter_t){ cb, arg, NULL };
        if (!known) e->waiters = NULL; /* a reused slot: its name expired */
        while (*p) p = &(*p)->next;
        *p = w;
    } else if (!known) {
        e->waiters = NULL;
    }
    if (known && e->state == E_PENDING) return -EAGAIN;

    snprintf(e->name, sizeof(e->name), "%s", host);
    e->d = d;
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
    *out = d;
    return 0;
}

void dns_close(dns_t *d)
{
    if (!d) return;
    d->closing = true;
    evdns_base_free(d->base, 1); /* in-flight queries answer DNS_ERR_SHUTDOWN */
    for (unsigned i = 0; i < DNS_CACHE; i++)
        if (d->e[i].waiters) wake(&d->e[i]);
    free(d);
}
