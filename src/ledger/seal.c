/* seal: the SHA-256 hash chain over journal entries, sealed behind the writers, and verify. */
#include <assert.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fundledger/hash.h"
#include "fundledger/ledger.h"

/* Columns of ledger_seal_pending and ledger_verify_chain (0..8), then seal_pos, prev, hash. */
enum { C_ID, C_FUND, C_DATE, C_POSTED_US, C_POSTED_BY, C_MEMO, C_EVENT, C_REF, C_REVERSES, C_POS, C_PREV, C_HASH };

static bool put(struct hash_ctx *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool put(struct hash_ctx *h, const char *fmt, ...)
{
    char buf[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    assert(n >= 0 && (size_t)n < sizeof buf);
    return hash_update(h, buf, (size_t)n);
}

static bool put_text(struct hash_ctx *h, const char *name, const char *s)
{
    size_t n = strlen(s);
    return put(h, "%s=%zu:", name, n) && hash_update(h, s, n) && hash_update(h, "\n", 1);
}

/* SHA-256(prev || canonical(entry row i of r, its lines rows [l0, l1) of lines)). The canonical
 * form is versioned, one field per line, text fields length-prefixed. */
static bool entry_hash(const uint8_t prev[HASH_BYTES], const PGresult *r, int i, const PGresult *lines, int l0,
                       int l1, uint8_t out[HASH_BYTES])
{
    struct hash_ctx *h = hash_begin();
    if (h == NULL) {
        return false;
    }
    bool ok = hash_update(h, prev, HASH_BYTES) && put(h, "fundledger.entry.v1\n") &&
              put(h, "id=%s\n", db_str(r, i, C_ID)) && put(h, "fund=%s\n", db_str(r, i, C_FUND)) &&
              put(h, "date=%s\n", db_str(r, i, C_DATE)) && put(h, "posted_us=%s\n", db_str(r, i, C_POSTED_US)) &&
              put(h, "posted_by=%s\n", db_str(r, i, C_POSTED_BY)) && put_text(h, "memo", db_str(r, i, C_MEMO)) &&
              put_text(h, "event", db_str(r, i, C_EVENT)) && put_text(h, "ref", db_str(r, i, C_REF)) &&
              put(h, "reverses=%s\n", db_str(r, i, C_REVERSES)) && put(h, "lines=%d\n", l1 - l0);
    for (int k = l0; ok && k < l1; k++) {
        ok = put(h, "%s|%s|%s|%s\n", db_str(lines, k, 1), db_str(lines, k, 2), db_str(lines, k, 3),
                 db_str(lines, k, 4));
    }
    return hash_end(h, out) && ok;
}

/* Lines (entry_id, line_no, account_id, currency, amount) of the entries in r, in r's order. */
static PGresult *lines_of(struct db *db, const PGresult *r, struct fl_error *err)
{
    struct db_array ids;
    db_array_init(&ids);
    for (int i = 0; i < PQntuples(r); i++) {
        db_array_i64(&ids, db_i64(r, i, C_ID));
    }
    const char *p[1] = {db_array_str(&ids)};
    PGresult *l = p[0] ? db_exec(db, "ledger_seal_lines", 1, p, err) : NULL;
    db_array_free(&ids);
    return l;
}

struct seal_args {
    unsigned max;
    unsigned sealed;
};

static enum fl_err seal_tx(struct db *db, void *arg, struct fl_error *err)
{
    struct seal_args *a = arg;
    a->sealed = 0;
    PGresult *r = db_exec(db, "ledger_seal_lock", 0, NULL, err);
    if (r == NULL) {
        return err->code;
    }
    PQclear(r);
    r = db_exec(db, "ledger_seal_head", 0, NULL, err);
    if (r == NULL) {
        return err->code;
    }
    int64_t pos = 0;
    uint8_t prev[HASH_BYTES] = {0};
    if (PQntuples(r) == 1) {
        pos = db_i64(r, 0, 0);
        bool ok = hash_unhex(db_str(r, 0, 1), prev, HASH_BYTES);
        assert(ok);
        (void)ok;
    }
    PQclear(r);
    char lim[21];
    const char *p[1] = {db_i64_text(a->max, lim)};
    r = db_exec(db, "ledger_seal_pending", 1, p, err);
    if (r == NULL) {
        return err->code;
    }
    int n = PQntuples(r);
    if (n == 0) {
        PQclear(r);
        return FLE_OK;
    }
    PGresult *lines = lines_of(db, r, err);
    if (lines == NULL) {
        PQclear(r);
        return err->code;
    }
    struct db_array ids, poss, prevs, hashes;
    db_array_init(&ids);
    db_array_init(&poss);
    db_array_init(&prevs);
    db_array_init(&hashes);
    int at = 0, total = PQntuples(lines);
    enum fl_err e = FLE_OK;
    for (int i = 0; i < n && e == FLE_OK; i++) {
        int64_t id = db_i64(r, i, C_ID);
        int start = at;
        while (at < total && db_i64(lines, at, 0) == id) {
            at++;
        }
        uint8_t h[HASH_BYTES];
        char prev_hex[HASH_HEX_BYTES], h_hex[HASH_HEX_BYTES];
        if (!entry_hash(prev, r, i, lines, start, at, h)) {
            e = fl_error_set(err, FLE_INTERNAL, NULL, "hashing failed");
            break;
        }
        hash_hex(prev, HASH_BYTES, prev_hex);
        hash_hex(h, HASH_BYTES, h_hex);
        db_array_i64(&ids, id);
        db_array_i64(&poss, ++pos);
        db_array_text(&prevs, prev_hex);
        db_array_text(&hashes, h_hex);
        memcpy(prev, h, HASH_BYTES);
    }
    PQclear(lines);
    PQclear(r);
    if (e == FLE_OK) {
        const char *pu[4] = {db_array_str(&ids), db_array_str(&poss), db_array_str(&prevs), db_array_str(&hashes)};
        if (!pu[0] || !pu[1] || !pu[2] || !pu[3]) {
            e = fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
        } else if ((r = db_exec_rows(db, "ledger_seal_update", 4, pu, n, err)) == NULL) {
            e = err->code;
        } else {
            PQclear(r);
            a->sealed = (unsigned)n;
        }
    }
    db_array_free(&ids);
    db_array_free(&poss);
    db_array_free(&prevs);
    db_array_free(&hashes);
    return e;
}

enum fl_err ledger_seal(struct db *db, unsigned max, unsigned *sealed, struct fl_error *err)
{
    assert(db != NULL && max >= 1 && max <= LEDGER_BATCH_ENTRIES_MAX);
    struct seal_args a = {.max = max, .sealed = 0};
    enum fl_err e = db_tx(db, seal_tx, &a, err);
    if (sealed) {
        *sealed = e == FLE_OK ? a.sealed : 0;
    }
    return e;
}

static enum fl_err verify_chain(struct db *db, struct ledger_verify_report *rep, struct fl_error *err)
{
    uint8_t prev[HASH_BYTES] = {0};
    int64_t pos = 0;
    char posb[21], lim[21];
    /* Every round reads the next chunk in seal order: memory stays bounded. */
    for (int64_t round = 0; round < INT64_MAX; round++) {
        const char *p[2] = {db_i64_text(pos, posb), db_i64_text(LEDGER_SEAL_CHUNK, lim)};
        PGresult *r = db_exec(db, "ledger_verify_chain", 2, p, err);
        if (r == NULL) {
            return err->code;
        }
        int n = PQntuples(r);
        if (n == 0) {
            PQclear(r);
            return FLE_OK;
        }
        PGresult *lines = lines_of(db, r, err);
        if (lines == NULL) {
            PQclear(r);
            return err->code;
        }
        int at = 0, total = PQntuples(lines);
        for (int i = 0; i < n; i++) {
            int64_t id = db_i64(r, i, C_ID);
            int start = at;
            while (at < total && db_i64(lines, at, 0) == id) {
                at++;
            }
            uint8_t want_prev[HASH_BYTES], want[HASH_BYTES], got[HASH_BYTES];
            const char *problem = NULL;
            if (db_i64(r, i, C_POS) != pos + 1) {
                problem = "a gap in the seal sequence";
            } else if (!hash_unhex(db_str(r, i, C_PREV), want_prev, HASH_BYTES) ||
                       memcmp(want_prev, prev, HASH_BYTES) != 0) {
                problem = "its previous hash does not match the chain";
            } else if (!entry_hash(prev, r, i, lines, start, at, got) ||
                       !hash_unhex(db_str(r, i, C_HASH), want, HASH_BYTES) || memcmp(want, got, HASH_BYTES) != 0) {
                problem = "its content does not match its hash (altered after sealing)";
            }
            if (problem != NULL) {
                rep->ok = false;
                rep->first_bad_entry = id;
                snprintf(rep->problem, sizeof rep->problem, "entry %" PRId64 " (seal %" PRId64 "): %s", id,
                         db_i64(r, i, C_POS), problem);
                PQclear(lines);
                PQclear(r);
                return FLE_OK;
            }
            memcpy(prev, got, HASH_BYTES);
            pos++;
            rep->entries_checked++;
        }
        PQclear(lines);
        PQclear(r);
    }
    return FLE_OK;
}

static int64_t scalar(struct db *db, const char *stmt, bool *has_row, struct fl_error *err)
{
    PGresult *r = db_exec(db, stmt, 0, NULL, err);
    if (r == NULL) {
        *has_row = false;
        return -1;
    }
    *has_row = PQntuples(r) > 0;
    int64_t v = *has_row ? db_i64(r, 0, 0) : 0;
    PQclear(r);
    return v;
}

enum fl_err ledger_verify(struct db *db, struct ledger_verify_report *rep, struct fl_error *err)
{
    assert(db != NULL && rep != NULL);
    memset(rep, 0, sizeof *rep);
    rep->ok = true;
    enum fl_err e = verify_chain(db, rep, err);
    if (e != FLE_OK || !rep->ok) {
        return e;
    }
    bool row;
    rep->entries_unsealed = scalar(db, "ledger_verify_unsealed", &row, err);
    if (!row) {
        return err->code;
    }
    int64_t bad = scalar(db, "ledger_verify_unbalanced", &row, err);
    if (rep->entries_unsealed < 0 || bad < 0) {
        return err->code;
    }
    if (row) {
        rep->ok = false;
        rep->first_bad_entry = bad;
        snprintf(rep->problem, sizeof rep->problem, "entry %" PRId64 " does not balance or has fewer than 2 lines",
                 bad);
        return FLE_OK;
    }
    rep->accounts_checked = scalar(db, "ledger_verify_accounts", &row, err);
    if (rep->accounts_checked < 0) {
        return err->code;
    }
    PGresult *r = db_exec(db, "ledger_verify_balances", 0, NULL, err);
    if (r == NULL) {
        return err->code;
    }
    if (PQntuples(r) > 0) {
        rep->ok = false;
        rep->first_bad_account = db_i64(r, 0, 0);
        snprintf(rep->problem, sizeof rep->problem,
                 "account %" PRId64 " holds balance %s but its journal lines sum to %s", db_i64(r, 0, 0),
                 db_str(r, 0, 1), db_str(r, 0, 2));
    }
    PQclear(r);
    return FLE_OK;
}
