/* config.c -- rules_load(): a YAML rules file in, an immutable snapshot out.
 *
 * Files: config_int.h. libyaml parses the text into a node tree whose nodes carry their line and
 * column. A small declarative walker then maps each YAML mapping onto a
 * struct through a table of known keys, so unknown, duplicate, missing and
 * mistyped keys are caught in one place, with their position. Checks across
 * values (a DID claimed twice, a site id used twice) run as each value is
 * read, so the error reported is the first one met reading down the file;
 * references between sites (overflow steps, group defaults) are resolved
 * when their group has been read.
 *
 * Runs off the hot path (start, reload): it allocates freely, stat()s the
 * time zone database and, through hours.c, switches TZ under a lock to
 * expand opening hours; nothing here is shared with rules_eval() but the
 * finished snapshot.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "config_int.h"

/* ---------------------------------------------------------------------- */
/* Load state and error reports                                           */


static void report_init(rules_report_t *rep, const char *file)
{
    memset(rep, 0, sizeof(*rep));
    snprintf(rep->file, sizeof(rep->file), "%s", file);
}

/* Fill <rep> with <line>:<col> (1-based, 0 when not applicable) and the
 * message <prefix><fmt...>. Returns -EINVAL, the code of bad content. */
static int report_v(rules_report_t *rep, size_t line, size_t col,
                    const char *prefix, const char *fmt, va_list ap)
{
    size_t off = strlen(prefix);

    if (off >= sizeof(rep->msg))
        off = sizeof(rep->msg) - 1;
    memcpy(rep->msg, prefix, off);
    rep->msg[off] = '\0';
    vsnprintf(rep->msg + off, sizeof(rep->msg) - off, fmt, ap);
    rep->line = (unsigned)line;
    rep->col = (unsigned)col;
    return -EINVAL;
}

__attribute__((format(printf, 4, 5)))
static int report_at(rules_report_t *rep, size_t line, size_t col,
                     const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = report_v(rep, line, col, "", fmt, ap);
    va_end(ap);
    return rc;
}

int cfg_report_nomem(rules_report_t *rep)
{
    report_at(rep, 0, 0, "out of memory");
    return -ENOMEM;
}

/* An error about node <at>, prefixed with the group/site being read. */
__attribute__((format(printf, 3, 4)))
int cfg_load_fail(load_t *ld, const yaml_node_t *at, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = report_v(ld->rep, at->start_mark.line + 1, at->start_mark.column + 1,
                  ld->ctx, fmt, ap);
    va_end(ap);
    return rc;
}

/* Same without the prefix, for messages that name their sites themselves. */
__attribute__((format(printf, 3, 4)))
int cfg_load_fail_bare(load_t *ld, const yaml_node_t *at,
                       const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = report_v(ld->rep, at->start_mark.line + 1, at->start_mark.column + 1,
                  "", fmt, ap);
    va_end(ap);
    return rc;
}

/* libyaml reader errors (bad UTF-8, control characters) carry only a byte
 * offset: turn it into a line and column of <buf>. */
static void offset_to_mark(const char *buf, size_t len, size_t offset,
                           size_t *line, size_t *col)
{
    size_t l = 1, c = 1;

    for (size_t i = 0; i < offset && i < len; i++) {
        if (buf[i] == '\n') {
            l++;
            c = 1;
        } else {
            c++;
        }
    }
    *line = l;
    *col = c;
}

static int fail_syntax(rules_report_t *rep, const yaml_parser_t *p,
                       const char *buf, size_t len)
{
    const char *problem = p->problem ? p->problem : "cannot parse";
    size_t line, col;

    if (p->error == YAML_MEMORY_ERROR)
        return cfg_report_nomem(rep);
    if (p->error == YAML_READER_ERROR) {
        offset_to_mark(buf, len, p->problem_offset, &line, &col);
    } else {
        line = p->problem_mark.line + 1;
        col = p->problem_mark.column + 1;
    }
    if (p->context)
        return report_at(rep, line, col,
                         "YAML syntax error: %s (%s at line %zu, col %zu)",
                         problem, p->context, p->context_mark.line + 1,
                         p->context_mark.column + 1);
    return report_at(rep, line, col, "YAML syntax error: %s", problem);
}

/* ---------------------------------------------------------------------- */
/* Small helpers: growing arrays, the string index                        */

/* <arr> with room for at least <n> + 1 elements of <size>, or NULL (then
 * <arr> is untouched and still owned by the caller). */
static void *grow(void *arr, size_t *cap, size_t n, size_t size)
{
    size_t ncap;
    void *p;

    if (n < *cap)
        return arr;
    ncap = *cap ? *cap * 2 : 4;
    p = realloc(arr, ncap * size);
    if (!p)
        return NULL;
    *cap = ncap;
    return p;
}

static void index_insert(rules_slot_t *slots, size_t cap,
                         const rules_slot_t *sl)
{
    size_t mask = cap - 1;
    size_t i = (size_t)sl->hash & mask;

    while (slots[i].key)
        i = (i + 1) & mask;
    slots[i] = *sl;
}

static int index_grow(rules_index_t *ix)
{
    size_t ncap = ix->cap ? ix->cap * 2 : 16;
    rules_slot_t *ns = calloc(ncap, sizeof(*ns));

    if (!ns)
        return -ENOMEM;
    for (size_t i = 0; i < ix->cap; i++)
        if (ix->slots[i].key)
            index_insert(ns, ncap, &ix->slots[i]);
    free(ix->slots);
    ix->slots = ns;
    ix->cap = ncap;
    return 0;
}

/* Map <key>/<len> (borrowed, must outlive the index) to <val>. Returns 0
 * when added, 1 when the key was already there (its value in *<have>),
 * -ENOMEM. */
int cfg_index_put2(rules_index_t *ix, const char *key, size_t len,
                   uint32_t val, uint32_t aux, uint32_t *have)
{
    const rules_slot_t *old = rules_index_find(ix, key, len);
    rules_slot_t sl = {
        .key = key, .len = (uint32_t)len, .val = val, .aux = aux,
        .hash = rules_hash(key, len),
    };

    if (old) {
        *have = old->val;
        return 1;
    }
    if ((ix->count + 1) * 2 > ix->cap && index_grow(ix) < 0)
        return -ENOMEM;
    index_insert(ix->slots, ix->cap, &sl);
    ix->count++;
    return 0;
}

int cfg_index_put(rules_index_t *ix, const char *key, size_t len,
                  uint32_t val, uint32_t *have)
{
    return cfg_index_put2(ix, key, len, val, 0, have);
}

rules_pos_t cfg_node_pos(const yaml_node_t *n)
{
    rules_pos_t p = { (unsigned)n->start_mark.line + 1,
                      (unsigned)n->start_mark.column + 1 };
    return p;
}

/* ---------------------------------------------------------------------- */
/* Scalars                                                                */

const char *cfg_scalar_text(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

size_t cfg_scalar_len(const yaml_node_t *n)
{
    return n->data.scalar.length;
}

bool cfg_scalar_is(const yaml_node_t *n, const char *s)
{
    size_t len = strlen(s);

    return n->type == YAML_SCALAR_NODE && cfg_scalar_len(n) == len &&
           memcmp(cfg_scalar_text(n), s, len) == 0;
}

/* YAML's null: an empty or "~"/"null" plain scalar ("key:" with nothing). */
static bool node_is_null(const yaml_node_t *n)
{
    static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };

    if (n->type != YAML_SCALAR_NODE ||
        n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
        if (cfg_scalar_is(n, nulls[i]))
            return true;
    return false;
}

const char *cfg_node_kind(const yaml_node_t *n)
{
    if (n->type == YAML_SEQUENCE_NODE)
        return "a list";
    if (n->type == YAML_MAPPING_NODE)
        return "a mapping";
    return node_is_null(n) ? "nothing" : "a single value";
}

/* Node <n> must be a list or a mapping (<type>); <label> names it. */
int cfg_want(load_t *ld, const char *label, const yaml_node_t *n,
             yaml_node_type_t type)
{
    if (n->type == type)
        return 0;
    return cfg_load_fail(ld, n, "%s: expected %s, found %s", label,
                         type == YAML_SEQUENCE_NODE ? "a list" : "a mapping",
                         cfg_node_kind(n));
}

int cfg_want_scalar(load_t *ld, const char *label, const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE)
        return cfg_load_fail(ld, n, "%s: expected a single value, found %s",
                             label, cfg_node_kind(n));
    if (node_is_null(n))
        return cfg_load_fail(ld, n, "%s has no value", label);
    return 0;
}

/* Copy scalar <n> into a new string in *<out>: at most <max> bytes, no
 * control characters (they would end up in SIP headers and log lines). */
int cfg_scalar_dup(load_t *ld, const char *label, const yaml_node_t *n,
                   size_t max, char **out)
{
    const char *s;
    size_t len;
    char *p;
    int rc;

    if ((rc = cfg_want_scalar(ld, label, n)) < 0)
        return rc;
    s = cfg_scalar_text(n);
    len = cfg_scalar_len(n);
    if (len == 0)
        return cfg_load_fail(ld, n, "%s has no value", label);
    if (len > max)
        return cfg_load_fail(ld, n, "%s is too long (at most %zu characters)",
                             label, max);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return cfg_load_fail(ld, n, "%s contains a control character",
                                 label);
    if (!(p = malloc(len + 1)))
        return cfg_report_nomem(ld->rep);
    memcpy(p, s, len);
    p[len] = '\0';
    *out = p;
    return 0;
}

static int scalar_uint(load_t *ld, const char *label, const yaml_node_t *n,
                       unsigned min, unsigned max, unsigned *out)
{
    unsigned long v = 0;
    size_t len;
    int rc;

    if ((rc = cfg_want_scalar(ld, label, n)) < 0)
        return rc;
    len = cfg_scalar_len(n);
    for (size_t i = 0; i < len; i++) {
        char c = cfg_scalar_text(n)[i];
        if (c < '0' || c > '9')
            return cfg_load_fail(ld, n, "%s must be a whole number", label);
        if (v <= max) /* past max it is out of range anyway: stop growing */
            v = v * 10 + (unsigned long)(c - '0');
    }
    if (v < min || v > max)
        return cfg_load_fail(ld, n, "%s must be between %u and %u", label, min,
                             max);
    *out = (unsigned)v;
    return 0;
}

/* YAML 1.1 booleans, as libyaml's users expect: true/false, yes/no, on/off,
 * in any case. */
int cfg_scalar_bool(load_t *ld, const char *label, const yaml_node_t *n,
                    bool *out)
{
    static const char *const yes[] = { "true", "yes", "on" };
    static const char *const no[] = { "false", "no", "off" };
    char word[8];
    size_t len;
    int rc;

    if ((rc = cfg_want_scalar(ld, label, n)) < 0)
        return rc;
    len = cfg_scalar_len(n);
    if (len < sizeof(word)) {
        memcpy(word, cfg_scalar_text(n), len);
        word[len] = '\0';
        for (size_t i = 0; i < 3; i++) {
            if (strcasecmp(word, yes[i]) == 0) {
                *out = true;
                return 0;
            }
            if (strcasecmp(word, no[i]) == 0) {
                *out = false;
                return 0;
            }
        }
    }
    return cfg_load_fail(ld, n, "%s must be true or false", label);
}

/* ---------------------------------------------------------------------- */
/* The walker: one table of known keys per kind of mapping                */


static int walk_value(load_t *ld, const walk_field_t *f, yaml_node_t *n,
                      void *obj)
{
    char *at = (char *)obj + f->offset;
    int rc;

    if (f->flags & WF_POS)
        *(rules_pos_t *)(void *)((char *)obj + f->pos) = cfg_node_pos(ld->key);

    switch (f->kind) {
    case WK_STRING: {
        char *s = NULL;
        if ((rc = cfg_scalar_dup(ld, f->key, n, f->max, &s)) < 0)
            return rc;
        *(char **)at = s; /* stored first: the destructor frees it */
        return f->check ? f->check(ld, f, n, s) : 0;
    }
    case WK_UINT:
        return scalar_uint(ld, f->key, n, f->min, f->max, (unsigned *)at);
    case WK_BOOL:
        return cfg_scalar_bool(ld, f->key, n, (bool *)at);
    case WK_CUSTOM:
        return f->parse(ld, f, n, obj);
    }
    return -EINVAL;
}

static int fail_unknown_key(load_t *ld, const walk_map_t *m,
                            const yaml_node_t *k)
{
    char keys[400];
    size_t off = 0;

    keys[0] = '\0';
    for (size_t i = 0; i < m->nfields && off < sizeof(keys); i++) {
        int n = snprintf(keys + off, sizeof(keys) - off, "%s%s",
                         i ? ", " : "", m->fields[i].key);
        if (n < 0)
            break;
        off += (size_t)n;
    }
    return cfg_load_fail(ld, k, "unknown key \"%.*s\" %s (expected one of: %s)",
                         (int)(cfg_scalar_len(k) > 40 ? 40 : cfg_scalar_len(k)),
                         cfg_scalar_text(k), m->where, keys);
}

/* Read mapping <node> into <obj> following table <m>. Order of checks, so
 * that the first error down the file is the one reported: every key must be
 * known and appear once; WF_FIRST fields; missing required keys (reported
 * at the mapping's first line); then the values in the order written. */
int cfg_walk_mapping(load_t *ld, const walk_map_t *m, yaml_node_t *node,
                     void *obj)
{
    yaml_node_t *val[WALK_MAX_FIELDS] = { 0 };
    yaml_node_t *key[WALK_MAX_FIELDS] = { 0 };
    size_t order[WALK_MAX_FIELDS];
    size_t norder = 0;
    char saved[sizeof(ld->ctx)];
    bool named = false;
    int rc;

    if (node->type != YAML_MAPPING_NODE)
        return cfg_load_fail(ld, node, "%s: expected a mapping, found %s",
                             m->what, cfg_node_kind(node));

    /* A mapping that names itself (WF_NAMES: a site's id, a group's name)
     * gets its own prefix once the name is known; the others (a menu
     * option, an overflow step) keep their parent's. The parent's is
     * restored on the way out. */
    for (size_t i = 0; i < m->nfields; i++)
        named |= (m->fields[i].flags & WF_NAMES) != 0;
    memcpy(saved, ld->ctx, sizeof(saved));
    if (named)
        ld->ctx[0] = '\0';

    for (yaml_node_pair_t *p = node->data.mapping.pairs.start;
         p < node->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(ld->doc, p->key);
        size_t i;

        if (k->type != YAML_SCALAR_NODE) {
            rc = cfg_load_fail(ld, k, "keys %s must be plain words, found %s",
                               m->where, cfg_node_kind(k));
            goto out;
        }
        for (i = 0; i < m->nfields; i++)
            if (cfg_scalar_is(k, m->fields[i].key))
                break;
        if (i == m->nfields) {
            rc = fail_unknown_key(ld, m, k);
            goto out;
        }
        if (val[i]) {
            rc = cfg_load_fail(ld, k, "duplicate key \"%s\" %s",
                               m->fields[i].key, m->where);
            goto out;
        }
        val[i] = yaml_document_get_node(ld->doc, p->value);
        key[i] = k;
        order[norder++] = i;
    }

    for (size_t i = 0; i < m->nfields; i++) {
        const walk_field_t *f = &m->fields[i];
        if (!(f->flags & WF_FIRST))
            continue;
        if (!val[i])
            continue; /* reported as missing below if required */
        ld->key = key[i];
        if ((rc = walk_value(ld, f, val[i], obj)) < 0)
            goto out;
    }

    for (size_t i = 0; i < m->nfields; i++) {
        const walk_field_t *f = &m->fields[i];
        if (val[i] || !(f->flags & WF_REQUIRED))
            continue;
        if (named && ld->ctx[0])
            rc = cfg_load_fail(ld, node, "missing required key \"%s\"", f->key);
        else
            rc = cfg_load_fail(ld, node, "%s is missing required key \"%s\"",
                               m->subject, f->key);
        goto out;
    }

    for (size_t j = 0; j < norder; j++) {
        const walk_field_t *f = &m->fields[order[j]];
        if (f->flags & WF_FIRST)
            continue;
        ld->key = key[order[j]];
        if ((rc = walk_value(ld, f, val[order[j]], obj)) < 0)
            goto out;
    }
    rc = 0;
out:
    memcpy(ld->ctx, saved, sizeof(saved));
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Trusted sources                                                        */

/* One block of a "trusted:" list: "ADDR" or "ADDR/BITS", IPv4 or IPv6
 * (no brackets), host bits zero. */
static int parse_cidr(load_t *ld, const char *key, const yaml_node_t *n,
                      rules_cidr_t *c)
{
    char text[INET6_ADDRSTRLEN + 8], addr[INET6_ADDRSTRLEN];
    size_t len = cfg_scalar_len(n);
    const char *slash;
    unsigned bits, max;
    int rc;

    if ((rc = cfg_want_scalar(ld, key, n)) < 0)
        return rc;
    if (len == 0 || len >= sizeof(text))
        return cfg_load_fail(ld, n, "%s: \"%.*s\" is not an address or an "
                             "address block (e.g. 192.0.2.10, 10.1.0.0/16, "
                             "2001:db8::/32)", key, (int)(len > 60 ? 60 : len),
                             cfg_scalar_text(n));
    memcpy(text, cfg_scalar_text(n), len);
    text[len] = '\0';
    memset(c, 0, sizeof(*c));
    c->pos = cfg_node_pos(n);
    slash = strchr(text, '/');
    size_t al = slash ? (size_t)(slash - text) : len;
    if (al >= sizeof(addr))
        goto bad;
    memcpy(addr, text, al);
    addr[al] = '\0';
    if (inet_pton(AF_INET, addr, c->addr) == 1) {
        c->family = AF_INET;
        max = 32;
    } else if (inet_pton(AF_INET6, addr, c->addr) == 1) {
        c->family = AF_INET6;
        max = 128;
    } else {
        goto bad;
    }
    bits = max;
    if (slash) {
        char *end;
        unsigned long v;
        if (!slash[1] || slash[1] < '0' || slash[1] > '9')
            goto bad;
        v = strtoul(slash + 1, &end, 10);
        if (*end || v > max)
            goto bad;
        bits = (unsigned)v;
    }
    c->bits = (uint8_t)bits;
    for (unsigned i = bits; i < max; i++)
        if (c->addr[i / 8] & (0x80u >> (i % 8)))
            return cfg_load_fail(ld, n, "%s: %s has bits set past its "
                                 "prefix /%u: write the block's first "
                                 "address", key, text, bits);
    return 0;
bad:
    return cfg_load_fail(ld, n, "%s: \"%s\" is not an address or an address "
                         "block (e.g. 192.0.2.10, 10.1.0.0/16, 2001:db8::/32)",
                         key, text);
}

int cfg_parse_trusted(load_t *ld, const walk_field_t *f, yaml_node_t *n,
                      void *obj)
{
    rules_trust_t *t = (rules_trust_t *)(void *)((char *)obj + f->offset);
    size_t count;
    int rc;

    if ((rc = cfg_want(ld, f->key, n, YAML_SEQUENCE_NODE)) < 0)
        return rc;
    count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (count > RULES_TRUST_MAX)
        return cfg_load_fail(ld, n, "%s: at most %u address blocks", f->key,
                             RULES_TRUST_MAX);
    t->given = true;
    t->pos = cfg_node_pos(ld->key);
    ld->r->trust_given = true;
    if (!count)
        return 0;
    if (!(t->v = calloc(count, sizeof(*t->v))))
        return cfg_report_nomem(ld->rep);
    for (yaml_node_item_t *it = n->data.sequence.items.start;
         it < n->data.sequence.items.top; it++) {
        yaml_node_t *item = yaml_document_get_node(ld->doc, *it);
        if ((rc = parse_cidr(ld, f->key, item, &t->v[t->n])) < 0)
            return rc;
        t->n++;
    }
    return 0;
}

static int parse_strangers(load_t *ld, const walk_field_t *f, yaml_node_t *n,
                           void *obj)
{
    rules_t *r = obj;
    int rc;

    if ((rc = cfg_want_scalar(ld, f->key, n)) < 0)
        return rc;
    r->strangers_pos = cfg_node_pos(n);
    if (cfg_scalar_is(n, "drop"))
        r->strangers = RULES_STRANGERS_DROP;
    else if (cfg_scalar_is(n, "reject"))
        r->strangers = RULES_STRANGERS_REJECT;
    else
        return cfg_load_fail(ld, n, "strangers \"%.*s\" must be drop or "
                             "reject",
                             (int)(cfg_scalar_len(n) > 40 ? 40 : cfg_scalar_len(n)),
                             cfg_scalar_text(n));
    return 0;
}

/* Every list's blocks in one array: rules_trusts() reads only that. */
static int gather_trusted(rules_t *r)
{
    size_t n = r->trusted.n;
    for (size_t i = 0; i < r->ngroups; i++)
        n += r->groups[i].trusted.n;
    for (size_t i = 0; i < r->nsites; i++)
        n += r->sites[i].trusted.n;
    if (!n)
        return 0;
    if (!(r->any_trusted = calloc(n, sizeof(*r->any_trusted))))
        return -ENOMEM;
#define GATHER(t)                                                             \
    do {                                                                      \
        memcpy(r->any_trusted + r->nany_trusted, (t).v,                       \
               (t).n * sizeof(*(t).v));                                       \
        r->nany_trusted += (t).n;                                             \
    } while (0)
    if (r->trusted.n)
        GATHER(r->trusted);
    for (size_t i = 0; i < r->ngroups; i++)
        if (r->groups[i].trusted.n)
            GATHER(r->groups[i].trusted);
    for (size_t i = 0; i < r->nsites; i++)
        if (r->sites[i].trusted.n)
            GATHER(r->sites[i].trusted);
#undef GATHER
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Groups, pools and the top level                                        */

static int parse_sites(load_t *ld, const walk_field_t *f, yaml_node_t *n,
                       void *obj)
{
    rules_group_t *g = obj;
    rules_t *r = ld->r;
    int rc;

    if ((rc = cfg_want(ld, f->key, n, YAML_SEQUENCE_NODE)) < 0)
        return rc;
    if (n->data.sequence.items.top == n->data.sequence.items.start)
        return cfg_load_fail(ld, n, "%s must list at least one site", f->key);
    g->first_site = r->nsites;
    for (yaml_node_item_t *it = n->data.sequence.items.start;
         it < n->data.sequence.items.top; it++) {
        yaml_node_t *item = yaml_document_get_node(ld->doc, *it);
        rules_site_t *sites, *site;

        sites = grow(r->sites, &ld->sites_cap, r->nsites, sizeof(*sites));
        if (!sites)
            return cfg_report_nomem(ld->rep);
        r->sites = sites;
        ld->site = r->nsites;
        site = &r->sites[r->nsites++]; /* counted now: freed on failure */
        memset(site, 0, sizeof(*site));
        site->max_contacts = 1;
        site->strategy = RULES_LONGEST_IDLE;
        site->min_level = 1;
        site->caller_aware = -1;
        for (int i = 0; i < RULES_MAX_MENU; i++)
            site->menu[i].strategy = RULES_NO_STRATEGY;
        site->group = ld->group;
        site->line = (unsigned)item->start_mark.line + 1;
        if ((rc = cfg_walk_mapping(ld, &cfg_site_map, item, site)) < 0)
            return rc;
        cfg_site_defaults(site);
        g->nsites++;
    }
    return 0;
}

static int check_pool_id(load_t *ld, const walk_field_t *f,
                         const yaml_node_t *n, const char *s)
{
    int rc;

    if ((rc = cfg_check_ident(ld, f->key, n, s)) < 0)
        return rc;
    if ((rc = cfg_register_id(ld, "pool", n, s,
                              (uint32_t)(ld->r->npools - 1) | CONFIG_POOL_BIT)) <
        0)
        return rc;
    snprintf(ld->ctx, sizeof(ld->ctx), "pool \"%s\": ", s);
    return 0;
}

static const walk_field_t pool_fields[] = {
    { .key = "id", .kind = WK_STRING,
      .flags = WF_REQUIRED | WF_FIRST | WF_NAMES,
      .offset = offsetof(rules_pool_t, id), .max = CONFIG_WORD_MAX,
      .check = check_pool_id },
    { .key = "name", .kind = WK_STRING,
      .offset = offsetof(rules_pool_t, name), .max = CONFIG_NAME_MAX },
};

static const walk_map_t pool_map = {
    .what = "pool", .subject = "pool", .where = "in pool",
    .fields = pool_fields,
    .nfields = sizeof(pool_fields) / sizeof(pool_fields[0]),
};

static int parse_pools(load_t *ld, const walk_field_t *f, yaml_node_t *n,
                       void *obj)
{
    rules_group_t *g = obj;
    rules_t *r = ld->r;
    int rc;

    if ((rc = cfg_want(ld, f->key, n, YAML_SEQUENCE_NODE)) < 0)
        return rc;
    g->first_pool = r->npools;
    for (yaml_node_item_t *it = n->data.sequence.items.start;
         it < n->data.sequence.items.top; it++) {
        yaml_node_t *item = yaml_document_get_node(ld->doc, *it);
        rules_pool_t *pools, *pool;

        pools = grow(r->pools, &ld->pools_cap, r->npools, sizeof(*pools));
        if (!pools)
            return cfg_report_nomem(ld->rep);
        r->pools = pools;
        pool = &r->pools[r->npools++];
        memset(pool, 0, sizeof(*pool));
        pool->group = ld->group;
        pool->pos = cfg_node_pos(item);
        if ((rc = cfg_walk_mapping(ld, &pool_map, item, pool)) < 0)
            return rc;
        g->npools++;
    }
    return 0;
}

/* priority_callers: numbers, kept as normalised digits in a hash index
 * (eval matches the caller's digits against it: no keyed hash per call).
 * They never leave the snapshot: neither they nor their hashes go to Redis
 * or the logs, and messages never repeat a number: they say which entry is
 * wrong. A caller key is still required, as documented: priority callers
 * are part of caller handling, which is keyed. */
static int parse_priority(load_t *ld, const walk_field_t *f, yaml_node_t *n,
                          void *obj)
{
    rules_group_t *g = obj;
    size_t count, k = 0;
    int rc;

    g->prio_pos = cfg_node_pos(ld->key);
    if (!ld->r->has_key)
        return cfg_load_fail(ld, ld->key, CONFIG_NEED_KEY);
    if ((rc = cfg_want(ld, f->key, n, YAML_SEQUENCE_NODE)) < 0)
        return rc;
    count = (size_t)(n->data.sequence.items.top -
                     n->data.sequence.items.start);
    if (count && !(g->prio = calloc(count, sizeof(*g->prio))))
        return cfg_report_nomem(ld->rep);
    for (yaml_node_item_t *it = n->data.sequence.items.start;
         it < n->data.sequence.items.top; it++) {
        yaml_node_t *item = yaml_document_get_node(ld->doc, *it);
        char *digits = g->prio[g->nprio];
        uint32_t have;
        int len;

        k++;
        if ((rc = cfg_want_scalar(ld, "priority caller", item)) < 0)
            return rc;
        len = rules_did_normalise(cfg_scalar_text(item), cfg_scalar_len(item),
                                  digits);
        if (len <= 0) {
            sodium_memzero(digits, RULES_DID_MAX);
            return cfg_load_fail(ld, item, "priority caller %zu is not a phone "
                                 "number (digits, spaces and + - ( ) . only, "
                                 "at most %d digits)", k, RULES_DID_MAX);
        }
        rc = cfg_index_put(&g->prio_ix, digits, (size_t)len, (uint32_t)g->nprio,
                           &have);
        if (rc < 0)
            return cfg_report_nomem(ld->rep);
        if (rc == 0) /* a number listed twice is kept once */
            g->nprio++;
        else
            sodium_memzero(digits, RULES_DID_MAX);
    }
    return 0;
}

static int parse_group_caller_aware(load_t *ld, const walk_field_t *f,
                                    yaml_node_t *n, void *obj)
{
    rules_group_t *g = obj;

    (void)f;
    return cfg_read_caller_aware(ld, n, &g->caller_aware, &g->caller_window_s,
                                 &g->caller_aware_pos);
}

static int check_group_name(load_t *ld, const walk_field_t *f,
                            const yaml_node_t *n, const char *s)
{
    uint32_t first;
    int rc;

    (void)f;
    rc = cfg_index_put(&ld->group_names, s, strlen(s), (uint32_t)ld->group,
                       &first);
    if (rc < 0)
        return cfg_report_nomem(ld->rep);
    if (rc == 1)
        return cfg_load_fail(ld, n, "group name \"%s\" is used twice", s);
    snprintf(ld->ctx, sizeof(ld->ctx), "group \"%.80s\": ", s);
    return 0;
}

static const walk_field_t group_fields[] = {
    { .key = "name", .kind = WK_STRING,
      .flags = WF_REQUIRED | WF_FIRST | WF_NAMES,
      .offset = offsetof(rules_group_t, name), .max = CONFIG_NAME_MAX,
      .check = check_group_name },
    { .key = "sites", .kind = WK_CUSTOM, .flags = WF_REQUIRED,
      .parse = parse_sites },
    { .key = "pools", .kind = WK_CUSTOM, .parse = parse_pools },
    { .key = "priority_callers", .kind = WK_CUSTOM,
      .parse = parse_priority },
    { .key = "caller_aware", .kind = WK_CUSTOM,
      .parse = parse_group_caller_aware },
    { .key = "trusted", .kind = WK_CUSTOM,
      .offset = offsetof(rules_group_t, trusted), .parse = cfg_parse_trusted },
};

_Static_assert(sizeof(group_fields) / sizeof(group_fields[0]) <=
                   WALK_MAX_FIELDS,
               "walk_mapping() keeps one slot per field");

static const walk_map_t group_map = {
    .what = "group", .subject = "group", .where = "in group",
    .fields = group_fields,
    .nfields = sizeof(group_fields) / sizeof(group_fields[0]),
};

/* Once group <gi> is read: point every overflow step at its site or pool,
 * and give sites the group's caller_aware default. */
int cfg_resolve_group(load_t *ld, size_t gi)
{
    rules_t *r = ld->r;
    rules_group_t *g = &r->groups[gi];

    for (size_t i = g->first_site; i < g->first_site + g->nsites; i++) {
        rules_site_t *s = &r->sites[i];

        snprintf(ld->ctx, sizeof(ld->ctx), "site \"%s\": ", s->id);
        if (s->caller_aware < 0) {
            s->caller_aware = g->caller_aware > 0;
            s->caller_window_s = g->caller_window_s;
        }
        for (unsigned k = 0; k < s->noverflow; k++) {
            rules_step_t *st = &s->overflow[k];
            const rules_slot_t *sl = rules_index_find(
                &ld->site_ids, st->target_id, strlen(st->target_id));
            bool is_pool = sl && (sl->val & CONFIG_POOL_BIT);
            uint32_t idx = sl ? sl->val & ~CONFIG_POOL_BIT : 0;
            size_t tgroup = !sl ? 0 : is_pool ? r->pools[idx].group
                                              : r->sites[idx].group;
            rules_report_t *rep = ld->rep;
            const char *what = st->pool ? "pool" : "site";

            if (!sl)
                return report_at(rep, st->target_pos.line,
                                 st->target_pos.col, "%soverflow: unknown "
                                 "%s \"%s\"", ld->ctx, what, st->target_id);
            if (is_pool != st->pool)
                return report_at(rep, st->target_pos.line,
                                 st->target_pos.col, "%soverflow: \"%s\" "
                                 "is a %s: write {%s: %s}", ld->ctx,
                                 st->target_id, is_pool ? "pool" : "site",
                                 is_pool ? "pool" : "site", st->target_id);
            if (tgroup != gi)
                return report_at(rep, st->target_pos.line,
                                 st->target_pos.col, "%soverflow: %s \"%s\" "
                                 "belongs to group \"%s\": a chain stays "
                                 "within its group", ld->ctx, what,
                                 st->target_id, r->groups[tgroup].name);
            if (!is_pool && idx == i)
                return report_at(rep, st->target_pos.line,
                                 st->target_pos.col, "%soverflow: \"%s\" is "
                                 "this site: its own staff are always "
                                 "tried first", ld->ctx, st->target_id);
            st->target = idx;
        }
    }
    ld->ctx[0] = '\0';
    return 0;
}

static int parse_groups(load_t *ld, const walk_field_t *f, yaml_node_t *n,
                        void *obj)
{
    rules_t *r = obj;
    int rc;

    if ((rc = cfg_want(ld, f->key, n, YAML_SEQUENCE_NODE)) < 0)
        return rc;
    if (n->data.sequence.items.top == n->data.sequence.items.start)
        return cfg_load_fail(ld, n, "%s must list at least one group", f->key);
    for (yaml_node_item_t *it = n->data.sequence.items.start;
         it < n->data.sequence.items.top; it++) {
        yaml_node_t *item = yaml_document_get_node(ld->doc, *it);
        rules_group_t *groups, *g;

        groups = grow(r->groups, &ld->groups_cap, r->ngroups,
                      sizeof(*groups));
        if (!groups)
            return cfg_report_nomem(ld->rep);
        r->groups = groups;
        ld->group = r->ngroups++;
        g = &r->groups[ld->group];
        memset(g, 0, sizeof(*g));
        g->caller_aware = -1;
        g->first_site = r->nsites;
        g->first_pool = r->npools;
        g->pos = cfg_node_pos(item);
        if ((rc = cfg_walk_mapping(ld, &group_map, item, g)) < 0)
            return rc;
        if ((rc = cfg_resolve_group(ld, ld->group)) < 0)
            return rc;
    }
    return 0;
}

static int parse_version(load_t *ld, const walk_field_t *f, yaml_node_t *n,
                         void *obj)
{
    rules_t *r = obj;
    int rc;

    if ((rc = cfg_want_scalar(ld, f->key, n)) < 0)
        return rc;
    if (!cfg_scalar_is(n, "1"))
        return cfg_load_fail(ld, n, "unsupported %s \"%.*s\" (this Frontdesk "
                             "reads version 1)", f->key,
                             (int)(cfg_scalar_len(n) > 20 ? 20 : cfg_scalar_len(n)),
                             cfg_scalar_text(n));
    r->version = 1;
    return 0;
}

/* A SIP header name is an RFC 3261 token. */
static int check_header_name(load_t *ld, const walk_field_t *f,
                             const yaml_node_t *n, const char *s)
{
    for (const char *p = s; *p; p++) {
        bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || strchr("-.!%*_+`'~", *p);
        if (!ok)
            return cfg_load_fail(ld, n, "%s must be a SIP header name such as "
                                 "X-Frontdesk-Option (letters, digits, \"-\")",
                                 f->key);
    }
    return 0;
}

/* The separator splits DID<sep>OPTION: anything that may be part of a
 * number would make that split ambiguous. */
static int check_separator(load_t *ld, const walk_field_t *f,
                           const yaml_node_t *n, const char *s)
{
    for (const char *p = s; *p; p++)
        if ((*p >= '0' && *p <= '9') || rules_is_did_punct(*p) ||
            (unsigned char)*p > 0x7e)
            return cfg_load_fail(ld, n, "%s \"%s\" must not contain digits, "
                                 "spaces or + - ( ) .", f->key, s);
    return 0;
}

static const walk_field_t top_fields[] = {
    { .key = "version", .kind = WK_CUSTOM, .flags = WF_REQUIRED,
      .parse = parse_version },
    { .key = "option_header", .kind = WK_STRING,
      .offset = offsetof(rules_t, option_header), .max = CONFIG_HEADER_MAX,
      .check = check_header_name },
    { .key = "option_separator", .kind = WK_STRING,
      .offset = offsetof(rules_t, option_sep), .max = RULES_SEP_MAX,
      .check = check_separator },
    { .key = "mode", .kind = WK_CUSTOM,
      .offset = offsetof(rules_t, mode), .parse = cfg_parse_mode },
    { .key = "trusted", .kind = WK_CUSTOM,
      .offset = offsetof(rules_t, trusted), .parse = cfg_parse_trusted },
    { .key = "strangers", .kind = WK_CUSTOM, .parse = parse_strangers },
    { .key = "groups", .kind = WK_CUSTOM, .flags = WF_REQUIRED,
      .parse = parse_groups },
};

_Static_assert(sizeof(top_fields) / sizeof(top_fields[0]) <= WALK_MAX_FIELDS,
               "walk_mapping() keeps one slot per field");

static const walk_map_t top_map = {
    .what = "top level", .subject = "the file", .where = "at top level",
    .fields = top_fields,
    .nfields = sizeof(top_fields) / sizeof(top_fields[0]),
};

/* ---------------------------------------------------------------------- */
/* Snapshot life cycle and the public entry points                        */

/* Frees a snapshot, complete or half-built by a failed load. */
static void rules_destroy(rules_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nsites; i++) {
        rules_site_t *s = &r->sites[i];
        free(s->id);
        free(s->name);
        free(s->timezone);
        for (size_t j = 0; j < s->ndids; j++) {
            free(s->dids[j].num);
            free(s->dids[j].to);
            free(s->dids[j].skill);
        }
        free(s->dids);
        free(s->default_skill);
        for (size_t j = 0; j < RULES_MAX_MENU; j++)
            free(s->menu[j].skill);
        free(s->fallback);
        for (unsigned j = 0; j < s->noverflow; j++) {
            free(s->overflow[j].target_id);
            free(s->overflow[j].skill);
        }
        free(s->lunch.own);
        free(s->after_hours.own);
        free(s->holiday.own);
        free(s->dates);
        free(s->zone);
        free(s->days);
        free(s->ivals);
        free(s->trusted.v);
    }
    free(r->sites);
    for (size_t i = 0; i < r->npools; i++) {
        free(r->pools[i].id);
        free(r->pools[i].name);
    }
    free(r->pools);
    for (size_t i = 0; i < r->ngroups; i++) {
        free(r->groups[i].name);
        if (r->groups[i].prio)
            sodium_memzero(r->groups[i].prio,
                           r->groups[i].nprio * sizeof(*r->groups[i].prio));
        free(r->groups[i].prio);
        free(r->groups[i].prio_ix.slots);
        free(r->groups[i].trusted.v);
    }
    free(r->trusted.v);
    free(r->any_trusted);
    free(r->groups);
    free(r->dids.slots);
    free(r->option_header);
    free(r->option_sep);
    sodium_memzero(&r->hmac_in, sizeof(r->hmac_in));
    sodium_memzero(&r->hmac_out, sizeof(r->hmac_out));
    free(r);
}

/* A second "---" document would be silently ignored by yaml_parser_load():
 * refuse it rather than route on half a file. */
static int check_single_document(rules_report_t *rep, yaml_parser_t *p,
                                 const char *buf, size_t len)
{
    yaml_document_t extra;
    yaml_mark_t at;
    bool more;

    if (!yaml_parser_load(p, &extra))
        return fail_syntax(rep, p, buf, len);
    more = yaml_document_get_root_node(&extra) != NULL;
    at = extra.start_mark;
    yaml_document_delete(&extra);
    if (more)
        return report_at(rep, at.line + 1, at.column + 1,
                         "only one YAML document is allowed, a second one "
                         "starts here");
    return 0;
}

static int load_buffer(const char *buf, size_t len,
                       const rules_load_opts_t *o, rules_report_t *rep,
                       rules_t **out)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_node_t *root;
    bool have_parser = false, have_doc = false;
    load_t ld = { .rep = rep };
    rules_t *r = NULL;
    int rc;

    if (!yaml_parser_initialize(&parser)) {
        rc = cfg_report_nomem(rep);
        goto done;
    }
    have_parser = true;
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    if (!yaml_parser_load(&parser, &doc)) {
        rc = fail_syntax(rep, &parser, buf, len);
        goto done;
    }
    have_doc = true;
    root = yaml_document_get_root_node(&doc);
    if (!root || node_is_null(root)) {
        rc = report_at(rep, 0, 0, "the file is empty: expected at least "
                       "\"version\" and \"groups\"");
        goto done;
    }
    if ((rc = check_single_document(rep, &parser, buf, len)) < 0)
        goto done;

    if (!(r = calloc(1, sizeof(*r)))) {
        rc = cfg_report_nomem(rep);
        goto done;
    }
    atomic_init(&r->refs, 1);
    if (o->caller_key) {
        if (o->caller_key_len < 16 || o->caller_key_len > 64) {
            rc = report_at(rep, 0, 0, "the caller key must be 16 to 64 "
                           "bytes (FRONTDESK_CALLER_KEY: 64 hex digits)");
            goto done;
        }
        if (rules_caller_key_set(r, o->caller_key, o->caller_key_len) < 0) {
            rc = report_at(rep, 0, 0, "cannot initialise libsodium");
            goto done;
        }
    }
    ld.doc = &doc;
    ld.r = r;
    if ((rc = cfg_walk_mapping(&ld, &top_map, root, r)) < 0)
        goto done;
    if (!r->option_sep && !(r->option_sep = strdup("*"))) {
        rc = cfg_report_nomem(rep);
        goto done;
    }
    r->option_sep_len = strlen(r->option_sep);
    if (o->now) {
        r->expanded = true;
        if (rules_hours_expand(r, (int64_t)o->now) < 0) {
            rc = cfg_report_nomem(rep);
            goto done;
        }
    }
    {
        const char *one[1];
        r->any_forward = rules_forward_uris(r, one, 1) > 0;
    }
    if (gather_trusted(r) < 0) {
        rc = cfg_report_nomem(rep);
        goto done;
    }
    *out = r;
    r = NULL;
    rc = 0;
done:
    rules_destroy(r);
    free(ld.site_ids.slots);
    free(ld.group_names.slots);
    if (have_doc)
        yaml_document_delete(&doc);
    if (have_parser)
        yaml_parser_delete(&parser);
    return rc;
}

static int report_errno(rules_report_t *rep, const char *what, int err)
{
    char buf[128];

    report_at(rep, 0, 0, "%s: %s", what, strerror_r(err, buf, sizeof(buf)));
    return -err;
}

/* Read all of <path> into a new buffer. Errors are reported in <rep>. */
static int read_file(const char *path, char **out, size_t *outlen,
                     rules_report_t *rep)
{
    struct stat st;
    char *buf = NULL;
    size_t len = 0, size;
    int fd, rc;

    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return report_errno(rep, "cannot open the rules file", errno);
    if (fstat(fd, &st) < 0) {
        rc = report_errno(rep, "cannot read the rules file", errno);
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = report_at(rep, 0, 0, "cannot read the rules file: not a "
                       "regular file");
        goto fail;
    }
    if (st.st_size > (off_t)CONFIG_FILE_MAX) {
        rc = report_at(rep, 0, 0, "the rules file is too large (more than "
                       "%u bytes)", CONFIG_FILE_MAX);
        goto fail;
    }
    size = (size_t)st.st_size;
    if (!(buf = malloc(size + 1))) {
        rc = cfg_report_nomem(rep);
        goto fail;
    }
    while (len < size) {
        ssize_t n = read(fd, buf + len, size - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = report_errno(rep, "cannot read the rules file", errno);
            goto fail;
        }
        if (n == 0)
            break; /* shrank under us: parse what is there */
        len += (size_t)n;
    }
    close(fd);
    *out = buf;
    *outlen = len;
    return 0;
fail:
    free(buf);
    close(fd);
    return rc;
}

int rules_load_opts(const char *path, const rules_load_opts_t *o,
                    rules_t **out, rules_report_t *rep)
{
    static const rules_load_opts_t defaults;
    rules_report_t scratch;
    char *buf = NULL;
    size_t len = 0;
    int rc;

    if (!rep)
        rep = &scratch;
    report_init(rep, path ? path : "");
    if (!path || !out)
        return report_at(rep, 0, 0, "no rules file given");
    if ((rc = read_file(path, &buf, &len, rep)) < 0)
        return rc;
    rc = load_buffer(buf, len, o ? o : &defaults, rep, out);
    free(buf);
    return rc;
}

int rules_load(const char *path, rules_t **out, rules_report_t *rep)
{
    return rules_load_opts(path, NULL, out, rep);
}

int rules_load_string_opts(const char *yaml, size_t len, const char *name,
                           const rules_load_opts_t *o, rules_t **out,
                           rules_report_t *rep)
{
    static const rules_load_opts_t defaults;
    rules_report_t scratch;

    if (!rep)
        rep = &scratch;
    report_init(rep, name ? name : "<string>");
    if ((!yaml && len) || !out)
        return report_at(rep, 0, 0, "no rules text given");
    return load_buffer(yaml ? yaml : "", len, o ? o : &defaults, rep, out);
}

int rules_load_string(const char *yaml, size_t len, const char *name,
                      rules_t **out, rules_report_t *rep)
{
    return rules_load_string_opts(yaml, len, name, NULL, out, rep);
}

rules_t *rules_ref(rules_t *r)
{
    if (r)
        atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
    return r;
}

/* acq_rel: the thread that frees must see every other thread's last reads
 * of the snapshot finished. */
void rules_unref(rules_t *r)
{
    if (r && atomic_fetch_sub_explicit(&r->refs, 1,
                                       memory_order_acq_rel) == 1)
        rules_destroy(r);
}

const char *rules_option_header(const rules_t *r)
{
    return r->option_header;
}

size_t rules_site_count(const rules_t *r)
{
    return r->nsites;
}

size_t rules_site_ids(const rules_t *r, const char **out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < r->nsites; i++, n++)
        if (n < cap) out[n] = r->sites[i].id;
    for (size_t i = 0; i < r->npools; i++, n++)
        if (n < cap) out[n] = r->pools[i].id;
    return n;
}

bool rules_site_localtime(const rules_t *r, const char *id, time_t t, int64_t *local)
{
    for (size_t i = 0; i < r->nsites; i++)
        if (!strcmp(r->sites[i].id, id)) return rules_site_local(&r->sites[i], (int64_t)t, local);
    return false;
}

/* Every destination URI a forward-mode route may send a call to, each once,
 * in file order: single-destination DIDs, fallbacks, lunch, after-hours and
 * holiday URIs. */
size_t rules_forward_uris(const rules_t *r, const char **out, size_t cap)
{
    if (cap == 0)
        return 0;
    size_t n = 0;

    for (size_t i = 0; i < r->nsites; i++) {
        const rules_site_t *s = &r->sites[i];
        int site_mode = s->mode ? s->mode : r->mode;
        bool site_uris = false; /* a forward number routes by the site */
        const char *cand[4];
        size_t nc = 0;

        for (size_t d = 0; d < s->ndids; d++) {
            const rules_did_t *did = &s->dids[d];
            int m = did->mode ? did->mode : site_mode;
            if (m != RULES_FWD_FORWARD)
                continue;
            if (did->to && n < cap) {
                bool dup = false;
                for (size_t k = 0; k < n && !dup; k++)
                    dup = strcmp(out[k], did->to) == 0;
                if (!dup)
                    out[n++] = did->to;
            }
            if (!did->to)
                site_uris = true;
        }
        if (!site_uris)
            continue;
        cand[nc++] = s->fallback;
        if (s->lunch.kind == RULES_ROUTE_URI) cand[nc++] = s->lunch.uri;
        if (s->after_hours.kind == RULES_ROUTE_URI) cand[nc++] = s->after_hours.uri;
        if (s->holiday.kind == RULES_ROUTE_URI) cand[nc++] = s->holiday.uri;
        for (size_t c = 0; c < nc && n < cap; c++) {
            bool dup = !cand[c];
            for (size_t k = 0; k < n && !dup; k++)
                dup = strcmp(out[k], cand[c]) == 0;
            if (!dup)
                out[n++] = cand[c];
        }
    }
    return n;
}

bool rules_any_forward(const rules_t *r)
{
    return r->any_forward;
}

