/* fuzz_csv: the bank-statement CSV reading of the repayment import (repayment_csv_parse, the
 * pure first step of repayment_import_csv) against a reference written from repayment.h's
 * description: the whole file is refused only for NUL bytes, too many lines or a header that is
 * not exactly "loan_id,amount,value_date,reference" (after an optional BOM, CRLF accepted);
 * otherwise every data line is reported once, in order, numbered from 2, and is either refused
 * as it stands for the reason the reference finds, or cut into exactly the four fields it has. */
#include <jansson.h>
#include <stdbool.h>

#include "fundledger/repayment.h"
#include "fuzz.h"

static const char header[] = "loan_id,amount,value_date,reference";

struct expect {
    const char *data; /* the input, NUL-terminated copy */
    size_t size;
    size_t at;        /* where the next data line starts */
    unsigned next_no; /* the line number expected next */
};

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
    }
    return true;
}

static void visit(void *ctx, const struct repayment_csv_line *got)
{
    struct expect *x = ctx;
    FUZZ_CHECK(x->at < x->size, "line %u reported past the end of the file", got->line_no);
    FUZZ_CHECK(got->line_no == x->next_no, "line %u reported, %u expected", got->line_no, x->next_no);
    const char *line = x->data + x->at;
    const char *nl = memchr(line, '\n', x->size - x->at);
    size_t len = nl ? (size_t)(nl - line) : x->size - x->at;
    x->at += len + (nl ? 1 : 0);
    x->next_no++;
    if (len > 0 && line[len - 1] == '\r') {
        len--;
    }

    /* The reference's verdict on this line. */
    const char *why = NULL;
    size_t commas = 0, first = len;
    for (size_t i = 0; i < len; i++) {
        if (line[i] == ',') {
            first = commas == 0 ? i : first;
            commas++;
        }
    }
    /* UTF-8 as jansson reads it (json_stringn refuses invalid UTF-8): an independent reference. */
    json_t *as_text = len > 0 ? json_stringn(line, len) : NULL;
    bool utf8 = as_text != NULL;
    json_decref(as_text);
    if (len == 0 || len > REPAYMENT_IMPORT_LINE_BYTES_MAX || !utf8 || memchr(line, '"', len) != NULL || commas != 3) {
        why = "line";
    } else if (first == 0 || first > 18 || !all_digits(line, first) || strtoll(line, NULL, 10) <= 0) {
        why = "loan_id";
    }

    if (why != NULL) {
        FUZZ_CHECK(got->refusal != NULL, "line %u accepted, the reference refuses it (%s)", got->line_no, why);
        FUZZ_CHECK(strcmp(got->refusal->field, why) == 0, "line %u refused for '%s', the reference says '%s'",
                   got->line_no, got->refusal->field, why);
        FUZZ_CHECK(got->refusal->code == FLE_BAD_FIELD && got->refusal->message[0] != '\0', "line %u refusal",
                   got->line_no);
        json_t *m = json_string(got->refusal->message);
        FUZZ_CHECK(m != NULL, "line %u: refusal message not UTF-8", got->line_no);
        json_decref(m);
        return;
    }
    FUZZ_CHECK(got->refusal == NULL, "line %u refused (%s: %s), the reference accepts it", got->line_no,
               got->refusal->field, got->refusal->message);
    FUZZ_CHECK(got->loan_id == strtoll(line, NULL, 10), "line %u: loan_id %lld", got->line_no, (long long)got->loan_id);
    /* The three other fields, put back together behind the loan id, are the line. */
    char *joined = malloc(len + 2);
    FUZZ_CHECK(joined != NULL, "malloc");
    int n = snprintf(joined, len + 2, "%.*s,%s,%s,%s", (int)first, line, got->amount, got->value_date, got->reference);
    FUZZ_CHECK(n == (int)len && memcmp(joined, line, len) == 0, "line %u: fields '%s' '%s' '%s' do not make the line",
               got->line_no, got->amount, got->value_date, got->reference);
    free(joined);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16) {
        return 0;
    }
    char *copy = fuzz_strdup(data, size);
    struct expect x = {.data = copy, .size = size, .next_no = 2};
    /* The reference's verdict on the whole file. */
    const char *why = NULL;
    size_t lines = 0;
    for (size_t i = 0; i < size; i++) {
        lines += data[i] == '\n';
    }
    lines += size > 0 && data[size - 1] != '\n';
    size_t h = size >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
    const char *hnl = memchr(copy + h, '\n', size - h);
    size_t hlen = hnl ? (size_t)(hnl - copy) - h : size - h;
    if (hlen > 0 && copy[h + hlen - 1] == '\r') {
        hlen--;
    }
    x.at = hnl ? (size_t)(hnl - copy) + 1 : size; /* the first data line */
    struct fl_error err;
    memset(&err, 0, sizeof err);
    enum fl_err e = repayment_csv_parse((const char *)data, size, visit, &x, &err);
    if (lines > (size_t)REPAYMENT_IMPORT_LINES_MAX + 1 || memchr(data, '\0', size) != NULL) {
        why = "csv";
    } else if (hlen != strlen(header) || memcmp(copy + h, header, hlen) != 0) {
        why = "header";
    }
    if (why != NULL) {
        FUZZ_CHECK(e == FLE_BAD_FIELD && strcmp(err.field, why) == 0, "file refused with %d '%s', reference '%s'",
                   (int)e, err.field, why);
        FUZZ_CHECK(x.next_no == 2, "lines reported for a refused file");
    } else {
        FUZZ_CHECK(e == FLE_OK, "file refused with %d '%s: %s', the reference accepts it", (int)e, err.field,
                   err.message);
        /* Every line after the header was reported (a final newline ends the last line). */
        FUZZ_CHECK(x.at == size, "lines after byte %zu of %zu were not reported", x.at, size);
    }
    free(copy);
    return 0;
}
