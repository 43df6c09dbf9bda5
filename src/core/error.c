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
    return code;
}

void fl_error_clear(struct fl_error *err)
{
    assert(err != NULL);
    err->code = FLE_OK;
    err->field[0] = '\0';
    err->message[0] = '\0';
}
