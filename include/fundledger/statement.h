/* statement: investor statements: per tranche and period (QTD, YTD, inception to date) the
 * commitment, the capital account roll-forward, the tranche position, performance, the fund's
 * portfolio quality, the period's waterfall and impact, all read from ledger balances and stored
 * business rows, hashed; and their self-contained HTML rendering with SVG charts. */
#ifndef FUNDLEDGER_STATEMENT_H
#define FUNDLEDGER_STATEMENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "fundledger/db.h"
#include "fundledger/error.h"
#include "fundledger/hash.h"

/* Bounds. A blended fund's stack has three to five tranches; the schema allows several per
 * rank, so 64 leaves room while keeping the per-tranche work (and the page) bounded. */
#define STATEMENT_TRANCHES_MAX 64
/* The capital chart: at most five years of month ends; an older inception shows the last 60. */
#define STATEMENT_CHART_POINTS_MAX 60
/* Waterfall runs listed for one quarter: a daily run is 92; more are summarised as truncated. */
#define STATEMENT_WATERFALL_RUNS_MAX 100
/* Rows of a concentration table (value chains, municipalities): the largest first. */
#define STATEMENT_CONCENTRATION_ROWS_MAX 50
/* The HTML template is a small hand-written page; the rendered page stays far below this. */
#define STATEMENT_TEMPLATE_BYTES_MAX (256 * 1024)
#define STATEMENT_HTML_BYTES_MAX (8 * 1024 * 1024)
/* Version of the statement's JSON shape, part of the hashed content. */
#define STATEMENT_VERSION 1

/* Builds the statement of investor_id (an organisation of kind investor) in fund_id as of the end
 * of period_end (YYYY-MM-DD, not in the future), for one of its tranches (tranche_id) or all of
 * them signed by period_end (tranche_id 0). Runs its own REPEATABLE READ, READ ONLY transaction
 * (db must not be in one), so every figure comes from one snapshot; the snapshot time is the
 * data cut-off. The fund's portfolio quality is computed meanwhile on db's second connection
 * (db_sibling, opened on first use), in a transaction that imports this one's snapshot; without
 * one it is computed on db after the rest, with the same result. Every amount is a decimal string in the fund currency; ratios are decimal strings
 * with 4 decimals (IRR 10); opening + movements = closing is asserted. "hash" is the lower-case
 * hex SHA-256 of json_dumps(statement without "hash", JSON_SORT_KEYS | JSON_COMPACT).
 * On success *out is a new object (caller json_decref's it). Errors: FLE_NOT_FOUND fund_id,
 * investor_id (no such investor, or no tranche of it in the fund signed by period_end),
 * tranche_id; FLE_BAD_PARAM period_end (not a date, or in the future), tranche_id (not a tranche
 * of this investor in this fund); FLE_DB_UNAVAILABLE, FLE_INTERNAL. *out is NULL on error. */
enum fl_err statement_build(struct db *db, int64_t fund_id, int64_t investor_id, int64_t tranche_id,
                            const char *period_end, json_t **out, struct fl_error *err);

/* The hash a statement should carry: SHA-256 of its canonical JSON without the member "hash",
 * as 64 lower-case hex digits and a NUL. false on allocation failure. */
bool statement_hash(const json_t *statement, char hex[HASH_HEX_BYTES]);

/* Renders a statement as one self-contained HTML page (inline CSS, inline SVG charts, no
 * script, no external resource) from the template file at template_path, which may use only
 * the placeholders documented at the top of reports/statement.html ({{name}}); any other
 * {{...}} is an error. Every text taken from the statement is HTML-escaped; SVG coordinates
 * are integers computed with integer arithmetic. On success *html_out is a NUL-terminated
 * malloc'd string the caller frees. Errors: FLE_INTERNAL (template unreadable, too large, an
 * unknown placeholder, a statement without the expected members, output over
 * STATEMENT_HTML_BYTES_MAX, out of memory); *html_out is NULL then. */
enum fl_err statement_render_html(const json_t *statement, const char *template_path, char **html_out,
                                  struct fl_error *err);

#endif
