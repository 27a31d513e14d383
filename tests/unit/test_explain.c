/* test_explain.c -- rules/explain.c: a plan, step by step, in words.
 *
 * The demo clinic group (loaded with a caller key, reference time
 * 2026-03-01) explained at a few instants, each text compared whole; the
 * caller's number and its hash must never appear.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rules.h"

#define REF ((time_t)1772323200)      /* 2026-03-01T00:00Z */
#define T_LUNCH ((time_t)1773164400)  /* Tue 2026-03-10 12:40 CDT */
#define T_SUNDAY ((time_t)1772992800) /* Sun 2026-03-08 13:00 CDT */
#define T_NIGHT ((time_t)1773201600)  /* Tue 2026-03-10 23:00 CDT */
#define T_XMAS ((time_t)1798214400)   /* Fri 2026-12-25 10:00 CST */
#define CALLER "+1 512 555 1234"
#define REFERRER "+1 512 555 0190"
#define FB_DOWNTOWN "sip:frontdesk@pbx.downtown.hillcountry.example"
#define FB_NORTHLAKE "sip:voicemail@pbx.northlake.hillcountry.example"
#define FB_WESTSIDE "sip:answering@service.hillcountry.example"

static const unsigned char test_key[32] = "0123456789abcdef0123456789abcde";

static rules_t *load(const char *path, const char *yaml, time_t now)
{
    rules_load_opts_t o = { .now = now, .caller_key = test_key,
                            .caller_key_len = sizeof(test_key) };
    rules_t *r = NULL;
    rules_report_t rep;
    int rc = path ? rules_load_opts(path, &o, &r, &rep)
                  : rules_load_string_opts(yaml, strlen(yaml), "x.yaml", &o,
                                           &r, &rep);

    if (rc)
        print_error("%s:%u:%u: %s\n", rep.file, rep.line, rep.col, rep.msg);
    assert_int_equal(rc, 0);
    return r;
}

static int setup(void **state)
{
    *state = load("rules/examples/demo.yaml", NULL, REF);
    return 0;
}

static int teardown(void **state)
{
    rules_unref(*state);
    return 0;
}

/* Explain the call to <ruri> (option header <opt>, caller <from>; NULL =
 * absent) at <now>, and compare with <want>. */
static void expect_text(const rules_t *r, const char *ruri, const char *opt,
                        const char *from, time_t now, const char *want)
{
    rules_req_t req = { { ruri, strlen(ruri) },
                        { NULL, 0 },
                        { from, from ? strlen(from) : 0 },
                        { opt, opt ? strlen(opt) : 0 }, NULL };
    char buf[2048], hash[RULES_CALLER_HASH_LEN + 1];
    plan_t p;
    size_t n;

    rules_eval(r, &req, now, &p);
    n = rules_explain(r, &req, now, &p, buf, sizeof(buf));
    if (strcmp(buf, want) != 0)
        print_error("got:\n%s\nwant:\n%s\n", buf, want);
    assert_string_equal(buf, want);
    assert_int_equal(n, strlen(buf));
    assert_null(strstr(buf, "1234"));
    assert_null(strstr(buf, "0190"));
    if (from && rules_caller_hash(r, from, strlen(from), hash))
        assert_null(strstr(buf, hash));
}

/* ---------------------------------------------------------------------- */

static void test_lunch_overflow(void **state)
{
    expect_text(*state, "15125550200*2", NULL, REFERRER, T_LUNCH,
                "1. Tuesday 2026-03-10 12:40 America/Chicago (northlake): "
                "at lunch (12:00-13:00)\n"
                "2. option 2 -> billing\n"
                "3. northlake is at lunch: its own staff are skipped\n"
                "4. pick billing at downtown, longest idle first, up to 1\n"
                "5. then pool float (Float team): billing, longest idle "
                "first\n"
                "6. then " FB_NORTHLAKE " (final destination)\n"
                "priority caller\n");
}

static void test_open_with_skipped_step_and_caller_aware(void **state)
{
    expect_text(*state, "15125550100*2", NULL, CALLER, T_LUNCH,
                "1. Tuesday 2026-03-10 12:40 America/Chicago (downtown): no "
                "opening hours: always open\n"
                "2. option 2 -> billing\n"
                "3. pick billing at downtown, longest idle first, up to 2\n"
                "4. skip northlake: at lunch now\n"
                "5. then pool float (Float team): billing, longest idle "
                "first\n"
                "6. then " FB_DOWNTOWN " (final destination)\n"
                "caller-aware: their last staff member first if within 30 "
                "days\n");
    expect_text(*state, "15125550100", NULL, NULL, T_LUNCH + 3600,
                "1. Tuesday 2026-03-10 13:40 America/Chicago (downtown): no "
                "opening hours: always open\n"
                "2. no option -> default scheduling\n"
                "3. pick scheduling at downtown, longest idle first, up to "
                "2\n"
                "4. then scheduling at northlake, longest idle first\n"
                "5. then pool float (Float team): scheduling, longest idle "
                "first\n"
                "6. then " FB_DOWNTOWN " (final destination)\n"
                "caller-aware: no caller number, so no last staff member to "
                "try\n");
}

static void test_strategy_and_level(void **state)
{
    expect_text(*state, "17205550300", "2", NULL, T_LUNCH,
                "1. Tuesday 2026-03-10 11:40 America/Denver (westside): open "
                "(07:00-18:00)\n"
                "2. option 2 -> billing\n"
                "3. pick billing at westside, most proficient first, level 2 "
                "or more, up to 1\n"
                "4. then pool float (Float team): billing, most proficient "
                "first, level 2 or more\n"
                "5. then " FB_WESTSIDE " (final destination)\n");
}

static void test_unknown_option_sanitised(void **state)
{
    expect_text(*state, "17205550300", "9\"x\r\n+15125551234", NULL, T_LUNCH,
                "1. Tuesday 2026-03-10 11:40 America/Denver (westside): open "
                "(07:00-18:00)\n"
                "2. option 9?x???15... is not in the menu -> default intake\n"
                "3. pick intake at westside, longest idle first, up to 1\n"
                "4. then pool float (Float team): intake, longest idle "
                "first\n"
                "5. then " FB_WESTSIDE " (final destination)\n");
}

static void test_after_hours(void **state)
{
    expect_text(*state, "17205550300", NULL, NULL, T_SUNDAY,
                "1. Sunday 2026-03-08 12:00 America/Denver (westside): "
                "closed all day (no hours on Sundays)\n"
                "2. westside is closed (after hours): straight to "
                FB_WESTSIDE "\n");
    expect_text(*state, "17205550300", NULL, NULL, T_NIGHT,
                "1. Tuesday 2026-03-10 22:00 America/Denver (westside): "
                "after hours (today 07:00-18:00)\n"
                "2. westside is closed (after hours): straight to "
                FB_WESTSIDE "\n");
}

static void test_holiday(void **state)
{
    expect_text(*state, "15125550200", NULL, REFERRER, T_XMAS,
                "1. Friday 2026-12-25 10:00 America/Chicago (northlake): "
                "holiday (2026-12-25): closed all day\n"
                "2. northlake is on a holiday: straight to " FB_NORTHLAKE
                "\n"
                "priority caller\n");
}

static void test_single_destination_closed_reject(void **state)
{
    expect_text(*state, "15125550111", "2", CALLER, T_NIGHT,
                "1. Tuesday 2026-03-10 23:00 America/Chicago (downtown): no "
                "opening hours: always open\n"
                "2. 15125550111 is a single-destination number: always "
                "sip:dr.lee@pbx.downtown.hillcountry.example (hours and "
                "menu do not apply)\n");
    expect_text(*state, "15125550400*1", NULL, NULL, T_LUNCH,
                "1. Tuesday 2026-03-10 12:40 America/Chicago (annex): no "
                "opening hours: always open\n"
                "2. annex is marked closed: every call goes to its fallback "
                FB_DOWNTOWN "\n");
    expect_text(*state, "1512555\"9999", NULL, CALLER, T_LUNCH,
                "1. \"1512555?9999\" is not a number of any site: answer "
                "404\n");
}

/* Loaded without a reference time: the local time is unknown. */
static void test_hours_not_expanded(void **state)
{
    rules_t *r = load("rules/examples/demo.yaml", NULL, 0);

    (void)state;
    expect_text(r, "17205550300", NULL, NULL, T_LUNCH,
                "1. 2026-03-10 17:40 UTC (westside, America/Denver): hours "
                "not expanded for this date: reload the rules (counted as "
                "open)\n"
                "2. no option -> default intake\n"
                "3. pick intake at westside, longest idle first, up to 1\n"
                "4. then pool float (Float team): intake, longest idle "
                "first\n"
                "5. then " FB_WESTSIDE " (final destination)\n");
    rules_unref(r);
}

/* Own site at lunch, the next site closed, then the pool; a dedicated line;
 * a one-off closure; nobody left to overflow to. */
static void test_inline_cases(void **state)
{
    rules_t *r = load(
        NULL,
        "version: 1\ngroups:\n  - name: G\n    pools: [{id: p}]\n"
        "    sites:\n"
        "      - id: a\n        timezone: America/Chicago\n"
        "        dids: [\"100\", {number: \"101\", skill: intake}]\n"
        "        hours: {tue: [\"08:00-12:00\", \"13:00-17:00\"]}\n"
        "        closed_dates: [\"2026-03-17\"]\n"
        "        holiday: overflow\n"
        "        default_skill: s\n"
        "        overflow: [{site: b}, {site: c}, {pool: p, min_level: 3}]\n"
        "        fallback: sip:a@x\n"
        "      - id: b\n        timezone: America/Denver\n"
        "        dids: [\"200\"]\n"
        "        hours: {tue: [\"12:00-18:00\"]}\n"
        "        lunch: overflow\n"
        "        default_skill: s\n        fallback: sip:b@x\n"
        "      - id: c\n        timezone: UTC\n        dids: [\"300\"]\n"
        "        default_skill: s\n        closed: true\n"
        "        fallback: sip:c@x\n",
        REF);

    (void)state;
    expect_text(r, "100", NULL, NULL, T_LUNCH,
                "1. Tuesday 2026-03-10 12:40 America/Chicago (a): at lunch "
                "(12:00-13:00)\n"
                "2. no option -> default s\n"
                "3. a is at lunch: its own staff are skipped\n"
                "4. skip b: closed (after hours) now\n"
                "5. skip c: marked closed\n"
                "6. pick from pool p: s, longest idle first, level 3 or "
                "more, up to 1\n"
                "7. then sip:a@x (final destination)\n");
    expect_text(r, "101", "2", NULL, T_LUNCH - 3600,
                "1. Tuesday 2026-03-10 11:40 America/Chicago (a): open "
                "(08:00-12:00)\n"
                "2. 101 is a dedicated line -> intake (the menu does not "
                "apply)\n"
                "3. pick intake at a, longest idle first, up to 1\n"
                "4. skip b: closed (after hours) now\n"
                "5. skip c: marked closed\n"
                "6. then pool p: intake, longest idle first, level 3 or "
                "more\n"
                "7. then sip:a@x (final destination)\n");
    expect_text(r, "100", NULL, NULL, T_LUNCH + 7 * 86400,
                "1. Tuesday 2026-03-17 12:40 America/Chicago (a): closed "
                "date (2026-03-17): closed all day\n"
                "2. no option -> default s\n"
                "3. a is on a holiday: its own staff are skipped\n"
                "4. skip b: closed (after hours) now\n"
                "5. skip c: marked closed\n"
                "6. pick from pool p: s, longest idle first, level 3 or "
                "more, up to 1\n"
                "7. then sip:a@x (final destination)\n");
    expect_text(r, "200", NULL, NULL, T_NIGHT - 9 * 3600,
                "1. Tuesday 2026-03-10 13:00 America/Denver (b): open "
                "(12:00-18:00)\n"
                "2. no option -> default s\n"
                "3. pick s at b, longest idle first, up to 1\n"
                "4. then sip:b@x (final destination)\n");
    rules_unref(r);

    r = load(NULL,
             "version: 1\ngroups:\n  - name: G\n    sites:\n"
             "      - {id: a, timezone: UTC, dids: [\"100\"], "
             "hours: {tue: [\"08:00-12:00\", \"13:00-17:00\"]}, "
             "default_skill: s, fallback: \"sip:a@x\"}\n",
             REF);
    expect_text(r, "100", NULL, NULL, T_LUNCH - 5 * 3600 - 20 * 60,
                "1. Tuesday 2026-03-10 12:20 UTC (a): at lunch "
                "(12:00-13:00)\n"
                "2. no option -> default s\n"
                "3. a is at lunch: its own staff are skipped\n"
                "4. nobody left to overflow to: straight to sip:a@x\n");
    rules_unref(r);
}

/* The text is cut at cap - 1 and always terminated. */
static void test_buffer_bounds(void **state)
{
    rules_req_t req = { { "15125550200*2", 13 }, { NULL, 0 }, { NULL, 0 },
                        { NULL, 0 }, NULL };
    char buf[64], full[2048];
    plan_t p;
    size_t n;

    rules_eval(*state, &req, T_LUNCH, &p);
    assert_int_equal(rules_explain(*state, &req, T_LUNCH, &p, buf, 0), 0);
    memset(buf, 'x', sizeof(buf));
    assert_int_equal(rules_explain(*state, &req, T_LUNCH, &p, buf, 1), 0);
    assert_int_equal(buf[0], '\0');
    memset(buf, 'x', sizeof(buf));
    n = rules_explain(*state, &req, T_LUNCH, &p, buf, 20);
    assert_int_equal(n, 19);
    assert_int_equal(strlen(buf), 19);
    assert_int_equal(buf[20], 'x');
    rules_explain(*state, &req, T_LUNCH, &p, full, sizeof(full));
    assert_memory_equal(buf, full, 19);
    /* a NULL plan is fine: explain derives the steps itself */
    n = rules_explain(*state, &req, T_LUNCH, NULL, buf, sizeof(buf));
    assert_int_equal(n, sizeof(buf) - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lunch_overflow),
        cmocka_unit_test(test_open_with_skipped_step_and_caller_aware),
        cmocka_unit_test(test_strategy_and_level),
        cmocka_unit_test(test_unknown_option_sanitised),
        cmocka_unit_test(test_after_hours),
        cmocka_unit_test(test_holiday),
        cmocka_unit_test(test_single_destination_closed_reject),
        cmocka_unit_test(test_hours_not_expanded),
        cmocka_unit_test(test_inline_cases),
        cmocka_unit_test(test_buffer_bounds),
    };

    return cmocka_run_group_tests_name("explain", tests, setup, teardown);
}
