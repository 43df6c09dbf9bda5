/* migrate: applies migrations/NNNN_name.sql in order, each in one transaction, with checksums. */
#ifndef FUNDLEDGER_MIGRATE_H
#define FUNDLEDGER_MIGRATE_H

#include "fundledger/db.h"

#define MIGRATIONS_MAX 999

/* Applies every migration of dir not applied yet, in number order; numbers must run 1, 2, 3...
 * without gaps. An applied migration whose file changed (SHA-256 differs) is an error: landed
 * migrations are append-only. *applied (may be NULL) gets how many were applied now.
 * Serialised by an advisory lock, so two processes migrating at once are safe. */
enum fl_err migrate_apply(struct db *db, const char *dir, unsigned *applied, struct fl_error *err);

/* How many migration files dir holds (the version the code expects), or -1 with *err set. */
int migrate_count(const char *dir, struct fl_error *err);

/* The highest applied version, 0 when none (or the table is absent), -1 on a database error. */
int migrate_current(struct db *db, struct fl_error *err);

/* Whether the connection's role has the owner's rights: a superuser, or the owner (or a member
 * of the owner) of the schema's tables. 1 yes, 0 no (the least-privilege service role), -1 on a
 * database error; role gets the role's name. The service warns when it connects with them. */
int migrate_role_is_owner(struct db *db, char *role, size_t cap, struct fl_error *err);

#endif
