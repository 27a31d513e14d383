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
#include <sys/socket.h>
#include <time.h>

#define RULES_REASON_MAX 256 /* bytes of plan_t.reason, NUL included */
#define RULES_CALLER_HASH_LEN 32 /* hex characters of a caller hash */
#define RULES_MAX_CONTACTS 5 /* upper bound of a route's max_contacts */
#define RULES_MAX_MENU 12    /* menu options per site ("0"-"9", "*", "#") */
#define RULES_URI_MAX 256    /* bytes of a destination URI in a rules file */

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
    const struct sockaddr *src; /* where the request came from (checked
                                   against the called site's trusted
                                   sources); NULL: not checked */
} rules_req_t;

typedef enum {
    PLAN_PICK = 0, /* walk <chain> in Redis (one FCALL); its last step is the
                      final destination when nobody is free */
    PLAN_REDIRECT, /* answer now: redirect to <fallback>, no Redis needed
                      (closed site, after hours, a single-destination DID) */
    PLAN_REJECT,   /* answer now with <status> (e.g. 404 unknown number) */
} plan_kind_t;

typedef enum {
    RULES_LONGEST_IDLE = 0, /* available staff idle the longest first */
    RULES_ROUND_ROBIN,      /* the one offered a call least recently first */
    RULES_MOST_SKILLED,     /* highest proficiency first, then longest idle */
    RULES_FEWEST_OFFERS,    /* fewest offers today (site's local day) first */
} rules_strategy_t;

typedef enum {
    RULES_PERIOD_ALWAYS = 0, /* the site has no hours: always open */
    RULES_PERIOD_OPEN,       /* within opening hours */
    RULES_PERIOD_LUNCH,      /* between two ranges of an open day */
    RULES_PERIOD_CLOSED,     /* before/after hours, or a closed weekday */
    RULES_PERIOD_HOLIDAY,    /* a holiday or one-off closure date */
} rules_period_t;

#define RULES_MAX_CHAIN 8 /* steps of an overflow chain, final one included */

typedef enum {
    PLAN_STEP_PICK = 0, /* pick staff of <site> (a site or a shared pool)
                           with <skill> */
    PLAN_STEP_URI,      /* a final destination: voicemail, an answering
                           service, another office's desk */
} plan_step_kind_t;

/* One step of an overflow chain. */
typedef struct {
    plan_step_kind_t kind;
    const char *site;          /* PICK: site or pool id (Redis hash tag) */
    const char *skill;         /* PICK */
    rules_strategy_t strategy; /* PICK */
    unsigned min_level;        /* PICK: minimum proficiency, 1 (any) to 5 */
    const char *uri;           /* URI: sip:/sips: URI */
} plan_step_t;

/* The routing plan for one request. A PLAN_PICK chain holds 1 or more PICK
 * steps (in order: this site, other sites, shared pools) and ends with
 * exactly one URI step; a PLAN_REDIRECT chain is that one URI step. Steps
 * whose site is closed at <now> are left out of the chain. */
typedef struct {
    plan_kind_t kind;
    const char *group;          /* clinic group name; NULL for PLAN_REJECT */
    const char *site;           /* called site id, NULL if none */
    const char *skill;          /* skill of the first PICK step, else NULL */
    rules_strategy_t strategy;  /* of the first PICK step */
    unsigned max_contacts;      /* 1..RULES_MAX_CONTACTS staff to offer in
                                   all (the chain fills up to this many) */
    const char *fallback;       /* the final URI step; NULL for PLAN_REJECT */
    int status;                 /* SIP status for PLAN_REJECT, else 0 */
    plan_step_t chain[RULES_MAX_CHAIN];
    unsigned n_chain;
    rules_period_t period;      /* of the called site at <now> */
    unsigned local_date;        /* YYYYMMDD at the called site at <now>
                                   (offer counts per day); 0 when unknown */
    bool forward;               /* mode forward: the proxy relays the call
                                   to the first reachable destination
                                   instead of answering 302 */
    bool untrusted;             /* PLAN_REJECT 403: the called site does
                                   not trust the request's source (what to
                                   do with it: rules_strangers()) */
    bool priority;              /* caller is on the group's priority list */
    bool caller_aware;          /* offer the caller's last staff first */
    unsigned caller_window_s;   /* ...if they handled the caller this recently */
    char caller[RULES_CALLER_HASH_LEN + 1]; /* keyed hash of the caller's
                                   number (hex) when the plan is
                                   caller-aware, else "" */
    char option[4];             /* the menu option the call chose, when it is
                                   one of the site's ("2"), else "" */
    char reason[RULES_REASON_MAX]; /* why, in words: "downtown: Tuesday 12:40
                                      America/Chicago: lunch -> overflow" */
} plan_t;

/* Where loading failed. <line>/<col> are 1-based, 0 when not applicable. */
typedef struct {
    char file[256];
    unsigned line;
    unsigned col;
    char msg[256];
} rules_report_t;

/* How to load. Zero/NULL fields take their defaults. */
typedef struct {
    time_t now;                      /* reference time: opening hours are
                                        computed in UTC for [now - 2 days,
                                        now + 400 days]; 0 = the file's
                                        hours are not expanded (every site
                                        counts as always open) */
    const unsigned char *caller_key; /* key of the caller hashes (HMAC);
                                        NULL: none. A file that uses
                                        caller_aware or priority_callers
                                        without a key is an error */
    size_t caller_key_len;           /* 16 to 64 bytes */
} rules_load_opts_t;

/* Load and validate <path>. On success stores a new snapshot in *<out> and
 * returns 0. On failure returns -EINVAL (bad content), -ENOENT/-EACCES (the
 * file cannot be read) or -ENOMEM, fills <rep> and leaves *<out> untouched.
 * <o> may be NULL (all defaults). */
int rules_load(const char *path, rules_t **out, rules_report_t *rep);
int rules_load_opts(const char *path, const rules_load_opts_t *o, rules_t **out,
                    rules_report_t *rep);

/* Same as rules_load_opts() on an in-memory document; <name> is used as the
 * file name in reports. */
int rules_load_string(const char *yaml, size_t len, const char *name,
                      rules_t **out, rules_report_t *rep);
int rules_load_string_opts(const char *yaml, size_t len, const char *name,
                           const rules_load_opts_t *o, rules_t **out,
                           rules_report_t *rep);

rules_t *rules_ref(rules_t *r);
void rules_unref(rules_t *r); /* accepts NULL */

/* Evaluate <req> at time <now> (seconds since the epoch, UTC). Always fills
 * <plan> and returns 0: an unknown number is a PLAN_REJECT with status 404.
 * Never allocates; under a microsecond for a 200-site file (median), the
 * caller hash (HMAC-SHA-256) of caller-aware plans included
 * (build/bench_rules). */
int rules_eval(const rules_t *r, const rules_req_t *req, time_t now,
               plan_t *plan);

/* Name of the header the PBX/IVR sets with the caller's menu choice (e.g.
 * "X-Frontdesk-Option"), or NULL when options come only from the
 * Request-URI. The same for every group of a snapshot. */
const char *rules_option_header(const rules_t *r);

/* The destination URIs of forward-mode routes (single-destination DIDs,
 * fallbacks, lunch/after-hours/holiday URIs), each once, at most <cap>,
 * into <out> (strings owned by the snapshot). The proxy health-checks
 * them. Returns how many. */
size_t rules_forward_uris(const rules_t *r, const char **out, size_t cap);

/* Does any route of the snapshot forward (mode: forward)? Then the proxy
 * also relays responses. */
bool rules_any_forward(const rules_t *r);

/* ---- trusted sources ---------------------------------------------------- */

/* The "trusted:" lists of the file, its groups and sites name the trunks
 * and PBXs that may route calls (docs/rules.md). A request from a source
 * no list holds is a stranger's; so is one to a site whose lists (its
 * own, its group's, the file's) do not hold its source (the plan says
 * untrusted). A file with no "trusted:" at all trusts every source. */

typedef enum {
    RULES_STRANGERS_DROP = 0, /* no answer at all (the default) */
    RULES_STRANGERS_REJECT,   /* 403 Forbidden */
} rules_strangers_t;

/* May <src> route calls to some site of the snapshot? Also true when the
 * file names no trusted source. Never allocates; a few comparisons per
 * block listed. */
bool rules_trusts(const rules_t *r, const struct sockaddr *src);

/* What a stranger's request gets ("strangers:" in the file). */
rules_strangers_t rules_strangers(const rules_t *r);

/* Does the file name trusted sources at all? */
bool rules_trust_given(const rules_t *r);

/* Number of sites in the snapshot (all groups, pools not counted). */
size_t rules_site_count(const rules_t *r);

/* The ids of every site and pool of the snapshot (what a plan's site can
 * be), at most <cap> into <out> (borrowed from the snapshot). Returns how
 * many there are. */
size_t rules_site_ids(const rules_t *r, const char **out, size_t cap);

/* The local wall-clock time at site <id> of the instant <t>, as seconds
 * since 1970 as if local time were UTC (so t / 86400 is the local day).
 * False for an unknown site or pool, or <t> outside the hours' horizon (2
 * days before the snapshot's load time to 400 after). */
bool rules_site_localtime(const rules_t *r, const char *id, time_t t, int64_t *local);

/* Keyed hash (HMAC-SHA-256, truncated) of the phone number <num>/<len>,
 * normalised to digits first, as RULES_CALLER_HASH_LEN hex characters +
 * NUL in <out>. Returns false (and "" in <out>) when the snapshot has no
 * caller key or the number has no digits. */
bool rules_caller_hash(const rules_t *r, const char *num, size_t len,
                       char out[RULES_CALLER_HASH_LEN + 1]);

/* ---- explain ----------------------------------------------------------- */

/* Write, for people, how <plan> came about and what it asks for: one step a
 * line ("1. Tuesday 12:40 America/Chicago: downtown is at lunch", "2. option
 * 2 -> billing", "3. overflow: pick billing at northlake (longest idle)",
 * ...). Never prints the caller's number. Returns the length written (the
 * text is cut at <cap> - 1 and always NUL-terminated). */
size_t rules_explain(const rules_t *r, const rules_req_t *req, time_t now,
                     const plan_t *plan, char *buf, size_t cap);

/* ---- lint ---------------------------------------------------------------- */

typedef enum { RULES_LINT_WARNING = 1, RULES_LINT_ERROR = 2 } rules_lint_level_t;

typedef struct {
    rules_lint_level_t level;
    unsigned line, col;  /* where in the file, 1-based; 0 when not tied to a place */
    char msg[256];
} rules_finding_t;

/* Optional knowledge of who is on staff (frontdeskctl gets it from Redis):
 * the skills the staff of <site> have, as a NULL-terminated list, or NULL
 * when unknown. */
typedef const char *const *rules_staff_skills_fn(void *arg, const char *site);

/* Look for what cannot work (errors) and what hurts callers (warnings): an
 * IVR menu with more than 5 options, a skill no route can reach or no staff
 * has (the latter only with <skills>), overlapping or empty opening hours,
 * an unreachable rule, ... Calls <cb> once per finding, in file order.
 * Returns the highest level found, 0 when none. */
int rules_lint(const rules_t *r, rules_staff_skills_fn *skills, void *skills_arg,
               void (*cb)(void *arg, const rules_finding_t *f), void *cb_arg);

#endif
