/* test_authz: the authorization matrix, generated from the route table (src/http/routes.c) and the
 * declared policy (docs/authorization.md): every route x every role and anonymous against the real
 * server on the demo fund, with an investor reading its own and another investor's data; and token
 * lifetimes over the API (a default expiry, renewal). */
/* cmocka.h needs these before it, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../support/httpc.h"
#include "../support/testdb.h"
#include "demo_fixture.h"
#include "fundledger/config.h"
#include "fundledger/demo.h"
#include "fundledger/http.h"
#include "fundledger/log.h"

/* Tests run from the project root (tests/run.sh cds there). */
#define POLICY_PATH "docs/authorization.md"
#define POLICY_BEGIN "<!-- policy:"
#define POLICY_END "<!-- end of policy -->"
/* Bounds of the policy reader: the table is hand-written and small. */
#define POLICY_ROWS_MAX 256
#define POLICY_LINE_BYTES 512
#define POLICY_LINES_MAX 2000
#define PATTERN_BYTES 160
#define PATH_BYTES 512
#define URL_BYTES 64
#define TOKEN_BYTES 128
#define VALUE_BYTES 32

/* The policy's columns: the six roles a user may hold, in the table's order, then anonymous. */
enum col { C_ADMIN, C_MANAGER, C_APPROVER, C_INVESTOR, C_TRANSPARENCY, C_AUDITOR, C_ANONYMOUS, COLS };
static const char *const col_names[COLS] = {"admin",   "fund_manager", "approver", "investor", "transparency_officer",
                                            "auditor", "anonymous"};
static const enum role col_roles[C_ANONYMOUS] = {ROLE_ADMIN,    ROLE_FUND_MANAGER,         ROLE_APPROVER,
                                                 ROLE_INVESTOR, ROLE_TRANSPARENCY_OFFICER, ROLE_AUDITOR};
/* The demo's user for each role column (demo_load names them). */
static const char *const col_users[C_ANONYMOUS] = {"admin", "manager", "approver", "undp", "transparency", "auditor"};

enum cell { CELL_NO, CELL_YES, CELL_OWN, CELL_PUBLIC };

struct policy_row {
    char method[8];
    char pattern[PATTERN_BYTES];
    enum cell cells[COLS];
    unsigned line;
};

static struct policy_row policy[POLICY_ROWS_MAX];
static size_t policy_n;

static const char *conninfo;
static struct config cfg; /* must outlive the server: it keeps a pointer */
static struct http_server *server;
static char base_url[URL_BYTES];
static char tokens[C_ANONYMOUS][TOKEN_BYTES];

/* The objects path parameters are filled with: {name} -> own value, and for an investor's
 * "other" probe the other investor's value where there is one. */
struct fixture {
    const char *name;
    char own[VALUE_BYTES];
    char other[VALUE_BYTES]; /* "" = the same object for everyone */
};
static struct fixture fixtures[] = {
    {"fund_id", "", ""}, {"account_id", "", ""},      {"entry_id", "", ""},   {"proposal_id", "", ""},
    {"user_id", "", ""}, {"currency", "", ""},        {"token_id", "", ""},   {"tranche_id", "", ""},
    {"loan_id", "", ""}, {"entrepreneur_id", "", ""}, {"measure_id", "", ""}, {"run_id", "", ""},
    {"version", "", ""}, {"investor_id", "", ""},
};
#define FIXTURES (sizeof fixtures / sizeof fixtures[0])

/* The query a read needs to reach its handler's answer (the rest need none). */
static const struct {
    const char *method, *pattern, *query;
} queries[] = {
    {"GET", "/v1/funds/{fund_id}/statements", "investor_id={investor_id}&period_end=2026-09-30"},
    {"GET", "/v1/loans/{loan_id}/payoff", "date=2026-11-30"},
};

/* ---- helpers ---------------------------------------------------------------------------- */

static const char *or_null(const char *s)
{
    return s ? s : "(null)";
}

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static struct fixture *fixture_named(const char *name, size_t len)
{
    for (size_t i = 0; i < FIXTURES; i++) {
        if (strlen(fixtures[i].name) == len && strncmp(fixtures[i].name, name, len) == 0) {
            return &fixtures[i];
        }
    }
    return NULL;
}

/* Copies pattern into out with every {name} replaced by its fixture (the other investor's when
 * other and there is one). false (with the name printed) when a name has no fixture. */
static bool fill(const char *pattern, bool other, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = pattern; *p != '\0';) {
        const char *value = NULL;
        size_t vlen = 1;
        if (*p == '{') {
            const char *close = strchr(p, '}');
            assert_non_null(close);
            struct fixture *f = fixture_named(p + 1, (size_t)(close - p - 1));
            if (f == NULL) {
                print_message("%s: no test object for the parameter %.*s: add a fixture in %s\n", pattern,
                              (int)(close - p + 1), p, __FILE__);
                return false;
            }
            value = other && f->other[0] ? f->other : f->own;
            vlen = strlen(value);
            p = close + 1;
        } else {
            value = p++;
        }
        if (o + vlen >= cap) {
            return false;
        }
        memcpy(out + o, value, vlen);
        o += vlen;
    }
    out[o] = '\0';
    return true;
}

/* The path to probe a route with: the pattern filled, and its query when it has one. */
static bool probe_path(const struct http_route *rt, bool other, char *out, size_t cap)
{
    if (!fill(rt->pattern, other, out, cap)) {
        return false;
    }
    for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++) {
        if (strcmp(queries[i].method, rt->method) == 0 && strcmp(queries[i].pattern, rt->pattern) == 0) {
            size_t len = strlen(out);
            if (len + 1 >= cap) {
                return false;
            }
            out[len] = '?';
            return fill(queries[i].query, other, out + len + 1, cap - len - 1);
        }
    }
    return true;
}

/* The reply is the error shape with this status, code and field; prints why not. */
static bool is_error(const struct httpc_resp *r, long status, const char *code, const char *field)
{
    json_t *e = json_object_get(r->json, "error");
    const char *msg = jstr(e, "message");
    return r->status == status && json_is_object(e) && json_object_size(e) == 3 &&
           strcmp(or_null(jstr(e, "code")), code) == 0 && strcmp(or_null(jstr(e, "field")), field) == 0 &&
           msg != NULL && msg[0] != '\0';
}

static char *scalar(const char *sql)
{
    char *v = testdb_scalar(conninfo, sql);
    if (v == NULL) {
        fail_msg("no value for: %s", sql);
    }
    return v;
}

static long long count_of(const char *table)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    return testdb_int(conninfo, sql);
}

static void set_fixture(const char *name, const char *own_sql, const char *other_sql)
{
    struct fixture *f = fixture_named(name, strlen(name));
    assert_non_null(f);
    char *v = scalar(own_sql);
    snprintf(f->own, sizeof f->own, "%s", v);
    free(v);
    if (f->own[0] == '\0') {
        fail_msg("no object for {%s}: %s", name, own_sql);
    }
    if (other_sql != NULL) {
        v = scalar(other_sql);
        snprintf(f->other, sizeof f->other, "%s", v);
        free(v);
        assert_string_not_equal(f->own, f->other);
    }
}

static const char *own(const char *name)
{
    struct fixture *f = fixture_named(name, strlen(name));
    assert_non_null(f);
    return f->own;
}

static const char *other(const char *name)
{
    struct fixture *f = fixture_named(name, strlen(name));
    assert_non_null(f);
    return f->other;
}

/* ---- the policy ------------------------------------------------------------------------- */

static char *trim(char *s)
{
    while (*s == ' ' || *s == '`') {
        s++;
    }
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '`' || s[n - 1] == '\n' || s[n - 1] == '\r')) {
        s[--n] = '\0';
    }
    return s;
}

static bool cell_parse(const char *text, enum col c, enum cell *out)
{
    if (strcmp(text, "yes") == 0) {
        *out = CELL_YES;
    } else if (strcmp(text, "no") == 0) {
        *out = CELL_NO;
    } else if (strcmp(text, "own") == 0 && c == C_INVESTOR) {
        *out = CELL_OWN;
    } else if (strcmp(text, "public") == 0 && c == C_TRANSPARENCY) {
        *out = CELL_PUBLIC;
    } else {
        return false;
    }
    return true;
}

/* Reads the table between the markers of POLICY_PATH into rows. Returns false with a message
 * on a shape it cannot read: a row without 2 + COLS cells, an unknown word, too many rows. */
static bool policy_read(struct policy_row *rows, size_t cap, size_t *n, char *err, size_t err_cap)
{
    FILE *f = fopen(POLICY_PATH, "r");
    if (f == NULL) {
        snprintf(err, err_cap, "%s: cannot open", POLICY_PATH);
        return false;
    }
    char line[POLICY_LINE_BYTES];
    bool in = false, header_seen = false, ended = false, ok = true;
    *n = 0;
    for (unsigned lineno = 1; ok && !ended && lineno <= POLICY_LINES_MAX && fgets(line, sizeof line, f); lineno++) {
        if (!in) {
            in = strncmp(line, POLICY_BEGIN, strlen(POLICY_BEGIN)) == 0;
            continue;
        }
        if (strncmp(line, POLICY_END, strlen(POLICY_END)) == 0) {
            ended = true;
            continue;
        }
        if (line[0] != '|') {
            snprintf(err, err_cap, "%s:%u: not a table row inside the policy", POLICY_PATH, lineno);
            ok = false;
            continue;
        }
        if (!header_seen || strncmp(line, "|---", 4) == 0) {
            header_seen = true; /* the header row, then its rule */
            continue;
        }
        char *cells[2 + COLS + 1];
        size_t k = 0;
        char *save = NULL;
        for (char *c = strtok_r(line, "|", &save); c != NULL && k < sizeof cells / sizeof cells[0];
             c = strtok_r(NULL, "|", &save)) {
            char *t = trim(c);
            if (t[0] != '\0') {
                cells[k++] = t;
            }
        }
        if (k != 2 + COLS || *n >= cap) {
            snprintf(err, err_cap, "%s:%u: %s", POLICY_PATH, lineno,
                     *n >= cap ? "too many rows" : "a row is: method | path | one cell per role and anonymous");
            ok = false;
            continue;
        }
        struct policy_row *r = &rows[(*n)++];
        snprintf(r->method, sizeof r->method, "%s", cells[0]);
        snprintf(r->pattern, sizeof r->pattern, "%s", cells[1]);
        r->line = lineno;
        for (int c = 0; c < COLS && ok; c++) {
            if (!cell_parse(cells[2 + c], (enum col)c, &r->cells[c])) {
                snprintf(err, err_cap, "%s:%u: %s: '%s' is not yes, no%s", POLICY_PATH, lineno, col_names[c],
                         cells[2 + c],
                         c == C_INVESTOR       ? " or own"
                         : c == C_TRANSPARENCY ? " or public"
                                               : "");
                ok = false;
            }
        }
    }
    fclose(f);
    if (ok && !ended) {
        snprintf(err, err_cap, "%s: no policy table between '%s' and '%s'", POLICY_PATH, POLICY_BEGIN, POLICY_END);
        ok = false;
    }
    return ok;
}

static const struct policy_row *row_of(const struct policy_row *rows, size_t n, const struct http_route *rt)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(rows[i].method, rt->method) == 0 && strcmp(rows[i].pattern, rt->pattern) == 0) {
            return &rows[i];
        }
    }
    return NULL;
}

/* Whether policy_problems prints what it finds (off while the test shows that it can fail). */
static bool policy_quiet;

#define problem(...)                                                                                                   \
    do {                                                                                                               \
        if (!policy_quiet) {                                                                                           \
            print_message(__VA_ARGS__);                                                                                \
        }                                                                                                              \
        problems++;                                                                                                    \
    } while (0)

/* Compares the route table with the policy; prints each difference and returns their number. */
static unsigned policy_problems(const struct http_route *routes, unsigned n_routes, const struct policy_row *rows,
                                size_t n_rows)
{
    unsigned problems = 0;
    for (unsigned i = 0; i < n_routes; i++) {
        const struct http_route *rt = &routes[i];
        const struct policy_row *row = row_of(rows, n_rows, rt);
        if (row == NULL) {
            problem("policy: %s %s is in routes.c and has no row in %s\n", rt->method, rt->pattern, POLICY_PATH);
            continue;
        }
        unsigned declared = 0;
        for (int c = 0; c < C_ANONYMOUS; c++) {
            declared |= row->cells[c] != CELL_NO ? ROLE_BIT(col_roles[c]) : 0u;
        }
        bool open = row->cells[C_ANONYMOUS] != CELL_NO;
        if (open) {
            for (int c = 0; c < COLS; c++) {
                if (row->cells[c] != CELL_YES) {
                    problem("policy:%u: %s %s is open to anonymous, so every cell is yes (%s is not)\n", row->line,
                            rt->method, rt->pattern, col_names[c]);
                }
            }
        }
        if (open ? rt->roles != 0 : rt->roles != declared) {
            problem("policy:%u: %s %s: routes.c allows roles 0x%x, the policy 0x%x%s\n", row->line, rt->method,
                    rt->pattern, rt->roles, open ? 0u : declared, open ? " (public)" : "");
        }
    }
    for (size_t i = 0; i < n_rows; i++) {
        bool found = false;
        for (unsigned k = 0; k < n_routes && !found; k++) {
            found = strcmp(rows[i].method, routes[k].method) == 0 && strcmp(rows[i].pattern, routes[k].pattern) == 0;
        }
        if (!found) {
            problem("policy:%u: %s %s has no route in routes.c\n", rows[i].line, rows[i].method, rows[i].pattern);
        }
        for (size_t k = 0; k < i; k++) {
            if (strcmp(rows[i].method, rows[k].method) == 0 && strcmp(rows[i].pattern, rows[k].pattern) == 0) {
                problem("policy:%u: %s %s appears twice\n", rows[i].line, rows[i].method, rows[i].pattern);
            }
        }
    }
    return problems;
}

/* ---- setup ------------------------------------------------------------------------------ */

static int setup(void **state)
{
    (void)state;
    const char *level = getenv("FUNDLEDGER_LOG_LEVEL");
    log_set_level_name(level ? level : "warn");
    char err_text[256];
    if (!policy_read(policy, POLICY_ROWS_MAX, &policy_n, err_text, sizeof err_text)) {
        fprintf(stderr, "test_authz: %s\n", err_text);
        return -1;
    }
    conninfo = testdb_create("http_authz");
    json_t *doc;
    if (!demo_fixture_load(conninfo, "test_authz", "authz", &doc, NULL, 0)) {
        return -1;
    }
    json_t *toks = json_object_get(doc, "tokens");
    for (int c = 0; c < C_ANONYMOUS; c++) {
        const char *t = jstr(toks, col_users[c]);
        if (t == NULL || strlen(t) >= TOKEN_BYTES) {
            fprintf(stderr, "test_authz: no demo token for %s\n", col_users[c]);
            json_decref(doc);
            return -1;
        }
        snprintf(tokens[c], TOKEN_BYTES, "%s", t);
    }
    json_decref(doc);

    demo_fixture_config(&cfg);
    const char *shared = getenv("FUNDLEDGER_SHARED_DIR");
    snprintf(cfg.iati_schema_dir, sizeof cfg.iati_schema_dir, "%s/iati/schemas", shared ? shared : "../shared");
    snprintf(cfg.iati_codelist_dir, sizeof cfg.iati_codelist_dir, "%s/iati/codelists", shared ? shared : "../shared");
    if (!demo_fixture_serve(&cfg, conninfo, "test_authz", &server, base_url, sizeof base_url)) {
        return -1;
    }

    /* Real objects for every path parameter: the investor column is undp; "other" is impact's. */
    set_fixture("fund_id", "SELECT id FROM fund WHERE code = 'HSP-ELCHARCO'", NULL);
    /* The demo records no human-security measure: one, pending approval. */
    char path[PATH_BYTES];
    struct httpc_resp r;
    snprintf(path, sizeof path, "/v1/funds/%s/hs-measures", own("fund_id"));
    httpc_request(base_url, "POST", path, tokens[C_MANAGER], "authz-measure-1", NULL,
                  "{\"municipality_code\":\"52250\",\"round\":0,\"dimension\":\"food\",\"indicator\":\"Three meals "
                  "a day (%)\",\"raw_value\":\"61.5\",\"score\":\"61.5\",\"measured_on\":\"2025-06-30\"}",
                  &r);
    if (r.status != 201) {
        fprintf(stderr, "test_authz: recording a measure: %ld %s\n", r.status, or_null(r.body));
        httpc_resp_free(&r);
        return -1;
    }
    httpc_resp_free(&r);
    set_fixture("account_id", "SELECT min(id) FROM account", NULL);
    set_fixture("entry_id", "SELECT min(id) FROM journal_entry", NULL);
    set_fixture("proposal_id", "SELECT min(id) FROM proposal", NULL);
    set_fixture("user_id", "SELECT id FROM app_user WHERE name = 'approver'", NULL);
    set_fixture("token_id", "SELECT min(id) FROM api_token", NULL);
    set_fixture("loan_id", "SELECT min(id) FROM loan", NULL);
    set_fixture("entrepreneur_id", "SELECT min(id) FROM entrepreneur", NULL);
    set_fixture("measure_id", "SELECT min(id) FROM hs_measure", NULL);
    set_fixture("run_id", "SELECT min(id) FROM waterfall_run", NULL);
    set_fixture("tranche_id",
                "SELECT min(t.id) FROM tranche t JOIN app_user u ON u.organisation_id = t.investor_id "
                "WHERE u.name = 'undp'",
                "SELECT min(t.id) FROM tranche t JOIN app_user u ON u.organisation_id = t.investor_id "
                "WHERE u.name = 'impact'");
    set_fixture("investor_id", "SELECT organisation_id FROM app_user WHERE name = 'undp'",
                "SELECT organisation_id FROM app_user WHERE name = 'impact'");
    snprintf(fixture_named("currency", 8)->own, VALUE_BYTES, "COP");
    snprintf(fixture_named("version", 7)->own, VALUE_BYTES, "1");

    /* One loss-allowance run, so the fund's provisions can be read. */
    snprintf(path, sizeof path, "/v1/funds/%s/provisions", own("fund_id"));
    httpc_request(base_url, "POST", path, tokens[C_MANAGER], "authz-provision-1", NULL, "{\"date\":\"2026-11-30\"}",
                  &r);
    if (r.status != 201) {
        fprintf(stderr, "test_authz: provisions of the demo fund: %ld %s\n", r.status, or_null(r.body));
        httpc_resp_free(&r);
        return -1;
    }
    httpc_resp_free(&r);
    /* One publication, so the published files exist (version 1). */
    snprintf(path, sizeof path, "/v1/funds/%s/publications", own("fund_id"));
    httpc_request(base_url, "POST", path, tokens[C_TRANSPARENCY], "authz-publish-1", NULL, NULL, &r);
    bool published = r.status == 201;
    if (!published) {
        fprintf(stderr, "test_authz: publishing the demo fund: %ld %s\n", r.status, or_null(r.body));
    }
    httpc_resp_free(&r);
    return published ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    http_server_stop(server);
    server = NULL;
    return 0;
}

/* ---- the policy against the route table ------------------------------------------------- */

static void test_policy_matches_routes(void **state)
{
    (void)state;
    unsigned n = 0;
    const struct http_route *routes = http_routes(&n);
    assert_true(n > 0);
    assert_int_equal(policy_n, n);
    assert_int_equal(policy_problems(routes, n, policy, policy_n), 0);
}

/* The comparison fails when it should: a route without a row, a row without a route, a role
 * added or removed on either side, a duplicate row, a public row with a no. */
static void test_policy_check_can_fail(void **state)
{
    (void)state;
    unsigned n = 0;
    const struct http_route *routes = http_routes(&n);
    static struct policy_row copy[POLICY_ROWS_MAX];
    assert_true(policy_n >= 2 && policy_n < POLICY_ROWS_MAX);
    policy_quiet = true;

    /* A route with no row (the last row dropped). */
    memcpy(copy, policy, sizeof policy);
    assert_int_equal(policy_problems(routes, n, copy, policy_n - 1), 1);
    /* A row with no route. */
    memcpy(copy, policy, sizeof policy);
    copy[policy_n] = copy[0];
    snprintf(copy[policy_n].pattern, PATTERN_BYTES, "/v1/not-a-route");
    assert_int_equal(policy_problems(routes, n, copy, policy_n + 1), 1);
    /* A duplicate row. */
    memcpy(copy, policy, sizeof policy);
    copy[policy_n] = copy[3];
    assert_int_equal(policy_problems(routes, n, copy, policy_n + 1), 1);
    /* Each role cell of each non-public row flipped: one difference each. */
    unsigned flips = 0;
    for (size_t i = 0; i < policy_n; i++) {
        if (policy[i].cells[C_ANONYMOUS] != CELL_NO) {
            continue;
        }
        for (int c = 0; c < C_ANONYMOUS; c++) {
            memcpy(copy, policy, sizeof policy);
            copy[i].cells[c] = copy[i].cells[c] == CELL_NO ? CELL_YES : CELL_NO;
            assert_int_equal(policy_problems(routes, n, copy, policy_n), 1);
            flips++;
        }
    }
    assert_true(flips >= 6u * 50u);
    /* A public row with one role refused: the row is inconsistent and routes.c differs. */
    memcpy(copy, policy, sizeof policy);
    size_t pub = 0;
    while (pub < policy_n && copy[pub].cells[C_ANONYMOUS] == CELL_NO) {
        pub++;
    }
    assert_true(pub < policy_n);
    copy[pub].cells[C_AUDITOR] = CELL_NO;
    assert_true(policy_problems(routes, n, copy, policy_n) >= 1);
    policy_quiet = false;
}

/* ---- the matrix ------------------------------------------------------------------------- */

/* The tranche list as the investor (own) must hold only its own tranches, its own among them;
 * the other investor's tranche is never in it. */
static bool check_own_tranche_list(const struct httpc_resp *r)
{
    const json_t *ts = json_object_get(r->json, "tranches");
    bool own_seen = false, ok = r->status == 200 && json_array_size(ts) > 0;
    size_t i;
    const json_t *t;
    json_array_foreach(ts, i, t)
    {
        json_int_t inv = json_integer_value(json_object_get(json_object_get(t, "investor"), "id"));
        json_int_t id = json_integer_value(json_object_get(t, "id"));
        ok = ok && inv == strtoll(own("investor_id"), NULL, 10) && id != strtoll(other("tranche_id"), NULL, 10);
        own_seen = own_seen || id == strtoll(own("tranche_id"), NULL, 10);
    }
    return ok && own_seen;
}

/* The NAV allocation runs as the investor (own): every run's tranche rows are its own tranches',
 * its own among them; the other investor's tranche is never in them. */
static bool check_own_allocation_list(const struct httpc_resp *r)
{
    const json_t *runs = json_object_get(r->json, "allocations");
    bool own_seen = false, ok = r->status == 200 && json_array_size(runs) > 0;
    size_t i, k;
    const json_t *run, *t;
    json_array_foreach(runs, i, run)
    {
        json_array_foreach(json_object_get(run, "tranches"), k, t)
        {
            json_int_t id = json_integer_value(json_object_get(t, "tranche_id"));
            ok = ok && id != strtoll(other("tranche_id"), NULL, 10);
            own_seen = own_seen || id == strtoll(own("tranche_id"), NULL, 10);
        }
    }
    if (!ok || !own_seen) {
        print_message("investor's allocation runs: %ld %s\n", r->status, or_null(r->body));
    }
    return ok && own_seen;
}

/* The transparency officer's tranche list: exactly the published members, figures equal to the
 * full view's (read as the auditor). */
static bool check_public_tranches(const struct httpc_resp *r, const char *path)
{
    static const char *const members[] = {"id",       "fund_id",     "investor", "provider_activity_id",
                                          "currency", "signed_date", "as_of",    "figures"};
    const json_t *ts = json_object_get(r->json, "tranches");
    if (r->status != 200 || json_array_size(ts) != 3) {
        print_message("public tranches: %ld %s\n", r->status, or_null(r->body));
        return false;
    }
    struct httpc_resp full;
    httpc_request(base_url, "GET", path, tokens[C_AUDITOR], NULL, NULL, NULL, &full);
    const json_t *fts = json_object_get(full.json, "tranches");
    bool ok = full.status == 200 && json_array_size(fts) == json_array_size(ts);
    size_t i;
    const json_t *t;
    json_array_foreach(ts, i, t)
    {
        ok = ok && json_object_size(t) == sizeof members / sizeof members[0];
        for (size_t k = 0; k < sizeof members / sizeof members[0]; k++) {
            ok = ok && json_object_get(t, members[k]) != NULL;
        }
        const json_t *inv = json_object_get(t, "investor"), *fig = json_object_get(t, "figures");
        ok = ok && json_object_size(inv) == 2 && json_object_size(fig) == 2;
        const json_t *ft = json_array_get(fts, i), *ffig = json_object_get(ft, "figures");
        ok = ok && json_equal(json_object_get(t, "id"), json_object_get(ft, "id")) &&
             json_equal(json_object_get(fig, "commitment"), json_object_get(ffig, "commitment")) &&
             json_equal(json_object_get(fig, "paid_in"), json_object_get(ffig, "paid_in")) &&
             json_equal(inv, json_object_get(ft, "investor"));
        /* Real figures, not zeros: the demo's tranches are committed and paid in. */
        ok = ok && strcmp(or_null(jstr(fig, "commitment")), "0.00") != 0 &&
             strcmp(or_null(jstr(fig, "paid_in")), "0.00") != 0;
    }
    if (!ok) {
        print_message("public tranches differ from the published set:\n  %s\n  full: %s\n", or_null(r->body),
                      or_null(full.body));
    }
    httpc_resp_free(&full);
    return ok;
}

/* An investor's "other" probe of a route marked own: 403 naming the parameter, or (the list) the
 * other investor's tranche absent, checked with the own probe. */
static bool check_other(const struct http_route *rt)
{
    static const struct {
        const char *pattern, *field;
    } others[] = {
        {"/v1/tranches/{tranche_id}", "tranche_id"},
        {"/v1/tranches/{tranche_id}/capital-calls", "tranche_id"},
        {"/v1/funds/{fund_id}/statements", "investor_id"},
        {"/v1/funds/{fund_id}/tranches", NULL},
        {"/v1/funds/{fund_id}/nav-allocations", NULL},
    };
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        if (strcmp(others[i].pattern, rt->pattern) != 0 || strcmp(rt->method, "GET") != 0) {
            continue;
        }
        if (others[i].field == NULL) {
            return true; /* a list: check_own_tranche_list (or _allocation_list) looked for the other's */
        }
        char path[PATH_BYTES];
        assert_true(probe_path(rt, true, path, sizeof path));
        struct httpc_resp r;
        httpc_request(base_url, "GET", path, tokens[C_INVESTOR], NULL, NULL, NULL, &r);
        bool ok = is_error(&r, 403, "forbidden", others[i].field);
        if (!ok) {
            print_message("investor reading another's: GET %s: %ld %s (want 403 naming %s)\n", path, r.status,
                          or_null(r.body), others[i].field);
        }
        httpc_resp_free(&r);
        return ok;
    }
    print_message("%s %s: an own cell with no probe for another investor's object: write one in %s\n", rt->method,
                  rt->pattern, __FILE__);
    return false;
}

/* Routes that take a body without an Idempotency-Key (the browser session's sign-in and
 * sign-out, docs/console.md; the loan form's schedule preview, which writes nothing): what an
 * allowed caller gets when probed with no body and a bearer token, an error that only comes after
 * authorization. */
static const struct {
    const char *method, *pattern;
    long status;
    const char *code, *field;
} past_auth[] = {
    {"POST", "/v1/session", 400, "missing_field", "name"},
    {"DELETE", "/v1/session", 400, "invalid_parameter", "Authorization"},
    {"POST", "/v1/funds/{fund_id}/loans/schedule-preview", 400, "missing_field", "principal"},
};

static int past_auth_of(const struct http_route *rt)
{
    for (size_t i = 0; i < sizeof past_auth / sizeof past_auth[0]; i++) {
        if (strcmp(rt->method, past_auth[i].method) == 0 && strcmp(rt->pattern, past_auth[i].pattern) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* One cell: route rt as column c. Returns true when the reply is what the policy says. */
static bool check_cell(const struct http_route *rt, enum col c, enum cell cell)
{
    char path[PATH_BYTES];
    if (!probe_path(rt, false, path, sizeof path)) {
        return false;
    }
    const char *token = c == C_ANONYMOUS ? NULL : tokens[c];
    struct httpc_resp r;
    /* Writes go without an Idempotency-Key: the first check after authorization refuses them. */
    if (!httpc_request(base_url, rt->method, path, token, NULL, NULL, NULL, &r)) {
        print_message("%s %s as %s: no HTTP answer\n", rt->method, path, col_names[c]);
        httpc_resp_free(&r);
        return false;
    }
    bool ok;
    const char *want;
    if (cell == CELL_NO) {
        ok = c == C_ANONYMOUS ? is_error(&r, 401, "unauthenticated", "Authorization")
                              : is_error(&r, 403, "forbidden", "");
        want = c == C_ANONYMOUS ? "401 unauthenticated" : "403 forbidden";
    } else if (past_auth_of(rt) >= 0) {
        int k = past_auth_of(rt);
        ok = is_error(&r, past_auth[k].status, past_auth[k].code, past_auth[k].field);
        want = "its error past authorization (past_auth)";
    } else if (rt->write) {
        ok = cell == CELL_YES && is_error(&r, 400, "idempotency_key_required", "Idempotency-Key");
        want = cell == CELL_YES ? "400 idempotency_key_required (past authorization)"
                                : "a probe for an own/public write (none written yet)";
    } else if (cell == CELL_OWN) {
        bool list = strcmp(rt->pattern, "/v1/funds/{fund_id}/tranches") == 0;
        bool runs = strcmp(rt->pattern, "/v1/funds/{fund_id}/nav-allocations") == 0;
        ok = list ? check_own_tranche_list(&r) : runs ? check_own_allocation_list(&r) : r.status == 200;
        ok = ok && check_other(rt);
        want = "200 on its own, 403 on another investor's";
    } else if (cell == CELL_PUBLIC) {
        ok = strcmp(rt->pattern, "/v1/funds/{fund_id}/tranches") == 0 && check_public_tranches(&r, path);
        want = "200 with only what IATI publishes";
    } else {
        ok = r.status == 200;
        want = "200";
    }
    if (!ok) {
        print_message("%s %s as %s: got %ld, want %s: %.300s\n", rt->method, path, col_names[c], r.status, want,
                      or_null(r.body));
    }
    httpc_resp_free(&r);
    return ok;
}

static void test_matrix(void **state)
{
    (void)state;
    long long proposals = count_of("proposal"), audit = count_of("audit_log"), keys = count_of("idempotency_key"),
              entries = count_of("journal_entry"), tokens_n = count_of("api_token");
    unsigned n = 0, cells = 0, bad = 0, refused = 0;
    const struct http_route *routes = http_routes(&n);
    for (unsigned i = 0; i < n; i++) {
        const struct policy_row *row = row_of(policy, policy_n, &routes[i]);
        assert_non_null(row); /* test_policy_matches_routes says which */
        for (int c = 0; c < COLS; c++) {
            cells++;
            refused += row->cells[c] == CELL_NO;
            bad += !check_cell(&routes[i], (enum col)c, row->cells[c]);
        }
    }
    print_message("authorization matrix: %u routes x %d columns = %u cells (%u refused), %u wrong\n", n, COLS, cells,
                  refused, bad);
    assert_int_equal(bad, 0);
    assert_int_equal(cells, n * COLS);
    /* The probes wrote nothing, but for the audit row of the one call that needs no
     * Idempotency-Key and acts: the admin ending a user's browser sessions (none were open). */
    assert_int_equal(count_of("proposal"), proposals);
    assert_int_equal(count_of("audit_log"), audit + 1);
    assert_int_equal(testdb_int(conninfo, "SELECT count(*) FROM audit_log WHERE action = 'session.revoke'"), 1);
    assert_int_equal(count_of("idempotency_key"), keys);
    assert_int_equal(count_of("journal_entry"), entries);
    assert_int_equal(count_of("api_token"), tokens_n);
}

/* The other forms of "another investor's": a statement of the investor's own organisation for a
 * tranche of another investor; and without investor_id, the investor's own statement. */
static void test_investor_statement_scopes(void **state)
{
    (void)state;
    char path[PATH_BYTES];
    struct httpc_resp r;
    snprintf(path, sizeof path, "/v1/funds/%s/statements?investor_id=%s&tranche_id=%s&period_end=2026-09-30",
             own("fund_id"), own("investor_id"), other("tranche_id"));
    httpc_request(base_url, "GET", path, tokens[C_INVESTOR], NULL, NULL, NULL, &r);
    assert_true(is_error(&r, 403, "forbidden", "tranche_id"));
    httpc_resp_free(&r);
    snprintf(path, sizeof path, "/v1/funds/%s/statements?period_end=2026-09-30", own("fund_id"));
    httpc_request(base_url, "GET", path, tokens[C_INVESTOR], NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r.json, "investor"), "id")),
                     strtoll(own("investor_id"), NULL, 10));
    httpc_resp_free(&r);
    /* A tranche id that does not exist is 404 for everyone (documented: ids are not secret). */
    httpc_request(base_url, "GET", "/v1/tranches/999999", tokens[C_INVESTOR], NULL, NULL, NULL, &r);
    assert_true(is_error(&r, 404, "not_found", "tranche_id"));
    httpc_resp_free(&r);
}

/* ---- tokens over the API: a default lifetime, renewal ----------------------------------- */

/* Seconds from now to the token's expiry, as the database sees it. */
static long long expires_in_s(long long token_id)
{
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT extract(epoch FROM expires_at - now())::bigint FROM api_token WHERE id = %lld",
             token_id);
    return testdb_int(conninfo, sql);
}

static void test_token_lifetime(void **state)
{
    (void)state;
    char path[PATH_BYTES], key[64];
    struct httpc_resp r;
    const char *admin = tokens[C_ADMIN];
    snprintf(path, sizeof path, "/v1/users/%s/tokens", own("user_id"));
    static const char *const bad[] = {"{\"expires_days\":0}", "{\"expires_days\":3651}", "{\"expires_days\":\"5\"}",
                                      "{\"expires_days\":-1}", "{\"expires_days\":1.5}"};
    long long before = count_of("api_token");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(key, sizeof key, "authz-bad-days-%zu", i);
        httpc_request(base_url, "POST", path, admin, key, NULL, bad[i], &r);
        if (!is_error(&r, 400, "invalid_field", "expires_days")) {
            fail_msg("%s: %ld %s", bad[i], r.status, or_null(r.body));
        }
        httpc_resp_free(&r);
    }
    assert_int_equal(count_of("api_token"), before);

    /* No lifetime given: the configured default, 90 days. */
    httpc_request(base_url, "POST", path, admin, "authz-default-days", NULL, "{\"label\":\"default\"}", &r);
    assert_int_equal(r.status, 201);
    assert_int_equal(json_integer_value(json_object_get(r.json, "expires_days")), 90);
    long long id = json_integer_value(json_object_get(r.json, "id"));
    char tok[TOKEN_BYTES];
    snprintf(tok, sizeof tok, "%s", or_null(jstr(r.json, "token")));
    httpc_resp_free(&r);
    long long s = expires_in_s(id);
    assert_true(s > 90LL * 86400 - 120 && s <= 90LL * 86400);
    httpc_request(base_url, "GET", "/v1/me", tok, NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    httpc_resp_free(&r);

    /* Given: 7 days. */
    httpc_request(base_url, "POST", path, admin, "authz-seven-days", NULL, "{\"expires_days\":7}", &r);
    assert_int_equal(r.status, 201);
    long long id7 = json_integer_value(json_object_get(r.json, "id"));
    httpc_resp_free(&r);
    s = expires_in_s(id7);
    assert_true(s > 7LL * 86400 - 120 && s <= 7LL * 86400);

    /* Renewal: 30 days from now; then the default. */
    char rpath[PATH_BYTES];
    snprintf(rpath, sizeof rpath, "/v1/tokens/%lld/renewal", id7);
    httpc_request(base_url, "POST", rpath, admin, "authz-renew-30", NULL, "{\"expires_days\":30}", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "expires_days")), 30);
    assert_non_null(jstr(r.json, "expires_at"));
    httpc_resp_free(&r);
    s = expires_in_s(id7);
    assert_true(s > 30LL * 86400 - 120 && s <= 30LL * 86400);
    httpc_request(base_url, "POST", rpath, admin, "authz-renew-default", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    httpc_resp_free(&r);
    s = expires_in_s(id7);
    assert_true(s > 90LL * 86400 - 120 && s <= 90LL * 86400);
    httpc_request(base_url, "POST", rpath, admin, "authz-renew-0", NULL, "{\"expires_days\":0}", &r);
    assert_true(is_error(&r, 400, "invalid_field", "expires_days"));
    httpc_resp_free(&r);
    /* Only the admin renews. */
    httpc_request(base_url, "POST", rpath, tokens[C_MANAGER], "authz-renew-manager", NULL, NULL, &r);
    assert_true(is_error(&r, 403, "forbidden", ""));
    httpc_resp_free(&r);

    /* An expired token answers 401 and cannot be renewed; a revoked one neither. */
    char sql[128];
    snprintf(sql, sizeof sql, "UPDATE api_token SET expires_at = now() - interval '1 second' WHERE id = %lld", id);
    assert_true(testdb_exec(conninfo, sql));
    httpc_request(base_url, "GET", "/v1/me", tok, NULL, NULL, NULL, &r);
    assert_true(is_error(&r, 401, "unauthenticated", "Authorization"));
    httpc_resp_free(&r);
    snprintf(rpath, sizeof rpath, "/v1/tokens/%lld/renewal", id);
    httpc_request(base_url, "POST", rpath, admin, "authz-renew-expired", NULL, NULL, &r);
    assert_true(is_error(&r, 404, "not_found", "token_id"));
    httpc_resp_free(&r);
    snprintf(rpath, sizeof rpath, "/v1/tokens/%lld", id7);
    httpc_request(base_url, "DELETE", rpath, admin, "authz-revoke-7", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    httpc_resp_free(&r);
    snprintf(rpath, sizeof rpath, "/v1/tokens/%lld/renewal", id7);
    httpc_request(base_url, "POST", rpath, admin, "authz-renew-revoked", NULL, NULL, &r);
    assert_true(is_error(&r, 404, "not_found", "token_id"));
    httpc_resp_free(&r);
    /* Every renewal is in the audit log. */
    assert_int_equal(testdb_int(conninfo, "SELECT count(*) FROM audit_log WHERE action = 'token.renew'"), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy_matches_routes),
        cmocka_unit_test(test_policy_check_can_fail),
        cmocka_unit_test(test_matrix),
        cmocka_unit_test(test_investor_statement_scopes),
        cmocka_unit_test(test_token_lifetime),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
