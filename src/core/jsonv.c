/* jsonv: request body parsing with a depth bound, and field specs. */
#include "fundledger/jsonv.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "fundledger/ledger.h"
#include "fundledger/limits.h"
#include "fundledger/money.h"

static bool depth_ok(const char *s, size_t n)
{
    int depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_string) {
            if (c == '\\') {
                i++;
            } else if (c == '"') {
                in_string = false;
            }
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            if (++depth > JSON_DEPTH_MAX) {
                return false;
            }
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return true;
}

bool jv_utf8_valid(const char *s, size_t n)
{
    /* json_stringn validates with Jansson's UTF-8 decoder and refuses what it does not take. */
    json_t *j = json_stringn(n > 0 ? s : "", n);
    bool ok = j != NULL;
    json_decref(j);
    return ok;
}

/* The member whose value holds byte pos of a JSON text (Jansson stops there on bytes that are
 * not UTF-8; everything before pos is UTF-8 then): the last name followed by ':' before pos, or
 * "" when pos is inside a name or before any. A scan of strings and ':' only, like depth_ok. */
static void member_at(const char *s, size_t n, size_t pos, char *out, size_t cap)
{
    size_t name_at = 0, name_len = 0, str_at = 0, str_len = 0;
    bool have_name = false, have_str = false, in_string = false;
    out[0] = '\0';
    for (size_t i = 0; i < n && i < pos; i++) {
        char c = s[i];
        if (in_string) {
            if (c == '\\') {
                i++;
            } else if (c == '"') {
                in_string = false;
                str_len = i - str_at;
                have_str = true;
            }
        } else if (c == '"') {
            in_string = true;
            str_at = i + 1;
        } else if (c == ':' && have_str) {
            name_at = str_at;
            name_len = str_len;
            have_name = true;
        } else if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            have_str = false;
        }
    }
    if (in_string) {
        /* pos is inside a string: a name if a ':' follows its end. */
        size_t i = pos;
        while (i < n && s[i] != '"') {
            i += s[i] == '\\' ? 2 : 1;
        }
        for (i++; i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'); i++) {
        }
        if (i < n && s[i] == ':') {
            return;
        }
    }
    if (have_name && name_len < cap && memchr(s + name_at, '\\', name_len) == NULL) {
        snprintf(out, cap, "%.*s", (int)name_len, s + name_at);
    }
}

json_t *jv_parse(const char *body, size_t len, struct fl_error *err)
{
    if (body == NULL || len == 0) {
        fl_error_set(err, FLE_BAD_JSON, "", "the body is empty; a JSON object is expected");
        return NULL;
    }
    if (!depth_ok(body, len)) {
        fl_error_set(err, FLE_BAD_JSON, "", "JSON nested deeper than %d levels", JSON_DEPTH_MAX);
        return NULL;
    }
    json_error_t je;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (j == NULL && json_error_code(&je) == json_error_invalid_utf8) {
        char member[ERROR_FIELD_BYTES];
        member_at(body, len, (size_t)je.position, member, sizeof member);
        fl_error_set(err, FLE_BAD_JSON, member[0] ? member : "body", "not valid UTF-8 (byte %d of the body)",
                     je.position);
        return NULL;
    }
    if (j == NULL) {
        fl_error_set(err, FLE_BAD_JSON, "", "line %d column %d: %s", je.line, je.column, je.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        fl_error_set(err, FLE_BAD_JSON, "", "the body must be a JSON object");
        return NULL;
    }
    return j;
}

static void name_field(char *out, size_t cap, const char *prefix, const char *name)
{
    if (prefix && prefix[0]) {
        snprintf(out, cap, "%s.%s", prefix, name);
    } else {
        snprintf(out, cap, "%s", name);
    }
}

static bool decimal_shape(const char *s)
{
    /* Only the shape; money_parse decides exactness in the currency later. */
    size_t n = strlen(s);
    return n > 0 && n <= 40 && strspn(s, "-0123456789.") == n;
}

enum fl_err jv_check(const json_t *obj, const struct jv_field *spec, size_t n, const char *prefix,
                     struct fl_error *err)
{
    char field[ERROR_FIELD_BYTES];
    if (!json_is_object(obj)) {
        return fl_error_set(err, prefix && prefix[0] ? FLE_BAD_FIELD : FLE_BAD_JSON, prefix ? prefix : "",
                            "a JSON object is expected");
    }
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)obj, key, val)
    {
        bool known = false;
        for (size_t i = 0; i < n && !known; i++) {
            known = strcmp(spec[i].name, key) == 0;
        }
        if (!known) {
            name_field(field, sizeof field, prefix, key);
            return fl_error_set(err, FLE_UNKNOWN_FIELD, field, "this field is not taken here");
        }
    }
    for (size_t i = 0; i < n; i++) {
        const struct jv_field *f = &spec[i];
        json_t *v = json_object_get(obj, f->name);
        name_field(field, sizeof field, prefix, f->name);
        if (v == NULL || json_is_null(v)) {
            if (f->required) {
                return fl_error_set(err, FLE_MISSING_FIELD, field, "required");
            }
            continue;
        }
        const char *s = json_string_value(v);
        size_t len = s ? json_string_length(v) : 0;
        switch (f->type) {
        case JV_STRING:
        case JV_TEXT:
            if (s == NULL) {
                return fl_error_set(err, FLE_BAD_FIELD, field, "a string is expected");
            }
            if (strlen(s) != len) {
                return fl_error_set(err, FLE_BAD_FIELD, field, "a NUL character is not allowed");
            }
            if (f->type == JV_STRING && len == 0) {
                return fl_error_set(err, FLE_BAD_FIELD, field, "must not be empty");
            }
            if (f->max_len && len > f->max_len) {
                return fl_error_set(err, FLE_BAD_FIELD, field, "at most %zu bytes", f->max_len);
            }
            break;
        case JV_AMOUNT:
            if (s == NULL) {
                return fl_error_set(err, FLE_BAD_FIELD, field, "an amount is a decimal string such as \"1234.50\"");
            }
            if (!decimal_shape(s)) {
                return fl_error_set(err, FLE_BAD_FIELD, field, "not a decimal amount");
            }
            break;
        case JV_DATE:
            if (s == NULL || !ledger_date_valid(s)) {
                return fl_error_set(err, FLE_BAD_FIELD, field, "a date YYYY-MM-DD is expected");
            }
            break;
        case JV_ID:
        case JV_UINT:
            if (!json_is_integer(v) || json_integer_value(v) < (f->type == JV_ID ? 1 : 0)) {
                return fl_error_set(err, FLE_BAD_FIELD, field, f->type == JV_ID ? "a positive integer id"
                                                                                : "a non-negative integer");
            }
            if (f->max_len && (size_t)json_integer_value(v) > f->max_len) {
                return fl_error_set(err, FLE_BAD_FIELD, field, "at most %zu", f->max_len);
            }
            break;
        case JV_BOOL:
            if (!json_is_boolean(v)) {
                return fl_error_set(err, FLE_BAD_FIELD, field, "true or false");
            }
            break;
        case JV_ARRAY:
            if (!json_is_array(v) || json_array_size(v) == 0 || (f->max_len && json_array_size(v) > f->max_len)) {
                return fl_error_set(err, FLE_BAD_FIELD, field, "an array of 1 to %zu elements", f->max_len);
            }
            break;
        case JV_OBJECT:
            if (!json_is_object(v)) {
                return fl_error_set(err, FLE_BAD_FIELD, field, "an object is expected");
            }
            break;
        }
    }
    return FLE_OK;
}

const char *jv_str(const json_t *obj, const char *name)
{
    return json_string_value(json_object_get(obj, name));
}

long long jv_int(const json_t *obj, const char *name)
{
    return json_integer_value(json_object_get(obj, name));
}

bool jv_stored_amount(const json_t *obj, const char *key, const char *legacy_key, const char *currency,
                      bool allow_negative, int64_t *out)
{
    const json_t *v = json_object_get(obj, key);
    if (json_is_string(v)) {
        int exp = money_currency_exponent(currency);
        return exp >= 0 && money_parse(json_string_value(v), exp, allow_negative, out) == MONEY_OK;
    }
    v = legacy_key ? json_object_get(obj, legacy_key) : NULL;
    if (json_is_integer(v) && (allow_negative || json_integer_value(v) >= 0)) {
        *out = (int64_t)json_integer_value(v);
        return true;
    }
    return false;
}

json_t *jv_next_after(bool more, int64_t last)
{
    return more ? json_integer(last) : json_null();
}

json_t *jv_amount(int64_t minor, const char *currency)
{
    char buf[MONEY_TEXT_MAX];
    int exp = money_currency_exponent(currency);
    money_format(minor, exp < 0 ? 2 : exp, buf, sizeof buf);
    return json_string(buf);
}
