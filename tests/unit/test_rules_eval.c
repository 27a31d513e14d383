/* test_rules_eval.c -- rules/eval.c: request view + snapshot -> plan.
 *
 * Most tests route against the demo clinic group (rules/examples/demo.yaml,
 * loaded once per run from the repository root, with a caller key and a
 * reference time); others load small inline documents for what the demo
 * does not show. Opening hours and time zones have their own file
 * (test_hours.c); here they matter only as far as they pick a route.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "rules.h"

#define GROUP "Hill Country Therapy Group"
#define FB_DOWNTOWN "sip:frontdesk@pbx.downtown.hillcountry.example"
#define FB_NORTHLAKE "sip:voicemail@pbx.northlake.hillcountry.example"
#define FB_WESTSIDE "sip:answering@service.hillcountry.example"
#define FB_DR_LEE "sip:dr.lee@pbx.downtown.hillcountry.example"
#define CALLER "15125551234" /* a caller number: must never show */
#define REFERRER "+1 (512) 555-0190" /* on the demo's priority list */

/* 2023-11-14T22:13:20Z: a Tuesday, 16:13 in Austin, 15:13 in Denver:
 * every demo site is open. */
#define T_OPEN ((time_t)1700000000)
/* 2026-03-10 (a Tuesday) 12:40 in Austin (CDT, UTC-5): Northlake is at
 * lunch, Westside (11:40 in Denver) is open. */
#define T_LUNCH ((time_t)1773164400)

static const unsigned char test_key[32] = "0123456789abcdef0123456789abcde";

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
    rules_req_t req = { sp(ruri), sp(to), sp(from), sp(option), NULL };
    plan_t plan;

    memset(&plan, 0xa5, sizeof(plan));
    assert_int_equal(rules_eval(r, &req, T_OPEN, &plan), 0);
    assert_true(strlen(plan.reason) < RULES_REASON_MAX);
    assert_null(strstr(plan.reason, CALLER));
    return plan;
}

static plan_t eval_at(const rules_t *r, const char *ruri, const char *option,
                      const char *from, time_t now)
{
    rules_req_t req = { sp(ruri), sp(NULL), sp(from), sp(option), NULL };
    plan_t plan;

    memset(&plan, 0xa5, sizeof(plan));
    assert_int_equal(rules_eval(r, &req, now, &plan), 0);
    assert_null(strstr(plan.reason, "5551234"));
    assert_null(strstr(plan.reason, "5550190"));
    return plan;
}

/* Every plan is well formed: a PICK chain is PICK steps then exactly one
 * URI step, the fallback; a REDIRECT chain is that one URI step. */
static void expect_chain_shape(const plan_t *p)
{
    if (p->kind == PLAN_REJECT) {
        assert_int_equal(p->n_chain, 0);
        return;
    }
    assert_true(p->n_chain >= 1 && p->n_chain <= RULES_MAX_CHAIN);
    for (unsigned i = 0; i + 1 < p->n_chain; i++) {
        assert_int_equal(p->chain[i].kind, PLAN_STEP_PICK);
        assert_non_null(p->chain[i].site);
        assert_non_null(p->chain[i].skill);
        assert_true(p->chain[i].min_level >= 1 && p->chain[i].min_level <= 5);
    }
    assert_int_equal(p->chain[p->n_chain - 1].kind, PLAN_STEP_URI);
    assert_ptr_equal(p->chain[p->n_chain - 1].uri, p->fallback);
    if (p->kind == PLAN_REDIRECT) {
        assert_int_equal(p->n_chain, 1);
        assert_null(p->skill);
    } else {
        assert_true(p->n_chain >= 2);
        assert_ptr_equal(p->skill, p->chain[0].skill);
        assert_int_equal(p->strategy, p->chain[0].strategy);
    }
}

static void expect_step(const plan_t *p, unsigned i, const char *site,
                        const char *skill, rules_strategy_t strategy,
                        unsigned min_level)
{
    assert_true(i < p->n_chain);
    assert_int_equal(p->chain[i].kind, PLAN_STEP_PICK);
    assert_string_equal(p->chain[i].site, site);
    assert_string_equal(p->chain[i].skill, skill);
    assert_int_equal(p->chain[i].strategy, strategy);
    assert_int_equal(p->chain[i].min_level, min_level);
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
    expect_chain_shape(p);
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

static rules_t *load_inline_at(const char *yaml, time_t now)
{
    rules_load_opts_t o = { .now = now, .caller_key = test_key,
                            .caller_key_len = sizeof(test_key) };
    rules_t *r = NULL;
    rules_report_t rep;
    int rc = rules_load_string_opts(yaml, strlen(yaml), "inline.yaml", &o, &r,
                                    &rep);

    if (rc != 0)
        print_error("%s:%u:%u: %s\n", rep.file, rep.line, rep.col, rep.msg);
    assert_int_equal(rc, 0);
    return r;
}

static rules_t *load_inline(const char *yaml)
{
    return load_inline_at(yaml, T_OPEN);
}

static rules_t *load_demo_at(time_t now)
{
    rules_load_opts_t o = { .now = now, .caller_key = test_key,
                            .caller_key_len = sizeof(test_key) };
    rules_t *r = NULL;
    rules_report_t rep;

    if (rules_load_opts("rules/examples/demo.yaml", &o, &r, &rep) != 0)
        print_error("%s:%u:%u: %s\n", rep.file, rep.line, rep.col, rep.msg);
    assert_non_null(r);
    return r;
}

static int setup_demo(void **state)
{
    rules_load_opts_t o = { .now = T_OPEN, .caller_key = test_key,
                            .caller_key_len = sizeof(test_key) };
    rules_t *r = NULL;
    rules_report_t rep;

    if (rules_load_opts("rules/examples/demo.yaml", &o, &r, &rep) != 0) {
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
                "westside: open; option 9 unknown -> default intake");
}

/* "3" is in downtown's menu but not northlake's. */
static void test_option_not_in_this_menu(void **state)
{
    plan_t p = eval(*state, "15125550200", "3");

    expect_pick(&p, "northlake", "scheduling", 1, FB_NORTHLAKE,
                "northlake: open; option 3 unknown -> default scheduling");
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
                "northlake: open; option 2 -> billing");
}

/* The Request-URI is not a DID (an IVR service name): To has the number. */
static void test_to_user_used_when_ruri_unknown(void **state)
{
    plan_t p = eval4(*state, "frontdesk", "+15125550200", NULL, CALLER);

    expect_pick(&p, "northlake", "scheduling", 1, FB_NORTHLAKE,
                "northlake: open; no option -> default scheduling");
}

static void test_to_user_with_option(void **state)
{
    plan_t p = eval4(*state, "15125559999", "15125550200*2", NULL, CALLER);

    expect_pick(&p, "northlake", "billing", 1, FB_NORTHLAKE,
                "northlake: open; option 2 -> billing");
}

static void test_to_user_header_wins(void **state)
{
    plan_t p = eval4(*state, NULL, "15125550200*2", "1", CALLER);

    expect_pick(&p, "northlake", "scheduling", 1, FB_NORTHLAKE,
                "northlake: open; option 1 -> scheduling");
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
    rules_req_t req = { { buf, 11 }, { NULL, 0 }, { NULL, 0 }, { NULL, 0 }, NULL };
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

/* Downtown has no hours (always open): any time gives the same route. */
static void test_no_hours_time_does_not_matter(void **state)
{
    rules_req_t req = { sp("15125550100*2"), sp(NULL), sp(NULL), sp(NULL), NULL };
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
    {
        rules_load_opts_t o = { .now = T_OPEN };
        assert_int_equal(rules_load_opts("rules/examples/practice.yaml", &o,
                                         &r, NULL), 0);
    }
    assert_null(rules_option_header(r));
    p = eval(r, "15125550901*1", NULL);
    assert_int_equal(p.kind, PLAN_PICK);
    assert_string_equal(p.group, "Barton Creek Counseling");
    assert_string_equal(p.site, "bartoncreek");
    assert_string_equal(p.skill, "reception");
    assert_int_equal(p.max_contacts, 1);
    assert_string_equal(p.fallback, "sip:voicemail@pbx.bartoncreek.example");
    assert_string_equal(p.reason, "bartoncreek: open; option 1 unknown -> "
                                  "default reception");
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
                            { NULL, 0 }, NULL };
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
                            sp(NULL), sp(NULL), sp(NULL), NULL };
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
    r = load_demo_at(T_OPEN);
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

/* ---------------------------------------------------------------------- */
/* Routing kinds on the demo, spring 2026                                 */

#define REF_2026 ((time_t)1772323200)  /* 2026-03-01T00:00Z: load time */
#define T_SUNDAY ((time_t)1772992800)  /* Sun 2026-03-08 13:00 CDT */
#define T_XMAS ((time_t)1798214400)    /* Fri 2026-12-25 10:00 CST */
#define T_NIGHT ((time_t)1773201600)   /* Tue 2026-03-10 23:00 CDT */
#define T_SAT ((time_t)1773507600)     /* Sat 2026-03-14 11:00 MDT */

static int setup_demo_2026(void **state)
{
    *state = load_demo_at(REF_2026);
    return 0;
}

/* A single-destination number: always that URI, whatever the time, the
 * option or the hours; no Redis. */
static void test_single_destination(void **state)
{
    static const time_t at[] = { T_LUNCH, T_SUNDAY, T_XMAS, T_NIGHT, 0 };

    for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
        plan_t p = eval_at(*state, "+1 512 555 0111*2", "3", CALLER, at[i]);
        assert_int_equal(p.kind, PLAN_REDIRECT);
        assert_string_equal(p.site, "downtown");
        assert_string_equal(p.fallback, FB_DR_LEE);
        assert_false(p.caller_aware);
        assert_string_equal(p.reason, "downtown: did 15125550111 -> "
                                      FB_DR_LEE);
        expect_chain_shape(&p);
    }
}

/* Northlake at lunch: its own staff are skipped, Downtown (no hours) and
 * the float pool take the call, then Northlake's voicemail. */
static void test_lunch_overflows(void **state)
{
    plan_t p = eval_at(*state, "15125550200*2", NULL, NULL, T_LUNCH);

    assert_int_equal(p.kind, PLAN_PICK);
    assert_int_equal(p.period, RULES_PERIOD_LUNCH);
    assert_string_equal(p.site, "northlake");
    assert_string_equal(p.skill, "billing");
    assert_int_equal(p.max_contacts, 1);
    assert_int_equal(p.n_chain, 3);
    expect_step(&p, 0, "downtown", "billing", RULES_LONGEST_IDLE, 1);
    expect_step(&p, 1, "float", "billing", RULES_LONGEST_IDLE, 1);
    assert_string_equal(p.fallback, FB_NORTHLAKE);
    assert_string_equal(p.reason,
                        "northlake: lunch -> overflow; option 2 -> billing");
    expect_chain_shape(&p);
}

/* Downtown's chain leaves Northlake out while it is at lunch, and keeps it
 * when it is open; the pool is always kept. */
static void test_chain_skips_shut_sites(void **state)
{
    plan_t p = eval_at(*state, "15125550100*2", NULL, NULL, T_LUNCH);

    assert_int_equal(p.n_chain, 3);
    expect_step(&p, 0, "downtown", "billing", RULES_LONGEST_IDLE, 1);
    expect_step(&p, 1, "float", "billing", RULES_LONGEST_IDLE, 1);
    assert_string_equal(p.fallback, FB_DOWNTOWN);
    assert_string_equal(p.reason, "downtown: option 2 -> billing");

    p = eval_at(*state, "15125550100*2", NULL, NULL, T_LUNCH + 3600);
    assert_int_equal(p.n_chain, 4);
    expect_step(&p, 0, "downtown", "billing", RULES_LONGEST_IDLE, 1);
    expect_step(&p, 1, "northlake", "billing", RULES_LONGEST_IDLE, 1);
    expect_step(&p, 2, "float", "billing", RULES_LONGEST_IDLE, 1);
    expect_chain_shape(&p);

    p = eval_at(*state, "15125550100", NULL, NULL, T_XMAS); /* holiday */
    assert_int_equal(p.n_chain, 3);
    expect_step(&p, 1, "float", "scheduling", RULES_LONGEST_IDLE, 1);
}

static void test_after_hours_redirects(void **state)
{
    plan_t p = eval_at(*state, "15125550200*1", NULL, NULL, T_SUNDAY);

    assert_int_equal(p.kind, PLAN_REDIRECT);
    assert_int_equal(p.period, RULES_PERIOD_CLOSED);
    assert_string_equal(p.fallback, FB_NORTHLAKE);
    assert_string_equal(p.reason, "northlake: after hours -> " FB_NORTHLAKE);
    expect_chain_shape(&p);

    p = eval_at(*state, "17205550300", NULL, NULL, T_NIGHT);
    assert_int_equal(p.kind, PLAN_REDIRECT);
    assert_string_equal(p.fallback, FB_WESTSIDE);
    assert_string_equal(p.reason, "westside: after hours -> " FB_WESTSIDE);

    /* Saturday morning: Westside open, Northlake shut */
    p = eval_at(*state, "17205550300", NULL, NULL, T_SAT);
    assert_int_equal(p.kind, PLAN_PICK);
    assert_string_equal(p.reason, "westside: open; no option -> default "
                                  "intake");
    p = eval_at(*state, "15125550200", NULL, NULL, T_SAT);
    assert_int_equal(p.kind, PLAN_REDIRECT);
}

/* No holiday route: a holiday does what after hours does. */
static void test_holiday_defaults_to_after_hours(void **state)
{
    plan_t p = eval_at(*state, "15125550200", NULL, NULL, T_XMAS);

    assert_int_equal(p.kind, PLAN_REDIRECT);
    assert_int_equal(p.period, RULES_PERIOD_HOLIDAY);
    assert_int_equal(p.local_date, 20261225);
    assert_string_equal(p.fallback, FB_NORTHLAKE);
    assert_string_equal(p.reason, "northlake: holiday -> " FB_NORTHLAKE);
    /* Westside has no holidays: open that Friday morning */
    p = eval_at(*state, "17205550300", NULL, NULL, T_XMAS);
    assert_int_equal(p.kind, PLAN_PICK);
    assert_int_equal(p.period, RULES_PERIOD_OPEN);
}

/* A menu mapping carries its own strategy and level; a pool step inherits
 * the route's. */
static void test_menu_mapping_strategy(void **state)
{
    plan_t p = eval_at(*state, "17205550300*2", NULL, NULL, T_LUNCH);

    assert_int_equal(p.kind, PLAN_PICK);
    assert_int_equal(p.strategy, RULES_MOST_SKILLED);
    assert_int_equal(p.n_chain, 3);
    expect_step(&p, 0, "westside", "billing", RULES_MOST_SKILLED, 2);
    expect_step(&p, 1, "float", "billing", RULES_MOST_SKILLED, 2);
    assert_string_equal(p.reason, "westside: open; option 2 -> billing");
    p = eval_at(*state, "17205550300*1", NULL, NULL, T_LUNCH);
    expect_step(&p, 0, "westside", "scheduling", RULES_LONGEST_IDLE, 1);
}

/* Caller-aware hit: Downtown is caller-aware and the call has a number. */
static void test_caller_aware_hit(void **state)
{
    char want[RULES_CALLER_HASH_LEN + 1];
    plan_t p = eval_at(*state, "15125550100*1", NULL, "+1 512 555 1234",
                       T_LUNCH);

    assert_int_equal(p.kind, PLAN_PICK);
    assert_true(p.caller_aware);
    assert_int_equal(p.caller_window_s, 30u * 86400u);
    assert_true(rules_caller_hash(*state, CALLER, strlen(CALLER), want));
    assert_string_equal(p.caller, want);
    assert_int_equal(strlen(p.caller), RULES_CALLER_HASH_LEN);
    assert_false(p.priority);
    assert_null(strstr(p.reason, "1234"));
}

/* Miss: no caller number (or not a number): nothing to look up. */
static void test_caller_aware_miss(void **state)
{
    static const char *const nobody[] = { NULL, "", "anonymous",
                                          "+", "restricted" };

    for (size_t i = 0; i < sizeof(nobody) / sizeof(nobody[0]); i++) {
        plan_t p = eval_at(*state, "15125550100*1", NULL, nobody[i],
                           T_LUNCH);
        assert_int_equal(p.kind, PLAN_PICK);
        assert_false(p.caller_aware);
        assert_int_equal(p.caller_window_s, 0);
        assert_string_equal(p.caller, "");
    }
}

/* The keyed hash (an HMAC, the costly part of an evaluation) is on a plan
 * exactly when the plan is caller-aware: the Redis caller memory is keyed
 * by it. Other plans carry "" (the proxy logs its own cheap hash). */
static void test_caller_hash_only_when_caller_aware(void **state)
{
    char want[RULES_CALLER_HASH_LEN + 1];
    plan_t p;

    assert_true(rules_caller_hash(*state, CALLER, strlen(CALLER), want));
    /* Downtown is caller-aware: a PICK plan has the hash */
    p = eval_at(*state, "15125550100*1", NULL, CALLER, T_LUNCH + 3600);
    assert_int_equal(p.kind, PLAN_PICK);
    assert_true(p.caller_aware);
    assert_string_equal(p.caller, want);
    /* Downtown's single-destination line: REDIRECT, not caller-aware */
    p = eval_at(*state, "15125550111", NULL, CALLER, T_LUNCH + 3600);
    assert_int_equal(p.kind, PLAN_REDIRECT);
    assert_false(p.caller_aware);
    assert_string_equal(p.caller, "");
    /* Northlake is not caller-aware */
    p = eval_at(*state, "15125550200", NULL, CALLER, T_LUNCH + 3600);
    assert_int_equal(p.kind, PLAN_PICK);
    assert_false(p.caller_aware);
    assert_string_equal(p.caller, "");
    p = eval_at(*state, "15125550400", NULL, CALLER, T_LUNCH + 3600);
    assert_int_equal(p.kind, PLAN_REDIRECT);
    assert_false(p.caller_aware);
    assert_string_equal(p.caller, "");
    p = eval_at(*state, "15125559999", NULL, CALLER, T_LUNCH + 3600);
    assert_int_equal(p.kind, PLAN_REJECT);
    assert_string_equal(p.caller, "");
}

/* Over a week of times, every DID and option: plan.caller is the caller's
 * hash if and only if plan.caller_aware. */
static void test_caller_hash_iff_caller_aware(void **state)
{
    static const char *const dids[] = { "15125550100", "15125550111",
                                        "15125550200", "17205550300",
                                        "15125550400", "15125559999" };
    static const char *const opts[] = { NULL, "1", "2", "3", "9" };
    char want[RULES_CALLER_HASH_LEN + 1];
    unsigned aware = 0, other = 0;

    assert_true(rules_caller_hash(*state, REFERRER, strlen(REFERRER), want));
    for (time_t t = T_SUNDAY; t < T_SUNDAY + 7 * 86400; t += 1800)
        for (size_t d = 0; d < 6; d++)
            for (size_t o = 0; o < 5; o++) {
                plan_t p = eval_at(*state, dids[d], opts[o], REFERRER, t);
                if (p.caller_aware) {
                    assert_int_equal(p.kind, PLAN_PICK);
                    assert_string_equal(p.caller, want);
                    aware++;
                } else {
                    assert_string_equal(p.caller, "");
                    other++;
                }
            }
    assert_true(aware > 0);
    assert_true(other > 0);
}

static void test_priority_caller(void **state)
{
    static const char *const referrers[] = {
        REFERRER, "15125550190", "+15125550191", "1-512-555-0191;user=phone",
    };

    for (size_t i = 0; i < sizeof(referrers) / sizeof(referrers[0]); i++) {
        plan_t p = eval_at(*state, "15125550100*2", NULL, referrers[i],
                           T_LUNCH);
        assert_true(p.priority);
        assert_int_equal(p.kind, PLAN_PICK);
        assert_string_equal(p.reason,
                            "downtown: option 2 -> billing; priority caller");
        p = eval_at(*state, "15125550200", NULL, referrers[i], T_SUNDAY);
        assert_true(p.priority);
        assert_string_equal(p.reason, "northlake: after hours -> "
                                      FB_NORTHLAKE "; priority caller");
    }
    {
        plan_t p = eval_at(*state, "15125550100*2", NULL, CALLER, T_LUNCH);
        assert_false(p.priority);
        p = eval_at(*state, "15125550100*2", NULL, "15125550192", T_LUNCH);
        assert_false(p.priority);
    }
}

/* The priority list is looked up by the caller's normalised digits, both
 * sides: the file may write the numbers with punctuation and the caller's
 * From may carry other punctuation or user parameters. Only whole numbers
 * match; the flag needs no caller-aware site (and so no caller hash). */
#define PRIO_GROUP                                                           \
    "version: 1\n"                                                           \
    "groups:\n"                                                              \
    "  - name: G\n"                                                          \
    "    priority_callers:\n"                                                \
    "      - \"+1 (512) 555-0190\"\n"                                        \
    "      - \"1.512.555.0191\"\n"                                           \
    "      - \"15125550192\"\n"                                              \
    "      - \"+1 512 555 0190\"\n" /* listed twice: kept once */          \
    "    sites:\n"                                                           \
    "      - {id: a, timezone: UTC, dids: [\"100\"], default_skill: s, "     \
    "fallback: \"sip:a@x\"}\n"                                               \
    "      - {id: b, timezone: UTC, dids: [\"200\"], default_skill: s, "     \
    "closed: true, fallback: \"sip:b@x\"}\n"                                 \
    "  - name: H\n"                                                          \
    "    sites:\n"                                                           \
    "      - {id: c, timezone: UTC, dids: [\"300\"], default_skill: s, "     \
    "fallback: \"sip:c@x\"}\n"

static void test_priority_punctuation(void **state)
{
    static const char *const yes[] = {
        "+1 (512) 555-0190", "15125550190", "+15125550190",
        "1-512-555-0190;user=phone", "1.512.555.0191", "+1 512 555 0191",
        "(1) 512 555 0192", "+1-512-555-0192;isub=7",
    };
    static const char *const no[] = {
        NULL, "", "anonymous", "+", "5125550190", "151255501900",
        "15125550193", "+1 (512) 555-019", "1512555019O",
    };
    rules_t *r = load_inline_at(PRIO_GROUP, REF_2026);
    plan_t p;

    (void)state;
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        p = eval_at(r, "100", NULL, yes[i], T_LUNCH);
        assert_int_equal(p.kind, PLAN_PICK);
        assert_true(p.priority);
        assert_false(p.caller_aware);
        assert_string_equal(p.caller, ""); /* no hash was needed */
        assert_string_equal(p.reason, "a: no option -> default s; "
                                      "priority caller");
        assert_null(strstr(p.reason, "0190"));
        p = eval_at(r, "200", NULL, yes[i], T_LUNCH); /* closed: redirect */
        assert_int_equal(p.kind, PLAN_REDIRECT);
        assert_true(p.priority);
        /* another group's list is not this group's */
        p = eval_at(r, "300", NULL, yes[i], T_LUNCH);
        assert_false(p.priority);
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        p = eval_at(r, "100", NULL, no[i], T_LUNCH);
        assert_int_equal(p.kind, PLAN_PICK);
        assert_false(p.priority);
        assert_string_equal(p.reason, "a: no option -> default s");
    }
    rules_unref(r);
}

/* The called site's local date, for "fewest offers today". */
static void test_local_date(void **state)
{
    plan_t p = eval_at(*state, "15125550100", NULL, NULL, T_NIGHT);

    assert_int_equal(p.local_date, 20260310); /* 04:00Z is 23:00 in Austin */
    p = eval_at(*state, "17205550300", NULL, NULL, T_NIGHT);
    assert_int_equal(p.local_date, 20260310);
    p = eval_at(*state, "15125550100", NULL, NULL, T_NIGHT + 3600);
    assert_int_equal(p.local_date, 20260311);
    p = eval_at(*state, "15125550100", NULL, NULL, (time_t)1);
    assert_int_equal(p.local_date, 0); /* far outside the horizon */
}

/* Loaded without a reference time, or asked about a date beyond the
 * horizon: sites with hours count as open, and the reason says why. */
static void test_hours_not_expanded(void **state)
{
    rules_t *r = load_demo_at(0);
    plan_t p;

    (void)state;
    p = eval_at(r, "17205550300*9", NULL, NULL, T_NIGHT);
    assert_int_equal(p.kind, PLAN_PICK);
    assert_int_equal(p.period, RULES_PERIOD_ALWAYS);
    assert_int_equal(p.local_date, 0);
    assert_string_equal(p.reason, "westside: hours not expanded for this "
                                  "date: reload the rules; option 9 "
                                  "unknown -> default intake");
    /* Downtown has no hours: nothing to expand, nothing to say */
    p = eval_at(r, "15125550100", NULL, NULL, T_NIGHT);
    assert_string_equal(p.reason, "downtown: no option -> default "
                                  "scheduling");
    rules_unref(r);

    p = eval_at(*state, "15125550200", NULL, NULL,
                REF_2026 + 401 * 86400);
    assert_int_equal(p.kind, PLAN_PICK);
    assert_string_equal(p.reason, "northlake: hours not expanded for this "
                                  "date: reload the rules; no option -> "
                                  "default scheduling");
    p = eval_at(*state, "15125550200", NULL, NULL, REF_2026 - 3 * 86400);
    assert_int_equal(p.period, RULES_PERIOD_ALWAYS);
}

/* Every plan over a week of times, every DID and option, is well formed. */
static void test_every_plan_is_well_formed(void **state)
{
    static const char *const dids[] = { "15125550100", "15125550111",
                                        "15125550200", "17205550300",
                                        "15125550400", "15125559999" };
    static const char *const opts[] = { NULL, "1", "2", "3", "9" };

    for (time_t t = T_SUNDAY; t < T_SUNDAY + 7 * 86400; t += 1800)
        for (size_t d = 0; d < 6; d++)
            for (size_t o = 0; o < 5; o++) {
                plan_t p = eval_at(*state, dids[d], opts[o], REFERRER, t);
                expect_chain_shape(&p);
                if (p.kind != PLAN_REJECT)
                    assert_true(p.priority);
            }
}

/* ---------------------------------------------------------------------- */
/* Routing kinds on small inline files                                    */

/* Own site at lunch, the second site closed (another time zone), so the
 * chain overflows twice and lands on the pool. */
#define TWO_SITES                                                            \
    "version: 1\n"                                                           \
    "groups:\n"                                                              \
    "  - name: G\n"                                                          \
    "    pools: [{id: p}]\n"                                                 \
    "    sites:\n"                                                           \
    "      - id: a\n"                                                        \
    "        timezone: America/Chicago\n"                                    \
    "        dids: [\"100\"]\n"                                              \
    "        hours:\n"                                                       \
    "          tue: [\"08:00-12:00\", \"13:00-17:00\"]\n"                    \
    "        default_skill: s\n"                                             \
    "        overflow: [{site: b}, {pool: p}]\n"                             \
    "        fallback: sip:a@x\n"                                            \
    "      - id: b\n"                                                        \
    "        timezone: America/Denver\n"                                     \
    "        dids: [\"200\"]\n"                                              \
    "        hours:\n"                                                       \
    "          tue: [\"12:00-18:00\"]\n"                                     \
    "        default_skill: s\n"                                             \
    "        fallback: sip:b@x\n"

static void test_overflow_twice(void **state)
{
    rules_t *r = load_inline_at(TWO_SITES, REF_2026);
    plan_t p;

    (void)state;
    /* 12:40 in Chicago (a at lunch), 11:40 in Denver (b not open yet) */
    p = eval_at(r, "100", NULL, NULL, T_LUNCH);
    assert_int_equal(p.kind, PLAN_PICK);
    assert_int_equal(p.period, RULES_PERIOD_LUNCH);
    assert_int_equal(p.n_chain, 2);
    expect_step(&p, 0, "p", "s", RULES_LONGEST_IDLE, 1);
    assert_string_equal(p.fallback, "sip:a@x");
    assert_string_equal(p.reason, "a: lunch -> overflow; no option -> "
                                  "default s");
    /* 13:30 / 12:30: both open, the whole chain */
    p = eval_at(r, "100", NULL, NULL, (time_t)1773167400);
    assert_int_equal(p.n_chain, 4);
    expect_step(&p, 0, "a", "s", RULES_LONGEST_IDLE, 1);
    expect_step(&p, 1, "b", "s", RULES_LONGEST_IDLE, 1);
    expect_step(&p, 2, "p", "s", RULES_LONGEST_IDLE, 1);
    assert_string_equal(p.reason, "a: open; no option -> default s");
    /* 18:30 / 17:30: a closed, default after hours: its fallback */
    p = eval_at(r, "100", NULL, NULL, (time_t)1773185400);
    assert_int_equal(p.kind, PLAN_REDIRECT);
    assert_string_equal(p.reason, "a: after hours -> sip:a@x");
    rules_unref(r);
}

/* after_hours: overflow walks the steps still open; with none left the
 * plan answers at once with the fallback. */
static void test_after_hours_overflow_and_nobody_left(void **state)
{
    rules_t *r = load_inline_at(TWO_SITES "        after_hours: overflow\n",
                                REF_2026);
    rules_t *r2;
    plan_t p;

    (void)state;
    p = eval_at(r, "200", NULL, NULL, (time_t)1773185400 + 3600);
    assert_int_equal(p.kind, PLAN_REDIRECT); /* b: 18:30, no steps */
    assert_string_equal(p.reason, "b: after hours -> overflow; no option -> "
                                  "default s; nobody to overflow to -> "
                                  "sip:b@x");
    expect_chain_shape(&p);
    rules_unref(r);

    /* a overflows after hours: b open, pool */
    r2 = load_inline_at("version: 1\ngroups:\n  - name: G\n"
                        "    pools: [{id: p}]\n    sites:\n"
                        "      - id: a\n        timezone: America/Chicago\n"
                        "        dids: [\"100\"]\n"
                        "        hours: {tue: [\"08:00-17:00\"]}\n"
                        "        after_hours: overflow\n"
                        "        default_skill: s\n"
                        "        overflow: [{site: b}, {pool: p}]\n"
                        "        fallback: sip:a@x\n"
                        "      - id: b\n        timezone: America/Denver\n"
                        "        dids: [\"200\"]\n"
                        "        hours: {tue: [\"12:00-18:00\"]}\n"
                        "        default_skill: s\n"
                        "        fallback: sip:b@x\n",
                        REF_2026);
    p = eval_at(r2, "100", NULL, NULL, (time_t)1773185400);
    assert_int_equal(p.kind, PLAN_PICK);
    assert_int_equal(p.period, RULES_PERIOD_CLOSED);
    assert_int_equal(p.n_chain, 3);
    expect_step(&p, 0, "b", "s", RULES_LONGEST_IDLE, 1);
    expect_step(&p, 1, "p", "s", RULES_LONGEST_IDLE, 1);
    assert_string_equal(p.reason, "a: after hours -> overflow; no option -> "
                                  "default s");
    rules_unref(r2);
}

/* Step overrides: skill, strategy, level; a site step takes the target
 * site's strategy, a pool step the route's, unless given. Steps to a site
 * marked closed are left out. */
static void test_step_overrides(void **state)
{
    rules_t *r = load_inline_at(
        "version: 1\ngroups:\n  - name: G\n    pools: [{id: p}, {id: q}]\n"
        "    sites:\n"
        "      - id: a\n        timezone: UTC\n        dids: [\"100\"]\n"
        "        default_skill: s\n        strategy: round_robin\n"
        "        min_level: 2\n"
        "        menu: {\"1\": {skill: t, strategy: most_skilled}}\n"
        "        max_contacts: 5\n"
        "        overflow:\n"
        "          - site: b\n"
        "          - {site: b, skill: x, strategy: fewest_offers, "
        "min_level: 4}\n"
        "          - site: c\n"
        "          - pool: p\n"
        "          - {pool: q, skill: y, strategy: longest_idle, "
        "min_level: 1}\n"
        "        fallback: sip:a@x\n"
        "      - id: b\n        timezone: UTC\n        dids: [\"200\"]\n"
        "        default_skill: s\n        strategy: fewest_offers\n"
        "        min_level: 3\n        fallback: sip:b@x\n"
        "      - id: c\n        timezone: UTC\n        dids: [\"300\"]\n"
        "        default_skill: s\n        closed: true\n"
        "        fallback: sip:c@x\n",
        REF_2026);
    plan_t p;

    (void)state;
    p = eval_at(r, "100*1", NULL, NULL, T_LUNCH);
    assert_int_equal(p.kind, PLAN_PICK);
    assert_int_equal(p.max_contacts, 5);
    assert_int_equal(p.n_chain, 6); /* c is marked closed: left out */
    expect_step(&p, 0, "a", "t", RULES_MOST_SKILLED, 2);
    expect_step(&p, 1, "b", "t", RULES_FEWEST_OFFERS, 3);
    expect_step(&p, 2, "b", "x", RULES_FEWEST_OFFERS, 4);
    expect_step(&p, 3, "p", "t", RULES_MOST_SKILLED, 2);
    expect_step(&p, 4, "q", "y", RULES_LONGEST_IDLE, 1);
    assert_string_equal(p.fallback, "sip:a@x");
    expect_chain_shape(&p);
    p = eval_at(r, "100", NULL, NULL, T_LUNCH);
    expect_step(&p, 0, "a", "s", RULES_ROUND_ROBIN, 2);
    expect_step(&p, 3, "p", "s", RULES_ROUND_ROBIN, 2);
    rules_unref(r);
}

/* A dedicated line: its skill, whatever the menu says; hours still apply. */
static void test_dedicated_line(void **state)
{
    rules_t *r = load_inline_at(
        "version: 1\ngroups:\n  - name: G\n    sites:\n"
        "      - id: a\n        timezone: America/Chicago\n"
        "        dids: [\"100\", {number: \"+1 (200)\", skill: intake}]\n"
        "        hours: {tue: [\"08:00-17:00\"]}\n"
        "        default_skill: s\n        menu: {\"2\": billing}\n"
        "        fallback: sip:a@x\n",
        REF_2026);
    plan_t p;

    (void)state;
    p = eval_at(r, "1200*2", "2", NULL, T_LUNCH);
    assert_int_equal(p.kind, PLAN_PICK);
    assert_string_equal(p.skill, "intake");
    assert_string_equal(p.reason, "a: open; did 1200 -> intake");
    p = eval_at(r, "100*2", NULL, NULL, T_LUNCH);
    assert_string_equal(p.skill, "billing");
    p = eval_at(r, "1200", NULL, NULL, T_NIGHT);
    assert_int_equal(p.kind, PLAN_REDIRECT);
    rules_unref(r);
}

/* mode: the DID's over the site's over the file's; the destinations a
 * forward route may send to (what the proxy health-checks). */
static void test_forward_mode(void **state)
{
    rules_t *r = load_inline_at(
        "version: 1\nmode: forward\ngroups:\n  - name: G\n    sites:\n"
        "      - {id: a, timezone: UTC, dids: [\"100\", {number: \"101\", "
        "to: \"sip:lee@10.0.0.9:5070\", mode: redirect}], default_skill: s, "
        "fallback: \"sip:vm@10.0.0.1\"}\n"
        "      - {id: b, timezone: UTC, mode: redirect, dids: [\"200\", "
        "{number: \"201\", to: \"sip:desk@10.0.0.2\", mode: forward}], "
        "default_skill: s, fallback: \"sip:b@10.0.0.3\"}\n"
        "      - {id: c, timezone: UTC, dids: [\"300\"], default_skill: s, "
        "fallback: \"sip:vm@10.0.0.1\"}\n",
        REF_2026);
    const char *uris[8];
    plan_t p;

    (void)state;
    assert_true(rules_any_forward(r));
    p = eval_at(r, "100", NULL, NULL, T_LUNCH);
    assert_int_equal(p.kind, PLAN_PICK);
    assert_true(p.forward);
    p = eval_at(r, "101", NULL, NULL, T_LUNCH);
    assert_int_equal(p.kind, PLAN_REDIRECT);
    assert_false(p.forward);
    assert_false(eval_at(r, "200", NULL, NULL, T_LUNCH).forward);
    assert_true(eval_at(r, "201", NULL, NULL, T_LUNCH).forward);
    assert_false(eval_at(r, "999", NULL, NULL, T_LUNCH).forward); /* 404 */
    /* a's fallback (once, c shares it), b's forward DID, not 101 nor b's
     * fallback (redirect routes) */
    size_t n = rules_forward_uris(r, uris, 8);
    assert_int_equal(n, 2);
    assert_string_equal(uris[0], "sip:vm@10.0.0.1");
    assert_string_equal(uris[1], "sip:desk@10.0.0.2");
    assert_int_equal(rules_forward_uris(r, uris, 1), 1);
    rules_unref(r);

    r = load_inline_at("version: 1\ngroups:\n  - name: G\n    sites:\n"
                       "      - {id: a, timezone: UTC, dids: [\"100\"], "
                       "default_skill: s, fallback: \"sip:vm@x\"}\n",
                       REF_2026);
    assert_false(rules_any_forward(r)); /* redirect by default */
    assert_false(eval_at(r, "100", NULL, NULL, T_LUNCH).forward);
    assert_int_equal(rules_forward_uris(r, uris, 8), 0);
    rules_unref(r);
}

/* Group caller_aware default, a site turning it off, its window. */
static void test_caller_aware_defaults(void **state)
{
    rules_t *r = load_inline_at(
        "version: 1\ngroups:\n  - name: G\n    caller_aware: {window: 12h}\n"
        "    sites:\n"
        "      - {id: a, timezone: UTC, dids: [\"100\"], default_skill: s, "
        "fallback: \"sip:a@x\"}\n"
        "      - {id: b, timezone: UTC, dids: [\"200\"], default_skill: s, "
        "caller_aware: false, fallback: \"sip:b@x\"}\n"
        "      - {id: c, timezone: UTC, dids: [\"300\"], default_skill: s, "
        "caller_aware: {window: 90m}, fallback: \"sip:c@x\"}\n"
        "  - name: H\n    sites:\n"
        "      - {id: d, timezone: UTC, dids: [\"400\"], default_skill: s, "
        "fallback: \"sip:d@x\"}\n",
        REF_2026);
    plan_t p;

    (void)state;
    p = eval_at(r, "100", NULL, CALLER, T_LUNCH);
    assert_true(p.caller_aware);
    assert_int_equal(p.caller_window_s, 12 * 3600);
    p = eval_at(r, "200", NULL, CALLER, T_LUNCH);
    assert_false(p.caller_aware);
    p = eval_at(r, "300", NULL, CALLER, T_LUNCH);
    assert_true(p.caller_aware);
    assert_int_equal(p.caller_window_s, 90 * 60);
    p = eval_at(r, "400", NULL, CALLER, T_LUNCH);
    assert_false(p.caller_aware);
    assert_string_equal(p.caller, ""); /* not caller-aware: no hash */
    p = eval_at(r, "200", NULL, CALLER, T_LUNCH);
    assert_string_equal(p.caller, "");
    p = eval_at(r, "300", NULL, CALLER, T_LUNCH);
    assert_int_equal(strlen(p.caller), RULES_CALLER_HASH_LEN);
    rules_unref(r);
}

/* Without a key: no hash, ever; rules_caller_hash() says so. */
static void test_no_key_no_hash(void **state)
{
    const char *yaml = "version: 1\ngroups:\n  - name: G\n    sites:\n"
                       "      - {id: a, timezone: UTC, dids: [\"100\"], "
                       "default_skill: s, fallback: \"sip:a@x\"}\n";
    char out[RULES_CALLER_HASH_LEN + 1] = "x";
    rules_t *r = NULL;
    plan_t p;

    (void)state;
    assert_int_equal(rules_load_string(yaml, strlen(yaml), "k", &r, NULL), 0);
    p = eval_at(r, "100", NULL, CALLER, T_LUNCH);
    assert_string_equal(p.caller, "");
    assert_false(p.priority);
    assert_false(rules_caller_hash(r, CALLER, strlen(CALLER), out));
    assert_string_equal(out, "");
    rules_unref(r);
}

/* HMAC-SHA-256(key, digits), first 16 bytes, lowercase hex; punctuation
 * and user parameters do not change it; another key does. */
static void test_caller_hash_value(void **state)
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    char want[RULES_CALLER_HASH_LEN + 1], got[RULES_CALLER_HASH_LEN + 1];
    rules_t *other;
    static const unsigned char key2[16] = "another key 16by";
    rules_load_opts_t o = { .caller_key = key2, .caller_key_len = 16 };
    const char *yaml = "version: 1\ngroups:\n  - name: G\n    sites:\n"
                       "      - {id: a, timezone: UTC, dids: [\"100\"], "
                       "default_skill: s, fallback: \"sip:a@x\"}\n";

    crypto_auth_hmacsha256(mac, (const unsigned char *)CALLER,
                           strlen(CALLER), test_key);
    for (int i = 0; i < 16; i++)
        snprintf(want + 2 * i, 3, "%02x", mac[i]);
    assert_true(rules_caller_hash(*state, CALLER, strlen(CALLER), got));
    assert_string_equal(got, want);
    assert_true(rules_caller_hash(*state, "+1 (512) 555-1234;user=phone",
                                  28, got));
    assert_string_equal(got, want);
    assert_false(rules_caller_hash(*state, "alice", 5, got));
    assert_string_equal(got, "");
    assert_false(rules_caller_hash(*state, "", 0, got));
    assert_false(rules_caller_hash(NULL, CALLER, strlen(CALLER), got));

    assert_int_equal(rules_load_string_opts(yaml, strlen(yaml), "k", &o,
                                            &other, NULL), 0);
    assert_true(rules_caller_hash(other, CALLER, strlen(CALLER), got));
    assert_string_not_equal(got, want);
    rules_unref(other);

    /* the same HMAC as libsodium's for the shortest and longest keys a
     * snapshot takes (16 and 64 bytes: a whole SHA-256 block) */
    static const unsigned char key64[64] = "sixty-four bytes of key material, exactly one SHA-256 block....";
    const unsigned char *keys[] = { key2, key64 };
    const size_t lens[] = { 16, 64 };
    for (int k = 0; k < 2; k++) {
        crypto_auth_hmacsha256_state st;
        char digits[] = "15125551234";
        rules_load_opts_t ok = { .caller_key = keys[k], .caller_key_len = lens[k] };
        crypto_auth_hmacsha256_init(&st, keys[k], lens[k]);
        crypto_auth_hmacsha256_update(&st, (const unsigned char *)digits, strlen(digits));
        crypto_auth_hmacsha256_final(&st, mac);
        for (int i = 0; i < 16; i++)
            snprintf(want + 2 * i, 3, "%02x", mac[i]);
        assert_int_equal(rules_load_string_opts(yaml, strlen(yaml), "k", &ok, &other, NULL), 0);
        assert_true(rules_caller_hash(other, CALLER, strlen(CALLER), got));
        assert_string_equal(got, want);
        rules_unref(other);
    }
}

/* ---------------------------------------------------------------------- */
/* Trusted sources                                                        */

static struct sockaddr_storage addr_of(const char *ip)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (strchr(ip, ':')) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, ip, &s4->sin_addr), 1);
    }
    return ss;
}

static bool trusts(const rules_t *r, const char *ip)
{
    struct sockaddr_storage ss = addr_of(ip);
    return rules_trusts(r, (struct sockaddr *)&ss);
}

/* The plan for a call to <did> from <ip> (NULL: source not checked) */
static plan_t eval_from(const rules_t *r, const char *did, const char *ip)
{
    struct sockaddr_storage ss;
    rules_req_t req = { sp(did), sp(NULL), sp(NULL), sp(NULL), NULL };
    plan_t p;
    if (ip) {
        ss = addr_of(ip);
        req.src = (struct sockaddr *)&ss;
    }
    assert_int_equal(rules_eval(r, &req, T_OPEN, &p), 0);
    return p;
}

static void assert_site_trusts(const rules_t *r, const char *did, const char *ip, bool yes)
{
    plan_t p = eval_from(r, did, ip);
    if (yes) {
        assert_false(p.untrusted);
        assert_int_not_equal(p.kind, PLAN_REJECT);
    } else {
        assert_true(p.untrusted);
        assert_int_equal(p.kind, PLAN_REJECT);
        assert_int_equal(p.status, 403);
        assert_non_null(strstr(p.reason, "not among its trusted sources"));
    }
}

/* Lists of the file, a group and a site: a source routes to a site when
 * one of the three holds it; rules_trusts() is true when any list does. */
static void test_trusted_sources(void **state)
{
    rules_t *r = load_inline(
        "version: 1\ntrusted: [\"192.0.2.0/24\"]\ngroups:\n"
        "  - name: G\n    trusted: [\"2001:db8:1::/48\"]\n    sites:\n"
        "      - {id: a, timezone: UTC, dids: [\"100\"], default_skill: s, "
        "fallback: \"sip:a@x\", trusted: [\"198.51.100.7\", \"10.0.0.0/31\"]}\n"
        "      - {id: b, timezone: UTC, dids: [\"200\"], default_skill: s, fallback: \"sip:b@x\"}\n"
        "  - name: H\n    sites:\n"
        "      - {id: c, timezone: UTC, dids: [\"300\"], default_skill: s, fallback: \"sip:c@x\"}\n");

    (void)state;
    assert_true(rules_trust_given(r));
    assert_int_equal(rules_strangers(r), RULES_STRANGERS_DROP);
    assert_true(trusts(r, "192.0.2.55"));      /* the file's */
    assert_true(trusts(r, "198.51.100.7"));    /* site a's */
    assert_false(trusts(r, "198.51.100.8"));
    assert_true(trusts(r, "2001:db8:1:ffff::5")); /* group G's */
    assert_false(trusts(r, "2001:db8:2::5"));
    assert_false(trusts(r, "::ffff:192.0.2.55")); /* another family */
    assert_true(trusts(r, "10.0.0.1"));        /* /31: .0 and .1 */
    assert_false(trusts(r, "10.0.0.2"));

    assert_site_trusts(r, "100", "198.51.100.7", true);
    assert_site_trusts(r, "200", "198.51.100.7", false); /* a's only */
    assert_site_trusts(r, "300", "198.51.100.7", false);
    assert_site_trusts(r, "100", "2001:db8:1::9", true);
    assert_site_trusts(r, "200", "2001:db8:1::9", true);  /* its group's */
    assert_site_trusts(r, "300", "2001:db8:1::9", false); /* not H's */
    for (int i = 0; i < 3; i++)
        assert_site_trusts(r, (const char *[]){ "100", "200", "300" }[i], "192.0.2.1", true);
    assert_false(eval_from(r, "300", NULL).untrusted); /* not checked */
    /* an unknown number is still a 404, whoever asks */
    plan_t p = eval_from(r, "999", "198.51.100.8");
    assert_int_equal(p.status, 404);
    assert_false(p.untrusted);
    rules_unref(r);
}

/* No "trusted:" anywhere: every source routes (and lint says so); an
 * empty list trusts nobody; "strangers: reject" answers them 403. */
static void test_trusted_open_empty_reject(void **state)
{
    rules_t *open = load_inline(
        "version: 1\ngroups:\n  - name: G\n    sites:\n"
        "      - {id: a, timezone: UTC, dids: [\"100\"], default_skill: s, fallback: \"sip:a@x\"}\n");
    rules_t *none = load_inline(
        "version: 1\ntrusted: []\nstrangers: reject\ngroups:\n  - name: G\n    sites:\n"
        "      - {id: a, timezone: UTC, dids: [\"100\"], default_skill: s, fallback: \"sip:a@x\"}\n");
    rules_t *all = load_inline(
        "version: 1\ngroups:\n  - name: G\n    sites:\n"
        "      - {id: a, timezone: UTC, dids: [\"100\"], default_skill: s, fallback: \"sip:a@x\", "
        "trusted: [\"0.0.0.0/0\"]}\n");

    (void)state;
    assert_false(rules_trust_given(open));
    assert_true(trusts(open, "203.0.113.9"));
    assert_site_trusts(open, "100", "203.0.113.9", true);
    assert_true(rules_trust_given(none));
    assert_int_equal(rules_strangers(none), RULES_STRANGERS_REJECT);
    assert_false(trusts(none, "127.0.0.1"));
    assert_site_trusts(none, "100", "127.0.0.1", false);
    assert_true(trusts(all, "203.0.113.9"));
    assert_false(trusts(all, "::1")); /* 0.0.0.0/0 is IPv4's */
    rules_unref(open);
    rules_unref(none);
    rules_unref(all);
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
        cmocka_unit_test(test_no_hours_time_does_not_matter),
    };
    const struct CMUnitTest other[] = {
        cmocka_unit_test(test_practice),
        cmocka_unit_test(test_custom_separator_and_pad_keys),
        cmocka_unit_test(test_default_separator_then_star),
        cmocka_unit_test(test_reason_never_overflows),
        cmocka_unit_test(test_many_dids),
        cmocka_unit_test(test_threads_share_a_snapshot),
    };
    const struct CMUnitTest routing[] = {
        cmocka_unit_test(test_single_destination),
        cmocka_unit_test(test_lunch_overflows),
        cmocka_unit_test(test_chain_skips_shut_sites),
        cmocka_unit_test(test_after_hours_redirects),
        cmocka_unit_test(test_holiday_defaults_to_after_hours),
        cmocka_unit_test(test_menu_mapping_strategy),
        cmocka_unit_test(test_caller_aware_hit),
        cmocka_unit_test(test_caller_aware_miss),
        cmocka_unit_test(test_caller_hash_only_when_caller_aware),
        cmocka_unit_test(test_caller_hash_iff_caller_aware),
        cmocka_unit_test(test_priority_caller),
        cmocka_unit_test(test_priority_punctuation),
        cmocka_unit_test(test_local_date),
        cmocka_unit_test(test_hours_not_expanded),
        cmocka_unit_test(test_every_plan_is_well_formed),
        cmocka_unit_test(test_caller_hash_value),
    };
    const struct CMUnitTest inline_kinds[] = {
        cmocka_unit_test(test_overflow_twice),
        cmocka_unit_test(test_after_hours_overflow_and_nobody_left),
        cmocka_unit_test(test_step_overrides),
        cmocka_unit_test(test_dedicated_line),
        cmocka_unit_test(test_forward_mode),
        cmocka_unit_test(test_trusted_sources),
        cmocka_unit_test(test_trusted_open_empty_reject),
        cmocka_unit_test(test_caller_aware_defaults),
        cmocka_unit_test(test_no_key_no_hash),
    };
    int failed = 0;

    failed += cmocka_run_group_tests_name("rules_eval_demo", demo,
                                          setup_demo, teardown_demo);
    failed += cmocka_run_group_tests_name("rules_eval_other", other, NULL,
                                          NULL);
    failed += cmocka_run_group_tests_name("rules_eval_routing", routing,
                                          setup_demo_2026, teardown_demo);
    failed += cmocka_run_group_tests_name("rules_eval_inline", inline_kinds,
                                          NULL, NULL);
    return failed;
}
