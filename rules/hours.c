/* hours.c -- opening hours: per-site time zones turned into UTC intervals.
 *
 * localtime_r() cannot be pointed at another zone per call, and switching
 * TZ is not thread-safe. So at load, on the main thread only, each site's
 * zone is read once (TZ switched and restored under a lock) into a short
 * table of UTC offset changes over the horizon [now - 2 days, now + 400
 * days]; from then on every conversion is arithmetic on that table. Each
 * local date of the horizon gets its UTC start and its open intervals, so
 * rules_eval() finds a site's period with one array index and never
 * touches TZ, localtime or the zone files. Workers never call localtime.
 *
 * Also the loader's part of opening hours (config_int.h): the hours, lunch
 * and dates of a site read from the rules file, at the end of this file.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config_int.h"

#define HOURS_SAMPLE_S (3 * 3600) /* zone offsets are sampled this often,
                                     then each change found to the second */
#define HOURS_ZONE_PAD (3 * RULES_DAY_S)
#define HOURS_MAX_OFFSET (16 * 3600) /* beyond any real UTC offset */

/* The one piece of process-wide state in rules/: TZ belongs to the process,
 * and two loads (say, a reload and frontdeskctl's check in one process)
 * must not interleave their switches. */
static pthread_mutex_t hours_tz_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---------------------------------------------------------------------- */
/* Civil dates (H. Hinnant's algorithms: proleptic Gregorian, no tables)  */

int64_t rules_days_from_civil(int y, unsigned m, unsigned d)
{
    int64_t yy = (int64_t)y - (m <= 2);
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    unsigned yoe = (unsigned)(yy - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + (int64_t)doe - 719468;
}

void rules_civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
    int64_t era, yy;
    unsigned doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = (unsigned)(z - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    yy = (int64_t)yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yy + (*m <= 2));
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* ---------------------------------------------------------------------- */
/* Zone tables                                                            */

/* Index of the entry in force at <t> (the first one before the table). */
static size_t zone_index(const rules_zone_tr_t *z, size_t n, int64_t t)
{
    size_t lo = 0, hi = n; /* answer in [lo, hi) */

    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (z[mid].at <= t)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

static int32_t zone_off(const rules_zone_tr_t *z, size_t n, int64_t t)
{
    return z[zone_index(z, n, t)].off;
}

/* The UTC instant of local wall time <wall> (seconds since 1970 as if
 * UTC). A wall time that happens twice (clocks go back) is its first
 * occurrence; one that never happens (clocks go forward) is the next
 * valid instant, the moment of the change. */
static int64_t zone_to_utc(const rules_zone_tr_t *z, size_t n, int64_t wall)
{
    size_t i0 = zone_index(z, n, wall - HOURS_MAX_OFFSET);
    size_t i1 = zone_index(z, n, wall + HOURS_MAX_OFFSET);
    int64_t best = INT64_MAX;

    for (size_t i = i0; i <= i1; i++) {
        int64_t t = wall - z[i].off;
        if (zone_off(z, n, t) == z[i].off && t < best)
            best = t;
    }
    if (best != INT64_MAX)
        return best;
    for (size_t i = i0 + 1; i <= i1; i++)
        if (z[i].at + z[i - 1].off <= wall && wall < z[i].at + z[i].off)
            return z[i].at;
    return wall - z[i0].off; /* not reached with a consistent table */
}

static long tz_off(time_t t)
{
    struct tm tm;

    if (!localtime_r(&t, &tm))
        return 0;
    return tm.tm_gmtoff;
}

/* Read the offsets of the zone now in TZ over [from, to]. Called with the
 * lock held and TZ set. */
static int zone_sample(int64_t from, int64_t to, rules_zone_tr_t **out,
                       size_t *nout)
{
    size_t cap = 8, n = 0;
    rules_zone_tr_t *z = malloc(cap * sizeof(*z));
    long prev;

    if (!z)
        return -ENOMEM;
    prev = tz_off((time_t)from);
    z[n++] = (rules_zone_tr_t){ from, (int32_t)prev };
    for (int64_t t = from + HOURS_SAMPLE_S;; t += HOURS_SAMPLE_S) {
        int64_t lo, hi;
        long off;

        if (t > to)
            t = to;
        off = tz_off((time_t)t);
        if (off != prev) {
            lo = t - HOURS_SAMPLE_S < from ? from : t - HOURS_SAMPLE_S;
            hi = t; /* off(lo) == prev, off(hi) == off */
            while (hi - lo > 1) {
                int64_t mid = lo + (hi - lo) / 2;
                if (tz_off((time_t)mid) == prev)
                    lo = mid;
                else
                    hi = mid;
            }
            if (n == cap) {
                rules_zone_tr_t *nz = realloc(z, 2 * cap * sizeof(*z));
                if (!nz) {
                    free(z);
                    return -ENOMEM;
                }
                z = nz;
                cap *= 2;
            }
            z[n++] = (rules_zone_tr_t){ hi, (int32_t)off };
            prev = off;
        }
        if (t == to)
            break;
    }
    *out = z;
    *nout = n;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Days                                                                   */

static bool site_is_holiday(const rules_site_t *s, uint32_t date)
{
    for (size_t i = 0; i < s->ndates; i++)
        if (s->dates[i].date == date)
            return true;
    return false;
}

/* Fill s->days/ivals for [from, to] from its zone table. */
static int site_expand_days(rules_site_t *s, int64_t from, int64_t to)
{
    const rules_zone_tr_t *z = s->zone;
    size_t nz = s->nzone, per_day = 0, k = 0;
    int64_t d0, d1;

    if (!s->has_hours && !s->has_dates)
        return 0; /* always open: nothing to expand */
    d0 = floor_div(from + zone_off(z, nz, from), RULES_DAY_S);
    d1 = floor_div(to + zone_off(z, nz, to), RULES_DAY_S);
    s->ndays = (size_t)(d1 - d0 + 1);
    for (int w = 0; w < 7; w++)
        if (s->week[w].n > RULES_DAY_INLINE && s->week[w].n > per_day)
            per_day = s->week[w].n;
    s->days = calloc(s->ndays, sizeof(*s->days));
    if (!s->days)
        return -ENOMEM;
    if (per_day && !(s->ivals = calloc(s->ndays * per_day,
                                       sizeof(*s->ivals))))
        return -ENOMEM;

    for (size_t i = 0; i < s->ndays; i++) {
        int64_t dn = d0 + (int64_t)i, wall = dn * RULES_DAY_S;
        rules_day_t *day = &s->days[i];
        const rules_weekday_t *wd;
        unsigned m, d;
        int y;

        rules_civil_from_days(dn, &y, &m, &d);
        day->start = zone_to_utc(z, nz, wall);
        day->date = (uint32_t)y * 10000 + m * 100 + d;
        day->wday = (uint8_t)(((dn + 3) % 7 + 7) % 7);
        day->holiday = site_is_holiday(s, day->date);
        if (day->holiday || !s->has_hours)
            continue;
        wd = &s->week[day->wday];
        if (wd->n > RULES_DAY_INLINE)
            day->u.first = (uint32_t)k;
        for (unsigned j = 0; j < wd->n; j++) {
            int64_t o = zone_to_utc(z, nz, wall + wd->r[j].start * 60);
            int64_t c = zone_to_utc(z, nz, wall + wd->r[j].end * 60);
            rules_ival_t *iv = wd->n > RULES_DAY_INLINE ? &s->ivals[k++]
                                                        : &day->u.iv[j];
            if (c < o)
                c = o;
            iv->open = (uint32_t)(o - day->start);
            iv->close = (uint32_t)(c - day->start);
        }
        day->n = (uint8_t)wd->n;
    }
    s->nivals = k;
    s->days_start = s->days[0].start;
    s->days_end = zone_to_utc(z, nz, (d1 + 1) * RULES_DAY_S);
    return 0;
}

int rules_hours_expand(rules_t *r, int64_t now)
{
    int64_t from = now - RULES_HORIZON_BEFORE, to = now + RULES_HORIZON_AFTER;
    int64_t zfrom = from - HOURS_ZONE_PAD, zto = to + HOURS_ZONE_PAD;
    char *old = NULL;
    bool had_tz;
    int rc = 0;

    pthread_mutex_lock(&hours_tz_lock);
    had_tz = getenv("TZ") != NULL;
    if (had_tz && !(old = strdup(getenv("TZ")))) {
        pthread_mutex_unlock(&hours_tz_lock);
        return -ENOMEM;
    }
    for (size_t i = 0; i < r->nsites && rc == 0; i++) {
        rules_site_t *s = &r->sites[i];
        const rules_site_t *same = NULL;

        /* sites mostly share a handful of zones: read each zone once */
        for (size_t j = 0; j < i && !same; j++)
            if (strcmp(r->sites[j].timezone, s->timezone) == 0)
                same = &r->sites[j];
        if (same) {
            s->zone = malloc(same->nzone * sizeof(*s->zone));
            if (!s->zone) {
                rc = -ENOMEM;
                break;
            }
            memcpy(s->zone, same->zone, same->nzone * sizeof(*s->zone));
            s->nzone = same->nzone;
        } else {
            setenv("TZ", s->timezone, 1);
            tzset();
            rc = zone_sample(zfrom, zto, &s->zone, &s->nzone);
            if (rc < 0)
                break;
        }
        s->zone_from = from; /* the table reaches further (conversions
                                near the edges), the answers do not */
        s->zone_to = to;
        rc = site_expand_days(s, from, to);
    }
    if (had_tz)
        setenv("TZ", old, 1);
    else
        unsetenv("TZ");
    tzset();
    pthread_mutex_unlock(&hours_tz_lock);
    free(old);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Evaluation-time lookups (any thread, no allocation)                    */

bool rules_site_local(const rules_site_t *s, int64_t now, int64_t *local)
{
    if (!s->zone || now < s->zone_from || now > s->zone_to)
        return false;
    *local = now + zone_off(s->zone, s->nzone, now);
    return true;
}

void rules_site_when(const rules_site_t *s, int64_t now, rules_when_t *w)
{
    const rules_day_t *day;
    const rules_ival_t *iv;
    size_t k;
    uint32_t at;

    w->period = RULES_PERIOD_ALWAYS;
    w->day = NULL;
    w->range = -1;
    w->unknown = false;
    if (!s->has_hours && !s->has_dates)
        return;
    if (!s->days || now < s->days_start || now >= s->days_end) {
        w->unknown = true;
        return;
    }
    /* Days are 86400 s apart but for DST days (23 or 25 hours), so the
     * guess is off by at most one: one or two cache lines, where a binary
     * search over 400 days would miss the cache at every probe. */
    k = (size_t)((now - s->days_start) / RULES_DAY_S);
    if (k >= s->ndays)
        k = s->ndays - 1;
    while (k + 1 < s->ndays && s->days[k + 1].start <= now)
        k++;
    while (k > 0 && s->days[k].start > now)
        k--;
    day = w->day = &s->days[k];
    if (day->holiday) {
        w->period = RULES_PERIOD_HOLIDAY;
        return;
    }
    if (!s->has_hours)
        return; /* only dates: ALWAYS on the other days */
    at = (uint32_t)(now - day->start);
    iv = rules_day_ivals(day, s->ivals);
    for (unsigned j = 0; j < day->n; j++) {
        if (at < iv[j].open) {
            w->period = j == 0 ? RULES_PERIOD_CLOSED : RULES_PERIOD_LUNCH;
            w->range = j == 0 ? -1 : (int)j - 1;
            return;
        }
        if (at < iv[j].close) {
            w->period = RULES_PERIOD_OPEN;
            w->range = (int)j;
            return;
        }
    }
    w->period = RULES_PERIOD_CLOSED;
}

/* ---------------------------------------------------------------------- */
/* Reading opening hours and dates from the rules file (the loader)      */

static const char *const weekday_keys[7] = { "mon", "tue", "wed", "thu",
                                             "fri", "sat", "sun" };

/* "HH:MM" (or "H:MM") at *<p>, up to <end>: minutes after midnight, or -1.
 * "24:00" is accepted here; only an end may use it. */
static int parse_clock(const char **p, const char *end)
{
    const char *s = *p;
    int h = 0, m, nd = 0;

    while (s < end && *s >= '0' && *s <= '9' && nd < 2) {
        h = h * 10 + (*s++ - '0');
        nd++;
    }
    if (nd == 0 || s + 3 > end || s[0] != ':' || s[1] < '0' || s[1] > '5' ||
        s[2] < '0' || s[2] > '9')
        return -1;
    m = (s[1] - '0') * 10 + (s[2] - '0');
    *p = s + 3;
    if (h > 24 || (h == 24 && m != 0))
        return -2;
    return h * 60 + m;
}

static int parse_range(load_t *ld, const char *day, const yaml_node_t *n,
                       rules_range_t *out)
{
    const char *s = cfg_scalar_text(n), *end = s + cfg_scalar_len(n), *p = s;
    int shown = cfg_scalar_len(n) > 40 ? 40 : (int)cfg_scalar_len(n);
    int a, b;

    while (p < end && *p == ' ')
        p++;
    while (end > p && end[-1] == ' ')
        end--;
    a = parse_clock(&p, end);
    while (p < end && *p == ' ')
        p++;
    if (a >= 0 && (p == end || *p != '-'))
        a = -1;
    else if (a >= 0)
        p++;
    while (p < end && *p == ' ')
        p++;
    b = a >= 0 ? parse_clock(&p, end) : a;
    if (b >= 0 && p != end)
        b = -1;
    if (a == -2 || b == -2 || a == 1440)
        return cfg_load_fail(ld, n, "hours %s: \"%.*s\": hours go from 00:00 to "
                             "23:59 (24:00 may only end a range)", day, shown,
                             s);
    if (a < 0 || b < 0)
        return cfg_load_fail(ld, n, "hours %s: \"%.*s\" must be a range such "
                             "as \"08:00-12:00\"", day, shown, s);
    if (b <= a)
        return cfg_load_fail(ld, n, "hours %s: \"%.*s\" ends before it starts "
                             "(a range cannot cross midnight: split it at "
                             "24:00)", day, shown, s);
    out->start = (uint16_t)a;
    out->end = (uint16_t)b;
    out->pos = cfg_node_pos(n);
    return 0;
}

static int cmp_range(const void *a, const void *b)
{
    const rules_range_t *x = a, *y = b;

    return (int)x->start - (int)y->start;
}

/* Sort a day's ranges and merge the ones that overlap or touch. */
static void merge_ranges(rules_weekday_t *wd)
{
    rules_range_t tmp[RULES_MAX_RANGES];

    memcpy(tmp, wd->raw, wd->nraw * sizeof(tmp[0]));
    qsort(tmp, wd->nraw, sizeof(tmp[0]), cmp_range);
    wd->n = 0;
    for (unsigned i = 0; i < wd->nraw; i++) {
        rules_range_t *last = wd->n ? &wd->r[wd->n - 1] : NULL;
        if (last && tmp[i].start <= last->end) {
            if (tmp[i].end > last->end)
                last->end = tmp[i].end;
            continue;
        }
        wd->r[wd->n++] = tmp[i];
    }
}

/* hours: weekday -> list of "HH:MM-HH:MM"; a missing weekday is closed. */
int cfg_parse_hours(load_t *ld, const walk_field_t *f, yaml_node_t *n,
                    void *obj)
{
    rules_site_t *site = obj;
    bool seen[7] = { false };
    int rc;

    if ((rc = cfg_want(ld, f->key, n, YAML_MAPPING_NODE)) < 0)
        return rc;
    site->has_hours = true;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
         p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(ld->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(ld->doc, p->value);
        rules_weekday_t *wd;
        char label[16];
        int w = -1;

        for (int i = 0; i < 7 && w < 0; i++)
            if (cfg_scalar_is(k, weekday_keys[i]))
                w = i;
        if (w < 0 && k->type != YAML_SCALAR_NODE)
            return cfg_load_fail(ld, k, "days in hours must be plain words, "
                                 "found %s", cfg_node_kind(k));
        if (w < 0)
            return cfg_load_fail(ld, k, "unknown day \"%.*s\" in hours "
                                 "(expected one of: mon, tue, wed, thu, fri, "
                                 "sat, sun)",
                                 (int)(cfg_scalar_len(k) > 20 ? 20 : cfg_scalar_len(k)),
                                 cfg_scalar_text(k));
        if (seen[w])
            return cfg_load_fail(ld, k, "day \"%s\" is listed twice in hours",
                                 weekday_keys[w]);
        seen[w] = true;
        wd = &site->week[w];
        wd->pos = cfg_node_pos(k);
        snprintf(label, sizeof(label), "hours %s", weekday_keys[w]);
        if ((rc = cfg_want(ld, label, v, YAML_SEQUENCE_NODE)) < 0)
            return rc;
        for (yaml_node_item_t *it = v->data.sequence.items.start;
             it < v->data.sequence.items.top; it++) {
            yaml_node_t *item = yaml_document_get_node(ld->doc, *it);

            if ((rc = cfg_want_scalar(ld, label, item)) < 0)
                return rc;
            if (wd->nraw == RULES_MAX_RANGES)
                return cfg_load_fail(ld, item, "%s: at most %d ranges a day",
                                     label, RULES_MAX_RANGES);
            if ((rc = parse_range(ld, weekday_keys[w], item,
                                  &wd->raw[wd->nraw])) < 0)
                return rc;
            wd->nraw++;
        }
        merge_ranges(wd);
    }
    return 0;
}

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* holidays / closed_dates: a list of "YYYY-MM-DD" (local dates). */
int cfg_parse_dates(load_t *ld, const walk_field_t *f, yaml_node_t *n,
                    void *obj)
{
    static const unsigned mdays[12] = { 31, 28, 31, 30, 31, 30,
                                        31, 31, 30, 31, 30, 31 };
    rules_site_t *site = obj;
    bool one_off = strcmp(f->key, "closed_dates") == 0;
    size_t count, cap;
    int rc;

    if ((rc = cfg_want(ld, f->key, n, YAML_SEQUENCE_NODE)) < 0)
        return rc;
    count = (size_t)(n->data.sequence.items.top -
                     n->data.sequence.items.start);
    cap = site->ndates + count;
    if (count) {
        rules_date_t *d = realloc(site->dates, cap * sizeof(*d));
        if (!d)
            return cfg_report_nomem(ld->rep);
        site->dates = d;
    }
    for (yaml_node_item_t *it = n->data.sequence.items.start;
         it < n->data.sequence.items.top; it++) {
        yaml_node_t *item = yaml_document_get_node(ld->doc, *it);
        const char *s;
        unsigned y = 0, m, d;
        bool ok;

        if ((rc = cfg_want_scalar(ld, f->key, item)) < 0)
            return rc;
        s = cfg_scalar_text(item);
        ok = cfg_scalar_len(item) == 10 && s[4] == '-' && s[7] == '-';
        for (int i = 0; ok && i < 10; i++)
            ok = i == 4 || i == 7 || (s[i] >= '0' && s[i] <= '9');
        if (ok) {
            y = (unsigned)((s[0] - '0') * 1000 + (s[1] - '0') * 100 +
                           (s[2] - '0') * 10 + (s[3] - '0'));
            m = (unsigned)((s[5] - '0') * 10 + (s[6] - '0'));
            d = (unsigned)((s[8] - '0') * 10 + (s[9] - '0'));
            ok = y >= 1970 && m >= 1 && m <= 12 && d >= 1 &&
                 d <= mdays[m - 1] + (m == 2 && is_leap((int)y));
        }
        if (!ok)
            return cfg_load_fail(ld, item, "%s: \"%.*s\" is not a date (write "
                                 "YYYY-MM-DD, e.g. 2026-12-25)", f->key,
                                 (int)(cfg_scalar_len(item) > 20 ? 20
                                                         : cfg_scalar_len(item)),
                             s);
        site->has_dates = true;
        site->dates[site->ndates++] = (rules_date_t){
            .date = y * 10000 + m * 100 + d, .one_off = one_off,
            .pos = cfg_node_pos(item),
        };
    }
    return 0;
}

