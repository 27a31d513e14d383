/* check.h -- is an answer the right answer to the call it matched?
 *
 * What it does: judges a scanned final response against the call it was
 * matched to by Call-ID (status 302, CSeq "1 INVITE", top Via branch, To
 * tag, at least one Contact, and optionally a first Contact URI from an
 * allowed list), and loads that list from a file.
 *
 * What it never does: no sockets, no clock. Only check_allow_load() reads a
 * file.
 *
 * Ownership: check_allow_load() returns a list freed by check_allow_free().
 */
#ifndef FRONTDESK_BENCH_CHECK_H
#define FRONTDESK_BENCH_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "sipmsg.h"

/* Why an answer is wrong; CHECK_OK when it is right. */
typedef enum {
    CHECK_OK = 0,
    CHECK_STATUS,       /* not 302 */
    CHECK_CSEQ,         /* not "1 INVITE" */
    CHECK_BRANCH,       /* top Via branch is not the INVITE's */
    CHECK_TO_TAG,       /* no To tag */
    CHECK_CONTACT,      /* no Contact, or an unreadable first one */
    CHECK_NOT_ALLOWED,  /* first Contact URI not in --expect-contacts */
    /* --truth (truth.h): the Contacts against the seeded clinic network */
    CHECK_FALLBACK,     /* the last Contact is not the called site's fallback */
    CHECK_CONTACTS,     /* more staff than max_contacts, or a Contact twice */
    CHECK_NOT_STAFF,    /* a Contact that is no staff member of the called site */
    CHECK_SKILL,        /* a staff member without the asked skill and level */
    CHECK_PRESENCE,     /* a staff member not seeded available (without --churn) */
    CHECK_ROUTE,        /* arrived on another source socket than the INVITE left */
    CHECK_MALFORMED,    /* carried our Call-ID but could not be scanned */
    CHECK__COUNT
} check_verdict_t;

/* Short lowercase name of <v> for tables and JSON keys: "status", ... */
const char *check_verdict_name(check_verdict_t v);

typedef struct check_allow check_allow_t; /* opaque set of Contact URIs */

/* Load the allowed first-Contact URIs from <path>: one URI per line, with
 * or without <...>; blank lines and lines starting with '#' are skipped.
 * 0, or a negative errno with "file:line: reason" in <err>. An empty list
 * is an error (-EINVAL): it would make every answer wrong. */
int check_allow_load(check_allow_t **out, const char *path, char *err, size_t errlen);

/* Accepts NULL. */
void check_allow_free(check_allow_t *a);

size_t check_allow_count(const check_allow_t *a);

/* Is <uri> in <a>? Exact, case-sensitive byte comparison. */
bool check_allow_has(const check_allow_t *a, sipmsg_span_t uri);

/* Judge the final response <r> to the call whose Via branch is <branch>.
 * <allow> NULL accepts any first Contact. The first failing check wins, in
 * the order of check_verdict_t. */
check_verdict_t check_answer(const sipmsg_resp_t *r, sipmsg_span_t branch,
                             const check_allow_t *allow);

#endif
