/* iati_export: a fund's IATI activity and organisation files built from the database and the ledger,
 * the checks that stand before anything is published, and the immutable publications. */
#ifndef FUNDLEDGER_IATI_EXPORT_H
#define FUNDLEDGER_IATI_EXPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fundledger/auth.h"
#include "fundledger/db.h"
#include "fundledger/error.h"
#include "fundledger/iati_check.h"

/* ---------------------------------------------------------------- limits (with their reasons) */

/* Loans read per page: a page's loans and their journal entries (a dozen each) stay a few MB. */
#define IATI_EXPORT_PAGE_LOANS 1000
/* Loan ids read per page for the fund's list of children: an id is a few bytes (about 0.5 MB a
 * page); the first page of loans is asked for as soon as the last page of ids has arrived. */
#define IATI_EXPORT_PAGE_IDS 10000
/* An identifier: the reporting org ref (128) + "-" + a fund code (32) + "-L" + a loan id, with room. */
#define IATI_EXPORT_ID_BYTES 256
/* Fund-level transactions (tranche agreements, contributions, expenses) held while the fund's own
 * activity is written: these do not grow with the loans; the writer's list bound is the limit. */
#define IATI_EXPORT_FUND_TX_MAX 100000
/* Value chains (DAC sectors) weighed for one activity: the reference table has a handful. */
#define IATI_EXPORT_SECTORS_MAX 64
/* Departments with loans to persons: Colombia has 33 first-level areas. */
#define IATI_EXPORT_DEPARTMENTS_MAX 64
/* Small groups: a department with fewer loans to persons than this (config iati_small_group_min)
 * is not published as its own activity (docs/iati.md, "Small groups"). */
#define IATI_SMALL_GROUP_MIN_DEFAULT 5
/* Quarters x transaction types summed for one department (100 years of quarters, 4 types). */
#define IATI_EXPORT_BUCKETS_MAX 1600
/* Person names hashed per pass of the privacy check (16 bytes each, twice for the table's
 * load): 4 MiB of memory whatever the number of persons; more names mean more passes. */
#define IATI_PRIVACY_NAMES_PER_PASS 131072
/* Words in one name the privacy check matches ("María Fernanda Quiñones de la Rosa" has six). */
#define IATI_PRIVACY_NAME_WORDS_MAX 16
/* Problems of the privacy check reported per file before it stops looking. */
#define IATI_PRIVACY_HITS_MAX 50
/* Largest file a publication stores in the database (text column): beyond this the files are
 * exported with the command line instead. */
#define IATI_PUBLICATION_BYTES_MAX (256u * 1024u * 1024u)
/* Activity identifiers and transaction refs listed in a changes reply; the counts are exact. */
#define IATI_CHANGES_LIST_MAX 1000

/* ---------------------------------------------------------------- transaction types */

/* The IATI transaction types the fund publishes (TransactionType codes in iati_tx_code). */
enum iati_tx {
    IATI_TX_INCOMING_FUNDS = 0,  /* "1": a contribution (Cr T.CONTRIB) */
    IATI_TX_OUTGOING_COMMITMENT, /* "2": loan approved (Dr 8500) */
    IATI_TX_DISBURSEMENT,        /* "3": a drawdown (Dr T.LOANS) */
    IATI_TX_EXPENDITURE,         /* "4": fund expenses (Dr 5000) */
    IATI_TX_INTEREST,            /* "5": interest paid by a borrower, repayment or recovery (Cr 4000) */
    IATI_TX_LOAN_REPAYMENT,      /* "6": principal repaid (Cr T.LOANS) or recovered (Cr T.LOSS) */
    IATI_TX_INCOMING_COMMITMENT, /* "11": tranche agreement signed (Cr T.COMMITMENT); cancellations negative */
    IATI_TX_COUNT_
};

/* The TransactionType code of t ("1", "11"). Static storage. */
const char *iati_tx_code(enum iati_tx t);

/* Per type: a total in minor units of the fund's currency and, for what an export wrote, how many
 * transactions. A reversal counts with the sign of its lines (it lowers the total). */
struct iati_totals {
    char currency[4];
    int exponent;
    int64_t total_minor[IATI_TX_COUNT_];
    uint64_t count[IATI_TX_COUNT_];
};

/* The ledger's own figure for each type over every entry of the fund, computed from journal lines
 * by event type and account alone (docs/fund-operations.md), independently of the export:
 *   11  -(T*.COMMITMENT) in tranche_signed and commitment_cancellation entries
 *    1  -(T*.CONTRIB) in contribution entries          2  +(8500) in loan_commitment entries
 *    3  +(T*.LOANS) in disbursement entries            4  +(5000) in any entry
 *    5  -(4000) in repayment and recovery entries      6  -(T*.LOANS) in repayment, -(T*.LOSS) in recovery
 * a reversal classed as the entry it reverses. Counts are left 0. Inside or outside a transaction.
 * Errors: FLE_NOT_FOUND fund_id, FLE_RULE when a line is not in the fund's currency, database errors. */
enum fl_err iati_export_totals(struct db *db, int64_t fund_id, struct iati_totals *out, struct fl_error *err);

/* ---------------------------------------------------------------- export */

struct iati_export_options {
    int64_t fund_id;
    const char *out_dir;           /* where activities.xml and organisation.xml go (must exist) */
    const char *reporting_org_ref; /* config iati_reporting_org_ref: the fund manager's IATI id */
    const char *schema_dir;        /* config iati_schema_dir */
    const char *codelist_dir;      /* config iati_codelist_dir */
    const char *today;             /* "YYYY-MM-DD" as-of date and the checks' today; NULL = UTC today */
    const char *policy_url;        /* the exclusions policy (document-link); required */
    /* config iati_small_group_min: a department with fewer loans to persons joins the country's
     * "other departments" activity; 0 means IATI_SMALL_GROUP_MIN_DEFAULT */
    unsigned small_group_min;
};

/* What an export wrote. */
struct iati_export_summary {
    char fund_identifier[IATI_EXPORT_ID_BYTES];
    uint64_t activity_count;
    struct iati_totals written; /* per type, as written in the activity file */
    /* Loans to persons not published at all: the fund's loans to persons are fewer than the small
     * group minimum in all, so any figure of them could be one person's loan. Their sums per type
     * (count: quarterly sums) are here, so that written + withheld still equals the ledger. */
    struct iati_totals withheld;
    uint64_t withheld_loans;
    uint64_t other_departments; /* departments summed into the "other departments" activity */
};

/* Makes the caller's just-opened transaction REPEATABLE READ, so that everything an export reads
 * (and the ledger totals it is compared with) is one snapshot. Must be the transaction's first
 * statement. */
enum fl_err iati_export_snapshot(struct db *db, struct fl_error *err);

/* Writes <out_dir>/activities.xml and <out_dir>/organisation.xml for the fund, streaming: the fund
 * (hierarchy 1), one activity per loan to an organisation, one per department for loans to
 * persons (never one per person; no name of a person is read). Small groups: departments with
 * fewer than small_group_min loans to persons are summed into one "<fund>-AGG-OTHER" activity
 * (no department location); while that one is itself below the minimum, the smallest department
 * published on its own joins it; when all the fund's loans to persons are below the minimum,
 * none is published (sum->withheld). Loans are read in keyset pages,
 * so memory does not grow with them. Does not check the files (see iati_export_publish). Inside
 * the caller's transaction (iati_export_snapshot first). Errors: FLE_NOT_FOUND fund_id;
 * FLE_RULE with a message when the data cannot be published as it is (no fund_manager
 * organisation whose iati_ref is reporting_org_ref, a line in another currency, a record the
 * writer refuses: the message names the field); FLE_INTERNAL for I/O. Nothing is left on disk
 * on error. */
enum fl_err iati_export_write(struct db *db, const struct iati_export_options *o, struct iati_export_summary *sum,
                              struct fl_error *err);

/* The whole publishing path: writes both files into a staging directory inside out_dir, checks
 * each with iati_check_file (schema from schema_dir, codelists, rulesets, and the fund's policies:
 * no coordinates, nothing finer than a municipality; today), checks privacy (iati_privacy_check),
 * compares the file's total per type plus what was withheld (small groups) with
 * iati_export_totals (rule FL-TOTALS), and only when no error was found moves both files into
 * out_dir. Every problem is appended to problems; warnings and infos (IATI rules the Validator
 * ranks so) do not stop publishing; any error does: then nothing is published and the result is
 * FLE_RULE ("the files did not pass the checks: N error(s)"). Schemas or codelists
 * that cannot be read are problems (FL-CONFIG), never a skipped check. Inside the caller's
 * transaction (iati_export_snapshot first). */
enum fl_err iati_export_publish(struct db *db, const struct iati_export_options *o, struct iati_export_summary *sum,
                                struct iati_problems *problems, struct fl_error *err);

/* The privacy check of one file (domain.md §10): no name of an entrepreneur of kind person, of
 * any fund, appears in it (compared word by word, case- and accent-case-insensitive, whatever
 * separates the words: rule FL-PRIVACY-NAME, naming the entrepreneur's id, never the name), and
 * no <point> or <pos> element (FL-PRIVACY-COORDINATES). Reads the file as a stream and the names
 * in pages. Returns FLE_OK when the check ran (problems appended if any), else a database or
 * FLE_INTERNAL (file unreadable) error. */
enum fl_err iati_privacy_check(struct db *db, const char *path, struct iati_problems *problems, struct fl_error *err);

/* The kind of an IATI file from its root element (iati-activities / iati-organisations).
 * false when the file cannot be read or has another root. */
bool iati_file_kind(const char *path, enum iati_kind *kind);

/* ---------------------------------------------------------------- publications */

/* Exports, checks and stores a new immutable publication of the fund (version = last + 1), inside
 * the caller's transaction, audited. staging_dir is a directory where the files are made and then
 * removed. The caller runs this in a fresh transaction after iati_export_snapshot. Returns
 * {"fund_id", "version", "created_at", "created_by", "fund_identifier", "currency",
 * "activity_count", "transactions": {"<type>": {"count", "total"}}, "activities_sha256",
 * "organisation_sha256", "warnings": [the checks' warnings, iati_problems_json]} (caller owns);
 * the audit record lists the warnings' rule ids. When the checks fail: NULL with FLE_RULE and the problems
 * appended. FLE_CONFLICT when another publication of the fund was made at the same time,
 * FLE_RULE when a file is over IATI_PUBLICATION_BYTES_MAX. */
json_t *iati_publication_create(struct db *db, const struct principal *who, const struct iati_export_options *o,
                                struct iati_problems *problems, struct fl_error *err);

/* The fund's publications, newest first, without their files: {"fund_id", "publications": [...]}.
 * FLE_NOT_FOUND fund_id. */
json_t *iati_publication_list(struct db *db, int64_t fund_id, struct fl_error *err);

/* A stored file of a publication (version 0 = the latest), as malloc'd text the caller frees.
 * organisation false: the activity file. FLE_NOT_FOUND (fund_id, or version). */
char *iati_publication_file(struct db *db, int64_t fund_id, int64_t version, bool organisation, struct fl_error *err);

/* What changed from the previous publication to version (0 = latest): {"fund_id", "version",
 * "previous_version" (null for the first), "activities_added" / "activities_removed"
 * (identifiers), "transactions_added" / "transactions_removed" (refs), each with its count
 * ("..._count") and cut at IATI_CHANGES_LIST_MAX ("truncated": true), and "totals": {"<type>":
 * {"previous", "current", "change"}} as decimal strings}. FLE_NOT_FOUND fund_id / version. */
json_t *iati_publication_changes(struct db *db, int64_t fund_id, int64_t version, struct fl_error *err);

/* The exclusions policy the files link to, as a small HTML page in Spanish and English. Static. */
const char *iati_exclusions_policy_html(void);

/* What publishing now would do, without publishing (src/iati/preview.c): the whole path runs in
 * a transaction that is rolled back. {"fund_id", "would_publish", "refusal" (when not),
 * "ledger_totals": {"<type>": total} (iati_export_totals), "problems": [every finding, errors
 * and warnings, iati_problems_json], "changes": iati_publication_changes of the would-be version
 * (null when refused), "publication": the reply iati_publication_create would give (null when
 * refused)}. Database errors as usual; a refusal by the checks is a reply, not an error. */
json_t *iati_publication_preview(struct db *db, const struct principal *who, const struct iati_export_options *o,
                                 struct fl_error *err);

#endif
