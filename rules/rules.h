/* rules.h -- the routing rules library: config file in, routing plan out.
 *
 * What it does: loads a clinic group's YAML rules file into an immutable,
 * refcounted snapshot (rules_t), reporting the first error with file, line,
 * column and a plain-English reason; and evaluates a request view against a
 * snapshot into a plan_t: which site, which skill, how to pick staff, and the
 * final destination when nobody can take the call.
 *
 * What it never does: no sockets, no Redis, no clock reads (the time is an
 * argument), no logging. Loading reads the one file it is given.
 *
 * Threads: rules_load() runs off the hot path (main thread, reload). A loaded
 * snapshot is never modified, so rules_eval() and the accessors may be called
 * from any number of threads at once. rules_ref()/rules_unref() are atomic.
 *
 * Ownership: rules_load() returns a snapshot with one reference; the last
 * rules_unref() frees it. Every string a plan_t points to is owned by the
 * snapshot and lives as long as it does. A rules_req_t only borrows the
 * caller's buffers (spans into the received datagram) for the call.
 */
#ifndef FRONTDESK_RULES_H
#define FRONTDESK_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define RULES_REASON_MAX 160 /* bytes of plan_t.reason, NUL included */
#define RULES_MAX_CONTACTS 5 /* upper bound of a route's max_contacts */
#define RULES_MAX_MENU 12    /* menu options per site ("0"-"9", "*", "#") */

/* A counted view into someone else's buffer; not NUL-terminated. */
typedef struct {
    const char *s;
    size_t len;
} span_t;

typedef struct rules rules_t; /* opaque, immutable, refcounted */

/* What the SIP layer tells the rules about one request. Empty spans
 * (len == 0) mean "absent". */
typedef struct {
    span_t ruri_user; /* Request-URI user part: a DID, or DID<sep>OPTION */
    span_t to_user;   /* To URI user part (the originally dialled number) */
    span_t from_user; /* caller's number; never stored or printed in clear */
    span_t option;    /* value of the group's option header, if present */
} rules_req_t;

typedef enum {
    PLAN_PICK = 0, /* ask Redis for staff of <site> with <skill>; else fallback */
    PLAN_REDIRECT, /* answer now: redirect to <fallback>, no Redis needed */
    PLAN_REJECT,   /* answer now with <status> (e.g. 404 unknown number) */
} plan_kind_t;

typedef enum {
    RULES_LONGEST_IDLE = 0, /* the available staff member idle the longest */
} rules_strategy_t;

/* The routing plan for one request. Shaped for the routing kinds to come
 * (time-based, caller-aware, overflow chains): more fields are added, the
 * meaning of these stays. */
typedef struct {
    plan_kind_t kind;
    const char *group;          /* clinic group name */
    const char *site;           /* site id (Redis hash tag), NULL if none */
    const char *skill;          /* skill to pick for, PLAN_PICK only */
    rules_strategy_t strategy;  /* how to choose among available staff */
    unsigned max_contacts;      /* 1..RULES_MAX_CONTACTS staff to offer */
    const char *fallback;       /* SIP URI when nobody is free; the target of
                                   PLAN_REDIRECT; NULL for PLAN_REJECT */
    int status;                 /* SIP status for PLAN_REJECT, else 0 */
    char reason[RULES_REASON_MAX]; /* why, in words: "did downtown; option 2
                                      -> billing" */
} plan_t;

/* Where loading failed. <line>/<col> are 1-based, 0 when not applicable. */
typedef struct {
    char file[256];
    unsigned line;
    unsigned col;
    char msg[256];
} rules_report_t;

/* Load and validate <path>. On success stores a new snapshot in *<out> and
 * returns 0. On failure returns -EINVAL (bad content), -ENOENT/-EACCES (the
 * file cannot be read) or -ENOMEM, fills <rep> and leaves *<out> untouched. */
int rules_load(const char *path, rules_t **out, rules_report_t *rep);

/* Same as rules_load() on an in-memory document; <name> is used as the file
 * name in reports. */
int rules_load_string(const char *yaml, size_t len, const char *name,
                      rules_t **out, rules_report_t *rep);

rules_t *rules_ref(rules_t *r);
void rules_unref(rules_t *r); /* accepts NULL */

/* Evaluate <req> at time <now> (seconds since the epoch, UTC). Always fills
 * <plan> and returns 0: an unknown number is a PLAN_REJECT with status 404.
 * Never allocates. */
int rules_eval(const rules_t *r, const rules_req_t *req, time_t now,
               plan_t *plan);

/* Name of the header the PBX/IVR sets with the caller's menu choice (e.g.
 * "X-Frontdesk-Option"), or NULL when options come only from the
 * Request-URI. The same for every group of a snapshot. */
const char *rules_option_header(const rules_t *r);

/* Number of sites in the snapshot (all groups). */
size_t rules_site_count(const rules_t *r);

#endif
