/* portfolio: portfolio quality (gross portfolio, PAR30/PAR90, losses, concentration) and
 * arrears per loan, each one set-based query (statements.c, ARREARS_WITH). */
#include "fundledger/portfolio.h"
#include "fundledger/jsonv.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "fundledger/fund.h"
#include "fundledger/ledger.h"
#include "fundledger/limits.h"
#include "fundledger/money.h"
#include "fundledger/rate.h"
#include "fundledger/tranche.h"

const char *portfolio_ratio(int64_t num, int64_t den, char *buf, size_t cap)
{
    assert(buf != NULL && cap >= RATE_TEXT_MAX);
    int64_t units = 0;
    if (den == 0 || !money_div_half_even((money_i128)num * 10000, den, &units)) {
        units = 0;
    }
    if (rate_format_units(units, 4, buf, cap) == 0) {
        snprintf(buf, cap, "0.0000");
    }
    return buf;
}

static json_t *ratio_json(int64_t num, int64_t den)
{
    char buf[RATE_TEXT_MAX];
    return json_string(portfolio_ratio(num, den, buf, sizeof buf));
}

json_t *portfolio_quality(struct db *db, int64_t fund_id, const char *as_of, const char *from, struct fl_error *err)
{
    char cur[CURRENCY_CODE_BYTES];
    if (fund_exists(db, fund_id, cur, err) != FLE_OK) {
        return NULL;
    }
    char today[DATE_TEXT_BYTES], jan1[DATE_TEXT_BYTES];
    const char *d = tranche_as_of(as_of, today, err);
    if (d == NULL) {
        return NULL;
    }
    snprintf(jan1, sizeof jan1, "%.4s-01-01", d);
    const char *f = from ? from : jan1;
    if (!ledger_date_valid(f) || strcmp(f, d) > 0) {
        fl_error_set(err, FLE_BAD_PARAM, "from", "a date YYYY-MM-DD not after as_of");
        return NULL;
    }
    char fb[21];
    const char *p[3] = {db_i64_text(fund_id, fb), d, cur};
    /* One meaning, two texts (statements.c): when no other fund has loans, filtering each source
     * by the fund's loans keeps every row and only costs; the final join selects them anyway. */
    PGresult *r = db_exec(db, "portfolio_other_funds", 1, p, err);
    if (r == NULL) {
        return NULL;
    }
    const char *stmt = db_bool(r, 0, 0) ? "portfolio_quality" : "portfolio_quality_whole";
    PQclear(r);
    if ((r = db_exec(db, stmt, 3, p, err)) == NULL) {
        return NULL;
    }
    json_t *o = json_pack("{s:I, s:s, s:s, s:{s:s, s:s}}", "fund_id", (json_int_t)fund_id, "currency", cur, "as_of", d,
                          "period", "from", f, "to", d);
    json_t *by_vc = json_array(), *by_m = json_array();
    int64_t gross = 0;
    /* The total row (grouping 1, 1) comes first: ORDER BY 1 DESC, 2 DESC. */
    for (int i = 0; i < PQntuples(r); i++) {
        bool vc_all = db_i64(r, i, 0) == 1, m_all = db_i64(r, i, 1) == 1;
        int64_t loans = db_i64(r, i, 6), out = db_i64(r, i, 7), n30 = db_i64(r, i, 8), a30 = db_i64(r, i, 9),
                n90 = db_i64(r, i, 10), a90 = db_i64(r, i, 11);
        if (vc_all && m_all) {
            gross = out;
            json_object_set_new(o, "loans_outstanding", json_integer(loans));
            json_object_set_new(o, "gross_portfolio", jv_amount(out, cur));
            json_object_set_new(o, "par30",
                                json_pack("{s:I, s:o, s:o}", "loans", (json_int_t)n30, "amount", jv_amount(a30, cur),
                                          "ratio", ratio_json(a30, out)));
            json_object_set_new(o, "par90",
                                json_pack("{s:I, s:o, s:o}", "loans", (json_int_t)n90, "amount", jv_amount(a90, cur),
                                          "ratio", ratio_json(a90, out)));
            json_object_set_new(o, "principal_in_arrears", jv_amount(db_i64(r, i, 12), cur));
            json_object_set_new(o, "interest_in_arrears", jv_amount(db_i64(r, i, 13), cur));
            continue;
        }
        json_t *g =
            json_pack("{s:I, s:o, s:o, s:o, s:o}", "loans", (json_int_t)loans, "outstanding", jv_amount(out, cur),
                      "share", ratio_json(out, gross), "par30", jv_amount(a30, cur), "par90", jv_amount(a90, cur));
        if (!vc_all) {
            json_object_set_new(g, "value_chain", json_string(db_str(r, i, 2)));
            json_array_append_new(by_vc, g);
        } else {
            json_object_set_new(g, "municipality_code", json_string(db_str(r, i, 3)));
            json_object_set_new(g, "municipality", json_string(db_str(r, i, 4)));
            json_object_set_new(g, "department", json_string(db_str(r, i, 5)));
            json_array_append_new(by_m, g);
        }
    }
    PQclear(r);
    if (json_object_get(o, "gross_portfolio") == NULL) { /* no loan at all: zeros */
        json_object_set_new(o, "loans_outstanding", json_integer(0));
        json_object_set_new(o, "gross_portfolio", jv_amount(0, cur));
        json_object_set_new(
            o, "par30",
            json_pack("{s:i, s:o, s:o}", "loans", 0, "amount", jv_amount(0, cur), "ratio", ratio_json(0, 0)));
        json_object_set_new(
            o, "par90",
            json_pack("{s:i, s:o, s:o}", "loans", 0, "amount", jv_amount(0, cur), "ratio", ratio_json(0, 0)));
        json_object_set_new(o, "principal_in_arrears", jv_amount(0, cur));
        json_object_set_new(o, "interest_in_arrears", jv_amount(0, cur));
    }
    json_object_set_new(o, "by_value_chain", by_vc);
    json_object_set_new(o, "by_municipality", by_m);
    const char *pl[3] = {fb, f, d};
    if ((r = db_exec(db, "portfolio_losses", 3, pl, err)) == NULL) {
        json_decref(o);
        return NULL;
    }
    json_object_set_new(
        o, "write_offs",
        json_pack("{s:I, s:o}", "count", (json_int_t)db_i64(r, 0, 0), "amount", jv_amount(db_i64(r, 0, 1), cur)));
    json_object_set_new(
        o, "recoveries",
        json_pack("{s:I, s:o}", "count", (json_int_t)db_i64(r, 0, 2), "amount", jv_amount(db_i64(r, 0, 3), cur)));
    PQclear(r);
    return o;
}

json_t *portfolio_arrears_list(struct db *db, int64_t fund_id, const char *as_of, int64_t after_id, unsigned limit,
                               struct fl_error *err)
{
    assert(limit >= 1 && limit <= PAGE_SIZE_MAX);
    if (fund_exists(db, fund_id, NULL, err) != FLE_OK) {
        return NULL;
    }
    char today[DATE_TEXT_BYTES];
    const char *d = tranche_as_of(as_of, today, err);
    if (d == NULL) {
        return NULL;
    }
    char fb[21], ab[21], lb[21];
    const char *p[4] = {db_i64_text(fund_id, fb), d, db_i64_text(after_id, ab), db_i64_text(limit + 1, lb)};
    PGresult *r = db_exec(db, "portfolio_arrears_list", 4, p, err);
    if (r == NULL) {
        return NULL;
    }
    int rows = PQntuples(r);
    bool more = rows > (int)limit;
    if (more) {
        rows = (int)limit;
    }
    json_t *a = json_array();
    for (int i = 0; i < rows; i++) {
        const char *cur = db_str(r, i, 1);
        json_array_append_new(
            a, json_pack("{s:I, s:s, s:o, s:I, s:o, s:o, s:o, s:s, s:s}", "loan_id", (json_int_t)db_i64(r, i, 0),
                         "currency", cur, "principal_outstanding", jv_amount(db_i64(r, i, 2), cur), "days_past_due",
                         (json_int_t)db_i64(r, i, 3), "oldest_unpaid_due_date",
                         db_null(r, i, 4) ? json_null() : json_string(db_str(r, i, 4)), "principal_in_arrears",
                         jv_amount(db_i64(r, i, 5), cur), "interest_in_arrears", jv_amount(db_i64(r, i, 6), cur),
                         "municipality_code", db_str(r, i, 8), "value_chain", db_str(r, i, 9)));
    }
    int64_t last = rows ? db_i64(r, rows - 1, 0) : 0;
    PQclear(r);
    return json_pack("{s:s, s:o, s:o}", "as_of", d, "loans", a, "next_after", more ? json_integer(last) : json_null());
}
