/* error: code texts, statuses and hints of the error registry, and the setter. */
#include "fundledger/error.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *code;
    unsigned status;
    const char *hint;
} table[FLE_COUNT_] = {
#define FL_ERR_ROW(name, code, status, hint) [name] = {code, status, hint},
    FL_ERRORS(FL_ERR_ROW)
#undef FL_ERR_ROW
};

const char *fl_err_code(enum fl_err e)
{
    assert(e < FLE_COUNT_);
    return table[e].code;
}

unsigned fl_err_status(enum fl_err e)
{
    assert(e < FLE_COUNT_);
    return table[e].status;
}

const char *fl_err_hint(enum fl_err e)
{
    assert(e < FLE_COUNT_);
    return table[e].hint;
}

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlong forms, no surrogates, at most
 * U+10FFFF, as jansson checks), or 0 when s does not start one. s is NUL-terminated. */
static size_t utf8_sequence(const unsigned char *s)
{
    if (s[0] < 0x80) {
        return 1;
    }
    size_t n = 0;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        n = 2;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        n = 3;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        n = 4;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0; /* also stops at the NUL */
        }
    }
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) || (s[0] == 0xf0 && s[1] < 0x90) ||
        (s[0] == 0xf4 && s[1] > 0x8f)) {
        return 0;
    }
    return n;
}

/* Errors are sent as JSON, which must be UTF-8, and are one line: a byte that is not part of a
 * valid sequence (client text echoed in a message, or a character cut by truncation) and a
 * control character (a newline quoted from a body) become '?'. */
static void make_sendable(char *text)
{
    unsigned char *s = (unsigned char *)text;
    while (*s != '\0') {
        size_t n = utf8_sequence(s);
        if (n == 0 || *s < 0x20 || *s == 0x7f) {
            *s++ = '?';
        } else {
            s += n;
        }
    }
}

enum fl_err fl_error_set(struct fl_error *err, enum fl_err code, const char *field, const char *fmt, ...)
{
    assert(code < FLE_COUNT_);
    if (err == NULL) {
        return code;
    }
    err->code = code;
    snprintf(err->field, sizeof err->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    make_sendable(err->field);
    make_sendable(err->message);
    return code;
}

void fl_error_clear(struct fl_error *err)
{
    assert(err != NULL);
    err->code = FLE_OK;
    err->field[0] = '\0';
    err->message[0] = '\0';
}
