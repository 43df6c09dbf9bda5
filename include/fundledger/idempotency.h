/* idempotency: a write runs once per (user, Idempotency-Key); retries get the stored reply. */
#ifndef FUNDLEDGER_IDEMPOTENCY_H
#define FUNDLEDGER_IDEMPOTENCY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "fundledger/db.h"
#include "fundledger/hash.h"

/* The write itself, run inside the transaction: sets *status (2xx) and *reply (owned by the
 * runner afterwards). Must reset its outputs at start: it may run again on a retry. */
typedef enum fl_err (*idem_fn)(struct db *db, void *arg, unsigned *status, json_t **reply, struct fl_error *err);

/* Runs fn once for (user_id, key): in one transaction fn runs and its reply is stored with the
 * request's hash. A later call with the same key and the same request hash writes nothing and
 * returns the stored status and reply (*replayed = true); with another request hash it is
 * FLE_IDEMPOTENCY_MISMATCH. Two concurrent calls with one key give one write. On success
 * *reply_text is the reply as compact JSON text, owned by the caller (free()). */
enum fl_err idem_run(struct db *db, int64_t user_id, const char *key, const uint8_t request_hash[HASH_BYTES],
                     idem_fn fn, void *arg, unsigned *status, char **reply_text, bool *replayed,
                     struct fl_error *err);

#endif
