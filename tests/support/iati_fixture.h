/* iati_fixture: a demo-like fund built through the real C API (tranches, contributions, a
 * cancellation, an expense, loans to organisations and to persons, drawdowns, repayments, a
 * write-off and a recovery, human-security measures), for the IATI tests. */
#ifndef FUNDLEDGER_TEST_IATI_FIXTURE_H
#define FUNDLEDGER_TEST_IATI_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "fundledger/auth.h"
#include "fundledger/db.h"

#define IATI_FIXTURE_PERSONS 3

/* The names of the persons: distinctive, so that a leak is found by grep. */
extern const char *const iati_fixture_person_names[IATI_FIXTURE_PERSONS];

struct iati_fixture {
    struct principal manager, approver, transparency;
    int64_t fund_id;
    int64_t undp, partner, fund_manager; /* organisations */
    int64_t t_first_loss, t_mezzanine;   /* tranches */
    int64_t coop, assoc;                 /* entrepreneurs (organisations) */
    int64_t persons[IATI_FIXTURE_PERSONS];
    int64_t loan_coop, loan_assoc; /* loans to organisations */
    int64_t loan_persons[IATI_FIXTURE_PERSONS];
};

/* Builds the fund in db (every step in its own transaction, through the domain functions) with
 * the fund manager organisation's IATI identifier reporting_ref. Users are named with prefix
 * ("m", "a", "t" + prefix) so two fixtures can share a database. false (with a message on stderr)
 * when a step fails. */
bool iati_fixture_build(struct db *db, const char *prefix, const char *fund_code, const char *reporting_ref,
                        struct iati_fixture *f);

/* Records a repayment of amount (a decimal) on a loan on date with a bank reference. */
bool iati_fixture_repay(struct db *db, const struct iati_fixture *f, int64_t loan_id, const char *amount,
                        const char *date, const char *reference);

/* Adds one more loan to a person (entrepreneur of kind person in municipality, with value_chain),
 * approved on 2026-03-01 and drawn in full on 2026-03-05 like the fixture's. Returns the loan id,
 * 0 (with a message on stderr) when a step fails. */
int64_t iati_fixture_person_loan(struct db *db, const struct iati_fixture *f, const char *name, const char *tax_id,
                                 const char *municipality_code, const char *value_chain, const char *principal);

#endif
