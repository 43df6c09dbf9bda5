/* jsonv: declarative checks of JSON request bodies: unknown, missing and mistyped fields are
 * errors naming the field. */
#ifndef FUNDLEDGER_JSONV_H
#define FUNDLEDGER_JSONV_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fundledger/error.h"

enum jv_type {
    JV_STRING, /* a string of 1..max_len bytes (0 = no bound beyond the body limit) */
    JV_TEXT,   /* a string of 0..max_len bytes */
    JV_AMOUNT, /* a decimal string, parsed later in its currency */
    JV_DATE,   /* "YYYY-MM-DD", a real date */
    JV_ID,     /* an integer >= 1 */
    JV_UINT,   /* an integer >= 0 */
    JV_BOOL,
    JV_ARRAY,  /* an array of 1..max_len elements */
    JV_OBJECT,
};

struct jv_field {
    const char *name;
    enum jv_type type;
    bool required;
    size_t max_len;
};

/* Checks that obj is an object whose members all appear in spec, with the declared types, and
 * that every required member is present (a null counts as absent). prefix ("" or "lines[2]")
 * is put before field names in errors. Errors: FLE_BAD_JSON (not an object), FLE_UNKNOWN_FIELD,
 * FLE_MISSING_FIELD, FLE_BAD_FIELD. */
enum fl_err jv_check(const json_t *obj, const struct jv_field *spec, size_t n, const char *prefix,
                     struct fl_error *err);

/* Parses a request body: UTF-8 JSON, no duplicate keys, nesting at most JSON_DEPTH_MAX
 * (checked before parsing, without recursion). Returns a new reference or NULL with
 * FLE_BAD_JSON naming the position; bytes that are not UTF-8 are FLE_BAD_JSON naming the member
 * whose value holds them ("memo"; "body" when they are in a member name or outside any member). */
json_t *jv_parse(const char *body, size_t len, struct fl_error *err);

/* true when the n bytes at s are valid UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
 * above U+10FFFF; Jansson's own check). NUL bytes are valid UTF-8: callers that refuse NUL check it. */
bool jv_utf8_valid(const char *s, size_t n);

/* An amount as the API shows it: a decimal string with the currency's minor digits
 * ("1234.50" for 123450 COP; 2 digits when the code is unknown). New reference. */
json_t *jv_amount(int64_t minor, const char *currency);

/* Reads an amount back from a stored payload or audit detail (docs/architecture.md, "Stored
 * payloads"): the decimal string at `key` in the currency's minor digits ("1234.50"), or, in a
 * record written before amounts were strings, the integer of minor units at `legacy_key` (NULL:
 * none). Negative amounts only when allow_negative. false, *out untouched, when neither is there
 * or the value does not read. */
bool jv_stored_amount(const json_t *obj, const char *key, const char *legacy_key, const char *currency,
                      bool allow_negative, int64_t *out);

/* A page's "next_after": the last id shown when more follow, else null. New reference. */
json_t *jv_next_after(bool more, int64_t last);

/* Member accessors that return NULL/0 when absent or null. */
const char *jv_str(const json_t *obj, const char *name);
long long jv_int(const json_t *obj, const char *name);

#endif
