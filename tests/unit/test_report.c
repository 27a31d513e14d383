/* test_report.c -- proxy/report.c: reading a call history entry, counting
 * a call once (its last entry), minutes of availability from presence
 * changes, and what the writers print.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "report.h"

#define ID "1796140800123-0"
static int parse(const char *v, report_call_t *c)
{
    return report_parse_call(ID, strlen(ID), v, strlen(v), c);
}

/* fd_pick's entries and the proxy's (with its clock), and what is not one. */
static void test_parse(void **state)
{
    (void)state;
    report_call_t c;
    assert_int_equal(parse("0123456789abcdef0123456789abcdef\t15125550100\t2\tbilling\tstaff\t2\tcafe", &c), 0);
    assert_string_equal(c.call, "0123456789abcdef0123456789abcdef");
    assert_string_equal(c.number, "15125550100");
    assert_string_equal(c.option, "2");
    assert_string_equal(c.skill, "billing");
    assert_int_equal(c.outcome, RO_STAFF);
    assert_int_equal(c.offered, 2);
    assert_int_equal(c.ms, 1796140800123ull);

    /* the proxy's batch: its clock wins over the stream id's */
    assert_int_equal(parse("abc\t15125550400\t\t\tafter_hours\t0\t\t1796140000000", &c), 0);
    assert_int_equal(c.outcome, RO_AFTER_HOURS);
    assert_int_equal(c.ms, 1796140000000ull);
    assert_string_equal(c.skill, "");
    /* a forward-mode final response: an entry of its own */
    assert_int_equal(parse("abc\t\t\t\tfinal\t0\t\t1796140000000\t486", &c), 0);
    assert_int_equal(c.status, 486);
    assert_int_equal(c.outcome, -1);
    assert_int_equal(parse("abc\t\t\t\tfinal\t0\t\t1796140000000\t100", &c), -EINVAL);
    assert_int_equal(parse("abc\t\t\t\tfinal\t0\t\t1796140000000", &c), -EINVAL);

    assert_int_equal(parse("abc\t1\t\t\tteleported\t0\t", &c), -EINVAL); /* a later version's outcome */
    assert_int_equal(parse("abc\t1\t2", &c), -EINVAL);
    assert_int_equal(parse("", &c), -EINVAL);
    assert_int_equal(report_parse_call("x-1", 3, "a\t1\t\t\tstaff\t1\t", 15, &c), -EINVAL);
    /* over-long fields are cut, never overflow */
    char big[400];
    memset(big, '9', sizeof(big));
    memcpy(big + 200, "\t1\t\t\tstaff\t1\t", 13);
    big[213] = '\0';
    assert_int_equal(parse(big, &c), 0);
    assert_int_equal(strlen(c.call), 32);
}

static report_call_t rec(const char *call, const char *skill, int outcome)
{
    report_call_t c = { .outcome = outcome };
    snprintf(c.call, sizeof(c.call), "%s", call);
    snprintf(c.skill, sizeof(c.skill), "%s", skill);
    return c;
}

/* A call is counted once, as its last entry says, at the hour and under
 * the skill of its first; calls of different sites never mix. */
static void test_calls_last_entry_wins(void **state)
{
    (void)state;
    report_calls_t *rc = report_calls_new();
    report_call_t a = rec("c1", "billing", RO_STAFF), late = rec("c1", "", RO_LATE), b = rec("c2", "billing", RO_NOBODY);
    assert_int_equal(report_calls_add(rc, "oak", &a, 9), 0);
    assert_int_equal(report_calls_add(rc, "oak", &b, 12), 0);
    assert_int_equal(report_calls_add(rc, "oak", &late, 10), 0);
    assert_int_equal(report_calls_total(rc), 2);
    assert_int_equal(report_calls_count(rc, "oak", "billing", 9, RO_LATE), 1);
    assert_int_equal(report_calls_count(rc, "oak", "billing", 9, RO_STAFF), 0);
    assert_int_equal(report_calls_count(rc, "oak", "billing", 10, -1), 0);
    assert_int_equal(report_calls_count(rc, "oak", NULL, -1, RO_NOBODY), 1);
    /* another site: a new call even with the same hash */
    report_call_t p = rec("c1", "intake", RO_STAFF);
    assert_int_equal(report_calls_add(rc, "pine", &p, 9), 0);
    assert_int_equal(report_calls_total(rc), 3);
    assert_int_equal(report_calls_count(rc, "oak", "billing", 9, RO_LATE), 1);
    /* bad input */
    report_call_t bad = rec("c9", "", RO_N);
    assert_int_equal(report_calls_add(rc, "pine", &bad, 9), -EINVAL);
    assert_int_equal(report_calls_add(rc, "pine", &p, REPORT_HOURS), -EINVAL);
    report_calls_free(rc);
    report_calls_free(NULL);
}

/* Many calls: the table of seen calls grows and still finds each. */
static void test_calls_many(void **state)
{
    (void)state;
    report_calls_t *rc = report_calls_new();
    char id[33];
    for (int i = 0; i < 5000; i++) {
        snprintf(id, sizeof(id), "call%d", i);
        report_call_t c = rec(id, "s", RO_STAFF);
        assert_int_equal(report_calls_add(rc, "oak", &c, (unsigned)(i % REPORT_HOURS)), 0);
    }
    for (int i = 0; i < 5000; i += 2) {
        snprintf(id, sizeof(id), "call%d", i);
        report_call_t c = rec(id, "s", RO_NOBODY);
        assert_int_equal(report_calls_add(rc, "oak", &c, 0), 0);
    }
    assert_int_equal(report_calls_total(rc), 5000);
    assert_int_equal(report_calls_count(rc, "oak", "s", -1, RO_NOBODY), 2500);
    report_calls_free(rc);
}

/* What the writers print: the table's shares and worst hours, CSV lines. */
static void test_calls_write(void **state)
{
    (void)state;
    report_calls_t *rc = report_calls_new();
    for (int i = 0; i < 4; i++) {
        char id[8];
        snprintf(id, sizeof(id), "s%d", i);
        report_call_t c = rec(id, "billing", i == 0 ? RO_NOBODY : RO_STAFF);
        report_calls_add(rc, "oak", &c, 36); /* Tue 12:00 */
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(report_calls_write(rc, f, REPORT_TABLE, "T"), 0);
    fclose(f);
    assert_non_null(strstr(buf, "oak              billing              4       3  75.0%"));
    assert_non_null(strstr(buf, "Tue 12:00-13:00  1 of 4 calls: nobody free 1"));
    free(buf);
    f = open_memstream(&buf, &len);
    assert_int_equal(report_calls_write(rc, f, REPORT_CSV, "T"), 0);
    fclose(f);
    assert_non_null(strstr(buf, "\noak,billing,Tue,12,4,3,1,0,0,0,0,0,0,0,0,0\n"));
    free(buf);
    f = open_memstream(&buf, &len);
    assert_int_equal(report_calls_write(rc, f, REPORT_JSON, "a \"quoted\" period"), 0);
    fclose(f);
    assert_non_null(strstr(buf, "{\"period\":\"a \\\"quoted\\\" period\""));
    assert_non_null(strstr(buf, "\"outcomes\":{\"staff\":3,\"nobody\":1}"));
    free(buf);
    report_calls_free(rc);
}

/* Minutes covered: those that start inside an interval, clipped to the window. */
static void test_avail(void **state)
{
    (void)state;
    report_avail_t *a = report_avail_new(1000000, 60); /* an hour */
    report_avail_mark(a, 1000000 + 10 * 60000, 1000000 + 20 * 60000);
    assert_false(report_avail_covered(a, 1000000 + 9 * 60000));
    assert_true(report_avail_covered(a, 1000000 + 10 * 60000));
    assert_true(report_avail_covered(a, 1000000 + 19 * 60000 + 59999));
    assert_false(report_avail_covered(a, 1000000 + 20 * 60000));
    /* a part of a minute: that minute started before, so not covered */
    report_avail_mark(a, 1000000 + 30 * 60000 + 1, 1000000 + 31 * 60000);
    assert_false(report_avail_covered(a, 1000000 + 30 * 60000));
    /* clipped both ends */
    report_avail_mark(a, 0, 1000000 + 60000);
    assert_true(report_avail_covered(a, 1000000));
    report_avail_mark(a, 1000000 + 59 * 60000, 1000000 + 600 * 60000);
    assert_true(report_avail_covered(a, 1000000 + 59 * 60000));
    assert_false(report_avail_covered(a, 1000000 + 60 * 60000));
    assert_false(report_avail_covered(a, 999999));
    report_avail_free(a);
}

/* A person's day from their changes: available 08-12 and 13-17; before
 * the first change, what it changed from; with no change, as they are now. */
static void test_timeline(void **state)
{
    (void)state;
    const int64_t H = 3600000;
    report_avail_t *a = report_avail_new(0, 24 * 60);
    report_timeline_t t;
    report_timeline_start(&t, 0);
    report_timeline_change(&t, a, 8 * H, "offline", "available");
    report_timeline_change(&t, a, 12 * H, "available", "break");
    report_timeline_change(&t, a, 13 * H, "break", "available");
    report_timeline_change(&t, a, 17 * H, "available", "offline");
    report_timeline_end(&t, a, 24 * H, "offline");
    assert_false(report_avail_covered(a, 7 * H));
    assert_true(report_avail_covered(a, 8 * H));
    assert_false(report_avail_covered(a, 12 * H + 30 * 60000));
    assert_true(report_avail_covered(a, 16 * H + 59 * 60000));
    assert_false(report_avail_covered(a, 17 * H));
    report_avail_free(a);

    /* available from before the window until noon */
    a = report_avail_new(0, 24 * 60);
    report_timeline_start(&t, 0);
    report_timeline_change(&t, a, 12 * H, "available", "busy");
    report_timeline_end(&t, a, 24 * H, "busy");
    assert_true(report_avail_covered(a, 0));
    assert_false(report_avail_covered(a, 12 * H));
    report_avail_free(a);

    /* no change at all: as they are now */
    a = report_avail_new(0, 24 * 60);
    report_timeline_start(&t, 0);
    report_timeline_end(&t, a, 24 * H, "available");
    assert_true(report_avail_covered(a, 23 * H));
    report_avail_free(a);
}

static void test_coverage_write(void **state)
{
    (void)state;
    report_coverage_t *rc = report_coverage_new();
    report_gap_t g = { .site = "pine", .skill = "intake", .how = 5 * 24 + 9, .at_ms = 2, .share = 1.0,
                       .calls = 2.0, .date = "2026-12-05 09:00" };
    report_gap_t h = { .site = "oak", .skill = "records", .how = 2 * 24 + 10, .at_ms = 1, .share = 0.5,
                       .calls = 1.0, .nobody_holds = true, .date = "2026-12-02 10:00" };
    assert_int_equal(report_coverage_add(rc, &g), 0);
    assert_int_equal(report_coverage_add(rc, &h), 0);
    assert_int_equal(report_coverage_count(rc), 2);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(report_coverage_write(rc, f, REPORT_CSV, "T"), 0);
    fclose(f);
    /* sorted by site: oak first */
    assert_non_null(strstr(buf, "\noak,records,Wed,10,2026-12-02 10:00,0.500,1.00,0.50,yes\n"
                                "pine,intake,Sat,9,2026-12-05 09:00,1.000,2.00,2.00,no\n"));
    free(buf);
    f = open_memstream(&buf, &len);
    assert_int_equal(report_coverage_write(rc, f, REPORT_TABLE, "T"), 0);
    fclose(f);
    assert_non_null(strstr(buf, "the week: oak 0.5, pine 2.0"));
    assert_non_null(strstr(buf, "(nobody holds the skill)"));
    free(buf);
    report_coverage_free(rc);
}

/* Forward mode's final responses: once a call (a 2xx is relayed again for
 * each retransmission), the last one; in the table and the JSON. */
static void test_finals(void **state)
{
    (void)state;
    report_calls_t *rc = report_calls_new();
    report_call_t a = rec("c1", "billing", RO_STAFF);
    assert_int_equal(report_calls_add(rc, "oak", &a, 9), 0);
    assert_int_equal(report_calls_final(rc, "oak", "c1", 200), 0);
    assert_int_equal(report_calls_final(rc, "oak", "c1", 200), 0);
    assert_int_equal(report_calls_final(rc, "oak", "c2", 180), -EINVAL);
    assert_int_equal(report_calls_final(rc, "oak", "c2", 486), 0);
    assert_int_equal(report_calls_final(rc, "oak", "c3", 408), 0);
    assert_int_equal(report_calls_final(rc, "oak", "c3", 200), 0);
    assert_int_equal(report_calls_total(rc), 1); /* finals are not calls of their own */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(report_calls_write(rc, f, REPORT_JSON, "T"), 0);
    fclose(f);
    assert_non_null(strstr(buf, "\"final\":{\"oak\":{\"200\":2,\"486\":1}}"));
    free(buf);
    report_calls_free(rc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_calls_last_entry_wins),
        cmocka_unit_test(test_calls_many),
        cmocka_unit_test(test_calls_write),
        cmocka_unit_test(test_avail),
        cmocka_unit_test(test_timeline),
        cmocka_unit_test(test_coverage_write),
        cmocka_unit_test(test_finals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
