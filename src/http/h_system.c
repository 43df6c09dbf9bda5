/* h_system: liveness, readiness and the caller's identity. */
#include <stdio.h>
#include <string.h>

#include "fundledger/http.h"
#include "fundledger/migrate.h"

void h_healthz(struct http_req *r, struct http_reply *out)
{
    (void)r;
    http_reply_json(out, 200, json_pack("{s:s}", "status", "ok"));
}

void h_readyz(struct http_req *r, struct http_reply *out)
{
    struct fl_error err;
    fl_error_clear(&err);
    int v = migrate_current(r->db, &err);
    if (v < 0) {
        http_reply_fail(out, FLE_DB_UNAVAILABLE, "", "the database does not answer");
        return;
    }
    if (v != http_expected_migration) {
        char msg[128];
        snprintf(msg, sizeof msg, "the database is at migration %d, the code expects %d; run migrate", v,
                 http_expected_migration);
        http_reply_fail(out, FLE_DB_UNAVAILABLE, "", msg);
        return;
    }
    http_reply_json(out, 200, json_pack("{s:s, s:i}", "status", "ready", "migration", v));
}

void h_me(struct http_req *r, struct http_reply *out)
{
    struct fl_error err;
    fl_error_clear(&err);
    http_reply_result(out, 200, auth_principal_json(r->db, &r->who, &err), &err);
}
