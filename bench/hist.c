/* hist.c -- log-linear latency histogram (see hist.h).
 *
 * Bucket layout, with values in microseconds:
 *
 *   index 0 .. 999        one bucket per value: 0..999 us (0 never used)
 *   index 1000 .. 1899    1 ms .. 10 ms   in steps of 10 us
 *   index 1900 .. 2799    10 ms .. 100 ms in steps of 100 us
 *   index 2800 .. 3699    100 ms .. 1 s   in steps of 1 ms
 *   index 3700 .. 4599    1 s .. 10 s     in steps of 10 ms
 *   index 4600            10 s and more
 *
 * So every bucket is at most 1% of its lowest value wide.
 */
#include "hist.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define HIST_EXACT 1000u   /* values below are counted exactly */
#define HIST_STEPS 900u    /* buckets per decade above HIST_EXACT */
#define HIST_DECADES 4u    /* 1 ms .. 10 s */
#define HIST_OVERFLOW (HIST_EXACT + HIST_DECADES * HIST_STEPS)
#define HIST_BUCKETS (HIST_OVERFLOW + 1)

struct hist {
    uint64_t count;
    uint64_t min, max;
    long double sum;
    uint64_t bucket[HIST_BUCKETS];
};

/* ---------------------------------------------------------------------------
 * Bucket arithmetic
 * ------------------------------------------------------------------------ */

/* Index of the bucket counting <us> (already clamped to >= 1). */
static unsigned hist_bucket_of(uint64_t us)
{
    if (us < HIST_EXACT) return (unsigned)us;
    if (us >= HIST_MAX_US) return HIST_OVERFLOW;
    uint64_t lo = HIST_EXACT, width = 10;
    unsigned base = HIST_EXACT;
    while (us >= lo * 10) {
        lo *= 10;
        width *= 10;
        base += HIST_STEPS;
    }
    return base + (unsigned)((us - lo) / width);
}

/* Lowest value counted by bucket <idx>. */
static uint64_t hist_bucket_low(unsigned idx)
{
    if (idx < HIST_EXACT) return idx;
    if (idx >= HIST_OVERFLOW) return HIST_MAX_US;
    unsigned d = (idx - HIST_EXACT) / HIST_STEPS, step = (idx - HIST_EXACT) % HIST_STEPS;
    uint64_t lo = HIST_EXACT, width = 10;
    while (d--) {
        lo *= 10;
        width *= 10;
    }
    return lo + step * width;
}

/* Highest value counted by bucket <idx>; UINT64_MAX for the overflow one. */
static uint64_t hist_bucket_high(unsigned idx)
{
    if (idx >= HIST_OVERFLOW) return UINT64_MAX;
    return hist_bucket_low(idx + 1) - 1;
}

/* ---------------------------------------------------------------------------
 * API
 * ------------------------------------------------------------------------ */

hist_t *hist_new(void)
{
    return calloc(1, sizeof(hist_t));
}

void hist_free(hist_t *h)
{
    free(h);
}

void hist_reset(hist_t *h)
{
    memset(h, 0, sizeof(*h));
}

void hist_record(hist_t *h, uint64_t us)
{
    if (us < HIST_MIN_US) us = HIST_MIN_US;
    h->bucket[hist_bucket_of(us)]++;
    if (h->count == 0 || us < h->min) h->min = us;
    if (us > h->max) h->max = us;
    h->count++;
    h->sum += us;
}

void hist_merge(hist_t *dst, const hist_t *src)
{
    if (src->count == 0) return;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) dst->bucket[i] += src->bucket[i];
    if (dst->count == 0 || src->min < dst->min) dst->min = src->min;
    if (src->max > dst->max) dst->max = src->max;
    dst->count += src->count;
    dst->sum += src->sum;
}

uint64_t hist_count(const hist_t *h)
{
    return h->count;
}

uint64_t hist_min(const hist_t *h)
{
    return h->min;
}

uint64_t hist_max(const hist_t *h)
{
    return h->max;
}

double hist_mean(const hist_t *h)
{
    return h->count ? (double)(h->sum / h->count) : 0.0;
}

uint64_t hist_percentile(const hist_t *h, double p)
{
    if (h->count == 0) return 0;
    if (!(p > 0.0)) return h->min; /* also catches NaN */
    if (p >= 100.0) return h->max;

    /* rank = ceil(p/100 * count), computed so that 99.9% of 1000 is 999
     * and not 1000 through rounding error */
    long double want = (long double)p / 100.0L * h->count;
    uint64_t rank = (uint64_t)want;
    if ((long double)rank < want - 1e-9L) rank++;
    if (rank == 0) rank = 1;

    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->bucket[i];
        if (seen < rank) continue;
        uint64_t v = hist_bucket_high(i);
        if (v > h->max) v = h->max;
        if (v < h->min) v = h->min;
        return v;
    }
    return h->max; /* not reached: the buckets add up to count */
}

int hist_write_dat(const hist_t *h, FILE *f)
{
    fprintf(f, "# fd-bench latency histogram: %" PRIu64 " answers, max %" PRIu64 " us\n",
            h->count, h->max);
    fprintf(f, "# upper_ms count cumulative\n");
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        if (!h->bucket[i]) continue;
        seen += h->bucket[i];
        uint64_t hi = hist_bucket_high(i);
        if (hi > h->max) hi = h->max;
        fprintf(f, "%.3f %" PRIu64 " %.6f\n", (double)hi / 1000.0, h->bucket[i],
                (double)seen / (double)h->count);
    }
    return fflush(f) == 0 && !ferror(f) ? 0 : -EIO;
}
