/* churn.h -- presence changes during a run, as reception dashboards make
 * them.
 *
 * What it does: over its own Redis connection (hiredis, asynchronous, on
 * the run's libevent loop), sends FCALL fd_presence for random seeded staff
 * (from the truth file) at a steady rate while a phase runs: available,
 * busy, break, offline. When the run ends it sets everyone it touched back
 * to their seeded state, so the truth holds again for the next run.
 *
 * What it never does: no other Redis command than AUTH and FCALL
 * fd_presence (plus fd_version and, when missing, FUNCTION LOAD at open);
 * never more than CHURN_MAX_PENDING commands unanswered (the rest are
 * skipped and counted): a stalled Redis does not grow our memory.
 *
 * Ownership: churn_open() returns an object freed by churn_close(); it
 * borrows the event base and the truth, which must outlive it.
 */
#ifndef FRONTDESK_BENCH_CHURN_H
#define FRONTDESK_BENCH_CHURN_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "rconn.h"
#include "truth.h"

#define CHURN_MAX_RATE 100000.0 /* presence updates per second */
#define CHURN_MAX_PENDING 2000u

typedef struct churn churn_t;

typedef struct {
    uint64_t sent;     /* fd_presence sent during phases */
    uint64_t errors;   /* error replies, or lost with the connection */
    uint64_t skipped;  /* due but not sent: too many unanswered */
    uint64_t restored; /* touched staff set back to their seeded state */
} churn_stats_t;

/* Check the Redis at <a> (reachable, AUTH, functions), then connect to it
 * on <base>. 0, or -1 with the reason in <err>. */
int churn_open(churn_t **out, struct event_base *base, const rconn_addr_t *a,
               const truth_t *t, double rate, uint64_t seed, char *err, size_t errlen);

/* Start sending at the rate from now (a phase begins) / stop (it ended). */
void churn_start(churn_t *c);
void churn_pause(churn_t *c);

/* Set everyone touched back to their seeded state and wait, running the
 * loop, until every reply is in or <timeout_ms> passed. */
void churn_finish(churn_t *c, unsigned timeout_ms);

churn_stats_t churn_stats(const churn_t *c);

/* Accepts NULL. */
void churn_close(churn_t *c);

#endif
