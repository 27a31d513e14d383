/* report.h -- what one bench run found, as a table or one JSON object.
 *
 * What it does: holds the figures of a run (or of each step of --find-max)
 * and prints them. The figures are computed by gen.c; this file only
 * formats.
 *
 * What it never does: no sockets, no clock, no allocation.
 *
 * Ownership: a report_t borrows its strings and its steps array.
 */
#ifndef FRONTDESK_BENCH_REPORT_H
#define FRONTDESK_BENCH_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "check.h"

#define REPORT_MAX_LOSS 0.001 /* a run is good with at most 0.1% lost calls
                                 (lost + missed) */

/* The figures of one run, or of one --find-max step. */
typedef struct {
    double rate;             /* open loop: target INVITEs/s; 0: closed loop */
    uint64_t sent;           /* INVITEs that left */
    uint64_t answered;       /* final answers matched to a call (wrong ones too) */
    uint64_t lost;           /* no final answer within --timeout-ms */
    uint64_t wrong;          /* answered, but not the right answer */
    uint64_t wrong_by[CHECK__COUNT];
    uint64_t unmatched;      /* responses to no outstanding call (late, duplicate) */
    uint64_t send_errors;    /* INVITEs the kernel refused (not counted as sent) */
    uint64_t ack_errors;     /* ACKs the kernel refused */
    uint64_t rx_drops;       /* answers our own sockets dropped (buffer full): if
                                not 0, part of "lost" is the generator's fault */
    double elapsed_s;        /* first INVITE sent .. last final answer */
    double cps;              /* answered / elapsed_s */
    double send_rate;        /* INVITEs/s actually sent */
    uint64_t p50_us, p99_us, p999_us, max_us;
    double mean_us;
    double cpu_pct;          /* the generator's own CPU time / wall time */
    double lag_max_ms;       /* open loop: worst delay of an INVITE behind schedule */
    double proxy_cpu_pct;    /* --proxy-pid's CPU time / wall time; < 0: not measured */
    double redis_cpu_pct;    /* --redis-pid's, the same */
    uint64_t truth_staff;    /* --truth: right 302s with staff Contacts */
    uint64_t truth_fallback; /* right 302s to the fallback alone, nobody seeded available */
    uint64_t truth_fallback_free; /* to the fallback alone, somebody seeded available */
    uint64_t missed;         /* --truth without --churn: the truth_fallback_free
                                answers, counted as lost (a call that should
                                have reached staff did not: Redis late, or
                                everyone free was on an offer) */
    bool good;               /* no wrong answer, loss <= REPORT_MAX_LOSS, >= 1 sent */
    char why[64];            /* find-max: why this step ended the search, or "" */
} report_step_t;

typedef struct {
    const char *target;      /* "127.0.0.1:5060" */
    bool find_max;
    bool closed;             /* closed loop (--rate max) */
    unsigned inflight;       /* closed loop window */
    unsigned sources;
    unsigned timeout_ms;
    unsigned n_to;           /* how many --to users */
    size_t n_allowed;        /* --expect-contacts: allowed Contacts, 0 = unchecked */
    size_t truth_targets;    /* --truth: numbers x options rotated over, 0 = no truth */
    size_t truth_sites;
    double churn_rate;       /* --churn: presence updates/s asked, 0 = none */
    uint64_t churn_sent, churn_errors, churn_skipped, churn_restored;
    double step_s;           /* find-max step length */
    double start_rate;       /* find-max first step's rate */
    report_step_t total;     /* run: the run; find-max: the best good step, or the
                                last step when none was good */
    const report_step_t *steps; /* find-max: every step, in order */
    unsigned n_steps;
    double max_good_rate;    /* find-max: highest good rate, 0 when none */
    const char *stop_reason; /* find-max: why the search stopped */
    bool interrupted;        /* SIGINT/SIGTERM cut the run short */
    bool ok;                 /* the exit status is 0 */
} report_t;

void report_table(FILE *f, const report_t *r);
void report_json(FILE *f, const report_t *r);

#endif
