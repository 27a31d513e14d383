/* metrics.h -- per-worker counters, summed by the main thread.
 *
 * Each worker increments only its own counters; the main thread (admin
 * /metrics, the totals at exit) reads them while workers run, so they are
 * atomics, incremented with relaxed order: no cache line is shared between
 * workers, and an increment costs a few cycles. Add a counter to
 * METRICS_FIELDS, and it is summed, printed and exported everywhere.
 */
#ifndef FRONTDESK_METRICS_H
#define FRONTDESK_METRICS_H

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#define METRICS_FIELDS(X)                                                         \
    X(rx_datagrams, "datagrams received")                                         \
    X(tx_datagrams, "answers sent")                                               \
    X(tx_errors, "answers that could not be sent")                                \
    X(dropped, "datagrams dropped: unparsable and unroutable")                    \
    X(bad_requests, "requests answered 400 or 513")                               \
    X(invites, "INVITEs")                                                         \
    X(answered_staff, "INVITEs redirected to staff")                              \
    X(answered_fallback, "INVITEs redirected to the fallback")                    \
    X(answered_direct, "INVITEs answered from the rules alone")                   \
    X(redis_timeouts, "picks past the deadline: fallback")                        \
    X(redis_unavailable, "picks with Redis down or busy: fallback")               \
    X(redis_errors, "picks with an error reply: fallback")                        \
    X(retransmissions, "INVITEs answered from a recorded decision")               \
    X(source_limited, "requests past their source's rate: dropped or 503")        \
    X(site_capped, "INVITEs past their site's pick cap: not picked")               \
    X(untrusted_source, "requests from a source no trusted list holds: refused")  \
    X(untrusted_site, "requests to a site that does not trust their source: refused") \
    X(acks_absorbed, "ACKs to our answers")                                       \
    X(acks_other, "ACKs not matching our answers")                                \
    X(too_many_hops, "requests answered 483")                                     \
    X(other_methods, "requests answered 200/405/501")                            \
    X(forwarded, "requests forwarded (forward mode)")                             \
    X(forward_failovers, "requests sent past a destination that is down")        \
    X(forward_unreachable, "requests with every destination down: 503")          \
    X(responses_relayed, "responses relayed back along the Via path")            \
    X(responses_not_ours, "responses whose top Via is not ours: dropped")        \
    X(loops, "requests answered 482: they came back to us")                       \
    X(icmp_errors, "ICMP errors for forwarded requests")                          \
    X(followups_memo, "CANCELs and ACKs sent where their INVITE went, Redis not asked") \
    X(forwarded_tcp, "requests forwarded over TCP: the destination's transport, or too large for UDP") \
    X(stream_connect_failed, "TCP connections to a destination that failed: it is marked down") \
    X(stream_messages, "messages read from TCP and TLS connections")              \
    X(stream_accepted, "TCP and TLS connections accepted")                        \
    X(stream_refused, "connections closed at accept: too many open, or a stranger's") \
    X(stream_closed, "TCP and TLS connections closed, for any reason")            \
    X(stream_idle, "connections closed after --tcp-idle-timeout of silence")      \
    X(stream_slow, "connections closed: a message or TLS handshake slower than --tcp-message-timeout") \
    X(stream_too_big, "connections closed: a message past --tcp-max-message (513)") \
    X(stream_bad_framing, "connections closed: no or a bad Content-Length (400)") \
    X(stream_stalled, "connections closed: the peer read none of 1 MB of answers") \
    X(stream_lost_answers, "answers for a connection closed meanwhile: dropped")  \
    X(tls_failed, "TLS handshakes that failed")                                   \
    X(history_dropped, "call history records dropped: the queue was full while Redis was away")

typedef struct {
#define METRICS_DECL(name, help) _Atomic uint64_t name;
    METRICS_FIELDS(METRICS_DECL)
#undef METRICS_DECL
} metrics_t;

/* Plain copies, for reading. */
typedef struct {
#define METRICS_DECL(name, help) uint64_t name;
    METRICS_FIELDS(METRICS_DECL)
#undef METRICS_DECL
} metrics_sum_t;

/* ---- per site: outcomes, and two latency histograms -------------------
 *
 * Sites come from the rules, never from traffic: main.c registers every
 * site and pool id of each snapshot it loads (metrics_site_add, the main
 * thread only; a slot keeps its name for the life of the process, so a
 * reload never relabels a counter), and a worker finds a site's slot with
 * metrics_site_slot (lock-free: a slot's name is published once). At most
 * METRICS_SITES_MAX sites; past it a site is counted in no slot. */
#define METRICS_SITES_MAX 1024 /* a power of two: the table's size */

typedef enum {
    SO_STAFF = 0,       /* reached staff */
    SO_NOBODY_FREE,     /* the fallback: nobody with the skill was free */
    SO_REDIS_LATE,      /* the fallback: Redis answered past the deadline */
    SO_REDIS_DOWN,      /* the fallback: Redis down or busy */
    SO_REDIS_ERROR,     /* the fallback: Redis answered an error */
    SO_SITE_CAPPED,     /* the fallback: the site's pick cap */
    SO_RULES,           /* answered from the rules alone: a fixed destination,
                           after hours, closed, a holiday */
    SO_REJECT,          /* refused by the rules (403, 404, 480...) */
    SO_N
} site_outcome_t;

static const char *const metrics_outcome_names[SO_N] = {
    "staff", "fallback-nobody-free", "fallback-redis-late", "fallback-redis-down",
    "fallback-redis-error", "fallback-site-capped", "rules", "reject",
};

typedef struct {
    _Atomic(const char *) name[METRICS_SITES_MAX];
} metrics_sites_t;

/* Latency histograms: cumulative buckets, upper bounds in microseconds */
#define METRICS_LAT_BUCKETS 12
static const unsigned metrics_lat_bounds_us[METRICS_LAT_BUCKETS] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
};

typedef struct {
    _Atomic uint64_t bucket[METRICS_LAT_BUCKETS + 1]; /* the last: +Inf */
    _Atomic uint64_t sum_us, count;
} metrics_hist_t;

typedef struct {
    _Atomic uint64_t outcome[METRICS_SITES_MAX][SO_N];
    metrics_hist_t decision; /* INVITE in -> answer (or request) out */
    metrics_hist_t pick;     /* the Redis pick: asked -> answered */
} metrics_sitestats_t;

static inline unsigned metrics_site_hash(const char *s)
{
    unsigned h = 2166136261u; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h & (METRICS_SITES_MAX - 1);
}

/* The slot of site <s>, or -1 (not registered). */
static inline int metrics_site_slot(metrics_sites_t *t, const char *s)
{
    if (!t || !s) return -1;
    unsigned h = metrics_site_hash(s);
    for (unsigned k = 0; k < METRICS_SITES_MAX; k++) {
        const char *n = atomic_load_explicit(&t->name[(h + k) & (METRICS_SITES_MAX - 1)], memory_order_acquire);
        if (!n) return -1;
        if (strcmp(n, s) == 0) return (int)((h + k) & (METRICS_SITES_MAX - 1));
    }
    return -1;
}

static inline void metrics_hist_add(metrics_hist_t *h, uint64_t us)
{
    unsigned b = 0;
    while (b < METRICS_LAT_BUCKETS && us > metrics_lat_bounds_us[b]) b++;
    atomic_fetch_add_explicit(&h->bucket[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, us, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
}

/* Register site <s> (main thread): 0, or -1 when the table is full. */
int metrics_site_add(metrics_sites_t *t, const char *s);

#define METRIC_INC(m, name) atomic_fetch_add_explicit(&(m)->name, 1, memory_order_relaxed)
#define METRIC_ADD(m, name, v) atomic_fetch_add_explicit(&(m)->name, (v), memory_order_relaxed)

static inline void metrics_add(metrics_sum_t *sum, const metrics_t *m)
{
#define METRICS_SUM(name, help) sum->name += atomic_load_explicit(&m->name, memory_order_relaxed);
    METRICS_FIELDS(METRICS_SUM)
#undef METRICS_SUM
}

#endif
