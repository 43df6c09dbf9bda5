/* waterfall: who gets paid first: a payment inside a loan, the fund's cash across tranches,
 * losses bottom-up and recoveries top-down. Integer arithmetic only; every split sums exactly. */
#ifndef FUNDLEDGER_WATERFALL_H
#define FUNDLEDGER_WATERFALL_H

#include <stddef.h>
#include <stdint.h>

/* Most tranches in a capital stack: a blended fund has three to five (first-loss, one or two
 * mezzanine, one or two senior); 16 leaves room and bounds the step list. */
#define WATERFALL_TRANCHES_MAX 16

/* Steps a fund waterfall run writes for n tranches: fees, n interest, n principal, reserve,
 * residual. A caller's step array of WATERFALL_STEPS_MAX is always enough. */
#define WATERFALL_STEPS_FOR(n) (2 * (size_t)(n) + 3)
#define WATERFALL_STEPS_MAX WATERFALL_STEPS_FOR(WATERFALL_TRANCHES_MAX)

typedef enum waterfall_status {
    WATERFALL_OK = 0,
    WATERFALL_ERR_NEGATIVE, /* a negative amount where only >= 0 makes sense */
    WATERFALL_ERR_COUNT,    /* no tranche, or more than WATERFALL_TRANCHES_MAX */
    WATERFALL_ERR_RANK,     /* tranches not in strictly increasing rank order, or rank < 1 */
    WATERFALL_ERR_MODE,     /* unknown principal mode */
    WATERFALL_ERR_CAPACITY, /* the caller's output array is too small */
    WATERFALL_ERR_OVERFLOW, /* a sum of amounts exceeds int64 */
} waterfall_status;

/* A short English phrase for a status, for error messages. Static storage. */
const char *waterfall_status_text(waterfall_status st);

/* ---- (1) one payment inside a loan ---- */

/* The buckets a loan payment pays, in this order (domain §6). */
typedef enum waterfall_bucket {
    WATERFALL_BUCKET_FEES = 0,
    WATERFALL_BUCKET_OVERDUE_INTEREST,
    WATERFALL_BUCKET_OVERDUE_PRINCIPAL,
    WATERFALL_BUCKET_CURRENT_INTEREST,
    WATERFALL_BUCKET_CURRENT_PRINCIPAL,
    WATERFALL_BUCKETS /* count */
} waterfall_bucket;

typedef struct waterfall_loan_due {
    int64_t due_minor[WATERFALL_BUCKETS]; /* amount due in each bucket, >= 0 */
} waterfall_loan_due;

typedef struct waterfall_loan_applied {
    int64_t applied_minor[WATERFALL_BUCKETS]; /* paid into each bucket, <= its due */
    int64_t excess_minor;                     /* what is left: a prepayment of principal */
} waterfall_loan_applied;

/* Applies payment_minor to the buckets in order, each up to its due, and returns the rest as
 * excess (to be treated as a prepayment by the caller). Always sum(applied) + excess ==
 * payment. WATERFALL_ERR_NEGATIVE for a negative payment or due; *out untouched on error. */
waterfall_status waterfall_allocate_payment(int64_t payment_minor, const waterfall_loan_due *due,
                                            waterfall_loan_applied *out);

/* ---- (2) the fund's waterfall across tranches ---- */

/* Principal distribution among the rated (senior and mezzanine) tranches. */
typedef enum waterfall_mode {
    WATERFALL_SEQUENTIAL = 1, /* principal repays the most senior tranche in full first */
    WATERFALL_PRO_RATA,       /* principal shared pro rata to outstanding principal */
} waterfall_mode;

/* One tranche's claims at the waterfall date. Tranches are given most senior first: index 0 is
 * the senior tranche, the last one (when there are two or more) is the first-loss tranche and
 * residual holder, those in between are mezzanine. With a single tranche it is both senior and
 * residual holder. */
typedef struct waterfall_tranche {
    int rank;                            /* seniority, 1 = most senior; strictly increasing */
    int64_t interest_due_minor;          /* interest due now (current and unpaid), >= 0 */
    int64_t principal_outstanding_minor; /* principal that may be repaid, >= 0 */
} waterfall_tranche;

/* Cash collected in the period by kind. The three are pooled into one waterfall (a single
 * priority of payments, as in domain §6); they are kept apart so the caller can reconcile the
 * input with its collections. */
typedef struct waterfall_cash {
    int64_t interest_minor;
    int64_t fee_minor;
    int64_t principal_minor;
} waterfall_cash;

typedef struct waterfall_fund {
    waterfall_mode mode;
    int64_t fees_expenses_due_minor; /* manager fees, administrator, taxes, expenses: >= 0 */
    int64_t reserve_target_minor;    /* reserve account target, >= 0 */
    int64_t reserve_current_minor;   /* reserve balance now, >= 0 (may exceed the target) */
    const waterfall_tranche *tranches;
    size_t tranche_count; /* 1..WATERFALL_TRANCHES_MAX */
} waterfall_fund;

typedef enum waterfall_step_kind {
    WATERFALL_STEP_FEES = 1,  /* fees and expenses (tranche -1) */
    WATERFALL_STEP_INTEREST,  /* interest to a tranche */
    WATERFALL_STEP_PRINCIPAL, /* principal to a tranche */
    WATERFALL_STEP_RESERVE,   /* reserve top-up (tranche -1) */
    WATERFALL_STEP_RESIDUAL,  /* whatever is left, to the residual holder (most junior) */
} waterfall_step_kind;

typedef struct waterfall_step {
    waterfall_step_kind kind;
    int tranche;          /* index into waterfall_fund.tranches, or -1 for fund-level steps */
    int64_t due_minor;    /* what the step could take (0 for the residual) */
    int64_t amount_minor; /* what it got: 0 <= amount <= due, except the residual */
} waterfall_step;

/* Runs the fund waterfall on the pooled cash and writes every step, in payment order, into
 * steps (zero amounts included, so the list's shape depends only on the mode and tranche count:
 * WATERFALL_STEPS_FOR(n) steps). Order:
 *   SEQUENTIAL: fees -> senior interest -> senior principal -> reserve top-up ->
 *               each mezzanine (rank order): interest, principal ->
 *               first-loss interest, first-loss principal -> residual.
 *   PRO_RATA:   fees -> senior interest -> each mezzanine interest (rank order) ->
 *               principal of senior and mezzanine tranches together, split pro rata to
 *               outstanding principal with money_split (largest remainder, ties to the more
 *               senior) and capped at what each is owed -> reserve top-up ->
 *               first-loss interest, first-loss principal -> residual.
 *   In pro-rata mode the rated tranches' interest comes before any of their principal, which is
 *   why mezzanine interest moves ahead; the first-loss tranche is never in the pro-rata share:
 *   it is repaid last in both modes. The reserve top-up is min(cash, target - current) when the
 *   reserve is below target.
 * Deterministic; sum of amounts == interest + fee + principal cash exactly. *steps_len is set to
 * the count written. Errors (nothing usable written, *steps_len 0): WATERFALL_ERR_NEGATIVE,
 * _COUNT, _RANK, _MODE, _CAPACITY, _OVERFLOW. */
waterfall_status waterfall_run(const waterfall_fund *fund, const waterfall_cash *cash, waterfall_step *steps,
                               size_t steps_cap, size_t *steps_len);

/* ---- (3) losses and recoveries ---- */

/* Absorbs a realised loss bottom-up: capital_minor[] is each tranche's capital, most senior
 * first (as above). The most junior tranche is written down to zero first, then the next.
 * absorbed_minor[i] receives tranche i's write-down; *unabsorbed_minor what exceeds the whole
 * stack (0 normally). WATERFALL_ERR_NEGATIVE / _COUNT / _OVERFLOW; outputs untouched on error. */
waterfall_status waterfall_allocate_loss(int64_t loss_minor, const int64_t *capital_minor, size_t n,
                                         int64_t *absorbed_minor, int64_t *unabsorbed_minor);

/* Applies a recovery top-down: written_down_minor[i] is what tranche i (most senior first) has
 * lost and not yet had restored. The most senior is restored first, up to its write-down, then
 * the next. restored_minor[i] receives each restoration; *excess_minor what is left once every
 * write-down is restored (it is ordinary cash for the fund waterfall). Errors as above. */
waterfall_status waterfall_allocate_recovery(int64_t recovery_minor, const int64_t *written_down_minor, size_t n,
                                             int64_t *restored_minor, int64_t *excess_minor);

#endif
