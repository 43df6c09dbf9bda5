/* idempotency: stored replies of write requests, keyed by user and Idempotency-Key. */
#include "fundledger/idempotency.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "fundledger/limits.h"

struct run_args {
    int64_t user_id;
    const char *key;
    const char *hash_hex;
    idem_fn fn;
    void *arg;
    unsigned status;
    char *text;
    bool at_insert; /* fn succeeded; a duplicate now means a concurrent twin committed first */
};

static enum fl_err run_tx(struct db *db, void *arg, struct fl_error *err)
{
    struct run_args *a = arg;
    free(a->text);
    a->text = NULL;
    a->status = 0;
    a->at_insert = false;
    json_t *reply = NULL;
    enum fl_err e = a->fn(db, a->arg, &a->status, &reply, err);
    if (e != FLE_OK) {
        json_decref(reply);
        return e;
    }
    assert(a->status >= 200 && a->status <= 299 && reply != NULL);
    a->text = json_dumps(reply, JSON_COMPACT | JSON_SORT_KEYS);
    /* Secrets are shown once: a member called "token" is never stored; a replay shows null. */
    char *stored = NULL;
    bool secret = json_object_get(reply, "token") != NULL;
    if (secret) {
        json_object_set_new(reply, "token", json_null());
        stored = json_dumps(reply, JSON_COMPACT | JSON_SORT_KEYS);
    }
    json_decref(reply);
    if (a->text == NULL || (secret && stored == NULL)) {
        free(stored);
        return fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
    }
    char ub[21], sb[21];
    const char *p[5] = {db_i64_text(a->user_id, ub), a->key, a->hash_hex, db_i64_text(a->status, sb),
                        stored ? stored : a->text};
    a->at_insert = true;
    PGresult *r = db_exec(db, "idem_store", 5, p, err);
    free(stored);
    if (r == NULL) {
        return err->code;
    }
    PQclear(r);
    return FLE_OK;
}

/* Looks up a stored reply. Returns FLE_OK with *found false when there is none. */
static enum fl_err lookup(struct db *db, int64_t user_id, const char *key, const char *hash_hex, bool *found,
                          unsigned *status, char **text, struct fl_error *err)
{
    char ub[21];
    const char *p[2] = {db_i64_text(user_id, ub), key};
    *found = false;
    PGresult *r = db_exec(db, "idem_lookup", 2, p, err);
    if (r == NULL) {
        return err->code;
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        return FLE_OK;
    }
    *found = true;
    bool same = strcmp(db_str(r, 0, 0), hash_hex) == 0;
    if (same) {
        *status = (unsigned)db_i64(r, 0, 1);
        *text = strdup(db_str(r, 0, 2));
    }
    PQclear(r);
    if (!same) {
        return fl_error_set(err, FLE_IDEMPOTENCY_MISMATCH, "Idempotency-Key",
                            "this key was already used with a different request");
    }
    return *text ? FLE_OK : fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
}

enum fl_err idem_run(struct db *db, int64_t user_id, const char *key, const uint8_t request_hash[HASH_BYTES],
                     idem_fn fn, void *arg, unsigned *status, char **reply_text, bool *replayed,
                     struct fl_error *err)
{
    assert(db != NULL && key != NULL && fn != NULL && reply_text != NULL);
    *reply_text = NULL;
    *replayed = false;
    size_t klen = strlen(key);
    if (klen == 0 || klen > IDEMPOTENCY_KEY_BYTES_MAX) {
        return fl_error_set(err, FLE_BAD_PARAM, "Idempotency-Key", "1 to %d characters", IDEMPOTENCY_KEY_BYTES_MAX);
    }
    char hex[HASH_HEX_BYTES];
    hash_hex(request_hash, HASH_BYTES, hex);
    /* Twice at most: a concurrent twin may commit between our lookup and our insert. */
    for (int round = 0; round < 2; round++) {
        bool found = false;
        enum fl_err e = lookup(db, user_id, key, hex, &found, status, reply_text, err);
        if (e != FLE_OK || found) {
            *replayed = found;
            return e;
        }
        struct run_args a = {.user_id = user_id, .key = key, .hash_hex = hex, .fn = fn, .arg = arg};
        e = db_tx(db, run_tx, &a, err);
        if (e == FLE_OK) {
            *status = a.status;
            *reply_text = a.text;
            return FLE_OK;
        }
        free(a.text);
        if (e == FLE_DUPLICATE && a.at_insert) {
            continue; /* the twin committed first: its stored reply is ours */
        }
        /* The write failed. A concurrent twin with this key may have committed meanwhile (we
         * waited on its locks, then found its work done): then its stored reply is the answer. */
        struct fl_error again;
        fl_error_clear(&again);
        unsigned twin_status = 0;
        char *twin_text = NULL;
        if (e != FLE_DB_UNAVAILABLE &&
            lookup(db, user_id, key, hex, &found, &twin_status, &twin_text, &again) == FLE_OK && found) {
            *status = twin_status;
            *reply_text = twin_text;
            *replayed = true;
            return FLE_OK;
        }
        free(twin_text);
        return e;
    }
    return fl_error_set(err, FLE_CONFLICT, "Idempotency-Key", "concurrent requests with this key; retry");
}
