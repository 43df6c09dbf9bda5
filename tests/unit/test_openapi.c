/* Unit tests for docs/openapi.yaml: the document describes exactly the routes of http_routes(). */
/* cmocka.h needs these before it, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "fundledger/http.h"

/* Tests run from the project root (tests/run.sh cds there). */
#define OPENAPI_PATH "docs/openapi.yaml"
/* Bounds of the reader: the document is hand-written and small. */
#define OPS_MAX 256
#define LINE_BYTES_MAX 1024
#define LINES_MAX 100000
#define PATH_BYTES_MAX 256
#define METHOD_BYTES_MAX 8

/* One operation of the document: a method under a path, and what its block says. */
struct op {
    char method[METHOD_BYTES_MAX]; /* upper case: GET, POST, PUT, DELETE, PATCH */
    char path[PATH_BYTES_MAX];
    bool idempotency_key; /* the block references the Idempotency-Key parameter */
    bool public;          /* the block says `security: []` */
    unsigned line;        /* where the method is, for messages */
};

static const char *const methods[] = {"get", "post", "put", "delete", "patch"};

/* Counts the leading spaces of s. */
static size_t indent_of(const char *s)
{
    size_t n = 0;
    while (s[n] == ' ') {
        n++;
    }
    return n;
}

/* Cuts trailing blanks and the newline in place. */
static void rtrim(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t')) {
        s[--n] = '\0';
    }
}

/* Reads the paths: block of an OpenAPI document in its regular shape (see the header of
 * docs/openapi.yaml). Fills ops[0..*n). Returns false with a message in err on a shape it cannot
 * read: a method before any path, a duplicate operation, a line too long, too many operations. */
static bool read_ops(FILE *f, struct op *ops, size_t cap, size_t *n, char *err, size_t err_cap)
{
    char line[LINE_BYTES_MAX];
    char path[PATH_BYTES_MAX] = "";
    bool in_paths = false;
    struct op *cur = NULL;
    *n = 0;
    err[0] = '\0';
    for (unsigned lineno = 1; lineno <= LINES_MAX && fgets(line, sizeof line, f) != NULL; lineno++) {
        if (strchr(line, '\n') == NULL && !feof(f)) {
            snprintf(err, err_cap, "line %u: longer than %d bytes", lineno, LINE_BYTES_MAX - 2);
            return false;
        }
        rtrim(line);
        size_t ind = indent_of(line);
        const char *text = line + ind;
        if (text[0] == '\0' || text[0] == '#') {
            continue;
        }
        if (ind == 0) {
            in_paths = strcmp(text, "paths:") == 0;
            path[0] = '\0';
            cur = NULL;
            continue;
        }
        if (!in_paths) {
            continue;
        }
        size_t len = strlen(text);
        if (ind == 2) {
            cur = NULL;
            if (text[0] != '/' || text[len - 1] != ':') {
                path[0] = '\0';
                continue;
            }
            if (len - 1 >= sizeof path) {
                snprintf(err, err_cap, "line %u: path too long", lineno);
                return false;
            }
            snprintf(path, sizeof path, "%.*s", (int)(len - 1), text);
            continue;
        }
        if (ind == 4) {
            cur = NULL;
            for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++) {
                size_t ml = strlen(methods[m]);
                if (len != ml + 1 || strncmp(text, methods[m], ml) != 0 || text[ml] != ':') {
                    continue;
                }
                if (path[0] == '\0') {
                    snprintf(err, err_cap, "line %u: method %s outside a path", lineno, methods[m]);
                    return false;
                }
                if (*n == cap) {
                    snprintf(err, err_cap, "line %u: more than %zu operations", lineno, cap);
                    return false;
                }
                cur = &ops[(*n)++];
                memset(cur, 0, sizeof *cur);
                for (size_t k = 0; k < ml; k++) {
                    cur->method[k] = (char)(methods[m][k] - 'a' + 'A');
                }
                snprintf(cur->path, sizeof cur->path, "%s", path);
                cur->line = lineno;
                for (size_t k = 0; k + 1 < *n; k++) {
                    if (strcmp(ops[k].method, cur->method) == 0 && strcmp(ops[k].path, cur->path) == 0) {
                        snprintf(err, err_cap, "line %u: %s %s twice (first at line %u)", lineno, cur->method,
                                 cur->path, ops[k].line);
                        return false;
                    }
                }
            }
            continue;
        }
        if (cur != NULL && ind > 4) {
            if (strstr(text, "#/components/parameters/IdempotencyKey") != NULL) {
                cur->idempotency_key = true;
            }
            if (ind == 6 && strcmp(text, "security: []") == 0) {
                cur->public = true;
            }
        }
    }
    if (ferror(f)) {
        snprintf(err, err_cap, "read error");
        return false;
    }
    return true;
}

static const struct op *find_op(const struct op *ops, size_t n, const char *method, const char *path)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(ops[i].method, method) == 0 && strcmp(ops[i].path, path) == 0) {
            return &ops[i];
        }
    }
    return NULL;
}

/* Reads a document given as text (for the reader's own tests). */
static bool read_text(const char *text, struct op *ops, size_t *n, char *err, size_t err_cap)
{
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    assert_non_null(f);
    bool ok = read_ops(f, ops, OPS_MAX, n, err, err_cap);
    fclose(f);
    return ok;
}

static struct op doc_ops[OPS_MAX];
static size_t doc_n;

static int read_document(void **state)
{
    (void)state;
    FILE *f = fopen(OPENAPI_PATH, "r");
    if (f == NULL) {
        fprintf(stderr, "test_openapi: cannot open %s (run from the project root)\n", OPENAPI_PATH);
        return -1;
    }
    char err[512];
    bool ok = read_ops(f, doc_ops, OPS_MAX, &doc_n, err, sizeof err);
    fclose(f);
    if (!ok) {
        fprintf(stderr, "test_openapi: %s: %s\n", OPENAPI_PATH, err);
        return -1;
    }
    return 0;
}

/* The reader takes exactly the regular shape: paths at two spaces, methods at four, only
 * inside paths:. */
static void test_reader_shape(void **state)
{
    (void)state;
    static const char doc[] = "openapi: 3.1.0\n"
                              "info:\n"
                              "  /not-a-path:\n"
                              "    get:\n"
                              "paths:\n"
                              "  # a comment\n"
                              "  /a:\n"
                              "    get:\n"
                              "      security: []\n"
                              "      responses: {}\n"
                              "    post:\n"
                              "      parameters:\n"
                              "        - $ref: \"#/components/parameters/IdempotencyKey\"\n"
                              "     put:\n"
                              "  /b/{id}:   \n"
                              "    delete:\n"
                              "    summary:\n"
                              "   /c:\n"
                              "    patch:\n"
                              "components:\n"
                              "  /d:\n"
                              "    get:\n";
    struct op ops[OPS_MAX];
    size_t n = 0;
    char err[512];
    assert_true(read_text(doc, ops, &n, err, sizeof err));
    assert_int_equal(n, 4);
    assert_string_equal(ops[0].method, "GET");
    assert_string_equal(ops[0].path, "/a");
    assert_true(ops[0].public);
    assert_false(ops[0].idempotency_key);
    assert_string_equal(ops[1].method, "POST");
    assert_string_equal(ops[1].path, "/a");
    assert_false(ops[1].public);
    assert_true(ops[1].idempotency_key);
    assert_string_equal(ops[2].method, "DELETE");
    assert_string_equal(ops[2].path, "/b/{id}");
    /* "   /c:" (three spaces) is no path: its patch belongs to /b/{id}. */
    assert_string_equal(ops[3].method, "PATCH");
    assert_string_equal(ops[3].path, "/b/{id}");
    assert_null(find_op(ops, n, "GET", "/d"));
    assert_null(find_op(ops, n, "GET", "/not-a-path"));
}

static void test_reader_refuses(void **state)
{
    (void)state;
    struct op ops[OPS_MAX];
    size_t n = 0;
    char err[512];
    assert_false(read_text("paths:\n  /a:\n    get:\n    get:\n", ops, &n, err, sizeof err));
    assert_non_null(strstr(err, "GET /a twice"));
    assert_false(read_text("paths:\n    get:\n", ops, &n, err, sizeof err));
    assert_non_null(strstr(err, "outside a path"));
}

/* Every route of the code is in the document and every operation of the document is a route;
 * the failure names each one missing on either side. */
static void test_document_matches_routes(void **state)
{
    (void)state;
    unsigned n_routes = 0;
    const struct http_route *routes = http_routes(&n_routes);
    assert_true(n_routes > 0);
    unsigned missing = 0;
    for (unsigned i = 0; i < n_routes; i++) {
        if (find_op(doc_ops, doc_n, routes[i].method, routes[i].pattern) == NULL) {
            fprintf(stderr, "in src/http/routes.c, not in %s: %s %s\n", OPENAPI_PATH, routes[i].method,
                    routes[i].pattern);
            missing++;
        }
    }
    for (size_t k = 0; k < doc_n; k++) {
        bool found = false;
        for (unsigned i = 0; i < n_routes && !found; i++) {
            found = strcmp(routes[i].method, doc_ops[k].method) == 0 && strcmp(routes[i].pattern, doc_ops[k].path) == 0;
        }
        if (!found) {
            fprintf(stderr, "in %s (line %u), not in src/http/routes.c: %s %s\n", OPENAPI_PATH, doc_ops[k].line,
                    doc_ops[k].method, doc_ops[k].path);
            missing++;
        }
    }
    assert_int_equal(missing, 0);
    assert_int_equal(doc_n, n_routes);
}

/* Writes declare the Idempotency-Key header and only writes do; public routes (no roles) and
 * only they say `security: []`. */
static void test_document_writes_and_security(void **state)
{
    (void)state;
    unsigned n_routes = 0;
    const struct http_route *routes = http_routes(&n_routes);
    unsigned wrong = 0;
    for (unsigned i = 0; i < n_routes; i++) {
        const struct op *o = find_op(doc_ops, doc_n, routes[i].method, routes[i].pattern);
        if (o == NULL) {
            continue; /* reported by test_document_matches_routes */
        }
        if (o->idempotency_key != routes[i].write) {
            fprintf(stderr, "%s line %u: %s %s %s the Idempotency-Key header\n", OPENAPI_PATH, o->line, o->method,
                    o->path, routes[i].write ? "is a write but does not declare" : "is no write but declares");
            wrong++;
        }
        if (o->public != (routes[i].roles == 0)) {
            fprintf(stderr, "%s line %u: %s %s %s\n", OPENAPI_PATH, o->line, o->method, o->path,
                    routes[i].roles == 0 ? "is public but lacks `security: []`"
                                         : "needs a token but says `security: []`");
            wrong++;
        }
    }
    assert_int_equal(wrong, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reader_shape),
        cmocka_unit_test(test_reader_refuses),
        cmocka_unit_test(test_document_matches_routes),
        cmocka_unit_test(test_document_writes_and_security),
    };
    return cmocka_run_group_tests(tests, read_document, NULL);
}
