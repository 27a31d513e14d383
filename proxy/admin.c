/* admin.c -- /metrics, /healthz, /readyz; see admin.h. */
#include "admin.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "metrics.h"
#include "version.h"

struct admin {
    struct evhttp *http;
    struct evhttp_bound_socket *bound;
    const worker_t *workers;
    unsigned n_workers;
    reload_t *reload;
    const health_t *health;
};

void admin_watch_health(admin_t *a, const health_t *h)
{
    if (a) a->health = h;
}

static unsigned ready_workers(const admin_t *a)
{
    unsigned n = 0;
    for (unsigned i = 0; i < a->n_workers; i++)
        n += atomic_load_explicit(&a->workers[i].redis_ready, memory_order_relaxed) != 0;
    return n;
}

static void reply(struct evhttp_request *req, int code, const char *reason, struct evbuffer *body,
                  const char *type)
{
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", type);
    evhttp_send_reply(req, code, reason, body);
}


int metrics_site_add(metrics_sites_t *t, const char *site)
{
    if (metrics_site_slot(t, site) >= 0) return 0;
    unsigned h = metrics_site_hash(site);
    for (unsigned k = 0; k < METRICS_SITES_MAX; k++) {
        _Atomic(const char *) *n = &t->name[(h + k) & (METRICS_SITES_MAX - 1)];
        if (atomic_load_explicit(n, memory_order_relaxed)) continue;
        char *copy = strdup(site); /* kept for the life of the process */
        if (!copy) return -1;
        atomic_store_explicit(n, copy, memory_order_release);
        return 0;
    }
    return -1;
}

static void hist_export(struct evbuffer *b, const char *name, const char *help, const metrics_hist_t *const *hs,
                        unsigned n)
{
    uint64_t cum = 0, sum = 0, count = 0;
    evbuffer_add_printf(b, "# HELP frontdesk_%s %s\n# TYPE frontdesk_%s histogram\n", name, help, name);
    for (unsigned k = 0; k <= METRICS_LAT_BUCKETS; k++) {
        for (unsigned i = 0; i < n; i++) cum += atomic_load_explicit(&hs[i]->bucket[k], memory_order_relaxed);
        if (k < METRICS_LAT_BUCKETS)
            evbuffer_add_printf(b, "frontdesk_%s_bucket{le=\"%g\"} %llu\n", name, metrics_lat_bounds_us[k] / 1e6,
                                (unsigned long long)cum);
        else
            evbuffer_add_printf(b, "frontdesk_%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
    }
    for (unsigned i = 0; i < n; i++) {
        sum += atomic_load_explicit(&hs[i]->sum_us, memory_order_relaxed);
        count += atomic_load_explicit(&hs[i]->count, memory_order_relaxed);
    }
    evbuffer_add_printf(b, "frontdesk_%s_sum %.6f\nfrontdesk_%s_count %llu\n", name, sum / 1e6, name,
                        (unsigned long long)count);
}

/* Per site and outcome (sites from the rules: a bounded label set), and
 * the decision and pick latency histograms, summed over the workers. */
static void site_metrics(const admin_t *a, struct evbuffer *b)
{
    metrics_sites_t *reg = a->n_workers ? a->workers[0].sites : NULL;
    const metrics_hist_t *dh[256], *ph[256];
    unsigned n = 0;
    for (unsigned i = 0; i < a->n_workers && n < 256; i++)
        if (a->workers[i].site_stats) {
            dh[n] = &a->workers[i].site_stats->decision;
            ph[n++] = &a->workers[i].site_stats->pick;
        }
    if (!reg || !n) return;
    evbuffer_add_printf(b, "# HELP frontdesk_site_calls_total INVITEs answered, by the site called and what they got\n"
                           "# TYPE frontdesk_site_calls_total counter\n");
    for (unsigned s = 0; s < METRICS_SITES_MAX; s++) {
        const char *name = atomic_load_explicit(&reg->name[s], memory_order_acquire);
        if (!name) continue;
        for (unsigned o = 0; o < SO_N; o++) {
            uint64_t v = 0;
            for (unsigned i = 0; i < a->n_workers; i++)
                if (a->workers[i].site_stats)
                    v += atomic_load_explicit(&a->workers[i].site_stats->outcome[s][o], memory_order_relaxed);
            evbuffer_add_printf(b, "frontdesk_site_calls_total{site=\"%s\",outcome=\"%s\"} %llu\n", name,
                                metrics_outcome_names[o], (unsigned long long)v);
        }
    }
    hist_export(b, "decision_seconds", "INVITE in to its answer (or forwarded request) out", dh, n);
    hist_export(b, "redis_pick_seconds", "a Redis pick, asked to answered", ph, n);
}

static void on_metrics(struct evhttp_request *req, void *arg)
{
    admin_t *a = arg;
    metrics_sum_t sum = { 0 };
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        evhttp_send_error(req, 500, NULL);
        return;
    }
    for (unsigned i = 0; i < a->n_workers; i++) metrics_add(&sum, &a->workers[i].m);
#define METRICS_EXPORT(name, help)                                                         \
    evbuffer_add_printf(b, "# HELP frontdesk_" #name "_total " help "\n"                     \
                           "# TYPE frontdesk_" #name "_total counter\n"                      \
                           "frontdesk_" #name "_total %llu\n", (unsigned long long)sum.name);
    METRICS_FIELDS(METRICS_EXPORT)
#undef METRICS_EXPORT
    evbuffer_add_printf(b, "# HELP frontdesk_workers worker threads\n# TYPE frontdesk_workers gauge\n"
                           "frontdesk_workers %u\n", a->n_workers);
    evbuffer_add_printf(b, "# HELP frontdesk_redis_ready_workers workers whose Redis connection is ready\n"
                           "# TYPE frontdesk_redis_ready_workers gauge\nfrontdesk_redis_ready_workers %u\n",
                        ready_workers(a));
    evbuffer_add_printf(b, "# HELP frontdesk_rules_sites sites in the rules in force\n"
                           "# TYPE frontdesk_rules_sites gauge\nfrontdesk_rules_sites %zu\n",
                        a->reload->current ? rules_site_count(a->reload->current) : 0);
    /* each worker counts the connections it adopted and closed; the
     * difference, summed, is the gauge (one worker's own can be negative
     * for a moment: read one after the other) */
    uint64_t open = sum.stream_accepted > sum.stream_closed ? sum.stream_accepted - sum.stream_closed : 0;
    evbuffer_add_printf(b, "# HELP frontdesk_stream_connections TCP and TLS connections open\n"
                           "# TYPE frontdesk_stream_connections gauge\nfrontdesk_stream_connections %llu\n",
                        (unsigned long long)open);
    site_metrics(a, b);
    health_metrics(a->health, b);
    evbuffer_add_printf(b, "# HELP frontdesk_info build\n# TYPE frontdesk_info gauge\n"
                           "frontdesk_info{version=\"" FRONTDESK_VERSION "\"} 1\n");
    reply(req, 200, "OK", b, "text/plain; version=0.0.4");
    evbuffer_free(b);
}

static void on_healthz(struct evhttp_request *req, void *arg)
{
    struct evbuffer *b = evbuffer_new();
    (void)arg;
    if (!b) {
        evhttp_send_error(req, 500, NULL);
        return;
    }
    evbuffer_add_printf(b, "ok\n");
    reply(req, 200, "OK", b, "text/plain");
    evbuffer_free(b);
}

static void on_readyz(struct evhttp_request *req, void *arg)
{
    admin_t *a = arg;
    struct evbuffer *b = evbuffer_new();
    unsigned ready = ready_workers(a);
    if (!b) {
        evhttp_send_error(req, 500, NULL);
        return;
    }
    if (!a->reload->current) {
        evbuffer_add_printf(b, "not ready: no rules loaded\n");
        reply(req, 503, "Service Unavailable", b, "text/plain");
    } else if (ready < a->n_workers) {
        evbuffer_add_printf(b, "not ready: Redis ready on %u of %u workers (calls get fallbacks)\n",
                            ready, a->n_workers);
        reply(req, 503, "Service Unavailable", b, "text/plain");
    } else {
        evbuffer_add_printf(b, "ready\n");
        reply(req, 200, "OK", b, "text/plain");
    }
    evbuffer_free(b);
}

int admin_open(admin_t **out, struct event_base *base, const char *addr,
               const worker_t *workers, unsigned n_workers, reload_t *reload)
{
    char host[64];
    const char *colon = strrchr(addr, ':');
    int rc = -EINVAL;
    admin_t *a = calloc(1, sizeof(*a));

    if (!a) return -ENOMEM;
    a->workers = workers, a->n_workers = n_workers, a->reload = reload;
    if (!colon || (size_t)(colon - addr) >= sizeof(host)) goto fail;
    const char *h = addr;
    size_t hl = (size_t)(colon - addr);
    if (addr[0] == '[' && hl >= 2 && addr[hl - 1] == ']') h++, hl -= 2;
    memcpy(host, h, hl);
    host[hl] = '\0';
    rc = -ENOMEM;
    if (!(a->http = evhttp_new(base))) goto fail;
    evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
    evhttp_set_cb(a->http, "/metrics", on_metrics, a);
    evhttp_set_cb(a->http, "/healthz", on_healthz, a);
    evhttp_set_cb(a->http, "/readyz", on_readyz, a);
    rc = -EADDRINUSE;
    if (!(a->bound = evhttp_bind_socket_with_handle(a->http, host, (ev_uint16_t)atoi(colon + 1)))) goto fail;
    *out = a;
    return 0;
fail:
    admin_close(a);
    return rc;
}

int admin_bound(const admin_t *a, struct sockaddr_storage *addr, socklen_t *len)
{
    *len = sizeof(*addr);
    evutil_socket_t fd = evhttp_bound_socket_get_fd(a->bound);
    return getsockname(fd, (struct sockaddr *)addr, len) < 0 ? -errno : 0;
}

void admin_close(admin_t *a)
{
    if (!a) return;
    if (a->http) evhttp_free(a->http);
    free(a);
}
