/* pipeline: entrepreneurs in a fund's pipeline, their stage machine (who, when, why), the
 * reference data they point at (DIVIPOLA municipalities, value chains), and human-security
 * measures (baseline and follow-ups, approved by a second person). */
#ifndef FUNDLEDGER_PIPELINE_H
#define FUNDLEDGER_PIPELINE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fundledger/auth.h"
#include "fundledger/db.h"
#include "fundledger/error.h"

/* The stage machine (docs/domain.md §2):
 *   sourced -> screening -> due_diligence -> committee -> approved -> active -> repaid
 *   declined     from sourced, screening, due_diligence, committee
 *   withdrawn    from any stage before active (sourced .. approved)
 *   written_off  from active
 *   committee -> due_diligence   (sent back for more work)
 * repaid, declined, withdrawn and written_off are final. A reason is required to decline,
 * withdraw, write off and to go back. Nothing else is allowed. */
bool pipeline_stage_valid(const char *stage);
bool pipeline_move_allowed(const char *from, const char *to);
bool pipeline_move_needs_reason(const char *from, const char *to);
/* The stages one may move to from `from`, comma-separated in machine order ("due_diligence,
 * declined, withdrawn"), or "" for a final stage. Returns buf; the text is cut to cap. */
const char *pipeline_moves_text(const char *from, char *buf, size_t cap);

/* What a fund manager tells about an entrepreneur. Strings are borrowed; NULL means absent. */
struct pipeline_entrepreneur_input {
    const char *kind;              /* cooperative, association, firm, person */
    const char *name;              /* 1..PIPELINE_NAME_BYTES_MAX bytes; personal data for a person */
    const char *tax_id;            /* NIT of an organisation ("900123456" or "900123456-8", check digit
                                    * verified), a person's cédula; NULL for none */
    const char *municipality_code; /* DIVIPOLA, must exist */
    const char *value_chain;       /* must exist */
    bool women_led, youth_led, conflict_victim;
    int64_t members;       /* 1..PIPELINE_MEMBERS_MAX */
    const char *requested; /* decimal string in the fund's base currency, >= 0; NULL = 0 */
    const char *purpose;   /* 0..PIPELINE_PURPOSE_BYTES_MAX bytes; NULL = "" */
};

/* Adds an entrepreneur to a fund's pipeline at stage "sourced", inside the caller's
 * transaction, audited (kind, municipality and value chain only: a person's name and tax id are
 * personal data, never in the audit log nor in logs). An organisation (not a person) also gets an
 * organisation row of kind "entrepreneur" with the IATI identifier "CO-RUE-<NIT without check
 * digit>" when a tax_id is given (IATI type 72, 22 for an association); when that identifier is
 * already registered as an entrepreneur organisation, that organisation is reused (the same legal
 * entity applying again). A person never gets an organisation nor an IATI identifier. The first
 * stage row (NULL -> sourced) records the actor. Returns the entrepreneur as pipeline_entrepreneur_get
 * shows it (caller owns). Errors name the field: FLE_BAD_FIELD / FLE_MISSING_FIELD (kind, name,
 * tax_id, municipality_code, value_chain, members, requested, purpose), FLE_NOT_FOUND (fund_id),
 * FLE_DUPLICATE (tax_id: the IATI identifier belongs to a non-entrepreneur organisation). */
json_t *pipeline_entrepreneur_create(struct db *db, const struct principal *actor, int64_t fund_id,
                                     const struct pipeline_entrepreneur_input *in, struct fl_error *err);

/* Moves an entrepreneur to to_stage, inside the caller's transaction. The entrepreneur row is
 * locked (SELECT ... FOR UPDATE), so concurrent moves are serialised and each sees the stage the
 * previous one left. The move is recorded (from, to, actor, time, reason) in the append-only stage
 * history and audited. reason may be NULL ("") except where the machine requires one.
 * Returns the entrepreneur after the move (caller owns). Errors: FLE_NOT_FOUND (entrepreneur_id),
 * FLE_BAD_FIELD "to" (not a stage), FLE_MISSING_FIELD "reason" (required for this move),
 * FLE_BAD_FIELD "reason" (too long), FLE_CONFLICT "to" for a move the machine does not allow,
 * whose message names the allowed moves: "from screening the allowed moves are: due_diligence,
 * declined, withdrawn". */
json_t *pipeline_move(struct db *db, const struct principal *actor, int64_t entrepreneur_id, const char *to_stage,
                      const char *reason, struct fl_error *err);

/* For other modules (loans): the same move without building a reply, for the events a loan
 * drives: its approval (committee -> approved), first disbursement (approved -> active), full
 * repayment (active -> repaid) and write-off (active -> written_off, with a reason). actor is the
 * person whose action caused it (the approver, the maker recording a repayment); it is recorded
 * as the mover. Same rules and errors as pipeline_move, with one difference: when the
 * entrepreneur is already at to_stage it does nothing and returns FLE_OK (a second drawdown finds
 * the entrepreneur active already). Inside the caller's transaction. */
enum fl_err pipeline_move_system(struct db *db, const struct principal *actor, int64_t entrepreneur_id,
                                 const char *to_stage, const char *reason, struct fl_error *err);

/* One entrepreneur with its stage history (oldest first: from, to, at, user, reason) and its
 * latest human-security measures (per dimension and indicator, the latest round). Staff only: it
 * holds personal data. Caller owns. FLE_NOT_FOUND "entrepreneur_id". */
json_t *pipeline_entrepreneur_get(struct db *db, int64_t entrepreneur_id, struct fl_error *err);

/* Filters of a list; NULL / false means no filter on that column. */
struct pipeline_filter {
    const char *stage;
    const char *municipality_code;
    const char *value_chain;
    const bool *women_led, *youth_led, *conflict_victim; /* NULL: either */
};

/* Entrepreneurs of a fund matching every filter, keyset-paged by id after after_id, at most limit
 * (1..PAGE_SIZE_MAX): {"entrepreneurs": [...], "next_after": id|null}. FLE_NOT_FOUND (fund_id),
 * FLE_BAD_PARAM naming a filter that is not well formed (stage, municipality, value_chain). */
json_t *pipeline_entrepreneurs_list(struct db *db, int64_t fund_id, const struct pipeline_filter *f, int64_t after_id,
                                    unsigned limit, struct fl_error *err);

/* The funnel of a fund: for every stage in machine order (zeros included) the number of
 * entrepreneurs there and the total requested amount, a decimal string in the fund's currency,
 * and the same over all stages: {"fund_id", "currency", "stages": [{"stage", "count",
 * "requested"}], "total": {"count", "requested"}}. FLE_NOT_FOUND (fund_id). */
json_t *pipeline_funnel(struct db *db, int64_t fund_id, struct fl_error *err);

/* Reference data: {"municipalities": [{code, name, department_code, department_name}]} and
 * {"value_chains": [{code, name_es, name_en, dac_sector}]}. */
json_t *pipeline_municipalities_list(struct db *db, struct fl_error *err);
json_t *pipeline_value_chains_list(struct db *db, struct fl_error *err);

/* Human security: seven dimensions; round 0 is the baseline. */
bool pipeline_dimension_valid(const char *dimension);

struct pipeline_measure_input {
    const char *municipality_code; /* must exist; the entrepreneur's when entrepreneur_id is set */
    int64_t entrepreneur_id;       /* 0 for a municipality-level measure; else of this fund */
    int64_t round;                 /* 0 (baseline) .. PIPELINE_ROUND_MAX */
    const char *dimension;         /* economic, food, health, environmental, personal, community, political */
    const char *indicator;         /* 1..PIPELINE_INDICATOR_BYTES_MAX bytes */
    const char *raw_value;         /* exact decimal: [+-]digits[.digits], <= 14 integer and 6 decimal digits */
    const char *score;             /* 0..100 with at most 2 decimals */
    const char *method;            /* 0..PIPELINE_METHOD_BYTES_MAX bytes; NULL = "" */
    const char *measured_on;       /* YYYY-MM-DD, not in the future */
};

/* Records a measure for a fund, unapproved, inside the caller's transaction, audited. Values are
 * kept exactly (numeric, never binary floating point). Returns the measure (caller owns). Errors
 * name the field: municipality_code, entrepreneur_id, round, dimension, indicator, raw_value,
 * score, method, measured_on; FLE_NOT_FOUND (fund_id). */
json_t *pipeline_measure_record(struct db *db, const struct principal *actor, int64_t fund_id,
                                const struct pipeline_measure_input *in, struct fl_error *err);

/* Approves a measure: four eyes on data, the approver is not who recorded it (FLE_SELF_APPROVAL;
 * the database refuses it too). The row is locked. FLE_NOT_FOUND (measure_id), FLE_CONFLICT
 * (already approved). Inside the caller's transaction, audited. Returns the measure. */
json_t *pipeline_measure_approve(struct db *db, const struct principal *actor, int64_t measure_id,
                                 struct fl_error *err);

/* Measures of a fund, filtered by municipality (NULL any), round (< 0 any) and dimension (NULL
 * any), keyset-paged by id: {"measures": [...], "next_after"}. public_only keeps approved,
 * municipality-level measures (what a transparency officer may see: no measure of one
 * entrepreneur). FLE_NOT_FOUND (fund_id), FLE_BAD_PARAM (municipality, dimension). */
json_t *pipeline_measures_list(struct db *db, int64_t fund_id, const char *municipality_code, int64_t round,
                               const char *dimension, bool public_only, int64_t after_id, unsigned limit,
                               struct fl_error *err);

#endif
