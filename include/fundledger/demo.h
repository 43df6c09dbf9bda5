/* demo: loads the demo fund through the same domain functions a user's requests run. */
#ifndef FUNDLEDGER_DEMO_H
#define FUNDLEDGER_DEMO_H

#include <stdbool.h>

#include "fundledger/config.h"
#include "fundledger/db.h"

/* true when the database holds no fund yet. */
bool demo_database_empty(struct db *db, struct fl_error *err);

/* Creates the demo organisations, one user per role with approval limits, the fund "Human
 * Security Partnership — El Charco" in COP, and its history (proposed by the fund manager,
 * approved by an approver, as a person would). Writes one token per role to credentials_path
 * (mode 0600, overwritten). All in one transaction: a failure leaves the database as it was. */
enum fl_err demo_load(struct db *db, const char *credentials_path, struct fl_error *err);

#endif
