/* array: PostgreSQL array literals in text form, for batch statements with unnest(). */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fundledger/db.h"

void db_array_init(struct db_array *a)
{
    memset(a, 0, sizeof *a);
}

static bool reserve(struct db_array *a, size_t more)
{
    if (a->failed) {
        return false;
    }
    if (a->len + more + 2 <= a->cap) {
        return true;
    }
    size_t cap = a->cap ? a->cap : 256;
    while (cap < a->len + more + 2) {
        if (cap > SIZE_MAX / 2) {
            a->failed = true;
            return false;
        }
        cap *= 2;
    }
    char *b = realloc(a->buf, cap);
    if (b == NULL) {
        a->failed = true;
        return false;
    }
    a->buf = b;
    a->cap = cap;
    return true;
}

static bool sep(struct db_array *a)
{
    if (!reserve(a, 1)) {
        return false;
    }
    a->buf[a->len++] = a->n++ == 0 ? '{' : ',';
    return true;
}

/* Decimal digits of v into the end of t[0..24); returns where they start. A batch formats a few
 * numbers per entry, on the path of every commit: snprintf's format parsing cost more than the
 * rest of building the statement. */
static char *i64_digits(int64_t v, char t[24])
{
    char *p = t + 24;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v; /* INT64_MIN too: unsigned negation */
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0) {
        *--p = '-';
    }
    return p;
}

bool db_array_i64(struct db_array *a, int64_t v)
{
    char t[24];
    char *d = i64_digits(v, t);
    size_t k = (size_t)(t + sizeof t - d);
    if (!sep(a) || !reserve(a, k)) {
        return false;
    }
    memcpy(a->buf + a->len, d, k);
    a->len += k;
    return true;
}

bool db_array_text(struct db_array *a, const char *s)
{
    assert(s != NULL);
    size_t n = strlen(s);
    if (!sep(a) || !reserve(a, 2 * n + 2)) {
        return false;
    }
    a->buf[a->len++] = '"';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\') {
            a->buf[a->len++] = '\\';
        }
        a->buf[a->len++] = s[i];
    }
    a->buf[a->len++] = '"';
    return true;
}

bool db_array_null(struct db_array *a)
{
    if (!sep(a) || !reserve(a, 4)) {
        return false;
    }
    memcpy(a->buf + a->len, "NULL", 4);
    a->len += 4;
    return true;
}

const char *db_array_str(struct db_array *a)
{
    if (!reserve(a, 2)) {
        return NULL;
    }
    if (a->n == 0) {
        a->buf[a->len] = '{';
        a->buf[a->len + 1] = '}';
        a->buf[a->len + 2] = '\0';
        return a->buf;
    }
    a->buf[a->len] = '}';
    a->buf[a->len + 1] = '\0';
    return a->buf;
}

void db_array_free(struct db_array *a)
{
    free(a->buf);
    memset(a, 0, sizeof *a);
}

PGresult *db_exec_arrays(struct db *db, const char *stmt, const char *first, struct db_array *a, int n,
                         struct fl_error *err)
{
    assert(n >= 1 && n <= DB_ARRAY_EXEC_MAX);
    const char *p[DB_ARRAY_EXEC_MAX + 1] = {first};
    bool ok = true;
    for (int k = 0; k < n; k++) {
        p[k + 1] = db_array_str(&a[k]);
        ok = ok && p[k + 1] != NULL;
    }
    PGresult *r = ok ? db_exec(db, stmt, n + 1, p, err) : NULL;
    for (int k = 0; k < n; k++) {
        db_array_free(&a[k]);
    }
    if (!ok) {
        fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
    }
    return r;
}
