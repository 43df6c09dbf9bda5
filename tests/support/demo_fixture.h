/* demo_fixture: the demo fund loaded into a test database, with the credentials file it writes
 * (the people's bearer tokens) read back, for the HTTP tests' setup. */
#ifndef FUNDLEDGER_DEMO_FIXTURE_H
#define FUNDLEDGER_DEMO_FIXTURE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Loads the demo into the database of conninfo, its credentials written to a private temporary
 * file "$TMPDIR/fundledger-test-<tag>-XXXXXX" (/tmp without TMPDIR) that is removed again.
 * Returns false when the file cannot be made or demo_load fails (printed as "<prog>: demo_load:
 * <message>"); otherwise true with *doc the credentials JSON (NULL when it could not be read;
 * the caller frees it). When cred_path is non-NULL the file's name is copied there (cred_n
 * bytes), e.g. for a sibling log file. */
bool demo_fixture_load(const char *conninfo, const char *prog, const char *tag, json_t **doc, char *cred_path,
                       size_t cred_n);

struct config;
struct http_server;

/* The configuration the HTTP tests serve with: config_defaults, listening on 127.0.0.1 on a port
 * the system picks, migrations from ./migrations. The test may change more before serving. */
void demo_fixture_config(struct config *cfg);

/* Starts the server on cfg (which must outlive it) and conninfo; writes its
 * "http://127.0.0.1:PORT" to base_url (base_n bytes). Returns false when it does not start
 * (printed as "<prog>: http_server_start: <message>"). */
bool demo_fixture_serve(const struct config *cfg, const char *conninfo, const char *prog, struct http_server **server,
                        char *base_url, size_t base_n);

#endif
