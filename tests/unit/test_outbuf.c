/* test_outbuf.c -- the bounded builders (proxy/outbuf.h) the answers and
 * forwarded requests are written with: numbers as snprintf writes them,
 * nothing past the buffer, a full buffer reported once at the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "outbuf.h"

static void test_put_uint_like_printf(void **state)
{
    (void)state;
    const unsigned long v[] = { 0, 7, 10, 69, 255, 5060, 65535, 4294967295ul };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char buf[32], want[32];
        out_t o = { buf, 0, sizeof(buf) - 1, false };
        put_uint(&o, v[i]);
        buf[o.len] = '\0';
        snprintf(want, sizeof(want), "%lu", v[i]);
        assert_false(o.full);
        assert_string_equal(buf, want);
    }
}

static void test_full_buffer_keeps_what_fit(void **state)
{
    (void)state;
    char buf[8];
    memset(buf, 'x', sizeof(buf));
    out_t o = { buf, 0, 6, false };
    puts_(&o, "SIP/");
    put_uint(&o, 2000);          /* does not fit: ignored, full */
    puts_(&o, "ab");             /* would fit, but the buffer is full */
    assert_true(o.full);
    assert_int_equal(o.len, 4);
    assert_memory_equal(buf, "SIP/xxxx", 8); /* nothing written past */
}

static void test_copy_cut(void **state)
{
    (void)state;
    char d[6];
    assert_int_equal(copy_cut(d, sizeof(d), "INVITE", 6), 5);
    assert_string_equal(d, "INVIT");
    assert_int_equal(copy_cut(d, sizeof(d), "ACK", 3), 3);
    assert_string_equal(d, "ACK");
    assert_int_equal(copy_cut(d, sizeof(d), "BYE and more", 3), 3); /* <n> bytes, not the string */
    assert_string_equal(d, "BYE");
    assert_int_equal(copy_cut(d, 1, "x", 1), 0);
    assert_string_equal(d, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_uint_like_printf),
        cmocka_unit_test(test_full_buffer_keeps_what_fit),
        cmocka_unit_test(test_copy_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
