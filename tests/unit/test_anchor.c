/* test_anchor: the signed chain head without a database: the exact message, sign and check, any
 * changed field refused, the log line format, key files (created 0600, refused when readable by
 * others, never created by a verifier). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fundledger/anchor.h"

static char dir[64];
static struct anchor_paths paths;

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/fundledger-anchor-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        return -1;
    }
    /* A directory that does not exist yet: the signer makes it. */
    snprintf(paths.key, sizeof paths.key, "%s/keys/anchor.key", dir);
    snprintf(paths.public_key, sizeof paths.public_key, "%s/keys/anchor.key.pub", dir);
    snprintf(paths.log, sizeof paths.log, "%s/anchor.log", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static struct anchor_head sample(void)
{
    struct anchor_head h;
    memset(&h, 0, sizeof h);
    h.seal_pos = 3;
    h.entry_id = 7;
    h.count = 3;
    memset(h.hash, 0xab, sizeof h.hash);
    memset(h.chain, 0x01, sizeof h.chain);
    return h;
}

static void test_message_is_exact(void **state)
{
    (void)state;
    struct anchor_head h = sample();
    snprintf(h.key_id, sizeof h.key_id, "0123456789abcdef");
    char msg[ANCHOR_MESSAGE_BYTES];
    size_t n = anchor_message(&h, msg);
    const char *want = "fundledger.anchor.v1\n"
                       "chain=0101010101010101010101010101010101010101010101010101010101010101\n"
                       "seal_pos=3\nentry_id=7\ncount=3\n"
                       "hash=abababababababababababababababababababababababababababababababab\n"
                       "key_id=0123456789abcdef\n";
    assert_string_equal(msg, want);
    assert_int_equal(n, strlen(want));
}

static void test_sign_check_and_tamper(void **state)
{
    (void)state;
    struct anchor_signer *s = NULL;
    struct fl_error err;
    fl_error_clear(&err);
    /* A verifier never creates a key. */
    struct anchor_verifier *v = NULL;
    assert_int_equal(anchor_verifier_open(&paths, &v, &err), FLE_NOT_FOUND);
    assert_int_not_equal(access(paths.key, F_OK), 0);
    assert_int_equal(anchor_signer_open(&paths, &s, &err), FLE_OK);
    struct stat st;
    assert_int_equal(stat(paths.key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(paths.public_key, &st), 0);
    assert_int_equal(anchor_verifier_open(&paths, &v, &err), FLE_OK);
    assert_int_equal(strlen(anchor_verifier_key_id(v)), 16);
    struct anchor_head h = sample();
    assert_true(anchor_sign(s, &h));
    assert_string_equal(h.key_id, anchor_verifier_key_id(v));
    assert_true(anchor_check(v, &h));
    /* Every signed field matters. */
    struct anchor_head t = h;
    t.seal_pos++;
    assert_false(anchor_check(v, &t));
    t = h;
    t.entry_id++;
    assert_false(anchor_check(v, &t));
    t = h;
    t.count--;
    assert_false(anchor_check(v, &t));
    t = h;
    t.hash[31] ^= 1;
    assert_false(anchor_check(v, &t));
    t = h;
    t.chain[0] ^= 1;
    assert_false(anchor_check(v, &t));
    t = h;
    t.sig[0] ^= 1;
    assert_false(anchor_check(v, &t));
    /* The log line reads back to the same head, signature included. */
    assert_int_equal(anchor_log_append(s, &h, &err), FLE_OK);
    FILE *f = fopen(paths.log, "r");
    assert_non_null(f);
    char line[ANCHOR_LINE_BYTES_MAX];
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    struct anchor_head back;
    assert_true(anchor_line_parse(line, strlen(line), &back));
    assert_int_equal(back.seal_pos, 3);
    assert_int_equal(back.entry_id, 7);
    assert_int_equal(back.count, 3);
    assert_memory_equal(back.hash, h.hash, HASH_BYTES);
    assert_memory_equal(back.chain, h.chain, HASH_BYTES);
    assert_true(anchor_check(v, &back));
    assert_false(anchor_line_parse("{\"v\":1}", 7, &back));
    assert_false(anchor_line_parse("not json", 8, &back));
    /* Opened again, the signer uses the same key. */
    anchor_signer_close(s);
    s = NULL;
    assert_int_equal(anchor_signer_open(&paths, &s, &err), FLE_OK);
    struct anchor_head h2 = sample();
    assert_true(anchor_sign(s, &h2));
    assert_true(anchor_check(v, &h2));
    anchor_signer_close(s);
    anchor_verifier_close(v);
}

static void test_key_readable_by_others_is_refused(void **state)
{
    (void)state;
    assert_int_equal(chmod(paths.key, 0644), 0);
    struct anchor_signer *s = NULL;
    struct fl_error err;
    fl_error_clear(&err);
    assert_int_equal(anchor_signer_open(&paths, &s, &err), FLE_INTERNAL);
    assert_null(s);
    assert_non_null(strstr(err.message, "0600"));
    assert_int_equal(chmod(paths.key, 0600), 0);
    assert_int_equal(anchor_signer_open(&paths, &s, &err), FLE_OK);
    anchor_signer_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_message_is_exact),
        cmocka_unit_test(test_sign_check_and_tamper),
        cmocka_unit_test(test_key_readable_by_others_is_refused),
    };
    return cmocka_run_group_tests_name("anchor", tests, setup, teardown);
}
