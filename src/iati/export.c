/* export: a fund's IATI activity and organisation files from the database and the ledger, one activity at a time. */
#include "fundledger/iati_export.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fundledger/fund.h"
#include "fundledger/iati.h"
#include "fundledger/ledger.h"
#include "fundledger/limits.h"
#include "fundledger/log.h"
#include "fundledger/money.h"

/* Calendar years a fund's transactions span (budgets and expenditure per year). */
#define YEARS_MAX 512
/* Results of the fund: portfolio indicators and one per human-security dimension. */
#define PORTFOLIO_INDICATORS 5
#define HS_DIMENSIONS_MAX 16
/* A path: out_dir + "/organisation.xml". */
#define PATH_BYTES 4096
/* Text of a narrative built here (descriptions with names and amounts). */
#define NARRATIVE_BYTES 1024
/* A transaction ref: "JE" + entry id + "-" + type, or an aggregate's "AGG-52-2026Q3-T6-JE123". */
#define REF_BYTES 64

static const char *const tx_codes[IATI_TX_COUNT_] = {"1", "2", "3", "4", "5", "6", "11"};

const char *iati_tx_code(enum iati_tx t)
{
    assert(t >= 0 && t < IATI_TX_COUNT_);
    return tx_codes[t];
}

static int tx_from_code(const char *code)
{
    for (int t = 0; t < IATI_TX_COUNT_; t++) {
        if (strcmp(code, tx_codes[t]) == 0) {
            return t;
        }
    }
    return -1;
}

/* ---------------------------------------------------------------- small helpers */

/* Two narratives: Spanish (the files' default language) and English. */
struct bi {
    struct iati_narrative n[2];
};

static struct iati_text bi_text(struct bi *b, const char *es, const char *en)
{
    b->n[0] = (struct iati_narrative){NULL, es};
    b->n[1] = (struct iati_narrative){"en", en};
    return (struct iati_text){b->n, 2};
}

static struct iati_text one_text(struct iati_narrative *n, const char *text)
{
    *n = (struct iati_narrative){NULL, text};
    return (struct iati_text){n, 1};
}

/* NULL for SQL NULL or "", else the value (borrowed from r). */
static const char *opt_str(const PGresult *r, int row, int col)
{
    return db_null(r, row, col) || db_str(r, row, col)[0] == '\0' ? NULL : db_str(r, row, col);
}

static int year_of(const char *date)
{
    return (int)strtol(date, NULL, 10);
}

/* Month 1..12 of "YYYY-MM-DD". */
static int month_of(const char *date)
{
    return (date[5] - '0') * 10 + (date[6] - '0');
}

static void money_text(int64_t minor, int exponent, char *buf, size_t cap)
{
    if (money_format(minor, exponent, buf, cap) == 0) {
        snprintf(buf, cap, "?");
    }
}

/* ---------------------------------------------------------------- the state of one export */

struct year_sums {
    int year;
    int64_t total[IATI_TX_COUNT_];
};

struct ex;

/* Loans to persons by department, and how they are published (small groups, docs/iati.md): each
 * department with at least min loans as its own activity ("own"), the others summed into one
 * "other departments" activity, or, when all of them are fewer than min, withheld. */
struct person_groups {
    size_t n;                                      /* departments (distinct codes, in code order) */
    const char *code[IATI_EXPORT_DEPARTMENTS_MAX]; /* borrowed from ex.depts */
    const char *name[IATI_EXPORT_DEPARTMENTS_MAX];
    int64_t loans[IATI_EXPORT_DEPARTMENTS_MAX];
    bool own[IATI_EXPORT_DEPARTMENTS_MAX];
    int64_t min;
    int64_t other_loans; /* in the departments not published on their own */
    size_t other_n;
    bool withheld; /* other_loans > 0 and below min: not published at all */
};

/* The pages of published loans, each read with one query (iati_export_page). The next page is
 * asked for as soon as the current one has arrived (libpq's asynchronous send on this worker's
 * connection), so the database computes it while the current one is written; and when a stream
 * of pages ends, the first page of the next one (the first department's loans to persons, after
 * the loans to organisations). Nothing else may use the connection while a page is in flight. */
struct pager {
    struct ex *x;
    const char *dept; /* NULL: loans to organisations */
    bool in_flight;
    int64_t after;
    char fb[21], ab[21], lb[21];
};

struct ex {
    struct db *db;
    const struct iati_export_options *o;
    struct fl_error *err;
    struct iati_writer *aw;
    struct iati_export_summary *sum;
    /* the fund */
    char code[64];
    char name[NAME_BYTES_MAX + 1];
    char currency[CURRENCY_CODE_BYTES];
    int exponent;
    char created[DATE_TEXT_BYTES];
    char id[IATI_EXPORT_ID_BYTES];
    /* the reporting organisation: the fund manager */
    char rep_ref[128];
    char rep_type[8];
    char rep_name[NAME_BYTES_MAX + 1];
    struct iati_narrative rep_narrative;
    struct iati_org_ref rep;      /* reporting-org */
    struct iati_org_ref fm_party; /* provider/receiver: the fund manager, in the fund's activity */
    /* dates */
    char today[DATE_TEXT_BYTES];
    int year;
    char now[32];
    /* what was written, per year */
    struct year_sums years[YEARS_MAX];
    size_t n_years;
    /* departments with loans to persons */
    PGresult *depts;
    struct person_groups groups;
    /* the pages of loans (each_loan) */
    struct pager pager;
    int64_t org_loans; /* loans to organisations listed as the fund's children (iati_export_loan_ids) */
};

static enum fl_err rule(struct ex *x, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static enum fl_err rule(struct ex *x, const char *field, const char *fmt, ...)
{
    char msg[ERROR_MESSAGE_BYTES];
    va_list ap;
    va_start(ap, fmt);
    if (vsnprintf(msg, sizeof msg, fmt, ap) < 0) {
        msg[0] = '\0';
    }
    va_end(ap);
    return fl_error_set(x->err, FLE_RULE, field, "%s", msg);
}

static enum fl_err nomem(struct ex *x)
{
    return fl_error_set(x->err, FLE_INTERNAL, NULL, "out of memory");
}

/* Adds amount to the figure of type t in date's year. */
static enum fl_err year_add(struct ex *x, const char *date, enum iati_tx t, int64_t amount)
{
    int y = year_of(date);
    size_t i = 0;
    while (i < x->n_years && x->years[i].year != y) {
        i++;
    }
    if (i == x->n_years) {
        if (x->n_years == YEARS_MAX) {
            return rule(x, "effective_date", "transactions span more than %d years", YEARS_MAX);
        }
        memset(&x->years[i], 0, sizeof x->years[i]);
        x->years[i].year = y;
        x->n_years++;
    }
    if (!money_add(x->years[i].total[t], amount, &x->years[i].total[t])) {
        return rule(x, "amount", "a yearly total overflows");
    }
    return FLE_OK;
}

static int year_cmp(const void *a, const void *b)
{
    const struct year_sums *p = a, *q = b;
    return (p->year > q->year) - (p->year < q->year);
}

/* Writes one activity and counts what it carries as written. */
static enum fl_err add_activity(struct ex *x, const struct iati_activity *a)
{
    enum iati_status st = iati_activities_writer_add(x->aw, a);
    if (st == IATI_ERR_INVALID) {
        return rule(x, "iati", "activity %s cannot be written: %s", a->identifier, iati_writer_error(x->aw));
    }
    if (st != IATI_OK) {
        return fl_error_set(x->err, FLE_INTERNAL, NULL, "writing activity %s: %s: %s", a->identifier,
                            iati_status_text(st), iati_writer_error(x->aw));
    }
    x->sum->activity_count++;
    for (size_t i = 0; i < a->transaction_count; i++) {
        const struct iati_transaction *t = &a->transactions[i];
        int k = tx_from_code(t->type);
        assert(k >= 0);
        struct iati_totals *w = &x->sum->written;
        w->count[k]++;
        if (!money_add(w->total_minor[k], t->value.amount_minor, &w->total_minor[k])) {
            return rule(x, "amount", "the total of transaction type %s overflows", t->type);
        }
        enum fl_err e = year_add(x, t->date, (enum iati_tx)k, t->value.amount_minor);
        if (e != FLE_OK) {
            return e;
        }
    }
    return FLE_OK;
}

/* The common defaults of every activity of the fund. */
static void activity_defaults(struct ex *x, struct iati_activity *a)
{
    a->lang = "es";
    a->default_currency = x->currency;
    a->last_updated_datetime = x->now;
    a->humanitarian = 0;
    a->reporting_org = x->rep;
    a->collaboration_type = "6";     /* private sector outflows */
    a->default_flow_type = "30";     /* private development finance */
    a->default_finance_type = "421"; /* standard loan */
    a->default_aid_type = "C01";     /* project-type interventions */
    a->default_aid_type_vocabulary = "1";
    a->default_tied_status = "5"; /* untied */
}

static const struct iati_recipient_country colombia = {"CO", true, 10000};

/* ---------------------------------------------------------------- sectors by weight */

struct sectors {
    char code[IATI_EXPORT_SECTORS_MAX][8];
    struct iati_sector s[IATI_EXPORT_SECTORS_MAX];
    size_t n;
};

/* The DAC sectors of the fund's published loans (n_depts 0) or of the persons of the departments
 * depts[0..n_depts), weighted by disbursed principal (committed principal when nothing is
 * disbursed, over all of them), rounded to integer percentages by largest remainder so they sum to
 * 100; sectors at 0% are left out. A fund with no loan yet is a formal financial intermediary
 * (24030). */
static enum fl_err sectors_load(struct ex *x, const char *const *depts, size_t n_depts, struct sectors *out)
{
    char fb[21];
    char code[IATI_EXPORT_SECTORS_MAX][8];
    int64_t disbursed[IATI_EXPORT_SECTORS_MAX], committed[IATI_EXPORT_SECTORS_MAX];
    size_t n = 0;
    for (size_t k = 0; k < (n_depts == 0 ? 1 : n_depts); k++) {
        const char *p[2] = {db_i64_text(x->o->fund_id, fb), n_depts == 0 ? NULL : depts[k]};
        PGresult *r = db_exec(x->db, "iati_export_sectors", 2, p, x->err);
        if (r == NULL) {
            return x->err->code;
        }
        for (int i = 0; i < PQntuples(r); i++) {
            size_t j = 0;
            while (j < n && strcmp(code[j], db_str(r, i, 0)) != 0) {
                j++;
            }
            if (j == n) {
                if (n == IATI_EXPORT_SECTORS_MAX) {
                    PQclear(r);
                    return rule(x, "value_chain", "more than %d DAC sectors", IATI_EXPORT_SECTORS_MAX);
                }
                snprintf(code[n], sizeof code[n], "%s", db_str(r, i, 0));
                disbursed[n] = committed[n] = 0;
                n++;
            }
            int64_t d = db_i64(r, i, 1), c = db_i64(r, i, 2);
            disbursed[j] = d > 0 && disbursed[j] <= INT64_MAX - d ? disbursed[j] + d : disbursed[j];
            committed[j] = c > 0 && committed[j] <= INT64_MAX - c ? committed[j] + c : committed[j];
        }
        PQclear(r);
    }
    int64_t w[IATI_EXPORT_SECTORS_MAX];
    int64_t parts[IATI_EXPORT_SECTORS_MAX];
    int64_t total = 0;
    for (int col = 1; col <= 2 && total == 0; col++) {
        total = 0;
        for (size_t i = 0; i < n; i++) {
            w[i] = col == 1 ? disbursed[i] : committed[i];
            total = total > INT64_MAX - w[i] ? INT64_MAX : total + w[i];
        }
    }
    out->n = 0;
    if (total > 0 && money_split(100, w, n, parts)) {
        for (size_t i = 0; i < n; i++) {
            if (parts[i] == 0) {
                continue;
            }
            memcpy(out->code[out->n], code[i], sizeof out->code[out->n]);
            out->s[out->n] = (struct iati_sector){"1", out->code[out->n], true, (int32_t)(parts[i] * 100)};
            out->n++;
        }
    }
    if (out->n == 0) {
        snprintf(out->code[0], sizeof out->code[0], "24030");
        out->s[0] = (struct iati_sector){"1", out->code[0], true, 10000};
        out->n = 1;
    }
    return FLE_OK;
}

/* ---------------------------------------------------------------- loan events -> transactions */

/* What one journal entry of a loan says (a row of iati_export_loan_entries). */
struct loan_event {
    int64_t entry_id;
    const char *date;
    const char *cls; /* the event it is or reverses */
    bool reversal;
    int64_t s8500, sloans, sloss, s4000;
};

/* Columns of iati_export_page: the loan (0..25), then its journal entry (26..35, NULL when none). */
enum {
    COL_CAPITALISED = 25, /* interest capitalised by the export date (docs/loan-servicing.md §3) */
    COL_ENTRY,
    COL_DATE,
    COL_CLASS,
    COL_REVERSAL,
    COL_CURRENCY_MIN,
    COL_CURRENCY_MAX,
    COL_S8500,
    COL_SLOANS,
    COL_SLOSS,
    COL_S4000,
};

static void loan_event_read(const PGresult *r, int row, struct loan_event *ev)
{
    ev->entry_id = db_i64(r, row, COL_ENTRY);
    ev->date = db_str(r, row, COL_DATE);
    ev->cls = db_str(r, row, COL_CLASS);
    ev->reversal = db_bool(r, row, COL_REVERSAL);
    ev->s8500 = db_i64(r, row, COL_S8500);
    ev->sloans = db_i64(r, row, COL_SLOANS);
    ev->sloss = db_i64(r, row, COL_SLOSS);
    ev->s4000 = db_i64(r, row, COL_S4000);
}

/* The IATI transactions of one loan event (docs/fund-operations.md): approval is an outgoing
 * commitment (Dr 8500), a drawdown a disbursement (Dr T.LOANS), a repayment or recovery an
 * interest payment (Cr 4000, or on the accrual basis Cr T.INTEREST_RECEIVABLE: s4000 sums both) and
 * a loan repayment (Cr T.LOANS, or Cr T.LOSS for a recovery).
 * A write-off is none: it shows in loan-status. A reversal has the sign of its lines. */
static unsigned loan_event_tx(const struct loan_event *ev, enum iati_tx types[2], int64_t amounts[2])
{
    unsigned n = 0;
    if (strcmp(ev->cls, "loan_commitment") == 0 && ev->s8500 != 0) {
        types[n] = IATI_TX_OUTGOING_COMMITMENT;
        amounts[n++] = ev->s8500;
    } else if (strcmp(ev->cls, "disbursement") == 0 && ev->sloans != 0) {
        types[n] = IATI_TX_DISBURSEMENT;
        amounts[n++] = ev->sloans;
    } else if (strcmp(ev->cls, "repayment") == 0 || strcmp(ev->cls, "recovery") == 0) {
        int64_t principal = strcmp(ev->cls, "repayment") == 0 ? -ev->sloans : -ev->sloss;
        if (ev->s4000 != 0) {
            types[n] = IATI_TX_INTEREST;
            amounts[n++] = -ev->s4000;
        }
        if (principal != 0) {
            types[n] = IATI_TX_LOAN_REPAYMENT;
            amounts[n++] = principal;
        }
    }
    return n;
}

static const char *const tx_desc_es[IATI_TX_COUNT_] = {"Aporte de capital recibido",
                                                       "Compromiso del crédito en su aprobación",
                                                       "Desembolso del crédito",
                                                       "Gastos del fondo",
                                                       "Intereses pagados por el prestatario",
                                                       "Capital reembolsado por el prestatario",
                                                       "Acuerdo de tramo firmado (compromiso de capital)"};
static const char *const tx_desc_en[IATI_TX_COUNT_] = {"Capital contribution received",
                                                       "Loan commitment at approval",
                                                       "Loan disbursement",
                                                       "Fund expenses",
                                                       "Interest paid by the borrower",
                                                       "Principal repaid by the borrower",
                                                       "Tranche agreement signed (capital commitment)"};

/* One transaction with the storage of its ref and narratives. */
struct tx_slot {
    struct iati_transaction t;
    char ref[REF_BYTES];
    char date[DATE_TEXT_BYTES];
    char desc_es[160];
    char desc_en[160];
    struct bi desc;
};

/* Writes "JE<entry>-<type>" into ref without printf (this runs for every transaction). */
static void entry_ref(char ref[REF_BYTES], int64_t entry_id, enum iati_tx t)
{
    char digits[24];
    size_t d = sizeof digits;
    uint64_t v = entry_id > 0 ? (uint64_t)entry_id : 0;
    do {
        digits[--d] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0 && d > 0);
    size_t n = sizeof digits - d, code = strlen(tx_codes[t]);
    assert(2 + n + 1 + code < REF_BYTES);
    memcpy(ref, "JE", 2);
    memcpy(ref + 2, digits + d, n);
    ref[2 + n] = '-';
    memcpy(ref + 3 + n, tx_codes[t], code + 1);
}

/* Fills s as a transaction of type t on date (borrowed: it must live until the activity is
 * written); parties: to the borrower for 2 and 3, from it for 5 and 6. */
static void loan_tx(struct ex *x, struct tx_slot *s, enum iati_tx t, int64_t amount, const char *date, bool reversal,
                    bool recovery, const struct iati_org_ref *borrower, const struct iati_org_ref *fund_side)
{
    const char *es = s->desc_es, *en = s->desc_en;
    if (reversal) {
        snprintf(s->desc_es, sizeof s->desc_es, "Reversión: %s", tx_desc_es[t]);
        snprintf(s->desc_en, sizeof s->desc_en, "Reversal: %s", tx_desc_en[t]);
    } else if (recovery) {
        snprintf(s->desc_es, sizeof s->desc_es, "Recuperación después del castigo: %s",
                 t == IATI_TX_INTEREST ? "intereses" : "capital");
        snprintf(s->desc_en, sizeof s->desc_en, "Recovery after write-off: %s",
                 t == IATI_TX_INTEREST ? "interest" : "principal");
    } else {
        es = tx_desc_es[t];
        en = tx_desc_en[t];
    }
    bool outgoing = t == IATI_TX_OUTGOING_COMMITMENT || t == IATI_TX_DISBURSEMENT;
    s->t = (struct iati_transaction){
        .ref = s->ref,
        .type = tx_codes[t],
        .date = date,
        .value = {amount, x->exponent, NULL, date},
        .description = bi_text(&s->desc, es, en),
        .provider = outgoing ? fund_side : borrower,
        .receiver = outgoing ? borrower : fund_side,
    };
}

/* ---------------------------------------------------------------- loans */

/* Figures of one loan (or summed over a department's loans) as of the export date. */
struct loan_figs {
    int64_t outstanding;       /* drawn - repaid - written off + capitalised (docs/loan-servicing.md §3) */
    int64_t interest_year;     /* interest received in the reporting year */
    int64_t written_off;       /* principal written off */
    int64_t principal_arrears; /* scheduled principal due before today and not paid */
    int64_t interest_arrears;
    char first_disbursement[DATE_TEXT_BYTES];
    char last_repayment[DATE_TEXT_BYTES];
    char last_write_off[DATE_TEXT_BYTES];
};

/* Folds the loan's events into its figures (events after today do not count). */
static void figs_add_event(struct ex *x, struct loan_figs *f, const struct loan_event *ev)
{
    if (strcmp(ev->date, x->today) > 0) {
        return;
    }
    f->outstanding += ev->sloans;
    bool paid = strcmp(ev->cls, "repayment") == 0 || strcmp(ev->cls, "recovery") == 0;
    if (paid && year_of(ev->date) == x->year) {
        f->interest_year += -ev->s4000;
    }
    if (strcmp(ev->cls, "write_off") == 0) {
        f->written_off += -ev->sloans;
        if (!ev->reversal && strcmp(ev->date, f->last_write_off) > 0) {
            snprintf(f->last_write_off, sizeof f->last_write_off, "%s", ev->date);
        }
    }
    if (strcmp(ev->cls, "disbursement") == 0 && !ev->reversal &&
        (f->first_disbursement[0] == '\0' || strcmp(ev->date, f->first_disbursement) < 0)) {
        snprintf(f->first_disbursement, sizeof f->first_disbursement, "%s", ev->date);
    }
    if (strcmp(ev->cls, "repayment") == 0 && !ev->reversal && strcmp(ev->date, f->last_repayment) > 0) {
        snprintf(f->last_repayment, sizeof f->last_repayment, "%s", ev->date);
    }
}

/* Capitalised interest and arrears of one loan, once its events are folded in. The events'
 * T.LOANS lines give drawn - repaid - written off; the interest that interest-grace instalments
 * capitalised by today is added (principal outstanding from each due date, whether or not its
 * capitalisation entry is posted yet: the entry is not among the loan's events). Arrears: the
 * unpaid part of instalments due before today (allocations of repayments on or before today),
 * principal capped by what is still outstanding; nothing once nothing is. */
static void figs_arrears(struct loan_figs *f, const PGresult *lp, int row)
{
    f->outstanding += db_i64(lp, row, COL_CAPITALISED);
    int64_t p = db_i64(lp, row, 21) - db_i64(lp, row, 23);
    int64_t i = db_i64(lp, row, 22) - db_i64(lp, row, 24);
    int64_t out = f->outstanding > 0 ? f->outstanding : 0;
    p = p < 0 ? 0 : p;
    f->principal_arrears = p < out ? p : out;
    f->interest_arrears = out > 0 && i > 0 ? i : 0;
}

/* The entry of row (its id in column id_col) has its lines in the fund's currency (columns c1, c2:
 * the least and greatest currency of its lines). */
static enum fl_err check_currency_row(struct ex *x, const PGresult *r, int row, int id_col, int c1, int c2)
{
    if (strcmp(db_str(r, row, c1), x->currency) != 0 || strcmp(db_str(r, row, c2), x->currency) != 0) {
        return rule(x, "currency",
                    "entry %s has lines in %s, not in the fund's currency %s: multi-currency funds "
                    "are not published yet",
                    db_str(r, row, id_col), db_str(r, row, c1), x->currency);
    }
    return FLE_OK;
}

static const char *status_code(const char *loan_status)
{
    if (strcmp(loan_status, "repaid") == 0) {
        return "4"; /* closed */
    }
    if (strcmp(loan_status, "written_off") == 0) {
        return "3"; /* finalisation: recoveries may still come */
    }
    return "2"; /* implementation */
}

static const char *repayment_type(const char *amortisation)
{
    if (strcmp(amortisation, "equal_principal") == 0) {
        return "1";
    }
    if (strcmp(amortisation, "annuity") == 0) {
        return "2";
    }
    return strcmp(amortisation, "bullet") == 0 ? "3" : "5";
}

static const char *repayment_plan(int64_t per_year)
{
    switch (per_year) {
    case 1:
        return "1";
    case 2:
        return "2";
    case 4:
        return "4";
    case 12:
        return "12";
    default:
        return NULL; /* 3 and 6 a year have no code */
    }
}

/* A location at municipality level (no coordinates): DIVIPOLA code in the ref and description. */
struct place {
    char ref[32];
    char name[2 * NAME_BYTES_MAX + 4];
    char desc_es[NARRATIVE_BYTES];
    char desc_en[NARRATIVE_BYTES];
    struct iati_narrative name_n;
    struct bi desc;
    struct iati_admin_area admin;
    struct iati_location loc;
};

static void place_set(struct place *pl, bool municipality, const char *code, const char *mun_name,
                      const char *dept_code, const char *dept_name)
{
    snprintf(pl->ref, sizeof pl->ref, "DIVIPOLA-%s", municipality ? code : dept_code);
    if (municipality) {
        snprintf(pl->name, sizeof pl->name, "%s, %s", mun_name, dept_name);
        snprintf(pl->desc_es, sizeof pl->desc_es,
                 "Municipio de %s (código DIVIPOLA %s), departamento de %s (%s). Ubicación publicada a nivel "
                 "municipal, sin coordenadas.",
                 mun_name, code, dept_name, dept_code);
        snprintf(pl->desc_en, sizeof pl->desc_en,
                 "Municipality of %s (DIVIPOLA code %s), department of %s (%s). Published at municipality level, "
                 "without coordinates.",
                 mun_name, code, dept_name, dept_code);
    } else {
        snprintf(pl->name, sizeof pl->name, "%s", dept_name);
        snprintf(pl->desc_es, sizeof pl->desc_es,
                 "Departamento de %s (código DIVIPOLA %s). Los créditos a personas se publican sumados por "
                 "departamento, sin municipio ni coordenadas.",
                 dept_name, dept_code);
        snprintf(pl->desc_en, sizeof pl->desc_en,
                 "Department of %s (DIVIPOLA code %s). Loans to persons are published summed per department, "
                 "without municipality or coordinates.",
                 dept_name, dept_code);
    }
    /* No DIVIPOLA vocabulary exists in GeographicVocabulary: the country (A4) is the administrative
     * area, the DIVIPOLA code is in the ref and the description. */
    pl->admin = (struct iati_admin_area){"A4", "CO", 0};
    pl->loc = (struct iati_location){
        .ref = pl->ref,
        .reach = "1",
        .name = one_text(&pl->name_n, pl->name),
        .description = bi_text(&pl->desc, pl->desc_es, pl->desc_en),
        .admin = &pl->admin,
        .admin_count = 1,
        .exactness = "2",
        .location_class = "1",
        .feature_designation = municipality ? "ADM2" : "ADM1",
    };
}

/* Fills the crs-add loan-status of the reporting year from figures. */
static void loan_status_set(struct ex *x, struct iati_loan_status *ls, const struct loan_figs *f)
{
    *ls = (struct iati_loan_status){
        .year = (unsigned)x->year,
        .currency = NULL,
        .exponent = x->exponent,
        .value_date = x->today,
        .interest_received = {true, f->interest_year},
        .principal_outstanding = {true, f->outstanding},
        .principal_arrears = {true, f->principal_arrears},
        .interest_arrears = {true, f->interest_arrears},
    };
}

/* Everything one loan activity borrows while it is written. */
struct loan_act {
    char id[IATI_EXPORT_ID_BYTES + 32];
    struct bi title;
    char title_es[NARRATIVE_BYTES], title_en[NARRATIVE_BYTES];
    struct iati_description desc[2];
    struct bi d1, d2;
    char d1_es[NARRATIVE_BYTES], d1_en[NARRATIVE_BYTES], d2_es[NARRATIVE_BYTES], d2_en[NARRATIVE_BYTES];
    struct iati_participating_org parts[2];
    struct iati_narrative fm_name, borrower_name;
    struct iati_org_ref borrower;
    struct iati_activity_date dates[4];
    struct place place;
    struct iati_sector sector;
    struct iati_related_activity parent;
    struct iati_loan_terms terms;
    struct iati_loan_status status;
    struct iati_crs_add crs;
    struct iati_activity a;
};

/* Writes the activity of the loan of rows [row, last) of the page lp (one row per journal entry). */
static enum fl_err write_loan(struct ex *x, const PGresult *lp, int row, int last, struct tx_slot *slots,
                              struct iati_transaction *txs, struct loan_act *L)
{
    memset(L, 0, sizeof *L);
    int64_t loan_id = db_i64(lp, row, 0);
    const char *status = db_str(lp, row, 1);
    const char *approved = db_str(lp, row, 2);
    int64_t principal = db_i64(lp, row, 3);
    const char *org_name = db_str(lp, row, 8);
    if (strcmp(db_str(lp, row, 7), x->currency) != 0) {
        return rule(x, "currency", "loan %" PRId64 " is in %s, not in the fund's currency %s", loan_id,
                    db_str(lp, row, 7), x->currency);
    }
    snprintf(L->id, sizeof L->id, "%s-L%" PRId64, x->id, loan_id);
    const char *mun = db_str(lp, row, 12), *dept = db_str(lp, row, 14);
    const char *vc_es = db_str(lp, row, 16), *vc_en = db_str(lp, row, 17);
    char amount[MONEY_TEXT_MAX];
    money_text(principal, x->exponent, amount, sizeof amount);
    snprintf(L->title_es, sizeof L->title_es, "Crédito a %s (%s)", org_name, vc_es);
    snprintf(L->title_en, sizeof L->title_en, "Loan to %s (%s)", org_name, vc_en);
    snprintf(L->d1_es, sizeof L->d1_es,
             "Crédito de %s %s a %s, cadena de valor %s, en %s (%s), aprobado el %s. Financiado por el fondo %s.",
             amount, x->currency, org_name, vc_es, mun, dept, approved, x->name);
    snprintf(L->d1_en, sizeof L->d1_en,
             "Loan of %s %s to %s, %s value chain, in %s (%s), approved on %s. Funded by the fund %s.", amount,
             x->currency, org_name, vc_en, mun, dept, approved, x->name);
    L->desc[0] = (struct iati_description){"1", bi_text(&L->d1, L->d1_es, L->d1_en)};
    size_t n_desc = 1;

    /* the borrower and the fund manager */
    L->borrower =
        (struct iati_org_ref){opt_str(lp, row, 9), opt_str(lp, row, 10), NULL, one_text(&L->borrower_name, org_name)};
    L->parts[0] =
        (struct iati_participating_org){x->rep_ref, x->rep_type, "3", NULL, one_text(&L->fm_name, x->rep_name)};
    L->parts[1] = (struct iati_participating_org){L->borrower.ref, L->borrower.type, "4", NULL, L->borrower.name};

    /* transactions and figures from the loan's journal entries */
    struct loan_figs f;
    memset(&f, 0, sizeof f);
    size_t n_tx = 0;
    for (int k = row; k < last && !db_null(lp, k, COL_ENTRY); k++) {
        enum fl_err e = check_currency_row(x, lp, k, COL_ENTRY, COL_CURRENCY_MIN, COL_CURRENCY_MAX);
        if (e != FLE_OK) {
            return e;
        }
        struct loan_event ev;
        loan_event_read(lp, k, &ev);
        figs_add_event(x, &f, &ev);
        enum iati_tx types[2];
        int64_t amounts[2];
        unsigned n = loan_event_tx(&ev, types, amounts);
        for (unsigned j = 0; j < n; j++) {
            struct tx_slot *s = &slots[n_tx++];
            entry_ref(s->ref, ev.entry_id, types[j]);
            loan_tx(x, s, types[j], amounts[j], ev.date, ev.reversal, strcmp(ev.cls, "recovery") == 0, &L->borrower,
                    &x->fm_party);
        }
    }
    figs_arrears(&f, lp, row);
    if (f.written_off != 0 && f.last_write_off[0] != '\0') {
        char wo[MONEY_TEXT_MAX];
        money_text(f.written_off, x->exponent, wo, sizeof wo);
        snprintf(L->d2_es, sizeof L->d2_es,
                 "Crédito castigado: %s %s de capital pasaron a pérdida (último castigo el %s). IATI no tiene una "
                 "transacción de castigo: se ve como la caída del capital pendiente en loan-status.",
                 wo, x->currency, f.last_write_off);
        snprintf(L->d2_en, sizeof L->d2_en,
                 "Loan written off: %s %s of principal moved to loss (last write-off on %s). IATI has no write-off "
                 "transaction: it shows as the drop of principal outstanding in loan-status.",
                 wo, x->currency, f.last_write_off);
        L->desc[n_desc++] = (struct iati_description){"4", bi_text(&L->d2, L->d2_es, L->d2_en)};
    }

    /* dates: planned start = approval, actual start = first drawdown, planned end = last instalment,
     * actual end = last repayment of a repaid loan */
    size_t n_dates = 0;
    L->dates[n_dates++] = (struct iati_activity_date){"1", approved};
    if (f.first_disbursement[0] != '\0') {
        L->dates[n_dates++] = (struct iati_activity_date){"2", f.first_disbursement};
    }
    const char *final_due = opt_str(lp, row, 20);
    if (final_due != NULL && strcmp(final_due, approved) >= 0) {
        L->dates[n_dates++] = (struct iati_activity_date){"3", final_due};
    }
    if (strcmp(status, "repaid") == 0 && f.last_repayment[0] != '\0' && f.first_disbursement[0] != '\0') {
        L->dates[n_dates++] = (struct iati_activity_date){"4", f.last_repayment};
    }
    place_set(&L->place, true, db_str(lp, row, 11), mun, db_str(lp, row, 13), dept);
    L->sector = (struct iati_sector){"1", db_str(lp, row, 15), true, 10000};
    L->parent = (struct iati_related_activity){"1", x->id};

    int64_t rate_bp = 0;
    if (!money_div_half_even(db_i64(lp, row, 4), 10000, &rate_bp) || rate_bp > 10000) {
        return rule(x, "annual_rate", "loan %" PRId64 ": the rate cannot be published as a percentage", loan_id);
    }
    L->terms = (struct iati_loan_terms){
        .has_rate_1 = true,
        .rate_1_bp = (int32_t)rate_bp,
        .repayment_type = repayment_type(db_str(lp, row, 6)),
        .repayment_plan = repayment_plan(db_i64(lp, row, 5)),
        .commitment_date = approved,
        .repayment_first_date = opt_str(lp, row, 19),
        .repayment_final_date = final_due,
    };
    loan_status_set(x, &L->status, &f);
    L->crs = (struct iati_crs_add){&L->terms, &L->status};

    struct iati_activity *a = &L->a;
    activity_defaults(x, a);
    a->identifier = L->id;
    a->hierarchy = 2;
    a->title = bi_text(&L->title, L->title_es, L->title_en);
    a->descriptions = L->desc;
    a->description_count = n_desc;
    a->participating_orgs = L->parts;
    a->participating_org_count = 2;
    a->activity_status = status_code(status);
    a->dates = L->dates;
    a->date_count = n_dates;
    a->activity_scope = "7";
    a->recipient_countries = &colombia;
    a->recipient_country_count = 1;
    a->locations = &L->place.loc;
    a->location_count = 1;
    a->sectors = &L->sector;
    a->sector_count = 1;
    for (size_t k = 0; k < n_tx; k++) {
        txs[k] = slots[k].t;
    }
    a->transactions = txs;
    a->transaction_count = n_tx;
    a->related_activities = &L->parent;
    a->related_activity_count = 1;
    a->crs_add = &L->crs;
    return add_activity(x, a);
}

static enum fl_err pager_send(struct pager *p)
{
    assert(!p->in_flight);
    const char *params[5] = {db_i64_text(p->x->o->fund_id, p->fb), db_i64_text(p->after, p->ab),
                             db_i64_text(IATI_EXPORT_PAGE_LOANS, p->lb), p->x->today, p->dept};
    PGconn *c = db_pg(p->x->db);
    if (PQsendQueryPrepared(c, "iati_export_page", 5, params, NULL, NULL, 0) != 1) {
        return fl_error_set(p->x->err, PQstatus(c) == CONNECTION_OK ? FLE_INTERNAL : FLE_DB_UNAVAILABLE, NULL,
                            "the page of loans could not be asked for");
    }
    p->in_flight = true;
    return FLE_OK;
}

/* The page in flight (caller clears), or NULL with the error set. The connection is free after. */
static PGresult *pager_receive(struct pager *p)
{
    assert(p->in_flight);
    PGconn *c = db_pg(p->x->db);
    PGresult *r = PQgetResult(c);
    for (PGresult *more = r != NULL ? PQgetResult(c) : NULL; more != NULL; more = PQgetResult(c)) {
        PQclear(more);
    }
    p->in_flight = false;
    if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK) {
        if (r != NULL) {
            log_warn("iati export: page query failed: %s", PQresultErrorField(r, PG_DIAG_SQLSTATE));
        }
        PQclear(r);
        fl_error_set(p->x->err, PQstatus(c) == CONNECTION_OK ? FLE_INTERNAL : FLE_DB_UNAVAILABLE, NULL,
                     "the page of loans could not be read");
        return NULL;
    }
    return r;
}

/* Leaves the connection usable after an error with a page in flight. */
static void pager_drain(struct pager *p)
{
    if (p->in_flight) {
        PQclear(pager_receive(p));
    }
}

/* Calls fn for each loan of each page (rows [row, end) of the page are the loan's), page by page.
 * at_most: how many loans the stream can have at most, or -1: a count of the same loans by a
 * query with the same conditions and fewer joins in the same snapshot (the fund's children, a
 * department's count), so that a stream that reaches it has ended without asking for an empty
 * page. then: the stream of pages that follows this one (a department; NULL: none), whose first
 * page is asked for as soon as this stream's last page has arrived, and is left in flight. */
typedef enum fl_err (*loan_fn)(struct ex *x, const PGresult *page, int row, int end, void *arg);

/* Rows a and b of a page are the same loan's (its id, compared as the text it came as). */
static bool same_loan(const PGresult *r, int a, int b)
{
    return strcmp(PQgetvalue(r, a, 0), PQgetvalue(r, b, 0)) == 0;
}

static bool same_dept(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static enum fl_err each_loan(struct ex *x, const char *dept, int64_t at_most, const char *then, loan_fn fn, void *arg)
{
    struct pager *p = &x->pager;
    p->x = x;
    enum fl_err e = FLE_OK;
    if (!p->in_flight || p->after != 0 || !same_dept(p->dept, dept)) {
        pager_drain(p);
        p->dept = dept;
        p->after = 0;
        e = pager_send(p);
    }
    int64_t seen = 0;
    for (unsigned long pages = 0; e == FLE_OK && pages < 100000000ul; pages++) {
        PGresult *r = pager_receive(p);
        if (r == NULL) {
            return x->err->code;
        }
        int n = PQntuples(r);
        int loans = 0;
        for (int i = 0; i < n; i++) {
            loans += i == 0 || !same_loan(r, i, i - 1);
        }
        seen += loans;
        bool more = loans == IATI_EXPORT_PAGE_LOANS && seen != at_most;
        if (more) {
            p->after = db_i64(r, n - 1, 0);
            e = pager_send(p); /* the next page, while this one is written */
        } else if (then != NULL) {
            p->dept = then;
            p->after = 0;
            e = pager_send(p); /* the next stream's first page, while this one is written */
        }
        for (int i = 0; i < n && e == FLE_OK;) {
            int end = i + 1;
            while (end < n && same_loan(r, end, i)) {
                end++;
            }
            e = fn(x, r, i, end, arg);
            i = end;
        }
        PQclear(r);
        if (!more) {
            break;
        }
    }
    if (e != FLE_OK) {
        pager_drain(p);
    }
    return e;
}

/* Storage for one loan activity and its transactions (2 per journal entry at most). */
struct loan_scratch {
    struct loan_act act;
    struct tx_slot *slots;
    struct iati_transaction *txs;
    size_t cap;
};

static enum fl_err loan_one(struct ex *x, const PGresult *page, int row, int end, void *arg)
{
    struct loan_scratch *sc = arg;
    size_t need = 2 * (size_t)(end - row);
    if (need > sc->cap) {
        size_t cap = need < 64 ? 64 : need;
        struct tx_slot *slots = realloc(sc->slots, cap * sizeof *slots);
        if (slots == NULL) {
            return nomem(x);
        }
        sc->slots = slots;
        struct iati_transaction *txs = realloc(sc->txs, cap * sizeof *txs);
        if (txs == NULL) {
            return nomem(x);
        }
        sc->txs = txs;
        sc->cap = cap;
    }
    return write_loan(x, page, row, end, sc->slots, sc->txs, &sc->act);
}

/* The first department whose loans are read for a group (to ask for its first page early), or NULL. */
static const char *groups_first_code(const struct ex *x)
{
    const struct person_groups *g = &x->groups;
    for (size_t i = 0; i < g->n; i++) {
        if (g->own[i]) {
            return g->code[i];
        }
    }
    for (size_t i = 0; i < g->n; i++) {
        if (!g->own[i]) {
            return g->code[i];
        }
    }
    return NULL;
}

/* One activity per loan to an organisation. */
static enum fl_err write_loans(struct ex *x)
{
    struct loan_scratch *sc = calloc(1, sizeof *sc);
    if (sc == NULL) {
        return nomem(x);
    }
    enum fl_err e = each_loan(x, NULL, x->org_loans, groups_first_code(x), loan_one, sc);
    free(sc->slots);
    free(sc->txs);
    free(sc);
    return e;
}

/* ---------------------------------------------------------------- loans to persons, per department */

struct bucket {
    int key; /* year * 4 + quarter - 1 */
    enum iati_tx type;
    int64_t amount;
    int64_t last_entry;
    unsigned movements;
    char last_date[DATE_TEXT_BYTES];
};

struct dept_act {
    struct bucket buckets[IATI_EXPORT_BUCKETS_MAX];
    size_t n_buckets;
    struct tx_slot slots[IATI_EXPORT_BUCKETS_MAX];
    struct iati_transaction txs[IATI_EXPORT_BUCKETS_MAX];
    char id[IATI_EXPORT_ID_BYTES + 32];
    char title_es[NARRATIVE_BYTES], title_en[NARRATIVE_BYTES], d_es[NARRATIVE_BYTES], d_en[NARRATIVE_BYTES];
    struct bi title, d;
    struct iati_description desc;
    struct iati_narrative fm_name;
    struct bi people_name;
    struct iati_org_ref people;
    struct iati_participating_org parts[2];
    char planned_start[DATE_TEXT_BYTES], actual_start[DATE_TEXT_BYTES], planned_end[DATE_TEXT_BYTES];
    struct iati_activity_date dates[3];
    struct place place;
    struct sectors sectors;
    struct iati_related_activity parent;
    struct iati_loan_status status;
    struct iati_crs_add crs;
    struct iati_activity a;
};

static int bucket_cmp(const void *a, const void *b)
{
    const struct bucket *p = a, *q = b;
    if (p->key != q->key) {
        return (p->key > q->key) - (p->key < q->key);
    }
    return (p->type > q->type) - (p->type < q->type);
}

static enum fl_err bucket_add(struct ex *x, struct dept_act *D, const struct loan_event *ev, enum iati_tx t,
                              int64_t amount)
{
    int key = year_of(ev->date) * 4 + (month_of(ev->date) - 1) / 3;
    size_t i = 0;
    while (i < D->n_buckets && !(D->buckets[i].key == key && D->buckets[i].type == t)) {
        i++;
    }
    if (i == D->n_buckets) {
        if (D->n_buckets == IATI_EXPORT_BUCKETS_MAX) {
            return rule(x, "effective_date", "loans to persons span too many quarters");
        }
        memset(&D->buckets[i], 0, sizeof D->buckets[i]);
        D->buckets[i].key = key;
        D->buckets[i].type = t;
        D->n_buckets++;
    }
    struct bucket *b = &D->buckets[i];
    if (!money_add(b->amount, amount, &b->amount)) {
        return rule(x, "amount", "a quarterly sum overflows");
    }
    b->movements++;
    if (ev->entry_id > b->last_entry) {
        b->last_entry = ev->entry_id;
    }
    if (strcmp(ev->date, b->last_date) > 0) {
        snprintf(b->last_date, sizeof b->last_date, "%s", ev->date);
    }
    return FLE_OK;
}

static void min_date(char *cur, const char *d)
{
    if (d != NULL && d[0] != '\0' && (cur[0] == '\0' || strcmp(d, cur) < 0)) {
        snprintf(cur, DATE_TEXT_BYTES, "%s", d);
    }
}

static void max_date(char *cur, const char *d)
{
    if (d != NULL && d[0] != '\0' && strcmp(d, cur) > 0) {
        snprintf(cur, DATE_TEXT_BYTES, "%s", d);
    }
}

struct dept_sum {
    struct dept_act *D;
    struct loan_figs total;
};

/* Adds one loan to person of the department: its events to the quarterly buckets, its figures. */
static enum fl_err dept_one(struct ex *x, const PGresult *r, int row, int end, void *arg)
{
    struct dept_sum *ds = arg;
    struct dept_act *D = ds->D;
    if (strcmp(db_str(r, row, 7), x->currency) != 0) {
        return rule(x, "currency", "a loan is not in the fund's currency %s", x->currency);
    }
    min_date(D->planned_start, db_str(r, row, 2));
    max_date(D->planned_end, opt_str(r, row, 20));
    struct loan_figs f;
    memset(&f, 0, sizeof f);
    enum fl_err e = FLE_OK;
    for (int k = row; e == FLE_OK && k < end && !db_null(r, k, COL_ENTRY); k++) {
        e = check_currency_row(x, r, k, COL_ENTRY, COL_CURRENCY_MIN, COL_CURRENCY_MAX);
        struct loan_event ev;
        loan_event_read(r, k, &ev);
        figs_add_event(x, &f, &ev);
        enum iati_tx types[2];
        int64_t amounts[2];
        unsigned nt = loan_event_tx(&ev, types, amounts);
        for (unsigned j = 0; j < nt && e == FLE_OK; j++) {
            e = bucket_add(x, D, &ev, types[j], amounts[j]);
        }
    }
    figs_arrears(&f, r, row);
    min_date(D->actual_start, f.first_disbursement);
    ds->total.outstanding += f.outstanding;
    ds->total.interest_year += f.interest_year;
    ds->total.written_off += f.written_off;
    ds->total.principal_arrears += f.principal_arrears;
    ds->total.interest_arrears += f.interest_arrears;
    return e;
}

/* Sorts the departments into published groups (struct person_groups) from x->depts (rows of
 * department code, name, loans, in code order; a code may come with several names). */
static enum fl_err groups_build(struct ex *x)
{
    struct person_groups *g = &x->groups;
    memset(g, 0, sizeof *g);
    g->min = x->o->small_group_min > 0 ? (int64_t)x->o->small_group_min : IATI_SMALL_GROUP_MIN_DEFAULT;
    for (int i = 0; i < PQntuples(x->depts); i++) {
        const char *code = db_str(x->depts, i, 0);
        if (g->n == 0 || strcmp(g->code[g->n - 1], code) != 0) {
            if (g->n == IATI_EXPORT_DEPARTMENTS_MAX) {
                return rule(x, "department", "loans to persons in more than %d departments",
                            IATI_EXPORT_DEPARTMENTS_MAX);
            }
            g->code[g->n] = code;
            g->name[g->n] = db_str(x->depts, i, 1);
            g->n++;
        }
        g->loans[g->n - 1] += db_i64(x->depts, i, 2);
    }
    for (size_t i = 0; i < g->n; i++) {
        g->own[i] = g->loans[i] >= g->min;
        if (!g->own[i]) {
            g->other_loans += g->loans[i];
            g->other_n++;
        }
    }
    /* "other departments" below the minimum: the smallest department published on its own joins
     * it (the first in code order among equals), until it reaches the minimum or none is left */
    for (size_t guard = 0; g->other_loans > 0 && g->other_loans < g->min && guard < g->n; guard++) {
        size_t pick = g->n;
        for (size_t i = 0; i < g->n; i++) {
            if (g->own[i] && (pick == g->n || g->loans[i] < g->loans[pick])) {
                pick = i;
            }
        }
        if (pick == g->n) {
            break;
        }
        g->own[pick] = false;
        g->other_loans += g->loans[pick];
        g->other_n++;
    }
    g->withheld = g->other_loans > 0 && g->other_loans < g->min;
    x->sum->other_departments = g->withheld ? 0 : g->other_n;
    x->sum->withheld_loans = g->withheld ? (uint64_t)g->other_loans : 0;
    return FLE_OK;
}

/* Adds the quarterly sums of a withheld group to sum->withheld (count: the sums). */
static enum fl_err withhold(struct ex *x, const struct dept_act *D)
{
    struct iati_totals *w = &x->sum->withheld;
    for (size_t i = 0; i < D->n_buckets; i++) {
        const struct bucket *b = &D->buckets[i];
        if (!money_add(w->total_minor[b->type], b->amount, &w->total_minor[b->type])) {
            return rule(x, "amount", "a withheld total overflows");
        }
        w->count[b->type] += b->amount != 0 ? 1 : 0;
    }
    return FLE_OK;
}

/* One activity summing the loans to persons of the departments members[0..n) (no name, no
 * identifier, no municipality): one department ("<fund>-AGG-<code>", located at the department),
 * or other (the departments below the small group minimum: "<fund>-AGG-OTHER", the country only).
 * A withheld group is read and summed into sum->withheld, and not written. */
static enum fl_err write_group(struct ex *x, struct dept_act *D, const size_t *members, size_t n, bool other)
{
    const struct person_groups *g = &x->groups;
    memset(D, 0, sizeof *D);
    struct dept_sum ds = {.D = D};
    int64_t loans = 0;
    const char *codes[IATI_EXPORT_DEPARTMENTS_MAX];
    enum fl_err e = FLE_OK;
    for (size_t k = 0; k < n && e == FLE_OK; k++) {
        codes[k] = g->code[members[k]];
        loans += g->loans[members[k]];
        e = each_loan(x, codes[k], g->loans[members[k]], NULL, dept_one, &ds);
    }
    if (e == FLE_OK && other && g->withheld) {
        return withhold(x, D);
    }
    const struct loan_figs total = ds.total;
    if (e == FLE_OK) {
        e = sectors_load(x, codes, n, &D->sectors);
    }
    if (e != FLE_OK) {
        return e;
    }
    const char *dept = other ? "OTHER" : codes[0];
    const char *dept_name = other ? NULL : g->name[members[0]];
    snprintf(D->id, sizeof D->id, "%s-AGG-%.8s", x->id, dept);
    if (other) {
        snprintf(D->title_es, sizeof D->title_es, "Créditos a personas naturales en otros departamentos (agregado)");
        snprintf(D->title_en, sizeof D->title_en, "Loans to individuals in other departments (aggregated)");
        snprintf(
            D->d_es, sizeof D->d_es,
            "Cartera agregada de %" PRId64 " créditos a personas naturales en %zu departamentos de Colombia que "
            "no alcanzan %" PRId64 " créditos cada uno, sumados por trimestre, sin ubicación más fina que el país. "
            "No se publican nombres, identificaciones ni municipios: protección de datos personales (Ley 1581 de "
            "2012) y seguridad de líderes sociales y emprendedores. Ver la política de exclusiones del publicador.",
            loans, n, g->min);
        snprintf(D->d_en, sizeof D->d_en,
                 "Aggregated portfolio of %" PRId64 " loans to individuals in %zu departments of Colombia with fewer "
                 "than %" PRId64 " such loans each, summed per quarter, located at country level only. No names, "
                 "identification numbers or municipalities are published: personal data protection (Colombian Law "
                 "1581 of 2012) and the safety of social leaders and entrepreneurs. See the publisher's exclusions "
                 "policy.",
                 loans, n, g->min);
    } else {
        snprintf(D->title_es, sizeof D->title_es, "Créditos a personas naturales en %s (agregado)", dept_name);
        snprintf(D->title_en, sizeof D->title_en, "Loans to individuals in %s (aggregated)", dept_name);
        snprintf(D->d_es, sizeof D->d_es,
                 "Cartera agregada de %" PRId64 " créditos a personas naturales en el departamento de %s, sumados por "
                 "trimestre. No se publican nombres, identificaciones ni ubicaciones más finas que el departamento: "
                 "protección de datos personales (Ley 1581 de 2012) y seguridad de líderes sociales y emprendedores. "
                 "Ver la política de exclusiones del publicador.",
                 loans, dept_name);
        snprintf(D->d_en, sizeof D->d_en,
                 "Aggregated portfolio of %" PRId64 " loans to individuals in the department of %s, summed per "
                 "quarter. No names, identification numbers or locations finer than the department are published: "
                 "personal data protection (Colombian Law 1581 of 2012) and the safety of social leaders and "
                 "entrepreneurs. See the publisher's exclusions policy.",
                 loans, dept_name);
    }
    D->desc = (struct iati_description){"1", bi_text(&D->d, D->d_es, D->d_en)};
    D->people = (struct iati_org_ref){
        NULL, NULL, NULL,
        bi_text(&D->people_name, "Emprendedores individuales (agregado)", "Individual entrepreneurs (aggregated)")};
    D->parts[0] =
        (struct iati_participating_org){x->rep_ref, x->rep_type, "3", NULL, one_text(&D->fm_name, x->rep_name)};
    D->parts[1] = (struct iati_participating_org){NULL, NULL, "4", NULL, D->people.name};

    qsort(D->buckets, D->n_buckets, sizeof D->buckets[0], bucket_cmp);
    size_t n_tx = 0;
    for (size_t i = 0; i < D->n_buckets; i++) {
        const struct bucket *b = &D->buckets[i];
        if (b->amount == 0) {
            continue; /* a quarter whose movements of a type cancel out */
        }
        struct tx_slot *s = &D->slots[n_tx];
        int y = b->key / 4, q = b->key % 4 + 1;
        snprintf(s->ref, sizeof s->ref, "AGG-%s-%dQ%d-T%s-JE%" PRId64, dept, y, q, tx_codes[b->type], b->last_entry);
        loan_tx(x, s, b->type, b->amount, b->last_date, false, false, &D->people, &x->fm_party);
        snprintf(s->desc_es, sizeof s->desc_es, "%s: suma del trimestre %d-T%d (%u movimientos)", tx_desc_es[b->type],
                 y, q, b->movements);
        snprintf(s->desc_en, sizeof s->desc_en, "%s: sum of quarter %d-Q%d (%u movements)", tx_desc_en[b->type], y, q,
                 b->movements);
        s->t.description = bi_text(&s->desc, s->desc_es, s->desc_en);
        D->txs[n_tx] = s->t;
        n_tx++;
    }
    size_t n_dates = 0;
    if (D->planned_start[0] != '\0') {
        D->dates[n_dates++] = (struct iati_activity_date){"1", D->planned_start};
    }
    if (D->actual_start[0] != '\0') {
        D->dates[n_dates++] = (struct iati_activity_date){"2", D->actual_start};
    }
    if (D->planned_end[0] != '\0' && strcmp(D->planned_end, D->planned_start) >= 0) {
        D->dates[n_dates++] = (struct iati_activity_date){"3", D->planned_end};
    }
    if (!other) {
        place_set(&D->place, false, NULL, NULL, dept, dept_name);
    }
    D->parent = (struct iati_related_activity){"1", x->id};
    loan_status_set(x, &D->status, &total);
    D->crs = (struct iati_crs_add){NULL, &D->status};

    struct iati_activity *a = &D->a;
    activity_defaults(x, a);
    a->identifier = D->id;
    a->hierarchy = 2;
    a->title = bi_text(&D->title, D->title_es, D->title_en);
    a->descriptions = &D->desc;
    a->description_count = 1;
    a->participating_orgs = D->parts;
    a->participating_org_count = 2;
    a->activity_status = "2";
    a->dates = D->dates;
    a->date_count = n_dates;
    a->activity_scope = other ? "4" : "6"; /* national : sub-national single area */
    a->recipient_countries = &colombia;
    a->recipient_country_count = 1;
    a->locations = other ? NULL : &D->place.loc;
    a->location_count = other ? 0 : 1;
    a->sectors = D->sectors.s;
    a->sector_count = D->sectors.n;
    a->transactions = D->txs;
    a->transaction_count = n_tx;
    a->related_activities = &D->parent;
    a->related_activity_count = 1;
    a->crs_add = &D->crs;
    return add_activity(x, a);
}

/* The loans to persons: one activity per department with at least the minimum, then "other
 * departments" (or, below the minimum in all, nothing: withheld). */
static enum fl_err write_departments(struct ex *x)
{
    const struct person_groups *g = &x->groups;
    struct dept_act *D = malloc(sizeof *D);
    if (D == NULL) {
        return nomem(x);
    }
    size_t members[IATI_EXPORT_DEPARTMENTS_MAX];
    enum fl_err e = FLE_OK;
    for (size_t i = 0; i < g->n && e == FLE_OK; i++) {
        if (g->own[i]) {
            members[0] = i;
            e = write_group(x, D, members, 1, false);
        }
    }
    size_t n = 0;
    for (size_t i = 0; i < g->n; i++) {
        if (!g->own[i]) {
            members[n++] = i;
        }
    }
    if (e == FLE_OK && n > 0) {
        e = write_group(x, D, members, n, true);
    }
    free(D);
    return e;
}

/* ---------------------------------------------------------------- the fund (hierarchy 1) */

/* The fund's own transactions: tranche agreements (11), contributions (1), expenses (4). */
struct fund_txs {
    PGresult *pages[IATI_EXPORT_FUND_TX_MAX / 500 + 2];
    size_t n_pages;
    struct tx_slot *slots;
    struct iati_org_ref *providers;
    struct iati_narrative *provider_names;
    struct iati_transaction *txs;
    size_t n, cap;
};

static void fund_txs_free(struct fund_txs *f)
{
    for (size_t i = 0; i < f->n_pages; i++) {
        PQclear(f->pages[i]);
    }
    free(f->slots);
    free(f->providers);
    free(f->provider_names);
    free(f->txs);
    memset(f, 0, sizeof *f);
}

static enum fl_err fund_tx_push(struct ex *x, struct fund_txs *f, const PGresult *r, int row, enum iati_tx t,
                                int64_t amount)
{
    if (f->n == f->cap) {
        size_t cap = f->cap == 0 ? 64 : f->cap * 2;
        if (cap > IATI_EXPORT_FUND_TX_MAX) {
            cap = IATI_EXPORT_FUND_TX_MAX;
        }
        if (cap == f->n) {
            return rule(x, "entries", "more than %d fund-level transactions", IATI_EXPORT_FUND_TX_MAX);
        }
        struct tx_slot *s = realloc(f->slots, cap * sizeof *s);
        if (s == NULL) {
            return nomem(x);
        }
        f->slots = s;
        struct iati_org_ref *p = realloc(f->providers, cap * sizeof *p);
        if (p == NULL) {
            return nomem(x);
        }
        f->providers = p;
        struct iati_narrative *pn = realloc(f->provider_names, cap * sizeof *pn);
        if (pn == NULL) {
            return nomem(x);
        }
        f->provider_names = pn;
        f->cap = cap;
    }
    size_t i = f->n++;
    struct tx_slot *s = &f->slots[i];
    memset(s, 0, sizeof *s);
    const char *date = db_str(r, row, 1);
    bool reversal = db_bool(r, row, 3);
    snprintf(s->ref, sizeof s->ref, "JE%s-%s", db_str(r, row, 0), tx_codes[t]);
    snprintf(s->date, sizeof s->date, "%s", date);
    const char *cls = db_str(r, row, 2);
    bool cancellation = strcmp(cls, "commitment_cancellation") == 0;
    snprintf(s->desc_es, sizeof s->desc_es, "%s%s", reversal ? "Reversión: " : "",
             cancellation ? "Cancelación de compromiso no desembolsado" : tx_desc_es[t]);
    snprintf(s->desc_en, sizeof s->desc_en, "%s%s", reversal ? "Reversal: " : "",
             cancellation ? "Cancellation of unfunded commitment" : tx_desc_en[t]);
    /* Slots may move while the list grows: pointers into them are set once it is complete. */
    f->providers[i] = (struct iati_org_ref){0};
    if (t != IATI_TX_EXPENDITURE) {
        const char *name = opt_str(r, row, 10);
        f->providers[i] =
            (struct iati_org_ref){opt_str(r, row, 11), opt_str(r, row, 12), opt_str(r, row, 9), {NULL, 0}};
        if (name != NULL) {
            f->provider_names[i] = (struct iati_narrative){NULL, name};
            f->providers[i].name = (struct iati_text){NULL, 1}; /* items set in fund_txs_finish */
        }
    }
    s->t = (struct iati_transaction){
        .ref = NULL,
        .type = tx_codes[t],
        .date = NULL,
        .value = {amount, x->exponent, NULL, NULL},
        .provider = NULL,
        .receiver = NULL,
    };
    return FLE_OK;
}

/* Points every transaction at its own storage, now that the arrays no longer move. */
static enum fl_err fund_txs_finish(struct ex *x, struct fund_txs *f)
{
    if (f->n == 0) {
        return FLE_OK;
    }
    f->txs = malloc(f->n * sizeof *f->txs);
    if (f->txs == NULL) {
        return nomem(x);
    }
    for (size_t i = 0; i < f->n; i++) {
        struct tx_slot *s = &f->slots[i];
        struct iati_org_ref *p = &f->providers[i];
        if (p->name.count == 1) {
            p->name.items = &f->provider_names[i];
        }
        bool expense = strcmp(s->t.type, "4") == 0;
        s->t.ref = s->ref;
        s->t.date = s->date;
        s->t.value.value_date = s->date;
        s->t.description = bi_text(&s->desc, s->desc_es, s->desc_en);
        s->t.provider = expense ? NULL : (p->ref != NULL || p->name.count > 0 ? p : NULL);
        s->t.receiver = expense ? NULL : &x->fm_party;
        f->txs[i] = s->t;
    }
    return FLE_OK;
}

static enum fl_err fund_txs_load(struct ex *x, struct fund_txs *f)
{
    int64_t after = 0;
    for (size_t pages = 0; pages < sizeof f->pages / sizeof f->pages[0]; pages++) {
        char fb[21], ab[21], lb[21];
        const char *p[3] = {db_i64_text(x->o->fund_id, fb), db_i64_text(after, ab), db_i64_text(500, lb)};
        PGresult *r = db_exec(x->db, "iati_export_fund_entries", 3, p, x->err);
        if (r == NULL) {
            return x->err->code;
        }
        f->pages[f->n_pages++] = r;
        int n = PQntuples(r);
        for (int i = 0; i < n; i++) {
            const char *cls = db_str(r, i, 2);
            int64_t commit = db_i64(r, i, 6), contrib = db_i64(r, i, 7), expense = db_i64(r, i, 8);
            bool fund_level = strcmp(cls, "tranche_signed") == 0 || strcmp(cls, "commitment_cancellation") == 0 ||
                              strcmp(cls, "contribution") == 0 || expense != 0;
            if (!fund_level) {
                continue; /* the reversal of a loan event: in the loan's activity */
            }
            enum fl_err e = check_currency_row(x, r, i, 0, 4, 5);
            if (e == FLE_OK && (strcmp(cls, "tranche_signed") == 0 || strcmp(cls, "commitment_cancellation") == 0) &&
                commit != 0) {
                e = fund_tx_push(x, f, r, i, IATI_TX_INCOMING_COMMITMENT, commit);
            }
            if (e == FLE_OK && strcmp(cls, "contribution") == 0 && contrib != 0) {
                e = fund_tx_push(x, f, r, i, IATI_TX_INCOMING_FUNDS, contrib);
            }
            if (e == FLE_OK && expense != 0) {
                e = fund_tx_push(x, f, r, i, IATI_TX_EXPENDITURE, expense);
            }
            if (e != FLE_OK) {
                return e;
            }
        }
        if (n < 500) {
            return fund_txs_finish(x, f);
        }
        after = db_i64(r, n - 1, 0);
    }
    return rule(x, "entries", "more than %d fund-level entries", IATI_EXPORT_FUND_TX_MAX);
}

/* The children of the fund, streamed to the writer: loans to organisations, then departments. */
struct children {
    struct ex *x;
    PGresult *page;
    int row;
    int64_t after;
    bool loans_done;
    size_t dept;
    bool other_done;
    bool failed;
    struct fl_error why; /* the database error that stopped the stream */
    char ref[IATI_EXPORT_ID_BYTES + 32];
};

static int children_next(void *ctx, struct iati_related_activity *out)
{
    struct children *c = ctx;
    struct ex *x = c->x;
    while (!c->loans_done) {
        if (c->page != NULL && c->row < PQntuples(c->page)) {
            snprintf(c->ref, sizeof c->ref, "%s-L%.20s", x->id, db_str(c->page, c->row, 0));
            c->row++;
            x->org_loans++;
            *out = (struct iati_related_activity){"2", c->ref};
            return 1;
        }
        bool last = c->page != NULL && PQntuples(c->page) < IATI_EXPORT_PAGE_IDS;
        if (c->page != NULL && PQntuples(c->page) > 0) {
            c->after = db_i64(c->page, PQntuples(c->page) - 1, 0);
        }
        PQclear(c->page);
        c->page = NULL;
        c->row = 0;
        if (last) {
            c->loans_done = true;
            break;
        }
        char fb[21], ab[21], lb[21];
        const char *p[3] = {db_i64_text(x->o->fund_id, fb), db_i64_text(c->after, ab),
                            db_i64_text(IATI_EXPORT_PAGE_IDS, lb)};
        c->page = db_exec(x->db, "iati_export_loan_ids", 3, p, x->err);
        if (c->page == NULL) {
            c->failed = true;
            c->why = *x->err;
            return -1;
        }
        if (PQntuples(c->page) < IATI_EXPORT_PAGE_IDS) {
            /* the last page of ids: nothing else is read for the fund's activity, so the first page
             * of its children's loans is asked for now, and computed while the list is written */
            x->pager.x = x;
            x->pager.dept = NULL;
            x->pager.after = 0;
            if (pager_send(&x->pager) != FLE_OK) {
                c->failed = true;
                c->why = *x->err;
                return -1;
            }
        }
    }
    /* the groups of loans to persons, as write_departments writes them */
    const struct person_groups *g = &x->groups;
    while (c->dept < g->n && !g->own[c->dept]) {
        c->dept++;
    }
    if (c->dept < g->n) {
        snprintf(c->ref, sizeof c->ref, "%s-AGG-%.8s", x->id, g->code[c->dept]);
        c->dept++;
        *out = (struct iati_related_activity){"2", c->ref};
        return 1;
    }
    if (!c->other_done && g->other_n > 0 && !g->withheld) {
        c->other_done = true;
        snprintf(c->ref, sizeof c->ref, "%s-AGG-OTHER", x->id);
        *out = (struct iati_related_activity){"2", c->ref};
        return 1;
    }
    return 0;
}

static const char *const dimension_es[][2] = {
    {"economic", "económica"}, {"food", "alimentaria"},      {"health", "en salud"},    {"environmental", "ambiental"},
    {"personal", "personal"},  {"community", "comunitaria"}, {"political", "política"},
};

static const char *dimension_name_es(const char *d)
{
    for (size_t i = 0; i < sizeof dimension_es / sizeof dimension_es[0]; i++) {
        if (strcmp(d, dimension_es[i][0]) == 0) {
            return dimension_es[i][1];
        }
    }
    return d;
}

struct fund_act {
    struct fund_txs ftx;
    struct sectors sectors;
    PGresult *investors, *dates, *results, *hs;
    struct iati_participating_org *parts;
    struct iati_narrative *part_names;
    struct bi title, d1;
    char title_es[NARRATIVE_BYTES], title_en[NARRATIVE_BYTES], d1_es[2 * NARRATIVE_BYTES], d1_en[2 * NARRATIVE_BYTES];
    struct iati_description desc;
    struct iati_activity_date dates_[3];
    struct iati_budget budgets[YEARS_MAX];
    char budget_start[YEARS_MAX][DATE_TEXT_BYTES], budget_end[YEARS_MAX][DATE_TEXT_BYTES];
    struct bi doc_title, doc_desc;
    struct iati_document_link doc;
    const char *doc_categories[1], *doc_languages[2];
    struct children children;
    /* results */
    struct iati_result results_[2];
    struct iati_indicator ind[PORTFOLIO_INDICATORS + HS_DIMENSIONS_MAX];
    struct iati_indicator_period periods[PORTFOLIO_INDICATORS + HS_DIMENSIONS_MAX];
    struct bi ind_title[PORTFOLIO_INDICATORS + HS_DIMENSIONS_MAX];
    char ind_es[HS_DIMENSIONS_MAX][160], ind_en[HS_DIMENSIONS_MAX][160];
    char actual[PORTFOLIO_INDICATORS][MONEY_TEXT_MAX];
    struct bi r_title[2];
    struct iati_activity a;
};

/* The exclusions policy document-link (category B08), shared by the fund's activity and the
 * organisation file. */
static void policy_link(struct ex *x, struct iati_document_link *d, struct bi *title, struct bi *desc,
                        const char **categories, const char **languages)
{
    categories[0] = "B08";
    languages[0] = "es";
    languages[1] = "en";
    *d = (struct iati_document_link){
        .url = x->o->policy_url,
        .format = "text/html",
        .title = bi_text(title, "Política de exclusiones: datos personales y seguridad de las personas",
                         "Exclusions policy: personal data and the safety of people"),
        .description = bi_text(
            desc,
            "Los créditos a personas naturales no se publican uno por uno: se suman por departamento y trimestre, "
            "sin nombres, identificaciones ni municipio; los departamentos con pocos créditos a personas (menos del "
            "mínimo del fondo) se suman juntos como otros departamentos, y si el fondo tiene menos de ese mínimo en "
            "total, no se publican. Las ubicaciones se publican a nivel de municipio como máximo y nunca con "
            "coordenadas. Razones: la Ley 1581 de 2012 de protección de datos personales y la seguridad de líderes "
            "sociales y emprendedores en municipios afectados por el conflicto.",
            "Loans to individuals are not published one by one: they are summed per department and quarter, without "
            "names, identification numbers or municipality; departments with few loans to individuals (fewer than "
            "the fund's minimum) are summed together as other departments, and when the fund has fewer than that "
            "minimum in all, they are not published. Locations are published at municipality level at the finest "
            "and never with coordinates. Reasons: Colombian Law 1581 of 2012 on personal data protection and the "
            "safety of social leaders and entrepreneurs in municipalities affected by the conflict."),
        .categories = categories,
        .category_count = 1,
        .languages = languages,
        .language_count = 2,
    };
}

/* Budgets per calendar year: the capital committed to the fund that year (incoming commitments,
 * net of cancellations), when positive. */
static size_t fund_budgets(struct ex *x, struct fund_act *F)
{
    struct year_sums ys[YEARS_MAX] = {{0, {0}}};
    size_t n = 0;
    for (size_t i = 0; i < F->ftx.n; i++) {
        const struct iati_transaction *t = &F->ftx.txs[i];
        if (strcmp(t->type, "11") != 0) {
            continue;
        }
        int y = year_of(t->date);
        size_t k = 0;
        while (k < n && ys[k].year != y) {
            k++;
        }
        if (k == n) {
            if (n == YEARS_MAX) {
                break;
            }
            memset(&ys[n], 0, sizeof ys[n]);
            ys[n++].year = y;
        }
        ys[k].total[0] += t->value.amount_minor;
    }
    qsort(ys, n, sizeof ys[0], year_cmp);
    size_t m = 0;
    for (size_t k = 0; k < n; k++) {
        if (ys[k].total[0] <= 0) {
            continue;
        }
        snprintf(F->budget_start[m], DATE_TEXT_BYTES, "%04d-01-01", ys[k].year);
        snprintf(F->budget_end[m], DATE_TEXT_BYTES, "%04d-12-31", ys[k].year);
        F->budgets[m] = (struct iati_budget){
            "1", "2", F->budget_start[m], F->budget_end[m], {ys[k].total[0], x->exponent, NULL, F->budget_start[m]}};
        m++;
    }
    return m;
}

/* Portfolio and human-security results, where data exists. Returns the number of results. */
static size_t fund_results(struct ex *x, struct fund_act *F, const char *start)
{
    size_t ni = 0;
    bool period = strcmp(start, x->today) < 0;
    static const char *const pt_es[PORTFOLIO_INDICATORS] = {
        "Valor de la cartera vigente (IRIS+ PI7569)", "Número de créditos vigentes (IRIS+ PI1478)",
        "Empresas lideradas por mujeres con crédito desembolsado (IRIS+ PI5576)",
        "Personas alcanzadas: socios de las organizaciones y personas con crédito (IRIS+ PI4060)",
        "Capital castigado (IRIS+ FP9717)"};
    static const char *const pt_en[PORTFOLIO_INDICATORS] = {
        "Loans outstanding, value (IRIS+ PI7569)", "Loans outstanding, number (IRIS+ PI1478)",
        "Women-led enterprises with a disbursed loan (IRIS+ PI5576)",
        "People reached: members of borrowing organisations and individual borrowers (IRIS+ PI4060)",
        "Principal written off (IRIS+ FP9717)"};
    const PGresult *r = F->results;
    money_text(db_i64(r, 0, 0), x->exponent, F->actual[0], MONEY_TEXT_MAX);
    snprintf(F->actual[1], MONEY_TEXT_MAX, "%s", db_str(r, 0, 1));
    snprintf(F->actual[2], MONEY_TEXT_MAX, "%s", db_str(r, 0, 2));
    snprintf(F->actual[3], MONEY_TEXT_MAX, "%s", db_str(r, 0, 3));
    money_text(db_i64(r, 0, 4), x->exponent, F->actual[4], MONEY_TEXT_MAX);
    unsigned start_year = (unsigned)year_of(start);
    for (size_t i = 0; i < PORTFOLIO_INDICATORS; i++) {
        F->periods[ni] = (struct iati_indicator_period){start, x->today, NULL, F->actual[i]};
        F->ind[ni] = (struct iati_indicator){
            .measure = "1",
            .ascending = i == PORTFOLIO_INDICATORS - 1 ? 0 : 1,
            .title = bi_text(&F->ind_title[ni], pt_es[i], pt_en[i]),
            .has_baseline = true,
            .baseline_year = start_year,
            .baseline_iso_date = start,
            .baseline_value = "0",
            .periods = period ? &F->periods[ni] : NULL,
            .period_count = period ? 1 : 0,
        };
        ni++;
    }
    size_t nr = 0;
    F->results_[nr++] = (struct iati_result){
        .type = "1",
        .aggregation_status = 1,
        .title = bi_text(&F->r_title[0], "Cartera de crédito del fondo", "The fund's loan portfolio"),
        .indicators = &F->ind[0],
        .indicator_count = PORTFOLIO_INDICATORS,
    };
    size_t hs_first = ni;
    int nh = PQntuples(F->hs);
    for (int i = 0; i < nh && i < HS_DIMENSIONS_MAX; i++) {
        const char *dim = db_str(F->hs, i, 0);
        const char *base_date = db_str(F->hs, i, 2);
        const char *latest = opt_str(F->hs, i, 4);
        const char *latest_date = opt_str(F->hs, i, 5);
        snprintf(F->ind_es[i], sizeof F->ind_es[i], "Seguridad %s: puntaje 0-100, promedio de los municipios",
                 dimension_name_es(dim));
        snprintf(F->ind_en[i], sizeof F->ind_en[i], "Human security, %s dimension: score 0-100, municipal average",
                 dim);
        bool has_period =
            db_i64(F->hs, i, 3) > 0 && latest != NULL && latest_date != NULL && strcmp(base_date, latest_date) < 0;
        F->periods[ni] = (struct iati_indicator_period){base_date, latest_date, NULL, latest};
        F->ind[ni] = (struct iati_indicator){
            .measure = "1",
            .ascending = 1,
            .title = bi_text(&F->ind_title[ni], F->ind_es[i], F->ind_en[i]),
            .has_baseline = true,
            .baseline_year = (unsigned)year_of(base_date),
            .baseline_iso_date = base_date,
            .baseline_value = db_str(F->hs, i, 1),
            .periods = has_period ? &F->periods[ni] : NULL,
            .period_count = has_period ? 1 : 0,
        };
        ni++;
    }
    if (ni > hs_first) {
        F->results_[nr++] = (struct iati_result){
            .type = "3",
            .aggregation_status = 1,
            .title = bi_text(&F->r_title[1], "Seguridad humana: línea base y seguimiento municipal",
                             "Human security: municipal baseline and follow-up"),
            .indicators = &F->ind[hs_first],
            .indicator_count = ni - hs_first,
        };
    }
    return nr;
}

static PGresult *fund_query(struct ex *x, const char *stmt)
{
    char fb[21];
    const char *p[1] = {db_i64_text(x->o->fund_id, fb)};
    return db_exec(x->db, stmt, 1, p, x->err);
}

/* The portfolio figures; outstanding counts capitalised interest due by today (§3 of
 * docs/loan-servicing.md), as each loan's loan-status does. */
static PGresult *fund_results_query(struct ex *x)
{
    char fb[21];
    const char *p[2] = {db_i64_text(x->o->fund_id, fb), x->today};
    return db_exec(x->db, "iati_export_fund_results", 2, p, x->err);
}

static enum fl_err write_fund(struct ex *x)
{
    struct fund_act *F = calloc(1, sizeof *F);
    if (F == NULL) {
        return nomem(x);
    }
    enum fl_err e = fund_txs_load(x, &F->ftx);
    if (e == FLE_OK) {
        e = sectors_load(x, NULL, 0, &F->sectors);
    }
    if (e == FLE_OK && ((F->investors = fund_query(x, "iati_export_investors")) == NULL ||
                        (F->dates = fund_query(x, "iati_export_fund_dates")) == NULL ||
                        (F->results = fund_results_query(x)) == NULL ||
                        (F->hs = fund_query(x, "iati_export_hs")) == NULL)) {
        e = x->err->code;
    }
    int n_inv = e == FLE_OK ? PQntuples(F->investors) : 0;
    if (e == FLE_OK) {
        F->parts = calloc((size_t)n_inv + 2, sizeof *F->parts);
        F->part_names = calloc((size_t)n_inv + 2, sizeof *F->part_names);
        if (F->parts == NULL || F->part_names == NULL) {
            e = nomem(x);
        }
    }
    if (e == FLE_OK) {
        for (int i = 0; i < n_inv; i++) {
            F->parts[i] =
                (struct iati_participating_org){opt_str(F->investors, i, 2), opt_str(F->investors, i, 3), "1", NULL,
                                                one_text(&F->part_names[i], db_str(F->investors, i, 1))};
        }
        F->parts[n_inv] = (struct iati_participating_org){x->rep_ref, x->rep_type, "2", NULL,
                                                          one_text(&F->part_names[n_inv], x->rep_name)};
        F->parts[n_inv + 1] = (struct iati_participating_org){x->rep_ref, x->rep_type, "3", NULL,
                                                              one_text(&F->part_names[n_inv + 1], x->rep_name)};
        snprintf(F->title_es, sizeof F->title_es, "%s: fondo de financiamiento combinado", x->name);
        snprintf(F->title_en, sizeof F->title_en, "%s: blended-finance fund", x->name);
        snprintf(F->d1_es, sizeof F->d1_es,
                 "Fondo de financiamiento combinado (%s) que presta a cooperativas, asociaciones, empresas y "
                 "emprendedores de municipios afectados por el conflicto en Colombia, con capital por tramos de "
                 "distinto riesgo. Cada crédito a una organización es una actividad hija; los créditos a personas "
                 "naturales se publican sumados por departamento.",
                 x->code);
        snprintf(F->d1_en, sizeof F->d1_en,
                 "Blended-finance fund (%s) lending to cooperatives, associations, firms and entrepreneurs in "
                 "conflict-affected municipalities of Colombia, with capital in tranches of different risk. Each loan "
                 "to an organisation is a child activity; loans to individuals are published summed per department.",
                 x->code);
        F->desc = (struct iati_description){"1", bi_text(&F->d1, F->d1_es, F->d1_en)};
        const PGresult *d = F->dates;
        const char *first_contribution = opt_str(d, 0, 0);
        const char *planned_start = opt_str(d, 0, 1) != NULL ? opt_str(d, 0, 1) : x->created;
        const char *planned_end = opt_str(d, 0, 2);
        size_t nd = 0;
        F->dates_[nd++] = (struct iati_activity_date){"1", planned_start};
        if (first_contribution != NULL) {
            F->dates_[nd++] = (struct iati_activity_date){"2", first_contribution};
        }
        if (planned_end != NULL && strcmp(planned_end, planned_start) >= 0) {
            F->dates_[nd++] = (struct iati_activity_date){"3", planned_end};
        }
        int64_t departments = db_i64(d, 0, 3), municipalities = db_i64(d, 0, 4);
        const char *scope = departments > 1 ? "5" : departments == 1 ? (municipalities == 1 ? "7" : "6") : "4";
        size_t nb = fund_budgets(x, F);
        policy_link(x, &F->doc, &F->doc_title, &F->doc_desc, F->doc_categories, F->doc_languages);
        F->children = (struct children){.x = x};
        size_t nr = fund_results(x, F, planned_start);

        struct iati_activity *a = &F->a;
        activity_defaults(x, a);
        a->identifier = x->id;
        a->hierarchy = 1;
        a->title = bi_text(&F->title, F->title_es, F->title_en);
        a->descriptions = &F->desc;
        a->description_count = 1;
        a->participating_orgs = F->parts;
        a->participating_org_count = (size_t)n_inv + 2;
        a->activity_status = first_contribution != NULL ? "2" : "1";
        a->dates = F->dates_;
        a->date_count = nd;
        a->activity_scope = scope;
        a->recipient_countries = &colombia;
        a->recipient_country_count = 1;
        a->sectors = F->sectors.s;
        a->sector_count = F->sectors.n;
        a->budgets = F->budgets;
        a->budget_count = nb;
        a->transactions = F->ftx.txs;
        a->transaction_count = F->ftx.n;
        a->document_links = &F->doc;
        a->document_link_count = 1;
        a->related_next = children_next;
        a->related_ctx = &F->children;
        a->results = F->results_;
        a->result_count = nr;
        e = add_activity(x, a);
        if (e != FLE_OK && F->children.failed) {
            *x->err = F->children.why; /* the database error behind the failed stream */
            e = x->err->code;
        }
        PQclear(F->children.page);
    }
    PQclear(F->investors);
    PQclear(F->dates);
    PQclear(F->results);
    PQclear(F->hs);
    free(F->parts);
    free(F->part_names);
    fund_txs_free(&F->ftx);
    free(F);
    return e;
}

/* ---------------------------------------------------------------- the organisation file */

struct org_file {
    struct iati_org_budget budgets[YEARS_MAX];
    struct iati_org_country_budget country[YEARS_MAX];
    struct iati_org_expenditure spent[YEARS_MAX];
    char start[YEARS_MAX][DATE_TEXT_BYTES], end[YEARS_MAX][DATE_TEXT_BYTES], value_date[YEARS_MAX][DATE_TEXT_BYTES];
    struct iati_narrative name;
    struct bi doc_title, doc_desc;
    struct iati_document_link doc;
    const char *categories[1], *languages[2];
    struct iati_organisation org;
};

/* The fund manager's budget per year (capital committed that year, as in the fund's budgets), the
 * same as its budget for Colombia, and its expenditure per year: what the fund disbursed to
 * borrowers (3) and spent (4), as written in the activity file. */
static enum fl_err write_organisation(struct ex *x, const char *path)
{
    struct org_file *O = calloc(1, sizeof *O);
    if (O == NULL) {
        return nomem(x);
    }
    qsort(x->years, x->n_years, sizeof x->years[0], year_cmp);
    size_t nb = 0, ne = 0;
    for (size_t i = 0; i < x->n_years; i++) {
        const struct year_sums *y = &x->years[i];
        snprintf(O->start[i], DATE_TEXT_BYTES, "%04d-01-01", y->year);
        snprintf(O->end[i], DATE_TEXT_BYTES, "%04d-12-31", y->year);
        snprintf(O->value_date[i], DATE_TEXT_BYTES, "%s", strcmp(O->end[i], x->today) < 0 ? O->end[i] : x->today);
        int64_t budget = y->total[IATI_TX_INCOMING_COMMITMENT];
        if (budget > 0) {
            O->budgets[nb] =
                (struct iati_org_budget){"2", O->start[i], O->end[i], {budget, x->exponent, NULL, O->start[i]}};
            O->country[nb] = (struct iati_org_country_budget){
                "2", "CO", O->start[i], O->end[i], {budget, x->exponent, NULL, O->start[i]}};
            nb++;
        }
        int64_t spent = 0;
        if (!money_add(y->total[IATI_TX_DISBURSEMENT], y->total[IATI_TX_EXPENDITURE], &spent)) {
            free(O);
            return rule(x, "amount", "a yearly expenditure overflows");
        }
        if (spent != 0) {
            O->spent[ne++] =
                (struct iati_org_expenditure){O->start[i], O->end[i], {spent, x->exponent, NULL, O->value_date[i]}};
        }
    }
    policy_link(x, &O->doc, &O->doc_title, &O->doc_desc, O->categories, O->languages);
    O->org = (struct iati_organisation){
        .identifier = x->rep_ref,
        .lang = "es",
        .default_currency = x->currency,
        .last_updated_datetime = x->now,
        .name = one_text(&O->name, x->rep_name),
        .reporting_org = x->rep,
        .total_budgets = O->budgets,
        .total_budget_count = nb,
        .country_budgets = O->country,
        .country_budget_count = nb,
        .expenditures = O->spent,
        .expenditure_count = ne,
        .document_links = &O->doc,
        .document_link_count = 1,
    };
    struct iati_writer *w = NULL;
    enum iati_status st = iati_organisations_writer_open(path, x->now, &w);
    if (st == IATI_OK) {
        st = iati_organisations_writer_add(w, &O->org);
        if (st == IATI_ERR_INVALID) {
            char msg[ERROR_MESSAGE_BYTES];
            snprintf(msg, sizeof msg, "%s", iati_writer_error(w));
            iati_writer_abort(w);
            free(O);
            return rule(x, "iati", "the organisation file cannot be written: %s", msg);
        }
        if (st == IATI_OK) {
            st = iati_organisations_writer_close(w);
        } else {
            iati_writer_abort(w);
        }
    }
    free(O);
    if (st != IATI_OK) {
        return fl_error_set(x->err, FLE_INTERNAL, NULL, "writing %s: %s", path, iati_status_text(st));
    }
    return FLE_OK;
}

/* ---------------------------------------------------------------- entry points */

enum fl_err iati_export_snapshot(struct db *db, struct fl_error *err)
{
    assert(db != NULL);
    assert(db_in_tx(db));
    PGresult *r = db_exec_sql(db, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", err);
    if (r == NULL) {
        return err->code;
    }
    PQclear(r);
    return FLE_OK;
}

static void utc_today(char out[DATE_TEXT_BYTES])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, DATE_TEXT_BYTES, "%Y-%m-%d", &tm);
}

/* Loads the fund and the reporting organisation; refuses what cannot be published. */
static enum fl_err load_fund(struct ex *x)
{
    char fb[21];
    const char *p[1] = {db_i64_text(x->o->fund_id, fb)};
    PGresult *r = db_exec(x->db, "iati_export_fund", 1, p, x->err);
    if (r == NULL) {
        return x->err->code;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        return fl_error_set(x->err, FLE_NOT_FOUND, "fund_id", "no fund %" PRId64, x->o->fund_id);
    }
    snprintf(x->code, sizeof x->code, "%s", db_str(r, 0, 1));
    snprintf(x->name, sizeof x->name, "%s", db_str(r, 0, 2));
    snprintf(x->currency, sizeof x->currency, "%s", db_str(r, 0, 3));
    snprintf(x->created, sizeof x->created, "%s", db_str(r, 0, 5));
    const char *ref = x->o->reporting_org_ref;
    size_t ref_len = strlen(ref);
    const char *own = opt_str(r, 0, 4);
    if (own != NULL) {
        if (strncmp(own, ref, ref_len) != 0 || own[ref_len] != '-' || strlen(own) >= sizeof x->id) {
            PQclear(r);
            return fl_error_set(x->err, FLE_RULE, "iati_activity_id",
                                "the fund's IATI identifier does not start with %s-", ref);
        }
        snprintf(x->id, sizeof x->id, "%s", own);
    } else if ((size_t)snprintf(x->id, sizeof x->id, "%s-%s", ref, x->code) >= sizeof x->id) {
        PQclear(r);
        return fl_error_set(x->err, FLE_RULE, "iati_reporting_org_ref", "the identifier would be too long");
    }
    PQclear(r);
    x->exponent = money_currency_exponent(x->currency);
    if (x->exponent < 0) {
        return fl_error_set(x->err, FLE_RULE, "base_currency", "unknown currency %s", x->currency);
    }
    const char *q[1] = {ref};
    r = db_exec(x->db, "iati_export_reporting_org", 1, q, x->err);
    if (r == NULL) {
        return x->err->code;
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        return fl_error_set(x->err, FLE_RULE, "iati_reporting_org_ref",
                            "no organisation of kind fund_manager: the reporting organisation %s must be one", ref);
    }
    if (db_null(r, 0, 2) || strcmp(db_str(r, 0, 2), ref) != 0) {
        fl_error_set(x->err, FLE_RULE, "iati_reporting_org_ref",
                     "the fund manager organisation %s has IATI identifier %s, not the configured %s", db_str(r, 0, 0),
                     db_null(r, 0, 2) ? "(none)" : db_str(r, 0, 2), ref);
        PQclear(r);
        return FLE_RULE;
    }
    if (db_null(r, 0, 3)) {
        PQclear(r);
        return fl_error_set(x->err, FLE_RULE, "iati_type", "the fund manager organisation has no IATI type");
    }
    snprintf(x->rep_name, sizeof x->rep_name, "%s", db_str(r, 0, 1));
    snprintf(x->rep_ref, sizeof x->rep_ref, "%s", ref);
    snprintf(x->rep_type, sizeof x->rep_type, "%s", db_str(r, 0, 3));
    PQclear(r);
    x->rep = (struct iati_org_ref){x->rep_ref, x->rep_type, NULL, one_text(&x->rep_narrative, x->rep_name)};
    x->fm_party = (struct iati_org_ref){x->rep_ref, x->rep_type, x->id, x->rep.name};
    return FLE_OK;
}

enum fl_err iati_export_write(struct db *db, const struct iati_export_options *o, struct iati_export_summary *sum,
                              struct fl_error *err)
{
    assert(db != NULL && o != NULL && sum != NULL && err != NULL);
    assert(o->out_dir != NULL && o->reporting_org_ref != NULL && o->policy_url != NULL);
    memset(sum, 0, sizeof *sum);
    struct ex *x = calloc(1, sizeof *x);
    if (x == NULL) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
    }
    x->db = db;
    x->o = o;
    x->err = err;
    x->sum = sum;
    if (o->today != NULL) {
        if (!ledger_date_valid(o->today)) {
            free(x);
            return fl_error_set(err, FLE_BAD_FIELD, "today", "a date YYYY-MM-DD is expected");
        }
        snprintf(x->today, sizeof x->today, "%s", o->today);
        snprintf(x->now, sizeof x->now, "%sT00:00:00Z", o->today);
    } else {
        utc_today(x->today);
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(x->now, sizeof x->now, "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    x->year = year_of(x->today);
    char apath[PATH_BYTES], opath[PATH_BYTES];
    if ((size_t)snprintf(apath, sizeof apath, "%s/activities.xml", o->out_dir) >= sizeof apath ||
        (size_t)snprintf(opath, sizeof opath, "%s/organisation.xml", o->out_dir) >= sizeof opath) {
        free(x);
        return fl_error_set(err, FLE_BAD_FIELD, "out", "the output directory path is too long");
    }
    enum fl_err e = load_fund(x);
    if (e == FLE_OK) {
        snprintf(sum->fund_identifier, sizeof sum->fund_identifier, "%s", x->id);
        snprintf(sum->written.currency, sizeof sum->written.currency, "%s", x->currency);
        sum->written.exponent = x->exponent;
        sum->withheld = (struct iati_totals){.exponent = x->exponent};
        snprintf(sum->withheld.currency, sizeof sum->withheld.currency, "%s", x->currency);
        x->depts = fund_query(x, "iati_export_departments");
        if (x->depts == NULL) {
            e = err->code;
        } else {
            e = groups_build(x);
        }
    }
    if (e == FLE_OK) {
        enum iati_status st = iati_activities_writer_open(apath, x->now, &x->aw);
        if (st != IATI_OK) {
            e = fl_error_set(err, FLE_INTERNAL, NULL, "cannot create %s: %s", apath, iati_status_text(st));
        }
    }
    if (e == FLE_OK) {
        e = write_fund(x);
    }
    if (e == FLE_OK) {
        e = write_loans(x);
    }
    if (e == FLE_OK) {
        e = write_departments(x);
    }
    if (x->aw != NULL) {
        if (e == FLE_OK) {
            enum iati_status st = iati_activities_writer_close(x->aw);
            if (st != IATI_OK) {
                e = fl_error_set(err, FLE_INTERNAL, NULL, "writing %s: %s", apath, iati_status_text(st));
            }
        } else {
            iati_writer_abort(x->aw);
        }
        x->aw = NULL;
    }
    if (e == FLE_OK) {
        e = write_organisation(x, opath);
        if (e != FLE_OK) {
            (void)unlink(apath);
        }
    }
    pager_drain(&x->pager); /* a page asked for ahead of an error */
    PQclear(x->depts);
    free(x);
    return e;
}

enum fl_err iati_export_totals(struct db *db, int64_t fund_id, struct iati_totals *out, struct fl_error *err)
{
    assert(db != NULL && out != NULL);
    memset(out, 0, sizeof *out);
    char currency[CURRENCY_CODE_BYTES];
    if (fund_exists(db, fund_id, currency, err) != FLE_OK) {
        return err->code;
    }
    snprintf(out->currency, sizeof out->currency, "%s", currency);
    out->exponent = money_currency_exponent(currency);
    char fb[21];
    const char *p[1] = {db_i64_text(fund_id, fb)};
    PGresult *r = db_exec(db, "iati_export_totals", 1, p, err);
    if (r == NULL) {
        return err->code;
    }
    enum fl_err e = FLE_OK;
    for (int i = 0; i < PQntuples(r) && e == FLE_OK; i++) {
        int t = tx_from_code(db_str(r, i, 0));
        assert(t >= 0);
        if (strcmp(db_str(r, i, 2), currency) != 0 || strcmp(db_str(r, i, 3), currency) != 0) {
            e = fl_error_set(err, FLE_RULE, "currency", "lines of type %s are not all in %s", db_str(r, i, 0),
                             currency);
            break;
        }
        out->total_minor[t] = db_i64(r, i, 1);
    }
    PQclear(r);
    return e;
}
