/* test_truth.c -- bench/truth.c: reading the seed's truth file and judging
 * the Contacts of a 302 against it; bench/procstat.c's /proc/PID/stat
 * parser.
 *
 * Both are part of fd-bench, not of libproxy.a, so they are included here
 * whole.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "../../bench/truth.c"
#include "../../bench/procstat.c"

/* Two sites, max 2 contacts; the default is scheduling, option 2 is
 * billing at level 2 or more. */
static const char good_file[] =
    "# fd-bench truth\n"
    "menu - scheduling 1\n"
    "menu 1 scheduling 1\n"
    "menu 2 billing 2\n"
    "site s0001 15550000001 2 sip:desk-s0001@fb.example\n"
    "staff s0001 s0001-001 sip:a@10.0.1.1:5060 available scheduling:5,billing:1\n"
    "staff s0001 s0001-002 sip:b@10.0.1.2:5060 available billing:4\n"
    "staff s0001 s0001-003 sip:c@10.0.1.3:5060 offline scheduling:3\n"
    "staff s0001 s0001-004 sip:d@10.0.1.4:5060 busy billing:3\n"
    "site s0002 15550000002 2 sip:desk-s0002@fb.example\n"
    "staff s0002 s0002-001 sip:e@10.0.2.1:5060 available scheduling:2\n"
    "staff s0002 s0002-002 sip:f@10.0.2.2:5060 offline billing:5\n";

/* Targets: target = menu entry * sites + site. */
enum { S1_DEFAULT = 0, S2_DEFAULT = 1, S1_OPT1 = 2, S2_OPT1 = 3, S1_OPT2 = 4, S2_OPT2 = 5 };

static truth_t *parse(const char *text, char *err, size_t errlen)
{
    truth_t *t = NULL;
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    assert_non_null(f);
    if (truth_parse(&t, f, "t", err, errlen) < 0) t = NULL;
    fclose(f);
    return t;
}

static int setup(void **state)
{
    char err[256] = "";
    *state = parse(good_file, err, sizeof(err));
    if (!*state) fprintf(stderr, "%s\n", err);
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    truth_free(*state);
    return 0;
}

/* Judge the NUL-terminated URIs of a NULL-terminated list. */
static check_verdict_t judge(const truth_t *t, size_t target, bool churn, truth_kind_t *kind,
                             const char *const *uris)
{
    sipmsg_span_t c[8];
    unsigned n = 0;
    for (; uris[n]; n++) c[n] = (sipmsg_span_t){uris[n], strlen(uris[n])};
    return truth_check(t, target, c, n, churn, kind);
}

#define JUDGE(t, target, churn, kind, ...) \
    judge((t), (target), (churn), (kind), (const char *const[]){__VA_ARGS__, NULL})

/* ---------------------------------------------------------------------------
 * Reading
 * ------------------------------------------------------------------------ */

static void test_counts_and_targets(void **state)
{
    const truth_t *t = *state;
    assert_int_equal(truth_sites(t), 2);
    assert_int_equal(truth_staff_count(t), 6);
    assert_int_equal(truth_targets(t), 6);
    /* consecutive targets are different sites */
    assert_string_equal(truth_target_user(t, S1_DEFAULT), "15550000001");
    assert_string_equal(truth_target_user(t, S2_DEFAULT), "15550000002");
    assert_string_equal(truth_target_user(t, S1_OPT1), "15550000001*1");
    assert_string_equal(truth_target_user(t, S2_OPT2), "15550000002*2");
    assert_string_equal(truth_users(t)[S1_OPT2], "15550000001*2");
}

static void test_staff_lookup(void **state)
{
    const truth_t *t = *state;
    bool seen = false;
    for (size_t i = 0; i < truth_staff_count(t); i++) {
        const char *site, *id, *st;
        truth_staff(t, i, &site, &id, &st);
        if (strcmp(id, "s0002-002") == 0) {
            assert_string_equal(site, "s0002");
            assert_string_equal(st, "offline");
            seen = true;
        }
    }
    assert_true(seen);
}

static void expect_error(const char *text, const char *want)
{
    char err[256] = "";
    truth_t *t = parse(text, err, sizeof(err));
    assert_null(t);
    if (!strstr(err, want)) fail_msg("error \"%s\" does not say \"%s\"", err, want);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("", "no site");
    expect_error("site s1 1555 2 sip:x@y\n", "t:1: site before any menu line");
    expect_error("menu - a 1\nstaff s1 x sip:a@b available a:1\n", "t:2: staff: unknown site");
    expect_error("menu - a 1\nsite s1 1555 2 sip:x@y\nstaff s1 x sip:a@b away a:1\n",
                 "unknown state");
    expect_error("menu - a 1\nsite s1 1555 2 sip:x@y\nstaff s1 x sip:a@b available a:9\n",
                 "level is 1 to 5");
    expect_error("menu - a 1\nsite s1 1555 2 sip:x@y\nstaff s1 x sip:a@b available\n",
                 "staff: want");
    expect_error("menu - a 1\nsite s1 15x5 2 sip:x@y\n", "DID");
    expect_error("menu - a 1\nsite s1 1555 2 http://x\n", "fallback");
    expect_error("menu - a 1\nsite s1 1555 7 sip:x@y\n", "max_contacts");
    expect_error("menu - a 1\nmenu - b 1\n", "option given twice");
    expect_error("menu - a 1\nsite s1 1555 2 sip:x@y\nmenu 1 a 1\n", "before the sites");
    expect_error("menu - a 1\nsite s1 1555 2 sip:x@y\n"
                 "staff s1 x sip:a@b available a:1\nstaff s1 y sip:a@b busy a:1\n",
                 "share a contact");
    expect_error("menu - a 1\nsite s1 1555 2 sip:x@y\nsite s1 1556 2 sip:x@y\n", "id given twice");
    expect_error("menu - a 1\nbogus\n", "t:2: unknown record");
}

/* ---------------------------------------------------------------------------
 * Judging
 * ------------------------------------------------------------------------ */

static void test_right_answers(void **state)
{
    const truth_t *t = *state;
    truth_kind_t k;
    assert_int_equal(JUDGE(t, S1_DEFAULT, false, &k, "sip:a@10.0.1.1:5060", "sip:desk-s0001@fb.example"),
                     CHECK_OK);
    assert_int_equal(k, TRUTH_STAFF);
    /* two people, in either order */
    assert_int_equal(JUDGE(t, S1_OPT2, false, &k, "sip:b@10.0.1.2:5060", "sip:desk-s0001@fb.example"),
                     CHECK_OK);
    /* the fallback alone: right, counted apart */
    assert_int_equal(JUDGE(t, S1_DEFAULT, false, &k, "sip:desk-s0001@fb.example"), CHECK_OK);
    assert_int_equal(k, TRUTH_FALLBACK_FREE); /* a was seeded available */
    assert_int_equal(JUDGE(t, S2_OPT2, false, &k, "sip:desk-s0002@fb.example"), CHECK_OK);
    assert_int_equal(k, TRUTH_FALLBACK); /* nobody available with billing >= 2 */
}

static void test_wrong_answers(void **state)
{
    const truth_t *t = *state;
    /* the last Contact must be the called site's fallback */
    assert_int_equal(JUDGE(t, S1_DEFAULT, false, NULL, "sip:a@10.0.1.1:5060"), CHECK_FALLBACK);
    assert_int_equal(JUDGE(t, S1_DEFAULT, false, NULL, "sip:desk-s0002@fb.example"), CHECK_FALLBACK);
    assert_int_equal(truth_check(t, S1_DEFAULT, NULL, 0, false, NULL), CHECK_FALLBACK);
    /* someone of the other site, or nobody we know */
    assert_int_equal(JUDGE(t, S1_DEFAULT, false, NULL, "sip:e@10.0.2.1:5060", "sip:desk-s0001@fb.example"),
                     CHECK_NOT_STAFF);
    assert_int_equal(JUDGE(t, S1_DEFAULT, false, NULL, "sip:zz@10.0.1.9:5060", "sip:desk-s0001@fb.example"),
                     CHECK_NOT_STAFF);
    /* a prefix of a known contact is not that contact */
    assert_int_equal(JUDGE(t, S1_DEFAULT, false, NULL, "sip:a@10.0.1.1:506", "sip:desk-s0001@fb.example"),
                     CHECK_NOT_STAFF);
    /* without the skill, or below the option's level */
    assert_int_equal(JUDGE(t, S1_OPT1, false, NULL, "sip:b@10.0.1.2:5060", "sip:desk-s0001@fb.example"),
                     CHECK_SKILL);
    assert_int_equal(JUDGE(t, S1_OPT2, false, NULL, "sip:a@10.0.1.1:5060", "sip:desk-s0001@fb.example"),
                     CHECK_SKILL);
    /* seeded offline / busy, and presence could not change */
    assert_int_equal(JUDGE(t, S1_DEFAULT, false, NULL, "sip:c@10.0.1.3:5060", "sip:desk-s0001@fb.example"),
                     CHECK_PRESENCE);
    assert_int_equal(JUDGE(t, S1_OPT2, false, NULL, "sip:d@10.0.1.4:5060", "sip:desk-s0001@fb.example"),
                     CHECK_PRESENCE);
    /* more than max_contacts, or one person twice */
    assert_int_equal(JUDGE(t, S1_OPT2, false, NULL, "sip:b@10.0.1.2:5060", "sip:b@10.0.1.2:5060",
                           "sip:desk-s0001@fb.example"),
                     CHECK_CONTACTS);
    assert_int_equal(JUDGE(t, S1_DEFAULT, false, NULL, "sip:a@10.0.1.1:5060", "sip:a@10.0.1.1:5060",
                           "sip:a@10.0.1.1:5060", "sip:desk-s0001@fb.example"),
                     CHECK_CONTACTS);
}

static void test_churn_relaxes_presence_only(void **state)
{
    const truth_t *t = *state;
    truth_kind_t k;
    assert_int_equal(JUDGE(t, S1_DEFAULT, true, &k, "sip:c@10.0.1.3:5060", "sip:desk-s0001@fb.example"),
                     CHECK_OK);
    assert_int_equal(k, TRUTH_STAFF);
    /* membership and skill still hold */
    assert_int_equal(JUDGE(t, S1_OPT1, true, NULL, "sip:b@10.0.1.2:5060", "sip:desk-s0001@fb.example"),
                     CHECK_SKILL);
    assert_int_equal(JUDGE(t, S2_DEFAULT, true, NULL, "sip:c@10.0.1.3:5060", "sip:desk-s0002@fb.example"),
                     CHECK_NOT_STAFF);
}

/* ---------------------------------------------------------------------------
 * procstat
 * ------------------------------------------------------------------------ */

static void test_procstat_parse(void **state)
{
    (void)state;
    uint64_t t = 0;
    /* a command name with spaces and parentheses; utime 250, stime 17 */
    const char *line = "4242 (odd) name) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 17 0 0 20 0 3 0 "
                       "100 123456 789 18446744073709551615\n";
    assert_int_equal(procstat_parse(line, &t), 0);
    assert_int_equal(t, 267);
    assert_int_equal(procstat_parse("4242 (x) S 1 2 3", &t), -1);
    assert_int_equal(procstat_parse("no parenthesis", &t), -1);
    /* our own process is readable and has used some CPU */
    assert_true(procstat_cpu_s(getpid()) >= 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_counts_and_targets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_staff_lookup, setup, teardown),
        cmocka_unit_test(test_errors),
        cmocka_unit_test_setup_teardown(test_right_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_churn_relaxes_presence_only, setup, teardown),
        cmocka_unit_test(test_procstat_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
