/* test_rules_config.c -- rules/config.c: loading, validation, refcount.
 *
 * Every validation error is checked with its exact line, column and
 * message. Small cases are inline (rules_load_string), one table row each;
 * realistic broken files live in tests/unit/fixtures/ and are read by path
 * relative to the repository root (the tests run from there).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "rules.h"

#define FIX "tests/unit/fixtures/"

/* A valid document: group "G" on lines 3-4, site "a" on lines 5-9. */
#define HEAD                                                                 \
    "version: 1\n"                                                           \
    "groups:\n"                                                              \
    "  - name: G\n"                                                          \
    "    sites:\n"
#define SITE_A_ID "      - id: a\n"
#define SITE_A_TZ "        timezone: America/Chicago\n"
#define SITE_A_DIDS "        dids: [\"100\"]\n"
#define SITE_A_SKILL "        default_skill: s\n"
#define SITE_A_FB "        fallback: sip:a@x\n"
#define SITE_A SITE_A_ID SITE_A_TZ SITE_A_DIDS SITE_A_SKILL SITE_A_FB
#define SITE_A_BUT_FB SITE_A_ID SITE_A_TZ SITE_A_DIDS SITE_A_SKILL
#define SITE_A_BUT_DIDS SITE_A_ID SITE_A_TZ SITE_A_SKILL SITE_A_FB
#define AFTER_TZ SITE_A_DIDS SITE_A_SKILL SITE_A_FB
#define AFTER_DIDS SITE_A_SKILL SITE_A_FB

#define X33 "123456789012345678901234567890123" /* 33 characters */
#define A101                                                                 \
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" \
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define IDENT_RULE "must be 1 to 32 characters of a-z, 0-9, \"_\" or \"-\""
#define SITE_KEYS                                                            \
    "(expected one of: id, name, timezone, dids, default_skill, menu, "      \
    "max_contacts, fallback, closed)"

/* ---------------------------------------------------------------------- */
/* Helpers                                                                */

static int load_text(const char *yaml, size_t len, rules_report_t *rep)
{
    rules_t *r = (rules_t *)(uintptr_t)0x1; /* must stay untouched */
    int rc = rules_load_string(yaml, len, "inline.yaml", &r, rep);

    if (rc == 0) {
        assert_non_null(r);
        rules_unref(r);
    } else {
        assert_ptr_equal(r, (rules_t *)(uintptr_t)0x1);
    }
    return rc;
}

static void expect_error(int rc, const rules_report_t *rep, unsigned line,
                         unsigned col, const char *msg)
{
    if (rc != -EINVAL || rep->line != line || rep->col != col ||
        strcmp(rep->msg, msg) != 0)
        print_error("got rc=%d %u:%u: %s\nwant rc=%d %u:%u: %s\n", rc,
                    rep->line, rep->col, rep->msg, -EINVAL, line, col, msg);
    assert_int_equal(rc, -EINVAL);
    assert_string_equal(rep->msg, msg);
    assert_int_equal(rep->line, line);
    assert_int_equal(rep->col, col);
}

/* Unknown time zones are only caught where the zone database exists. */
static bool needs_zoneinfo(const char *msg)
{
    return strstr(msg, "/usr/share/zoneinfo") != NULL;
}

static bool have_zoneinfo(void)
{
    struct stat st;

    return stat("/usr/share/zoneinfo", &st) == 0 && S_ISDIR(st.st_mode);
}

/* ---------------------------------------------------------------------- */
/* Every validation error, inline                                         */

typedef struct {
    const char *name;
    const char *yaml;
    unsigned line, col;
    const char *msg;
} bad_case_t;

static const bad_case_t bad_cases[] = {
    /* --- the document as a whole --- */
    { "root_is_list", "- a\n", 1, 1,
      "top level: expected a mapping, found a list" },
    { "root_is_scalar", "hello\n", 1, 1,
      "top level: expected a mapping, found a single value" },
    { "empty_string", "", 0, 0,
      "the file is empty: expected at least \"version\" and \"groups\"" },
    { "only_document_marker", "---\n", 0, 0,
      "the file is empty: expected at least \"version\" and \"groups\"" },
    { "null_document", "~\n", 0, 0,
      "the file is empty: expected at least \"version\" and \"groups\"" },
    { "two_documents", HEAD SITE_A "---\nversion: 1\n", 10, 1,
      "only one YAML document is allowed, a second one starts here" },
    { "syntax_tab_indent", "version: 1\ngroups:\n\t- name: G\n", 3, 1,
      "YAML syntax error: found character that cannot start any token "
      "(while scanning for the next token at line 3, col 1)" },
    { "syntax_bad_utf8", "version: 1\ngroups: \xff\n", 2, 9,
      "YAML syntax error: invalid leading UTF-8 octet" },
    { "syntax_undefined_alias", "version: 1\ngroups: *nope\n", 2, 9,
      "YAML syntax error: found undefined alias" },
    { "syntax_bad_indent", "version: 1\ngroups:\n  - name: G\n sites: []\n",
      4, 2,
      "YAML syntax error: did not find expected key (while parsing a block "
      "mapping at line 1, col 1)" },

    /* --- top level --- */
    { "top_unknown_key", "version: 1\nfoo: 2\ngroups: []\n", 2, 1,
      "unknown key \"foo\" at top level (expected one of: version, "
      "option_header, option_separator, groups)" },
    { "top_duplicate_key", "version: 1\nversion: 1\ngroups: []\n", 2, 1,
      "duplicate key \"version\" at top level" },
    { "top_non_scalar_key", "version: 1\n? [a]\n: b\n", 2, 3,
      "keys at top level must be plain words, found a list" },
    { "missing_version", "groups: []\n", 1, 1,
      "the file is missing required key \"version\"" },
    { "missing_groups", "version: 1\n", 1, 1,
      "the file is missing required key \"groups\"" },
    { "version_2", "version: 2\ngroups: []\n", 1, 10,
      "unsupported version \"2\" (this Frontdesk reads version 1)" },
    { "version_1_0", "version: 1.0\ngroups: []\n", 1, 10,
      "unsupported version \"1.0\" (this Frontdesk reads version 1)" },
    { "version_null", "version:\ngroups: []\n", 1, 9,
      "version has no value" },
    { "version_list", "version: [1]\ngroups: []\n", 1, 10,
      "version: expected a single value, found a list" },
    { "option_header_space", "version: 1\noption_header: X Option\n"
      "groups: []\n", 2, 16,
      "option_header must be a SIP header name such as X-Frontdesk-Option "
      "(letters, digits, \"-\")" },
    { "option_header_empty", "version: 1\noption_header: \"\"\n"
      "groups: []\n", 2, 16, "option_header has no value" },
    { "option_header_too_long", "version: 1\noption_header: X-" A101 "\n"
      "groups: []\n", 2, 16,
      "option_header is too long (at most 64 characters)" },
    { "option_separator_digit", "version: 1\noption_separator: \"1\"\n"
      "groups: []\n", 2, 19,
      "option_separator \"1\" must not contain digits, spaces or + - ( ) ." },
    { "option_separator_dash", "version: 1\noption_separator: \"-\"\n"
      "groups: []\n", 2, 19,
      "option_separator \"-\" must not contain digits, spaces or + - ( ) ." },
    { "option_separator_too_long", "version: 1\noption_separator: \"*****\"\n"
      "groups: []\n", 2, 19,
      "option_separator is too long (at most 4 characters)" },
    { "option_separator_empty", "version: 1\noption_separator: \"\"\n"
      "groups: []\n", 2, 19, "option_separator has no value" },

    /* --- groups --- */
    { "groups_scalar", "version: 1\ngroups: none\n", 2, 9,
      "groups: expected a list, found a single value" },
    { "groups_null", "version: 1\ngroups:\n", 2, 8,
      "groups: expected a list, found nothing" },
    { "groups_mapping", "version: 1\ngroups:\n  name: G\n", 3, 3,
      "groups: expected a list, found a mapping" },
    { "groups_empty", "version: 1\ngroups: []\n", 2, 9,
      "groups must list at least one group" },
    { "group_scalar", "version: 1\ngroups:\n  - just a name\n", 3, 5,
      "group: expected a mapping, found a single value" },
    { "group_unknown_key", "version: 1\ngroups:\n  - name: G\n    site: []\n",
      4, 5,
      "unknown key \"site\" in group (expected one of: name, sites)" },
    { "group_duplicate_key", "version: 1\ngroups:\n  - name: G\n"
      "    name: H\n", 4, 5, "duplicate key \"name\" in group" },
    { "group_missing_name", "version: 1\ngroups:\n  - sites: []\n", 3, 5,
      "group is missing required key \"name\"" },
    { "group_missing_sites", "version: 1\ngroups:\n  - name: G\n", 3, 5,
      "group \"G\": missing required key \"sites\"" },
    { "group_name_empty", "version: 1\ngroups:\n  - name: \"\"\n"
      "    sites: []\n", 3, 11, "name has no value" },
    { "group_name_too_long", "version: 1\ngroups:\n  - name: " A101 "\n"
      "    sites: []\n", 3, 11,
      "name is too long (at most 100 characters)" },
    { "group_name_twice", HEAD SITE_A "  - name: G\n    sites: []\n", 10, 11,
      "group name \"G\" is used twice" },
    { "sites_empty", "version: 1\ngroups:\n  - name: G\n    sites: []\n", 4,
      12, "group \"G\": sites must list at least one site" },
    { "sites_scalar", "version: 1\ngroups:\n  - name: G\n    sites: a\n", 4,
      12, "group \"G\": sites: expected a list, found a single value" },

    /* --- sites: keys --- */
    { "site_scalar", HEAD "      - downtown\n", 5, 9,
      "group \"G\": site: expected a mapping, found a single value" },
    { "site_unknown_key", HEAD SITE_A "        fallbak: x\n", 10, 9,
      "unknown key \"fallbak\" in site " SITE_KEYS },
    { "site_duplicate_key", HEAD SITE_A "        id: b\n", 10, 9,
      "duplicate key \"id\" in site" },
    { "site_non_scalar_key", HEAD SITE_A "        ? [a]\n        : b\n", 10,
      11, "keys in site must be plain words, found a list" },
    { "site_missing_id", HEAD "      - timezone: America/Chicago\n"
      SITE_A_DIDS SITE_A_SKILL SITE_A_FB, 5, 9,
      "site is missing required key \"id\"" },
    { "site_missing_timezone", HEAD SITE_A_ID SITE_A_DIDS SITE_A_SKILL
      SITE_A_FB, 5, 9, "site \"a\": missing required key \"timezone\"" },
    { "site_missing_dids", HEAD SITE_A_BUT_DIDS, 5, 9,
      "site \"a\": missing required key \"dids\"" },
    { "site_missing_default_skill", HEAD SITE_A_ID SITE_A_TZ SITE_A_DIDS
      SITE_A_FB, 5, 9,
      "site \"a\": missing required key \"default_skill\"" },
    { "site_missing_fallback", HEAD SITE_A_BUT_FB, 5, 9,
      "site \"a\": missing required key \"fallback\"" },

    /* --- sites: id and name --- */
    { "site_id_uppercase", HEAD "      - id: Down Town\n", 5, 13,
      "id " IDENT_RULE " (found \"Down Town\")" },
    { "site_id_too_long", HEAD "      - id: " X33 "\n", 5, 13,
      "id " IDENT_RULE " (found \"" X33 "\")" },
    { "site_id_empty", HEAD "      - id: ''\n", 5, 13, "id has no value" },
    { "site_id_twice", HEAD SITE_A "      - id: a\n" SITE_A_TZ
      "        dids: [\"200\"]\n" SITE_A_SKILL SITE_A_FB, 10, 13,
      "site id \"a\" is used twice (first at line 5)" },
    { "site_id_twice_across_groups", HEAD SITE_A "  - name: H\n"
      "    sites:\n      - id: a\n", 12, 13,
      "site id \"a\" is used twice (first at line 5)" },
    { "site_name_too_long", HEAD SITE_A "        name: " A101 "\n", 10, 15,
      "site \"a\": name is too long (at most 100 characters)" },
    { "site_name_control_char", HEAD SITE_A "        name: \"a\\tb\"\n", 10,
      15, "site \"a\": name contains a control character" },
    { "site_name_list", HEAD SITE_A "        name: [x]\n", 10, 15,
      "site \"a\": name: expected a single value, found a list" },

    /* --- sites: timezone --- */
    { "timezone_dotdot", HEAD SITE_A_ID
      "        timezone: ../../etc/passwd\n" AFTER_TZ, 6, 19,
      "site \"a\": timezone \"../../etc/passwd\" must be an IANA time zone "
      "name such as America/Chicago" },
    { "timezone_absolute", HEAD SITE_A_ID
      "        timezone: /etc/localtime\n" AFTER_TZ, 6, 19,
      "site \"a\": timezone \"/etc/localtime\" must be an IANA time zone "
      "name such as America/Chicago" },
    { "timezone_space", HEAD SITE_A_ID
      "        timezone: New York\n" AFTER_TZ, 6, 19,
      "site \"a\": timezone \"New York\" must be an IANA time zone name "
      "such as America/Chicago" },
    { "timezone_null", HEAD SITE_A_ID
      "        timezone:\n" AFTER_TZ, 6, 18,
      "site \"a\": timezone has no value" },
    { "timezone_unknown", HEAD SITE_A_ID
      "        timezone: Mars/Olympus\n" AFTER_TZ, 6, 19,
      "site \"a\": unknown timezone \"Mars/Olympus\" (not in "
      "/usr/share/zoneinfo)" },
    { "timezone_directory", HEAD SITE_A_ID
      "        timezone: America\n" AFTER_TZ, 6, 19,
      "site \"a\": unknown timezone \"America\" (not in "
      "/usr/share/zoneinfo)" },

    /* --- sites: dids --- */
    { "dids_scalar", HEAD SITE_A_ID SITE_A_TZ
      "        dids: \"100\"\n" AFTER_DIDS, 7, 15,
      "site \"a\": dids: expected a list, found a single value" },
    { "dids_null", HEAD SITE_A_ID SITE_A_TZ
      "        dids:\n" AFTER_DIDS, 7, 14,
      "site \"a\": dids: expected a list, found nothing" },
    { "dids_empty", HEAD SITE_A_ID SITE_A_TZ
      "        dids: []\n" AFTER_DIDS, 7, 15,
      "site \"a\": dids must list at least one phone number" },
    { "did_letter", HEAD SITE_A_ID SITE_A_TZ
      "        dids: [\"512-555-O100\"]\n" AFTER_DIDS, 7, 16,
      "site \"a\": DID \"512-555-O100\" may only contain digits, spaces and "
      "+ - ( ) ." },
    { "did_no_digits", HEAD SITE_A_ID SITE_A_TZ
      "        dids: [\"+\"]\n" AFTER_DIDS, 7, 16,
      "site \"a\": DID \"+\" has no digits" },
    { "did_too_long", HEAD SITE_A_ID SITE_A_TZ
      "        dids: [" X33 "]\n" AFTER_DIDS, 7, 16,
      "site \"a\": DID \"" X33 "\" is too long (at most 32 digits)" },
    { "did_list", HEAD SITE_A_ID SITE_A_TZ
      "        dids: [[100]]\n" AFTER_DIDS, 7, 16,
      "site \"a\": DID: expected a single value, found a list" },
    { "did_null", HEAD SITE_A_ID SITE_A_TZ
      "        dids:\n          -\n" AFTER_DIDS, 8, 12,
      "site \"a\": DID has no value" },
    { "did_twice_in_site", HEAD SITE_A_ID SITE_A_TZ
      "        dids: [\"100\", \"1-00\"]\n" AFTER_DIDS, 7, 23,
      "site \"a\": DID 100 is listed twice" },
    { "did_claimed_by_two_sites", HEAD SITE_A "      - id: b\n" SITE_A_TZ
      "        dids: [\"+100\"]\n" AFTER_DIDS, 12, 16,
      "DID 100 is claimed by sites \"a\" and \"b\"" },

    /* --- sites: skills and menu --- */
    { "default_skill_bad", HEAD SITE_A_ID SITE_A_TZ SITE_A_DIDS
      "        default_skill: Scheduling\n" SITE_A_FB, 8, 24,
      "site \"a\": default_skill " IDENT_RULE " (found \"Scheduling\")" },
    { "menu_list", HEAD SITE_A "        menu: [1, 2]\n", 10, 15,
      "site \"a\": menu: expected a mapping, found a list" },
    { "menu_null", HEAD SITE_A "        menu:\n", 10, 14,
      "site \"a\": menu: expected a mapping, found nothing" },
    { "menu_option_10", HEAD SITE_A "        menu:\n          10: billing\n",
      11, 11,
      "site \"a\": menu option \"10\" must be one of 0-9, \"*\" or \"#\"" },
    { "menu_option_letter", HEAD SITE_A "        menu: {a: billing}\n", 10,
      16,
      "site \"a\": menu option \"a\" must be one of 0-9, \"*\" or \"#\"" },
    { "menu_option_twice", HEAD SITE_A
      "        menu:\n          1: billing\n          \"1\": intake\n", 12,
      11, "site \"a\": menu option \"1\" is listed twice" },
    { "menu_option_list", HEAD SITE_A "        menu: {[1]: billing}\n", 10,
      16, "site \"a\": menu options must be single keys, found a list" },
    { "menu_skill_bad", HEAD SITE_A
      "        menu:\n          \"2\": Billing\n", 11, 16,
      "site \"a\": menu option \"2\" skill " IDENT_RULE
      " (found \"Billing\")" },
    { "menu_skill_null", HEAD SITE_A "        menu:\n          \"#\":\n", 11,
      15, "site \"a\": menu option \"#\" skill has no value" },
    { "menu_skill_mapping", HEAD SITE_A
      "        menu:\n          \"*\":\n            x: y\n", 12, 13,
      "site \"a\": menu option \"*\" skill: expected a single value, found "
      "a mapping" },

    /* --- sites: max_contacts, fallback, closed --- */
    { "max_contacts_0", HEAD SITE_A "        max_contacts: 0\n", 10, 23,
      "site \"a\": max_contacts must be between 1 and 5" },
    { "max_contacts_6", HEAD SITE_A "        max_contacts: 6\n", 10, 23,
      "site \"a\": max_contacts must be between 1 and 5" },
    { "max_contacts_word", HEAD SITE_A "        max_contacts: two\n", 10, 23,
      "site \"a\": max_contacts must be a whole number" },
    { "max_contacts_negative", HEAD SITE_A "        max_contacts: -1\n", 10,
      23, "site \"a\": max_contacts must be a whole number" },
    { "max_contacts_huge", HEAD SITE_A
      "        max_contacts: 99999999999999999999999\n", 10, 23,
      "site \"a\": max_contacts must be between 1 and 5" },
    { "max_contacts_float", HEAD SITE_A "        max_contacts: 2.5\n", 10,
      23, "site \"a\": max_contacts must be a whole number" },
    { "fallback_http", HEAD SITE_A_BUT_FB
      "        fallback: http://pbx.example/desk\n", 9, 19,
      "site \"a\": fallback must be a sip: or sips: URI" },
    { "fallback_scheme_only", HEAD SITE_A_BUT_FB
      "        fallback: \"sip:\"\n", 9, 19,
      "site \"a\": fallback must be a sip: or sips: URI" },
    { "fallback_space", HEAD SITE_A_BUT_FB
      "        fallback: sip:front desk@x\n", 9, 19,
      "site \"a\": fallback must be a sip: or sips: URI without spaces, "
      "quotes or angle brackets" },
    { "fallback_angle", HEAD SITE_A_BUT_FB "        fallback: <sip:a@x>\n",
      9, 19, "site \"a\": fallback must be a sip: or sips: URI" },
    { "fallback_too_long", HEAD SITE_A_BUT_FB "        fallback: sip:" A101
      A101 A101 "\n", 9, 19,
      "site \"a\": fallback is too long (at most 256 characters)" },
    { "closed_maybe", HEAD SITE_A "        closed: maybe\n", 10, 17,
      "site \"a\": closed must be true or false" },
    { "closed_null", HEAD SITE_A "        closed:\n", 10, 16,
      "site \"a\": closed has no value" },
};

static void test_bad_case(void **state)
{
    const bad_case_t *c = *state;
    rules_report_t rep;
    int rc;

    if (needs_zoneinfo(c->msg) && !have_zoneinfo())
        skip();
    rc = load_text(c->yaml, strlen(c->yaml), &rep);
    assert_string_equal(rep.file, "inline.yaml");
    expect_error(rc, &rep, c->line, c->col, c->msg);
}

/* The bad-case documents minus their mistake must load: so each row tests
 * the one error it names. */
static void test_base_document_is_valid(void **state)
{
    static const char *const good[] = {
        HEAD SITE_A,
        HEAD SITE_A "  - name: H\n    sites:\n      - id: b\n" SITE_A_TZ
        "        dids: [\"200\"]\n" SITE_A_SKILL SITE_A_FB,
    };
    rules_report_t rep;

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        int rc = load_text(good[i], strlen(good[i]), &rep);
        if (rc != 0)
            print_error("case %zu: %u:%u: %s\n", i, rep.line, rep.col,
                        rep.msg);
        assert_int_equal(rc, 0);
    }
}

/* ---------------------------------------------------------------------- */
/* Files                                                                  */

static void test_demo_loads(void **state)
{
    rules_t *r = NULL;
    rules_report_t rep;

    (void)state;
    assert_int_equal(rules_load("rules/examples/demo.yaml", &r, &rep), 0);
    assert_non_null(r);
    assert_int_equal(rules_site_count(r), 4);
    assert_string_equal(rules_option_header(r), "X-Frontdesk-Option");
    rules_unref(r);
}

static void test_practice_loads(void **state)
{
    rules_t *r = NULL;
    rules_report_t rep;

    (void)state;
    assert_int_equal(rules_load("rules/examples/practice.yaml", &r, &rep), 0);
    assert_int_equal(rules_site_count(r), 1);
    assert_null(rules_option_header(r));
    rules_unref(r);
}

static void test_variants_load(void **state)
{
    rules_t *r = NULL;
    rules_report_t rep;

    (void)state;
    assert_int_equal(rules_load(FIX "good_variants.yaml", &r, &rep), 0);
    assert_int_equal(rules_site_count(r), 2);
    assert_null(rules_option_header(r));
    rules_unref(r);
}

typedef struct {
    const char *file;
    unsigned line, col;
    const char *msg;
} bad_file_t;

static const bad_file_t bad_files[] = {
    { FIX "empty.yaml", 0, 0,
      "the file is empty: expected at least \"version\" and \"groups\"" },
    { FIX "comments_only.yaml", 0, 0,
      "the file is empty: expected at least \"version\" and \"groups\"" },
    { FIX "bad_syntax.yaml", 14, 9,
      "YAML syntax error: did not find expected ',' or ']' (while parsing a "
      "flow sequence at line 13, col 15)" },
    { FIX "bad_unknown_key.yaml", 10, 9,
      "unknown key \"fallbak\" in site " SITE_KEYS },
    { FIX "bad_missing_fallback.yaml", 13, 9,
      "site \"northlake\": missing required key \"fallback\"" },
    { FIX "bad_duplicate_did.yaml", 17, 13,
      "DID 15125550101 is claimed by sites \"downtown\" and \"uptown\"" },
    { FIX "bad_timezone.yaml", 6, 19,
      "site \"westside\": unknown timezone \"America/Denvr\" (not in "
      "/usr/share/zoneinfo)" },
    { FIX "bad_two_documents.yaml", 10, 1,
      "only one YAML document is allowed, a second one starts here" },
};

static void test_bad_files(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_files) / sizeof(bad_files[0]); i++) {
        const bad_file_t *c = &bad_files[i];
        rules_t *r = NULL;
        rules_report_t rep;
        int rc;

        if (needs_zoneinfo(c->msg) && !have_zoneinfo())
            continue;
        rc = rules_load(c->file, &r, &rep);
        assert_null(r);
        assert_string_equal(rep.file, c->file);
        expect_error(rc, &rep, c->line, c->col, c->msg);
    }
}

static void test_missing_file(void **state)
{
    rules_t *r = NULL;
    rules_report_t rep;

    (void)state;
    assert_int_equal(rules_load(FIX "no_such_file.yaml", &r, &rep), -ENOENT);
    assert_null(r);
    assert_string_equal(rep.file, FIX "no_such_file.yaml");
    assert_string_equal(rep.msg, "cannot open the rules file: No such file "
                                 "or directory");
    assert_int_equal(rep.line, 0);
    assert_int_equal(rep.col, 0);
}

static void test_unreadable_file(void **state)
{
    char path[] = "/tmp/test_rules_config_XXXXXX";
    rules_t *r = NULL;
    rules_report_t rep;
    int fd, rc;

    (void)state;
    if (geteuid() == 0)
        skip(); /* root reads any file */
    fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(chmod(path, 0), 0);
    rc = rules_load(path, &r, &rep);
    unlink(path);
    assert_int_equal(rc, -EACCES);
    assert_null(r);
    assert_string_equal(rep.msg, "cannot open the rules file: Permission "
                                 "denied");
}

static void test_directory_is_not_a_file(void **state)
{
    rules_t *r = NULL;
    rules_report_t rep;

    (void)state;
    assert_int_equal(rules_load(FIX, &r, &rep), -EINVAL);
    assert_null(r);
    assert_string_equal(rep.msg, "cannot read the rules file: not a regular "
                                 "file");
}

/* ---------------------------------------------------------------------- */
/* API edges and refcount                                                 */

static void test_report_may_be_null(void **state)
{
    rules_t *r = NULL;
    const char *bad = "version: 2\n";
    const char *good = HEAD SITE_A;

    (void)state;
    assert_int_equal(rules_load_string(bad, strlen(bad), NULL, &r, NULL),
                     -EINVAL);
    assert_int_equal(rules_load(FIX "nope.yaml", &r, NULL), -ENOENT);
    assert_null(r);
    assert_int_equal(rules_load_string(good, strlen(good), NULL, &r, NULL),
                     0);
    rules_unref(r);
}

static void test_default_report_name(void **state)
{
    rules_t *r = NULL;
    rules_report_t rep;

    (void)state;
    assert_int_equal(rules_load_string("x: 1\n", 5, NULL, &r, &rep), -EINVAL);
    assert_string_equal(rep.file, "<string>");
}

/* The length given wins over any NUL: a buffer need not be a C string. */
static void test_load_string_uses_len(void **state)
{
    const char *good = HEAD SITE_A "garbage: [";
    rules_report_t rep;

    (void)state;
    assert_int_equal(load_text(good, strlen(HEAD SITE_A), &rep), 0);
    assert_int_equal(load_text(NULL, 0, &rep), -EINVAL);
    assert_string_equal(rep.msg, "the file is empty: expected at least "
                                 "\"version\" and \"groups\"");
}

static void test_defaults(void **state)
{
    const char *yaml = HEAD SITE_A;
    rules_t *r = NULL;

    (void)state;
    assert_int_equal(rules_load_string(yaml, strlen(yaml), "d", &r, NULL), 0);
    assert_null(rules_option_header(r));
    assert_int_equal(rules_site_count(r), 1);
    rules_unref(r);
}

static void test_ref_unref(void **state)
{
    rules_t *r = NULL;

    (void)state;
    rules_unref(NULL);
    assert_null(rules_ref(NULL));
    assert_int_equal(rules_load("rules/examples/demo.yaml", &r, NULL), 0);
    assert_ptr_equal(rules_ref(r), r);
    assert_ptr_equal(rules_ref(r), r);
    rules_unref(r);
    rules_unref(r);
    /* still alive: one reference left */
    assert_int_equal(rules_site_count(r), 4);
    rules_unref(r); /* freed here; valgrind checks nothing leaks */
}

/* Many sites and DIDs: the DID index grows several times while loading. */
static void test_large_file(void **state)
{
    enum { SITES = 3000 };
    size_t cap = 256 + (size_t)SITES * 200, len = 0;
    char *yaml = malloc(cap);
    rules_t *r = NULL;
    rules_report_t rep;

    (void)state;
    assert_non_null(yaml);
    len += (size_t)snprintf(yaml + len, cap - len, "version: 1\ngroups:\n"
                            "  - name: Big\n    sites:\n");
    for (int i = 0; i < SITES; i++)
        len += (size_t)snprintf(yaml + len, cap - len,
                                "      - {id: s%d, timezone: UTC, "
                                "dids: [\"+1 800 %07d\", \"%d\"], "
                                "default_skill: x, fallback: \"sip:s%d@x\"}\n",
                                i, i, 900000 + i, i);
    assert_int_equal(rules_load_string(yaml, len, "big", &r, &rep), 0);
    assert_int_equal(rules_site_count(r), SITES);
    rules_unref(r);

    /* and one duplicate at the end is still found, at its line */
    len += (size_t)snprintf(yaml + len, cap - len,
                            "      - {id: last, timezone: UTC, "
                            "dids: [\"1 800 0001234\"], default_skill: x, "
                            "fallback: \"sip:x@x\"}\n");
    assert_int_equal(rules_load_string(yaml, len, "big", &r, &rep), -EINVAL);
    assert_int_equal(rep.line, 5 + SITES);
    assert_string_equal(rep.msg, "DID 18000001234 is claimed by sites "
                                 "\"s1234\" and \"last\"");
    free(yaml);
}

int main(void)
{
    enum { NBAD = sizeof(bad_cases) / sizeof(bad_cases[0]) };
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_base_document_is_valid),
        cmocka_unit_test(test_demo_loads),
        cmocka_unit_test(test_practice_loads),
        cmocka_unit_test(test_variants_load),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_unreadable_file),
        cmocka_unit_test(test_directory_is_not_a_file),
        cmocka_unit_test(test_report_may_be_null),
        cmocka_unit_test(test_default_report_name),
        cmocka_unit_test(test_load_string_uses_len),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_ref_unref),
        cmocka_unit_test(test_large_file),
    };
    enum { NFIXED = sizeof(fixed) / sizeof(fixed[0]) };
    /* One named test per bad case, so a failure says which one. */
    struct CMUnitTest tests[NFIXED + NBAD];

    memcpy(tests, fixed, sizeof(fixed));
    for (size_t i = 0; i < NBAD; i++) {
        tests[NFIXED + i] = (struct CMUnitTest){
            .name = bad_cases[i].name,
            .test_func = test_bad_case,
            .initial_state = (void *)&bad_cases[i],
        };
    }
    return _cmocka_run_group_tests("rules_config", tests, NFIXED + NBAD,
                                   NULL, NULL);
}
