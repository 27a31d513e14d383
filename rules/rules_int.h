/* rules_int.h -- internals shared by the files of rules/ (config.c, eval.c).
 *
 * Not part of the contract: nothing outside rules/ includes this. A snapshot
 * is written only by config.c while it is being built, then never again, so
 * eval.c reads it from any thread without locks. New routing kinds (hours,
 * overflow, caller-aware) add fields to rules_site_t; the walker tables in
 * config.c say which YAML key fills which field.
 */
#ifndef FRONTDESK_RULES_INT_H
#define FRONTDESK_RULES_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "rules.h"

#define RULES_DID_MAX 32   /* digits of a normalised DID (E.164 needs 15) */
#define RULES_IDENT_MAX 32 /* bytes of a site id or a skill name */
#define RULES_SEP_MAX 4    /* bytes of option_separator */

/* Snapshot layout. Sites of one group are contiguous; indexes, not pointers,
 * link the parts so the arrays may grow while the file is read.
 *
 *   rules_t
 *   |- option_header, option_sep
 *   |- groups[ngroups]  { name, first_site, nsites }
 *   |                        |
 *   |- sites[nsites]    { id, timezone, dids[], default_skill,
 *   |                     menu[slot] -> skill, max_contacts, fallback,
 *   |                     closed, group -> groups[] }
 *   `- dids             hash index: normalised digits -> site index;
 *                        keys borrow the strings of sites[].dids[]
 */

/* A string -> index map with open addressing and linear probing. It never
 * owns its keys. Filled at load, read-only afterwards; cap is a power of two
 * kept at least twice count, so a probe always meets an empty slot. */
typedef struct {
    const char *key; /* NULL marks an empty slot */
    uint32_t len;
    uint32_t val;
    uint64_t hash;
} rules_slot_t;

typedef struct {
    rules_slot_t *slots;
    size_t cap;
    size_t count;
} rules_index_t;

typedef struct {
    char *name;
    size_t first_site; /* index into rules_t.sites */
    size_t nsites;
} rules_group_t;

typedef struct {
    char *id;            /* [a-z0-9_-]{1,32}, unique in the snapshot */
    char *name;          /* display name, NULL when not given */
    char *timezone;      /* IANA name, unused until hours exist */
    char **dids;         /* normalised, digits only */
    size_t ndids;
    char *default_skill;
    char *menu[RULES_MAX_MENU]; /* skill per option, see rules_menu_slot() */
    unsigned max_contacts;
    char *fallback;      /* sip: or sips: URI */
    bool closed;
    size_t group;        /* index into rules_t.groups */
    unsigned line;       /* where the site starts in the file, 1-based */
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
    rules_index_t dids;
};

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

#endif
