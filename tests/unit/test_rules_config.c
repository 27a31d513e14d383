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
    "max_contacts, fallback, closed, hours, holidays, closed_dates, "        \
    "strategy, min_level, overflow, lunch, after_hours, holiday, "           \
    "caller_aware, mode, trusted)"
#define NEED_KEY                                                             \
    "caller-aware routing needs a caller key: set FRONTDESK_CALLER_KEY "     \
    "(64 hex digits)"

/* ---------------------------------------------------------------------- */
/* Helpers                                                                */

static const unsigned char test_key[32] = "0123456789abcdef0123456789abcde";
static const rules_load_opts_t with_key = {
    .now = 1772323200, /* 2026-03-01T00:00:00Z */
    .caller_key = test_key,
    .caller_key_len = sizeof(test_key),
};

static int load_text_opts(const char *yaml, size_t len,
                          const rules_load_opts_t *o, rules_report_t *rep)
{
    rules_t *r = (rules_t *)(uintptr_t)0x1; /* must stay untouched */
    int rc = rules_load_string_opts(yaml, len, "inline.yaml", o, &r, rep);

    if (rc == 0) {
        assert_non_null(r);
        rules_unref(r);
    } else {
        assert_ptr_equal(r, (rules_t *)(uintptr_t)0x1);
    }
    return rc;
}

static int load_text(const char *yaml, size_t len, rules_report_t *rep)
{
    return load_text_opts(yaml, len, NULL, rep);
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
      "option_header, option_separator, mode, trusted, strangers, groups)" },
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
      "unknown key \"site\" in group (expected one of: name, sites, pools, "
      "priority_callers, caller_aware, trusted)" },
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
      "site \"a\": unknown key \"x\" in menu option (expected one of: skill, "
      "strategy, min_level)" },

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
    /* --- sites: opening hours --- */
    { "hours_list", HEAD SITE_A "        hours: [mon]\n", 10, 16,
      "site \"a\": hours: expected a mapping, found a list" },
    { "hours_unknown_day", HEAD SITE_A
      "        hours:\n          monday: [\"08:00-12:00\"]\n", 11, 11,
      "site \"a\": unknown day \"monday\" in hours (expected one of: mon, "
      "tue, wed, thu, fri, sat, sun)" },
    { "hours_day_twice", HEAD SITE_A
      "        hours:\n          mon: []\n          mon: []\n", 12, 11,
      "site \"a\": day \"mon\" is listed twice in hours" },
    { "hours_day_scalar", HEAD SITE_A
      "        hours:\n          mon: \"08:00-12:00\"\n", 11, 16,
      "site \"a\": hours mon: expected a list, found a single value" },
    { "hours_day_null", HEAD SITE_A "        hours:\n          mon:\n", 11,
      15, "site \"a\": hours mon: expected a list, found nothing" },
    { "hours_range_format", HEAD SITE_A
      "        hours:\n          mon: [\"8-17\"]\n", 11, 17,
      "site \"a\": hours mon: \"8-17\" must be a range such as "
      "\"08:00-12:00\"" },
    { "hours_range_trailing", HEAD SITE_A
      "        hours:\n          mon: [\"08:00-12:00x\"]\n", 11, 17,
      "site \"a\": hours mon: \"08:00-12:00x\" must be a range such as "
      "\"08:00-12:00\"" },
    { "hours_range_minute_60", HEAD SITE_A
      "        hours:\n          mon: [\"08:60-09:00\"]\n", 11, 17,
      "site \"a\": hours mon: \"08:60-09:00\" must be a range such as "
      "\"08:00-12:00\"" },
    { "hours_range_reversed", HEAD SITE_A
      "        hours:\n          tue: [\"17:00-08:00\"]\n", 11, 17,
      "site \"a\": hours tue: \"17:00-08:00\" ends before it starts (a range "
      "cannot cross midnight: split it at 24:00)" },
    { "hours_range_empty", HEAD SITE_A
      "        hours:\n          tue: [\"08:00-08:00\"]\n", 11, 17,
      "site \"a\": hours tue: \"08:00-08:00\" ends before it starts (a range "
      "cannot cross midnight: split it at 24:00)" },
    { "hours_range_25", HEAD SITE_A
      "        hours:\n          sun: [\"08:00-25:00\"]\n", 11, 17,
      "site \"a\": hours sun: \"08:00-25:00\": hours go from 00:00 to 23:59 "
      "(24:00 may only end a range)" },
    { "hours_range_starts_24", HEAD SITE_A
      "        hours:\n          sun: [\"24:00-24:00\"]\n", 11, 17,
      "site \"a\": hours sun: \"24:00-24:00\": hours go from 00:00 to 23:59 "
      "(24:00 may only end a range)" },
    { "hours_too_many_ranges", HEAD SITE_A "        hours:\n          mon:\n"
      "            - \"00:00-00:30\"\n            - \"01:00-01:30\"\n            - \"02:00-02:30\"\n            - \"03:00-03:30\"\n            - \"04:00-04:30\"\n            - \"05:00-05:30\"\n            - \"06:00-06:30\"\n            - \"07:00-07:30\"\n            - \"08:00-08:30\"\n", 20, 15,
      "site \"a\": hours mon: at most 8 ranges a day" },
    { "holidays_not_a_date", HEAD SITE_A
      "        holidays: [\"2026-02-30\"]\n", 10, 20,
      "site \"a\": holidays: \"2026-02-30\" is not a date (write YYYY-MM-DD, "
      "e.g. 2026-12-25)" },
    { "holidays_short_date", HEAD SITE_A
      "        holidays: [\"2026-1-5\"]\n", 10, 20,
      "site \"a\": holidays: \"2026-1-5\" is not a date (write YYYY-MM-DD, "
      "e.g. 2026-12-25)" },
    { "closed_dates_scalar", HEAD SITE_A
      "        closed_dates: 2026-12-24\n", 10, 23,
      "site \"a\": closed_dates: expected a list, found a single value" },

    /* --- sites: strategy, min_level, menu entries --- */
    { "strategy_unknown", HEAD SITE_A "        strategy: fastest\n", 10, 19,
      "site \"a\": strategy \"fastest\" must be longest_idle, round_robin, "
      "most_skilled or fewest_offers" },
    { "min_level_6", HEAD SITE_A "        min_level: 6\n", 10, 20,
      "site \"a\": min_level must be between 1 and 5" },
    { "menu_entry_missing_skill", HEAD SITE_A
      "        menu:\n          \"2\": {strategy: round_robin}\n", 11, 16,
      "site \"a\": menu option is missing required key \"skill\"" },
    { "menu_entry_min_level_0", HEAD SITE_A
      "        menu:\n          \"2\": {skill: b, min_level: 0}\n", 11, 38,
      "site \"a\": min_level must be between 1 and 5" },
    { "menu_entry_bad_strategy", HEAD SITE_A
      "        menu:\n          \"2\": {skill: b, strategy: best}\n", 11, 37,
      "site \"a\": strategy \"best\" must be longest_idle, round_robin, "
      "most_skilled or fewest_offers" },

    /* --- sites: DID mappings --- */
    { "did_to_and_skill", HEAD SITE_A_ID SITE_A_TZ
      "        dids:\n          - {number: \"100\", to: \"sip:x@y\", skill: "
      "b}\n" AFTER_DIDS, 8, 13,
      "site \"a\": DID 100: give either \"to\" (a single destination) or "
      "\"skill\" (a dedicated line), not both" },
    { "did_mapping_no_number", HEAD SITE_A_ID SITE_A_TZ
      "        dids:\n          - {to: \"sip:x@y\"}\n" AFTER_DIDS, 8, 13,
      "site \"a\": a DID is missing required key \"number\"" },
    { "did_mapping_bad_to", HEAD SITE_A_ID SITE_A_TZ
      "        dids:\n          - {number: \"100\", to: \"http://x\"}\n"
      AFTER_DIDS, 8, 33, "site \"a\": to must be a sip: or sips: URI" },
    { "did_mapping_unknown_key", HEAD SITE_A_ID SITE_A_TZ
      "        dids:\n          - {number: \"100\", dest: x}\n" AFTER_DIDS,
      8, 29,
      "site \"a\": unknown key \"dest\" in DID (expected one of: number, to, "
      "skill, mode)" },
    { "did_bad_mode", HEAD SITE_A_ID SITE_A_TZ
      "        dids:\n          - {number: \"100\", mode: relay}\n" AFTER_DIDS,
      8, 35, "site \"a\": mode \"relay\" must be redirect or forward" },
    { "did_mapping_twice", HEAD SITE_A_ID SITE_A_TZ
      "        dids: [\"100\", {number: \"1-00\", to: \"sip:x@y\"}]\n"
      AFTER_DIDS, 7, 32, "site \"a\": DID 100 is listed twice" },
    { "did_mapping_bad_skill", HEAD SITE_A_ID SITE_A_TZ
      "        dids: [{number: \"100\", skill: Billing}]\n" AFTER_DIDS, 7,
      39, "site \"a\": skill " IDENT_RULE " (found \"Billing\")" },

    /* --- sites: overflow --- */
    { "overflow_scalar", HEAD SITE_A "        overflow: b\n", 10, 19,
      "site \"a\": overflow: expected a list, found a single value" },
    { "overflow_step_no_target", HEAD SITE_A
      "        overflow:\n          - {skill: b}\n", 11, 13,
      "site \"a\": an overflow step needs a site ({site: <id>}) or a pool "
      "({pool: <id>})" },
    { "overflow_step_site_and_pool", HEAD SITE_A
      "        overflow:\n          - {site: b, pool: p}\n", 11, 23,
      "site \"a\": an overflow step names a site or a pool, not both" },
    { "overflow_step_unknown_key", HEAD SITE_A
      "        overflow:\n          - {site: b, level: 2}\n", 11, 23,
      "site \"a\": unknown key \"level\" in overflow step (expected one of: "
      "site, pool, skill, strategy, min_level)" },
    { "overflow_unknown_site", HEAD SITE_A
      "        overflow:\n          - site: nope\n", 11, 19,
      "site \"a\": overflow: unknown site \"nope\"" },
    { "overflow_unknown_pool", HEAD SITE_A
      "        overflow:\n          - pool: nope\n", 11, 19,
      "site \"a\": overflow: unknown pool \"nope\"" },
    { "overflow_to_itself", HEAD SITE_A "        overflow:\n          - site: a\n",
      11, 19,
      "site \"a\": overflow: \"a\" is this site: its own staff are always "
      "tried first" },
    { "overflow_site_is_a_pool", HEAD SITE_A
      "        overflow:\n          - site: p\n    pools:\n      - id: p\n", 11,
      19, "site \"a\": overflow: \"p\" is a pool: write {pool: p}" },
    { "overflow_pool_is_a_site", HEAD SITE_A
      "        overflow:\n          - pool: b\n      - id: b\n" SITE_A_TZ
      "        dids: [\"200\"]\n" AFTER_DIDS, 11, 19,
      "site \"a\": overflow: \"b\" is a site: write {site: b}" },
    { "overflow_other_group", "version: 1\ngroups:\n  - name: H\n"
      "    sites:\n      - id: b\n" SITE_A_TZ "        dids: [\"200\"]\n"
      AFTER_DIDS "  - name: G\n    sites:\n" SITE_A
      "        overflow: [{site: b}]\n", 17, 27,
      "site \"a\": overflow: site \"b\" belongs to group \"H\": a chain stays "
      "within its group" },
    { "overflow_too_long", HEAD SITE_A "        overflow:\n"
      "          - pool: p\n          - pool: p\n          - pool: p\n"
      "          - pool: p\n          - pool: p\n          - pool: p\n"
      "          - pool: p\n", 17, 13,
      "site \"a\": overflow lists at most 6 steps (a chain is this site, 6 "
      "steps, then the fallback)" },

    /* --- sites: period routes --- */
    { "lunch_word", HEAD SITE_A "        lunch: voicemail\n", 10, 16,
      "site \"a\": lunch must be a sip: or sips: URI, or the word overflow" },
    { "after_hours_space", HEAD SITE_A "        after_hours: sip:a b\n", 10,
      22, "site \"a\": after_hours must be a sip: or sips: URI without "
      "spaces, quotes or angle brackets" },
    { "holiday_list", HEAD SITE_A "        holiday: [x]\n", 10, 18,
      "site \"a\": holiday: expected a single value, found a list" },

    /* --- caller-aware and priority callers --- */
    { "caller_aware_needs_key", HEAD SITE_A "        caller_aware: true\n",
      10, 9, "site \"a\": " NEED_KEY },
    { "caller_aware_window_needs_key", HEAD SITE_A
      "        caller_aware: {window: 7d}\n", 10, 9, "site \"a\": " NEED_KEY },
    { "group_caller_aware_needs_key", HEAD SITE_A "    caller_aware: yes\n",
      10, 5, "group \"G\": " NEED_KEY },
    { "priority_callers_need_key", HEAD SITE_A
      "    priority_callers:\n      - \"+1 512 555 0190\"\n", 10, 5,
      "group \"G\": " NEED_KEY },

    /* --- pools --- */
    { "pool_id_taken_by_site", HEAD SITE_A "    pools:\n      - id: a\n", 11,
      13, "pool id \"a\" is used twice (first at line 5)" },
    { "site_id_taken_by_pool", "version: 1\ngroups:\n  - name: G\n"
      "    pools:\n      - id: a\n    sites:\n      - id: a\n", 7, 13,
      "site id \"a\" is used twice (first at line 5)" },
    { "pool_missing_id", HEAD SITE_A "    pools:\n      - name: Float\n", 11,
      9, "pool is missing required key \"id\"" },
    { "pool_unknown_key", HEAD SITE_A "    pools:\n      - {id: p, skills: "
      "[a]}\n", 11, 17,
      "unknown key \"skills\" in pool (expected one of: id, name)" },
    { "pool_bad_id", HEAD SITE_A "    pools:\n      - id: Float Team\n", 11,
      13, "id " IDENT_RULE " (found \"Float Team\")" },

    /* --- trusted sources --- */
#define CIDR_RULE "is not an address or an address block (e.g. 192.0.2.10, " \
                  "10.1.0.0/16, 2001:db8::/32)"
    { "trusted_not_a_list", "version: 1\ntrusted: 10.0.0.1\ngroups:\n"
      "  - name: G\n    sites:\n" SITE_A, 2, 10,
      "trusted: expected a list, found a single value" },
    { "trusted_host_bits", "version: 1\ntrusted: [10.0.0.5/24]\ngroups:\n"
      "  - name: G\n    sites:\n" SITE_A, 2, 11,
      "trusted: 10.0.0.5/24 has bits set past its prefix /24: write the "
      "block's first address" },
    { "trusted_name", "version: 1\ntrusted: [pbx.example]\ngroups:\n"
      "  - name: G\n    sites:\n" SITE_A, 2, 11,
      "trusted: \"pbx.example\" " CIDR_RULE },
    { "trusted_prefix_33", "version: 1\ntrusted: [\"10.0.0.0/33\"]\ngroups:\n"
      "  - name: G\n    sites:\n" SITE_A, 2, 11,
      "trusted: \"10.0.0.0/33\" " CIDR_RULE },
    { "trusted_group_prefix_129", "version: 1\ngroups:\n  - name: G\n"
      "    trusted: [\"2001:db8::/129\"]\n    sites:\n" SITE_A, 4, 15,
      "group \"G\": trusted: \"2001:db8::/129\" " CIDR_RULE },
    { "trusted_site_brackets", HEAD SITE_A "        trusted: [\"[::1]\"]\n",
      10, 19, "site \"a\": trusted: \"[::1]\" " CIDR_RULE },
    { "trusted_site_empty_prefix", HEAD SITE_A
      "        trusted: [\"10.0.0.0/\"]\n", 10, 19,
      "site \"a\": trusted: \"10.0.0.0/\" " CIDR_RULE },
    { "strangers_bad", "version: 1\nstrangers: ignore\ngroups:\n"
      "  - name: G\n    sites:\n" SITE_A, 2, 12,
      "strangers \"ignore\" must be drop or reject" },
};

/* The same, loaded with a caller key (caller-aware keys past the key
 * check). */
static const bad_case_t bad_key_cases[] = {
    { "caller_aware_word", HEAD SITE_A "        caller_aware: sometimes\n",
      10, 23,
      "site \"a\": caller_aware must be true, false or {window: \"30d\"}" },
    { "priority_callers_scalar", HEAD SITE_A
      "    priority_callers: \"+1 512 555 0190\"\n", 10, 23,
      "group \"G\": priority_callers: expected a list, found a single value" },
    { "caller_aware_window_no_unit", HEAD SITE_A
      "        caller_aware: {window: 30}\n", 10, 32,
      "site \"a\": window must be a duration such as \"30d\" (a number then "
      "s, m, h or d), from 1s to 365d" },
    { "caller_aware_window_too_long", HEAD SITE_A
      "        caller_aware: {window: 366d}\n", 10, 32,
      "site \"a\": window must be a duration such as \"30d\" (a number then "
      "s, m, h or d), from 1s to 365d" },
    { "caller_aware_window_zero", HEAD SITE_A
      "        caller_aware: {window: 0h}\n", 10, 32,
      "site \"a\": window must be a duration such as \"30d\" (a number then "
      "s, m, h or d), from 1s to 365d" },
    { "caller_aware_unknown_key", HEAD SITE_A
      "        caller_aware: {days: 30}\n", 10, 24,
      "site \"a\": unknown key \"days\" in caller_aware (expected one of: "
      "window)" },
    { "priority_caller_not_a_number", HEAD SITE_A
      "    priority_callers: [\"+1 512 555 0190\", \"call me\"]\n", 10, 43,
      "group \"G\": priority caller 2 is not a phone number (digits, spaces "
      "and + - ( ) . only, at most 32 digits)" },
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

static void test_bad_key_case(void **state)
{
    const bad_case_t *c = *state;
    rules_report_t rep;
    int rc;

    rc = load_text_opts(c->yaml, strlen(c->yaml), &with_key, &rep);
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
    assert_int_equal(rules_load_opts("rules/examples/demo.yaml", &with_key,
                                     &r, &rep), 0);
    assert_non_null(r);
    assert_int_equal(rules_site_count(r), 4); /* the pool is not a site */
    assert_string_equal(rules_option_header(r), "X-Frontdesk-Option");
    rules_unref(r);
}

/* The demo uses priority callers and caller-aware routing: without a key
 * it is refused at the first key that needs one. */
static void test_demo_needs_key(void **state)
{
    rules_load_opts_t no_key = { .now = with_key.now };
    rules_t *r = NULL;
    rules_report_t rep;
    int rc;

    (void)state;
    rc = rules_load_opts("rules/examples/demo.yaml", &no_key, &r, &rep);
    assert_null(r);
    expect_error(rc, &rep, 50, 5,
                 "group \"Hill Country Therapy Group\": " NEED_KEY);
    rc = rules_load("rules/examples/demo.yaml", &r, &rep);
    expect_error(rc, &rep, 50, 5,
                 "group \"Hill Country Therapy Group\": " NEED_KEY);
}

/* Keys from 16 to 64 bytes: the daemon's is 32. */
static void test_caller_key_length(void **state)
{
    static const unsigned char key[65] = { 0 };
    const char *yaml = HEAD SITE_A;
    rules_load_opts_t o = { .caller_key = key };
    rules_report_t rep;
    static const size_t bad[] = { 1, 15, 65 }, good[] = { 16, 32, 64 };

    (void)state;
    for (size_t i = 0; i < 3; i++) {
        o.caller_key_len = bad[i];
        expect_error(load_text_opts(yaml, strlen(yaml), &o, &rep), &rep, 0,
                     0, "the caller key must be 16 to 64 bytes "
                        "(FRONTDESK_CALLER_KEY: 64 hex digits)");
        o.caller_key_len = good[i];
        assert_int_equal(load_text_opts(yaml, strlen(yaml), &o, &rep), 0);
    }
}

/* Every new form, loaded with and without a reference time. */
static void test_routing_variants_load(void **state)
{
    rules_load_opts_t no_time = with_key;
    rules_t *r = NULL;
    rules_report_t rep;
    int rc;

    (void)state;
    no_time.now = 0;
    rc = rules_load_opts(FIX "good_routing.yaml", &with_key, &r, &rep);
    if (rc)
        print_error("%s:%u:%u: %s\n", rep.file, rep.line, rep.col, rep.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(rules_site_count(r), 3);
    rules_unref(r);
    assert_int_equal(rules_load_opts(FIX "good_routing.yaml", &no_time, &r,
                                     &rep), 0);
    rules_unref(r);
}

/* "caller_aware: false" needs no key; the group default is inherited. */
static void test_caller_aware_off_needs_no_key(void **state)
{
    const char *yaml = HEAD SITE_A "        caller_aware: false\n"
                       "    caller_aware: no\n";
    rules_report_t rep;

    (void)state;
    assert_int_equal(load_text(yaml, strlen(yaml), &rep), 0);
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
    { FIX "bad_overflow_unknown_site.yaml", 11, 19,
      "site \"downtown\": overflow: unknown site \"nortlake\"" },
    { FIX "bad_hours_range.yaml", 11, 32,
      "site \"westside\": hours tue: \"18:00-02:00\" ends before it starts "
      "(a range cannot cross midnight: split it at 24:00)" },
    { FIX "bad_caller_window.yaml", 6, 15,
      "group \"Hill Country Therapy Group\": window must be a duration such "
      "as \"30d\" (a number then s, m, h or d), from 1s to 365d" },
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
        rc = rules_load_opts(c->file, &with_key, &r, &rep);
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
    assert_int_equal(rules_load_opts("rules/examples/demo.yaml", &with_key,
                                     &r, NULL), 0);
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
    enum { NKEY = sizeof(bad_key_cases) / sizeof(bad_key_cases[0]) };
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_base_document_is_valid),
        cmocka_unit_test(test_demo_loads),
        cmocka_unit_test(test_demo_needs_key),
        cmocka_unit_test(test_caller_key_length),
        cmocka_unit_test(test_routing_variants_load),
        cmocka_unit_test(test_caller_aware_off_needs_no_key),
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
    struct CMUnitTest tests[NFIXED + NBAD + NKEY];

    memcpy(tests, fixed, sizeof(fixed));
    for (size_t i = 0; i < NBAD; i++) {
        tests[NFIXED + i] = (struct CMUnitTest){
            .name = bad_cases[i].name,
            .test_func = test_bad_case,
            .initial_state = (void *)&bad_cases[i],
        };
    }
    for (size_t i = 0; i < NKEY; i++) {
        tests[NFIXED + NBAD + i] = (struct CMUnitTest){
            .name = bad_key_cases[i].name,
            .test_func = test_bad_key_case,
            .initial_state = (void *)&bad_key_cases[i],
        };
    }
    return _cmocka_run_group_tests("rules_config", tests, NFIXED + NBAD + NKEY,
                                   NULL, NULL);
}
