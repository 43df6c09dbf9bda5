/* error: the one registry of error codes, each with its HTTP status and a short hint. */
#ifndef FUNDLEDGER_ERROR_H
#define FUNDLEDGER_ERROR_H

#include <stdbool.h>

#include "fundledger/limits.h"

/* X-macro: name, code text, HTTP status, hint. The order is the enum's. */
#define FL_ERRORS(X)                                                                                 \
    X(FLE_OK, "ok", 200, "no error")                                                                 \
    X(FLE_BAD_JSON, "malformed_json", 400, "the body is not valid JSON")                             \
    X(FLE_BAD_FIELD, "invalid_field", 400, "a field has a wrong type or value")                      \
    X(FLE_MISSING_FIELD, "missing_field", 400, "a required field is absent")                         \
    X(FLE_UNKNOWN_FIELD, "unknown_field", 400, "the body has a field this route does not take")      \
    X(FLE_BAD_PARAM, "invalid_parameter", 400, "a path or query parameter is invalid")               \
    X(FLE_IDEMPOTENCY_KEY_MISSING, "idempotency_key_required", 400,                                  \
      "every write request carries an Idempotency-Key header")                                       \
    X(FLE_UNAUTHENTICATED, "unauthenticated", 401, "send Authorization: Bearer <token>")             \
    X(FLE_FORBIDDEN, "forbidden", 403, "your role may not do this")                                  \
    X(FLE_NOT_FOUND, "not_found", 404, "no such resource")                                           \
    X(FLE_METHOD_NOT_ALLOWED, "method_not_allowed", 405, "the route does not take this method")      \
    X(FLE_CONFLICT, "conflict", 409, "the resource is not in a state that allows this")              \
    X(FLE_IDEMPOTENCY_MISMATCH, "idempotency_key_reused", 409,                                       \
      "this Idempotency-Key was used with a different request")                                      \
    X(FLE_ALREADY_DECIDED, "already_decided", 409, "the proposal was already approved or rejected")  \
    X(FLE_ALREADY_REVERSED, "already_reversed", 409, "an entry can be reversed once")                \
    X(FLE_DUPLICATE, "duplicate", 409, "a resource with this identity exists")                       \
    X(FLE_TOO_LARGE, "body_too_large", 413, "the request body is over the limit")                    \
    X(FLE_UNSUPPORTED_MEDIA, "unsupported_media_type", 415, "send Content-Type: application/json")   \
    X(FLE_UNBALANCED, "unbalanced_entry", 422, "debits and credits differ in a currency")             \
    X(FLE_SELF_APPROVAL, "self_approval", 422, "the maker of a proposal cannot decide on it")        \
    X(FLE_OVER_LIMIT, "over_approval_limit", 422, "the amount is over your approval limit")          \
    X(FLE_RULE, "business_rule", 422, "the request breaks a business rule")                          \
    X(FLE_DB_UNAVAILABLE, "database_unavailable", 503, "the database cannot be reached; retry")      \
    X(FLE_INTERNAL, "internal_error", 500, "an unexpected failure; nothing was written")            \
    X(FLE_HEADERS_TOO_LARGE, "headers_too_large", 431, "the request headers are over the limit")     \
    X(FLE_RATE_LIMITED, "rate_limited", 429, "too many attempts; wait and try again")

enum fl_err {
#define FL_ERR_ENUM(name, code, status, hint) name,
    FL_ERRORS(FL_ERR_ENUM)
#undef FL_ERR_ENUM
        FLE_COUNT_
};

/* An error to report: its code, the field it concerns ("" when none) and a one-line message. */
struct fl_error {
    enum fl_err code;
    char field[ERROR_FIELD_BYTES];
    char message[ERROR_MESSAGE_BYTES];
};

/* The stable code text ("unbalanced_entry"), HTTP status and hint of an error. Static storage. */
const char *fl_err_code(enum fl_err e);
unsigned fl_err_status(enum fl_err e);
const char *fl_err_hint(enum fl_err e);

/* Fills *err (which may be NULL: then nothing happens) and returns code, so callers can write
 * `return fl_error_set(err, FLE_BAD_FIELD, "amount", "not a decimal: %s", why);`.
 * field may be NULL. The message is truncated to fit. */
enum fl_err fl_error_set(struct fl_error *err, enum fl_err code, const char *field, const char *fmt,
                         ...) __attribute__((format(printf, 4, 5)));

/* Clears *err to FLE_OK with empty field and message. */
void fl_error_clear(struct fl_error *err);

#endif
