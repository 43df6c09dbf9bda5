/* Unit tests for error: every fl_error can be sent as JSON (valid UTF-8 in field and message,
 * one line), whatever client text it echoes and wherever truncation cuts. Found by tests/fuzz/fuzz_jsonv. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <string.h>

#include "fundledger/error.h"
#include "fundledger/jsonv.h"

/* true when jansson takes s as a JSON string (it refuses invalid UTF-8). */
static bool sendable(const char *s)
{
    json_t *j = json_string(s);
    json_decref(j);
    return j != NULL;
}

/* The body that crashed the server's error reply: jansson's message quotes the bytes near a bad
 * escape, "\" and the first byte of a two-byte character, which alone is not UTF-8. */
static void test_bad_escape_message_is_utf8(void **state)
{
    (void)state;
    static const char body[] = "{\"memo\":\"\\\xc7\x87\xdd\xd3\xdd\x91\x9a\x8c\":[]}";
    struct fl_error err;
    json_t *j = jv_parse(body, sizeof body - 1, &err);
    assert_null(j);
    assert_int_equal(err.code, FLE_BAD_JSON);
    assert_string_equal(err.message, "line 1 column 11: invalid escape near '\"\\?'");
    assert_true(sendable(err.message));
    assert_string_equal(err.field, "");
}

static void test_invalid_bytes_replaced(void **state)
{
    (void)state;
    struct fl_error err;
    /* A lone continuation byte, an overlong "/", a surrogate, a code point above U+10FFFF, a
     * byte that never occurs (0xff): each invalid byte becomes '?'; valid characters stay. */
    fl_error_set(&err, FLE_BAD_FIELD, "na\x80me", "%s|%s|%s|%s|%s|%s", "\x80", "\xc0\xaf", "\xed\xa0\x80",
                 "\xf4\x90\x80\x80", "\xff", "Bogot\xc3\xa1 \xe2\x82\xac \xf0\x9f\x8c\xb1");
    assert_string_equal(err.field, "na?me");
    assert_string_equal(err.message, "?|??|???|????|?|Bogot\xc3\xa1 \xe2\x82\xac \xf0\x9f\x8c\xb1");
    assert_true(sendable(err.message));
    assert_true(sendable(err.field));
}

/* Messages are one line: a newline or tab quoted from a body becomes '?'. */
static void test_control_characters_replaced(void **state)
{
    (void)state;
    static const char body[] = "{\"a\":\"x\ny\"}";
    struct fl_error err;
    assert_null(jv_parse(body, sizeof body - 1, &err));
    assert_null(strchr(err.message, '\n'));
    fl_error_set(&err, FLE_BAD_FIELD, "f\tg", "one\ntwo\x7f");
    assert_string_equal(err.field, "f?g");
    assert_string_equal(err.message, "one?two?");
}

/* An unknown member whose name is longer than a field holds: truncation cuts a two-byte
 * character after its first byte (62 'a', then "é" at bytes 62-63, the field holds 63). */
static void test_truncated_field_is_utf8(void **state)
{
    (void)state;
    char name[80];
    memset(name, 'a', 62);
    strcpy(name + 62, "\xc3\xa9xyz");
    char body[200];
    snprintf(body, sizeof body, "{\"%s\": 1}", name);
    struct fl_error err;
    json_t *j = jv_parse(body, strlen(body), &err);
    assert_non_null(j);
    static const struct jv_field spec[] = {{"memo", JV_TEXT, false, 0}};
    assert_int_equal(jv_check(j, spec, 1, "", &err), FLE_UNKNOWN_FIELD);
    json_decref(j);
    assert_int_equal(strlen(err.field), ERROR_FIELD_BYTES - 1);
    assert_memory_equal(err.field, name, 62);
    assert_string_equal(err.field + 62, "?");
    assert_true(sendable(err.field));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_escape_message_is_utf8),
        cmocka_unit_test(test_invalid_bytes_replaced),
        cmocka_unit_test(test_truncated_field_is_utf8),
        cmocka_unit_test(test_control_characters_replaced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
