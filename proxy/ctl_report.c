/* ctl_report.c -- frontdeskctl report calls|coverage: reads the histories
 * Redis keeps (fd:{site}:calls, fd:{site}:presence, the staff list) over a
 * blocking connection, places each instant in its site's week with the
 * rules, and hands the counting and the writing to report.c.
 * docs/reports.md says what the reports show and how to read them.
 */
#include "ctl.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis.h>

#include "opts.h"
#include "report.h"
#include "rules.h"

#define WEEK_S (7 * 86400)
#define MAX_SITES 1024
#define MAX_WEEKS 12

static int fail(const char *msg, const char *what)
{
    fprintf(stderr, "frontdeskctl: %s%s%s\n", msg, what ? ": " : "", what ? what : "");
    return 2;
}

/* Hour of the week (Monday 00:00 = 0) of <t> at <site>, in the site's own
 * time (UTC for a pool or outside the rules' horizon). */
static unsigned how_of(const rules_t *r, const char *site, time_t t)
{
    int64_t local;
    if (!rules_site_localtime(r, site, t, &local)) local = (int64_t)t;
    int64_t day = local >= 0 ? local / 86400 : (local - 86399) / 86400;
    unsigned wd = (unsigned)(((day + 3) % 7 + 7) % 7); /* 1970-01-01 was a Thursday */
    return wd * 24 + (unsigned)((local - day * 86400) / 3600);
}

/* "2026-12-07 12:00" of <t> at <site>. */
static void local_text(const rules_t *r, const char *site, time_t t, char out[20])
{
    int64_t local;
    struct tm tm;
    if (!rules_site_localtime(r, site, t, &local)) local = (int64_t)t;
    time_t lt = (time_t)local;
    gmtime_r(&lt, &tm);
    strftime(out, 20, "%Y-%m-%d %H:%M", &tm);
}

static void utc_text(time_t t, char out[24])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 24, "%Y-%m-%d %H:%M UTC", &tm);
}

/* The value of field <name> of a stream entry's field list, or NULL. */
static const redisReply *field(const redisReply *fields, const char *name)
{
    if (!fields || fields->type != REDIS_REPLY_ARRAY) return NULL;
    for (size_t i = 0; i + 1 < fields->elements; i += 2)
        if (fields->element[i]->type == REDIS_REPLY_STRING && !strcmp(fields->element[i]->str, name) &&
            fields->element[i + 1]->type == REDIS_REPLY_STRING)
            return fields->element[i + 1];
    return NULL;
}

typedef int entry_fn(void *arg, const redisReply *id, const redisReply *fields);

/* Every entry of stream <key> from <from_ms> to <to_ms> (inclusive), in
 * order, 1000 a read. 0, or 2 with the reason said (Redis refused). */
static int each_entry(redisContext *rc, const char *key, uint64_t from_ms, uint64_t to_ms, entry_fn *fn, void *arg)
{
    char start[48], end[32];
    snprintf(start, sizeof(start), "%llu", (unsigned long long)from_ms);
    snprintf(end, sizeof(end), "%llu", (unsigned long long)to_ms);
    for (;;) {
        redisReply *r = redisCommand(rc, "XRANGE %s %s %s COUNT 1000", key, start, end);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            fprintf(stderr, "frontdeskctl: XRANGE %s: %s\n", key, r ? r->str : rc->errstr);
            freeReplyObject(r);
            return 2;
        }
        if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
            freeReplyObject(r);
            return 0;
        }
        size_t n = r->elements;
        for (size_t i = 0; i < n; i++) {
            const redisReply *e = r->element[i];
            if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 || e->element[0]->type != REDIS_REPLY_STRING)
                continue;
            int rc2 = fn(arg, e->element[0], e->element[1]);
            if (rc2) {
                freeReplyObject(r);
                return rc2;
            }
        }
        const redisReply *last = r->element[n - 1];
        if (last->type == REDIS_REPLY_ARRAY && last->elements && last->element[0]->type == REDIS_REPLY_STRING)
            snprintf(start, sizeof(start), "(%s", last->element[0]->str);
        freeReplyObject(r);
        if (n < 1000) return 0;
    }
}

/* "7d", "24h", "2w" -> seconds; -1 when not one. */
static long span_of(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (v <= 0 || end == s || end[1]) return -1;
    switch (*end) {
    case 'h': return v * 3600;
    case 'd': return v * 86400;
    case 'w': return v * (long)WEEK_S;
    default: return -1;
    }
}

typedef struct {
    const char *config, *site, *skill, *svg;
    report_format_t fmt;
    time_t from, to, at;
    unsigned weeks;
    double min_share, min_calls; /* min_calls < 0: any calls at all */
    bool week;
    bool to_now; /* no --to: up to now, this second included */
} rargs_t;

static int parse_args(int argc, char **argv, bool coverage, rargs_t *a)
{
    static const struct option lo[] = {
        { "config", required_argument, NULL, 'c' }, { "since", required_argument, NULL, 's' },
        { "from", required_argument, NULL, 'f' },   { "to", required_argument, NULL, 't' },
        { "site", required_argument, NULL, 'S' },   { "skill", required_argument, NULL, 'k' },
        { "format", required_argument, NULL, 'F' }, { "svg", required_argument, NULL, 'g' },
        { "week", no_argument, NULL, 'w' },         { "weeks", required_argument, NULL, 'W' },
        { "min-share", required_argument, NULL, 'm' }, { "at", required_argument, NULL, 'a' },
        { "min-calls", required_argument, NULL, 'M' },
        { NULL, 0, NULL, 0 },
    };
    time_t now = time(NULL);
    bool since = false, from = false, to = false;
    int ch;
    char *end;

    *a = (rargs_t){ .to = now, .at = now, .weeks = 4, .min_share = 0.5, .min_calls = -1 };
    optind = 0;
    while ((ch = getopt_long(argc, argv, ":", lo, NULL)) != -1) {
        switch (ch) {
        case 'c': a->config = optarg; break;
        case 'S': a->site = optarg; break;
        case 'k': a->skill = optarg; break;
        case 'g': a->svg = optarg; break;
        case 'w': a->week = true; break;
        case 's': {
            long s = span_of(optarg);
            if (s < 0) return fail("--since: want e.g. 7d, 24h or 2w", optarg);
            a->from = now - s, since = true;
            break;
        }
        case 'f':
            if (opts_parse_time(optarg, &a->from) < 0) return fail("--from: want e.g. 2026-12-01T00:00:00-06:00", optarg);
            from = true;
            break;
        case 't':
            if (opts_parse_time(optarg, &a->to) < 0) return fail("--to: want e.g. 2026-12-02T00:00:00-06:00", optarg);
            to = true;
            break;
        case 'a':
            if (opts_parse_time(optarg, &a->at) < 0) return fail("--at: want e.g. 2026-12-07T00:00:00Z", optarg);
            break;
        case 'F':
            if (!strcmp(optarg, "table")) a->fmt = REPORT_TABLE;
            else if (!strcmp(optarg, "csv")) a->fmt = REPORT_CSV;
            else if (!strcmp(optarg, "json")) a->fmt = REPORT_JSON;
            else return fail("--format: want table, csv or json", optarg);
            break;
        case 'W': {
            unsigned long w = strtoul(optarg, &end, 10);
            if (*end || w < 1 || w > MAX_WEEKS) return fail("--weeks: want 1 to 12", optarg);
            a->weeks = (unsigned)w;
            break;
        }
        case 'M':
            a->min_calls = strtod(optarg, &end);
            if (*end || a->min_calls < 0) return fail("--min-calls: want 0 or more (calls a week)", optarg);
            break;
        case 'm':
            a->min_share = strtod(optarg, &end);
            if (*end || a->min_share < 0 || a->min_share > 1) return fail("--min-share: want 0 to 1", optarg);
            break;
        default:
            return fail("report: unknown flag or missing value", argv[optind - 1]);
        }
    }
    if (optind < argc) return fail("report: unexpected argument", argv[optind]);
    if (!a->config) return fail("report needs --config FILE (the rules: sites and their time zones)", NULL);
    if (coverage) {
        if (!a->week) return fail("report coverage: give --week (the coming week)", NULL);
        if (since || from || to) return fail("report coverage looks at the coming week: --since, --from and --to are "
                                             "report calls' flags", NULL);
        return 0;
    }
    if (a->week) return fail("--week is report coverage's flag", NULL);
    if (since && from) return fail("give --since or --from, not both", NULL);
    if (!since && !from) a->from = now - WEEK_S; /* the last week */
    a->to_now = !to;
    if (to && !from) return fail("--to needs --from", NULL);
    if (a->to <= a->from) return fail("--to must be after --from", NULL);
    if (a->to - a->from > 398L * 86400) return fail("at most 398 days at once", NULL);
    return 0;
}

/* The sites to report: every site of the rules, or --site (which must be one). */
static int sites_of(const rules_t *r, const char *only, const char **out, size_t *n)
{
    const char *all[MAX_SITES];
    size_t k = rules_site_ids(r, all, MAX_SITES), nsites = rules_site_count(r);
    *n = 0;
    /* sites come first, then pools: pools take no calls of their own */
    for (size_t i = 0; i < k && i < nsites && i < MAX_SITES; i++)
        if (!only || !strcmp(only, all[i])) out[(*n)++] = all[i];
    if (only && !*n) return fail("no such site in the rules", only);
    return 0;
}

static int load(const char *path, time_t now, rules_t **r)
{
    rules_report_t rep;
    rules_load_opts_t lo = { .now = now };
    if (rules_load_opts(path, &lo, r, &rep) < 0) {
        if (rep.line) fprintf(stderr, "%s:%u:%u: error: %s\n", rep.file, rep.line, rep.col, rep.msg);
        else fprintf(stderr, "%s: error: %s\n", rep.file, rep.msg);
        return 2;
    }
    return 0;
}

static int write_svg(const char *path, int (*fn)(void *, FILE *, const char *), void *obj, const char *title)
{
    FILE *f = fopen(path, "w");
    if (!f) return fail("cannot write the SVG", path);
    int rc = fn(obj, f, title);
    if (fclose(f) != 0 || rc < 0) return fail("cannot write the SVG", path);
    return 0;
}

/* ---- report calls ---------------------------------------------------------- */

typedef struct {
    report_calls_t *rc;
    const rules_t *r;
    const char *site, *skill;
    unsigned long skipped;
} calls_ctx_t;

typedef int line_fn(void *arg, const report_call_t *c);

/* Each record of an entry: fd_pick writes one, the proxy's batches one a
 * line. */
static int each_record(const redisReply *id, const redisReply *fields, line_fn *fn, void *arg,
                       unsigned long *skipped)
{
    const redisReply *v = field(fields, "v");
    if (!v) {
        (*skipped)++;
        return 0;
    }
    for (const char *p = v->str, *end = v->str + v->len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)((nl ? nl : end) - p);
        report_call_t c;
        if (report_parse_call(id->str, id->len, p, len, &c) < 0) (*skipped)++;
        else if (fn(arg, &c)) return 2;
        p += len + 1;
    }
    return 0;
}

static int on_call_line(void *arg, const report_call_t *cp)
{
    calls_ctx_t *x = arg;
    report_call_t c = *cp;
    if (c.status) return report_calls_final(x->rc, x->site, c.call, c.status) < 0 ? fail("out of memory", NULL) : 0;
    if (x->skill && strcmp(c.skill, x->skill)) return 0;
    if (report_calls_add(x->rc, x->site, &c, how_of(x->r, x->site, (time_t)(c.ms / 1000))) < 0)
        return fail("out of memory", NULL);
    return 0;
}

static int on_call(void *arg, const redisReply *id, const redisReply *fields)
{
    calls_ctx_t *x = arg;
    return each_record(id, fields, on_call_line, x, &x->skipped);
}

static int svg_calls(void *obj, FILE *f, const char *title)
{
    return report_calls_svg(obj, f, title);
}

static int report_calls(redisContext *rc, const rargs_t *a)
{
    rules_t *r = NULL;
    const char *sites[MAX_SITES];
    size_t n;
    char key[64], t0[24], t1[24], title[160];
    int ret = load(a->config, a->from, &r);
    calls_ctx_t x = { .skill = a->skill };

    if (ret) return ret;
    if ((ret = sites_of(r, a->site, sites, &n))) goto out;
    if (!(x.rc = report_calls_new())) {
        ret = fail("out of memory", NULL);
        goto out;
    }
    x.r = r;
    for (size_t i = 0; i < n && !ret; i++) {
        x.site = sites[i];
        snprintf(key, sizeof(key), "fd:{%s}:calls", sites[i]);
        ret = each_entry(rc, key, (uint64_t)a->from * 1000u, a->to_now ? (uint64_t)a->to * 1000u + 999u : (uint64_t)a->to * 1000u - 1u,
                         on_call, &x);
    }
    if (ret) goto out;
    utc_text(a->from, t0);
    utc_text(a->to, t1);
    snprintf(title, sizeof(title), "Calls from %s to %s%s%s (hours in each site's own time)", t0, t1,
             a->skill ? ", skill " : "", a->skill ? a->skill : "");
    if (report_calls_write(x.rc, stdout, a->fmt, title) < 0) ret = fail("cannot write the report", NULL);
    if (!ret && a->svg) ret = write_svg(a->svg, svg_calls, x.rc, title);
    if (x.skipped) fprintf(stderr, "frontdeskctl: %lu entries not understood, skipped\n", x.skipped);
out:
    report_calls_free(x.rc);
    rules_unref(r);
    return ret;
}

/* ---- report coverage ------------------------------------------------------- */

/* A dialled number and option seen at a site, and its calls per hour of
 * the week over the weeks read. */
typedef struct {
    char number[33], option[8];
    uint32_t n[REPORT_HOURS];
} pair_t;

typedef struct {
    pair_t *p;
    size_t n, cap;
    const rules_t *r;
    const char *site;
} pairs_t;

static int on_pair_line(void *arg, const report_call_t *cp)
{
    pairs_t *x = arg;
    report_call_t c = *cp;
    if (c.status || c.outcome == RO_REJECTED) return 0;
    size_t i = 0;
    while (i < x->n && (strcmp(x->p[i].number, c.number) || strcmp(x->p[i].option, c.option))) i++;
    if (i == x->n) {
        if (x->n == x->cap) {
            pair_t *m = realloc(x->p, (x->cap = x->cap ? x->cap * 2 : 16) * sizeof(*m));
            if (!m) return fail("out of memory", NULL);
            x->p = m;
        }
        memset(&x->p[i], 0, sizeof(x->p[i]));
        snprintf(x->p[i].number, sizeof(x->p[i].number), "%s", c.number);
        snprintf(x->p[i].option, sizeof(x->p[i].option), "%s", c.option);
        x->n++;
    }
    x->p[i].n[how_of(x->r, x->site, (time_t)(c.ms / 1000))]++;
    return 0;
}

static int on_pair(void *arg, const redisReply *id, const redisReply *fields)
{
    unsigned long skipped = 0;
    return each_record(id, fields, on_pair_line, arg, &skipped);
}

/* The presence of one site (or pool): its staff now, and its changes over
 * the window. */
typedef struct {
    char id[65], state[16], skills[256];
} person_t;

typedef struct {
    char id[65], from[16], to[16];
    int64_t ms;
} change_t;

typedef struct {
    char site[33];
    person_t *staff;
    size_t nstaff;
    change_t *ch;
    size_t nch, capch;
} presence_t;

/* Who is free, at minute resolution, for one (site, skill, level) step. */
typedef struct {
    char site[33], skill[33];
    unsigned min;
    report_avail_t *a;
    unsigned holders; /* staff holding the skill at that level */
} step_avail_t;

/* (each allocated apart: chains hold pointers to them while more come) */
typedef struct {
    redisContext *rc;
    int64_t from_ms, to_ms;
    presence_t **pres;
    size_t npres;
    step_avail_t **steps;
    size_t nsteps;
} cov_t;

static int on_change(void *arg, const redisReply *id, const redisReply *fields)
{
    presence_t *p = arg;
    const redisReply *i = field(fields, "i"), *f = field(fields, "f"), *t = field(fields, "t");
    if (!i || !t) return 0;
    if (p->nch == p->capch) {
        change_t *m = realloc(p->ch, (p->capch = p->capch ? p->capch * 2 : 256) * sizeof(*m));
        if (!m) return fail("out of memory", NULL);
        p->ch = m;
    }
    change_t *c = &p->ch[p->nch++];
    snprintf(c->id, sizeof(c->id), "%s", i->str);
    snprintf(c->from, sizeof(c->from), "%s", f ? f->str : "");
    snprintf(c->to, sizeof(c->to), "%s", t->str);
    c->ms = (int64_t)strtoll(id->str, NULL, 10);
    return 0;
}

static presence_t *presence_of(cov_t *cv, const char *site, int *err)
{
    char key[64];
    for (size_t i = 0; i < cv->npres; i++)
        if (!strcmp(cv->pres[i]->site, site)) return cv->pres[i];
    presence_t **m = realloc(cv->pres, (cv->npres + 1) * sizeof(*m));
    if (!m) return *err = fail("out of memory", NULL), NULL;
    cv->pres = m;
    presence_t *p = calloc(1, sizeof(*p));
    if (!p) return *err = fail("out of memory", NULL), NULL;
    cv->pres[cv->npres++] = p;
    snprintf(p->site, sizeof(p->site), "%s", site);
    snprintf(key, sizeof(key), "fd:{%s}", site);
    redisReply *r = redisCommand(cv->rc, "FCALL_RO fd_staff_list 1 %s", key);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        *err = fail("cannot list the staff", r && r->type == REDIS_REPLY_ERROR ? r->str : site);
        freeReplyObject(r);
        return NULL;
    }
    p->staff = calloc(r->elements / 4 + 1, sizeof(*p->staff));
    if (!p->staff) {
        freeReplyObject(r);
        return *err = fail("out of memory", NULL), NULL;
    }
    for (size_t i = 0; i + 3 < r->elements; i += 4) {
        person_t *s = &p->staff[p->nstaff++];
        snprintf(s->id, sizeof(s->id), "%s", r->element[i]->str ? r->element[i]->str : "");
        /* "available (offered 1/1)": the state is the first word */
        snprintf(s->state, sizeof(s->state), "%s", r->element[i + 1]->str ? r->element[i + 1]->str : "");
        s->state[strcspn(s->state, " ")] = '\0';
        snprintf(s->skills, sizeof(s->skills), "%s", r->element[i + 2]->str ? r->element[i + 2]->str : "");
    }
    freeReplyObject(r);
    snprintf(key, sizeof(key), "fd:{%s}:presence", site);
    if ((*err = each_entry(cv->rc, key, (uint64_t)cv->from_ms, (uint64_t)cv->to_ms, on_change, p))) return NULL;
    return p;
}

/* The level of <skill> in "billing:3,scheduling" (3 when none is given), 0 if not held. */
static unsigned level_of(const char *skills, const char *skill)
{
    size_t n = strlen(skill);
    for (const char *p = skills; *p;) {
        size_t len = strcspn(p, ",");
        if (len >= n && !strncmp(p, skill, n) && (len == n || p[n] == ':'))
            return len == n ? 3 : (unsigned)strtoul(p + n + 1, NULL, 10);
        p += len + (p[len] == ',');
    }
    return 0;
}

static step_avail_t *step_of(cov_t *cv, const char *site, const char *skill, unsigned min, int *err)
{
    for (size_t i = 0; i < cv->nsteps; i++)
        if (!strcmp(cv->steps[i]->site, site) && !strcmp(cv->steps[i]->skill, skill) && cv->steps[i]->min == min)
            return cv->steps[i];
    presence_t *p = presence_of(cv, site, err);
    if (!p) return NULL;
    step_avail_t **m = realloc(cv->steps, (cv->nsteps + 1) * sizeof(*m));
    if (!m) return *err = fail("out of memory", NULL), NULL;
    cv->steps = m;
    step_avail_t *s = calloc(1, sizeof(*s));
    if (!s) return *err = fail("out of memory", NULL), NULL;
    snprintf(s->site, sizeof(s->site), "%s", site);
    snprintf(s->skill, sizeof(s->skill), "%s", skill);
    s->min = min;
    if (!(s->a = report_avail_new(cv->from_ms, (unsigned)((cv->to_ms - cv->from_ms) / 60000)))) {
        free(s);
        *err = fail("out of memory", NULL);
        return NULL;
    }
    cv->steps[cv->nsteps++] = s;
    for (size_t i = 0; i < p->nstaff; i++) {
        const person_t *who = &p->staff[i];
        if (level_of(who->skills, skill) < (min ? min : 1)) continue;
        s->holders++;
        report_timeline_t t;
        report_timeline_start(&t, cv->from_ms);
        for (size_t k = 0; k < p->nch; k++)
            if (!strcmp(p->ch[k].id, who->id)) report_timeline_change(&t, s->a, p->ch[k].ms, p->ch[k].from, p->ch[k].to);
        report_timeline_end(&t, s->a, cv->to_ms, who->state);
    }
    return s;
}

/* One chain the rules send calls to in an hour, and the calls a week. */
typedef struct {
    step_avail_t *step[8];
    unsigned nstep;
    double calls;
    const char *skill;
} chain_t;

static int coverage_site(cov_t *cv, const rules_t *r, const char *site, const rargs_t *a, time_t week0,
                         report_coverage_t *out, bool *had_calls)
{
    pairs_t px = { .r = r, .site = site };
    char key[64];
    int ret;
    snprintf(key, sizeof(key), "fd:{%s}:calls", site);
    if ((ret = each_entry(cv->rc, key, (uint64_t)cv->from_ms, (uint64_t)cv->to_ms - 1, on_pair, &px))) goto out;
    *had_calls = px.n > 0;
    for (unsigned h = 0; h < REPORT_HOURS && !ret; h++) {
        time_t t = week0 + (time_t)h * 3600;
        unsigned how = how_of(r, site, t + 1800);
        chain_t ch[16];
        unsigned nch = 0;
        for (size_t i = 0; i < px.n && !ret; i++) {
            rules_req_t rq = { { px.p[i].number, strlen(px.p[i].number) }, { px.p[i].number, strlen(px.p[i].number) },
                               { "", 0 }, { px.p[i].option, strlen(px.p[i].option) }, NULL };
            plan_t plan;
            rules_eval(r, &rq, t + 1800, &plan);
            if (plan.kind != PLAN_PICK) continue;
            chain_t c = { .calls = (double)px.p[i].n[how] / a->weeks };
            for (unsigned k = 0; k < plan.n_chain && c.nstep < 8; k++) {
                const plan_step_t *st = &plan.chain[k];
                if (st->kind != PLAN_STEP_PICK) continue;
                if (!(c.step[c.nstep] = step_of(cv, st->site, st->skill, st->min_level, &ret))) break;
                if (!c.skill) c.skill = c.step[c.nstep]->skill;
                c.nstep++;
            }
            if (ret || !c.nstep) continue;
            unsigned j = 0;
            while (j < nch && (ch[j].nstep != c.nstep || memcmp(ch[j].step, c.step, c.nstep * sizeof(c.step[0]))))
                j++;
            if (j < nch) ch[j].calls += c.calls;
            else if (nch < 16) ch[nch++] = c;
        }
        for (unsigned j = 0; j < nch && !ret; j++) {
            /* the same hour of each past week, minute by minute: nobody
             * free at any step of the chain */
            unsigned uncovered = 0, holders = 0;
            for (unsigned k = 0; k < ch[j].nstep; k++) holders += ch[j].step[k]->holders;
            for (unsigned w = 1; w <= a->weeks; w++)
                for (unsigned m = 0; m < 60; m++) {
                    int64_t ms = ((int64_t)t - (int64_t)w * WEEK_S) * 1000 + (int64_t)m * 60000;
                    bool free_one = false;
                    for (unsigned k = 0; k < ch[j].nstep && !free_one; k++)
                        free_one = report_avail_covered(ch[j].step[k]->a, ms);
                    uncovered += !free_one;
                }
            double share = (double)uncovered / (60.0 * a->weeks);
            if (share <= 0 || share < a->min_share) continue;
            if (a->min_calls < 0 ? ch[j].calls <= 0 : ch[j].calls < a->min_calls) continue;
            report_gap_t g = { .how = how, .at_ms = (int64_t)t * 1000, .share = share, .calls = ch[j].calls,
                               .nobody_holds = holders == 0 };
            snprintf(g.site, sizeof(g.site), "%s", site);
            snprintf(g.skill, sizeof(g.skill), "%s", ch[j].skill);
            local_text(r, site, t, g.date);
            if (report_coverage_add(out, &g) < 0) ret = fail("out of memory", NULL);
        }
    }
out:
    free(px.p);
    return ret;
}

static int svg_coverage(void *obj, FILE *f, const char *title)
{
    return report_coverage_svg(obj, f, title);
}

static int report_coverage(redisContext *rc, const rargs_t *a)
{
    rules_t *r = NULL;
    const char *sites[MAX_SITES];
    size_t n;
    char t0[24], title[200], quiet[512] = "";
    time_t week0 = (a->at + 3599) / 3600 * 3600; /* the next whole hour */
    cov_t cv = { .rc = rc, .from_ms = ((int64_t)week0 - (int64_t)a->weeks * WEEK_S) * 1000,
                 .to_ms = (int64_t)week0 * 1000 };
    report_coverage_t *out = report_coverage_new();
    int ret = out ? load(a->config, week0 - (time_t)a->weeks * WEEK_S, &r) : fail("out of memory", NULL);

    if (!ret) ret = sites_of(r, a->site, sites, &n);
    for (size_t i = 0; !ret && i < n; i++) {
        bool had = false;
        ret = coverage_site(&cv, r, sites[i], a, week0, out, &had);
        if (!had && strlen(quiet) + strlen(sites[i]) + 3 < sizeof(quiet))
            snprintf(quiet + strlen(quiet), sizeof(quiet) - strlen(quiet), "%s%s", quiet[0] ? ", " : "", sites[i]);
    }
    if (!ret) {
        utc_text(week0, t0);
        snprintf(title, sizeof(title), "Coverage of the week from %s, from the last %u week%s (nobody free %.0f%% of "
                 "the time or more)", t0, a->weeks, a->weeks > 1 ? "s" : "", 100.0 * a->min_share);
        if (report_coverage_write(out, stdout, a->fmt, title) < 0) ret = fail("cannot write the report", NULL);
        if (!ret && quiet[0] && a->fmt == REPORT_TABLE)
            printf("No calls in the history of %s: no hour to weigh (rules check --redis tells a skill nobody "
                   "holds).\n", quiet);
        if (!ret && a->svg) ret = write_svg(a->svg, svg_coverage, out, title);
    }
    for (size_t i = 0; i < cv.npres; i++) free(cv.pres[i]->staff), free(cv.pres[i]->ch), free(cv.pres[i]);
    for (size_t i = 0; i < cv.nsteps; i++) report_avail_free(cv.steps[i]->a), free(cv.steps[i]);
    free(cv.pres);
    free(cv.steps);
    report_coverage_free(out);
    rules_unref(r);
    return ret;
}

int ctl_report(ctl_redis_fn *redis, void *arg, const char *what, int argc, char **argv)
{
    rargs_t a;
    bool coverage = !strcmp(what, "coverage");
    if (!coverage && strcmp(what, "calls")) return fail("report: want calls or coverage", what);
    int ret = parse_args(argc, argv, coverage, &a);
    if (ret) return ret;
    return coverage ? report_coverage(redis(arg), &a) : report_calls(redis(arg), &a);
}
