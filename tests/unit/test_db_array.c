/* Unit tests for the array literals that carry a batch to one statement (src/db/array.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fundledger/db.h"

static void test_integers(void **state)
{
    (void)state;
    struct db_array a;
    db_array_init(&a);
    const int64_t v[] = {0, 7, -7, 10, -10, 1234567890123, INT64_MAX, INT64_MIN, -1};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        assert_true(db_array_i64(&a, v[i]));
    }
    assert_string_equal(db_array_str(&a), "{0,7,-7,10,-10,1234567890123,9223372036854775807,-9223372036854775808,-1}");
    db_array_free(&a);
}

/* Every power of ten and its neighbours, both signs, against the C library's formatting. */
static void test_integers_match_printf(void **state)
{
    (void)state;
    int64_t p = 1;
    for (int k = 0; k <= 18; k++) {
        if (k > 0) {
            p *= 10; /* up to 10^18, below INT64_MAX */
        }
        const int64_t v[] = {p - 1, p, p + 1, -(p - 1), -p, -(p + 1)};
        for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
            struct db_array a;
            db_array_init(&a);
            assert_true(db_array_i64(&a, v[i]));
            char want[32];
            snprintf(want, sizeof want, "{%" PRId64 "}", v[i]);
            assert_string_equal(db_array_str(&a), want);
            db_array_free(&a);
        }
    }
}

static void test_text_null_and_empty(void **state)
{
    (void)state;
    struct db_array a;
    db_array_init(&a);
    assert_string_equal(db_array_str(&a), "{}");
    assert_true(db_array_text(&a, "plain"));
    assert_true(db_array_null(&a));
    assert_true(db_array_text(&a, "quote \" and back\\slash, {brace}"));
    assert_true(db_array_text(&a, ""));
    assert_true(db_array_i64(&a, 42));
    assert_string_equal(db_array_str(&a), "{\"plain\",NULL,\"quote \\\" and back\\\\slash, {brace}\",\"\",42}");
    db_array_free(&a);
}

/* Growth past the first buffer keeps every element. */
static void test_many(void **state)
{
    (void)state;
    struct db_array a;
    db_array_init(&a);
    int64_t sum = 0;
    for (int64_t i = -5000; i < 5000; i++) {
        assert_true(db_array_i64(&a, i * 1000003));
        sum += i * 1000003;
    }
    const char *s = db_array_str(&a);
    assert_non_null(s);
    int64_t got = 0;
    int n = 0;
    for (const char *p = s + 1; *p != '\0' && *p != '}';) {
        char *end;
        got += strtoll(p, &end, 10);
        n++;
        p = *end == ',' ? end + 1 : end;
    }
    assert_int_equal(n, 10000);
    assert_int_equal(got, sum);
    db_array_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_integers_match_printf),
        cmocka_unit_test(test_text_null_and_empty),
        cmocka_unit_test(test_many),
    };
    return cmocka_run_group_tests_name("db array literals", tests, NULL, NULL);
}
