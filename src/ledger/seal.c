/* seal: the SHA-256 hash chain over journal entries, sealed behind the writers and anchored by
 * signatures outside the database, and verify. */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fundledger/anchor.h"
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
    const struct anchor_signer *signer; /* NULL: seal without anchoring */
    bool anchored;                      /* head was signed and stored in this transaction */
    struct anchor_head head;
};

/* Signs the chain's head (pos, id, hash) and stores it, when it is past the last anchor. */
static enum fl_err anchor_head_tx(struct db *db, struct seal_args *a, int64_t pos, int64_t id,
                                  const uint8_t hash[HASH_BYTES], const uint8_t genesis[HASH_BYTES],
                                  int64_t anchored_pos, struct fl_error *err)
{
    if (a->signer == NULL || pos <= anchored_pos) {
        return FLE_OK;
    }
    struct anchor_head *h = &a->head;
    memset(h, 0, sizeof *h);
    memcpy(h->chain, genesis, HASH_BYTES);
    h->seal_pos = pos;
    h->entry_id = id;
    h->count = pos - anchored_pos;
    memcpy(h->hash, hash, HASH_BYTES);
    if (!anchor_sign(a->signer, h)) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "signing the chain's head failed");
    }
    char pb[21], ib[21], cb[21], hx[HASH_HEX_BYTES], sx[ANCHOR_SIG_HEX_BYTES], gx[HASH_HEX_BYTES];
    hash_hex(h->hash, HASH_BYTES, hx);
    hash_hex(h->sig, ANCHOR_SIG_BYTES, sx);
    hash_hex(h->chain, HASH_BYTES, gx);
    const char *p[7] = {db_i64_text(pos, pb), db_i64_text(id, ib), db_i64_text(h->count, cb), hx, h->key_id, sx, gx};
    PGresult *r = db_exec(db, "ledger_anchor_insert", 7, p, err);
    if (r == NULL) {
        return err->code;
    }
    PQclear(r);
    a->anchored = true;
    return FLE_OK;
}

static enum fl_err seal_tx(struct db *db, void *arg, struct fl_error *err)
{
    struct seal_args *a = arg;
    a->sealed = 0;
    a->anchored = false;
    PGresult *r = db_exec(db, "ledger_seal_lock", 0, NULL, err);
    if (r == NULL) {
        return err->code;
    }
    PQclear(r);
    r = db_exec(db, "ledger_seal_head", 0, NULL, err);
    if (r == NULL) {
        return err->code;
    }
    int64_t pos = 0, head_id = 0, anchored_pos = 0;
    uint8_t prev[HASH_BYTES] = {0}, genesis[HASH_BYTES] = {0};
    if (PQntuples(r) == 1) {
        pos = db_i64(r, 0, 0);
        bool ok = hash_unhex(db_str(r, 0, 1), prev, HASH_BYTES);
        assert(ok);
        (void)ok;
        head_id = db_i64(r, 0, 2);
        anchored_pos = db_null(r, 0, 3) ? 0 : db_i64(r, 0, 3);
        if (db_null(r, 0, 4) || !hash_unhex(db_str(r, 0, 4), genesis, HASH_BYTES)) {
            PQclear(r);
            return fl_error_set(err, FLE_INTERNAL, NULL, "the chain has no entry at seal position 1");
        }
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
        /* Nothing new: anchor a head sealed without a signer (an upgrade from before 0010). */
        return anchor_head_tx(db, a, pos, head_id, prev, genesis, anchored_pos, err);
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
        head_id = id;
        if (pos == 1) {
            memcpy(genesis, h, HASH_BYTES);
        }
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
            e = anchor_head_tx(db, a, pos, head_id, prev, genesis, anchored_pos, err);
        }
    }
    db_array_free(&ids);
    db_array_free(&poss);
    db_array_free(&prevs);
    db_array_free(&hashes);
    return e;
}

enum fl_err ledger_seal_anchored(struct db *db, unsigned max, const struct anchor_signer *signer, unsigned *sealed,
                                 struct fl_error *err)
{
    assert(db != NULL && max >= 1 && max <= LEDGER_BATCH_ENTRIES_MAX);
    struct seal_args a = {.max = max, .sealed = 0, .signer = signer};
    enum fl_err e = db_tx(db, seal_tx, &a, err);
    if (sealed) {
        *sealed = e == FLE_OK ? a.sealed : 0;
    }
    /* After the commit: a log line for a head that never committed would look like a cut tail. */
    if (e == FLE_OK && a.anchored) {
        e = anchor_log_append(signer, &a.head, err);
    }
    return e;
}

enum fl_err ledger_seal(struct db *db, unsigned max, unsigned *sealed, struct fl_error *err)
{
    return ledger_seal_anchored(db, max, NULL, sealed, err);
}

/* Records a problem: the first one also fills first_bad_* and problem; the first
 * LEDGER_VERIFY_PROBLEMS_MAX are listed. */
static void add_problem(struct ledger_verify_report *rep, int64_t entry_id, int64_t account_id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void add_problem(struct ledger_verify_report *rep, int64_t entry_id, int64_t account_id, const char *fmt, ...)
{
    char text[sizeof rep->problem];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (rep->ok) {
        rep->ok = false;
        rep->first_bad_entry = entry_id;
        rep->first_bad_account = account_id;
        snprintf(rep->problem, sizeof rep->problem, "%s", text);
    }
    rep->problems_total++;
    if (rep->problems_n < LEDGER_VERIFY_PROBLEMS_MAX) {
        struct ledger_verify_problem *p = &rep->problems[rep->problems_n++];
        p->entry_id = entry_id;
        p->account_id = account_id;
        snprintf(p->text, sizeof p->text, "%s", text);
    }
}

/* Anchors met while walking the chain (ledger_verify_full). */
struct anchor_walk {
    const struct anchor_verifier *verifier;
    int64_t last_pos;   /* seal position of the last anchor checked (0: none) */
    int64_t round_pos0; /* the round's entries are at seal positions round_pos0 + 1 ... */
    int64_t *ids;       /* ... with these ids */
    uint8_t genesis[HASH_BYTES]; /* the hash at seal position 1 */
    uint8_t (*hashes)[HASH_BYTES];
};

static bool head_from_row(const PGresult *r, int i, struct anchor_head *h)
{
    memset(h, 0, sizeof *h);
    h->seal_pos = db_i64(r, i, 0);
    h->entry_id = db_i64(r, i, 1);
    h->count = db_i64(r, i, 2);
    snprintf(h->key_id, sizeof h->key_id, "%s", db_str(r, i, 4));
    return hash_unhex(db_str(r, i, 3), h->hash, HASH_BYTES) && hash_unhex(db_str(r, i, 5), h->sig, ANCHOR_SIG_BYTES) &&
           hash_unhex(db_str(r, i, 6), h->chain, HASH_BYTES);
}

static bool signed_ok(const struct anchor_walk *w, const struct anchor_head *h)
{
    return w->verifier != NULL && anchor_check(w->verifier, h);
}

/* Checks the database's anchors at seal positions (round_pos0, upto] against the hashes just computed. */
static enum fl_err check_round_anchors(struct db *db, struct anchor_walk *w, int64_t upto,
                                       struct ledger_verify_report *rep, struct fl_error *err)
{
    char ab[21], bb[21];
    const char *p[2] = {db_i64_text(w->round_pos0, ab), db_i64_text(upto, bb)};
    PGresult *r = db_exec(db, "ledger_verify_anchors", 2, p, err);
    if (r == NULL) {
        return err->code;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        struct anchor_head h;
        bool parsed = head_from_row(r, i, &h);
        int64_t at = h.seal_pos - w->round_pos0 - 1;
        assert(at >= 0 && at < LEDGER_SEAL_CHUNK);
        int64_t chain_id = w->ids[at];
        rep->anchors_checked++;
        if (!parsed || !signed_ok(w, &h)) {
            add_problem(rep, chain_id,
                        0, "entry %" PRId64 " (seal %" PRId64 "): the anchor stored for it is not signed by key %s "
                           "(forged, or signed with another key)",
                        chain_id, h.seal_pos, rep->key_id[0] ? rep->key_id : "(none found)");
        } else if (h.seal_pos - h.count != w->last_pos) {
            add_problem(rep, chain_id, 0,
                        "entry %" PRId64 " (seal %" PRId64 "): its anchor follows seal %" PRId64
                        " but the anchor before it is at seal %" PRId64 " (anchors removed)",
                        chain_id, h.seal_pos, h.seal_pos - h.count, w->last_pos);
        } else if (h.entry_id != chain_id || memcmp(h.hash, w->hashes[at], HASH_BYTES) != 0 ||
                   memcmp(h.chain, w->genesis, HASH_BYTES) != 0) {
            add_problem(rep, chain_id, 0,
                        "entry %" PRId64 " (seal %" PRId64 "): the chain differs from the head signed at this "
                        "position (entry %" PRId64 "): re-sealed after anchoring",
                        chain_id, h.seal_pos, h.entry_id);
        }
        w->last_pos = h.seal_pos;
    }
    PQclear(r);
    return FLE_OK;
}

/* Walks the chain in seal order; with w, also checks the anchors along it. Stops at the first
 * broken link (what follows it cannot be trusted). *end_pos / *end_id get the chain's end. */
static enum fl_err verify_chain(struct db *db, struct anchor_walk *w, struct ledger_verify_report *rep,
                                int64_t *end_pos, int64_t *end_id, struct fl_error *err)
{
    uint8_t prev[HASH_BYTES] = {0};
    int64_t pos = 0;
    char posb[21], lim[21];
    *end_pos = 0;
    *end_id = 0;
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
        if (w != NULL) {
            w->round_pos0 = pos;
        }
        int at = 0, total = PQntuples(lines);
        bool broken = false;
        for (int i = 0; i < n && !broken; i++) {
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
                add_problem(rep, id, 0, "entry %" PRId64 " (seal %" PRId64 "): %s", id, db_i64(r, i, C_POS), problem);
                broken = true;
                break;
            }
            memcpy(prev, got, HASH_BYTES);
            pos++;
            *end_pos = pos;
            *end_id = id;
            rep->entries_checked++;
            if (w != NULL) {
                w->ids[i] = id;
                memcpy(w->hashes[i], got, HASH_BYTES);
                if (pos == 1) {
                    memcpy(w->genesis, got, HASH_BYTES);
                }
            }
        }
        PQclear(lines);
        PQclear(r);
        enum fl_err e = w != NULL ? check_round_anchors(db, w, pos, rep, err) : FLE_OK;
        if (e != FLE_OK || broken) {
            return e;
        }
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

/* Balance of every entry and every account against its lines; with list, every problem. */
static enum fl_err verify_balances(struct db *db, struct ledger_verify_report *rep, struct fl_error *err)
{
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
        add_problem(rep, bad, 0, "entry %" PRId64 " does not balance or has fewer than 2 lines", bad);
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
        add_problem(rep, 0, db_i64(r, 0, 0), "account %" PRId64 " holds balance %s but its journal lines sum to %s",
                    db_i64(r, 0, 0), db_str(r, 0, 1), db_str(r, 0, 2));
    }
    PQclear(r);
    return FLE_OK;
}

enum fl_err ledger_verify(struct db *db, struct ledger_verify_report *rep, struct fl_error *err)
{
    assert(db != NULL && rep != NULL);
    memset(rep, 0, sizeof *rep);
    rep->ok = true;
    int64_t end_pos, end_id;
    enum fl_err e = verify_chain(db, NULL, rep, &end_pos, &end_id, err);
    if (e != FLE_OK || !rep->ok) {
        return e;
    }
    return verify_balances(db, rep, err);
}

/* The ids of the entries at the given seal positions (0 for none), and their stored hashes. */
static PGresult *entries_at(struct db *db, const int64_t *pos, int n, struct fl_error *err)
{
    struct db_array a;
    db_array_init(&a);
    for (int i = 0; i < n; i++) {
        db_array_i64(&a, pos[i]);
    }
    const char *p[1] = {db_array_str(&a)};
    PGresult *r = p[0] ? db_exec(db, "ledger_verify_entries_at", 1, p, err) : NULL;
    if (p[0] == NULL) {
        fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
    }
    db_array_free(&a);
    return r;
}

static int64_t entry_at(struct db *db, int64_t pos, struct fl_error *err)
{
    PGresult *r = entries_at(db, &pos, 1, err);
    int64_t id = r != NULL && PQntuples(r) == 1 && !db_null(r, 0, 1) ? db_i64(r, 0, 1) : 0;
    PQclear(r);
    return id;
}

/* A batch of log lines whose heads lie inside the chain: compared with the stored chain. */
struct log_batch {
    uint8_t genesis[HASH_BYTES];
    int n;
    int64_t line_no[LEDGER_SEAL_CHUNK];
    int64_t pos[LEDGER_SEAL_CHUNK];
    struct anchor_head head[LEDGER_SEAL_CHUNK];
};

static enum fl_err log_batch_check(struct db *db, struct log_batch *b, struct ledger_verify_report *rep,
                                   struct fl_error *err)
{
    if (b->n == 0) {
        return FLE_OK;
    }
    PGresult *r = entries_at(db, b->pos, b->n, err);
    if (r == NULL) {
        return err->code;
    }
    enum fl_err e = FLE_OK;
    for (int i = 0; i < b->n && i < PQntuples(r) && e == FLE_OK; i++) {
        const struct anchor_head *h = &b->head[i];
        uint8_t stored[HASH_BYTES];
        bool same = !db_null(r, i, 1) && db_i64(r, i, 1) == h->entry_id && hash_unhex(db_str(r, i, 2), stored, HASH_BYTES) &&
                    memcmp(stored, h->hash, HASH_BYTES) == 0 && memcmp(h->chain, b->genesis, HASH_BYTES) == 0;
        if (same) {
            continue;
        }
        /* Name the first entry the anchor covered: the change lies among those it covered. */
        int64_t first = rep->problems_n < LEDGER_VERIFY_PROBLEMS_MAX ? entry_at(db, h->seal_pos - h->count + 1, err) : 0;
        if (err->code != FLE_OK) {
            e = err->code;
            break;
        }
        add_problem(rep, first ? first : h->entry_id, 0,
                    "entry %" PRId64 " (seal %" PRId64 "): the chain from here to seal %" PRId64
                    " is not what anchor log line %" PRId64 " signed (entry %" PRId64 " with another hash): "
                    "changed and re-sealed after anchoring",
                    first ? first : h->entry_id, h->seal_pos - h->count + 1, h->seal_pos, b->line_no[i], h->entry_id);
    }
    PQclear(r);
    b->n = 0;
    return e;
}

/* Every line of the anchor log: signed by the key, its head equal to the chain's; a head past
 * the chain's end means entries were cut from the tail. */
static enum fl_err verify_log(struct db *db, const struct ledger_verify_options *o, const uint8_t genesis[HASH_BYTES],
                              int64_t end_pos, int64_t end_id, struct ledger_verify_report *rep, struct fl_error *err)
{
    FILE *f = o->anchor_log ? fopen(o->anchor_log, "r") : NULL;
    if (f == NULL) {
        if (rep->anchors_checked > 0 || end_pos > 0) {
            add_problem(rep, 0, 0, "the anchor log %s cannot be read (%s): the tail of the chain cannot be checked",
                        o->anchor_log ? o->anchor_log : "(none configured)",
                        o->anchor_log ? strerror(errno) : "no path");
        }
        return FLE_OK;
    }
    struct log_batch *b = malloc(sizeof *b);
    if (b == NULL) {
        (void)fclose(f);
        return fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
    }
    b->n = 0;
    memcpy(b->genesis, genesis, HASH_BYTES);
    struct anchor_head past; /* the furthest signed head past the chain's end */
    int64_t past_line = 0;
    memset(&past, 0, sizeof past);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    enum fl_err e = FLE_OK;
    int64_t line_no = 0;
    while (e == FLE_OK && (len = getline(&line, &cap, f)) >= 0) {
        line_no++;
        rep->anchor_log_lines++;
        struct anchor_head h;
        if (len > ANCHOR_LINE_BYTES_MAX || !anchor_line_parse(line, (size_t)len, &h)) {
            add_problem(rep, 0, 0, "anchor log line %" PRId64 " is not a well-formed anchor", line_no);
            continue;
        }
        if (o->verifier == NULL || !anchor_check(o->verifier, &h)) {
            add_problem(rep, h.entry_id, 0,
                        "entry %" PRId64 " (seal %" PRId64 "): anchor log line %" PRId64
                        " is not signed by key %s (forged, or signed with another key)",
                        h.entry_id, h.seal_pos, line_no, rep->key_id[0] ? rep->key_id : "(none found)");
            continue;
        }
        if (h.seal_pos > rep->anchored_seal_pos && h.seal_pos <= end_pos) {
            rep->anchored_seal_pos = h.seal_pos;
        }
        if (h.seal_pos > end_pos) {
            if (h.seal_pos > past.seal_pos) {
                past = h;
                past_line = line_no;
            }
            continue;
        }
        b->line_no[b->n] = line_no;
        b->pos[b->n] = h.seal_pos;
        b->head[b->n++] = h;
        if (b->n == LEDGER_SEAL_CHUNK) {
            e = log_batch_check(db, b, rep, err);
        }
    }
    free(line);
    (void)fclose(f);
    if (e == FLE_OK) {
        e = log_batch_check(db, b, rep, err);
    }
    free(b);
    if (e == FLE_OK && past.seal_pos > 0) {
        add_problem(rep, past.entry_id, 0,
                    "entry %" PRId64 " (seal %" PRId64 ") is missing: anchor log line %" PRId64
                    " signed the chain up to it, but the chain ends at seal %" PRId64 " (entry %" PRId64
                    "): %" PRId64 " sealed entries after entry %" PRId64 " were removed",
                    past.entry_id, past.seal_pos, past_line, end_pos, end_id, past.seal_pos - end_pos, end_id);
    }
    return e;
}

/* Every entry against what produced it: an approved proposal (with its approval in the audit
 * log) or a business row (with its audit event), kind, event type and reference agreeing. The
 * entries with a problem, the first LEDGER_VERIFY_PROBLEMS_MAX of them, and how many in all.
 * In three parts (C11 compilers need not take a literal over 4095 characters), joined once. */
#define STR_(x) #x
#define STR(x) STR_(x)
#define LIMIT_TEXT STR(LEDGER_VERIFY_PROBLEMS_MAX)
static const char *const origins_sql[] = {
    "WITH pr AS (SELECT DISTINCT ON (p.result_entry_id) p.result_entry_id AS entry_id, p.id, p.kind, "
    "p.proposed_by, p.payload->>'entry_id' AS rev_of, coalesce(p.payload->>'tranche_id', (SELECT t.id "
    "FROM tranche t WHERE t.proposal_id = p.id)::text) AS tranche_of, (SELECT l.id FROM loan l WHERE "
    "l.proposal_id = p.id) AS loan_of, EXISTS (SELECT 1 FROM audit_log a WHERE a.object_type = "
    "'proposal' AND a.object_id = p.id::text AND a.action = 'proposal.approve' AND "
    "a.detail->>'entry_id' = p.result_entry_id::text) AS audited FROM proposal p WHERE p.status = "
    "'approved' AND p.result_entry_id IS NOT NULL ORDER BY p.result_entry_id, p.id), ",
    "bz AS (SELECT c.entry_id, 'contribution' AS src, c.tranche_id AS ref_id, EXISTS (SELECT 1 FROM "
    "audit_log a WHERE a.object_type = 'contribution' AND a.object_id = c.id::text AND a.action = "
    "'contribution.record') AS audited FROM contribution c UNION ALL SELECT c.entry_id, "
    "'commitment_cancellation', c.tranche_id, EXISTS (SELECT 1 FROM audit_log a WHERE a.object_type = "
    "'tranche' AND a.object_id = c.tranche_id::text AND a.action = 'commitment.cancel') FROM "
    "commitment_cancellation c UNION ALL SELECT entry_id, 'disbursement', loan_id, true FROM "
    "disbursement UNION ALL SELECT r.entry_id, 'repayment', r.loan_id, EXISTS (SELECT 1 FROM "
    "audit_log a WHERE a.object_type = 'repayment' AND a.object_id = r.id::text AND a.action = "
    "'repayment.record') OR EXISTS (SELECT 1 FROM audit_log a WHERE a.object_type = 'fund' AND "
    "a.action = 'repayment.import' AND a.object_id = (SELECT l.fund_id FROM loan l WHERE l.id = "
    "r.loan_id)::text AND a.user_id = r.created_by AND a.at >= r.created_at) FROM repayment r UNION "
    "ALL SELECT entry_id, 'write_off', loan_id, true FROM write_off UNION ALL SELECT r.entry_id, "
    "'recovery', r.loan_id, EXISTS (SELECT 1 FROM audit_log a WHERE a.object_type = 'recovery' AND "
    "a.object_id = r.id::text AND a.action = 'recovery.record') FROM recovery r UNION ALL SELECT "
    "w.entry_id, 'waterfall', w.run_id, EXISTS (SELECT 1 FROM audit_log a WHERE a.object_type = "
    "'waterfall_run' AND a.object_id = w.run_id::text AND a.action = 'waterfall.run') FROM "
    "waterfall_step w WHERE w.entry_id IS NOT NULL UNION ALL SELECT p.entry_id, 'provision', p.id, EXISTS "
    "(SELECT 1 FROM audit_log a WHERE a.object_type = 'provision_run' AND a.object_id = p.id::text AND "
    "a.action = 'provision.run') FROM provision_run p WHERE p.entry_id IS NOT NULL UNION ALL SELECT "
    "n.entry_id, 'nav_allocation', n.id, EXISTS (SELECT 1 FROM audit_log a WHERE a.object_type = "
    "'nav_allocation' AND a.object_id = n.id::text AND a.action = 'nav.allocate') FROM nav_allocation n "
    "WHERE n.entry_id IS NOT NULL UNION ALL SELECT DISTINCT c.entry_id, 'capitalisation', c.loan_id, true "
    "FROM loan_capitalisation c WHERE c.entry_id IS NOT NULL UNION ALL SELECT entry_id, 'loan_charge', loan_id, true "
    "FROM loan_charge UNION ALL SELECT DISTINCT k.entry_id, 'accrual', "
    "l.fund_id, true FROM loan_accrual k JOIN loan l ON l.id = k.loan_id), ",
    "x AS (SELECT e.id, e.event_type, e.event_ref, CASE WHEN e.event_type NOT IN ('manual', "
    "'reversal', 'tranche_signed', 'commitment_cancellation', 'loan_commitment', 'disbursement', "
    "'write_off', 'contribution', 'repayment', 'recovery', 'waterfall', 'provision', 'nav_allocation', "
    "'capitalisation', 'loan_charge', 'accrual') "
    "THEN 'no posting path writes this event type' WHEN e.event_type IN ('manual', 'reversal', 'tranche_signed', "
    "'loan_commitment', 'disbursement', 'write_off', 'loan_charge') AND pr.entry_id IS NULL THEN 'no approved "
    "proposal posted it (no four-eyes record)' WHEN e.event_type IN ('contribution', 'repayment', "
    "'recovery', 'waterfall', 'disbursement', 'write_off', 'provision', 'nav_allocation', 'capitalisation', "
    "'loan_charge', 'accrual') "
    "AND bz.entry_id IS NULL THEN 'no ' || "
    "e.event_type || ' row records it' WHEN e.event_type = 'commitment_cancellation' AND pr.entry_id "
    "IS NULL AND bz.entry_id IS NULL THEN 'neither an approved proposal nor a commitment_cancellation "
    "row produced it' WHEN bz.entry_id IS NOT NULL AND bz.src <> e.event_type THEN 'it is recorded as "
    "a ' || bz.src || ' but posted as ' || e.event_type WHEN pr.entry_id IS NOT NULL AND pr.kind <> "
    "CASE e.event_type WHEN 'manual' THEN 'journal_entry' WHEN 'tranche_signed' THEN (CASE WHEN "
    "pr.kind = 'tranche' THEN 'tranche' ELSE 'tranche_change' END) WHEN 'commitment_cancellation' "
    "THEN 'tranche_change' WHEN 'loan_commitment' THEN 'loan' ELSE e.event_type END THEN 'it was "
    "posted by a proposal of kind ' || pr.kind WHEN e.event_ref IS DISTINCT FROM CASE WHEN "
    "bz.entry_id IS NOT NULL THEN (CASE bz.src WHEN 'contribution' THEN 'tranche:' WHEN "
    "'commitment_cancellation' THEN 'tranche:' WHEN 'waterfall' THEN 'waterfall_run:' WHEN 'provision' THEN "
    "'provision_run:' WHEN 'nav_allocation' THEN 'nav_allocation:' WHEN 'accrual' THEN 'fund:' ELSE 'loan:' "
    "END) || bz.ref_id WHEN pr.kind = 'journal_entry' THEN 'proposal:' || pr.id WHEN pr.kind = "
    "'reversal' THEN 'entry:' || pr.rev_of WHEN pr.kind IN ('tranche', 'tranche_change') THEN "
    "'tranche:' || pr.tranche_of WHEN pr.kind = 'loan' THEN 'loan:' || pr.loan_of END THEN 'its "
    "reference does not name the row that produced it' WHEN e.event_type = 'reversal' AND "
    "e.reverses_entry_id::text IS DISTINCT FROM pr.rev_of THEN 'it reverses another entry than its "
    "proposal names' WHEN pr.entry_id IS NOT NULL AND pr.proposed_by = e.posted_by THEN 'it was "
    "posted by its own maker' WHEN pr.entry_id IS NOT NULL AND NOT pr.audited THEN 'the approval of "
    "proposal ' || pr.id || ' is not in the audit log' WHEN bz.entry_id IS NOT NULL AND NOT "
    "bz.audited THEN 'its ' || bz.src || ' is not in the audit log' ",
    /* A charge (docs/loan-servicing.md §8): its approved proposal is the one its loan_charge row
     * names, and its lines are exactly Dr 1160 / Cr 4100 of the row's amount. */
    "WHEN e.event_type = 'loan_charge' AND NOT EXISTS (SELECT 1 FROM loan_charge c WHERE c.entry_id = e.id "
    "AND c.proposal_id = pr.id AND (SELECT count(*) FROM journal_line j WHERE j.entry_id = e.id) = 2 AND EXISTS "
    "(SELECT 1 FROM journal_line j JOIN account a ON a.id = j.account_id WHERE j.entry_id = e.id AND a.code = "
    "'1160' AND j.amount_minor = c.amount_minor) AND EXISTS (SELECT 1 FROM journal_line j JOIN account a ON a.id "
    "= j.account_id WHERE j.entry_id = e.id AND a.code = '4100' AND j.amount_minor = -c.amount_minor)) THEN 'its "
    "lines are not Dr 1160 / Cr 4100 of the amount of its loan_charge row and proposal' END AS problem FROM "
    "journal_entry e LEFT JOIN pr ON pr.entry_id = e.id LEFT JOIN bz ON bz.entry_id = e.id) SELECT id, event_type, "
    "event_ref, problem, count(*) OVER () FROM x WHERE problem IS NOT NULL ORDER BY id LIMIT "
    LIMIT_TEXT};

/* Every entry against the proposal or business row that produced it. */
static enum fl_err verify_origins(struct db *db, struct ledger_verify_report *rep, struct fl_error *err)
{
    size_t len = 1;
    for (size_t k = 0; k < sizeof origins_sql / sizeof origins_sql[0]; k++) {
        len += strlen(origins_sql[k]);
    }
    char *sql = malloc(len);
    if (sql == NULL) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
    }
    sql[0] = '\0';
    for (size_t k = 0; k < sizeof origins_sql / sizeof origins_sql[0]; k++) {
        strcat(sql, origins_sql[k]);
    }
    PGresult *r = db_exec_sql(db, sql, err);
    free(sql);
    if (r == NULL) {
        return err->code;
    }
    int n = PQntuples(r);
    for (int i = 0; i < n; i++) {
        add_problem(rep, db_i64(r, i, 0), 0, "entry %" PRId64 " (%s, %s): %s", db_i64(r, i, 0), db_str(r, i, 1),
                    db_str(r, i, 2), db_str(r, i, 3));
    }
    /* The ones not listed still count. */
    if (n > 0 && db_i64(r, 0, 4) > n) {
        rep->problems_total += (unsigned)(db_i64(r, 0, 4) - n);
    }
    PQclear(r);
    return FLE_OK;
}

/* Every accrual entry against its loan_accrual rows (docs/loan-servicing.md §9): an `accrual`
 * entry of the loans' fund on their date, crediting 4000 with the sum of the rows and debiting
 * each tranche's T.INTEREST_RECEIVABLE with the sum of the rows' parts on it and nothing else;
 * each row's parts adding up to it, on tranches that fund its loan, and its totals continuing the
 * loan's previous row. */
static enum fl_err verify_accruals(struct db *db, struct ledger_verify_report *rep, struct fl_error *err)
{
    PGresult *r = db_exec(db, "ledger_verify_accruals", 0, NULL, err);
    if (r == NULL) {
        return err->code;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        add_problem(rep, db_i64(r, i, 0), 0, "entry %" PRId64 " (accrual): %s", db_i64(r, i, 0), db_str(r, i, 1));
    }
    PQclear(r);
    return FLE_OK;
}

struct verify_full_args {
    const struct ledger_verify_options *o;
    struct ledger_verify_report *rep;
};

static enum fl_err verify_full_tx(struct db *db, void *arg, struct fl_error *err)
{
    struct verify_full_args *a = arg;
    struct ledger_verify_report *rep = a->rep;
    const struct ledger_verify_options *o = a->o;
    memset(rep, 0, sizeof *rep); /* a retry starts over */
    rep->ok = true;
    /* One snapshot: a seal committing meanwhile is either wholly seen or not at all. */
    PGresult *r = db_exec_sql(db, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", err);
    if (r == NULL) {
        return err->code;
    }
    PQclear(r);
    if (o->verifier != NULL) {
        snprintf(rep->key_id, sizeof rep->key_id, "%s", anchor_verifier_key_id(o->verifier));
    }
    int64_t ids[LEDGER_SEAL_CHUNK];
    uint8_t(*hashes)[HASH_BYTES] = malloc(LEDGER_SEAL_CHUNK * sizeof *hashes);
    if (hashes == NULL) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
    }
    struct anchor_walk w = {.verifier = o->verifier, .ids = ids, .hashes = hashes};
    int64_t end_pos = 0, end_id = 0;
    enum fl_err e = verify_chain(db, &w, rep, &end_pos, &end_id, err);
    free(hashes);
    if (e != FLE_OK) {
        return e;
    }
    rep->anchored_seal_pos = w.last_pos;
    if (o->verifier == NULL && end_pos > 0) {
        add_problem(rep, 0, 0, "no anchor public key: the anchors of the %" PRId64 " sealed entries cannot be checked",
                    end_pos);
    }
    /* Anchors past the chain's end: sealed entries were removed from the tail. */
    char eb[21];
    const char *p[1] = {db_i64_text(end_pos, eb)};
    if ((r = db_exec(db, "ledger_verify_anchors_past", 1, p, err)) == NULL) {
        return err->code;
    }
    if (PQntuples(r) == 1 && db_i64(r, 0, 7) > 0) {
        struct anchor_head h;
        bool good = head_from_row(r, 0, &h) && signed_ok(&w, &h);
        add_problem(rep, h.entry_id, 0,
                    "entry %" PRId64 " (seal %" PRId64 ") is missing: an anchor%s signed the chain up to it, but "
                    "the chain ends at seal %" PRId64 " (entry %" PRId64 "): %" PRId64
                    " sealed entries after entry %" PRId64 " were removed",
                    h.entry_id, h.seal_pos, good ? "" : " (with an invalid signature)", end_pos, end_id,
                    h.seal_pos - end_pos, end_id);
    }
    PQclear(r);
    if ((e = verify_log(db, o, w.genesis, end_pos, end_id, rep, err)) != FLE_OK) {
        return e;
    }
    /* Sealed but signed nowhere: sealed without the key. */
    if (end_pos > rep->anchored_seal_pos && end_pos > w.last_pos) {
        int64_t from = (w.last_pos > rep->anchored_seal_pos ? w.last_pos : rep->anchored_seal_pos) + 1;
        int64_t first = entry_at(db, from, err);
        if (err->code != FLE_OK) {
            return err->code;
        }
        add_problem(rep, first, 0,
                    "entry %" PRId64 " (seal %" PRId64 ") and the %" PRId64
                    " sealed after it are covered by no signed anchor (sealed without the key)",
                    first, from, end_pos - from);
    }
    if ((e = verify_balances(db, rep, err)) != FLE_OK) {
        return e;
    }
    bool row;
    rep->origins_checked = scalar(db, "ledger_verify_entries", &row, err);
    if (!row) {
        return err->code;
    }
    if ((e = verify_origins(db, rep, err)) != FLE_OK) {
        return e;
    }
    return verify_accruals(db, rep, err);
}

enum fl_err ledger_verify_full(struct db *db, const struct ledger_verify_options *o, struct ledger_verify_report *rep,
                               struct fl_error *err)
{
    assert(db != NULL && o != NULL && rep != NULL);
    struct verify_full_args a = {.o = o, .rep = rep};
    return db_tx(db, verify_full_tx, &a, err);
}

json_t *ledger_chain_head(struct db *db, struct fl_error *err)
{
    assert(db != NULL);
    PGresult *r = db_exec(db, "ledger_chain_head", 0, NULL, err);
    if (r == NULL) {
        return NULL;
    }
    json_t *o = PQntuples(r) == 0
                    ? json_null()
                    : json_pack("{s:s, s:I, s:I, s:I, s:s, s:s, s:s}", "chain", db_str(r, 0, 6), "seal_pos",
                                (json_int_t)db_i64(r, 0, 0), "entry_id", (json_int_t)db_i64(r, 0, 1), "count",
                                (json_int_t)db_i64(r, 0, 2), "hash", db_str(r, 0, 3), "key_id", db_str(r, 0, 4),
                                "signature", db_str(r, 0, 5));
    PQclear(r);
    if (o == NULL) {
        fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
    }
    return o;
}

void ledger_verify_print(const struct ledger_verify_report *rep, const char *anchor_log, FILE *out)
{
    assert(rep != NULL && out != NULL);
    fprintf(out,
            "verify: %" PRId64 " sealed entries checked, %" PRId64 " not sealed yet, %" PRId64 " accounts checked\n",
            rep->entries_checked, rep->entries_unsealed, rep->accounts_checked);
    fprintf(out,
            "verify: %" PRId64 " anchors checked with key %s; anchor log %s: %" PRId64
            " lines; anchored up to seal %" PRId64 "\n",
            rep->anchors_checked, rep->key_id[0] ? rep->key_id : "(none)", anchor_log ? anchor_log : "(none)",
            rep->anchor_log_lines, rep->anchored_seal_pos);
    fprintf(out, "verify: %" PRId64 " entries checked against their proposal or business row\n", rep->origins_checked);
    for (unsigned i = 0; i < rep->problems_n; i++) {
        fprintf(out, "verify: MISMATCH: %s\n", rep->problems[i].text);
    }
    if (rep->problems_total > rep->problems_n) {
        fprintf(out, "verify: %u problems in all, the first %u listed\n", rep->problems_total, rep->problems_n);
    }
    fprintf(out, rep->ok ? "verify: ok\n" : "verify: FAILED\n");
}
