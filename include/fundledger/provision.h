/* provision: the loss allowance (docs/fund-operations.md, "Loss allowance"): a dated table of
 * days-past-due buckets and percentages, the allowance of a loan, its allocation to tranches
 * bottom-up (the loss allocation of waterfall.h) and what a write-off takes from it. Pure: no
 * database. */
#ifndef FUNDLEDGER_PROVISION_H
#define FUNDLEDGER_PROVISION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fundledger/rate.h"
#include "fundledger/waterfall.h"

/* Longest category name ("A" .. "E" in the demo) with its NUL. */
#define PROVISION_CATEGORY_BYTES 16

/* One row of a fund's dated bucket table. */
typedef struct provision_bucket {
    rate_date effective;                     /* the table this row belongs to is in force from this date */
    int dpd_from;                            /* lowest days past due of the bucket, >= 0 */
    int64_t rate;                            /* allowance on principal, 0..RATE_SCALE (100 %), 8 decimals */
    char category[PROVISION_CATEGORY_BYTES]; /* e.g. "B" */
} provision_bucket;

typedef enum provision_status {
    PROVISION_OK = 0,
    PROVISION_ERR_NO_TABLE, /* no row in force on the date, or none from 0 days past due */
    PROVISION_ERR_INPUT,    /* a negative amount or days past due, a rate outside 0..100 %, a bad date */
    PROVISION_ERR_OVERFLOW,
} provision_status;

/* The bucket of a loan dpd days past due on `date`: among rows[] (any order, several tables),
 * those of the latest effective date on or before `date`; of them the row with the greatest
 * dpd_from <= dpd. *idx is its index in rows. A table must have a row from 0 days
 * (PROVISION_ERR_NO_TABLE otherwise, as when no table is in force yet). */
provision_status provision_bucket_find(const provision_bucket *rows, size_t n, rate_date date, int dpd, size_t *idx);

/* A loan's allowance: round_half_even(principal_minor x rate / 10^8). */
provision_status provision_allowance(int64_t principal_minor, int64_t rate, int64_t *allowance_minor);

/* The change to post so the allowance goes from posted_minor to target_minor: > 0 an unrealised
 * loss (allowance raised), < 0 a release. */
provision_status provision_change(int64_t posted_minor, int64_t target_minor, int64_t *change_minor);

/* Allocates the fund's allowance over its tranches (most senior first) bottom-up, first loss
 * first, up to each tranche's capital: waterfall_allocate_loss, so an allowance lands where the
 * same realised loss would. */
waterfall_status provision_allocate(int64_t allowance_minor, const int64_t *capital_minor, size_t n,
                                    int64_t *allocated_minor, int64_t *unabsorbed_minor);

/* A write-off of loss_minor on a loan carrying allowance_minor: the allowance is used first
 * (*used_minor = min(loss, allowance), released from the unrealised loss) and the whole loss is
 * realised; *extra_minor = loss - used is what the write-off adds to the fund's losses beyond
 * what the allowance had already recognised. Both >= 0; used + extra == loss. */
provision_status provision_write_off(int64_t loss_minor, int64_t allowance_minor, int64_t *used_minor,
                                     int64_t *extra_minor);

#endif
