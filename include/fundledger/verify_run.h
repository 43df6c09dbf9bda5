/* verify_run: runs `verify` (ledger_verify_full with the anchor key and log of the configuration)
 * and keeps each run in verify_run: who ran it and how, what it checked, ok or the findings. The
 * command line and POST /v1/verify-runs share these functions. */
#ifndef FUNDLEDGER_VERIFY_RUN_H
#define FUNDLEDGER_VERIFY_RUN_H

#include <jansson.h>

#include "fundledger/auth.h"
#include "fundledger/config.h"
#include "fundledger/db.h"
#include "fundledger/ledger.h"

/* UTC, "YYYY-MM-DDTHH:MM:SS.uuuuuuZ". */
#define VERIFY_RUN_TIME_BYTES 32

/* Runs the full verify (chain, anchors with the public key and the anchor log that cfg names,
 * balances, origins) in its own read-only transaction: *rep gets the report, started_at the time
 * it started. A missing public key is not an error (verify then reports every anchor unchecked).
 * anchor_log (may be NULL; ANCHOR_PATH_BYTES) receives the anchor log's path. Errors: database
 * errors, a public key that exists but cannot be read. Must run outside a transaction. */
enum fl_err verify_run_check(struct db *db, const struct config *cfg, struct ledger_verify_report *rep,
                             char started_at[VERIFY_RUN_TIME_BYTES], char *anchor_log, struct fl_error *err);

/* Records a finished run inside the caller's transaction and audits it (`verify.run`): via "cli"
 * (actor NULL, run_by the system user's name) or "api" (actor the signed-in user, whose name is
 * run_by). Returns the run as verify_run_get would show it (new reference), or NULL with *err. */
json_t *verify_run_record(struct db *db, const struct principal *actor, const char *via, const char *run_by,
                          const char *started_at, const struct ledger_verify_report *rep, struct fl_error *err);

/* verify_run_check, then verify_run_record in a transaction of its own: what the command line
 * does. *run (may be NULL) receives the recorded run. */
enum fl_err verify_run_cli(struct db *db, const struct config *cfg, const char *run_by,
                           struct ledger_verify_report *rep, char *anchor_log, json_t **run, struct fl_error *err);

/* Past runs, newest first, at most limit (1..PAGE_SIZE_MAX), before run id `before` (0: from the
 * newest): {"latest": run|null, "runs": [...], "next_before": id|null}. "latest" is the newest run
 * of all, whatever `before` says. */
json_t *verify_run_list(struct db *db, int64_t before, unsigned limit, struct fl_error *err);

#endif
