/* truth.h -- what a seeded clinic network should answer, and judging 302s
 * against it.
 *
 * What it does: reads the truth file `fd-bench seed` writes (below), turns
 * it into the list of call targets a run rotates over (every site's number,
 * with and without each menu option), and judges the Contacts of a 302 to
 * one of those targets: every Contact but the last must be a staff member
 * of the called site with the asked skill at the asked level or better (and,
 * when presence cannot have changed, seeded available); the last one must be
 * the site's fallback; no Contact twice; at most max_contacts staff. A 302
 * with the fallback alone is always right (offers reserve people, so
 * "nobody free" cannot be disproved from outside); it is counted apart, and
 * so is the case where the seed had somebody available.
 *
 * Truth file, one record a line, fields separated by single spaces, '#'
 * starts a comment line:
 *
 *   menu <option|-> <skill> <min_level>      "-": no option (default skill)
 *   site <id> <did-digits> <max_contacts> <fallback-uri>
 *   staff <site-id> <staff-id> <contact-uri> <state> <skill:level,...>
 *
 * menu lines come first; a staff line names a site given above it.
 *
 * What it never does: no sockets, no clock; truth_load() is the only I/O.
 *
 * Ownership: truth_load()/truth_parse() return an object freed by
 * truth_free(); every string it hands out lives as long as it.
 */
#ifndef FRONTDESK_BENCH_TRUTH_H
#define FRONTDESK_BENCH_TRUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "check.h"
#include "sipmsg.h"

#define TRUTH_MAX_SKILLS 16
#define TRUTH_MAX_MENU 13  /* "-", "0"-"9", "*", "#" */
#define TRUTH_MAX_SITES 9999
#define TRUTH_LINE_MAX 1024

typedef struct truth truth_t; /* opaque */

/* How a right 302 was made up. */
typedef enum {
    TRUTH_STAFF,        /* at least one staff Contact before the fallback */
    TRUTH_FALLBACK,     /* the fallback alone, nobody available at seed time */
    TRUTH_FALLBACK_FREE /* the fallback alone though the seed had somebody
                           available (reserved by an offer, or churned) */
} truth_kind_t;

/* Read a truth file from <f> (<name> for messages). 0, or a negative errno
 * with "name:line: reason" in <err>. */
int truth_parse(truth_t **out, FILE *f, const char *name, char *err, size_t errlen);

/* truth_parse() of the file at <path>. */
int truth_load(truth_t **out, const char *path, char *err, size_t errlen);

/* Accepts NULL. */
void truth_free(truth_t *t);

size_t truth_sites(const truth_t *t);
size_t truth_staff_count(const truth_t *t);

/* Staff member <i> (< truth_staff_count()): site id, staff id, seeded
 * state. Any pointer may be NULL. */
void truth_staff(const truth_t *t, size_t i, const char **site, const char **id,
                 const char **state);

/* Call targets: sites x menu entries, ordered so that consecutive targets
 * are different sites. */
size_t truth_targets(const truth_t *t);

/* Request-URI user of target <i>: "15550000001" or "15550000001*2". */
const char *truth_target_user(const truth_t *t, size_t i);

/* All of them, truth_targets() entries. */
const char *const *truth_users(const truth_t *t);

/* Judge the <n> Contact URIs <c> of a 302 to target <target>. With
 * <churn>, presence may have changed during the run: a staff Contact is
 * not required to be seeded available. CHECK_OK (with <kind> set, may be
 * NULL) or the first failed check: CHECK_FALLBACK, CHECK_CONTACTS,
 * CHECK_NOT_STAFF, CHECK_SKILL, CHECK_PRESENCE. */
check_verdict_t truth_check(const truth_t *t, size_t target, const sipmsg_span_t *c,
                            unsigned n, bool churn, truth_kind_t *kind);

#endif
