/* config_int.h -- inside the rules loader: what its files share.
 *
 * The loader (rules_load(): a YAML file in, an immutable snapshot out) is
 * three files along the file's own sections:
 *
 *   config.c       load state and error reports, scalars, the walker (one
 *                  table of known keys per kind of mapping), groups, pools
 *                  and the top level, the snapshot's life cycle and the
 *                  public entry points
 *   config_site.c  a site: its numbers, menu, overflow steps, period
 *                  routes, caller-aware settings
 *   hours.c        opening hours and dates: read from the file (the
 *                  loader's part) and expanded to UTC (the evaluator's)
 *
 * Not for other modules: rules_int.h is the snapshot, rules.h the API.
 */
#ifndef FRONTDESK_CONFIG_INT_H
#define FRONTDESK_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yaml.h>

#include "rules_int.h"

#define CONFIG_FILE_MAX (4u << 20) /* rules files are KiBs: refuse runaways */
#define CONFIG_ZONEINFO "/usr/share/zoneinfo"
#define CONFIG_NAME_MAX 100        /* group and site display names */
#define CONFIG_TZ_MAX 64
#define CONFIG_URI_MAX RULES_URI_MAX
#define CONFIG_HEADER_MAX 64
#define CONFIG_WORD_MAX 256 /* ids and skills, before their own 32 check */
#define CONFIG_POOL_BIT 0x80000000u /* in site_ids: the id is a pool's */
#define CONFIG_WINDOW_MAX (365u * 86400u)
#define CONFIG_WINDOW_DEFAULT (30u * 86400u)
#define CONFIG_NEED_KEY                                                      \
    "caller-aware routing needs a caller key: set FRONTDESK_CALLER_KEY "     \
    "(64 hex digits)"

/* ---- load state and error reports (config.c) ---- */

typedef struct {
    yaml_document_t *doc;
    rules_t *r;
    rules_report_t *rep;
    char ctx[112];     /* prefix naming the group or site being read, e.g.
                          "site \"downtown\": "; empty until it is known */
    size_t group;      /* index of the group whose sites are being read */
    size_t groups_cap;
    size_t sites_cap;
    size_t pools_cap;
    size_t site;       /* index of the site being read */
    const yaml_node_t *key; /* key of the value being read (positions) */
    rules_index_t site_ids;    /* site or pool id -> index (pools with
                                  CONFIG_POOL_BIT), load only */
    rules_index_t group_names; /* group name -> group index, load only */
} load_t;

/* ---- the walker (config.c) ---- */

typedef struct walk_field walk_field_t;

/* WK_STRING: validate the copy <s> already stored in the target. */
typedef int (*walk_check_fn)(load_t *ld, const walk_field_t *f,
                             const yaml_node_t *n, const char *s);
/* WK_CUSTOM: read node <n> into <obj> by hand (lists, nested mappings). */
typedef int (*walk_parse_fn)(load_t *ld, const walk_field_t *f,
                             yaml_node_t *n, void *obj);

typedef enum { WK_STRING, WK_UINT, WK_BOOL, WK_CUSTOM } walk_kind_t;

#define WF_REQUIRED 1u
#define WF_FIRST 2u /* read before the others: it names the object in
                       later messages (a site's id, a group's name) */
#define WF_POS 4u   /* store where the key is written at <pos> */
#define WF_NAMES 8u /* its check sets the message prefix ("site \"x\": ") */

struct walk_field {
    const char *key;
    walk_kind_t kind;
    unsigned flags;
    size_t offset;       /* of the char * / unsigned / bool in the target */
    size_t pos;          /* WF_POS: of a rules_pos_t in the target */
    unsigned min, max;   /* WK_UINT: bounds; WK_STRING: max bytes */
    walk_check_fn check; /* WK_STRING, optional */
    walk_parse_fn parse; /* WK_CUSTOM */
};

typedef struct {
    const char *what;    /* "site": in "site: expected a mapping" */
    const char *subject; /* "site": in "site is missing required key" */
    const char *where;   /* "in site": in "unknown key \"x\" in site" */
    const walk_field_t *fields;
    size_t nfields;
} walk_map_t;

#define WALK_MAX_FIELDS 24

/* ---- shared between the loader's files ---- */

int cfg_report_nomem(rules_report_t *rep);

__attribute__((format(printf, 3, 4)))
int cfg_load_fail(load_t *ld, const yaml_node_t *at, const char *fmt, ...);

__attribute__((format(printf, 3, 4)))
int cfg_load_fail_bare(load_t *ld, const yaml_node_t *at,
                       const char *fmt, ...);

int cfg_index_put2(rules_index_t *ix, const char *key, size_t len,
                   uint32_t val, uint32_t aux, uint32_t *have);

int cfg_index_put(rules_index_t *ix, const char *key, size_t len,
                  uint32_t val, uint32_t *have);

rules_pos_t cfg_node_pos(const yaml_node_t *n);

const char *cfg_scalar_text(const yaml_node_t *n);

size_t cfg_scalar_len(const yaml_node_t *n);

bool cfg_scalar_is(const yaml_node_t *n, const char *s);

const char *cfg_node_kind(const yaml_node_t *n);

int cfg_want(load_t *ld, const char *label, const yaml_node_t *n,
             yaml_node_type_t type);

int cfg_want_scalar(load_t *ld, const char *label, const yaml_node_t *n);

int cfg_scalar_dup(load_t *ld, const char *label, const yaml_node_t *n,
                   size_t max, char **out);

int cfg_scalar_bool(load_t *ld, const char *label, const yaml_node_t *n,
                    bool *out);

int cfg_walk_mapping(load_t *ld, const walk_map_t *m, yaml_node_t *node,
                     void *obj);

int cfg_resolve_group(load_t *ld, size_t gi);

int cfg_check_ident(load_t *ld, const char *label, const yaml_node_t *n,
                    const char *s);

int cfg_register_id(load_t *ld, const char *kind, const yaml_node_t *n,
                    const char *s, uint32_t self);

int cfg_parse_mode(load_t *ld, const walk_field_t *f, yaml_node_t *n,
                   void *obj);

int cfg_read_caller_aware(load_t *ld, yaml_node_t *n, int *on,
                          unsigned *window, rules_pos_t *pos);

extern const walk_map_t cfg_site_map;

void cfg_site_defaults(rules_site_t *s);

int cfg_parse_trusted(load_t *ld, const walk_field_t *f, yaml_node_t *n,
                      void *obj);

int cfg_parse_hours(load_t *ld, const walk_field_t *f, yaml_node_t *n,
                    void *obj);

int cfg_parse_dates(load_t *ld, const walk_field_t *f, yaml_node_t *n,
                    void *obj);

#endif
