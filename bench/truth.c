/* truth.c -- the seeded truth and judging 302s against it (see truth.h).
 *
 * Staff are kept in one array sorted by Contact URI and searched with
 * bsearch while the run judges answers; sites and menu entries are small
 * arrays indexed by target number. All of it is built before the run and
 * only read during it.
 */
#include "truth.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char opt[2];        /* "" for no option, else one phone-pad key */
    uint8_t skill;      /* index into truth.skill */
    uint8_t min_level;  /* 1..5 */
} truth_menu_t;

typedef struct {
    char *id;
    char did[33];
    unsigned max_contacts;
    char *fallback;
    uint32_t nfree[TRUTH_MAX_MENU]; /* staff seeded available who fit entry m */
} truth_site_t;

typedef struct {
    char *contact;
    char *id;
    uint32_t site;
    const char *state;               /* one of truth_states */
    uint8_t level[TRUTH_MAX_SKILLS]; /* 0: no such skill */
} truth_staff_t;

struct truth {
    char *skill[TRUTH_MAX_SKILLS];
    unsigned nskill;
    truth_menu_t menu[TRUTH_MAX_MENU];
    unsigned nmenu;
    truth_site_t *site;
    size_t nsite, site_cap;
    truth_staff_t *staff; /* sorted by contact once loaded */
    size_t nstaff, staff_cap;
    char **target;        /* nsite * nmenu Request-URI users */
    size_t ntarget;
};

static const char *const truth_states[] = {"available", "busy", "break", "wrapup", "offline"};

/* ---------------------------------------------------------------------------
 * Reading
 * ------------------------------------------------------------------------ */

void truth_free(truth_t *t)
{
    if (!t) return;
    for (unsigned i = 0; i < t->nskill; i++) free(t->skill[i]);
    for (size_t i = 0; i < t->nsite; i++) {
        free(t->site[i].id);
        free(t->site[i].fallback);
    }
    for (size_t i = 0; i < t->nstaff; i++) {
        free(t->staff[i].contact);
        free(t->staff[i].id);
    }
    for (size_t i = 0; t->target && i < t->ntarget; i++) free(t->target[i]);
    free(t->target);
    free(t->site);
    free(t->staff);
    free(t);
}

/* Index of skill <name>, added when new; -1 when the table is full. */
static int truth_skill(truth_t *t, const char *name, size_t len)
{
    for (unsigned i = 0; i < t->nskill; i++)
        if (strlen(t->skill[i]) == len && memcmp(t->skill[i], name, len) == 0) return (int)i;
    if (t->nskill == TRUTH_MAX_SKILLS) return -1;
    if (!(t->skill[t->nskill] = strndup(name, len))) return -1;
    return (int)t->nskill++;
}

static int truth_level(const char *s)
{
    return s[0] >= '1' && s[0] <= '5' && s[1] == '\0' ? s[0] - '0' : 0;
}

static bool truth_uri_ok(const char *u)
{
    return (strncmp(u, "sip:", 4) == 0 || strncmp(u, "sips:", 5) == 0) && strlen(u) < 512;
}

/* "menu <opt|-> <skill> <level>" */
static const char *truth_menu_line(truth_t *t, char **f, int nf)
{
    if (nf != 4) return "menu: want 'menu <option|-> <skill> <min_level>'";
    if (t->nsite) return "menu lines must come before the sites";
    if (t->nmenu == TRUTH_MAX_MENU) return "too many menu lines";
    const char *o = f[1];
    bool none = strcmp(o, "-") == 0;
    if (!none && (strlen(o) != 1 || !strchr("0123456789*#", o[0])))
        return "menu: the option is one of 0-9, *, # or -";
    for (unsigned i = 0; i < t->nmenu; i++)
        if (strcmp(t->menu[i].opt, none ? "" : o) == 0) return "menu: option given twice";
    int sk = truth_skill(t, f[2], strlen(f[2]));
    int lv = truth_level(f[3]);
    if (sk < 0) return "too many skills";
    if (!lv) return "menu: min_level is 1 to 5";
    truth_menu_t *m = &t->menu[t->nmenu++];
    snprintf(m->opt, sizeof(m->opt), "%s", none ? "" : o);
    m->skill = (uint8_t)sk;
    m->min_level = (uint8_t)lv;
    return NULL;
}

/* "site <id> <did> <max_contacts> <fallback>" */
static const char *truth_site_line(truth_t *t, char **f, int nf)
{
    if (nf != 5) return "site: want 'site <id> <did> <max_contacts> <fallback>'";
    if (t->nmenu == 0) return "site before any menu line";
    if (t->nsite == TRUTH_MAX_SITES) return "too many sites";
    size_t dl = strlen(f[2]);
    if (dl == 0 || dl > 32 || strspn(f[2], "0123456789") != dl) return "site: the DID is 1 to 32 digits";
    int mc = truth_level(f[3]);
    if (!mc) return "site: max_contacts is 1 to 5";
    if (!truth_uri_ok(f[4])) return "site: the fallback is a sip: or sips: URI";
    for (size_t i = 0; i < t->nsite; i++)
        if (strcmp(t->site[i].id, f[1]) == 0) return "site: id given twice";
    if (t->nsite == t->site_cap) {
        size_t cap = t->site_cap ? t->site_cap * 2 : 16;
        truth_site_t *s = realloc(t->site, cap * sizeof(*s));
        if (!s) return "out of memory";
        t->site = s;
        t->site_cap = cap;
    }
    truth_site_t *s = &t->site[t->nsite];
    memset(s, 0, sizeof(*s));
    memcpy(s->did, f[2], dl + 1);
    s->max_contacts = (unsigned)mc;
    s->id = strdup(f[1]);
    s->fallback = strdup(f[4]);
    t->nsite++; /* counted now so that truth_free() frees what was copied */
    if (!s->id || !s->fallback) return "out of memory";
    return NULL;
}

/* Fill <st>->level from "skill:level,..." */
static const char *truth_skills(truth_t *t, truth_staff_t *st, char *csv)
{
    char *save = NULL;
    for (char *it = strtok_r(csv, ",", &save); it; it = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(it, ':');
        int lv = colon ? truth_level(colon + 1) : 3; /* docs/redis.md: default 3 */
        if (!lv) return "staff: a skill level is 1 to 5";
        int sk = truth_skill(t, it, colon ? (size_t)(colon - it) : strlen(it));
        if (sk < 0) return "too many skills";
        st->level[sk] = (uint8_t)lv;
    }
    return NULL;
}

/* "staff <site> <id> <contact> <state> <skills>" */
static const char *truth_staff_line(truth_t *t, char **f, int nf)
{
    if (nf != 6) return "staff: want 'staff <site> <id> <contact> <state> <skills>'";
    size_t si = t->nsite;
    /* staff lines follow their site: look at the last one first */
    if (si && strcmp(t->site[si - 1].id, f[1]) == 0) si--;
    else
        for (si = 0; si < t->nsite && strcmp(t->site[si].id, f[1]) != 0; si++) {}
    if (si == t->nsite) return "staff: unknown site (a site line must come first)";
    if (!truth_uri_ok(f[3])) return "staff: the contact is a sip: or sips: URI";
    const char *state = NULL;
    for (size_t i = 0; i < sizeof(truth_states) / sizeof(*truth_states); i++)
        if (strcmp(f[4], truth_states[i]) == 0) state = truth_states[i];
    if (!state) return "staff: unknown state";
    if (t->nstaff == t->staff_cap) {
        size_t cap = t->staff_cap ? t->staff_cap * 2 : 256;
        truth_staff_t *s = realloc(t->staff, cap * sizeof(*s));
        if (!s) return "out of memory";
        t->staff = s;
        t->staff_cap = cap;
    }
    truth_staff_t *st = &t->staff[t->nstaff];
    memset(st, 0, sizeof(*st));
    st->site = (uint32_t)si;
    st->state = state;
    st->contact = strdup(f[3]);
    st->id = strdup(f[2]);
    t->nstaff++;
    if (!st->contact || !st->id) return "out of memory";
    return truth_skills(t, st, f[5]);
}

static const char *truth_line(truth_t *t, char *line)
{
    char *f[8], *save = NULL;
    int nf = 0;
    for (char *w = strtok_r(line, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
        if (nf == 8) return "too many fields";
        f[nf++] = w;
    }
    if (nf == 0) return NULL;
    if (strcmp(f[0], "menu") == 0) return truth_menu_line(t, f, nf);
    if (strcmp(f[0], "site") == 0) return truth_site_line(t, f, nf);
    if (strcmp(f[0], "staff") == 0) return truth_staff_line(t, f, nf);
    return "unknown record (want menu, site or staff)";
}

static int truth_cmp_contact(const void *a, const void *b)
{
    return strcmp(((const truth_staff_t *)a)->contact, ((const truth_staff_t *)b)->contact);
}

/* After the last line: sort, refuse repeated Contacts, count who fits each
 * menu entry, build the targets. NULL or what is wrong. */
static const char *truth_finish(truth_t *t)
{
    if (t->nsite == 0) return "no site in the file";
    qsort(t->staff, t->nstaff, sizeof(*t->staff), truth_cmp_contact);
    for (size_t i = 1; i < t->nstaff; i++)
        if (strcmp(t->staff[i - 1].contact, t->staff[i].contact) == 0)
            return "two staff members share a contact";
    for (size_t i = 0; i < t->nstaff; i++) {
        const truth_staff_t *st = &t->staff[i];
        if (st->state != truth_states[0]) continue;
        for (unsigned m = 0; m < t->nmenu; m++)
            if (st->level[t->menu[m].skill] >= t->menu[m].min_level) t->site[st->site].nfree[m]++;
    }
    t->ntarget = t->nsite * t->nmenu;
    if (!(t->target = calloc(t->ntarget, sizeof(*t->target)))) return "out of memory";
    for (size_t i = 0; i < t->ntarget; i++) {
        const truth_site_t *s = &t->site[i % t->nsite];
        const truth_menu_t *m = &t->menu[i / t->nsite];
        char buf[40];
        snprintf(buf, sizeof(buf), "%s%s%s", s->did, m->opt[0] ? "*" : "", m->opt);
        if (!(t->target[i] = strdup(buf))) return "out of memory";
    }
    return NULL;
}

int truth_parse(truth_t **out, FILE *f, const char *name, char *err, size_t errlen)
{
    char buf[TRUTH_LINE_MAX];
    unsigned line = 0;
    const char *why = NULL;
    truth_t *t = calloc(1, sizeof(*t));
    if (!t) {
        snprintf(err, errlen, "%s: out of memory", name);
        return -ENOMEM;
    }
    while (!why && fgets(buf, sizeof(buf), f)) {
        line++;
        size_t len = strlen(buf);
        if (len == sizeof(buf) - 1 && buf[len - 1] != '\n' && !feof(f)) {
            why = "line too long";
            break;
        }
        buf[strcspn(buf, "\r\n")] = '\0';
        if (buf[0] == '#') continue;
        why = truth_line(t, buf);
    }
    if (!why && ferror(f)) why = "read error";
    if (why) {
        snprintf(err, errlen, "%s:%u: %s", name, line, why);
    } else if ((why = truth_finish(t))) {
        snprintf(err, errlen, "%s: %s", name, why);
    }
    if (why) {
        truth_free(t);
        return -EINVAL;
    }
    *out = t;
    return 0;
}

int truth_load(truth_t **out, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
    int rc = truth_parse(out, f, path, err, errlen);
    fclose(f);
    return rc;
}

/* ---------------------------------------------------------------------------
 * Reading back
 * ------------------------------------------------------------------------ */

size_t truth_sites(const truth_t *t)
{
    return t->nsite;
}

size_t truth_staff_count(const truth_t *t)
{
    return t->nstaff;
}

void truth_staff(const truth_t *t, size_t i, const char **site, const char **id,
                 const char **state)
{
    const truth_staff_t *st = &t->staff[i];
    if (site) *site = t->site[st->site].id;
    if (id) *id = st->id;
    if (state) *state = st->state;
}

size_t truth_targets(const truth_t *t)
{
    return t->ntarget;
}

const char *truth_target_user(const truth_t *t, size_t i)
{
    return t->target[i];
}

const char *const *truth_users(const truth_t *t)
{
    return (const char *const *)t->target;
}

/* ---------------------------------------------------------------------------
 * Judging
 * ------------------------------------------------------------------------ */

static bool truth_span_eq(sipmsg_span_t a, const char *b)
{
    size_t n = strlen(b);
    return a.len == n && memcmp(a.s, b, n) == 0;
}

static const truth_staff_t *truth_find(const truth_t *t, sipmsg_span_t uri)
{
    size_t lo = 0, hi = t->nstaff;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *m = t->staff[mid].contact;
        size_t ml = strlen(m), n = ml < uri.len ? ml : uri.len;
        int c = memcmp(uri.s, m, n);
        if (c == 0) c = (uri.len > ml) - (uri.len < ml);
        if (c == 0) return &t->staff[mid];
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return NULL;
}

check_verdict_t truth_check(const truth_t *t, size_t target, const sipmsg_span_t *c,
                            unsigned n, bool churn, truth_kind_t *kind)
{
    size_t si = target % t->nsite;
    const truth_site_t *site = &t->site[si];
    const truth_menu_t *m = &t->menu[target / t->nsite % t->nmenu];
    if (n == 0 || !truth_span_eq(c[n - 1], site->fallback)) return CHECK_FALLBACK;
    if (n - 1 > site->max_contacts) return CHECK_CONTACTS;
    for (unsigned i = 0; i + 1 < n; i++) {
        const truth_staff_t *st = truth_find(t, c[i]);
        if (!st || st->site != si) return CHECK_NOT_STAFF;
        if (st->level[m->skill] < m->min_level) return CHECK_SKILL;
        if (!churn && st->state != truth_states[0]) return CHECK_PRESENCE;
        for (unsigned j = 0; j < i; j++)
            if (c[j].len == c[i].len && memcmp(c[j].s, c[i].s, c[i].len) == 0)
                return CHECK_CONTACTS;
    }
    if (kind)
        *kind = n > 1 ? TRUTH_STAFF
                      : site->nfree[m - t->menu] ? TRUTH_FALLBACK_FREE : TRUTH_FALLBACK;
    return CHECK_OK;
}
