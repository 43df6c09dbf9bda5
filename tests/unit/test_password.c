/* Unit tests for passwords (Argon2id), TOTP (RFC 6238 Appendix B vectors) and CSRF tokens. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <string.h>

#include "fundledger/session.h"

static const struct password_params cheap = {.t_cost = 1, .m_cost_kib = 64, .parallelism = 1};

static void test_password_hash_verify(void **state)
{
    (void)state;
    char h1[PASSWORD_HASH_BYTES], h2[PASSWORD_HASH_BYTES];
    struct fl_error err;
    fl_error_clear(&err);
    assert_int_equal(password_hash(&cheap, "correct horse battery", h1, &err), FLE_OK);
    assert_int_equal(password_hash(&cheap, "correct horse battery", h2, &err), FLE_OK);
    assert_memory_equal(h1, "$argon2id$v=19$m=64,t=1,p=1$", 28);
    assert_string_not_equal(h1, h2); /* a fresh salt each time */
    assert_true(password_verify(h1, "correct horse battery"));
    assert_true(password_verify(h2, "correct horse battery"));
    assert_false(password_verify(h1, "correct horse batterY"));
    assert_false(password_verify(h1, ""));
    assert_false(password_verify("$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaA", "x"));
    assert_false(password_verify(NULL, "x"));
    /* The configured cost is the one used. */
    struct password_params rfc = {.t_cost = 3, .m_cost_kib = 65536, .parallelism = 1};
    assert_int_equal(password_hash(&rfc, "another password!", h1, &err), FLE_OK);
    assert_memory_equal(h1, "$argon2id$v=19$m=65536,t=3,p=1$", 31);
    assert_true(password_verify(h1, "another password!"));
}

static void test_password_length(void **state)
{
    (void)state;
    char h[PASSWORD_HASH_BYTES];
    struct fl_error err;
    fl_error_clear(&err);
    assert_int_equal(password_hash(&cheap, "elevenchars", h, &err), FLE_BAD_FIELD);
    assert_string_equal(err.field, "password");
    char longest[PASSWORD_BYTES_MAX + 2];
    memset(longest, 'a', sizeof longest);
    longest[PASSWORD_BYTES_MAX] = '\0';
    assert_int_equal(password_hash(&cheap, longest, h, &err), FLE_OK);
    assert_true(password_verify(h, longest));
    longest[PASSWORD_BYTES_MAX] = 'a';
    longest[PASSWORD_BYTES_MAX + 1] = '\0';
    assert_int_equal(password_hash(&cheap, longest, h, &err), FLE_BAD_FIELD);
    assert_int_equal(password_hash(&cheap, "twelve chars", h, &err), FLE_OK);
}

/* RFC 6238 Appendix B: the seeds are ASCII "1234567890" repeated to 20, 32 and 64 bytes. */
static void test_totp_rfc6238_vectors(void **state)
{
    (void)state;
    static const struct {
        time_t t;
        const char *sha1, *sha256, *sha512;
    } v[] = {
        {59, "94287082", "46119246", "90693936"},
        {1111111109, "07081804", "68084774", "25091201"},
        {1111111111, "14050471", "67062674", "99943326"},
        {1234567890, "89005924", "91819424", "93441116"},
        {2000000000, "69279037", "90698825", "38618901"},
        {20000000000, "65353130", "77737706", "47863826"},
    };
    const char *seed20 = "12345678901234567890";
    const char *seed32 = "12345678901234567890123456789012";
    const char *seed64 = "1234567890123456789012345678901234567890123456789012345678901234";
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char out[9];
        assert_true(totp_code((const uint8_t *)seed20, 20, v[i].t, 8, 1, out));
        assert_string_equal(out, v[i].sha1);
        assert_true(totp_code((const uint8_t *)seed32, 32, v[i].t, 8, 256, out));
        assert_string_equal(out, v[i].sha256);
        assert_true(totp_code((const uint8_t *)seed64, 64, v[i].t, 8, 512, out));
        assert_string_equal(out, v[i].sha512);
    }
    /* Six digits are the last six of the eight. */
    char six[9];
    assert_true(totp_code((const uint8_t *)seed20, 20, 59, 6, 1, six));
    assert_string_equal(six, "287082");
}

static void test_totp_check_window(void **state)
{
    (void)state;
    const uint8_t *seed = (const uint8_t *)"12345678901234567890";
    int64_t step = 0;
    /* At t = 59 (step 1) the code of step 1 is "287082". */
    assert_true(totp_check(seed, 20, 59, "287082", &step));
    assert_int_equal(step, 1);
    /* One step later (t = 89, step 2) the previous code still passes (clock drift), as step 1. */
    assert_true(totp_check(seed, 20, 89, "287082", &step));
    assert_int_equal(step, 1);
    /* Two steps later it does not. */
    assert_false(totp_check(seed, 20, 119, "287082", &step));
    /* Not six digits. */
    assert_false(totp_check(seed, 20, 59, "28708", &step));
    assert_false(totp_check(seed, 20, 59, "28708x", &step));
    assert_false(totp_check(seed, 20, 59, NULL, &step));
    assert_false(totp_check(seed, 20, 59, "287083", &step));
}

static void test_totp_uri(void **state)
{
    (void)state;
    char uri[TOTP_URI_BYTES];
    assert_true(totp_uri("approver", (const uint8_t *)"12345678901234567890", 20, uri));
    assert_string_equal(uri, "otpauth://totp/fundledger:approver?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
                             "&issuer=fundledger&algorithm=SHA1&digits=6&period=30");
}

static void test_csrf(void **state)
{
    (void)state;
    const char *cookie = "fs_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    char a[SESSION_CSRF_BYTES], b[SESSION_CSRF_BYTES];
    assert_true(session_csrf(cookie, a));
    assert_int_equal(strlen(a), 64);
    assert_true(session_csrf(cookie, b));
    assert_string_equal(a, b);
    assert_true(session_csrf_ok(cookie, a));
    char other[SESSION_CSRF_BYTES];
    assert_true(session_csrf("fs_10112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", other));
    assert_string_not_equal(a, other);
    assert_false(session_csrf_ok(cookie, other));
    assert_false(session_csrf_ok(cookie, NULL));
    assert_false(session_csrf_ok(cookie, ""));
    a[63] = a[63] == '0' ? '1' : '0';
    assert_false(session_csrf_ok(cookie, a));
    assert_true(session_role_needs_totp(ROLE_APPROVER));
    assert_true(session_role_needs_totp(ROLE_ADMIN));
    assert_false(session_role_needs_totp(ROLE_FUND_MANAGER));
    assert_false(session_role_needs_totp(ROLE_INVESTOR));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_password_hash_verify), cmocka_unit_test(test_password_length),
        cmocka_unit_test(test_totp_rfc6238_vectors), cmocka_unit_test(test_totp_check_window),
        cmocka_unit_test(test_totp_uri),             cmocka_unit_test(test_csrf),
    };
    return cmocka_run_group_tests_name("passwords, TOTP and CSRF", tests, NULL, NULL);
}
