/* explain.c -- rules_explain(): a plan, step by step, in words.
 *
 * For people (frontdeskctl route explain, the admin endpoint), not for the
 * hot path: it re-runs the evaluation with a trace and prints what each
 * decision looked at. It never prints the caller's number, nor its hash:
 * only whether the caller is known to be a priority caller and whether
 * caller-aware routing applies.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rules_int.h"

typedef struct {
    char *buf;
    size_t cap, len;
    unsigned step; /* number of the last numbered line */
} out_t;

__attribute__((format(printf, 2, 3)))
static void out_add(out_t *o, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (o->len + 1 >= o->cap)
        return;
    va_start(ap, fmt);
    n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    o->len += (size_t)n;
    if (o->len >= o->cap)
        o->len = o->cap - 1; /* cut: vsnprintf kept the NUL */
}

/* Start a numbered line. */
static void out_step(out_t *o)
{
    out_add(o, "%u. ", ++o->step);
}

static const char *const weekday_names[7] = {
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
    "Sunday"
};

static const char *strategy_words(int s)
{
    switch (s) {
    case RULES_ROUND_ROBIN:
        return "round robin";
    case RULES_MOST_SKILLED:
        return "most proficient first";
    case RULES_FEWEST_OFFERS:
        return "fewest offers today first";
    default:
        return "longest idle first";
    }
}

static void out_clock(out_t *o, unsigned minutes)
{
    out_add(o, "%02u:%02u", minutes / 60, minutes % 60);
}

static void out_date(out_t *o, uint32_t date)
{
    out_add(o, "%04u-%02u-%02u", date / 10000, date / 100 % 100, date % 100);
}

/* The dialled number as the request gave it: only characters a number
 * may hold, at most 32 (it is the clinic's number, never the caller's). */
static void out_called(out_t *o, const rules_req_t *req)
{
    span_t s = req->ruri_user.len ? req->ruri_user : req->to_user;
    char buf[33];
    size_t n = 0;

    for (size_t i = 0; i < s.len && n < sizeof(buf) - 1; i++) {
        char c = s.s[i];
        bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                  (c >= 'A' && c <= 'Z') || strchr("*#+-(). ", c);
        buf[n++] = ok ? c : '?';
    }
    buf[n] = '\0';
    out_add(o, "\"%s\"", buf);
}

/* "1. Tuesday 2026-03-10 12:40 America/Chicago (downtown): at lunch
 * (12:00-13:00)" */
static void out_when(out_t *o, const rules_site_t *s, const rules_trace_t *t,
                     int64_t now)
{
    const rules_when_t *w = &t->when;
    int64_t local, days;
    unsigned m, d;
    int y;

    out_step(o);
    if (rules_site_local(s, now, &local)) {
        days = local >= 0 ? local / RULES_DAY_S
                          : (local - RULES_DAY_S + 1) / RULES_DAY_S;
        rules_civil_from_days(days, &y, &m, &d);
        out_add(o, "%s %04d-%02u-%02u %02u:%02u %s (%s): ",
                weekday_names[((days + 3) % 7 + 7) % 7], y, m, d,
                (unsigned)(local - days * RULES_DAY_S) / 3600,
                (unsigned)(local - days * RULES_DAY_S) / 60 % 60,
                s->timezone, s->id);
    } else {
        days = now >= 0 ? now / RULES_DAY_S
                        : (now - RULES_DAY_S + 1) / RULES_DAY_S;
        rules_civil_from_days(days, &y, &m, &d);
        out_add(o, "%04d-%02u-%02u %02u:%02u UTC (%s, %s): ", y, m, d,
                (unsigned)(now - days * RULES_DAY_S) / 3600,
                (unsigned)(now - days * RULES_DAY_S) / 60 % 60, s->id,
                s->timezone);
    }
    if (w->unknown) {
        out_add(o, "hours not expanded for this date: reload the rules "
                   "(counted as open)\n");
        return;
    }
    switch (w->period) {
    case RULES_PERIOD_ALWAYS:
        out_add(o, "no opening hours: always open\n");
        return;
    case RULES_PERIOD_HOLIDAY: {
        bool one_off = false;
        for (size_t i = 0; i < s->ndates; i++)
            if (s->dates[i].date == w->day->date)
                one_off = s->dates[i].one_off;
        out_add(o, "%s (", one_off ? "closed date" : "holiday");
        out_date(o, w->day->date);
        out_add(o, "): closed all day\n");
        return;
    }
    default:
        break;
    }
    {
        const rules_weekday_t *wd = &s->week[w->day->wday];
        if (w->period == RULES_PERIOD_OPEN) {
            out_add(o, "open (");
            out_clock(o, wd->r[w->range].start);
            out_add(o, "-");
            out_clock(o, wd->r[w->range].end);
            out_add(o, ")\n");
        } else if (w->period == RULES_PERIOD_LUNCH) {
            out_add(o, "at lunch (");
            out_clock(o, wd->r[w->range].end);
            out_add(o, "-");
            out_clock(o, wd->r[w->range + 1].start);
            out_add(o, ")\n");
        } else if (wd->n == 0) {
            out_add(o, "closed all day (no hours on %ss)\n",
                    weekday_names[w->day->wday]);
        } else {
            out_add(o, "after hours (today ");
            for (unsigned i = 0; i < wd->n; i++) {
                out_add(o, "%s", i ? ", " : "");
                out_clock(o, wd->r[i].start);
                out_add(o, "-");
                out_clock(o, wd->r[i].end);
            }
            out_add(o, ")\n");
        }
    }
}

static void out_option(out_t *o, const rules_site_t *s,
                       const rules_trace_t *t, const char *skill)
{
    out_step(o);
    switch (t->opt_kind) {
    case RULES_OPT_DEDICATED:
        out_add(o, "%s is a dedicated line -> %s (the menu does not "
                   "apply)\n", t->did->num, skill);
        break;
    case RULES_OPT_KNOWN:
        out_add(o, "option %c -> %s\n", rules_menu_key(t->slot), skill);
        break;
    case RULES_OPT_UNKNOWN: {
        char shown[9];
        size_t n = t->opt.len < 8 ? t->opt.len : 8;
        for (size_t i = 0; i < n; i++) {
            char c = t->opt.s[i];
            bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                      (c >= 'A' && c <= 'Z') || c == '*' || c == '#';
            shown[i] = ok ? c : '?';
        }
        shown[n] = '\0';
        out_add(o, "option %s%s is not in the menu -> default %s\n", shown,
                t->opt.len > n ? "..." : "", s->default_skill);
        break;
    }
    default:
        out_add(o, "no option -> default %s\n", s->default_skill);
        break;
    }
}

static const char *shut_words(rules_period_t p)
{
    return p == RULES_PERIOD_LUNCH     ? "at lunch"
           : p == RULES_PERIOD_HOLIDAY ? "on a holiday"
                                       : "closed (after hours)";
}

static void out_pick(out_t *o, const rules_t *r, const plan_step_t *ps,
                     bool first, unsigned max_contacts)
{
    const char *pool_name = NULL;
    bool pool = false;

    for (size_t i = 0; i < r->npools && !pool; i++)
        if (strcmp(r->pools[i].id, ps->site) == 0) {
            pool = true;
            pool_name = r->pools[i].name;
        }
    out_step(o);
    if (pool) {
        out_add(o, "%s pool %s", first ? "pick from" : "then", ps->site);
        if (pool_name)
            out_add(o, " (%s)", pool_name);
        out_add(o, ": %s, %s", ps->skill, strategy_words(ps->strategy));
    } else {
        out_add(o, "%s %s at %s, %s", first ? "pick" : "then", ps->skill,
                ps->site, strategy_words(ps->strategy));
    }
    if (ps->min_level > 1)
        out_add(o, ", level %u or more", ps->min_level);
    if (first)
        out_add(o, ", up to %u", max_contacts);
    out_add(o, "\n");
}

static void out_window(out_t *o, unsigned s)
{
    static const struct {
        unsigned secs;
        const char *unit;
    } units[] = { { 86400, "day" }, { 3600, "hour" }, { 60, "minute" },
                  { 1, "second" } };

    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (s % units[i].secs == 0) {
            unsigned n = s / units[i].secs;
            out_add(o, "%u %s%s", n, units[i].unit, n == 1 ? "" : "s");
            return;
        }
    }
}

size_t rules_explain(const rules_t *r, const rules_req_t *req, time_t now,
                     const plan_t *plan, char *buf, size_t cap)
{
    out_t o = { buf, cap, 0, 0 };
    rules_trace_t t;
    plan_t p;
    const rules_site_t *s;
    unsigned c = 0;
    bool first = true;

    (void)plan; /* re-derived below, with the trace */
    if (cap == 0)
        return 0;
    buf[0] = '\0';
    rules_eval_trace(r, req, now, &p, &t);
    s = t.site;

    if (t.mode == RULES_MODE_REJECT) {
        out_step(&o);
        out_called(&o, req);
        out_add(&o, " is not a number of any site: answer 404\n");
        return o.len;
    }
    out_when(&o, s, &t, (int64_t)now);

    switch (t.mode) {
    case RULES_MODE_DID_TO:
        out_step(&o);
        out_add(&o, "%s is a single-destination number: always %s (hours "
                    "and menu do not apply)\n", t.did->num, t.did->to);
        goto caller;
    case RULES_MODE_CLOSED:
        out_step(&o);
        out_add(&o, "%s is marked closed: every call goes to its fallback "
                    "%s\n", s->id, s->fallback);
        goto caller;
    case RULES_MODE_PERIOD_URI:
        out_step(&o);
        out_add(&o, "%s is %s: straight to %s\n", s->id,
                shut_words(t.when.period), t.route->uri);
        goto caller;
    default:
        break;
    }

    out_option(&o, s, &t,
               t.opt_kind == RULES_OPT_DEDICATED ? t.did->skill
               : t.opt_kind == RULES_OPT_KNOWN   ? s->menu[t.slot].skill
                                                 : s->default_skill);
    if (t.mode == RULES_MODE_OVERFLOW) {
        out_step(&o);
        out_add(&o, "%s is %s: its own staff are skipped\n", s->id,
                shut_words(t.when.period));
    } else {
        out_pick(&o, r, &p.chain[c++], first, p.max_contacts);
        first = false;
    }
    for (unsigned k = 0; k < s->noverflow; k++) {
        const rules_step_t *st = &s->overflow[k];

        if (t.steps[k] == RULES_STEP_USED) {
            out_pick(&o, r, &p.chain[c++], first, p.max_contacts);
            first = false;
            continue;
        }
        out_step(&o);
        if (t.steps[k] == RULES_STEP_SITE_CLOSED)
            out_add(&o, "skip %s: marked closed\n",
                    r->sites[st->target].id);
        else
            out_add(&o, "skip %s: %s now\n", r->sites[st->target].id,
                    shut_words(t.step_when[k].period));
    }
    out_step(&o);
    if (p.kind == PLAN_REDIRECT)
        out_add(&o, "nobody left to overflow to: straight to %s\n",
                p.fallback);
    else
        out_add(&o, "then %s (final destination)\n", p.fallback);

caller:
    if (p.caller_aware) {
        out_add(&o, "caller-aware: their last staff member first if within ");
        out_window(&o, p.caller_window_s);
        out_add(&o, "\n");
    } else if (t.caller_aware_site && p.kind == PLAN_PICK) {
        out_add(&o, "caller-aware: no caller number, so no last staff "
                    "member to try\n");
    }
    if (p.priority)
        out_add(&o, "priority caller\n");
    if (p.forward && p.kind != PLAN_REJECT)
        out_add(&o, "mode forward: the call is relayed to the first of these "
                    "that is up, not redirected\n");
    return o.len;
}
