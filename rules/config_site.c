/* config_site.c -- the rules loader's part for one site (config_int.h):
 * its id, time zone and destinations, its numbers (dids), menu, overflow
 * steps, period routes and caller-aware settings, read through the walker
 * with one table of known keys per mapping.
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

#include "config_int.h"

/* ---------------------------------------------------------------------- */
/* Sites                                                                  */

int cfg_check_ident(load_t *ld, const char *label, const yaml_node_t *n,
                    const char *s)
{
    size_t len = strlen(s);
    bool ok = len >= 1 && len <= RULES_IDENT_MAX;

    for (size_t i = 0; ok && i < len; i++)
        ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
             s[i] == '_' || s[i] == '-';
    if (ok)
        return 0;
    return cfg_load_fail(ld, n,
                         "%s must be 1 to %d characters of a-z, 0-9, \"_\" or "
                         "\"-\" (found \"%.40s\")",
                         label, RULES_IDENT_MAX, s);
}

static int check_skill(load_t *ld, const walk_field_t *f,
                       const yaml_node_t *n, const char *s)
{
    return cfg_check_ident(ld, f->key, n, s);
}

/* Where the site or pool registered as <val> in site_ids starts. */
static unsigned id_line(const load_t *ld, uint32_t val)
{
    if (val & CONFIG_POOL_BIT)
        return ld->r->pools[val & ~CONFIG_POOL_BIT].pos.line;
    return ld->r->sites[val].line;
}

/* Site and pool ids name sites in every later message, and are the Redis
 * hash tags of their keys, so they must be unique across the whole file,
 * sites and pools together. */
int cfg_register_id(load_t *ld, const char *kind, const yaml_node_t *n,
                    const char *s, uint32_t self)
{
    uint32_t first;
    int rc = cfg_index_put(&ld->site_ids, s, strlen(s), self, &first);

    if (rc < 0)
        return cfg_report_nomem(ld->rep);
    if (rc == 1)
        return cfg_load_fail(ld, n, "%s id \"%s\" is used twice (first at "
                             "line %u)", kind, s, id_line(ld, first));
    return 0;
}

static int check_site_id(load_t *ld, const walk_field_t *f,
                         const yaml_node_t *n, const char *s)
{
    int rc;

    if ((rc = cfg_check_ident(ld, f->key, n, s)) < 0)
        return rc;
    if ((rc = cfg_register_id(ld, "site", n, s, (uint32_t)ld->site)) < 0)
        return rc;
    snprintf(ld->ctx, sizeof(ld->ctx), "site \"%s\": ", s);
    return 0;
}

/* Only the name is checked here: hours.c reads the zone. The database may
 * be missing (minimal containers): then any well-formed name passes, and
 * an unknown one reads as UTC. */
static int check_timezone(load_t *ld, const walk_field_t *f,
                          const yaml_node_t *n, const char *s)
{
    char path[sizeof(CONFIG_ZONEINFO) + CONFIG_TZ_MAX + 1];
    struct stat st;
    bool ok = s[0] != '/' && !strstr(s, "..");

    for (size_t i = 0; ok && s[i]; i++)
        ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
             (s[i] >= '0' && s[i] <= '9') || strchr("/_-+", s[i]);
    if (!ok)
        return cfg_load_fail(ld, n, "%s \"%s\" must be an IANA time zone name "
                             "such as America/Chicago", f->key, s);
    if (stat(CONFIG_ZONEINFO, &st) < 0 || !S_ISDIR(st.st_mode))
        return 0;
    snprintf(path, sizeof(path), "%s/%s", CONFIG_ZONEINFO, s);
    if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
        return cfg_load_fail(ld, n, "unknown %s \"%s\" (not in %s)", f->key, s,
                             CONFIG_ZONEINFO);
    return 0;
}

/* A URI ends up inside a Contact header: besides the scheme, refuse what
 * would break the header's syntax. */
static int check_uri(load_t *ld, const char *label, const yaml_node_t *n,
                     const char *s)
{
    size_t skip = strncasecmp(s, "sip:", 4) == 0    ? 4
                  : strncasecmp(s, "sips:", 5) == 0 ? 5
                                                    : 0;

    if (!skip || !s[skip])
        return cfg_load_fail(ld, n, "%s must be a sip: or sips: URI", label);
    for (const char *p = s; *p; p++)
        if (*p == ' ' || *p == '<' || *p == '>' || *p == '"')
            return cfg_load_fail(ld, n, "%s must be a sip: or sips: URI "
                                 "without spaces, quotes or angle brackets",
                                 label);
    return 0;
}

static int check_sip_uri(load_t *ld, const walk_field_t *f,
                         const yaml_node_t *n, const char *s)
{
    return check_uri(ld, f->key, n, s);
}

static const char *const strategy_names[] = {
    [RULES_LONGEST_IDLE] = "longest_idle",
    [RULES_ROUND_ROBIN] = "round_robin",
    [RULES_MOST_SKILLED] = "most_skilled",
    [RULES_FEWEST_OFFERS] = "fewest_offers",
};

/* strategy: one of strategy_names, into the int at <f->offset>. */
static int parse_strategy(load_t *ld, const walk_field_t *f, yaml_node_t *n,
                          void *obj)
{
    int rc;

    if ((rc = cfg_want_scalar(ld, f->key, n)) < 0)
        return rc;
    for (int i = 0; i <= RULES_FEWEST_OFFERS; i++) {
        if (cfg_scalar_is(n, strategy_names[i])) {
            *(int *)(void *)((char *)obj + f->offset) = i;
            return 0;
        }
    }
    return cfg_load_fail(ld, n, "%s \"%.*s\" must be longest_idle, round_robin, "
                         "most_skilled or fewest_offers", f->key,
                         (int)(cfg_scalar_len(n) > 40 ? 40 : cfg_scalar_len(n)),
                         cfg_scalar_text(n));
}

/* mode: redirect or forward, into the int at <f->offset>. */
int cfg_parse_mode(load_t *ld, const walk_field_t *f, yaml_node_t *n,
                   void *obj)
{
    int rc;

    if ((rc = cfg_want_scalar(ld, f->key, n)) < 0)
        return rc;
    int *out = (int *)(void *)((char *)obj + f->offset);
    if (cfg_scalar_is(n, "redirect"))
        *out = RULES_FWD_REDIRECT;
    else if (cfg_scalar_is(n, "forward"))
        *out = RULES_FWD_FORWARD;
    else
        return cfg_load_fail(ld, n, "%s \"%.*s\" must be redirect or forward",
                             f->key,
                             (int)(cfg_scalar_len(n) > 40 ? 40 : cfg_scalar_len(n)),
                             cfg_scalar_text(n));
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Sites: numbers                                                         */

/* Normalise DID <item> into <d> and claim it for the current site. */
static int claim_did(load_t *ld, yaml_node_t *item, rules_did_t *d)
{
    rules_t *r = ld->r;
    rules_site_t *site = &r->sites[ld->site];
    uint32_t self = (uint32_t)ld->site, first;
    char digits[RULES_DID_MAX];
    const char *raw;
    int len, rawlen, rc;

    if ((rc = cfg_want_scalar(ld, "DID", item)) < 0)
        return rc;
    raw = cfg_scalar_text(item);
    rawlen = cfg_scalar_len(item) > 40 ? 40 : (int)cfg_scalar_len(item);
    len = rules_did_normalise(raw, cfg_scalar_len(item), digits);
    if (len == -1)
        return cfg_load_fail(ld, item, "DID \"%.*s\" may only contain "
                             "digits, spaces and + - ( ) .", rawlen, raw);
    if (len == -2)
        return cfg_load_fail(ld, item, "DID \"%.*s\" is too long (at most "
                             "%d digits)", rawlen, raw, RULES_DID_MAX);
    if (len == 0)
        return cfg_load_fail(ld, item, "DID \"%.*s\" has no digits", rawlen,
                             raw);
    if (!(d->num = strndup(digits, (size_t)len)))
        return cfg_report_nomem(ld->rep);
    d->pos = cfg_node_pos(item);

    rc = cfg_index_put2(&r->dids, d->num, (size_t)len, self,
                        (uint32_t)(d - site->dids), &first);
    if (rc < 0)
        return cfg_report_nomem(ld->rep);
    if (rc == 1 && first == self)
        return cfg_load_fail(ld, item, "DID %s is listed twice", d->num);
    if (rc == 1)
        return cfg_load_fail_bare(ld, item, "DID %s is claimed by sites "
                                  "\"%s\" and \"%s\"", d->num,
                                  r->sites[first].id, site->id);
    return 0;
}

static int parse_did_number(load_t *ld, const walk_field_t *f,
                            yaml_node_t *n, void *obj)
{
    (void)f;
    return claim_did(ld, n, obj);
}

static const walk_field_t did_fields[] = {
    { .key = "number", .kind = WK_CUSTOM, .flags = WF_REQUIRED | WF_FIRST,
      .parse = parse_did_number },
    { .key = "to", .kind = WK_STRING, .offset = offsetof(rules_did_t, to),
      .max = CONFIG_URI_MAX, .check = check_sip_uri },
    { .key = "skill", .kind = WK_STRING,
      .offset = offsetof(rules_did_t, skill), .max = CONFIG_WORD_MAX,
      .check = check_skill },
    { .key = "mode", .kind = WK_CUSTOM,
      .offset = offsetof(rules_did_t, mode), .parse = cfg_parse_mode },
};

static const walk_map_t did_map = {
    .what = "DID", .subject = "a DID", .where = "in DID",
    .fields = did_fields,
    .nfields = sizeof(did_fields) / sizeof(did_fields[0]),
};

/* dids: a number, or {number, to} (single destination), or {number,
 * skill} (a dedicated line). */
static int parse_dids(load_t *ld, const walk_field_t *f, yaml_node_t *n,
                      void *obj)
{
    rules_site_t *site = obj;
    size_t count;
    int rc;

    if ((rc = cfg_want(ld, f->key, n, YAML_SEQUENCE_NODE)) < 0)
        return rc;
    count = (size_t)(n->data.sequence.items.top -
                     n->data.sequence.items.start);
    if (count == 0)
        return cfg_load_fail(ld, n, "%s must list at least one phone number",
                             f->key);
    if (!(site->dids = calloc(count, sizeof(*site->dids))))
        return cfg_report_nomem(ld->rep);

    for (yaml_node_item_t *it = n->data.sequence.items.start;
         it < n->data.sequence.items.top; it++) {
        yaml_node_t *item = yaml_document_get_node(ld->doc, *it);
        rules_did_t *d = &site->dids[site->ndids++];

        if (item->type != YAML_MAPPING_NODE) {
            if ((rc = claim_did(ld, item, d)) < 0)
                return rc;
            continue;
        }
        if ((rc = cfg_walk_mapping(ld, &did_map, item, d)) < 0)
            return rc;
        d->pos = cfg_node_pos(item);
        if (d->to && d->skill)
            return cfg_load_fail(ld, item, "DID %s: give either \"to\" (a "
                                 "single destination) or \"skill\" (a "
                                 "dedicated line), not both", d->num);
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Sites: menu                                                            */

/* What a menu option and an overflow step both name: the skill, how to
 * choose among its staff, the lowest level that counts. One definition
 * for both tables (<type> rules_menu_t or rules_step_t). */
#define WANT_FIELDS(type, skill_flags)                                       \
    { .key = "skill", .kind = WK_STRING, .flags = (skill_flags),             \
      .offset = offsetof(type, skill), .max = CONFIG_WORD_MAX,               \
      .check = check_skill },                                                \
    { .key = "strategy", .kind = WK_CUSTOM,                                  \
      .offset = offsetof(type, strategy), .parse = parse_strategy },         \
    { .key = "min_level", .kind = WK_UINT,                                   \
      .offset = offsetof(type, min_level), .min = 1, .max = 5 }

static const walk_field_t menu_fields[] = {
    WANT_FIELDS(rules_menu_t, WF_REQUIRED),
};

static const walk_map_t menu_map = {
    .what = "menu option", .subject = "menu option",
    .where = "in menu option",
    .fields = menu_fields,
    .nfields = sizeof(menu_fields) / sizeof(menu_fields[0]),
};

/* menu: option -> skill, or option -> {skill, strategy?, min_level?}.
 * Options are single keys of a phone pad; YAML needs "*" and "#" quoted,
 * digits may be bare. */
static int parse_menu(load_t *ld, const walk_field_t *f, yaml_node_t *n,
                      void *obj)
{
    rules_site_t *site = obj;
    int rc;

    if ((rc = cfg_want(ld, f->key, n, YAML_MAPPING_NODE)) < 0)
        return rc;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
         p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(ld->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(ld->doc, p->value);
        rules_menu_t *m;
        char label[32];
        int slot;

        if (k->type != YAML_SCALAR_NODE)
            return cfg_load_fail(ld, k, "menu options must be single keys, "
                                 "found %s", cfg_node_kind(k));
        slot = cfg_scalar_len(k) == 1 ? rules_menu_slot(cfg_scalar_text(k)[0]) : -1;
        if (slot < 0)
            return cfg_load_fail(ld, k, "menu option \"%.*s\" must be one of "
                                 "0-9, \"*\" or \"#\"",
                                 (int)(cfg_scalar_len(k) > 40 ? 40 : cfg_scalar_len(k)),
                                 cfg_scalar_text(k));
        m = &site->menu[slot];
        if (m->skill)
            return cfg_load_fail(ld, k, "menu option \"%c\" is listed twice",
                                 cfg_scalar_text(k)[0]);
        m->pos = cfg_node_pos(k);
        snprintf(label, sizeof(label), "menu option \"%c\" skill",
                 cfg_scalar_text(k)[0]);
        if (v->type == YAML_MAPPING_NODE) {
            if ((rc = cfg_walk_mapping(ld, &menu_map, v, m)) < 0)
                return rc;
            continue;
        }
        if ((rc = cfg_scalar_dup(ld, label, v, CONFIG_WORD_MAX, &m->skill)) < 0)
            return rc;
        if ((rc = cfg_check_ident(ld, label, v, m->skill)) < 0)
            return rc;
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Sites: overflow, period routes, caller-aware                           */

static int parse_step_target(load_t *ld, const walk_field_t *f,
                             yaml_node_t *n, void *obj)
{
    rules_step_t *st = obj;
    int rc;

    if (st->target_id)
        return cfg_load_fail(ld, ld->key, "an overflow step names a site or a "
                             "pool, not both");
    if ((rc = cfg_scalar_dup(ld, f->key, n, CONFIG_WORD_MAX, &st->target_id)) <
        0)
        return rc;
    if ((rc = cfg_check_ident(ld, f->key, n, st->target_id)) < 0)
        return rc;
    st->pool = strcmp(f->key, "pool") == 0;
    st->target_pos = cfg_node_pos(n);
    return 0;
}

static const walk_field_t step_fields[] = {
    { .key = "site", .kind = WK_CUSTOM, .parse = parse_step_target },
    { .key = "pool", .kind = WK_CUSTOM, .parse = parse_step_target },
    WANT_FIELDS(rules_step_t, 0),
};

static const walk_map_t step_map = {
    .what = "overflow step", .subject = "overflow step",
    .where = "in overflow step",
    .fields = step_fields,
    .nfields = sizeof(step_fields) / sizeof(step_fields[0]),
};

/* overflow: the ordered steps after this site's own staff. Targets are
 * resolved once the group is read (see cfg_resolve_group()). */
static int parse_overflow(load_t *ld, const walk_field_t *f, yaml_node_t *n,
                          void *obj)
{
    rules_site_t *site = obj;
    int rc;

    if ((rc = cfg_want(ld, f->key, n, YAML_SEQUENCE_NODE)) < 0)
        return rc;
    for (yaml_node_item_t *it = n->data.sequence.items.start;
         it < n->data.sequence.items.top; it++) {
        yaml_node_t *item = yaml_document_get_node(ld->doc, *it);
        rules_step_t *st;

        if (site->noverflow == RULES_MAX_OVERFLOW)
            return cfg_load_fail(ld, item, "overflow lists at most %d steps "
                                 "(a chain is this site, %d steps, then the "
                                 "fallback)", RULES_MAX_OVERFLOW,
                                 RULES_MAX_OVERFLOW);
        st = &site->overflow[site->noverflow++];
        st->strategy = RULES_NO_STRATEGY;
        st->pos = cfg_node_pos(item);
        if ((rc = cfg_walk_mapping(ld, &step_map, item, st)) < 0)
            return rc;
        if (!st->target_id)
            return cfg_load_fail(ld, item, "an overflow step needs a site "
                                 "({site: <id>}) or a pool ({pool: <id>})");
    }
    return 0;
}

/* lunch / after_hours / holiday: a sip:/sips: URI or the word overflow. */
static int parse_route(load_t *ld, const walk_field_t *f, yaml_node_t *n,
                       void *obj)
{
    rules_route_t *rt = (rules_route_t *)(void *)((char *)obj + f->offset);
    int rc;

    rt->given = true;
    rt->pos = cfg_node_pos(ld->key);
    if ((rc = cfg_want_scalar(ld, f->key, n)) < 0)
        return rc;
    if (cfg_scalar_is(n, "overflow")) {
        rt->kind = RULES_ROUTE_OVERFLOW;
        return 0;
    }
    if (strncasecmp(cfg_scalar_text(n), "sip", 3) != 0)
        return cfg_load_fail(ld, n, "%s must be a sip: or sips: URI, or the word "
                             "overflow", f->key);
    if ((rc = cfg_scalar_dup(ld, f->key, n, CONFIG_URI_MAX, &rt->own)) < 0)
        return rc;
    if ((rc = check_uri(ld, f->key, n, rt->own)) < 0)
        return rc;
    rt->kind = RULES_ROUTE_URI;
    rt->uri = rt->own;
    return 0;
}

/* "30d", "12h", "90m", "3600s": 1 second to 365 days. */
static int parse_window(load_t *ld, const walk_field_t *f, yaml_node_t *n,
                        void *obj)
{
    const char *s;
    size_t len, i;
    uint64_t v = 0, unit;
    int rc;

    if ((rc = cfg_want_scalar(ld, f->key, n)) < 0)
        return rc;
    s = cfg_scalar_text(n);
    len = cfg_scalar_len(n);
    for (i = 0; i < len && i < 12 && s[i] >= '0' && s[i] <= '9'; i++)
        v = v * 10 + (uint64_t)(s[i] - '0');
    unit = i + 1 != len ? 0
           : s[i] == 's' ? 1
           : s[i] == 'm' ? 60
           : s[i] == 'h' ? 3600
           : s[i] == 'd' ? 86400
                         : 0;
    if (i == 0 || unit == 0 || v == 0 || v * unit > CONFIG_WINDOW_MAX)
        return cfg_load_fail(ld, n, "%s must be a duration such as \"30d\" "
                             "(a number then s, m, h or d), from 1s to 365d",
                             f->key);
    *(unsigned *)obj = (unsigned)(v * unit);
    return 0;
}

static const walk_field_t caller_aware_fields[] = {
    { .key = "window", .kind = WK_CUSTOM, .parse = parse_window },
};

static const walk_map_t caller_aware_map = {
    .what = "caller_aware", .subject = "caller_aware",
    .where = "in caller_aware",
    .fields = caller_aware_fields,
    .nfields = sizeof(caller_aware_fields) / sizeof(caller_aware_fields[0]),
};

/* caller_aware: true/false, or {window: "30d"}. */
int cfg_read_caller_aware(load_t *ld, yaml_node_t *n, int *on,
                          unsigned *window, rules_pos_t *pos)
{
    const yaml_node_t *key = ld->key;
    bool b = true;
    int rc;

    *pos = cfg_node_pos(key);
    *window = CONFIG_WINDOW_DEFAULT;
    if (n->type == YAML_MAPPING_NODE) {
        if (!ld->r->has_key)
            return cfg_load_fail(ld, key, CONFIG_NEED_KEY);
        if ((rc = cfg_walk_mapping(ld, &caller_aware_map, n, window)) < 0)
            return rc;
    } else if ((rc = cfg_scalar_bool(ld, "caller_aware", n, &b)) < 0) {
        return cfg_load_fail(ld, n, "caller_aware must be true, false or "
                             "{window: \"30d\"}");
    }
    if (b && !ld->r->has_key)
        return cfg_load_fail(ld, key, CONFIG_NEED_KEY);
    *on = b;
    return 0;
}

static int parse_site_caller_aware(load_t *ld, const walk_field_t *f,
                                   yaml_node_t *n, void *obj)
{
    rules_site_t *s = obj;

    (void)f;
    return cfg_read_caller_aware(ld, n, &s->caller_aware, &s->caller_window_s,
                                 &s->caller_aware_pos);
}

static const walk_field_t site_fields[] = {
    { .key = "id", .kind = WK_STRING,
      .flags = WF_REQUIRED | WF_FIRST | WF_NAMES,
      .offset = offsetof(rules_site_t, id), .max = CONFIG_WORD_MAX,
      .check = check_site_id },
    { .key = "name", .kind = WK_STRING,
      .offset = offsetof(rules_site_t, name), .max = CONFIG_NAME_MAX },
    { .key = "timezone", .kind = WK_STRING, .flags = WF_REQUIRED,
      .offset = offsetof(rules_site_t, timezone), .max = CONFIG_TZ_MAX,
      .check = check_timezone },
    { .key = "dids", .kind = WK_CUSTOM, .flags = WF_REQUIRED,
      .parse = parse_dids },
    { .key = "default_skill", .kind = WK_STRING,
      .flags = WF_REQUIRED | WF_POS,
      .offset = offsetof(rules_site_t, default_skill),
      .pos = offsetof(rules_site_t, default_skill_pos),
      .max = CONFIG_WORD_MAX, .check = check_skill },
    { .key = "menu", .kind = WK_CUSTOM, .flags = WF_POS,
      .pos = offsetof(rules_site_t, menu_pos), .parse = parse_menu },
    { .key = "max_contacts", .kind = WK_UINT,
      .offset = offsetof(rules_site_t, max_contacts), .min = 1,
      .max = RULES_MAX_CONTACTS },
    { .key = "fallback", .kind = WK_STRING, .flags = WF_REQUIRED,
      .offset = offsetof(rules_site_t, fallback), .max = CONFIG_URI_MAX,
      .check = check_sip_uri },
    { .key = "closed", .kind = WK_BOOL, .flags = WF_POS,
      .offset = offsetof(rules_site_t, closed),
      .pos = offsetof(rules_site_t, closed_pos) },
    { .key = "hours", .kind = WK_CUSTOM, .flags = WF_POS,
      .pos = offsetof(rules_site_t, hours_pos), .parse = cfg_parse_hours },
    { .key = "holidays", .kind = WK_CUSTOM, .parse = cfg_parse_dates },
    { .key = "closed_dates", .kind = WK_CUSTOM, .parse = cfg_parse_dates },
    { .key = "strategy", .kind = WK_CUSTOM, .flags = WF_POS,
      .offset = offsetof(rules_site_t, strategy),
      .pos = offsetof(rules_site_t, strategy_pos),
      .parse = parse_strategy },
    { .key = "min_level", .kind = WK_UINT,
      .offset = offsetof(rules_site_t, min_level), .min = 1, .max = 5 },
    { .key = "overflow", .kind = WK_CUSTOM, .flags = WF_POS,
      .pos = offsetof(rules_site_t, overflow_pos), .parse = parse_overflow },
    { .key = "lunch", .kind = WK_CUSTOM,
      .offset = offsetof(rules_site_t, lunch), .parse = parse_route },
    { .key = "after_hours", .kind = WK_CUSTOM,
      .offset = offsetof(rules_site_t, after_hours), .parse = parse_route },
    { .key = "holiday", .kind = WK_CUSTOM,
      .offset = offsetof(rules_site_t, holiday), .parse = parse_route },
    { .key = "caller_aware", .kind = WK_CUSTOM,
      .parse = parse_site_caller_aware },
    { .key = "mode", .kind = WK_CUSTOM,
      .offset = offsetof(rules_site_t, mode), .parse = cfg_parse_mode },
    { .key = "trusted", .kind = WK_CUSTOM,
      .offset = offsetof(rules_site_t, trusted), .parse = cfg_parse_trusted },
};

_Static_assert(sizeof(site_fields) / sizeof(site_fields[0]) <= WALK_MAX_FIELDS,
               "walk_mapping() keeps one slot per field");

const walk_map_t cfg_site_map = {
    .what = "site", .subject = "site", .where = "in site",
    .fields = site_fields,
    .nfields = sizeof(site_fields) / sizeof(site_fields[0]),
};

/* Defaults that depend on other keys of the site: after_hours -> the
 * fallback; lunch -> overflow; holiday -> whatever after_hours does. */
void cfg_site_defaults(rules_site_t *s)
{
    if (s->after_hours.kind == RULES_ROUTE_UNSET) {
        s->after_hours.kind = RULES_ROUTE_URI;
        s->after_hours.uri = s->fallback;
    }
    if (s->lunch.kind == RULES_ROUTE_UNSET)
        s->lunch.kind = RULES_ROUTE_OVERFLOW;
    if (s->holiday.kind == RULES_ROUTE_UNSET) {
        s->holiday.kind = s->after_hours.kind;
        s->holiday.uri = s->after_hours.uri;
    }
}

