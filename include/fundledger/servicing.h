/* servicing: a loan's history read from the database and replayed by the accrual engine
 * (docs/loan-servicing.md §11): approved terms and day count, drawdowns (disbursements with their
 * value dates), the origination fee, approved charges (loan_charge), earlier repayments with their
 * prepayment choice, the fund's dated default rate and the dated usury caps of the loan's
 * modality. Loading reads a whole set of loans with a handful of bulk queries; the replay itself
 * is pure (no database). The default rate of a fund is set here too. */
#ifndef FUNDLEDGER_SERVICING_H
#define FUNDLEDGER_SERVICING_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fundledger/accrual.h"
#include "fundledger/auth.h"
#include "fundledger/db.h"

/* One event of a loan's history, in replay order (date; drawdowns, then charges, then repayments;
 * id). */
struct servicing_event {
    rate_date date;
    bool drawdown; /* false: a repayment (or a charge) */
    bool charge;   /* an approved loan_charge (docs/loan-servicing.md §8): fees due from its date */
    int64_t amount_minor;
    accrual_choice choice; /* repayments */
};

/* One loan of a set: its terms and where its events and rate tables are in the set. */
struct servicing_loan {
    int64_t id, fund_id;
    schedule_terms terms;
    rate_daycount dc;
    int64_t fee_minor; /* origination fee, charged at the first drawdown */
    accrual_choice prepayment_default;
    bool accrual; /* the fund's servicing_basis is 'accrual' (else 'schedule': not replayed) */
    size_t ev_at, ev_n;
    size_t caps_at, n_caps;   /* the loan's modality's caps: set->caps[caps_at ..] */
    size_t rates_at, n_rates; /* its fund's default rates: set->rates[rates_at ..] */
    size_t seed_at, seed_n;   /* its approval schedule (version 1): set->seeds[seed_at ..] */
};

/* Dated rate rows of a set, tagged by owner (a fund id, or a modality index). */
struct servicing_rates {
    int64_t owner;
    struct accrual_rate_from r;
};

/* A set of loans loaded together. */
struct servicing_set {
    struct servicing_loan *loans; /* sorted by id */
    size_t n_loans;
    struct servicing_event *events;
    size_t n_events;
    struct servicing_rates *caps, *rates;
    size_t n_caps, n_rates;
    bool caps_borrowed;  /* caps belong to another set (servicing_load_with) */
    schedule_row *seeds; /* the loans' approval schedules (stored version 1), by loan */
    size_t n_seeds;
};

/* Loads ids[0..n) (any order, duplicates allowed; unknown ids are absent) with four queries.
 * Inside the caller's transaction. *s is set on every path: servicing_free it. */
enum fl_err servicing_load(struct db *db, const int64_t *ids, size_t n, struct servicing_set *s, struct fl_error *err);
void servicing_free(struct servicing_set *s);

/* Loads the dated usury caps alone into *caps (zeroed first), for servicing_load_with: a run of
 * many sets (the CSV import's chunks) reads the table once. servicing_free it. */
enum fl_err servicing_load_caps(struct db *db, struct servicing_set *caps, struct fl_error *err);

/* As servicing_load, with the caps borrowed from caps_from (servicing_load_caps; NULL: read them).
 * caps_from must outlive *s. */
enum fl_err servicing_load_with(struct db *db, const int64_t *ids, size_t n, const struct servicing_set *caps_from,
                                struct servicing_set *s, struct fl_error *err);

/* The loan of a set, or NULL. */
const struct servicing_loan *servicing_find(const struct servicing_set *s, int64_t loan_id);

/* Replays a loan's recorded history into *l (pure): init with its terms and rate tables, the
 * stored approval schedule lent as the engine's seed (accrual_loan_seed: the first drawdown of
 * the whole principal copies it, bit for bit what generating it gives), then each event in order
 * (the origination fee charged at the first drawdown, each approved loan_charge on its value
 * date). ACCRUAL_OK, or the
 * status of the event that does not replay (*bad_event its index, else -1). */
accrual_status servicing_replay(const struct servicing_set *s, const struct servicing_loan *sl, struct accrual_loan *l,
                                long *bad_event);

/* Sets the default (moratorium) interest rate of a fund from valid_from on (docs/loan-servicing.md
 * §5), inside the caller's transaction: rate a decimal fraction (EA, e.g. "0.30"), valid_from a
 * date not before the latest rate's and not before the fund's latest repayment (recorded history
 * never changes). Returns {"id", "fund_id", "valid_from", "rate"}. FLE_NOT_FOUND fund_id,
 * FLE_MISSING_FIELD / FLE_BAD_FIELD rate, valid_from, FLE_RULE valid_from, FLE_DUPLICATE
 * valid_from. */
json_t *servicing_default_rate_set(struct db *db, const struct principal *actor, int64_t fund_id, const char *rate,
                                   const char *valid_from, struct fl_error *err);
/* A fund's default rates in date order: {"fund_id", "default_rates": [{"id", "valid_from",
 * "rate", "created_at"}]}. FLE_NOT_FOUND fund_id. */
json_t *servicing_default_rates(struct db *db, int64_t fund_id, struct fl_error *err);

#endif
