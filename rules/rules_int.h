/* rules_int.h -- internals shared by the files of rules/.
 *
 * Not part of the contract: nothing outside rules/ includes this. A snapshot
 * is written only by config.c (and hours.c, which it calls) while it is
 * being built, then never again, so eval.c, explain.c and lint.c read it
 * from any thread without locks. The walker tables in config.c say which
 * YAML key fills which field.
 */
#ifndef FRONTDESK_RULES_INT_H
#define FRONTDESK_RULES_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* SHA-256 with the CPU's SHA instructions, for the caller HMAC; the
 * low-level interface is deprecated in OpenSSL 3 but kept, and it is the one
 * that lets a keyed state be copied without allocating */
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/sha.h>
#include <sodium.h>

#include "rules.h"

#define RULES_DID_MAX 32   /* digits of a normalised DID (E.164 needs 15) */
#define RULES_IDENT_MAX 32 /* bytes of a site id or a skill name */
#define RULES_SEP_MAX 4    /* bytes of option_separator */
#define RULES_MAX_RANGES 8 /* opening-hour ranges per weekday */
#define RULES_MAX_OVERFLOW (RULES_MAX_CHAIN - 2) /* own site + URI */
#define RULES_HASH_BYTES 16 /* truncated HMAC of a caller number */
#define RULES_NO_STRATEGY (-1) /* "inherit" in menu entries, steps */
#define RULES_DAY_S 86400
#define RULES_HORIZON_BEFORE (2 * RULES_DAY_S)
#define RULES_HORIZON_AFTER (400 * RULES_DAY_S)

/* Snapshot layout. Sites of one group are contiguous, and so are its pools;
 * indexes, not pointers, link the parts so the arrays may grow while the
 * file is read.
 *
 *   rules_t
 *   |- option_header, option_sep, hmac (caller key, precomputed)
 *   |- groups[ngroups]  { name, first_site/nsites, first_pool/npools,
 *   |                     prio[] (priority callers' normalised digits),
 *   |                     prio_ix (hash index over prio[]) }
 *   |- sites[nsites]    { id, dids[], default_skill, menu[slot], strategy,
 *   |    |                 overflow[] -> sites[]/pools[], lunch/after_hours/
 *   |    |                 holiday routes, caller-aware, week[7] hours }
 *   |    |- zone[]      UTC offset transitions over the horizon
 *   |    |- days[]      one per local date of the horizon, 32 bytes:
 *   |    |                 { start (UTC of local 00:00), date, wday,
 *   |    |                   holiday, n, up to 2 intervals inline, or
 *   |    |                   first -> ivals[first .. first+n) }
 *   |    `- ivals[]     intervals of days with more than 2 ranges,
 *   |                   seconds after their day's start
 *   |- pools[npools]    { id, name, group }
 *   `- dids             hash index: normalised digits -> site (val) and
 *                        its dids[] entry (aux); keys borrow dids[].num
 */

/* A string -> index map with open addressing and linear probing. It never
 * owns its keys. Filled at load, read-only afterwards; cap is a power of two
 * kept at least twice count, so a probe always meets an empty slot. */
typedef struct {
    const char *key; /* NULL marks an empty slot */
    uint32_t len;
    uint32_t val;
    uint64_t hash;
    uint32_t aux;
} rules_slot_t;

typedef struct {
    rules_slot_t *slots;
    size_t cap;
    size_t count;
} rules_index_t;

/* Where something was written, 1-based; 0/0 when it was not. */
typedef struct {
    unsigned line, col;
} rules_pos_t;

#define RULES_TRUST_MAX 256 /* address blocks in one "trusted:" list */

/* A trusted source: an address block (IPv4 or IPv6, CIDR), host bits zero. */
typedef struct {
    uint8_t family;   /* AF_INET or AF_INET6 */
    uint8_t bits;     /* prefix length: 0-32 or 0-128 */
    uint8_t addr[16]; /* network address: IPv4 in the first 4 bytes */
    rules_pos_t pos;
} rules_cidr_t;

/* A "trusted:" list of the file, a group or a site. */
typedef struct {
    rules_cidr_t *v;
    size_t n;
    bool given;       /* the key is written (an empty list trusts nobody) */
    rules_pos_t pos;
} rules_trust_t;

typedef struct {
    char *name;
    size_t first_site; /* index into rules_t.sites */
    size_t nsites;
    size_t first_pool; /* index into rules_t.pools */
    size_t npools;
    /* priority_callers, normalised to digits (not NUL-terminated; the
     * length is in the index slot). They are in the rules file anyway;
     * looking them up in clear means no HMAC per call, and neither the
     * numbers nor their hashes ever leave the snapshot. Zeroed on free. */
    char (*prio)[RULES_DID_MAX];
    size_t nprio;
    rules_index_t prio_ix;    /* digits -> index into prio[]; keys borrow
                                 prio[] */
    int caller_aware;         /* default of its sites: -1 unset, 0, 1 */
    unsigned caller_window_s;
    rules_pos_t pos, prio_pos, caller_aware_pos;
    rules_trust_t trusted;    /* of all its sites */
} rules_group_t;

typedef struct {
    char *id;
    char *name;
    size_t group;
    rules_pos_t pos;
} rules_pool_t;

/* How a route's calls leave: "mode:" at the top level, in a site or in a
 * DID; the most specific one written wins. Zero (unset) so that calloc'd
 * objects inherit. */
typedef enum {
    RULES_FWD_UNSET = 0,
    RULES_FWD_REDIRECT,
    RULES_FWD_FORWARD,
} rules_fwd_mode_t;

typedef struct {
    char *num;   /* normalised, digits only */
    char *to;    /* single destination, or NULL */
    char *skill; /* dedicated line: this skill, no menu; or NULL */
    int mode;    /* rules_fwd_mode_t; RULES_MODE_UNSET: the site's */
    rules_pos_t pos;
} rules_did_t;

typedef struct {
    char *skill;         /* NULL: option not in the menu */
    int strategy;        /* RULES_NO_STRATEGY: the site's */
    unsigned min_level;  /* 0: the site's */
    rules_pos_t pos;     /* of the option key */
} rules_menu_t;

/* One overflow step, as written; target resolved at the end of the group. */
typedef struct {
    char *target_id;     /* site or pool id as written */
    bool pool;
    uint32_t target;     /* index into sites[] or pools[] */
    char *skill;         /* NULL: the route's skill */
    int strategy;        /* RULES_NO_STRATEGY: see eval.c */
    unsigned min_level;  /* 0: see eval.c */
    rules_pos_t pos, target_pos;
} rules_step_t;

typedef enum {
    RULES_ROUTE_UNSET = 0, /* only while loading */
    RULES_ROUTE_URI,       /* redirect straight to <uri> */
    RULES_ROUTE_OVERFLOW,  /* skip own staff, walk the overflow steps */
} rules_route_kind_t;

/* What a period (lunch, after hours, holiday) does with a call. */
typedef struct {
    rules_route_kind_t kind;
    char *own;           /* the URI written in the file, owned */
    const char *uri;     /* RULES_ROUTE_URI: own or the site's fallback */
    bool given;          /* written in the file (lint: unreachable) */
    rules_pos_t pos;
} rules_route_t;

/* Minutes after local midnight; end may be 1440 ("24:00"). */
typedef struct {
    uint16_t start, end;
    rules_pos_t pos;
} rules_range_t;

typedef struct {
    rules_range_t raw[RULES_MAX_RANGES]; /* as written (lint: overlaps) */
    unsigned nraw;
    rules_range_t r[RULES_MAX_RANGES];   /* sorted, overlaps merged */
    unsigned n;
    rules_pos_t pos;                     /* of the weekday key */
} rules_weekday_t;

/* Expanded hours: see hours.c. */
typedef struct {
    int64_t at;  /* from this instant (UTC) ... */
    int32_t off; /* ... local time is UTC + off seconds */
} rules_zone_tr_t;

typedef struct {
    uint32_t open, close; /* seconds after the day's start; open <= close */
} rules_ival_t;

#define RULES_DAY_INLINE 2 /* intervals kept in the day itself */

/* 32 bytes, two to a cache line: a day with one or two ranges (the usual
 * case, lunch included) is read with one cache miss. */
typedef struct {
    int64_t start;   /* UTC instant of the local date's first second */
    uint32_t date;   /* YYYYMMDD */
    uint8_t n;       /* intervals (0 on closed weekdays and holidays) */
    uint8_t wday;    /* 0 = Monday ... 6 = Sunday */
    uint8_t holiday;
    uint8_t pad;
    union {
        rules_ival_t iv[RULES_DAY_INLINE]; /* n <= RULES_DAY_INLINE */
        uint32_t first; /* else: index of the first in rules_site_t.ivals */
    } u;
} rules_day_t;

_Static_assert(sizeof(rules_day_t) == 32, "two days per cache line");

static inline const rules_ival_t *rules_day_ivals(const rules_day_t *d,
                                                  const rules_ival_t *ivals)
{
    return d->n <= RULES_DAY_INLINE ? d->u.iv : ivals + d->u.first;
}

typedef struct {
    uint32_t date;   /* YYYYMMDD */
    bool one_off;    /* from closed_dates (wording only) */
    rules_pos_t pos;
} rules_date_t;

typedef struct {
    /* read for every site of a chain: kept together, first */
    rules_day_t *days;   /* NULL when hours were not expanded or there
                            is neither hours nor a date */
    size_t ndays;
    int64_t days_start;  /* days[0].start */
    int64_t days_end;    /* first instant after the last day */
    rules_ival_t *ivals; /* of days with more than RULES_DAY_INLINE */
    char *id;            /* [a-z0-9_-]{1,32}, unique in the snapshot */
    int strategy;        /* rules_strategy_t */
    unsigned min_level;  /* 1-5 */
    bool closed;
    bool has_hours;      /* "hours:" given (even empty) */
    bool has_dates;      /* holidays or closed_dates given */

    /* read for the called site */
    char *default_skill;
    char *fallback;      /* sip: or sips: URI */
    unsigned max_contacts;
    int caller_aware;    /* -1 unset (group's), 0, 1 */
    int mode;            /* rules_fwd_mode_t; unset: the file's */
    unsigned caller_window_s;
    size_t group;        /* index into rules_t.groups */
    rules_route_t lunch, after_hours, holiday;
    rules_step_t overflow[RULES_MAX_OVERFLOW];
    unsigned noverflow;
    size_t nivals;
    rules_zone_tr_t *zone; /* NULL when not expanded */
    size_t nzone;
    int64_t zone_from, zone_to; /* the horizon: local times outside it
                                   are unknown */
    rules_menu_t menu[RULES_MAX_MENU]; /* see rules_menu_slot() */

    /* read by explain and lint */
    char *name;          /* display name, NULL when not given */
    char *timezone;      /* IANA name */
    rules_did_t *dids;
    size_t ndids;
    rules_weekday_t week[7];
    rules_date_t *dates; /* holidays and closed_dates, as written */
    size_t ndates;
    unsigned line;       /* where the site starts in the file, 1-based */
    rules_pos_t default_skill_pos, menu_pos, hours_pos, closed_pos,
        overflow_pos, caller_aware_pos, strategy_pos;
    rules_trust_t trusted; /* its own, besides its group's and the file's */
} rules_site_t;

struct rules {
    atomic_uint refs;
    unsigned version;
    char *option_header; /* NULL: options come only from the Request-URI */
    char *option_sep;    /* never NULL once loaded */
    size_t option_sep_len;
    rules_group_t *groups;
    size_t ngroups;
    rules_site_t *sites;
    size_t nsites;
    rules_pool_t *pools;
    size_t npools;
    rules_index_t dids;
    int mode;            /* rules_fwd_mode_t; unset: redirect */
    bool any_forward;    /* some route forwards (set at load) */
    bool has_key;
    bool expanded;       /* loaded with a reference time */
    rules_trust_t trusted;   /* the file's: every site's */
    rules_cidr_t *any_trusted; /* every list's blocks together: a source
                                  none of them holds is nobody's trunk */
    size_t nany_trusted;
    bool trust_given;    /* some "trusted:" is written: strangers are
                            refused (none: every source routes) */
    int strangers;       /* rules_strangers_t */
    rules_pos_t strangers_pos;
    SHA256_CTX hmac_in, hmac_out; /* HMAC inner and outer states, keyed
                                     once at load, copied per hash */
};

/* ---------------------------------------------------------------------- */
/* Shared helpers                                                         */

/* Slot of menu option <c> in rules_site_t.menu: '0'-'9' -> 0-9, '*' -> 10,
 * '#' -> 11, anything else -> -1. */
static inline int rules_menu_slot(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c == '*')
        return 10;
    if (c == '#')
        return 11;
    return -1;
}

static inline char rules_menu_key(int slot)
{
    return slot < 10 ? (char)('0' + slot) : slot == 10 ? '*' : '#';
}

/* Characters a person may write inside a phone number; they carry no
 * meaning and are dropped. */
static inline bool rules_is_did_punct(char c)
{
    return c == '+' || c == ' ' || c == '-' || c == '(' || c == ')' ||
           c == '.';
}

/* Normalise the phone number <s>/<n> into <out> (RULES_DID_MAX bytes, not
 * NUL-terminated). Used at load and for every request, so "+1 (512)
 * 555-0100" and "15125550100" meet. Returns the number of digits, 0 when
 * there is none, -1 on a character that is neither a digit nor
 * punctuation, -2 when longer than RULES_DID_MAX digits. */
static inline int rules_did_normalise(const char *s, size_t n,
                                      char out[RULES_DID_MAX])
{
    int len = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9') {
            if (len == RULES_DID_MAX)
                return -2;
            out[len++] = c;
        } else if (!rules_is_did_punct(c)) {
            return -1;
        }
    }
    return len;
}

/* FNV-1a: short keys, no allocation, good enough spread for digits. */
static inline uint64_t rules_hash(const char *s, size_t n)
{
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* The slot holding <s>/<n>, or NULL. Safe on an empty index. */
static inline const rules_slot_t *rules_index_find(const rules_index_t *ix,
                                                   const char *s, size_t n)
{
    if (ix->cap == 0)
        return NULL;
    uint64_t h = rules_hash(s, n);
    size_t mask = ix->cap - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        const rules_slot_t *sl = &ix->slots[i];
        if (!sl->key)
            return NULL;
        if (sl->hash == h && sl->len == n && memcmp(sl->key, s, n) == 0)
            return sl;
    }
}

/* ---------------------------------------------------------------------- */
/* hours.c                                                                */

/* Days since 1970-01-01 of a proleptic Gregorian date, and back. */
int64_t rules_days_from_civil(int y, unsigned m, unsigned d);
void rules_civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d);

/* Where a site stands at one instant. */
typedef struct {
    rules_period_t period;
    const rules_day_t *day; /* the local day, NULL when unknown */
    int range;              /* OPEN: index (into week[].r) of the range;
                               LUNCH: of the range before the gap; -1 */
    bool unknown;           /* the site has hours or dates, but not
                               expanded for this instant: counted as open */
} rules_when_t;

/* Period of <s> at <now>: a direct index into its days (days are a day
 * apart, but for DST days), then a scan of that day's few intervals. Pure,
 * no allocation. */
void rules_site_when(const rules_site_t *s, int64_t now, rules_when_t *w);

/* Local wall-clock seconds since 1970 (as if UTC) of <now> at <s>; false
 * when <now> is outside the expanded zone. */
bool rules_site_local(const rules_site_t *s, int64_t now, int64_t *local);

/* Compute every site's zone, days and intervals for the horizon around
 * <now>. Main thread, at load: switches TZ under a lock. Returns 0 or
 * -ENOMEM. */
int rules_hours_expand(rules_t *r, int64_t now);

/* ---------------------------------------------------------------------- */
/* callerhash.c                                                           */

/* Normalise a caller number to digits (phone punctuation dropped, user
 * parameters after ';' ignored). Returns the number of digits, or 0 when
 * <s>/<n> is not a phone number. */
int rules_caller_digits(const char *s, size_t n, char out[RULES_DID_MAX]);

/* Key the snapshot's HMAC state (at load). 0, or -1 when libsodium
 * cannot start. */
int rules_caller_key_set(rules_t *r, const unsigned char *key, size_t len);

/* The truncated HMAC of <digits>/<len> with the snapshot's key. */
void rules_caller_digest(const rules_t *r, const char *digits, size_t len,
                         uint8_t out[RULES_HASH_BYTES]);

void rules_caller_hex(const uint8_t d[RULES_HASH_BYTES],
                      char out[RULES_CALLER_HASH_LEN + 1]);

/* Are the normalised caller digits <digits>/<len> on group <g>'s priority
 * list? One probe of its index; no hashing with the caller key. */
static inline bool rules_group_is_priority(const rules_group_t *g,
                                           const char *digits, size_t len)
{
    return rules_index_find(&g->prio_ix, digits, len) != NULL;
}

/* ---------------------------------------------------------------------- */
/* eval.c: the evaluation, with a trace for explain.c                     */

typedef enum {
    RULES_MODE_REJECT = 0,
    RULES_MODE_DID_TO,     /* single-destination number */
    RULES_MODE_CLOSED,     /* closed: true */
    RULES_MODE_PERIOD_URI, /* lunch/after hours/holiday straight to a URI */
    RULES_MODE_OVERFLOW,   /* period route "overflow": own staff skipped */
    RULES_MODE_NORMAL,     /* own staff first, then the overflow steps */
} rules_mode_t;

typedef enum {
    RULES_OPT_NONE = 0,  /* no option: default skill */
    RULES_OPT_KNOWN,     /* option in the menu */
    RULES_OPT_UNKNOWN,   /* option not in the menu: default skill */
    RULES_OPT_DEDICATED, /* a dedicated line: its skill, no menu */
} rules_opt_kind_t;

/* Why an overflow step is or is not in the chain. */
typedef enum {
    RULES_STEP_USED = 0,
    RULES_STEP_SITE_CLOSED,  /* closed: true */
    RULES_STEP_SITE_PERIOD,  /* closed, at lunch or on holiday now */
} rules_step_state_t;

typedef struct {
    const rules_site_t *site;
    const rules_did_t *did;
    rules_when_t when;
    rules_opt_kind_t opt_kind;
    span_t opt;
    int slot;                   /* RULES_OPT_KNOWN: menu slot */
    const rules_route_t *route; /* RULES_MODE_PERIOD_URI/OVERFLOW */
    rules_mode_t mode;
    rules_step_state_t steps[RULES_MAX_OVERFLOW];
    rules_when_t step_when[RULES_MAX_OVERFLOW];
    bool caller_aware_site;     /* the site is caller-aware */
    bool have_caller;           /* the request has a caller number;
                                   only looked at when the group has
                                   priority callers or the site is
                                   caller-aware */
} rules_trace_t;

/* rules_eval(), also filling <t> when not NULL. */
void rules_eval_trace(const rules_t *r, const rules_req_t *req, time_t now,
                      plan_t *plan, rules_trace_t *t);

#endif
