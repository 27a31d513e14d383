/* test_hist.c -- bench/hist.c: bucket layout, percentiles, merge, reset.
 *
 * hist.c is part of fd-bench, not of libproxy.a, so it is included here
 * whole; its static helpers are tested directly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "../../bench/hist.c"

/* ---------------------------------------------------------------------------
 * Bucket layout
 * ------------------------------------------------------------------------ */

static void test_bucket_edges(void **state)
{
    (void)state;
    /* exact below 1 ms */
    assert_int_equal(hist_bucket_of(1), 1);
    assert_int_equal(hist_bucket_of(999), 999);
    /* 1 ms .. 10 ms in 10 us steps */
    assert_int_equal(hist_bucket_of(1000), 1000);
    assert_int_equal(hist_bucket_of(1009), 1000);
    assert_int_equal(hist_bucket_of(1010), 1001);
    assert_int_equal(hist_bucket_of(9999), 1899);
    /* each decade starts a new run of 900 */
    assert_int_equal(hist_bucket_of(10000), 1900);
    assert_int_equal(hist_bucket_of(100000), 2800);
    assert_int_equal(hist_bucket_of(1000000), 3700);
    assert_int_equal(hist_bucket_of(9999999), 4599);
    /* 10 s and beyond share the overflow bucket */
    assert_int_equal(hist_bucket_of(10000000), HIST_OVERFLOW);
    assert_int_equal(hist_bucket_of(UINT64_MAX), HIST_OVERFLOW);

    assert_int_equal(hist_bucket_low(1000), 1000);
    assert_int_equal(hist_bucket_high(1000), 1009);
    assert_int_equal(hist_bucket_low(1900), 10000);
    assert_int_equal(hist_bucket_high(1899), 9999);
    assert_int_equal(hist_bucket_high(4599), 9999999);
    assert_true(hist_bucket_high(HIST_OVERFLOW) == UINT64_MAX);
}

/* Every value lies in its bucket, buckets are contiguous and at most 1% of
 * their value wide. */
static void test_bucket_cover(void **state)
{
    (void)state;
    for (unsigned i = 1; i < HIST_OVERFLOW; i++) {
        uint64_t lo = hist_bucket_low(i), hi = hist_bucket_high(i);
        assert_true(lo <= hi);
        assert_int_equal(hist_bucket_of(lo), i);
        assert_int_equal(hist_bucket_of(hi), i);
        assert_int_equal(hist_bucket_low(i + 1), hi + 1);
        assert_true((hi - lo + 1) * 100 <= lo || lo < HIST_EXACT);
    }
    for (uint64_t v = 1; v < HIST_MAX_US; v = v * 3 / 2 + 1) {
        unsigned b = hist_bucket_of(v);
        assert_true(hist_bucket_low(b) <= v && v <= hist_bucket_high(b));
    }
}

/* ---------------------------------------------------------------------------
 * Percentiles
 * ------------------------------------------------------------------------ */

static void test_empty(void **state)
{
    (void)state;
    hist_t *h = hist_new();
    assert_non_null(h);
    assert_int_equal(hist_count(h), 0);
    assert_int_equal(hist_percentile(h, 50), 0);
    assert_int_equal(hist_percentile(h, 99.9), 0);
    assert_int_equal(hist_min(h), 0);
    assert_int_equal(hist_max(h), 0);
    assert_true(hist_mean(h) == 0.0);
    hist_free(h);
    hist_free(NULL);
}

static void test_single_value(void **state)
{
    (void)state;
    hist_t *h = hist_new();
    hist_record(h, 12345); /* bucket 12300..12399: clamped to what was seen */
    assert_int_equal(hist_percentile(h, 50), 12345);
    assert_int_equal(hist_percentile(h, 99.9), 12345);
    assert_int_equal(hist_percentile(h, 0), 12345);
    assert_int_equal(hist_percentile(h, 100), 12345);
    assert_int_equal(hist_min(h), 12345);
    assert_int_equal(hist_max(h), 12345);
    hist_free(h);
}

static void test_zero_counts_as_one(void **state)
{
    (void)state;
    hist_t *h = hist_new();
    hist_record(h, 0);
    assert_int_equal(hist_count(h), 1);
    assert_int_equal(hist_min(h), 1);
    assert_int_equal(hist_percentile(h, 50), 1);
    hist_free(h);
}

/* 1..1000 us once each: exact region, exact ranks. */
static void test_uniform_exact(void **state)
{
    (void)state;
    hist_t *h = hist_new();
    for (uint64_t v = 1; v <= 1000; v++) hist_record(h, v);
    assert_int_equal(hist_count(h), 1000);
    assert_int_equal(hist_percentile(h, 50), 500);
    assert_int_equal(hist_percentile(h, 99), 990);
    assert_int_equal(hist_percentile(h, 99.9), 999);
    assert_int_equal(hist_percentile(h, 100), 1000);
    assert_int_equal(hist_percentile(h, 0.1), 1);
    assert_true(hist_mean(h) > 500.49 && hist_mean(h) < 500.51);
    hist_free(h);
}

/* 1..100000 us: above 1 ms the answer is within 1% above the truth. */
static void test_uniform_wide(void **state)
{
    (void)state;
    hist_t *h = hist_new();
    for (uint64_t v = 1; v <= 100000; v++) hist_record(h, v);
    static const struct {
        double p;
        uint64_t truth;
    } want[] = {{50, 50000}, {90, 90000}, {99, 99000}, {99.9, 99900}, {99.99, 99990}};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        uint64_t got = hist_percentile(h, want[i].p);
        assert_true(got >= want[i].truth);
        assert_true(got <= want[i].truth + want[i].truth / 100);
    }
    assert_int_equal(hist_percentile(h, 100), 100000);
    hist_free(h);
}

/* A tail: 990 fast calls and 10 slow ones. */
static void test_tail(void **state)
{
    (void)state;
    hist_t *h = hist_new();
    for (int i = 0; i < 990; i++) hist_record(h, 100);
    for (int i = 0; i < 10; i++) hist_record(h, 50000);
    assert_int_equal(hist_percentile(h, 50), 100);
    assert_int_equal(hist_percentile(h, 99), 100);     /* rank 990 */
    assert_int_equal(hist_percentile(h, 99.1), 50000); /* rank 991 */
    assert_int_equal(hist_percentile(h, 99.9), 50000); /* clamped to max */
    hist_free(h);
}

/* Beyond 10 s: counted, reported through the exact maximum. */
static void test_overflow(void **state)
{
    (void)state;
    hist_t *h = hist_new();
    hist_record(h, 10);
    hist_record(h, 20000000);
    assert_int_equal(hist_percentile(h, 50), 10);
    assert_int_equal(hist_percentile(h, 99), 20000000);
    assert_int_equal(hist_max(h), 20000000);
    hist_free(h);
}

static void test_merge_reset(void **state)
{
    (void)state;
    hist_t *a = hist_new(), *b = hist_new(), *all = hist_new();
    for (uint64_t v = 1; v <= 5000; v++) {
        hist_record(v % 2 ? a : b, v * 7);
        hist_record(all, v * 7);
    }
    hist_t *empty = hist_new();
    hist_merge(a, empty); /* no-op */
    hist_merge(a, b);
    assert_int_equal(hist_count(a), hist_count(all));
    assert_int_equal(hist_min(a), hist_min(all));
    assert_int_equal(hist_max(a), hist_max(all));
    const double ps[] = {1, 50, 99, 99.9};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(hist_percentile(a, ps[i]), hist_percentile(all, ps[i]));

    hist_merge(empty, b); /* into an empty one: min is taken, not 0 */
    assert_int_equal(hist_min(empty), 14);

    hist_reset(a);
    assert_int_equal(hist_count(a), 0);
    assert_int_equal(hist_percentile(a, 50), 0);
    hist_record(a, 3);
    assert_int_equal(hist_min(a), 3);
    assert_int_equal(hist_max(a), 3);
    hist_free(a);
    hist_free(b);
    hist_free(all);
    hist_free(empty);
}

/* ---------------------------------------------------------------------------
 * hist_write_dat: the file bench/plot.sh draws
 * ------------------------------------------------------------------------ */

/* hist_write_dat() of <h> into a string the caller frees. */
static char *dat_of(const hist_t *h)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(hist_write_dat(h, f), 0);
    fclose(f);
    return buf;
}

static void test_dat_empty(void **state)
{
    (void)state;
    hist_t *h = hist_new();
    char *d = dat_of(h);
    /* two comment lines, no bucket */
    assert_string_equal(d, "# fd-bench latency histogram: 0 answers, max 0 us\n"
                           "# upper_ms count cumulative\n");
    free(d);
    hist_free(h);
}

static void test_dat_buckets(void **state)
{
    (void)state;
    hist_t *h = hist_new();
    hist_record(h, 5);      /* exact bucket: 0.005 ms */
    hist_record(h, 5);
    hist_record(h, 1234);   /* bucket 1230..1239 us: its top, below the max */
    hist_record(h, 20000);  /* 20000..20099 us; the max, so clamped to 20000 */
    char *d = dat_of(h);
    assert_string_equal(d, "# fd-bench latency histogram: 4 answers, max 20000 us\n"
                           "# upper_ms count cumulative\n"
                           "0.005 2 0.500000\n"
                           "1.239 1 0.750000\n"
                           "20.000 1 1.000000\n");
    free(d);
    hist_free(h);
}

static void test_dat_overflow(void **state)
{
    (void)state;
    hist_t *h = hist_new();
    hist_record(h, 25000000); /* 25 s: the overflow bucket, bounded by the max */
    char *d = dat_of(h);
    assert_non_null(strstr(d, "\n25000.000 1 1.000000\n"));
    free(d);
    hist_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket_edges),
        cmocka_unit_test(test_bucket_cover),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_single_value),
        cmocka_unit_test(test_zero_counts_as_one),
        cmocka_unit_test(test_uniform_exact),
        cmocka_unit_test(test_uniform_wide),
        cmocka_unit_test(test_tail),
        cmocka_unit_test(test_overflow),
        cmocka_unit_test(test_merge_reset),
        cmocka_unit_test(test_dat_empty),
        cmocka_unit_test(test_dat_buckets),
        cmocka_unit_test(test_dat_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
