/* demo_fixture: see demo_fixture.h. */
#include "demo_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fundledger/config.h"
#include "fundledger/db.h"
#include "fundledger/demo.h"
#include "fundledger/error.h"
#include "fundledger/http.h"
#include "testdb.h"

bool demo_fixture_load(const char *conninfo, const char *prog, const char *tag, json_t **doc, char *cred_path,
                       size_t cred_n)
{
    *doc = NULL;
    const char *tmp = getenv("TMPDIR");
    char cred[512];
    snprintf(cred, sizeof cred, "%s/fundledger-test-%s-XXXXXX", tmp && tmp[0] ? tmp : "/tmp", tag);
    int fd = mkstemp(cred);
    if (fd < 0) {
        return false;
    }
    close(fd);
    if (cred_path != NULL) {
        snprintf(cred_path, cred_n, "%s", cred);
    }
    struct db *db = testdb_open(conninfo);
    struct fl_error err;
    fl_error_clear(&err);
    enum fl_err e = demo_load(db, cred, &err);
    db_close(db);
    if (e != FLE_OK) {
        fprintf(stderr, "%s: demo_load: %s\n", prog, err.message);
        remove(cred);
        return false;
    }
    json_error_t je;
    *doc = json_load_file(cred, 0, &je);
    remove(cred);
    return true;
}

void demo_fixture_config(struct config *cfg)
{
    config_defaults(cfg);
    snprintf(cfg->listen, sizeof cfg->listen, "127.0.0.1:0");
    snprintf(cfg->migrations_dir, sizeof cfg->migrations_dir, "migrations");
}

bool demo_fixture_serve(const struct config *cfg, const char *conninfo, const char *prog, struct http_server **server,
                        char *base_url, size_t base_n)
{
    struct fl_error err;
    fl_error_clear(&err);
    if (http_server_start(cfg, conninfo, server, &err) != FLE_OK) {
        fprintf(stderr, "%s: http_server_start: %s\n", prog, err.message);
        return false;
    }
    snprintf(base_url, base_n, "http://127.0.0.1:%u", (unsigned)http_server_port(*server));
    return true;
}
