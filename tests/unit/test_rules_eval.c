/* test_rules_eval.c -- rules/eval.c: request view + snapshot -> plan.
 *
 * Most tests route against the demo clinic group (rules/examples/demo.yaml,
 * loaded once per run from the repository root); a few load small inline
 * documents for separators and menus the demo does not use.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rules.h"

#define GROUP "Hill Country Therapy Group"
#define FB_DOWNTOWN "sip:frontdesk@pbx.downtown.hillcountry.example"
#define FB_NORTHLAKE "sip:voicemail@pbx.northlake.hillcountry.example"
#define FB_WESTSIDE "sip:answering@service.hillcountry.example"
#define CALLER "15125551234" /* a caller number: must never show */

/* ---------------------------------------------------------------------- */
/* Helpers                                                                */

static span_t sp(const char *s)
{
    span_t v = { s, s ? strlen(s) : 0 };
    return v;
}

/* Evaluate with the given parts (NULL = absent). The plan is pre-filled
 * with garbage to prove rules_eval() sets every field. */
static plan_t eval4(const rules_t *r, const char *ruri, const char *to,
                    const char *option, const char *from)
{
    rules_req_t req = { sp(ruri), sp(to), sp(from), sp(option) };
    plan_t plan;

    memset(&plan, 0xa5, sizeof(plan));
    assert_int_equal(rules_eval(r, &req, 1700000000, &plan), 0);
    assert_true(strlen(plan.reason) < RULES_REASON_MAX);
    assert_null(strstr(plan.reason, CALLER));
    return plan;
}

static plan_t eval(const rules_t *r, const char *ruri, const char *option)
{
    return eval4(r, ruri, NULL, option, CALLER);
}

static void expect_pick(const plan_t *p, const char *site, const char *skill,
                        unsigned max_contacts, const char *fallback,
                        const char *reason)
{
    assert_int_equal(p->kind, PLAN_PICK);
    assert_string_equal(p->group, GROUP);
    assert_string_equal(p->site, site);
    assert_string_equal(p->skill, skill);
    assert_int_equal(p->strategy, RULES_LONGEST_IDLE);
    assert_int_equal(p->max_contacts, max_contacts);
    assert_string_equal(p->fallback, fallback);
    assert_int_equal(p->status, 0);
    assert_string_equal(p->reason, reason);
}

static void expect_reject(const plan_t *p)
{
    assert_int_equal(p->kind, PLAN_REJECT);
    assert_int_equal(p->status, 404);
    assert_null(p->group);
    assert_null(p->site);
    assert_null(p->skill);
    assert_null(p->fallback);
    assert_string_equal(p->reason, "no site for number");
}

static rules_t *load_inline(const char *yaml)
{
    rules_t *r = NULL;
    rules_report_t rep;
    int rc = rules_load_string(yaml, strlen(yaml), "inline.yaml", &r, &rep);

    if (rc != 0)
        print_error("%s:%u:%u: %s\n", rep.file, rep.line, rep.col, rep.msg);
    assert_int_equal(rc, 0);
    return r;
}

static int setup_demo(void **state)
{
    rules_t *r = NULL;
    rules_report_t rep;

    if (rules_load("rules/examples/demo.yaml", &r, &rep) != 0) {
        print_error("%s:%u:%u: %s\n", rep.file, rep.line, rep.col, rep.msg);
        return -1;
    }
    *state = r;
    return 0;
}

static int teardown_demo(void **state)
{
    rules_unref(*state);
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Option from the Request-URI or the header                              */

static void test_ruri_option_known(void **state)
{
    plan_t p = eval(*state, "15125550100*2", NULL);

    expect_pick(&p, "downtown", "billing", 2, FB_DOWNTOWN,
                "downtown: option 2 -> billing");
}

static void test_header_option_known(void **state)
{
    plan_t p = eval(*state, "15125550100", "3");

    expect_pick(&p, "downtown", "intake", 2, FB_DOWNTOWN,
                "downtown: option 3 -> intake");
}

static void test_header_wins_over_ruri(void **state)
{
    plan_t p = eval(*state, "15125550100*2", "1");

    expect_pick(&p, "downtown", "scheduling", 2, FB_DOWNTOWN,
                "downtown: option 1 -> scheduling");
}

static void test_header_option_trimmed(void **state)
{
    plan_t p = eval(*state, "15125550100", " 2\t");

    expect_pick(&p, "downtown", "billing", 2, FB_DOWNTOWN,
                "downtown: option 2 -> billing");
}

/* A header of only blanks is no header: the Request-URI option stands. */
static void test_blank_header_is_absent(void **state)
{
    plan_t p = eval(*state, "15125550100*2", "  ");

    expect_pick(&p, "downtown", "billing", 2, FB_DOWNTOWN,
                "downtown: option 2 -> billing");
}

static void test_option_unknown(void **state)
{
    plan_t p = eval(*state, "17205550300*9", NULL);

    expect_pick(&p, "westside", "intake", 1, FB_WESTSIDE,
                "westside: option 9 unknown -> default intake");
}

/* "3" is in downtown's menu but not northlake's. */
static void test_option_not_in_this_menu(void **state)
{
    plan_t p = eval(*state, "15125550200", "3");

    expect_pick(&p, "northlake", "scheduling", 1, FB_NORTHLAKE,
                "northlake: option 3 unknown -> default scheduling");
}

static void test_option_two_keys_unknown(void **state)
{
    plan_t p = eval(*state, "15125550100*12", NULL);

    expect_pick(&p, "downtown", "scheduling", 2, FB_DOWNTOWN,
                "downtown: option 12 unknown -> default scheduling");
}

/* Whatever a header carries, the reason shows at most 8 bytes of it, and
 * only characters safe in a log line. */
static void test_option_sanitised_in_reason(void **state)
{
    plan_t p = eval(*state, "15125550100",
                    "9\"\r\nX: +" CALLER "5551234567890");

    expect_pick(&p, "downtown", "scheduling", 2, FB_DOWNTOWN,
                "downtown: option 9???X???... unknown -> default scheduling");
}

static void test_no_option(void **state)
{
    plan_t p = eval(*state, "15125550100", NULL);

    expect_pick(&p, "downtown", "scheduling", 2, FB_DOWNTOWN,
                "downtown: no option -> default scheduling");
}

static void test_separator_without_option(void **state)
{
    plan_t p = eval(*state, "15125550100*", NULL);

    expect_pick(&p, "downtown", "scheduling", 2, FB_DOWNTOWN,
                "downtown: no option -> default scheduling");
}

/* ---------------------------------------------------------------------- */
/* Called number                                                          */

static void test_number_normalised(void **state)
{
    plan_t p = eval(*state, "+1 (512) 555-0100", NULL);

    expect_pick(&p, "downtown", "scheduling", 2, FB_DOWNTOWN,
                "downtown: no option -> default scheduling");
    p = eval(*state, "+1.512.555.0200*2", NULL);
    expect_pick(&p, "northlake", "billing", 1, FB_NORTHLAKE,
                "northlake: option 2 -> billing");
}

/* The Request-URI is not a DID (an IVR service name): To has the number. */
static void test_to_user_used_when_ruri_unknown(void **state)
{
    plan_t p = eval4(*state, "frontdesk", "+15125550200", NULL, CALLER);

    expect_pick(&p, "northlake", "scheduling", 1, FB_NORTHLAKE,
                "northlake: no option -> default scheduling");
}

static void test_to_user_with_option(void **state)
{
    plan_t p = eval4(*state, "15125559999", "15125550200*2", NULL, CALLER);

    expect_pick(&p, "northlake", "billing", 1, FB_NORTHLAKE,
                "northlake: option 2 -> billing");
}

static void test_to_user_header_wins(void **state)
{
    plan_t p = eval4(*state, NULL, "15125550200*2", "1", CALLER);

    expect_pick(&p, "northlake", "scheduling", 1, FB_NORTHLAKE,
                "northlake: option 1 -> scheduling");
}

static void test_ruri_wins_over_to_user(void **state)
{
    plan_t p = eval4(*state, "15125550100", "15125550200", NULL, CALLER);

    expect_pick(&p, "downtown", "scheduling", 2, FB_DOWNTOWN,
                "downtown: no option -> default scheduling");
}

static void test_unknown_number_rejected(void **state)
{
    plan_t p = eval4(*state, "15125559999", "15125558888", "2", CALLER);

    expect_reject(&p);
}

static void test_empty_request_rejected(void **state)
{
    rules_req_t req;
    plan_t p;

    memset(&req, 0, sizeof(req));
    memset(&p, 0xa5, sizeof(p));
    assert_int_equal(rules_eval(*state, &req, 0, &p), 0);
    expect_reject(&p);
}

/* Numbers must match whole: no prefix or suffix match, no letters. */
static void test_partial_and_bad_numbers_rejected(void **state)
{
    static const char *const bad[] = {
        "1512555010",           /* one digit short */
        "151255501000",         /* one digit long */
        "5125550100",           /* no country code */
        "1512555010O",          /* letter O */
        "sip:15125550100",      /* not a user part */
        "*15125550100",         /* empty DID, then a "number" option */
        "+",                    /* no digits */
        "1512555010012345678901234567890123456789", /* > 32 digits */
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        plan_t p = eval(*state, bad[i], NULL);
        expect_reject(&p);
    }
}

/* Spans are counted, not NUL-terminated: bytes past len are not read. */
static void test_spans_are_counted(void **state)
{
    const char buf[] = "15125550100*2XXXX";
    rules_req_t req = { { buf, 11 }, { NULL, 0 }, { NULL, 0 }, { NULL, 0 } };
    plan_t p;

    rules_eval(*state, &req, 0, &p);
    expect_pick(&p, "downtown", "scheduling", 2, FB_DOWNTOWN,
                "downtown: no option -> default scheduling");
    req.ruri_user.len = 13;
    rules_eval(*state, &req, 0, &p);
    expect_pick(&p, "downtown", "billing", 2, FB_DOWNTOWN,
                "downtown: option 2 -> billing");
}

/* ---------------------------------------------------------------------- */
/* Closed sites                                                           */

static void test_closed_redirects(void **state)
{
    plan_t p = eval(*state, "15125550400", NULL);

    assert_int_equal(p.kind, PLAN_REDIRECT);
    assert_string_equal(p.group, GROUP);
    assert_string_equal(p.site, "annex");
    assert_null(p.skill);
    assert_string_equal(p.fallback, FB_DOWNTOWN);
    assert_int_equal(p.status, 0);
    assert_string_equal(p.reason, "annex: closed -> fallback");
}

static void test_closed_ignores_option(void **state)
{
    plan_t p = eval(*state, "15125550400*2", "3");

    assert_int_equal(p.kind, PLAN_REDIRECT);
    assert_string_equal(p.site, "annex");
    assert_null(p.skill);
    assert_string_equal(p.reason, "annex: closed -> fallback");
}

/* ---------------------------------------------------------------------- */
/* Snapshot properties                                                    */

/* Plan strings point into the snapshot: same pointers every time, valid
 * while a reference is held. */
static void test_plan_strings_owned_by_snapshot(void **state)
{
    rules_t *r = rules_ref(*state);
    plan_t a = eval(r, "15125550100*2", NULL);
    plan_t b = eval(r, "15125550100*2", NULL);

    assert_ptr_equal(a.site, b.site);
    assert_ptr_equal(a.skill, b.skill);
    assert_ptr_equal(a.group, b.group);
    assert_ptr_equal(a.fallback, b.fallback);
    rules_unref(r);
    assert_string_equal(a.site, "downtown"); /* *state still holds one */
}

/* `now` is not used yet (hours come later): any time gives the same plan. */
static void test_time_does_not_matter_yet(void **state)
{
    rules_req_t req = { sp("15125550100*2"), sp(NULL), sp(NULL), sp(NULL) };
    plan_t a, b;

    rules_eval(*state, &req, 0, &a);
    rules_eval(*state, &req, (time_t)4102444800, &b);
    assert_int_equal(a.kind, b.kind);
    assert_ptr_equal(a.skill, b.skill);
    assert_string_equal(a.reason, b.reason);
}

static void test_practice(void **state)
{
    rules_t *r = NULL;
    plan_t p;

    (void)state;
    assert_int_equal(rules_load("rules/examples/practice.yaml", &r, NULL), 0);
    assert_null(rules_option_header(r));
    p = eval(r, "15125550901*1", NULL);
    assert_int_equal(p.kind, PLAN_PICK);
    assert_string_equal(p.group, "Barton Creek Counseling");
    assert_string_equal(p.site, "bartoncreek");
    assert_string_equal(p.skill, "reception");
    assert_int_equal(p.max_contacts, 1);
    assert_string_equal(p.fallback, "sip:voicemail@pbx.bartoncreek.example");
    assert_string_equal(p.reason,
                        "bartoncreek: option 1 unknown -> default reception");
    p = eval(r, "15125550100", NULL);
    expect_reject(&p);
    rules_unref(r);
}

/* A multi-character separator, phone-pad menu keys, and "*" as an option
 * right after a "*"-free separator. */
static void test_custom_separator_and_pad_keys(void **state)
{
    rules_t *r = load_inline("version: 1\n"
                             "option_separator: \"**\"\n"
                             "groups:\n"
                             "  - name: Hill Country Therapy Group\n"
                             "    sites:\n"
                             "      - id: a\n"
                             "        timezone: UTC\n"
                             "        dids: [\"100\"]\n"
                             "        default_skill: s\n"
                             "        menu: {\"*\": operator, \"#\": hash, "
                             "0: zero}\n"
                             "        max_contacts: 5\n"
                             "        fallback: sip:a@x\n");
    plan_t p;

    (void)state;
    p = eval(r, "100***", NULL);
    expect_pick(&p, "a", "operator", 5, "sip:a@x",
                "a: option * -> operator");
    p = eval(r, "100**#", NULL);
    expect_pick(&p, "a", "hash", 5, "sip:a@x", "a: option # -> hash");
    p = eval(r, "100**0", NULL);
    expect_pick(&p, "a", "zero", 5, "sip:a@x", "a: option 0 -> zero");
    p = eval(r, "100*0", NULL); /* one "*" is not the separator */
    expect_reject(&p);
    rules_unref(r);
}

static void test_default_separator_then_star(void **state)
{
    rules_t *r = load_inline("version: 1\n"
                             "groups:\n"
                             "  - name: Hill Country Therapy Group\n"
                             "    sites:\n"
                             "      - id: a\n"
                             "        timezone: UTC\n"
                             "        dids: [\"100\"]\n"
                             "        default_skill: s\n"
                             "        menu: {\"*\": operator}\n"
                             "        fallback: sip:a@x\n");
    plan_t p;

    (void)state;
    p = eval(r, "100**", NULL); /* DID 100, option "*" */
    expect_pick(&p, "a", "operator", 1, "sip:a@x", "a: option * -> operator");
    rules_unref(r);
}

/* The longest ids, skills and options still fit the reason, cut cleanly. */
static void test_reason_never_overflows(void **state)
{
    rules_t *r = load_inline(
        "version: 1\n"
        "groups:\n"
        "  - name: Hill Country Therapy Group\n"
        "    sites:\n"
        "      - id: abcdefghijklmnopqrstuvwxyz012345\n"
        "        timezone: UTC\n"
        "        dids: [\"100\"]\n"
        "        default_skill: abcdefghijklmnopqrstuvwxyz-skill\n"
        "        fallback: sip:a@x\n");
    char opt[300];
    plan_t p;

    (void)state;
    memset(opt, '7', sizeof(opt) - 1);
    opt[sizeof(opt) - 1] = '\0';
    p = eval(r, "100", opt);
    assert_string_equal(p.reason,
                        "abcdefghijklmnopqrstuvwxyz012345: option 77777777... "
                        "unknown -> default abcdefghijklmnopqrstuvwxyz-skill");
    rules_unref(r);
}

/* Thousands of DIDs in several groups: each finds its own site. */
static void test_many_dids(void **state)
{
    enum { GROUPS = 4, PER_GROUP = 1000 };
    size_t cap = 128 + (size_t)GROUPS * PER_GROUP * 200, len = 0;
    char *yaml = malloc(cap);
    rules_t *r = NULL;
    char num[32], site[16], group[16];

    (void)state;
    assert_non_null(yaml);
    len += (size_t)snprintf(yaml + len, cap - len, "version: 1\ngroups:\n");
    for (int g = 0; g < GROUPS; g++) {
        len += (size_t)snprintf(yaml + len, cap - len,
                                "  - name: g%d\n    sites:\n", g);
        for (int i = 0; i < PER_GROUP; i++) {
            int n = g * PER_GROUP + i;
            len += (size_t)snprintf(yaml + len, cap - len,
                                    "      - {id: s%d, timezone: UTC, "
                                    "dids: [\"+1 (800) 555-%04d\"], "
                                    "default_skill: k%d, "
                                    "fallback: \"sip:s%d@x\"}\n",
                                    n, n, n % 7, n);
        }
    }
    assert_int_equal(rules_load_string(yaml, len, "many", &r, NULL), 0);
    free(yaml);
    assert_int_equal(rules_site_count(r), GROUPS * PER_GROUP);

    for (int n = 0; n < GROUPS * PER_GROUP; n++) {
        rules_req_t req = { { num, 0 }, { NULL, 0 }, { NULL, 0 },
                            { NULL, 0 } };
        plan_t p;

        req.ruri_user.len = (size_t)snprintf(num, sizeof(num),
                                             "1800555%04d", n);
        rules_eval(r, &req, 0, &p);
        snprintf(site, sizeof(site), "s%d", n);
        snprintf(group, sizeof(group), "g%d", n / PER_GROUP);
        assert_int_equal(p.kind, PLAN_PICK);
        assert_string_equal(p.site, site);
        assert_string_equal(p.group, group);
    }
    {
        plan_t p = eval(r, "18005559999", NULL); /* past the last one */
        assert_int_equal(p.kind, PLAN_REJECT);
    }
    rules_unref(r);
}

/* The contract allows any number of threads on one snapshot, each taking
 * and dropping its own reference. */
struct worker_arg {
    rules_t *r;
    int bad;
};

static void *eval_worker(void *p)
{
    struct worker_arg *a = p;

    for (int i = 0; i < 20000; i++) {
        rules_t *r = rules_ref(a->r);
        rules_req_t req = { sp(i % 2 ? "15125550100*2" : "17205550300"),
                            sp(NULL), sp(NULL), sp(NULL) };
        plan_t plan;

        rules_eval(r, &req, 0, &plan);
        if (plan.kind != PLAN_PICK ||
            strcmp(plan.skill, i % 2 ? "billing" : "intake") != 0)
            a->bad++;
        rules_unref(r);
    }
    return NULL;
}

static void test_threads_share_a_snapshot(void **state)
{
    enum { N = 4 };
    pthread_t t[N];
    struct worker_arg a[N];
    rules_t *r = NULL;

    (void)state;
    assert_int_equal(rules_load("rules/examples/demo.yaml", &r, NULL), 0);
    for (int i = 0; i < N; i++) {
        a[i] = (struct worker_arg){ rules_ref(r), 0 };
        assert_int_equal(pthread_create(&t[i], NULL, eval_worker, &a[i]), 0);
    }
    rules_unref(r); /* the workers' references keep it alive */
    for (int i = 0; i < N; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(a[i].bad, 0);
    }
    for (int i = 0; i < N; i++)
        rules_unref(a[i].r); /* the last one frees */
}

int main(void)
{
    const struct CMUnitTest demo[] = {
        cmocka_unit_test(test_ruri_option_known),
        cmocka_unit_test(test_header_option_known),
        cmocka_unit_test(test_header_wins_over_ruri),
        cmocka_unit_test(test_header_option_trimmed),
        cmocka_unit_test(test_blank_header_is_absent),
        cmocka_unit_test(test_option_unknown),
        cmocka_unit_test(test_option_not_in_this_menu),
        cmocka_unit_test(test_option_two_keys_unknown),
        cmocka_unit_test(test_option_sanitised_in_reason),
        cmocka_unit_test(test_no_option),
        cmocka_unit_test(test_separator_without_option),
        cmocka_unit_test(test_number_normalised),
        cmocka_unit_test(test_to_user_used_when_ruri_unknown),
        cmocka_unit_test(test_to_user_with_option),
        cmocka_unit_test(test_to_user_header_wins),
        cmocka_unit_test(test_ruri_wins_over_to_user),
        cmocka_unit_test(test_unknown_number_rejected),
        cmocka_unit_test(test_empty_request_rejected),
        cmocka_unit_test(test_partial_and_bad_numbers_rejected),
        cmocka_unit_test(test_spans_are_counted),
        cmocka_unit_test(test_closed_redirects),
        cmocka_unit_test(test_closed_ignores_option),
        cmocka_unit_test(test_plan_strings_owned_by_snapshot),
        cmocka_unit_test(test_time_does_not_matter_yet),
    };
    const struct CMUnitTest other[] = {
        cmocka_unit_test(test_practice),
        cmocka_unit_test(test_custom_separator_and_pad_keys),
        cmocka_unit_test(test_default_separator_then_star),
        cmocka_unit_test(test_reason_never_overflows),
        cmocka_unit_test(test_many_dids),
        cmocka_unit_test(test_threads_share_a_snapshot),
    };
    int failed = 0;

    failed += cmocka_run_group_tests_name("rules_eval_demo", demo,
                                          setup_demo, teardown_demo);
    failed += cmocka_run_group_tests_name("rules_eval_other", other, NULL,
                                          NULL);
    return failed;
}
