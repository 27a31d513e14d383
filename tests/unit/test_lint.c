/* test_lint.c -- rules/lint.c: every finding, with its level and place.
 *
 * Each test loads a small file (reference time 2026-03-01, a caller key)
 * and checks the exact list of findings rules_lint() reports, in order.
 * The shipped examples must lint clean.
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

#define REF ((time_t)1772323200) /* 2026-03-01T00:00Z */
#define W RULES_LINT_WARNING
#define E RULES_LINT_ERROR

static const unsigned char test_key[32] = "0123456789abcdef0123456789abcde";

typedef struct {
    rules_finding_t f[32];
    size_t n;
} found_t;

static void collect(void *arg, const rules_finding_t *f)
{
    found_t *fd = arg;

    assert_true(fd->n < 32);
    fd->f[fd->n++] = *f;
}

/* Load <yaml> at <now>. Unless it speaks of trusted sources itself, a
 * file-wide list is appended (a top-level key after everything, so no
 * line moves): the findings under test are the others. */
static rules_t *load_at(const char *yaml, time_t now)
{
    rules_load_opts_t o = { .now = now, .caller_key = test_key,
                            .caller_key_len = sizeof(test_key) };
    rules_t *r = NULL;
    rules_report_t rep;
    static const char trust[] = "\ntrusted: [\"192.0.2.10\"]\n";
    size_t len = strlen(yaml);
    char *doc = malloc(len + sizeof(trust));
    assert_non_null(doc);
    memcpy(doc, yaml, len + 1);
    if (!strstr(yaml, "trusted:") && !strstr(yaml, "strangers:")) {
        memcpy(doc + len, trust, sizeof(trust));
        len += sizeof(trust) - 1;
    }
    int rc = rules_load_string_opts(doc, len, "lint.yaml", &o, &r, &rep);
    free(doc);

    if (rc)
        print_error("%s:%u:%u: %s\n", rep.file, rep.line, rep.col, rep.msg);
    assert_int_equal(rc, 0);
    return r;
}

typedef struct {
    rules_lint_level_t level;
    unsigned line, col;
    const char *msg;
} want_t;

/* Lint <r> (with <fn>) and compare with <want>[<n>]. */
static void expect_findings(const rules_t *r, rules_staff_skills_fn *fn,
                            void *arg, const want_t *want, size_t n)
{
    found_t fd = { .n = 0 };
    int worst = rules_lint(r, fn, arg, collect, &fd), want_worst = 0;

    for (size_t i = 0; i < fd.n; i++)
        print_message("  found %d %u:%u %s\n", fd.f[i].level, fd.f[i].line,
                      fd.f[i].col, fd.f[i].msg);
    assert_int_equal(fd.n, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(fd.f[i].level, want[i].level);
        assert_string_equal(fd.f[i].msg, want[i].msg);
        assert_int_equal(fd.f[i].line, want[i].line);
        assert_int_equal(fd.f[i].col, want[i].col);
        if ((int)want[i].level > want_worst)
            want_worst = (int)want[i].level;
    }
    assert_int_equal(worst, want_worst);
}

#define EXPECT(r, fn, arg, ...)                                              \
    do {                                                                     \
        const want_t w_[] = { __VA_ARGS__ };                                 \
        expect_findings(r, fn, arg, w_, sizeof(w_) / sizeof(w_[0]));         \
    } while (0)

static void lint_text(const char *yaml, const want_t *want, size_t n)
{
    rules_t *r = load_at(yaml, REF);
    expect_findings(r, NULL, NULL, want, n);
    rules_unref(r);
}

#define LINT(yaml, ...)                                                      \
    do {                                                                     \
        const want_t w_[] = { __VA_ARGS__ };                                 \
        lint_text(yaml, w_, sizeof(w_) / sizeof(w_[0]));                     \
    } while (0)

/* Group "G" on lines 1-4, site "a" from line 5; its keys from line 6. */
#define HEAD "version: 1\ngroups:\n  - name: G\n    sites:\n"
#define SITE_A                                                               \
    "      - id: a\n"                                                        \
    "        timezone: America/Chicago\n"                                    \
    "        dids: [\"100\"]\n"                                              \
    "        default_skill: s\n"                                             \
    "        fallback: sip:a@x\n"

/* ---------------------------------------------------------------------- */
/* Clean files                                                            */

static void test_examples_lint_clean(void **state)
{
    static const char *const files[] = { "rules/examples/demo.yaml",
                                         "rules/examples/practice.yaml" };
    rules_load_opts_t o = { .now = REF, .caller_key = test_key,
                            .caller_key_len = sizeof(test_key) };

    (void)state;
    for (size_t i = 0; i < 2; i++) {
        rules_t *r = NULL;
        found_t fd = { .n = 0 };
        assert_int_equal(rules_load_opts(files[i], &o, &r, NULL), 0);
        assert_int_equal(rules_lint(r, NULL, NULL, collect, &fd), 0);
        assert_int_equal(fd.n, 0);
        rules_unref(r);
    }
}

/* A NULL callback is allowed: only the level comes back. */
static void test_no_callback(void **state)
{
    rules_t *r = load_at(HEAD SITE_A "        hours: {}\n", REF);

    (void)state;
    assert_int_equal(rules_lint(r, NULL, NULL, NULL, NULL), W);
    rules_unref(r);
}

/* ---------------------------------------------------------------------- */
/* Menus                                                                  */

static void test_menu_too_long(void **state)
{
    (void)state;
    LINT(HEAD SITE_A "        menu: {1: a, 2: b, 3: c, 4: d, 5: e, 6: f}\n",
         { W, 10, 9, "site \"a\": the menu has 6 options: callers keep at "
                     "most 5 in mind; merge some or use a second menu level "
                     "in the IVR" });
    /* five is fine, and two options to one skill are not a finding */
    LINT(HEAD SITE_A "        menu: {1: a, 2: b, 3: c, 4: d, 0: a}\n");
}

/* ---------------------------------------------------------------------- */
/* Hours                                                                  */

static void test_hours_never_open(void **state)
{
    (void)state;
    LINT(HEAD SITE_A "        hours: {}\n",
         { W, 10, 9, "site \"a\": hours: never open (no day has a range): "
                     "every call goes the after-hours way" });
    LINT(HEAD SITE_A "        hours:\n          mon: []\n          sun: []\n",
         { W, 10, 9, "site \"a\": hours: never open (no day has a range): "
                     "every call goes the after-hours way" });
}

static void test_hours_overlap(void **state)
{
    (void)state;
    LINT(HEAD SITE_A "        hours:\n"
         "          mon: [\"08:00-12:00\", \"11:00-17:00\"]\n"
         "          tue:\n"
         "            - \"13:00-18:00\"\n"
         "            - \"08:00-12:00\"\n"
         "            - \"09:00-10:00\"\n",
         { W, 11, 32, "site \"a\": hours mon: 11:00-17:00 overlaps "
                      "08:00-12:00 (read as 08:00-17:00)" },
         { W, 15, 15, "site \"a\": hours tue: 09:00-10:00 overlaps "
                      "08:00-12:00 (read as 08:00-12:00)" });
    /* ranges that only touch do not overlap */
    LINT(HEAD SITE_A "        hours:\n"
         "          mon: [\"08:00-12:00\", \"12:00-17:00\"]\n");
}

/* ---------------------------------------------------------------------- */
/* Period routes that can never apply                                     */

static void test_unreachable_period_routes(void **state)
{
    (void)state;
    /* no hours at all: lunch, after hours and holiday never happen */
    LINT(HEAD SITE_A "        lunch: sip:l@x\n"
         "        after_hours: sip:n@x\n"
         "        holiday: sip:h@x\n",
         { W, 10, 9, "site \"a\": lunch can never apply: the site has no "
                     "hours (always open)" },
         { W, 11, 9, "site \"a\": after_hours can never apply: the site has "
                     "no hours (always open)" },
         { W, 12, 9, "site \"a\": holiday can never apply: the site lists no "
                     "holidays or closed_dates" });
    /* hours without a break; open around the clock */
    LINT(HEAD SITE_A "        hours: {mon: [\"08:00-17:00\"]}\n"
         "        lunch: overflow\n",
         { W, 11, 9, "site \"a\": lunch can never apply: no day has a break "
                     "between two ranges of hours" },
         { W, 11, 9, "site \"a\": lunch: overflow, but the site has no "
                     "overflow steps: those calls go straight to sip:a@x" });
    LINT(HEAD SITE_A "        hours:\n"
         "          mon: [\"00:00-24:00\"]\n          tue: [\"00:00-24:00\"]\n"
         "          wed: [\"00:00-24:00\"]\n          thu: [\"00:00-24:00\"]\n"
         "          fri: [\"00:00-24:00\"]\n          sat: [\"00:00-24:00\"]\n"
         "          sun: [\"00:00-24:00\"]\n"
         "        after_hours: sip:n@x\n",
         { W, 18, 9, "site \"a\": after_hours can never apply: the site is "
                     "open around the clock" });
    /* the same keys where they can apply: nothing to say */
    LINT(HEAD SITE_A "        hours: {mon: [\"08:00-12:00\", \"13:00-17:00\"]}\n"
         "        holidays: [\"2026-12-25\"]\n"
         "        lunch: sip:l@x\n        after_hours: sip:n@x\n"
         "        holiday: sip:h@x\n");
}

static void test_overflow_route_without_steps(void **state)
{
    (void)state;
    LINT(HEAD SITE_A "        hours: {mon: [\"08:00-17:00\"]}\n"
         "        after_hours: overflow\n",
         { W, 11, 9, "site \"a\": after_hours: overflow, but the site has no "
                     "overflow steps: those calls go straight to sip:a@x" });
}

/* ---------------------------------------------------------------------- */
/* Dates                                                                  */

static void test_dates(void **state)
{
    (void)state;
    /* a past date (2025-12-25) is not a finding: lint must not change
     * with the calendar */
    LINT(HEAD SITE_A "        holidays: [\"2025-12-25\", \"2026-12-25\"]\n"
         "        closed_dates: [\"2026-12-25\", \"2026-03-01\"]\n",
         { W, 11, 24, "site \"a\": closed_dates: 2026-12-25 is listed "
                      "twice" });
}

/* ---------------------------------------------------------------------- */
/* Closed sites and overflow steps                                        */

#define SITE_B(extra)                                                        \
    "      - id: b\n"                                                        \
    "        timezone: America/Chicago\n"                                    \
    "        dids: [\"200\"]\n"                                              \
    "        default_skill: s\n" extra                                       \
    "        fallback: sip:b@x\n"

static void test_closed_site(void **state)
{
    (void)state;
    LINT(HEAD SITE_A "        closed: true\n        menu: {1: x}\n",
         { W, 10, 9, "site \"a\": closed: true sends every call to sip:a@x: "
                     "its hours, menu, overflow and period routes do not "
                     "apply" });
    LINT(HEAD SITE_A "        closed: true\n"); /* plain: nothing to say */
}

static void test_overflow_steps(void **state)
{
    (void)state;
    LINT(HEAD SITE_A "        overflow:\n"
         "          - site: b\n"
         "          - site: c\n"
         "          - site: b\n"
         "          - {site: b, skill: t}\n"
         "          - site: d\n"
         SITE_B("")
         "      - id: c\n        timezone: UTC\n        dids: [\"300\"]\n"
         "        default_skill: s\n        closed: true\n"
         "        fallback: sip:c@x\n"
         "      - id: d\n        timezone: UTC\n        dids: [\"400\"]\n"
         "        default_skill: s\n        hours: {}\n"
         "        fallback: sip:d@x\n",
         { W, 12, 13, "site \"a\": overflow step 2 (c) is never used: that "
                      "site is marked closed" },
         { W, 13, 13, "site \"a\": overflow step 3 repeats step 1 (b): it "
                      "never finds anyone step 1 did not" },
         { W, 15, 13, "site \"a\": overflow step 5 (d) is never used: that "
                      "site is never open" },
         { W, 31, 9, "site \"d\": hours: never open (no day has a range): "
                     "every call goes the after-hours way" });
}

static void test_pool_in_no_chain(void **state)
{
    (void)state;
    LINT(HEAD SITE_A "    pools:\n      - id: p\n      - id: q\n"
         "        name: Nights\n"
         "  - name: H\n    pools: [{id: r}]\n    sites:\n"
         "      - {id: h, timezone: UTC, dids: [\"900\"], default_skill: s, "
         "overflow: [{pool: r}], fallback: \"sip:h@x\"}\n",
         { W, 11, 9, "pool \"p\" is in no overflow chain: its staff are never "
                     "offered a call" },
         { W, 12, 9, "pool \"q\" is in no overflow chain: its staff are never "
                     "offered a call" });
}

/* ---------------------------------------------------------------------- */
/* Hours loaded without a reference time                                  */

static void test_hours_not_expanded(void **state)
{
    rules_t *r = load_at(HEAD SITE_A "        hours: {mon: [\"08:00-17:00\"]}\n"
                         SITE_B("        holidays: [\"2026-12-25\"]\n"), 0);

    (void)state;
    EXPECT(r, NULL, NULL,
           { E, 10, 9, "site \"a\": opening hours were not expanded (the "
                       "rules were loaded without a reference time): the "
                       "site counts as always open" },
           { E, 11, 0, "site \"b\": opening hours were not expanded (the "
                       "rules were loaded without a reference time): the "
                       "site counts as always open" });
    rules_unref(r);
}

/* ---------------------------------------------------------------------- */
/* Skills and staff (with the staff callback)                             */

typedef struct {
    const char *site;
    const char *const *skills; /* NULL: unknown */
} staff_row_t;

typedef struct {
    const staff_row_t *rows;
    size_t n;
    unsigned calls;
    const char *buf[8]; /* reused on every call, like frontdeskctl's */
} staff_db_t;

static const char *const *staff_skills(void *arg, const char *site)
{
    staff_db_t *db = arg;

    db->calls++;
    for (size_t i = 0; i < db->n; i++) {
        if (strcmp(db->rows[i].site, site) != 0)
            continue;
        if (!db->rows[i].skills)
            return NULL;
        size_t k = 0;
        for (; db->rows[i].skills[k] && k < 7; k++)
            db->buf[k] = db->rows[i].skills[k];
        db->buf[k] = NULL;
        return db->buf;
    }
    return NULL;
}

#define SKILLS_FILE                                                          \
    HEAD                                                                     \
    "      - id: a\n"                       /* 5 */                          \
    "        timezone: America/Chicago\n"   /* 6 */                          \
    "        dids: [\"100\", {number: \"101\", skill: intake}]\n" /* 7 */    \
    "        default_skill: scheduling\n"   /* 8 */                          \
    "        menu:\n"                       /* 9 */                          \
    "          1: scheduling\n"             /* 10 */                         \
    "          2: billing\n"                /* 11 */                         \
    "          3: records\n"                /* 12 */                         \
    "        overflow:\n"                   /* 13 */                         \
    "          - site: b\n"                 /* 14 */                         \
    "          - pool: p\n"                 /* 15 */                         \
    "        fallback: sip:a@x\n"           /* 16 */                         \
    "      - id: b\n"                       /* 17 */                         \
    "        timezone: America/Chicago\n"                                    \
    "        dids: [\"200\"]\n"                                              \
    "        default_skill: scheduling\n"                                    \
    "        fallback: sip:b@x\n"                                            \
    "    pools:\n"                          /* 22 */                         \
    "      - id: p\n"                       /* 23 */

static void test_skills_with_staff(void **state)
{
    static const char *const a_sk[] = { "scheduling", "intake", "billing",
                                        "massage", NULL };
    static const char *const b_sk[] = { "scheduling", NULL };
    static const char *const p_sk[] = { "intake", "billing", "spanish",
                                        NULL };
    static const staff_row_t rows[] = { { "a", a_sk }, { "b", b_sk },
                                        { "p", p_sk } };
    staff_db_t db = { rows, 3, 0, { NULL } };
    rules_t *r = load_at(SKILLS_FILE, REF);

    (void)state;
    EXPECT(r, staff_skills, &db,
           { W, 5, 0, "site \"a\": staff have skill massage, but no route "
                      "sends massage calls there" },
           { E, 12, 11, "site \"a\": option 3 -> records: nobody along the "
                        "chain (a, b, pool p) has skill records: these calls "
                        "always go to sip:a@x" },
           { W, 14, 13, "site \"a\": overflow step 1: no staff at b has skill "
                        "billing" },
           { W, 14, 13, "site \"a\": overflow step 1: no staff at b has skill "
                        "intake" },
           { W, 15, 13, "site \"a\": overflow step 2: no staff at pool p has "
                        "skill scheduling" },
           { W, 23, 9, "pool \"p\": staff have skill spanish, but no route "
                       "sends spanish calls there" });
    assert_int_equal(db.calls, 3); /* each site or pool asked once */
    rules_unref(r);
}

/* Unknown staff (NULL from the callback) is not "nobody": no error. */
static void test_skills_unknown_staff(void **state)
{
    static const char *const a_sk[] = { "scheduling", NULL };
    static const staff_row_t rows[] = { { "a", a_sk }, { "b", NULL } };
    staff_db_t db = { rows, 2, 0, { NULL } };
    rules_t *r = load_at(SKILLS_FILE, REF);

    (void)state;
    EXPECT(r, staff_skills, &db,
           { W, 7, 23, "site \"a\": DID 101 -> intake: no staff at a has "
                       "skill intake" },
           { W, 11, 11, "site \"a\": option 2 -> billing: no staff at a has "
                        "skill billing" },
           { W, 12, 11, "site \"a\": option 3 -> records: no staff at a has "
                        "skill records" });
    rules_unref(r);
}

/* Without the callback, nothing about staff is said. */
static void test_skills_without_staff(void **state)
{
    rules_t *r = load_at(SKILLS_FILE, REF);

    (void)state;
    assert_int_equal(rules_lint(r, NULL, NULL, collect,
                                &(found_t){ .n = 0 }), 0);
    rules_unref(r);
}

/* ---------------------------------------------------------------------- */
/* Trusted sources                                                        */

#define HEAD_TRUST(list)                                                     \
    "version: 1\n" list "groups:\n  - name: G\n    sites:\n"

static void test_trusted_sources(void **state)
{
    (void)state;
    /* none named: anyone may route calls */
    LINT(HEAD_TRUST("strangers: drop\n") SITE_A,
         { W, 1, 1, "no \"trusted:\" sources: anyone who reaches the proxy "
                    "can route calls and reserve staff (name the trunks and "
                    "PBXs, e.g. trusted: [\"192.0.2.10\", \"10.1.0.0/16\"])" });
    /* every address of a family */
    LINT(HEAD_TRUST("trusted: [\"0.0.0.0/0\", \"::/0\", \"192.0.2.10\"]\n") SITE_A,
         { W, 2, 11, "trusted: 0.0.0.0/0 trusts every IPv4 address: anyone "
                     "who reaches the proxy can route calls and reserve staff" },
         { W, 2, 24, "trusted: ::/0 trusts every IPv6 address: anyone who "
                     "reaches the proxy can route calls and reserve staff" });
    /* an empty list, and a site with nobody to call it */
    LINT(HEAD_TRUST("trusted: []\n") SITE_A,
         { W, 6, 0, "site \"a\": no trusted source may call it (its list, "
                    "its group's and the file's are empty or absent): every "
                    "call to its numbers is refused" });
    /* a site's own list is enough */
    LINT(HEAD_TRUST("trusted: []\n") SITE_A "        trusted: [\"10.1.0.0/16\"]\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_examples_lint_clean),
        cmocka_unit_test(test_no_callback),
        cmocka_unit_test(test_menu_too_long),
        cmocka_unit_test(test_hours_never_open),
        cmocka_unit_test(test_hours_overlap),
        cmocka_unit_test(test_unreachable_period_routes),
        cmocka_unit_test(test_overflow_route_without_steps),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_closed_site),
        cmocka_unit_test(test_overflow_steps),
        cmocka_unit_test(test_pool_in_no_chain),
        cmocka_unit_test(test_hours_not_expanded),
        cmocka_unit_test(test_skills_with_staff),
        cmocka_unit_test(test_skills_unknown_staff),
        cmocka_unit_test(test_skills_without_staff),
        cmocka_unit_test(test_trusted_sources),
    };

    return cmocka_run_group_tests_name("lint", tests, NULL, NULL);
}
