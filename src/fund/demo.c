/* demo: the demo fund, its people and a little history, made through the domain functions. */
#include "fundledger/demo.h"

#include <assert.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fundledger/approval.h"
#include "fundledger/auth.h"
#include "fundledger/fund.h"
#include "fundledger/money.h"
#include "fundledger/org.h"

bool demo_database_empty(struct db *db, struct fl_error *err)
{
    json_t *funds = fund_list(db, err);
    bool empty = funds != NULL && json_array_size(json_object_get(funds, "funds")) == 0;
    json_decref(funds);
    return empty;
}

static const struct {
    const char *name;
    enum role role;
    const char *limit; /* COP approval limit, approvers only */
} people[] = {
    {"admin", ROLE_ADMIN, NULL},
    {"manager", ROLE_FUND_MANAGER, NULL},
    {"approver", ROLE_APPROVER, "500000000.00"},
    {"committee", ROLE_APPROVER, "2000000000.00"},
    {"undp", ROLE_INVESTOR, NULL},
    {"transparency", ROLE_TRANSPARENCY_OFFICER, NULL},
    {"auditor", ROLE_AUDITOR, NULL},
};
#define PEOPLE (sizeof people / sizeof people[0])

struct load {
    const char *path;
    char tokens[PEOPLE][TOKEN_TEXT_BYTES];
};

/* Date n days before today (UTC), as YYYY-MM-DD. */
static void days_ago(int n, char out[DATE_TEXT_BYTES])
{
    time_t t = time(NULL) - (time_t)n * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, DATE_TEXT_BYTES, "%Y-%m-%d", &tm);
}

/* A fund manager proposes a two-line entry; an approver approves it: the four-eyes path. */
static enum fl_err post_pair(struct db *db, const struct principal *maker, const struct principal *checker,
                             int64_t fund_id, const char *date, const char *memo, const char *debit_code,
                             const char *credit_code, const char *amount, struct fl_error *err)
{
    int64_t d, c;
    if (fund_account_by_code(db, fund_id, debit_code, &d, err) != FLE_OK ||
        fund_account_by_code(db, fund_id, credit_code, &c, err) != FLE_OK) {
        return err->code;
    }
    struct journal_line_input lines[2] = {{d, amount, NULL}, {c, NULL, amount}};
    json_t *p = journal_propose(db, maker, fund_id, date, memo, lines, 2, err);
    if (p == NULL) {
        return err->code;
    }
    int64_t pid = json_integer_value(json_object_get(p, "id"));
    json_decref(p);
    json_t *done = approval_decide(db, checker, pid, true, "demo", err);
    if (done == NULL) {
        return err->code;
    }
    json_decref(done);
    return FLE_OK;
}

static enum fl_err load_tx(struct db *db, void *arg, struct fl_error *err)
{
    struct load *l = arg;
    struct principal system = {.user_id = 0, .role = ROLE_SYSTEM};
    snprintf(system.name, sizeof system.name, "demo");
    /* Organisations (IATI identifiers of the fund manager and partner are placeholders). */
    json_t *undp = org_create(db, NULL, "United Nations Development Programme", "investor", "XM-DAC-41114", "40",
                              err);
    json_t *partner = undp ? org_create(db, NULL, "Corporate partner (energy sector subsidiary)", "investor",
                                        "CO-RUE-900000001", "70", err)
                           : NULL;
    json_t *impact = partner ? org_create(db, NULL, "Impact investor", "investor", "CO-RUE-900000002", "70", err)
                             : NULL;
    json_t *manager_org = impact ? org_create(db, NULL, "Human Security Partnership fund manager", "fund_manager",
                                              "CO-RUE-9001234567", "22", err)
                                 : NULL;
    enum fl_err e = manager_org ? FLE_OK : err->code;
    int64_t undp_id = undp ? json_integer_value(json_object_get(undp, "id")) : 0;
    json_decref(undp);
    json_decref(partner);
    json_decref(impact);
    json_decref(manager_org);
    struct principal who[PEOPLE];
    memset(who, 0, sizeof who);
    for (size_t i = 0; i < PEOPLE && e == FLE_OK; i++) {
        int64_t uid = 0;
        e = auth_user_add(db, people[i].name, people[i].role, people[i].role == ROLE_INVESTOR ? undp_id : 0, &uid, err);
        if (e == FLE_OK) {
            e = auth_token_create(db, uid, "demo", 0, l->tokens[i], NULL, err);
        }
        if (e == FLE_OK && people[i].limit) {
            int64_t limit = 0;
            money_status st = money_parse(people[i].limit, 2, false, &limit);
            assert(st == MONEY_OK);
            (void)st;
            e = auth_limit_set(db, uid, "COP", limit, err);
        }
        who[i] = (struct principal){.user_id = uid, .role = people[i].role};
        snprintf(who[i].name, sizeof who[i].name, "%s", people[i].name);
    }
    if (e != FLE_OK) {
        return e;
    }
    const struct principal *manager = &who[1], *approver = &who[2];
    json_t *fund = fund_create(db, manager, "HSP-ELCHARCO", "Human Security Partnership — El Charco", "COP", err);
    if (fund == NULL) {
        return err->code;
    }
    int64_t fund_id = json_integer_value(json_object_get(fund, "id"));
    json_decref(fund);
    char d1[DATE_TEXT_BYTES], d2[DATE_TEXT_BYTES], d3[DATE_TEXT_BYTES];
    days_ago(365, d1);
    days_ago(300, d2);
    days_ago(200, d3);
    e = post_pair(db, manager, approver, fund_id, d1, "UNDP first-loss contribution", "1000", "3000",
                  "300000000.00", err);
    if (e == FLE_OK) {
        e = post_pair(db, manager, approver, fund_id, d2, "Corporate partner concessional contribution", "1000",
                      "3000", "450000000.00", err);
    }
    if (e == FLE_OK) {
        e = post_pair(db, manager, approver, fund_id, d3, "Bank charges", "5000", "1000", "125000.50", err);
    }
    return e;
}

/* {"tokens": {user: token}, "roles": {user: role}}: one token per role (two approvers, so that
 * four eyes can be tried with the demo alone). */
static bool write_credentials(const struct load *l)
{
    json_t *tokens = json_object(), *roles = json_object();
    for (size_t i = 0; i < PEOPLE; i++) {
        json_object_set_new(tokens, people[i].name, json_string(l->tokens[i]));
        json_object_set_new(roles, people[i].name, json_string(auth_role_name(people[i].role)));
    }
    json_t *doc = json_pack("{s:s, s:o, s:o}", "note", "demo tokens; keep this file private", "tokens", tokens,
                            "roles", roles);
    int fd = open(l->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    bool ok = f != NULL && json_dumpf(doc, f, JSON_INDENT(2)) == 0;
    json_decref(doc);
    if (f != NULL) {
        ok = fclose(f) == 0 && ok;
    } else if (fd >= 0) {
        close(fd);
    }
    return ok;
}

enum fl_err demo_load(struct db *db, const char *credentials_path, struct fl_error *err)
{
    static struct load l;
    memset(&l, 0, sizeof l);
    l.path = credentials_path;
    enum fl_err e = db_tx(db, load_tx, &l, err);
    if (e != FLE_OK) {
        return e;
    }
    if (!write_credentials(&l)) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "cannot write %s", credentials_path);
    }
    return FLE_OK;
}
