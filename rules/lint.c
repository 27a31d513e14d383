/* lint.c -- rules_lint(): what cannot work, and what hurts callers.
 *
 * The loader already refuses what is malformed or contradictory (a DID
 * claimed twice, an unknown overflow target, a site without a fallback, so
 * a chain without a final destination cannot exist); lint looks at a
 * loaded snapshot for rules that load but misbehave: routes that can never
 * apply, hours that overlap or never open, menus too long to remember,
 * skills nobody has. Runs off the hot path (frontdeskctl rules check): it
 * allocates freely. Findings are reported in file order.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/socket.h>

#include "rules_int.h"

#define LINT_MENU_MAX 5 /* options a caller can keep in mind */

typedef struct {
    rules_finding_t f;
    size_t seq; /* keeps findings at one place in the order found */
} item_t;

/* What the staff of one site or pool have, copied from the callback (its
 * storage may be reused by the next call). */
typedef struct {
    bool asked, known;
    char **skills;
    size_t n;
} staff_t;

typedef struct {
    const rules_t *r;
    item_t *items;
    size_t n, cap;
    bool nomem;
    rules_staff_skills_fn *skills_fn;
    void *skills_arg;
    staff_t *staff; /* sites first, then pools */
    /* (target, skill) pairs already reported, so one finding each */
    struct seen {
        const char *target, *skill;
        int kind;
    } *seen;
    size_t nseen, seen_cap;
} lint_t;

__attribute__((format(printf, 4, 5)))
static void add(lint_t *l, rules_lint_level_t level, rules_pos_t pos,
                const char *fmt, ...)
{
    va_list ap;
    item_t *it;

    if (l->n == l->cap) {
        size_t ncap = l->cap ? 2 * l->cap : 16;
        item_t *ni = realloc(l->items, ncap * sizeof(*ni));
        if (!ni) {
            l->nomem = true;
            return;
        }
        l->items = ni;
        l->cap = ncap;
    }
    it = &l->items[l->n];
    it->seq = l->n++;
    it->f.level = level;
    it->f.line = pos.line;
    it->f.col = pos.col;
    va_start(ap, fmt);
    vsnprintf(it->f.msg, sizeof(it->f.msg), fmt, ap);
    va_end(ap);
}

static rules_pos_t site_pos(const rules_site_t *s)
{
    rules_pos_t p = { s->line, 0 };
    return p;
}

static rules_pos_t or_site(rules_pos_t p, const rules_site_t *s)
{
    return p.line ? p : site_pos(s);
}

/* Report (<target>, <skill>, <kind>) once: false when already done. */
static bool first_time(lint_t *l, const char *target, const char *skill,
                       int kind)
{
    for (size_t i = 0; i < l->nseen; i++)
        if (l->seen[i].kind == kind && strcmp(l->seen[i].target, target) == 0 &&
            strcmp(l->seen[i].skill, skill) == 0)
            return false;
    if (l->nseen == l->seen_cap) {
        size_t ncap = l->seen_cap ? 2 * l->seen_cap : 16;
        struct seen *ns = realloc(l->seen, ncap * sizeof(*ns));
        if (!ns) {
            l->nomem = true;
            return true;
        }
        l->seen = ns;
        l->seen_cap = ncap;
    }
    l->seen[l->nseen++] = (struct seen){ target, skill, kind };
    return true;
}

/* ---------------------------------------------------------------------- */
/* Hours, dates and period routes                                         */

static const char *const wday_keys[7] = { "mon", "tue", "wed", "thu",
                                          "fri", "sat", "sun" };

static void fmt_range(char *buf, size_t n, const rules_range_t *r)
{
    snprintf(buf, n, "%02u:%02u-%02u:%02u", r->start / 60u, r->start % 60u,
             r->end / 60u, r->end % 60u);
}

static bool site_never_open(const rules_site_t *s)
{
    if (!s->has_hours)
        return false;
    for (int w = 0; w < 7; w++)
        if (s->week[w].n)
            return false;
    return true;
}

static bool site_round_the_clock(const rules_site_t *s)
{
    if (!s->has_hours)
        return true;
    for (int w = 0; w < 7; w++)
        if (s->week[w].n != 1 || s->week[w].r[0].start != 0 ||
            s->week[w].r[0].end != 1440)
            return false;
    return true;
}

static bool site_has_break(const rules_site_t *s)
{
    for (int w = 0; w < 7; w++)
        if (s->week[w].n >= 2)
            return true;
    return false;
}

static void lint_hours(lint_t *l, const rules_site_t *s)
{
    if (!s->has_hours)
        return;
    if (site_never_open(s))
        add(l, RULES_LINT_WARNING, or_site(s->hours_pos, s),
            "site \"%s\": hours: never open (no day has a range): every "
            "call goes the after-hours way", s->id);
    for (int w = 0; w < 7; w++) {
        const rules_weekday_t *wd = &s->week[w];
        for (unsigned j = 1; j < wd->nraw; j++) {
            for (unsigned i = 0; i < j; i++) {
                const rules_range_t *a = &wd->raw[i], *b = &wd->raw[j];
                char ra[16], rb[16], rm[16];
                if (!(a->start < b->end && b->start < a->end))
                    continue;
                fmt_range(ra, sizeof(ra), a);
                fmt_range(rb, sizeof(rb), b);
                rm[0] = '\0';
                for (unsigned k = 0; k < wd->n; k++)
                    if (wd->r[k].start <= b->start && b->end <= wd->r[k].end)
                        fmt_range(rm, sizeof(rm), &wd->r[k]);
                add(l, RULES_LINT_WARNING, b->pos,
                    "site \"%s\": hours %s: %s overlaps %s (read as %s)",
                    s->id, wday_keys[w], rb, ra, rm);
                break;
            }
        }
    }
}

static void lint_routes(lint_t *l, const rules_site_t *s)
{
    if (s->lunch.given && !site_has_break(s))
        add(l, RULES_LINT_WARNING, s->lunch.pos,
            "site \"%s\": lunch can never apply: %s", s->id,
            s->has_hours ? "no day has a break between two ranges of hours"
                         : "the site has no hours (always open)");
    if (s->after_hours.given && site_round_the_clock(s))
        add(l, RULES_LINT_WARNING, s->after_hours.pos,
            "site \"%s\": after_hours can never apply: %s", s->id,
            s->has_hours ? "the site is open around the clock"
                         : "the site has no hours (always open)");
    if (s->holiday.given && s->ndates == 0)
        add(l, RULES_LINT_WARNING, s->holiday.pos,
            "site \"%s\": holiday can never apply: the site lists no "
            "holidays or closed_dates", s->id);
    {
        const rules_route_t *rts[3] = { &s->lunch, &s->after_hours,
                                        &s->holiday };
        static const char *const names[3] = { "lunch", "after_hours",
                                               "holiday" };
        for (int i = 0; i < 3; i++)
            if (rts[i]->given && rts[i]->kind == RULES_ROUTE_OVERFLOW &&
                s->noverflow == 0)
                add(l, RULES_LINT_WARNING, rts[i]->pos,
                    "site \"%s\": %s: overflow, but the site has no "
                    "overflow steps: those calls go straight to %s",
                    s->id, names[i], s->fallback);
    }
}

/* A date listed twice. Dates already past are not reported: they do
 * nothing, hurt nobody, and a check whose result changed with the calendar
 * would turn CI red on its own. */
static void lint_dates(lint_t *l, const rules_site_t *s)
{
    for (size_t i = 0; i < s->ndates; i++) {
        const rules_date_t *dt = &s->dates[i];
        bool dup = false;

        for (size_t j = 0; j < i && !dup; j++)
            dup = s->dates[j].date == dt->date;
        if (dup)
            add(l, RULES_LINT_WARNING, dt->pos,
                "site \"%s\": %s: %04u-%02u-%02u is listed twice", s->id,
                dt->one_off ? "closed_dates" : "holidays", dt->date / 10000,
                dt->date / 100 % 100, dt->date % 100);
    }
}

/* ---------------------------------------------------------------------- */
/* Menu, closed sites, overflow steps                                     */

static void lint_menu(lint_t *l, const rules_site_t *s)
{
    unsigned n = 0;

    for (int i = 0; i < RULES_MAX_MENU; i++)
        n += s->menu[i].skill != NULL;
    if (n > LINT_MENU_MAX)
        add(l, RULES_LINT_WARNING, or_site(s->menu_pos, s),
            "site \"%s\": the menu has %u options: callers keep at most %d "
            "in mind; merge some or use a second menu level in the IVR",
            s->id, n, LINT_MENU_MAX);
}

static void lint_closed(lint_t *l, const rules_site_t *s)
{
    bool any_menu = false;

    if (!s->closed)
        return;
    for (int i = 0; i < RULES_MAX_MENU; i++)
        any_menu |= s->menu[i].skill != NULL;
    if (s->has_hours || s->noverflow || any_menu || s->lunch.given ||
        s->after_hours.given || s->holiday.given)
        add(l, RULES_LINT_WARNING, or_site(s->closed_pos, s),
            "site \"%s\": closed: true sends every call to %s: its hours, "
            "menu, overflow and period routes do not apply", s->id,
            s->fallback);
}

static void lint_overflow(lint_t *l, const rules_site_t *s)
{
    const rules_t *r = l->r;

    for (unsigned k = 0; k < s->noverflow; k++) {
        const rules_step_t *st = &s->overflow[k];

        for (unsigned j = 0; j < k; j++) {
            const rules_step_t *o = &s->overflow[j];
            bool same_skill = (!o->skill && !st->skill) ||
                              (o->skill && st->skill &&
                               strcmp(o->skill, st->skill) == 0);
            if (o->pool == st->pool && o->target == st->target &&
                same_skill) {
                add(l, RULES_LINT_WARNING, st->pos,
                    "site \"%s\": overflow step %u repeats step %u (%s): "
                    "it never finds anyone step %u did not", s->id, k + 1,
                    j + 1, st->target_id, j + 1);
                break;
            }
        }
        if (st->pool)
            continue;
        if (r->sites[st->target].closed)
            add(l, RULES_LINT_WARNING, st->pos,
                "site \"%s\": overflow step %u (%s) is never used: that "
                "site is marked closed", s->id, k + 1, st->target_id);
        else if (site_never_open(&r->sites[st->target]))
            add(l, RULES_LINT_WARNING, st->pos,
                "site \"%s\": overflow step %u (%s) is never used: that "
                "site is never open", s->id, k + 1, st->target_id);
    }
}

/* ---------------------------------------------------------------------- */
/* Skills: who has them, who is sent them                                 */

static void staff_free(lint_t *l)
{
    size_t n = l->r->nsites + l->r->npools;

    if (!l->staff)
        return;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < l->staff[i].n; j++)
            free(l->staff[i].skills[j]);
        free(l->staff[i].skills);
    }
    free(l->staff);
    l->staff = NULL;
}

/* The staff skills of site (<pool> false) or pool <idx>; NULL if unknown. */
static const staff_t *staff_of(lint_t *l, bool pool, size_t idx)
{
    staff_t *st;
    const char *const *list;
    const char *id;
    size_t n = 0;

    if (!l->skills_fn || !l->staff)
        return NULL;
    st = &l->staff[pool ? l->r->nsites + idx : idx];
    id = pool ? l->r->pools[idx].id : l->r->sites[idx].id;
    if (!st->asked) {
        st->asked = true;
        list = l->skills_fn(l->skills_arg, id);
        if (list) {
            while (list[n])
                n++;
            st->skills = calloc(n ? n : 1, sizeof(*st->skills));
            if (!st->skills) {
                l->nomem = true;
                return NULL;
            }
            for (size_t i = 0; i < n; i++) {
                if (!(st->skills[i] = strdup(list[i]))) {
                    l->nomem = true;
                    break;
                }
                st->n++;
            }
            st->known = true;
        }
    }
    return st->known ? st : NULL;
}

static bool staff_has(const staff_t *st, const char *skill)
{
    for (size_t i = 0; i < st->n; i++)
        if (strcmp(st->skills[i], skill) == 0)
            return true;
    return false;
}

/* Skills routes send to each site and pool (lint of staff skills nobody
 * asks for). */
typedef struct {
    const char **v;
    size_t n, cap;
} wanted_t;

static void wanted_add(lint_t *l, wanted_t *w, const char *skill)
{
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->v[i], skill) == 0)
            return;
    if (w->n == w->cap) {
        size_t ncap = w->cap ? 2 * w->cap : 8;
        const char **nv = realloc(w->v, ncap * sizeof(*nv));
        if (!nv) {
            l->nomem = true;
            return;
        }
        w->v = nv;
        w->cap = ncap;
    }
    w->v[w->n++] = skill;
}

/* One route of site <s>: skill <skill> written at <pos> (<what> names it
 * in messages). Walks its chain: when every step's staff are known and
 * none has the skill, one error; else a warning per step that lacks it. */
static void lint_route_skill(lint_t *l, const rules_site_t *s,
                             const char *skill, rules_pos_t pos,
                             const char *what, wanted_t *wanted)
{
    const rules_t *r = l->r;
    size_t si = (size_t)(s - r->sites);
    enum { UNKNOWN, HAS, LACKS } state[1 + RULES_MAX_OVERFLOW];
    bool all_known = true, anyone = false;
    char names[160];
    size_t off = 0;
    const staff_t *st;

    wanted_add(l, &wanted[si], skill);
    st = staff_of(l, false, si);
    state[0] = !st ? UNKNOWN : staff_has(st, skill) ? HAS : LACKS;
    off += (size_t)snprintf(names, sizeof(names), "%s", s->id);
    for (unsigned k = 0; k < s->noverflow; k++) {
        const rules_step_t *step = &s->overflow[k];
        const char *sk = step->skill ? step->skill : skill;
        const char *id = step->pool ? r->pools[step->target].id
                                    : r->sites[step->target].id;

        wanted_add(l, &wanted[step->pool ? r->nsites + step->target
                                         : step->target], sk);
        st = staff_of(l, step->pool, step->target);
        state[1 + k] = !st ? UNKNOWN : staff_has(st, sk) ? HAS : LACKS;
        if (off < sizeof(names))
            off += (size_t)snprintf(names + off, sizeof(names) - off,
                                    ", %s%s", step->pool ? "pool " : "", id);
    }
    for (unsigned k = 0; k <= s->noverflow; k++) {
        all_known &= state[k] != UNKNOWN;
        anyone |= state[k] == HAS;
    }
    if (!l->skills_fn)
        return;
    if (all_known && !anyone) {
        if (first_time(l, s->id, skill, 1))
            add(l, RULES_LINT_ERROR, pos,
                "site \"%s\": %s: nobody along the chain (%s) has skill "
                "%s: these calls always go to %s", s->id, what, names, skill,
                s->fallback);
        return;
    }
    if (state[0] == LACKS && first_time(l, s->id, skill, 0))
        add(l, RULES_LINT_WARNING, pos,
            "site \"%s\": %s: no staff at %s has skill %s", s->id, what,
            s->id, skill);
    for (unsigned k = 0; k < s->noverflow; k++) {
        const rules_step_t *step = &s->overflow[k];
        const char *sk = step->skill ? step->skill : skill;
        const char *id = step->pool ? r->pools[step->target].id
                                    : r->sites[step->target].id;

        if (state[1 + k] == LACKS && first_time(l, id, sk, 0))
            add(l, RULES_LINT_WARNING, step->pos,
                "site \"%s\": overflow step %u: no staff at %s%s has skill "
                "%s", s->id, k + 1, step->pool ? "pool " : "", id, sk);
    }
}

static void lint_skills(lint_t *l)
{
    const rules_t *r = l->r;
    size_t ntargets = r->nsites + r->npools;
    wanted_t *wanted = calloc(ntargets ? ntargets : 1, sizeof(*wanted));

    if (!wanted) {
        l->nomem = true;
        return;
    }
    if (l->skills_fn &&
        !(l->staff = calloc(ntargets ? ntargets : 1, sizeof(*l->staff))))
        l->nomem = true;

    for (size_t i = 0; i < r->nsites; i++) {
        const rules_site_t *s = &r->sites[i];
        char what[64];

        if (s->closed)
            continue;
        snprintf(what, sizeof(what), "default_skill %s", s->default_skill);
        lint_route_skill(l, s, s->default_skill,
                         or_site(s->default_skill_pos, s), what, wanted);
        for (int k = 0; k < RULES_MAX_MENU; k++) {
            if (!s->menu[k].skill)
                continue;
            snprintf(what, sizeof(what), "option %c -> %s",
                     rules_menu_key(k), s->menu[k].skill);
            lint_route_skill(l, s, s->menu[k].skill, s->menu[k].pos, what,
                             wanted);
        }
        for (size_t k = 0; k < s->ndids; k++) {
            if (!s->dids[k].skill)
                continue;
            snprintf(what, sizeof(what), "DID %s -> %s", s->dids[k].num,
                     s->dids[k].skill);
            lint_route_skill(l, s, s->dids[k].skill, s->dids[k].pos, what,
                             wanted);
        }
    }

    /* pools no chain names; staff skills no route asks for */
    for (size_t p = 0; p < r->npools; p++)
        if (wanted[r->nsites + p].n == 0)
            add(l, RULES_LINT_WARNING, r->pools[p].pos,
                "pool \"%s\" is in no overflow chain: its staff are never "
                "offered a call", r->pools[p].id);
    for (size_t t = 0; l->skills_fn && t < ntargets; t++) {
        bool pool = t >= r->nsites;
        size_t idx = pool ? t - r->nsites : t;
        const staff_t *st;
        rules_pos_t pos;
        const char *id;

        if (!pool && r->sites[idx].closed)
            continue;
        if (pool && wanted[t].n == 0)
            continue; /* already said */
        if (!(st = staff_of(l, pool, idx)))
            continue;
        pos = pool ? r->pools[idx].pos : site_pos(&r->sites[idx]);
        id = pool ? r->pools[idx].id : r->sites[idx].id;
        for (size_t k = 0; k < st->n; k++) {
            bool asked = false;
            for (size_t j = 0; j < wanted[t].n && !asked; j++)
                asked = strcmp(wanted[t].v[j], st->skills[k]) == 0;
            if (!asked)
                add(l, RULES_LINT_WARNING, pos,
                    "%s \"%s\": staff have skill %s, but no route sends "
                    "%s calls there", pool ? "pool" : "site", id,
                    st->skills[k], st->skills[k]);
        }
    }
    for (size_t t = 0; t < ntargets; t++)
        free(wanted[t].v);
    free(wanted);
}

/* ---------------------------------------------------------------------- */

static int cmp_item(const void *a, const void *b)
{
    const item_t *x = a, *y = b;

    if (x->f.line != y->f.line)
        return x->f.line < y->f.line ? -1 : 1;
    if (x->f.col != y->f.col)
        return x->f.col < y->f.col ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* A "trusted:" list, or its absence: sources that may route calls. */
static void lint_trust_list(lint_t *l, const rules_trust_t *t, const char *who)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i].bits == 0)
            add(l, RULES_LINT_WARNING, t->v[i].pos,
                "%strusted: %s trusts every %s address: anyone who reaches "
                "the proxy can route calls and reserve staff", who,
                t->v[i].family == AF_INET ? "0.0.0.0/0" : "::/0",
                t->v[i].family == AF_INET ? "IPv4" : "IPv6");
}

static void lint_trusted(lint_t *l)
{
    const rules_t *r = l->r;
    char who[160];

    if (!r->trust_given) {
        add(l, RULES_LINT_WARNING, (rules_pos_t){ 1, 1 },
            "no \"trusted:\" sources: anyone who reaches the proxy can route "
            "calls and reserve staff (name the trunks and PBXs, e.g. "
            "trusted: [\"192.0.2.10\", \"10.1.0.0/16\"])");
        return;
    }
    lint_trust_list(l, &r->trusted, "");
    for (size_t i = 0; i < r->ngroups; i++) {
        snprintf(who, sizeof(who), "group \"%s\": ", r->groups[i].name);
        lint_trust_list(l, &r->groups[i].trusted, who);
    }
    for (size_t i = 0; i < r->nsites; i++) {
        const rules_site_t *s = &r->sites[i];
        snprintf(who, sizeof(who), "site \"%s\": ", s->id);
        lint_trust_list(l, &s->trusted, who);
        if (!s->trusted.n && !r->groups[s->group].trusted.n && !r->trusted.n)
            add(l, RULES_LINT_WARNING, s->trusted.given ? s->trusted.pos : site_pos(s),
                "site \"%s\": no trusted source may call it (its list, its "
                "group's and the file's are empty or absent): every call "
                "to its numbers is refused", s->id);
    }
}

int rules_lint(const rules_t *r, rules_staff_skills_fn *skills,
               void *skills_arg,
               void (*cb)(void *arg, const rules_finding_t *f), void *cb_arg)
{
    lint_t l = { .r = r, .skills_fn = skills, .skills_arg = skills_arg };
    int worst = 0;

    for (size_t i = 0; i < r->nsites; i++) {
        const rules_site_t *s = &r->sites[i];

        if (!r->expanded && (s->has_hours || s->has_dates))
            add(&l, RULES_LINT_ERROR, or_site(s->hours_pos, s),
                "site \"%s\": opening hours were not expanded (the rules "
                "were loaded without a reference time): the site counts as "
                "always open", s->id);
        lint_menu(&l, s);
        lint_hours(&l, s);
        lint_dates(&l, s);
        lint_routes(&l, s);
        lint_closed(&l, s);
        lint_overflow(&l, s);
    }
    lint_skills(&l);
    lint_trusted(&l);
    if (l.nomem)
        add(&l, RULES_LINT_ERROR, (rules_pos_t){ 0, 0 },
            "out of memory: some findings may be missing");

    if (l.n)
        qsort(l.items, l.n, sizeof(*l.items), cmp_item);
    for (size_t i = 0; i < l.n; i++) {
        if ((int)l.items[i].f.level > worst)
            worst = (int)l.items[i].f.level;
        if (cb)
            cb(cb_arg, &l.items[i].f);
    }
    staff_free(&l);
    free(l.seen);
    free(l.items);
    return worst;
}
