/* hist.h -- latency histogram of the bench: record microseconds, read
 * percentiles.
 *
 * What it does: counts values from 1 us to 10 s in log-linear buckets (each
 * decade cut into equal steps, three significant digits: a bucket is at most
 * 1% of its value wide) and answers percentiles, min, max and mean. Values
 * under 1 us count as 1 us; values of 10 s and more share one last bucket
 * and are reported through the exact maximum.
 *
 * hist_write_dat() writes the buckets as a gnuplot data file (bench/plot.sh).
 *
 * What it never does: no clock, no allocation after hist_new(), no I/O
 * but hist_write_dat() to the stream it is given.
 *
 * Threads: a hist_t belongs to one thread; merge per-thread histograms with
 * hist_merge() to read them together.
 *
 * Ownership: hist_new() returns an object the caller frees with hist_free().
 */
#ifndef FRONTDESK_BENCH_HIST_H
#define FRONTDESK_BENCH_HIST_H

#include <stdint.h>
#include <stdio.h>

#define HIST_MIN_US 1ULL        /* smallest value told apart */
#define HIST_MAX_US 10000000ULL /* 10 s: values at or above share a bucket */

typedef struct hist hist_t; /* opaque; about 37 KiB */

/* A new empty histogram, or NULL when out of memory. */
hist_t *hist_new(void);

/* Accepts NULL. */
void hist_free(hist_t *h);

/* Forget every recorded value. */
void hist_reset(hist_t *h);

/* Count one value of <us> microseconds. */
void hist_record(hist_t *h, uint64_t us);

/* Add every value counted in <src> to <dst>. */
void hist_merge(hist_t *dst, const hist_t *src);

uint64_t hist_count(const hist_t *h);

/* Exact smallest and largest values recorded (as clamped to at least 1 us
 * by hist_record()); 0 when empty. */
uint64_t hist_min(const hist_t *h);
uint64_t hist_max(const hist_t *h);

/* Mean of the recorded values, exact; 0 when empty. */
double hist_mean(const hist_t *h);

/* The <p>-th percentile (0 < <p> <= 100; e.g. 99.9) in microseconds: the
 * highest value of the bucket holding the value of rank ceil(p/100 * count),
 * clamped to [min, max], so at most 1% above the true value and never
 * beyond what was seen. <p> <= 0 gives the minimum, <p> >= 100 the maximum.
 * 0 when empty. */
uint64_t hist_percentile(const hist_t *h, double p);

/* Write every non-empty bucket to <f>, one line each, lowest first:
 * "<upper bound, ms> <count> <cumulative fraction>", the upper bound being
 * the bucket's highest value (clamped to the maximum seen), after two '#'
 * comment lines. 0, or -EIO when <f> reports an error. */
int hist_write_dat(const hist_t *h, FILE *f);

#endif
