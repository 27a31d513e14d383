/* bench_rules.c -- how long one rules_eval() takes on a 200-site file.
 *
 * Generates, in memory, a clinic network of 10 groups x 20 sites (varied
 * time zones, opening hours with and without lunch, holidays, menus with
 * plain and mapped options, overflow chains to other sites and to pools,
 * about 3 DIDs per site including single-destination and dedicated lines,
 * caller-aware sites and priority lists), loads it as the daemon would
 * (reference time, caller key), then evaluates 1M requests over random
 * DIDs, options and instants of the following year, in batches of 1000
 * timed with clock_gettime(CLOCK_MONOTONIC). Prints the median and p99 of
 * the per-evaluation time over the batches:
 *
 *   - without a caller number (the mixed file below);
 *   - with a caller number, on a file where every other site is
 *     caller-aware (a realistic mix);
 *   - with a caller number, on the same file with every site caller-aware;
 *   - with a caller number, only requests whose plan is caller-aware (the
 *     per-evaluation worst case: each one computes the caller hash, an
 *     HMAC-SHA-256, which rules_eval() computes for no other plan).
 *
 * The files differ only in caller_aware; the requests are the same.
 *
 *   make build/bench_rules && build/bench_rules [evaluations]
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rules.h"

#define GROUPS 10
#define SITES_PER_GROUP 20
#define SITES (GROUPS * SITES_PER_GROUP)
#define BATCH 1000
#define NREQ (1u << 16) /* distinct requests, cycled through */
#define REF ((time_t)1772323200) /* 2026-03-01T00:00Z */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

typedef struct {
    char *buf;
    size_t len, cap;
} sbuf_t;

__attribute__((format(printf, 2, 3)))
static void put(sbuf_t *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < b->cap - b->len)
            break;
        b->cap *= 2;
        if (!(b->buf = realloc(b->buf, b->cap))) {
            perror("realloc");
            exit(1);
        }
    }
    b->len += (size_t)n;
}

static const char *const zones[] = {
    "America/Chicago", "America/Denver", "America/New_York",
    "America/Los_Angeles", "America/Phoenix", "Europe/London",
    "Europe/Paris", "Australia/Sydney", "UTC",
};
static const char *const skills[] = { "scheduling", "billing", "intake",
                                      "records", "nurse" };
static const char *const strategies[] = { "longest_idle", "round_robin",
                                          "most_skilled", "fewest_offers" };

static char dids[SITES * 4][24];
static size_t ndids;

static void gen_hours(sbuf_t *b, unsigned kind)
{
    static const char *const days[] = { "mon", "tue", "wed", "thu", "fri" };

    switch (kind % 4) {
    case 0: /* no hours: always open */
        return;
    case 1: /* weekdays with lunch */
        put(b, "        hours:\n");
        for (int d = 0; d < 5; d++)
            put(b, "          %s: [\"08:00-12:00\", \"13:00-17:30\"]\n",
                days[d]);
        put(b, "        lunch: overflow\n");
        break;
    case 2: /* long days and Saturday morning */
        put(b, "        hours:\n");
        for (int d = 0; d < 5; d++)
            put(b, "          %s: [\"07:00-19:00\"]\n", days[d]);
        put(b, "          sat: [\"09:00-12:00\"]\n");
        put(b, "        after_hours: sip:answering@service.example\n");
        break;
    default: /* split shifts, every day */
        put(b, "        hours:\n");
        for (int d = 0; d < 5; d++)
            put(b, "          %s: [\"06:00-10:00\", \"11:00-15:00\", "
                   "\"16:00-22:00\"]\n", days[d]);
        put(b, "          sat: [\"10:00-14:00\"]\n");
        put(b, "          sun: [\"10:00-14:00\"]\n");
        put(b, "        after_hours: overflow\n");
        break;
    }
    put(b, "        holidays: [\"2026-05-25\", \"2026-07-03\", "
           "\"2026-09-07\", \"2026-11-26\", \"2026-12-25\", "
           "\"2027-01-01\"]\n");
}

enum { AWARE_MIX, AWARE_ALL }; /* which sites are caller-aware */

static char *gen_config(size_t *len, int aware)
{
    sbuf_t b = { malloc(1 << 16), 0, 1 << 16 };

    rng = 0x9e3779b97f4a7c15ULL; /* the same file but for caller_aware */
    ndids = 0;

    put(&b, "version: 1\noption_header: X-Frontdesk-Option\ngroups:\n");
    for (int g = 0; g < GROUPS; g++) {
        put(&b, "  - name: Group %d\n", g);
        put(&b, "    pools: [{id: g%d-float, name: Float}, {id: g%d-night}]\n",
            g, g);
        put(&b, "    priority_callers:\n");
        for (int i = 0; i < 20; i++)
            put(&b, "      - \"+1 800 %03d %04d\"\n", g, i);
        put(&b, "    sites:\n");
        for (int i = 0; i < SITES_PER_GROUP; i++) {
            int s = g * SITES_PER_GROUP + i;
            unsigned nmenu = 3 + rnd(3), nover = 1 + rnd(4);

            put(&b, "      - id: s%03d\n", s);
            put(&b, "        timezone: %s\n",
                zones[rnd(sizeof(zones) / sizeof(zones[0]))]);
            put(&b, "        dids:\n");
            for (int d = 0; d < 3; d++) {
                snprintf(dids[ndids], sizeof(dids[0]), "1512%03d%04d", s,
                         d);
                if (d == 2 && s % 5 == 0)
                    put(&b, "          - {number: \"%s\", to: "
                           "\"sip:dr%d@pbx.example\"}\n", dids[ndids], s);
                else if (d == 2 && s % 5 == 1)
                    put(&b, "          - {number: \"%s\", skill: nurse}\n",
                        dids[ndids]);
                else
                    put(&b, "          - \"%s\"\n", dids[ndids]);
                ndids++;
            }
            gen_hours(&b, (unsigned)rnd(4));
            put(&b, "        strategy: %s\n", strategies[rnd(4)]);
            put(&b, "        default_skill: %s\n", skills[rnd(3)]);
            put(&b, "        menu:\n");
            for (unsigned m = 1; m <= nmenu; m++) {
                if (m == 2)
                    put(&b, "          \"%u\": {skill: %s, strategy: "
                           "most_skilled, min_level: %u}\n", m,
                        skills[m % 5], 2 + rnd(3));
                else
                    put(&b, "          \"%u\": %s\n", m, skills[m % 5]);
            }
            put(&b, "        max_contacts: %u\n", 1 + rnd(3));
            put(&b, "        overflow:\n");
            for (unsigned k = 0; k + 1 < nover; k++)
                put(&b, "          - site: s%03d\n",
                    g * SITES_PER_GROUP + (i + 1 + (int)k) % SITES_PER_GROUP);
            put(&b, "          - pool: g%d-float\n", g);
            if (rnd(2))
                put(&b, "          - {pool: g%d-night, skill: scheduling}\n",
                    g);
            if (aware == AWARE_ALL || s % 2 == 0)
                put(&b, "        caller_aware: {window: 30d}\n");
            put(&b, "        fallback: sip:vm%d@pbx.example\n", s);
        }
    }
    *len = b.len;
    return b.buf;
}

typedef struct {
    char ruri[24];
    char opt[2];
    char from[16];
    uint8_t ruri_len, opt_len, from_len;
    time_t at;
} req_t;

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static rules_req_t req_of(const req_t *q, bool caller)
{
    rules_req_t rq = {
        { q->ruri, q->ruri_len },
        { NULL, 0 },
        { q->from, caller ? q->from_len : 0 },
        { q->opt, q->opt_len },
        NULL,
    };
    return rq;
}

/* Run <n> evaluations over <reqs> (NREQ of them), with or without the
 * caller number. Fills <ns> (per-evaluation time of each batch) and
 * returns a checksum so the work cannot be optimised away. */
static unsigned run(const rules_t *r, const req_t *reqs, size_t n,
                    bool caller, uint64_t *ns)
{
    unsigned sum = 0;
    size_t k = 0;
    plan_t plan;

    for (size_t b = 0; b < n / BATCH; b++) {
        uint64_t t0 = now_ns();
        for (size_t i = 0; i < BATCH; i++, k++) {
            const req_t *q = &reqs[k & (NREQ - 1)];
            rules_req_t rq = req_of(q, caller);
            rules_eval(r, &rq, q->at, &plan);
            sum += plan.n_chain + (unsigned)plan.caller[0] + plan.priority;
        }
        ns[b] = (now_ns() - t0 + BATCH / 2) / BATCH;
    }
    return sum;
}

/* Share of <reqs> (with the caller number) whose plan is caller-aware, and
 * in *<hashed> the share whose plan carries the caller hash (the same
 * when only caller-aware plans compute it). The caller-aware ones are
 * copied, cycled, into <aware> (NREQ of them) when it is not NULL. */
static double aware_share(const rules_t *r, const req_t *reqs, req_t *aware,
                          double *hashed)
{
    size_t n = 0, h = 0;
    plan_t plan;

    for (size_t i = 0; i < NREQ; i++) {
        rules_req_t rq = req_of(&reqs[i], true);
        rules_eval(r, &rq, reqs[i].at, &plan);
        if (plan.caller_aware && aware)
            aware[n] = reqs[i];
        n += plan.caller_aware;
        h += plan.caller[0] != '\0';
    }
    for (size_t i = n; aware && n && i < NREQ; i++)
        aware[i] = aware[i % n];
    *hashed = (double)h / NREQ;
    return (double)n / NREQ;
}

static void report(const char *what, uint64_t *ns, size_t nb)
{
    qsort(ns, nb, sizeof(*ns), cmp_u64);
    printf("%-40s %zu evals: median %llu ns, p99 %llu ns per evaluation "
           "(batches of %d)\n",
           what, nb * BATCH, (unsigned long long)ns[nb / 2],
           (unsigned long long)ns[nb * 99 / 100], BATCH);
}

static rules_t *load(const char *yaml, size_t len, double *ms)
{
    static const unsigned char key[32] = "bench caller key, 32 bytes long";
    rules_load_opts_t o = { .now = REF, .caller_key = key,
                            .caller_key_len = sizeof(key) };
    rules_report_t rep;
    rules_t *r = NULL;
    uint64_t t0 = now_ns();

    if (rules_load_string_opts(yaml, len, "bench.yaml", &o, &r, &rep) < 0) {
        fprintf(stderr, "bench_rules: %s:%u:%u: %s\n", rep.file, rep.line,
                rep.col, rep.msg);
        exit(1);
    }
    *ms = (double)(now_ns() - t0) / 1e6;
    return r;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 1000000;
    rules_t *mix, *all;
    req_t *reqs = calloc(NREQ, sizeof(*reqs));
    req_t *aware = calloc(NREQ, sizeof(*aware));
    size_t len, len_all, nb;
    uint64_t *ns;
    unsigned sum;
    double ms, ms_all, share_mix, share_all, hashed_mix, hashed_all;
    char *yaml, *yaml_all;

    if (n < 100 * BATCH)
        n = 100 * BATCH; /* at least the warm-up's batches */
    nb = n / BATCH;
    ns = calloc(nb, sizeof(*ns));
    if (!reqs || !aware || !ns)
        return 1;
    yaml_all = gen_config(&len_all, AWARE_ALL);
    yaml = gen_config(&len, AWARE_MIX); /* leaves rng where requests start */
    all = load(yaml_all, len_all, &ms_all);
    mix = load(yaml, len, &ms);

    for (size_t i = 0; i < NREQ; i++) {
        req_t *q = &reqs[i];
        unsigned c = rnd(10);

        q->ruri_len = (uint8_t)snprintf(q->ruri, sizeof(q->ruri), "%s",
                                        dids[rnd((uint32_t)ndids)]);
        if (c < 4) { /* option in the Request-URI */
            q->ruri_len = (uint8_t)(q->ruri_len +
                                    snprintf(q->ruri + q->ruri_len,
                                             sizeof(q->ruri) - q->ruri_len,
                                             "*%u", 1 + rnd(9)));
        } else if (c < 7) { /* option in the header */
            q->opt[0] = (char)('1' + rnd(9));
            q->opt_len = 1;
        }
        if (rnd(50) == 0) /* a referring provider */
            q->from_len = (uint8_t)snprintf(q->from, sizeof(q->from),
                                            "+1800%03u%04u", rnd(GROUPS),
                                            rnd(20));
        else
            q->from_len = (uint8_t)snprintf(q->from, sizeof(q->from),
                                            "+1%010u", rnd(1000000000));
        q->at = REF + (time_t)rnd(365 * 86400);
    }
    share_mix = aware_share(mix, reqs, NULL, &hashed_mix);
    share_all = aware_share(all, reqs, aware, &hashed_all);

    printf("bench_rules: %d sites in %d groups, %zu DIDs, %zu bytes of "
           "YAML; load %.1f ms (all caller-aware: %.1f ms)\n", SITES, GROUPS,
           ndids, len, ms, ms_all);
    printf("with a caller number: %.1f%% of plans caller-aware, %.1f%% "
           "carry the caller hash (half the sites caller-aware); %.1f%%, "
           "%.1f%% (all)\n", 100 * share_mix, 100 * hashed_mix,
           100 * share_all, 100 * hashed_all);
    run(mix, reqs, 100 * BATCH, false, ns); /* warm up */
    sum = run(mix, reqs, n, false, ns);
    report("without caller number:", ns, nb);
    sum += run(mix, reqs, n, true, ns);
    report("with caller, half caller-aware:", ns, nb);
    run(all, reqs, 100 * BATCH, true, ns); /* warm up */
    sum += run(all, reqs, n, true, ns);
    report("with caller, all caller-aware:", ns, nb);
    sum += run(all, aware, n, true, ns);
    report("with caller, caller-aware plans only:", ns, nb);
    printf("(checksum %u)\n", sum);

    rules_unref(mix);
    rules_unref(all);
    free(yaml);
    free(yaml_all);
    free(reqs);
    free(aware);
    free(ns);
    return 0;
}
