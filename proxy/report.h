/* report.h -- frontdeskctl report: where calls are lost, read back from the
 * histories Redis keeps (docs/reports.md).
 *
 * Pure: no Redis, no clock, no rules. frontdeskctl (ctl.c) reads the
 * streams fd:{site}:calls and fd:{site}:presence, turns times into each
 * site's hour of the week with the rules, and feeds these functions; they
 * count, and write tables, CSV, JSON and SVG to a FILE. One thread; the
 * caller frees what it creates.
 *
 *   report calls:    site x skill x hour of the week -> calls by outcome;
 *                    the last entry of a call counts (a late pick's
 *                    "staff" is followed by the proxy's "late")
 *   report coverage: site x skill x hour of the coming week -> the share of
 *                    the same hour of past weeks with nobody free along the
 *                    call's chain, and the calls that usually arrive then
 */
#ifndef FRONTDESK_REPORT_H
#define FRONTDESK_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define REPORT_HOURS 168 /* hours of a week; hour 0 is Monday 00:00-01:00 */

/* The outcomes of the call history (store.h's STORE_OUTCOMES, in order). */
typedef enum {
    RO_STAFF = 0,
    RO_NOBODY,
    RO_LATE,
    RO_REDIS_DOWN,
    RO_REDIS_ERROR,
    RO_CAPPED,
    RO_AFTER_HOURS,
    RO_LUNCH,
    RO_HOLIDAY,
    RO_RULES,
    RO_REJECTED,
    RO_N,
} report_outcome_t;
extern const char *const report_outcome_names[RO_N];

typedef enum { REPORT_TABLE = 0, REPORT_CSV, REPORT_JSON } report_format_t;

/* ---- one entry of fd:{site}:calls ----------------------------------- */

typedef struct {
    uint64_t ms; /* when: the proxy's clock when the entry has one, else
                    the stream id's */
    char call[33], number[33], option[8], skill[33];
    int outcome; /* report_outcome_t; -1 for a forward-mode final response */
    unsigned offered;
    unsigned status; /* forward mode: the final response the destination
                        gave (200, 486, ...), an entry of its own; else 0 */
} report_call_t;

/* Parse the stream id <id> and the field v of an entry. 0, or -EINVAL for
 * an entry that is not one (an unknown outcome: a later version's). */
int report_parse_call(const char *id, size_t idlen, const char *v, size_t vlen, report_call_t *out);

/* "Mon 12:00" for hour of the week <how> (buf of 16). */
const char *report_how_text(unsigned how, char buf[16]);

/* ---- report calls --------------------------------------------------- */

typedef struct report_calls report_calls_t;

report_calls_t *report_calls_new(void);
void report_calls_free(report_calls_t *rc); /* accepts NULL */

/* Count <c> of <site> at hour of the week <how> (the site's own time). A
 * later entry of the same call (entries come in stream order, a site at a
 * time) replaces what the earlier counted. 0 or -ENOMEM. */
int report_calls_add(report_calls_t *rc, const char *site, const report_call_t *c, unsigned how);

/* Count a forward-mode final response of <call> at <site> (<status>
 * 200-699): once a call (a 2xx retransmitted until its ACK is relayed each
 * time), the last. */
int report_calls_final(report_calls_t *rc, const char *site, const char *call, unsigned status);

/* The calls counted, all rows (a test's view). */
uint64_t report_calls_total(const report_calls_t *rc);

/* Count of <outcome> (or every outcome: -1) for <site>, <skill> ("" for
 * calls without one, NULL for every skill) at <how> (or every hour: -1). */
uint64_t report_calls_count(const report_calls_t *rc, const char *site, const char *skill, int how,
                            int outcome);

/* Write the report: <title> first (the table's; CSV has none, JSON keeps
 * it as "period"). 0, or -EIO when writing failed. */
int report_calls_write(const report_calls_t *rc, FILE *f, report_format_t fmt, const char *title);

/* A heatmap (site x skill rows, the 168 hours of the week as columns, the
 * share that reached staff as the colour, counts in each cell's tooltip)
 * above a bar chart of each site's outcomes. 0 or -EIO. */
int report_calls_svg(const report_calls_t *rc, FILE *f, const char *title);

/* ---- availability, at minute resolution ------------------------------ */

/* The minutes of [from_ms, from_ms + minutes) when someone was free, for
 * one (site, skill, minimum level). */
typedef struct report_avail report_avail_t;

report_avail_t *report_avail_new(int64_t from_ms, unsigned minutes);
void report_avail_free(report_avail_t *a); /* accepts NULL */

/* Someone was free over [a_ms, b_ms): every minute that starts inside it
 * counts as covered (clipped to the window). */
void report_avail_mark(report_avail_t *a, int64_t a_ms, int64_t b_ms);

/* Was someone free in the minute starting at <ms>? (Outside the window: no.) */
bool report_avail_covered(const report_avail_t *a, int64_t ms);

/* One person's presence over time, from the presence history: call
 * report_timeline_change() for each of their changes in time order, then
 * report_timeline_end() with their state now; it marks <a> where they were
 * available. */
typedef struct {
    int64_t since;  /* start of the current stretch (ms) */
    bool known;     /* a change was seen: <since> and <avail> are set */
    bool avail;     /* available in the current stretch */
    int64_t window; /* the window's start: a first change's "from" covers
                       from there */
} report_timeline_t;

void report_timeline_start(report_timeline_t *t, int64_t window_from_ms);
void report_timeline_change(report_timeline_t *t, report_avail_t *a, int64_t ms, const char *from,
                            const char *to);
void report_timeline_end(report_timeline_t *t, report_avail_t *a, int64_t to_ms, const char *state_now);

/* ---- report coverage ------------------------------------------------- */

typedef struct {
    char site[33], skill[33];
    unsigned how;           /* the hour of the week, site's time */
    int64_t at_ms;          /* the hour's start, absolute */
    char date[20];          /* the hour's start, site's time: "2026-12-07 12:00" */
    double share;           /* of the past weeks' same hour with nobody free */
    double calls;           /* calls a week that arrive in that hour */
    bool nobody_holds;      /* no staff member holds the skill at any step */
} report_gap_t;

typedef struct report_coverage report_coverage_t;

report_coverage_t *report_coverage_new(void);
void report_coverage_free(report_coverage_t *rc); /* accepts NULL */
int report_coverage_add(report_coverage_t *rc, const report_gap_t *g); /* 0 or -ENOMEM */
size_t report_coverage_count(const report_coverage_t *rc);
const report_gap_t *report_coverage_get(const report_coverage_t *rc, size_t i);

/* Write the gaps (table: by site and time, with each site's predicted
 * calls that find nobody). 0 or -EIO. */
int report_coverage_write(const report_coverage_t *rc, FILE *f, report_format_t fmt, const char *title);

/* A heatmap: site x skill rows, the 168 hours as columns, the share with
 * nobody free as the colour, predicted calls in the tooltip. 0 or -EIO. */
int report_coverage_svg(const report_coverage_t *rc, FILE *f, const char *title);

#endif
