/* test_seal_guard: a journal entry's seal columns (seal_pos, prev_hash, hash) are set once, by
 * the seal path, from NULL to a 32-byte hash chain, and never changed or cleared afterwards, by
 * the service role fundledger_app (which holds UPDATE on exactly those columns for sealing) or by
 * the owner: the guard trigger journal_entry_immutable (migrations 0001, 0009). */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fundledger/ledger.h"
#include "loanfix.h"
#include "testdb.h"

static const char *ci;
static struct db *db;
static struct principal manager, approver;
static int64_t fund_id;

/* sql as the service role must fail with SQLSTATE state and a message containing reason. */
static void refused(const char *sql, const char *state, const char *reason)
{
    char st[6];
    char *msg = testdb_service_refusal(ci, sql, st);
    if (msg == NULL) {
        fail_msg("the service role was allowed: %s", sql);
        return;
    }
    bool ok = strcmp(st, state) == 0 && strstr(msg, reason) != NULL;
    if (!ok) {
        fail_msg("%s\n  refused as %s \"%s\", expected %s \"%s\"", sql, st, msg, state, reason);
    }
    free(msg);
}

/* sql as the owner must fail with a message containing reason: the trigger holds for it too. */
static void refused_for_owner(const char *sql, const char *reason)
{
    char *msg = testdb_refusal(ci, sql);
    if (msg == NULL) {
        fail_msg("the owner was allowed: %s", sql);
        return;
    }
    bool ok = strstr(msg, reason) != NULL;
    if (!ok) {
        fail_msg("%s\n  refused as \"%s\", expected \"%s\"", sql, msg, reason);
    }
    free(msg);
}

/* The seal columns of every entry, as one text: what no refused statement may change. */
static char *seals(void)
{
    char *s = testdb_scalar(ci, "SELECT string_agg(id || ':' || coalesce(seal_pos::text, '-') || ':' || "
                                "coalesce(encode(prev_hash, 'hex'), '-') || ':' || "
                                "coalesce(encode(hash, 'hex'), '-'), ',' ORDER BY id) FROM journal_entry");
    assert_non_null(s);
    return s;
}

static int setup(void **state)
{
    (void)state;
    ci = testdb_create("seal_guard");
    db = testdb_open(ci);
    lf_setup(ci, db, &manager, &approver, 10000000000);
    fund_id = lf_make_fund("SEAL", "Seal guard fund");
    int64_t investor = lf_make_investor("UNDP", "XM-DAC-41114");
    /* Two entries: the agreement (tranche_signed) and the contribution. */
    (void)lf_make_tranche(fund_id, investor, "Senior", "senior", 1, "1000000.00", "0.05", "2026-01-10");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    db_close(db);
    return 0;
}

static void test_sealed_entries_never_change(void **state)
{
    (void)state;
    struct fl_error err;
    unsigned sealed = 0;
    assert_int_equal(ledger_seal(db, 1000, &sealed, &err), FLE_OK);
    assert_int_equal(sealed, 2);
    assert_int_equal(lf_scalar_i64("SELECT count(*) FROM journal_entry WHERE seal_pos IS NULL"), 0);
    char *before = seals();

    /* Changed: each column alone, all three together to another valid-looking chain link. */
    refused("UPDATE journal_entry SET seal_pos = seal_pos + 100 WHERE seal_pos = 1", "P0001",
            "posted entries are immutable");
    refused("UPDATE journal_entry SET prev_hash = hash WHERE seal_pos = 2", "P0001", "posted entries are immutable");
    refused("UPDATE journal_entry SET hash = sha256('forged') WHERE seal_pos = 2", "P0001",
            "posted entries are immutable");
    refused("UPDATE journal_entry SET seal_pos = 2, prev_hash = sha256('a'), hash = sha256('b') WHERE seal_pos = 2",
            "P0001", "posted entries are immutable");
    /* Cleared: so that the sealer would seal an edited entry again. */
    refused("UPDATE journal_entry SET seal_pos = NULL, prev_hash = NULL, hash = NULL WHERE seal_pos = 2", "P0001",
            "posted entries are immutable");
    refused("UPDATE journal_entry SET seal_pos = NULL, prev_hash = NULL, hash = NULL", "P0001",
            "posted entries are immutable");
    /* Set to what it is already: still an update of a sealed entry. */
    refused("UPDATE journal_entry SET hash = hash WHERE seal_pos = 1", "P0001", "posted entries are immutable");
    /* The owner is refused the same way (a trigger, not only a privilege). */
    refused_for_owner("UPDATE journal_entry SET seal_pos = NULL, prev_hash = NULL, hash = NULL WHERE seal_pos = 2",
                      "posted entries are immutable");
    refused_for_owner("UPDATE journal_entry SET hash = sha256('forged') WHERE seal_pos = 1",
                      "posted entries are immutable");

    char *after = seals();
    assert_string_equal(after, before);
    free(before);
    free(after);
}

static void test_unsealed_entry_is_sealed_only_whole(void **state)
{
    (void)state;
    /* Two more entries, unsealed: a second tranche's agreement and contribution. */
    (void)lf_make_tranche(fund_id, lf_make_investor("Partner", "CO-RUE-900000001"), "Junior", "first_loss", 2,
                          "500000.00", "0", "2026-01-12");
    int64_t id = lf_scalar_i64("SELECT min(id) FROM journal_entry WHERE seal_pos IS NULL");
    char sql[400];
    assert_true(id > 0);
    char *before = seals();
    /* Only seal_pos, prev_hash and hash together, 32 bytes each; nothing else of the entry. */
    snprintf(sql, sizeof sql,
             "UPDATE journal_entry SET hash = sha256('x'), prev_hash = sha256('y') WHERE id = %" PRId64, id);
    refused(sql, "P0001", "posted entries are immutable");
    snprintf(sql, sizeof sql,
             "UPDATE journal_entry SET seal_pos = 3, prev_hash = sha256('y'), hash = '\\x00' WHERE id = %" PRId64, id);
    refused(sql, "23514", "must be sealed with a 32-byte hash and previous hash");
    snprintf(sql, sizeof sql,
             "UPDATE journal_entry SET seal_pos = 3, prev_hash = sha256('y'), hash = sha256('x'), memo = 'edited' "
             "WHERE id = %" PRId64,
             id);
    refused(sql, "42501", "permission denied for table journal_entry");
    char *after = seals();
    assert_string_equal(after, before);
    free(before);
    free(after);

    /* The seal path seals it once, after the two before it, and the chain verifies. */
    struct fl_error err;
    unsigned sealed = 0;
    assert_int_equal(ledger_seal(db, 1000, &sealed, &err), FLE_OK);
    assert_int_equal(sealed, 2);
    snprintf(sql, sizeof sql, "SELECT seal_pos FROM journal_entry WHERE id = %" PRId64, id);
    assert_int_equal(lf_scalar_i64(sql), 3);
    snprintf(sql, sizeof sql,
             "UPDATE journal_entry SET seal_pos = NULL, prev_hash = NULL, hash = NULL WHERE id = %" PRId64, id);
    refused(sql, "P0001", "posted entries are immutable");
    struct ledger_verify_report rep;
    assert_int_equal(ledger_verify(db, &rep, &err), FLE_OK);
    assert_true(rep.ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sealed_entries_never_change),
        cmocka_unit_test(test_unsealed_entry_is_sealed_only_whole),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
