/* test_store_reply.c -- proxy/store_reply.c: decoding fd_pick replies.
 *
 * No server: RESP bytes are fed to a hiredis reader, which builds the
 * redisReply that store_decode_pick() gets in production. Small replies are
 * written out as RESP; longer ones are built with resp_array(). Every reply
 * is freed in teardown, even when a test fails.
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
#include <hiredis.h>

#include "store.h"

static redisReply *cur; /* the reply under test, freed in teardown */
static store_decision_t d;

static int teardown(void **state)
{
    (void)state;
    if (cur) freeReplyObject(cur);
    cur = NULL;
    return 0;
}

/* The reply hiredis reads from <len> bytes of RESP. */
static redisReply *read_resp(const char *bytes, size_t len)
{
    redisReader *rd = redisReaderCreate();
    void *reply = NULL;

    assert_non_null(rd);
    assert_int_equal(redisReaderFeed(rd, bytes, len), REDIS_OK);
    assert_int_equal(redisReaderGetReply(rd, &reply), REDIS_OK);
    redisReaderFree(rd);
    if (!reply) fail_msg("incomplete RESP");
    if (cur) freeReplyObject(cur);
    cur = reply;
    return cur;
}

static int decode(const char *resp)
{
    return store_decode_pick(read_resp(resp, strlen(resp)), &d);
}

/* An array of bulk strings: <n> (pointer, length) pairs, so values may hold
 * any byte. */
static int decode_array(size_t n, ...)
{
    char buf[16384];
    size_t o = 0;
    va_list ap;

    o += (size_t)snprintf(buf + o, sizeof(buf) - o, "*%zu\r\n", n);
    va_start(ap, n);
    for (size_t i = 0; i < n; i++) {
        const char *s = va_arg(ap, const char *);
        size_t l = va_arg(ap, size_t);
        assert_true(o + l + 32 < sizeof(buf));
        o += (size_t)snprintf(buf + o, sizeof(buf) - o, "$%zu\r\n", l);
        memcpy(buf + o, s, l);
        o += l;
        memcpy(buf + o, "\r\n", 2);
        o += 2;
    }
    va_end(ap);
    return store_decode_pick(read_resp(buf, o), &d);
}
#define S(str) (const char *)(str), (size_t)(sizeof(str) - 1) /* a literal, NULs included */
#define D(str) (const char *)(str), strlen(str)                /* a runtime string */

/* ---------------------------------------------------------------------- */

static void test_picked_one(void **state)
{
    (void)state;

    assert_int_equal(decode("*3\r\n"
                            "$6\r\npicked\r\n"
                            "$6\r\nnurse7\r\n"
                            "$24\r\nsip:nurse7@10.0.0.7:5060\r\n"),
                     0);
    assert_int_equal(d.kind, STORE_PICKED);
    assert_int_equal(d.n, 1);
    assert_string_equal(d.id[0], "nurse7");
    assert_string_equal(d.uri[0], "sip:nurse7@10.0.0.7:5060");
}

static void test_picked_two_in_order(void **state)
{
    (void)state;

    assert_int_equal(decode("*5\r\n"
                            "$6\r\npicked\r\n"
                            "$5\r\ndrlee\r\n"
                            "$25\r\nsips:drlee@clinic.example\r\n"
                            "$6\r\nnurse7\r\n"
                            "$24\r\nsip:nurse7@10.0.0.7:5060\r\n"),
                     0);
    assert_int_equal(d.kind, STORE_PICKED);
    assert_int_equal(d.n, 2);
    assert_string_equal(d.id[0], "drlee");
    assert_string_equal(d.uri[0], "sips:drlee@clinic.example");
    assert_string_equal(d.id[1], "nurse7");
    assert_string_equal(d.uri[1], "sip:nurse7@10.0.0.7:5060");
}

/* A retransmission: the decision recorded for this Call-ID. */
static void test_recorded(void **state)
{
    (void)state;

    assert_int_equal(decode_array(3, S("recorded"), S("nurse7"), S("sip:nurse7@10.0.0.7")), 0);
    assert_int_equal(d.kind, STORE_RECORDED);
    assert_int_equal(d.n, 1);
    assert_string_equal(d.id[0], "nurse7");
    assert_string_equal(d.uri[0], "sip:nurse7@10.0.0.7");
}

static void test_none(void **state)
{
    (void)state;

    assert_int_equal(decode("*1\r\n$4\r\nnone\r\n"), 0);
    assert_int_equal(d.kind, STORE_NONE);
    assert_int_equal(d.n, 0);
}

/* "none" with staff, or "picked" without, do not add up. */
static void test_kind_and_count_disagree(void **state)
{
    (void)state;

    assert_int_equal(decode_array(3, S("none"), S("nurse7"), S("sip:nurse7@x")), -EPROTO);
    /* picked nobody: treated as none */
    assert_int_equal(decode("*1\r\n$6\r\npicked\r\n"), 0);
    assert_int_equal(d.kind, STORE_NONE);
    assert_int_equal(d.n, 0);
}

static void test_error_reply(void **state)
{
    (void)state;

    assert_int_equal(decode("-ERR Function not found\r\n"), -EPROTO);
    assert_int_equal(decode("-NOSCRIPT No matching script\r\n"), -EPROTO);
}

static void test_wrong_types(void **state)
{
    (void)state;

    assert_int_equal(decode("+OK\r\n"), -EPROTO);
    assert_int_equal(decode(":1\r\n"), -EPROTO);
    assert_int_equal(decode("$-1\r\n"), -EPROTO);
    assert_int_equal(decode("$6\r\npicked\r\n"), -EPROTO);
    assert_int_equal(decode("*-1\r\n"), -EPROTO);
    /* the kind is not a bulk string */
    assert_int_equal(decode("*1\r\n+picked\r\n"), -EPROTO);
    assert_int_equal(decode("*1\r\n:1\r\n"), -EPROTO);
    assert_int_equal(decode("*1\r\n*1\r\n$6\r\npicked\r\n"), -EPROTO);
    /* an id or a contact that is not a bulk string */
    assert_int_equal(decode("*3\r\n$6\r\npicked\r\n:7\r\n$12\r\nsip:nurse7@x\r\n"), -EPROTO);
    assert_int_equal(decode("*3\r\n$6\r\npicked\r\n$6\r\nnurse7\r\n$-1\r\n"), -EPROTO);
    assert_int_equal(decode("*3\r\n$6\r\npicked\r\n$-1\r\n$12\r\nsip:nurse7@x\r\n"), -EPROTO);
    assert_int_equal(decode("*3\r\n$6\r\npicked\r\n$6\r\nnurse7\r\n*1\r\n$12\r\nsip:nurse7@x\r\n"), -EPROTO);
    assert_int_equal(decode("*3\r\n$6\r\npicked\r\n$6\r\nnurse7\r\n+sip:nurse7@x\r\n"), -EPROTO);
    assert_int_equal(store_decode_pick(NULL, &d), -EPROTO);
}

static void test_unknown_kind(void **state)
{
    (void)state;

    assert_int_equal(decode_array(3, S("chosen"), S("nurse7"), S("sip:nurse7@x")), -EPROTO);
    assert_int_equal(decode_array(3, S("PICKED"), S("nurse7"), S("sip:nurse7@x")), -EPROTO);
    assert_int_equal(decode_array(3, S("picked\0"), S("nurse7"), S("sip:nurse7@x")), -EPROTO);
    assert_int_equal(decode_array(1, S("")), -EPROTO);
}

/* An id without its contact. */
static void test_odd_element_count(void **state)
{
    (void)state;

    assert_int_equal(decode("*0\r\n"), -EPROTO);
    assert_int_equal(decode_array(2, S("picked"), S("nurse7")), -EPROTO);
    assert_int_equal(decode_array(4, S("picked"), S("nurse7"), S("sip:nurse7@x"), S("drlee")), -EPROTO);
}

static void test_contact_scheme(void **state)
{
    (void)state;
    static const char *bad[] = { "tel:+15125550100", "http://clinic.example/", "nurse7@10.0.0.7",
                                 "sip", "sip:", "sipx:nurse7@x", " sip:nurse7@x", "" };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        print_message("contact \"%s\"\n", bad[i]);
        assert_int_equal(decode_array(3, S("picked"), S("nurse7"), D(bad[i])), -EPROTO);
    }
    assert_int_equal(decode_array(3, S("picked"), S("nurse7"), S("sips:nurse7@x")), 0);
    assert_int_equal(decode_array(3, S("picked"), S("nurse7"), S("sip:x")), 0);
}

/* A contact is written into a header line as is: nothing that could end the
 * <...> or the line may pass. */
static void test_contact_injection(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t len;
    } bad[] = {
        { S("sip:nurse7@x>\r\nX-Injected: 1") },
        { S("sip:nurse7@x\r\nContact: <sip:evil@y>") },
        { S("sip:nurse7@x\n") },
        { S("sip:nurse7@x\r") },
        { S("sip:nurse7@x>;q=1.0") },
        { S("sip:nurse7@x<") },
        { S("sip:nurse7@x y") },
        { S("sip:nurse7@x\ty") },
        { S("sip:nurse7@x\0\r\nX-Injected: 1") }, /* hidden after a NUL */
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        print_message("contact #%zu\n", i);
        assert_int_equal(decode_array(3, S("picked"), S("nurse7"), bad[i].s, bad[i].len), -EPROTO);
    }
    /* the same checks for every pair, not only the first */
    assert_int_equal(decode_array(5, S("picked"), S("a"), S("sip:a@x"), S("b"), S("sip:b@x>\r\nX: 1")), -EPROTO);
}

static void test_lengths(void **state)
{
    (void)state;
    char id[100], uri[258];

    memset(id, 'i', sizeof(id));
    memcpy(uri, "sip:", 4);
    memset(uri + 4, 'u', sizeof(uri) - 4);

    assert_int_equal(decode_array(3, S("picked"), id, (size_t)97, uri, (size_t)255), 0);
    assert_int_equal(strlen(d.id[0]), 97);
    assert_int_equal(strlen(d.uri[0]), 255);
    assert_int_equal(decode_array(3, S("picked"), id, (size_t)98, S("sip:a@x")), -EPROTO);
    assert_int_equal(decode_array(3, S("picked"), S("a"), uri, (size_t)256), -EPROTO);
    assert_int_equal(decode_array(3, S("picked"), S(""), S("sip:a@x")), -EPROTO);
}

/* fd_pick offers at most RULES_MAX_CONTACTS; more are ignored, in order. */
static void test_capped_at_max_contacts(void **state)
{
    (void)state;

    assert_int_equal(RULES_MAX_CONTACTS, 5);
    assert_int_equal(decode_array(15, S("picked"), S("s1"), S("sip:s1@x"), S("s2"), S("sip:s2@x"), S("s3"),
                                  S("sip:s3@x"), S("s4"), S("sip:s4@x"), S("s5"), S("sip:s5@x"), S("s6"),
                                  S("sip:s6@x"), S("s7"), S("sip:s7@x")),
                     0);
    assert_int_equal(d.kind, STORE_PICKED);
    assert_int_equal(d.n, RULES_MAX_CONTACTS);
    for (unsigned i = 0; i < RULES_MAX_CONTACTS; i++) {
        char want[16];
        snprintf(want, sizeof(want), "s%u", i + 1);
        assert_string_equal(d.id[i], want);
        snprintf(want, sizeof(want), "sip:s%u@x", i + 1);
        assert_string_equal(d.uri[i], want);
    }
}

/* A decoded decision holds nothing of the reply: hiredis frees it after the
 * callback. */
static void test_decision_outlives_reply(void **state)
{
    (void)state;

    assert_int_equal(decode_array(3, S("picked"), S("nurse7"), S("sip:nurse7@10.0.0.7")), 0);
    freeReplyObject(cur);
    cur = NULL;
    assert_string_equal(d.id[0], "nurse7");
    assert_string_equal(d.uri[0], "sip:nurse7@10.0.0.7");
}


/* ---- store_build_pick: the FCALL arguments for a plan ---- */

static void assert_argv(const store_argv_t *a, const char *const *want, size_t n)
{
    assert_int_equal(a->argc, n);
    for (size_t i = 0; i < n; i++) {
        char got[128];
        size_t l = a->lens[i] < sizeof(got) - 1 ? a->lens[i] : sizeof(got) - 1;
        memcpy(got, a->argv[i], l);
        got[l] = '\0';
        assert_string_equal(got, want[i]);
    }
}

/* A chain over three sites (the called one first, a repeat of it later),
 * caller-aware, with a local date: every argument in its place. */
static void test_build_chain(void **state)
{
    (void)state;
    plan_t p;
    store_argv_t a;
    memset(&p, 0, sizeof(p));
    p.kind = PLAN_PICK;
    p.site = "downtown";
    p.max_contacts = 2;
    p.caller_aware = true;
    p.caller_window_s = 86400;
    snprintf(p.caller, sizeof(p.caller), "%s", "00112233445566778899aabbccddeeff");
    p.local_date = 20261201;
    p.chain[0] = (plan_step_t){ PLAN_STEP_PICK, "downtown", "billing", RULES_LONGEST_IDLE, 1, NULL };
    p.chain[1] = (plan_step_t){ PLAN_STEP_PICK, "northlake", "billing", RULES_MOST_SKILLED, 3, NULL };
    p.chain[2] = (plan_step_t){ PLAN_STEP_PICK, "float", "billing", RULES_FEWEST_OFFERS, 1, NULL };
    p.chain[3] = (plan_step_t){ PLAN_STEP_PICK, "downtown", "intake", RULES_ROUND_ROBIN, 0, NULL };
    p.chain[4] = (plan_step_t){ PLAN_STEP_URI, NULL, NULL, 0, 0, "sip:vm@pbx" };
    p.n_chain = 5;
    assert_int_equal(store_build_pick(&a, "FCALL", "fd_pick", &p, "abc@h", 5, "15000", "32000", NULL, NULL), 0);
    static const char *const want[] = {
        "FCALL", "fd_pick", "3", "fd:{downtown}", "fd:{northlake}", "fd:{float}",
        "abc@h", "00112233445566778899aabbccddeeff",
        "3|2|15000|32000|86400|20261201|1:billing:li:1|2:billing:ms:3|3:billing:fo:1|1:intake:rr:1",
    };
    assert_argv(&a, want, sizeof(want) / sizeof(want[0]));
}

/* Not caller-aware: no caller, window 0, even when the hash is known; no
 * local date: empty. A plan without a PICK step cannot be sent. */
static void test_build_plain_and_invalid(void **state)
{
    (void)state;
    plan_t p;
    store_argv_t a;
    memset(&p, 0, sizeof(p));
    p.kind = PLAN_PICK;
    p.site = "westside";
    p.max_contacts = 1;
    snprintf(p.caller, sizeof(p.caller), "%s", "ffff");
    p.chain[0] = (plan_step_t){ PLAN_STEP_PICK, "westside", "intake", RULES_LONGEST_IDLE, 2, NULL };
    p.chain[1] = (plan_step_t){ PLAN_STEP_URI, NULL, NULL, 0, 0, "sip:x@y" };
    p.n_chain = 2;
    assert_int_equal(store_build_pick(&a, "FCALL_RO", "fd_peek", &p, "c", 1, "1", "1", NULL, NULL), 0);
    static const char *const want[] = {
        "FCALL_RO", "fd_peek", "1", "fd:{westside}", "c", "", "3|1|1|1|0||1:intake:li:2",
    };
    assert_argv(&a, want, sizeof(want) / sizeof(want[0]));

    p.chain[0] = p.chain[1];
    p.n_chain = 1;
    assert_int_equal(store_build_pick(&a, "FCALL", "fd_pick", &p, "c", 1, "1", "1", NULL, NULL), -EINVAL);
}

/* The longest plan fits: eight steps of 32-letter skills at eight sites
 * of long names; a site name too long for a key is refused. */
static void test_build_longest(void **state)
{
    (void)state;
    static char sites[RULES_MAX_CHAIN][40];
    plan_t p;
    store_argv_t a;
    memset(&p, 0, sizeof(p));
    p.kind = PLAN_PICK;
    p.max_contacts = 5;
    p.caller_aware = true;
    p.caller_window_s = 4000000000u;
    p.local_date = 20261231;
    for (unsigned i = 0; i < RULES_MAX_CHAIN; i++) {
        snprintf(sites[i], sizeof(sites[i]), "site-%u-%s", i, "abcdefghijklmnopqrstuvwxyzabcd");
        p.chain[i] = (plan_step_t){ PLAN_STEP_PICK, sites[i], "abcdefghijklmnopqrstuvwxyz012345",
                                    RULES_FEWEST_OFFERS, 5, NULL };
    }
    p.site = sites[0];
    p.n_chain = RULES_MAX_CHAIN;
    assert_int_equal(store_build_pick(&a, "FCALL", "fd_pick", &p, "c", 1, "4294967295", "4294967295", NULL, NULL), 0);
    assert_int_equal(a.argc, 3 + RULES_MAX_CHAIN + 3);
    assert_true(a.lens[a.argc - 1] > 300);
    assert_memory_equal(a.argv[a.argc - 1], "3|5|4294967295|4294967295|4000000000|20261231|1:", 48);

    static char too_long[64];
    memset(too_long, 'x', sizeof(too_long) - 1);
    p.chain[3].site = too_long;
    assert_int_equal(store_build_pick(&a, "FCALL", "fd_pick", &p, "c", 1, "1", "1", NULL, NULL), -EINVAL);
}

/* ---- store_lib_action: load, keep or upgrade the Functions library ---- */

static store_lib_action_t action_of(redisReply *r, unsigned *v)
{
    store_lib_action_t act = store_lib_action(r, v);
    freeReplyObject(r);
    return act;
}

static redisReply *resp(const char *bytes)
{
    redisReader *rd = redisReaderCreate();
    void *r = NULL;
    redisReaderFeed(rd, bytes, strlen(bytes));
    assert_int_equal(redisReaderGetReply(rd, &r), REDIS_OK);
    redisReaderFree(rd);
    return r;
}

static void test_lib_action(void **state)
{
    (void)state;
    unsigned v;
    assert_int_equal(action_of(resp("$1\r\n4\r\n"), &v), STORE_LIB_CURRENT);
    assert_int_equal(v, 4);
    assert_int_equal(action_of(resp(":4\r\n"), &v), STORE_LIB_CURRENT);
    /* version 3, of our name: replaced (under the WATCH of fd:lib) */
    assert_int_equal(action_of(resp("$1\r\n3\r\n"), &v), STORE_LIB_UPGRADE);
    assert_int_equal(v, 3);
    /* version 2 (library "frontdesk") answers the string "2" */
    assert_int_equal(action_of(resp("$1\r\n2\r\n"), &v), STORE_LIB_UPGRADE);
    assert_int_equal(v, 2);
    /* a newer one is never replaced */
    assert_int_equal(action_of(resp("$2\r\n17\r\n"), &v), STORE_LIB_NEWER);
    assert_int_equal(v, 17);
    assert_int_equal(action_of(resp("-ERR Function not found\r\n"), &v), STORE_LIB_LOAD);
    assert_int_equal(action_of(NULL, &v), STORE_LIB_LOAD);
    assert_int_equal(action_of(resp("-NOAUTH Authentication required.\r\n"), &v), STORE_LIB_REFUSED);
    assert_int_equal(action_of(resp("-NOPERM this user has no permissions\r\n"), &v), STORE_LIB_REFUSED);
    /* a version we cannot read (a later scheme, something else under our
     * function's name): kept, never replaced */
    assert_int_equal(action_of(resp("$3\r\nabc\r\n"), &v), STORE_LIB_NEWER);
    assert_int_equal(action_of(resp("$3\r\n4.1\r\n"), &v), STORE_LIB_NEWER);
    assert_int_equal(action_of(resp("*0\r\n"), &v), STORE_LIB_NEWER);
}

/* The history record rides on the pick as a fourth argument: the bound,
 * then number, option and skill, tabs and control characters replaced,
 * each cut to its field; none without a bound or without fields. */
static void test_build_history_arg(void **state)
{
    (void)state;
    plan_t p;
    store_argv_t a;
    memset(&p, 0, sizeof(p));
    p.kind = PLAN_PICK;
    p.site = "westside";
    p.max_contacts = 1;
    p.chain[0] = (plan_step_t){ PLAN_STEP_PICK, "westside", "intake", RULES_LONGEST_IDLE, 2, NULL };
    p.chain[1] = (plan_step_t){ PLAN_STEP_URI, NULL, NULL, 0, 0, "sip:x@y" };
    p.n_chain = 2;
    store_hist_t h = { "15125550300", "1", "intake" };
    assert_int_equal(store_build_pick(&a, "FCALL", "fd_pick", &p, "c", 1, "1", "1", "d7776000000", &h), 0);
    static const char *const want[] = {
        "FCALL", "fd_pick", "1", "fd:{westside}", "c", "", "3|1|1|1|0||1:intake:li:2",
        "d7776000000\t15125550300\t1\tintake",
    };
    assert_argv(&a, want, sizeof(want) / sizeof(want[0]));

    store_hist_t evil = { "1512\t555", "9\r\n", "0123456789012345678901234567890123456789" };
    assert_int_equal(store_build_pick(&a, "FCALL", "fd_pick", &p, "c", 1, "1", "1", "n500", &evil), 0);
    assert_int_equal(a.argc, 8);
    static const char cut[] = "n500\t1512?555\t9??\t01234567890123456789012345678901";
    assert_int_equal(a.lens[7], strlen(cut));
    assert_memory_equal(a.argv[7], cut, strlen(cut));

    assert_int_equal(store_build_pick(&a, "FCALL", "fd_pick", &p, "c", 1, "1", "1", "", &h), 0);
    assert_int_equal(a.argc, 7);
    assert_int_equal(store_build_pick(&a, "FCALL", "fd_pick", &p, "c", 1, "1", "1", "d1", NULL), 0);
    assert_int_equal(a.argc, 7);
}

/* A batch: one XADD a site, its records one a line, bounded by age
 * (MINID ~ now - keep) or count (MAXLEN ~); the proxy's clock after each
 * record, a final response's status after that. */
static void test_build_history_xadd(void **state)
{
    (void)state;
    store_xadd_t a;
    store_hist_rec_t r1 = { .site = "annex", .callid = "0123456789abcdef0123456789abcdef",
                            .number = "15125550400", .outcome = "after_hours", .ms = 1796140800123ull };
    store_hist_rec_t r2 = { .site = "oak", .callid = "c2", .number = "1", .option = "2", .skill = "billing",
                            .outcome = "staff", .offered = 2, .caller = "cafe", .ms = 5 };
    store_hist_rec_t r3 = { .site = "annex", .callid = "c3", .outcome = "final", .status = "486", .ms = 7 };
    const store_hist_rec_t *recs[] = { &r1, &r2, &r3 };
    assert_int_equal(store_build_history(&a, recs, 3, "d86400000", 1796140800500ull), 2);
    static const char *const want[] = {
        "XADD", "fd:{annex}:calls", "MINID", "~", "1796054400500", "*", "v",
        "0123456789abcdef0123456789abcdef\t15125550400\t\t\tafter_hours\t0\t\t1796140800123\n"
        "c3\t\t\t\tfinal\t0\t\t7\t486",
    };
    assert_int_equal(a.argc, sizeof(want) / sizeof(want[0]));
    for (unsigned i = 0; i < a.argc; i++) {
        assert_int_equal(a.lens[i], strlen(want[i]));
        assert_memory_equal(a.argv[i], want[i], a.lens[i]);
    }
    const store_hist_rec_t *rest[] = { &r2 };
    assert_int_equal(store_build_history(&a, rest, 1, "n1000", 5), 1);
    assert_memory_equal(a.argv[2], "MAXLEN", 6);
    assert_memory_equal(a.argv[4], "1000", 4);
    static const char v2[] = "c2\t1\t2\tbilling\tstaff\t2\tcafe\t5";
    assert_int_equal(a.lens[7], strlen(v2));
    assert_memory_equal(a.argv[7], v2, strlen(v2));
    assert_int_equal(store_build_history(&a, rest, 1, "", 5), -EINVAL);
    assert_int_equal(store_build_history(&a, rest, 0, "d1", 5), -EINVAL);
    r2.site[0] = '\0';
    assert_int_equal(store_build_history(&a, rest, 1, "d1", 5), -EINVAL);

    /* more than a batch of one site: the first STORE_HISTORY_BATCH */
    static store_hist_rec_t many[STORE_HISTORY_BATCH + 5];
    const store_hist_rec_t *mp[STORE_HISTORY_BATCH + 5];
    for (unsigned i = 0; i < STORE_HISTORY_BATCH + 5; i++) {
        many[i] = (store_hist_rec_t){ .site = "oak", .outcome = "staff", .ms = i };
        snprintf(many[i].callid, sizeof(many[i].callid), "%032u", i);
        mp[i] = &many[i];
    }
    assert_int_equal(store_build_history(&a, mp, STORE_HISTORY_BATCH + 5, "d1", 5), STORE_HISTORY_BATCH);
}

int main(void)
{
#define T(f) cmocka_unit_test_teardown(f, teardown)
    const struct CMUnitTest tests[] = {
        T(test_picked_one),
        T(test_picked_two_in_order),
        T(test_recorded),
        T(test_none),
        T(test_kind_and_count_disagree),
        T(test_error_reply),
        T(test_wrong_types),
        T(test_unknown_kind),
        T(test_odd_element_count),
        T(test_contact_scheme),
        T(test_contact_injection),
        T(test_lengths),
        T(test_capped_at_max_contacts),
        T(test_decision_outlives_reply),
        T(test_build_chain),
        T(test_build_plain_and_invalid),
        T(test_build_longest),
        T(test_lib_action),
        T(test_build_history_arg),
        T(test_build_history_xadd),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
