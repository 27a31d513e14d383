/* test_hours.c -- rules/hours.c: opening hours in each site's time zone.
 *
 * Hours are read through rules_eval()'s plan (period, local_date, kind),
 * the only way the rest of Frontdesk sees them. Instants are written in
 * UTC (utc()) with the local time they stand for in a comment, so each
 * expectation can be checked by hand against the zone's rules: America/
 * Chicago is UTC-6 (CST) / UTC-5 (CDT), America/Denver UTC-7 / UTC-6; in
 * 2026 both spring forward on 03-08 at 02:00 and fall back on 11-01 at
 * 02:00. Australia/Sydney springs forward on 2026-10-04 at 02:00 (UTC+10
 * -> UTC+11).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "rules.h"

#define REF ((time_t)1772323200) /* 2026-03-01T00:00Z: reference time */

static time_t utc(int y, int mo, int d, int h, int mi)
{
    struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
                     .tm_hour = h, .tm_min = mi };
    return timegm(&tm);
}

static rules_t *load_at(const char *yaml, time_t now)
{
    rules_load_opts_t o = { .now = now };
    rules_t *r = NULL;
    rules_report_t rep;
    int rc = rules_load_string_opts(yaml, strlen(yaml), "hours.yaml", &o, &r,
                                    &rep);

    if (rc)
        print_error("%s:%u:%u: %s\n", rep.file, rep.line, rep.col, rep.msg);
    assert_int_equal(rc, 0);
    return r;
}

static plan_t at(const rules_t *r, const char *did, time_t now)
{
    rules_req_t req = { { did, strlen(did) }, { NULL, 0 }, { NULL, 0 },
                        { NULL, 0 }, NULL };
    plan_t p;

    memset(&p, 0xa5, sizeof(p));
    assert_int_equal(rules_eval(r, &req, now, &p), 0);
    return p;
}

static rules_period_t period(const rules_t *r, const char *did, time_t now)
{
    return at(r, did, now).period;
}

#define OPEN RULES_PERIOD_OPEN
#define LUNCH RULES_PERIOD_LUNCH
#define CLOSED RULES_PERIOD_CLOSED
#define HOLIDAY RULES_PERIOD_HOLIDAY
#define ALWAYS RULES_PERIOD_ALWAYS

/* One site per zone, open 08:00-17:00 every day. */
#define SITE(id, did, tz, extra)                                             \
    "      - id: " id "\n"                                                   \
    "        timezone: " tz "\n"                                             \
    "        dids: [\"" did "\"]\n"                                          \
    "        hours:\n"                                                       \
    "          mon: [\"08:00-17:00\"]\n"                                     \
    "          tue: [\"08:00-17:00\"]\n"                                     \
    "          wed: [\"08:00-17:00\"]\n"                                     \
    "          thu: [\"08:00-17:00\"]\n"                                     \
    "          fri: [\"08:00-17:00\"]\n"                                     \
    "          sat: [\"08:00-17:00\"]\n"                                     \
    "          sun: [\"08:00-17:00\"]\n" extra                               \
    "        default_skill: s\n"                                             \
    "        fallback: sip:" id "@x\n"

#define DAILY                                                                \
    "version: 1\ngroups:\n  - name: G\n    sites:\n"                         \
    SITE("chi", "100", "America/Chicago", "")                                \
    SITE("den", "200", "America/Denver", "")                                 \
    SITE("syd", "300", "Australia/Sydney", "")

/* ---------------------------------------------------------------------- */
/* Daylight-saving days                                                   */

typedef struct {
    const char *did;
    time_t t;
    rules_period_t want;
    const char *what;
} probe_t;

static void run_probes(const rules_t *r, const probe_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        rules_period_t got = period(r, p[i].did, p[i].t);
        if (got != p[i].want)
            print_error("%s: period %d, want %d\n", p[i].what, got,
                        p[i].want);
        assert_int_equal(got, p[i].want);
    }
}

/* 08:00-17:00 local is open at 08:30 local on both change days: 13:30Z
 * vs 14:30Z in Chicago, 14:30Z vs 15:30Z in Denver. */
static void test_dst_two_zones(void **state)
{
    rules_t *r = load_at(DAILY, REF);
    const probe_t probes[] = {
        /* Chicago, spring forward (CDT, UTC-5 from 02:00 local) */
        { "100", utc(2026, 3, 8, 13, 30), OPEN, "chi 03-08 08:30 CDT" },
        { "100", utc(2026, 3, 8, 12, 59), CLOSED, "chi 03-08 07:59 CDT" },
        { "100", utc(2026, 3, 8, 13, 0), OPEN, "chi 03-08 08:00 CDT" },
        { "100", utc(2026, 3, 8, 21, 59), OPEN, "chi 03-08 16:59 CDT" },
        { "100", utc(2026, 3, 8, 22, 0), CLOSED, "chi 03-08 17:00 CDT" },
        { "100", utc(2026, 3, 7, 14, 30), OPEN, "chi 03-07 08:30 CST" },
        { "100", utc(2026, 3, 7, 13, 30), CLOSED, "chi 03-07 07:30 CST" },
        /* Chicago, fall back (CST, UTC-6 from 02:00 local) */
        { "100", utc(2026, 11, 1, 14, 30), OPEN, "chi 11-01 08:30 CST" },
        { "100", utc(2026, 11, 1, 13, 30), CLOSED, "chi 11-01 07:30 CST" },
        { "100", utc(2026, 11, 1, 23, 0), CLOSED, "chi 11-01 17:00 CST" },
        { "100", utc(2026, 11, 1, 22, 59), OPEN, "chi 11-01 16:59 CST" },
        { "100", utc(2026, 10, 31, 13, 30), OPEN, "chi 10-31 08:30 CDT" },
        /* Denver, one hour behind */
        { "200", utc(2026, 3, 8, 14, 30), OPEN, "den 03-08 08:30 MDT" },
        { "200", utc(2026, 3, 8, 13, 59), CLOSED, "den 03-08 07:59 MDT" },
        { "200", utc(2026, 3, 8, 23, 0), CLOSED, "den 03-08 17:00 MDT" },
        { "200", utc(2026, 11, 1, 15, 30), OPEN, "den 11-01 08:30 MST" },
        { "200", utc(2026, 11, 1, 14, 59), CLOSED, "den 11-01 07:59 MST" },
        { "200", utc(2026, 11, 2, 0, 0), CLOSED, "den 11-01 17:00 MST" },
        /* Sydney: spring forward in October, the UTC date is the day
         * before the local one */
        { "300", utc(2026, 10, 3, 22, 0), OPEN, "syd 10-04 09:00 AEDT" },
        { "300", utc(2026, 10, 3, 20, 59), CLOSED, "syd 10-04 07:59 AEDT" },
        { "300", utc(2026, 10, 2, 21, 59), CLOSED, "syd 10-03 07:59 AEST" },
        { "300", utc(2026, 10, 2, 22, 0), OPEN, "syd 10-03 08:00 AEST" },
        { "300", utc(2026, 10, 2, 23, 0), OPEN, "syd 10-03 09:00 AEST" },
    };

    (void)state;
    run_probes(r, probes, sizeof(probes) / sizeof(probes[0]));
    rules_unref(r);
}

/* The horizon reaches 400 days: next year's change days too. */
static void test_dst_next_year(void **state)
{
    rules_t *r = load_at(DAILY, REF);
    const probe_t probes[] = {
        /* 2027-03-14: spring forward in the US */
        { "100", utc(2027, 3, 14, 13, 30), OPEN, "chi 2027-03-14 08:30" },
        { "100", utc(2027, 3, 14, 12, 30), CLOSED, "chi 2027-03-14 07:30" },
        { "200", utc(2027, 3, 14, 14, 30), OPEN, "den 2027-03-14 08:30" },
        { "200", utc(2027, 3, 14, 13, 30), CLOSED, "den 2027-03-14 07:30" },
    };

    (void)state;
    run_probes(r, probes, sizeof(probes) / sizeof(probes[0]));
    rules_unref(r);
}

/* A range starting in the spring-forward gap starts at the next valid
 * instant (03:00 CDT); a range in the repeated hour takes its first pass. */
static void test_dst_gap_and_repeated_hour(void **state)
{
    rules_t *r = load_at(
        "version: 1\ngroups:\n  - name: G\n    sites:\n"
        "      - id: a\n        timezone: America/Chicago\n"
        "        dids: [\"100\"]\n"
        "        hours:\n"
        "          sun: [\"02:30-03:30\", \"01:00-01:30\"]\n"
        "        default_skill: s\n        fallback: sip:a@x\n"
        "      - id: b\n        timezone: America/Chicago\n"
        "        dids: [\"200\"]\n"
        "        hours:\n"
        "          sun: [\"01:30-02:00\"]\n"
        "        default_skill: s\n        fallback: sip:b@x\n",
        REF);
    const probe_t probes[] = {
        /* 2026-03-08: 02:00-03:00 does not exist */
        { "100", utc(2026, 3, 8, 7, 59), LUNCH, "gap: 01:59 CST" },
        { "100", utc(2026, 3, 8, 8, 0), OPEN, "gap: 03:00 CDT" },
        { "100", utc(2026, 3, 8, 8, 29), OPEN, "gap: 03:29 CDT" },
        { "100", utc(2026, 3, 8, 8, 30), CLOSED, "gap: 03:30 CDT" },
        { "100", utc(2026, 3, 8, 7, 45), LUNCH, "gap: 01:45 CST" },
        { "100", utc(2026, 3, 8, 7, 15), OPEN, "01:15 CST" },
        { "100", utc(2026, 3, 8, 6, 59), CLOSED, "00:59 CST" },
        /* 2026-11-01: 01:00-02:00 happens twice (CDT, then CST) */
        { "200", utc(2026, 11, 1, 6, 29), CLOSED, "rep: 01:29 CDT" },
        { "200", utc(2026, 11, 1, 6, 30), OPEN, "rep: 01:30 CDT" },
        { "200", utc(2026, 11, 1, 7, 0), OPEN, "rep: 01:00 CST" },
        { "200", utc(2026, 11, 1, 7, 59), OPEN, "rep: 01:59 CST" },
        { "200", utc(2026, 11, 1, 8, 0), CLOSED, "rep: 02:00 CST" },
        { "100", utc(2026, 11, 1, 6, 0), OPEN, "rep: 01:00 CDT, first" },
        { "100", utc(2026, 11, 1, 7, 15), LUNCH, "rep: 01:15 CST, second" },
    };

    (void)state;
    run_probes(r, probes, sizeof(probes) / sizeof(probes[0]));
    rules_unref(r);
}

/* ---------------------------------------------------------------------- */
/* Ranges, lunch, closed days                                             */

#define WEEK                                                                 \
    "version: 1\ngroups:\n  - name: G\n    sites:\n"                         \
    "      - id: a\n        timezone: America/Chicago\n"                     \
    "        dids: [\"100\"]\n"                                              \
    "        hours:\n"                                                       \
    "          tue: [\"13:00-17:00\", \"08:00-12:00\"]\n"                    \
    "          wed: [\"08:00-12:00\", \"11:00-17:00\"]\n"                    \
    "          thu: [\"00:00-24:00\"]\n"                                     \
    "          fri: [\"08:00-10:00\", \"10:00-12:00\", \"14:00-16:00\"]\n"   \
    "          sat: []\n"                                                    \
    "        holidays: [\"2026-03-17\"]\n"                                   \
    "        closed_dates: [\"2026-03-20\"]\n"                               \
    "        default_skill: s\n        fallback: sip:a@x\n"

/* 2026-03-10 is a Tuesday; CDT (UTC-5) all week. */
static void test_ranges_and_lunch(void **state)
{
    rules_t *r = load_at(WEEK, REF);
    const probe_t probes[] = {
        { "100", utc(2026, 3, 9, 15, 0), CLOSED, "mon: not listed" },
        { "100", utc(2026, 3, 10, 12, 59), CLOSED, "tue 07:59" },
        { "100", utc(2026, 3, 10, 13, 0), OPEN, "tue 08:00" },
        { "100", utc(2026, 3, 10, 17, 0), LUNCH, "tue 12:00 (unsorted)" },
        { "100", utc(2026, 3, 10, 17, 59), LUNCH, "tue 12:59" },
        { "100", utc(2026, 3, 10, 18, 0), OPEN, "tue 13:00" },
        { "100", utc(2026, 3, 10, 22, 0), CLOSED, "tue 17:00" },
        { "100", utc(2026, 3, 11, 17, 30), OPEN, "wed 12:30 (merged)" },
        { "100", utc(2026, 3, 12, 5, 0), OPEN, "thu 00:00" },
        { "100", utc(2026, 3, 13, 4, 59), OPEN, "thu 23:59 (24:00 end)" },
        { "100", utc(2026, 3, 13, 5, 0), CLOSED, "fri 00:00" },
        { "100", utc(2026, 3, 13, 15, 0), OPEN, "fri 10:00 (touching)" },
        { "100", utc(2026, 3, 13, 18, 0), LUNCH, "fri 13:00" },
        { "100", utc(2026, 3, 13, 20, 0), OPEN, "fri 15:00" },
        { "100", utc(2026, 3, 14, 16, 0), CLOSED, "sat: empty list" },
        { "100", utc(2026, 3, 17, 16, 0), HOLIDAY, "tue 03-17: holiday" },
        { "100", utc(2026, 3, 17, 5, 0), HOLIDAY, "holiday from 00:00" },
        { "100", utc(2026, 3, 17, 4, 59), CLOSED, "03-16 23:59" },
        { "100", utc(2026, 3, 18, 5, 0), CLOSED, "03-18 00:00" },
        { "100", utc(2026, 3, 20, 15, 0), HOLIDAY, "fri 03-20: closed date" },
    };

    (void)state;
    run_probes(r, probes, sizeof(probes) / sizeof(probes[0]));
    rules_unref(r);
}

/* Without a lunch route the gap overflows (with no steps: the fallback);
 * after hours and holidays go to the fallback. */
static void test_default_period_routes(void **state)
{
    rules_t *r = load_at(WEEK, REF);
    plan_t p;

    (void)state;
    p = at(r, "100", utc(2026, 3, 10, 17, 30));
    assert_int_equal(p.kind, PLAN_REDIRECT);
    assert_string_equal(p.reason, "a: lunch -> overflow; no option -> "
                                  "default s; nobody to overflow to -> "
                                  "sip:a@x");
    p = at(r, "100", utc(2026, 3, 9, 15, 0));
    assert_string_equal(p.reason, "a: after hours -> sip:a@x");
    p = at(r, "100", utc(2026, 3, 17, 15, 0));
    assert_string_equal(p.reason, "a: holiday -> sip:a@x");
    p = at(r, "100", utc(2026, 3, 10, 15, 0));
    assert_int_equal(p.kind, PLAN_PICK);
    assert_string_equal(p.reason, "a: open; no option -> default s");
    rules_unref(r);
}

/* Period routes given as URIs; holiday follows after_hours unless given. */
static void test_period_route_uris(void **state)
{
    rules_t *r = load_at(
        "version: 1\ngroups:\n  - name: G\n    sites:\n"
        "      - id: a\n        timezone: America/Chicago\n"
        "        dids: [\"100\"]\n"
        "        hours: {tue: [\"08:00-12:00\", \"13:00-17:00\"]}\n"
        "        holidays: [\"2026-03-17\"]\n"
        "        lunch: sip:lunch@x\n"
        "        after_hours: sip:night@x\n"
        "        default_skill: s\n        fallback: sip:a@x\n"
        "      - id: b\n        timezone: America/Chicago\n"
        "        dids: [\"200\"]\n"
        "        hours: {tue: [\"08:00-17:00\"]}\n"
        "        holidays: [\"2026-03-17\"]\n"
        "        after_hours: sip:night@x\n"
        "        holiday: sip:holiday@x\n"
        "        default_skill: s\n        fallback: sip:b@x\n",
        REF);
    plan_t p;

    (void)state;
    p = at(r, "100", utc(2026, 3, 10, 17, 30));
    assert_int_equal(p.kind, PLAN_REDIRECT);
    assert_string_equal(p.fallback, "sip:lunch@x");
    assert_string_equal(p.reason, "a: lunch -> sip:lunch@x");
    p = at(r, "100", utc(2026, 3, 10, 23, 0));
    assert_string_equal(p.fallback, "sip:night@x");
    p = at(r, "100", utc(2026, 3, 17, 15, 0));
    assert_string_equal(p.fallback, "sip:night@x");
    assert_string_equal(p.reason, "a: holiday -> sip:night@x");
    p = at(r, "200", utc(2026, 3, 17, 15, 0));
    assert_string_equal(p.fallback, "sip:holiday@x");
    rules_unref(r);
}

/* hours: {} -- never open; every call goes the after-hours way. */
static void test_empty_hours_never_open(void **state)
{
    rules_t *r = load_at("version: 1\ngroups:\n  - name: G\n    sites:\n"
                         "      - {id: a, timezone: UTC, dids: [\"100\"], "
                         "hours: {}, default_skill: s, "
                         "fallback: \"sip:a@x\"}\n",
                         REF);

    (void)state;
    for (int d = 0; d < 7; d++)
        for (int h = 0; h < 24; h += 5)
            assert_int_equal(period(r, "100", REF + d * 86400 + h * 3600),
                             CLOSED);
    rules_unref(r);
}

/* Dates without hours: closed on those dates, always open otherwise. */
static void test_dates_without_hours(void **state)
{
    rules_t *r = load_at("version: 1\ngroups:\n  - name: G\n    sites:\n"
                         "      - {id: a, timezone: America/Denver, "
                         "dids: [\"100\"], holidays: [\"2026-07-04\"], "
                         "default_skill: s, fallback: \"sip:a@x\"}\n",
                         REF);
    plan_t p;

    (void)state;
    assert_int_equal(period(r, "100", utc(2026, 7, 4, 6, 0)), HOLIDAY);
    assert_int_equal(period(r, "100", utc(2026, 7, 4, 5, 59)), ALWAYS);
    assert_int_equal(period(r, "100", utc(2026, 7, 5, 6, 0)), ALWAYS);
    p = at(r, "100", utc(2026, 7, 4, 18, 0));
    assert_int_equal(p.kind, PLAN_REDIRECT);
    assert_int_equal(p.local_date, 20260704);
    rules_unref(r);
}

/* ---------------------------------------------------------------------- */
/* Local dates and the horizon                                            */

static void test_local_date_in_zone(void **state)
{
    rules_t *r = load_at(DAILY, REF);

    (void)state;
    /* 2026-03-10T04:30Z: 23:30 on 03-09 in Chicago, 22:30 in Denver,
     * 15:30 on 03-10 in Sydney (UTC+11) */
    assert_int_equal(at(r, "100", utc(2026, 3, 10, 4, 30)).local_date,
                     20260309);
    assert_int_equal(at(r, "200", utc(2026, 3, 10, 4, 30)).local_date,
                     20260309);
    assert_int_equal(at(r, "300", utc(2026, 3, 10, 4, 30)).local_date,
                     20260310);
    assert_int_equal(at(r, "100", utc(2026, 3, 10, 5, 0)).local_date,
                     20260310);
    rules_unref(r);
}

/* [REF - 2 days, REF + 400 days] is expanded; outside it, a site counts as
 * open and the reason asks for a reload. */
static void test_horizon(void **state)
{
    rules_t *r = load_at(WEEK, REF);
    time_t inside_first = utc(2026, 2, 27, 15, 0); /* a Friday, 09:00 CST */
    plan_t p;

    (void)state;
    assert_int_equal(period(r, "100", inside_first), OPEN);
    p = at(r, "100", REF - 3 * 86400);
    assert_int_equal(p.period, ALWAYS);
    assert_int_equal(p.local_date, 0);
    assert_int_equal(p.kind, PLAN_PICK);
    assert_string_equal(p.reason, "a: hours not expanded for this date: "
                                  "reload the rules; no option -> default s");
    assert_int_equal(period(r, "100", REF + 399 * 86400 + 15 * 3600),
                     period(r, "100", REF + 392 * 86400 + 15 * 3600));
    assert_int_equal(period(r, "100", REF + 402 * 86400), ALWAYS);
    rules_unref(r);

    r = load_at(WEEK, 0); /* no reference time at all */
    p = at(r, "100", utc(2026, 3, 10, 17, 30));
    assert_int_equal(p.period, ALWAYS);
    assert_int_equal(p.kind, PLAN_PICK);
    rules_unref(r);
}

/* Loading restores the process's TZ, whatever it was. */
static void test_tz_restored(void **state)
{
    rules_t *r;
    const char *tz;

    (void)state;
    setenv("TZ", "Europe/Paris", 1);
    r = load_at(DAILY, REF);
    tz = getenv("TZ");
    assert_non_null(tz);
    assert_string_equal(tz, "Europe/Paris");
    rules_unref(r);
    unsetenv("TZ");
    r = load_at(DAILY, REF);
    assert_null(getenv("TZ"));
    rules_unref(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dst_two_zones),
        cmocka_unit_test(test_dst_next_year),
        cmocka_unit_test(test_dst_gap_and_repeated_hour),
        cmocka_unit_test(test_ranges_and_lunch),
        cmocka_unit_test(test_default_period_routes),
        cmocka_unit_test(test_period_route_uris),
        cmocka_unit_test(test_empty_hours_never_open),
        cmocka_unit_test(test_dates_without_hours),
        cmocka_unit_test(test_local_date_in_zone),
        cmocka_unit_test(test_horizon),
        cmocka_unit_test(test_tz_restored),
    };

    return cmocka_run_group_tests_name("hours", tests, NULL, NULL);
}
