/* iati: the fund's IATI 2.03 publication model and streaming writers for the activity and organisation files. */
#ifndef FUNDLEDGER_IATI_H
#define FUNDLEDGER_IATI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * The model is plain data that the caller owns: every pointer is borrowed for the duration of one
 * call and never kept. Strings are UTF-8 and NUL-terminated; an optional string is NULL when absent.
 * Codes are the IATI code as text ("2", "C01", "31162"). Dates are "YYYY-MM-DD", date-times
 * "YYYY-MM-DDThh:mm:ssZ" (an xsd:dateTime; fraction and zone optional). Money is int64 minor units with the
 * currency's exponent, written as a decimal with exactly that many places; percentages and rates
 * are basis points (1% = 100 bp), written as a decimal without trailing zeros. No floating point.
 *
 * What the model cannot express on purpose (domain.md §10): coordinates. A location has a name and
 * administrative areas down to municipality level, never a <point> or <pos>.
 */

/* ---------------------------------------------------------------- limits (with their reasons) */

/* Narratives per text: the fund writes es and en; a few more languages leave room. */
#define IATI_NARRATIVES_MAX 8
/* Items in any one list of a record (transactions, budgets, locations...). A loan has a few
 * hundred transactions over its life; this bounds a runaway caller, not real data. */
#define IATI_LIST_MAX 100000
/* Items one streamed list may produce (related_next): bounds the loop, far beyond any fund. */
#define IATI_STREAM_ITEMS_MAX 100000000u
/* Bytes in one string of the model (a narrative, an identifier, a URL). */
#define IATI_TEXT_BYTES_MAX 65536
/* Finest administrative level the writer publishes: 0 country, 1 department, 2 municipality. */
#define IATI_ADMIN_LEVEL_MAX 2
/* Largest currency exponent money_format accepts. */
#define IATI_EXPONENT_MAX 18
/* A writer's last error message, one line. */
#define IATI_WRITER_ERROR_BYTES 256

_Static_assert(IATI_ADMIN_LEVEL_MAX == 2, "municipality (level 2) is the finest level published");

/* ---------------------------------------------------------------- status */

enum iati_status {
    IATI_OK = 0,
    IATI_ERR_INVALID, /* the record given breaks a rule of the model; nothing of it was written */
    IATI_ERR_IO,      /* opening, writing, flushing or renaming the output failed */
    IATI_ERR_NOMEM,   /* an allocation failed */
    IATI_ERR_STATE,   /* the writer failed earlier, or is of the other kind */
};

/* A short English phrase for a status. Static storage. */
const char *iati_status_text(enum iati_status st);

/* ---------------------------------------------------------------- building blocks */

/* One narrative. lang NULL means the record's default language (xml:lang of the activity or
 * organisation); a lang equal to the default is written without xml:lang. */
struct iati_narrative {
    const char *lang;
    const char *text;
};

/* A human-readable text in one or more languages (title, description, a name). */
struct iati_text {
    const struct iati_narrative *items;
    size_t count;
};

/* A money value: <value currency=".." value-date="..">decimal</value>. */
struct iati_amount {
    int64_t amount_minor;
    int exponent;           /* the currency's minor-unit exponent, 0..IATI_EXPONENT_MAX */
    const char *currency;   /* NULL: the record's default currency (attribute omitted) */
    const char *value_date; /* required */
};

/* An organisation named in a record: reporting-org (activity_id unused), provider-org
 * (activity_id = provider-activity-id) or receiver-org (activity_id = receiver-activity-id). */
struct iati_org_ref {
    const char *ref;  /* organisation identifier; required for reporting-org */
    const char *type; /* OrganisationType; required for reporting-org */
    const char *activity_id;
    struct iati_text name; /* at least one narrative for reporting-org */
};

struct iati_participating_org {
    const char *ref;
    const char *type;
    const char *role; /* OrganisationRole, required */
    const char *activity_id;
    struct iati_text name;
};

struct iati_description {
    const char *type; /* DescriptionType, NULL to omit */
    struct iati_text text;
};

struct iati_activity_date {
    const char *type; /* ActivityDateType: 1 planned start, 2 actual start, 3 planned end, 4 actual end */
    const char *iso_date;
};

struct iati_recipient_country {
    const char *code; /* ISO 3166-1 alpha-2 */
    bool has_percentage;
    int32_t percentage_bp;
};

/* An administrative area of a location: vocabulary G1 (GeoNames) or A1..A9, level 0..2. */
struct iati_admin_area {
    const char *vocabulary;
    const char *code;
    int level; /* -1 to omit */
};

/* A place at municipality level at the finest. There is deliberately no coordinate field. */
struct iati_location {
    const char *ref;
    const char *reach;            /* GeographicLocationReach, NULL to omit */
    const char *id_vocabulary;    /* location-id (e.g. G1 + GeoNames id of the municipality) */
    const char *id_code;          /* both or neither */
    struct iati_text name;        /* count 0 to omit */
    struct iati_text description; /* count 0 to omit */
    const struct iati_admin_area *admin;
    size_t admin_count;
    const char *exactness;           /* GeographicExactness, NULL to omit */
    const char *location_class;      /* GeographicLocationClass, NULL to omit */
    const char *feature_designation; /* LocationType, NULL to omit */
};

struct iati_sector {
    const char *vocabulary; /* NULL means "1" (OECD DAC 5-digit), written explicitly */
    const char *code;
    bool has_percentage;
    int32_t percentage_bp;
};

struct iati_budget {
    const char *type;   /* BudgetType, NULL to omit */
    const char *status; /* BudgetStatus, NULL to omit */
    const char *period_start;
    const char *period_end;
    struct iati_amount value;
};

struct iati_transaction {
    const char *ref;  /* the publisher's own reference, NULL to omit */
    const char *type; /* TransactionType */
    const char *date;
    struct iati_amount value;
    struct iati_text description;        /* count 0 to omit */
    const struct iati_org_ref *provider; /* NULL to omit */
    const struct iati_org_ref *receiver; /* NULL to omit */
    const char *flow_type;               /* overrides of the activity defaults, NULL to omit */
    const char *finance_type;
    const char *aid_type;
    const char *aid_type_vocabulary; /* NULL: attribute omitted (vocabulary 1) */
    const char *tied_status;
};

struct iati_related_activity {
    const char *type; /* RelatedActivityType: 1 parent, 2 child, ... */
    const char *ref;
};

struct iati_indicator_period {
    const char *period_start;
    const char *period_end;
    const char *target_value; /* decimal text; NULL omits <target> */
    const char *actual_value; /* decimal text; NULL omits <actual> */
};

struct iati_indicator {
    const char *measure; /* IndicatorMeasure */
    int ascending;       /* 0 or 1, -1 to omit */
    struct iati_text title;
    struct iati_text description; /* count 0 to omit */
    bool has_baseline;
    unsigned baseline_year;        /* required with a baseline, > 0 */
    const char *baseline_iso_date; /* NULL to omit */
    const char *baseline_value;    /* NULL to omit */
    const struct iati_indicator_period *periods;
    size_t period_count;
};

struct iati_result {
    const char *type;       /* ResultType */
    int aggregation_status; /* 0 or 1, -1 to omit */
    struct iati_text title;
    struct iati_text description;            /* count 0 to omit */
    const struct iati_indicator *indicators; /* at least one */
    size_t indicator_count;
};

struct iati_document_link {
    const char *url;
    const char *format; /* FileFormat (IANA media type) */
    struct iati_text title;
    struct iati_text description;  /* count 0 to omit */
    const char *const *categories; /* DocumentCategory, at least one */
    size_t category_count;
    const char *const *languages;
    size_t language_count;
    const char *document_date; /* NULL to omit */
};

struct iati_loan_terms {
    bool has_rate_1;
    int32_t rate_1_bp;
    bool has_rate_2;
    int32_t rate_2_bp;
    const char *repayment_type; /* LoanRepaymentType, NULL to omit */
    const char *repayment_plan; /* LoanRepaymentPeriod, NULL to omit */
    const char *commitment_date;
    const char *repayment_first_date;
    const char *repayment_final_date;
};

/* A minor-unit amount that may be absent. */
struct iati_opt_minor {
    bool present;
    int64_t minor;
};

/* The loan's status for one reporting year. IATI 2.03 allows one <loan-status> per activity
 * (maxOccurs="1": "the most recently reported financial year"), so an activity carries the latest
 * year; earlier years live in earlier files. A write-off shows as the drop of principal_outstanding. */
struct iati_loan_status {
    unsigned year;
    const char *currency; /* NULL: default currency */
    int exponent;
    const char *value_date; /* required */
    struct iati_opt_minor interest_received;
    struct iati_opt_minor principal_outstanding;
    struct iati_opt_minor principal_arrears;
    struct iati_opt_minor interest_arrears;
};

struct iati_crs_add {
    const struct iati_loan_terms *loan_terms;   /* NULL to omit */
    const struct iati_loan_status *loan_status; /* NULL to omit */
};

/* One activity: the fund (hierarchy 1) or one of its loans (hierarchy 2). */
struct iati_activity {
    const char *identifier;            /* reporting-org ref + "-" + the fund's own id */
    int hierarchy;                     /* 0 to omit */
    const char *lang;                  /* default xml:lang, e.g. "es"; NULL requires a lang on every narrative */
    const char *default_currency;      /* NULL requires a currency on every amount */
    const char *last_updated_datetime; /* NULL to omit */
    int humanitarian;                  /* 0 or 1, -1 to omit */
    struct iati_org_ref reporting_org;
    struct iati_text title;
    const struct iati_description *descriptions; /* at least one */
    size_t description_count;
    const struct iati_participating_org *participating_orgs; /* at least one */
    size_t participating_org_count;
    const char *activity_status;            /* ActivityStatus, required */
    const struct iati_activity_date *dates; /* at least one */
    size_t date_count;
    const char *activity_scope; /* NULL to omit */
    const struct iati_recipient_country *recipient_countries;
    size_t recipient_country_count;
    const struct iati_location *locations;
    size_t location_count;
    const struct iati_sector *sectors;
    size_t sector_count;
    const char *collaboration_type; /* NULL to omit, as the next five */
    const char *default_flow_type;
    const char *default_finance_type;
    const char *default_aid_type;
    const char *default_aid_type_vocabulary;
    const char *default_tied_status;
    const struct iati_budget *budgets;
    size_t budget_count;
    const struct iati_transaction *transactions;
    size_t transaction_count;
    const struct iati_document_link *document_links;
    size_t document_link_count;
    const struct iati_related_activity *related_activities;
    size_t related_activity_count;
    /* More related activities than a caller should hold (a parent's children, one per loan): when
     * related_next is not NULL it is called after the array is written, until it returns 0. A call
     * returning 1 has filled *out (its strings borrowed until the next call); -1 means the source
     * failed. These are checked as they are written, so an invalid one or a failed source breaks the
     * writer half-way through the record (IATI_ERR_INVALID / IATI_ERR_IO, then IATI_ERR_STATE) and
     * close removes the temporary file. At most IATI_STREAM_ITEMS_MAX calls. */
    int (*related_next)(void *ctx, struct iati_related_activity *out);
    void *related_ctx;
    const struct iati_result *results;
    size_t result_count;
    const struct iati_crs_add *crs_add; /* NULL to omit */
};

/* ---------------------------------------------------------------- organisation record */

struct iati_org_budget { /* total-budget */
    const char *status;  /* BudgetStatus, NULL to omit */
    const char *period_start;
    const char *period_end;
    struct iati_amount value;
};

struct iati_org_country_budget { /* recipient-country-budget */
    const char *status;
    const char *country_code;
    const char *period_start;
    const char *period_end;
    struct iati_amount value;
};

struct iati_org_expenditure { /* total-expenditure */
    const char *period_start;
    const char *period_end;
    struct iati_amount value;
};

struct iati_organisation {
    const char *identifier; /* organisation-identifier */
    const char *lang;
    const char *default_currency;
    const char *last_updated_datetime; /* NULL to omit */
    struct iati_text name;
    struct iati_org_ref reporting_org;
    const struct iati_org_budget *total_budgets;
    size_t total_budget_count;
    const struct iati_org_country_budget *country_budgets;
    size_t country_budget_count;
    const struct iati_org_expenditure *expenditures;
    size_t expenditure_count;
    const struct iati_document_link *document_links;
    size_t document_link_count;
};

/* ---------------------------------------------------------------- streaming writers */

/* A writer of one activity file or one organisation file. Opaque. It holds only the XML writer's
 * small output buffer and the stack of open elements: memory does not grow with the records. */
struct iati_writer;

/* Opens an activity file at path: writes the XML declaration and <iati-activities version="2.03"
 * generated-datetime=".."> to a temporary file beside path (path.XXXXXX, mode 0644); close renames
 * it onto path, so a half-written file is never published. generated_datetime is required.
 * On IATI_OK *out owns a writer that the caller ends with _close or iati_writer_abort.
 * Errors: IATI_ERR_INVALID (bad argument), IATI_ERR_IO (with errno kept), IATI_ERR_NOMEM;
 * *out is NULL then and nothing is left on disk. */
enum iati_status iati_activities_writer_open(const char *path, const char *generated_datetime,
                                             struct iati_writer **out);

/* As _open, writing to an open stream the caller owns and closes (no temporary file, no rename). */
enum iati_status iati_activities_writer_open_file(FILE *fp, const char *generated_datetime, struct iati_writer **out);

/* Checks the activity against the model's rules, then writes it as one <iati-activity> in the
 * order of the 2.03 schema and forgets it. IATI_ERR_INVALID: nothing was written, the writer stays
 * usable and iati_writer_error says which field. IATI_ERR_IO / IATI_ERR_NOMEM: the file is broken,
 * the writer refuses further records (IATI_ERR_STATE) and close removes the temporary file. */
enum iati_status iati_activities_writer_add(struct iati_writer *w, const struct iati_activity *a);

/* Ends the document, flushes, and for a path writer fsyncs and renames the file into place.
 * Always frees w. Returns the first error the writer met, if any (the temporary file is removed). */
enum iati_status iati_activities_writer_close(struct iati_writer *w);

/* The same three for an organisation file (<iati-organisations>). */
enum iati_status iati_organisations_writer_open(const char *path, const char *generated_datetime,
                                                struct iati_writer **out);
enum iati_status iati_organisations_writer_open_file(FILE *fp, const char *generated_datetime,
                                                     struct iati_writer **out);
enum iati_status iati_organisations_writer_add(struct iati_writer *w, const struct iati_organisation *o);
enum iati_status iati_organisations_writer_close(struct iati_writer *w);

/* Abandons a writer: frees it and removes its temporary file (a stream writer flushes what it had
 * buffered to the stream, which the caller then discards). For a caller whose data source failed
 * half-way. w may be NULL. */
void iati_writer_abort(struct iati_writer *w);

/* The last error of w as one English line naming the field ("transactions[2].value.value_date:
 * not a date YYYY-MM-DD"), or "" when none. Owned by w, valid until the next call on w. */
const char *iati_writer_error(const struct iati_writer *w);

#endif
