/* test_fwdmemo.c -- where recent INVITEs were forwarded (proxy/fwdmemo.c):
 * a follow-up finds its INVITE's destination by the INVITE's branch, never
 * another call's, not after the TTL, and never a half-written entry while
 * workers write. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fwdmemo.h"

static fwdmemo_dest_t dest(const char *uri, unsigned port)
{
    fwdmemo_dest_t d;
    memset(&d, 0, sizeof(d));
    snprintf(d.uri, sizeof(d.uri), "%s", uri);
    struct sockaddr_in *a = (struct sockaddr_in *)&d.addr;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, "127.0.0.1", &a->sin_addr);
    d.addr_len = sizeof(*a);
    return d;
}

static unsigned port_of(const fwdmemo_dest_t *d)
{
    return ntohs(((const struct sockaddr_in *)&d->addr)->sin_port);
}

static void test_hit_same_call_only(void **state)
{
    (void)state;
    fwdmemo_t *m = fwdmemo_new(64, 32000);
    assert_non_null(m);
    fwdmemo_dest_t in = dest("sip:ana@10.0.0.7:5060", 5070), out;
    static const char b1[] = "z9hG4bK-fd-5d4029e490d36ddf4087ed72";
    fwdmemo_put(m, b1, strlen(b1), &in, 1000);

    assert_true(fwdmemo_get(m, b1, strlen(b1), 1001, &out));
    assert_string_equal(out.uri, "sip:ana@10.0.0.7:5060");
    assert_int_equal(port_of(&out), 5070);
    assert_int_equal(out.addr_len, sizeof(struct sockaddr_in));

    /* another branch (another pass of the same INVITE through us, another
     * call), a prefix of it: not this one */
    assert_false(fwdmemo_get(m, "z9hG4bK-fd-5d4029e490d36ddf4087ed73", strlen(b1), 1001, &out));
    assert_false(fwdmemo_get(m, b1, strlen(b1) - 1, 1001, &out));
    fwdmemo_free(m);
}

static void test_expires_after_ttl(void **state)
{
    (void)state;
    fwdmemo_t *m = fwdmemo_new(64, 500);
    fwdmemo_dest_t in = dest("sip:vm@10.0.0.9", 5060), out;
    fwdmemo_put(m, "c@x", 3, &in, 10000);
    assert_true(fwdmemo_get(m, "c@x", 3, 10500, &out));
    assert_false(fwdmemo_get(m, "c@x", 3, 10501, &out));
    fwdmemo_free(m);
}

/* a retransmitted INVITE sent elsewhere (its first destination went
 * down): the follow-up goes where the latest copy went */
static void test_latest_destination_wins(void **state)
{
    (void)state;
    fwdmemo_t *m = fwdmemo_new(64, 32000);
    fwdmemo_dest_t a = dest("sip:ana@10.0.0.7", 5061), b = dest("sip:ben@10.0.0.8", 5062), out;
    fwdmemo_put(m, "c@x", 3, &a, 100);
    fwdmemo_put(m, "c@x", 3, &b, 200);
    assert_true(fwdmemo_get(m, "c@x", 3, 300, &out));
    assert_string_equal(out.uri, "sip:ben@10.0.0.8");
    assert_int_equal(port_of(&out), 5062);
    fwdmemo_free(m);
}

/* more calls than slots: the old ones are forgotten (the caller asks
 * Redis), none answers with another call's destination */
static void test_full_table_never_mixes_calls(void **state)
{
    (void)state;
    fwdmemo_t *m = fwdmemo_new(16, 32000);
    char key[32], uri[64];
    for (unsigned i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "call-%u@pbx", i);
        snprintf(uri, sizeof(uri), "sip:s%u@10.0.0.1", i);
        fwdmemo_dest_t d = dest(uri, 1000 + i);
        fwdmemo_put(m, key, strlen(key), &d, 5);
    }
    unsigned hits = 0;
    for (unsigned i = 0; i < 1000; i++) {
        fwdmemo_dest_t out;
        snprintf(key, sizeof(key), "call-%u@pbx", i);
        snprintf(uri, sizeof(uri), "sip:s%u@10.0.0.1", i);
        if (!fwdmemo_get(m, key, strlen(key), 6, &out)) continue;
        hits++;
        assert_string_equal(out.uri, uri);
        assert_int_equal(port_of(&out), 1000 + i);
    }
    assert_in_range(hits, 1, 16);
    /* the newest call is always there */
    fwdmemo_dest_t out;
    assert_true(fwdmemo_get(m, "call-999@pbx", 12, 6, &out));
    fwdmemo_free(m);
}

static void test_refuses_what_it_cannot_keep(void **state)
{
    (void)state;
    fwdmemo_t *m = fwdmemo_new(64, 32000);
    char key[FWDMEMO_KEY_MAX + 1];
    memset(key, 'k', sizeof(key));
    fwdmemo_dest_t in = dest("sip:ana@10.0.0.7", 5060), out;
    fwdmemo_put(m, key, sizeof(key), &in, 1);
    assert_false(fwdmemo_get(m, key, sizeof(key), 2, &out));
    fwdmemo_put(m, key, FWDMEMO_KEY_MAX, &in, 1);
    assert_true(fwdmemo_get(m, key, FWDMEMO_KEY_MAX, 2, &out));
    /* empty key, no memo: nothing, no crash */
    fwdmemo_put(m, "", 0, &in, 1);
    assert_false(fwdmemo_get(m, "", 0, 2, &out));
    fwdmemo_put(NULL, "c", 1, &in, 1);
    assert_false(fwdmemo_get(NULL, "c", 1, 2, &out));
    fwdmemo_free(NULL);
    fwdmemo_free(m);
}

/* Workers write and read the same slots at once: a reader sees a whole
 * entry of the call it asked for, or nothing. Each writer's URI and port
 * are derived from the key, so a torn or mixed entry shows. */
typedef struct {
    fwdmemo_t *m;
    unsigned seed;
    unsigned bad;
} racer_t;

static void *race(void *arg)
{
    racer_t *r = arg;
    char key[32], uri[64];
    for (unsigned n = 0; n < 200000; n++) {
        unsigned i = (n * 2654435761u + r->seed) % 64;
        snprintf(key, sizeof(key), "race-%u", i);
        snprintf(uri, sizeof(uri), "sip:staff-%u-%0*u@10.0.0.1", i, (int)(i % 40) + 1, i);
        if (n % 3 == 0) {
            fwdmemo_dest_t d = dest(uri, 2000 + i);
            fwdmemo_put(r->m, key, strlen(key), &d, n);
        } else {
            fwdmemo_dest_t out;
            if (fwdmemo_get(r->m, key, strlen(key), 0, &out) &&
                (strcmp(out.uri, uri) != 0 || port_of(&out) != 2000 + i))
                r->bad++;
        }
    }
    return NULL;
}

static void test_concurrent_workers(void **state)
{
    (void)state;
    fwdmemo_t *m = fwdmemo_new(16, 1u << 30);
    racer_t r[4];
    pthread_t t[4];
    for (unsigned i = 0; i < 4; i++) {
        r[i] = (racer_t){ m, i * 7919u, 0 };
        assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
    }
    for (unsigned i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(r[i].bad, 0);
    }
    fwdmemo_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hit_same_call_only),
        cmocka_unit_test(test_expires_after_ttl),
        cmocka_unit_test(test_latest_destination_wins),
        cmocka_unit_test(test_full_table_never_mixes_calls),
        cmocka_unit_test(test_refuses_what_it_cannot_keep),
        cmocka_unit_test(test_concurrent_workers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
