/* IATI writer: streams activity and organisation records into IATI 2.03 XML with xmlTextWriter. */
#define _GNU_SOURCE /* sync_file_range (Linux): the file is sent to disk while it is written */
#include "fundledger/iati.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/xmlwriter.h>

#include "fundledger/money.h"

#include "check_internal.h" /* iati_chk_libxml_init */

#define IATI_VERSION "2.03"
#define CODE_BYTES_MAX 128 /* the longest IATI code (a FileFormat media type) is well under this */
#define FIELD_BYTES 160    /* a field's name in a message ("results[0].indicators[2].periods[1].target_value") */
/* Path writers: the temporary file's stdio buffer (one write(2) per 256 KiB instead of one per 4 KB
 * block of libxml2's output buffer), and how much is handed to the kernel before its writeback to
 * disk is started, so that the fsync at close waits only for the last part of a large file. */
#define FILE_BUFFER_BYTES (256u << 10)
#define WRITEBACK_BYTES (8u << 20)
/* Elements open at once (the deepest IATI path, result/indicator/period/target/document-link/...,
 * is under ten): the writer's own record of them, for the indentation. */
#define OPEN_MAX 32

enum writer_kind {
    WRITER_ACTIVITIES = 1,
    WRITER_ORGANISATIONS,
};

struct iati_writer {
    enum writer_kind kind;
    xmlTextWriterPtr xw;
    FILE *fp;       /* owned when tmp_path != NULL */
    char *tmp_path; /* path writers: the temporary file, renamed onto final_path at close */
    char *final_path;
    off_t written;            /* path writers: bytes given to fp */
    off_t writeback;          /* path writers: bytes whose writeback to disk has been started */
    size_t open;              /* elements open */
    bool has_child[OPEN_MAX]; /* per open element: a child element was written in it */
    enum iati_status failed;  /* first I/O or memory failure; IATI_OK while healthy */
    size_t records;
    const char *lang;     /* default language of the record being written (borrowed) */
    const char *currency; /* default currency of the record being checked (borrowed) */
    char error[IATI_WRITER_ERROR_BYTES];
};

const char *iati_status_text(enum iati_status st)
{
    switch (st) {
    case IATI_OK:
        return "ok";
    case IATI_ERR_INVALID:
        return "invalid record";
    case IATI_ERR_IO:
        return "input/output error";
    case IATI_ERR_NOMEM:
        return "out of memory";
    case IATI_ERR_STATE:
        return "writer not usable";
    }
    return "unknown status";
}

/* ---------------------------------------------------------------- errors */

static void set_error(struct iati_writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_error(struct iati_writer *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(w->error, sizeof w->error, fmt, ap);
    va_end(ap);
}

struct fld;
static const char *field_text(const struct fld *field, char *buf, size_t cap);

/* Records a validation failure: "<field>: <why>". Returns false to be used in && chains. */
static bool invalid(struct iati_writer *w, const struct fld *field, const char *why)
{
    assert(field != NULL && why != NULL);
    char name[FIELD_BYTES];
    set_error(w, "%s: %s", field_text(field, name, sizeof name), why);
    return false;
}

/* Records the first write failure; the writer is unusable afterwards. */
static bool write_failed(struct iati_writer *w, const char *what)
{
    assert(what != NULL);
    if (w->failed == IATI_OK) {
        w->failed = IATI_ERR_IO;
        set_error(w, "writing %s failed%s%s", what, errno != 0 ? ": " : "", errno != 0 ? strerror(errno) : "");
    }
    return false;
}

/* ---------------------------------------------------------------- field names for messages */

/* A field's name, as a chain of steps made on the stack while a record is checked, spelled out
 * ("transactions[3].value.currency") only when a message needs it: building the names of every
 * field checked was about a sixth of the CPU of a write. A step is "." name (none when name is
 * empty or first), then "[index]" unless index is SIZE_MAX. */
struct fld {
    const struct fld *up;
    const char *name;
    size_t index;
};

/* field.name, field[index] (name ""), field.name[index]; a top-level name. */
#define FLD(up, name) (&(const struct fld){(up), (name), SIZE_MAX})
#define FLDI(up, name, index) (&(const struct fld){(up), (name), (index)})
#define TOP(name) FLD(NULL, name)

#define FIELD_DEPTH_MAX 16 /* steps in one name: the deepest (results[i].indicators[j].periods[k].x) has 7 */

/* Appends text to buf (length *len, capacity cap), cutting what does not fit. */
static void name_add(char *buf, size_t cap, size_t *len, const char *text, size_t n)
{
    if (*len + n >= cap) {
        n = cap - 1 - *len;
    }
    memcpy(buf + *len, text, n);
    *len += n;
}

/* Spells out the name of field into buf. */
static const char *field_text(const struct fld *field, char *buf, size_t cap)
{
    assert(buf != NULL && cap > 0);
    const struct fld *steps[FIELD_DEPTH_MAX];
    size_t n = 0;
    for (const struct fld *f = field; f != NULL && n < FIELD_DEPTH_MAX; f = f->up) {
        steps[n++] = f;
    }
    size_t len = 0;
    for (size_t i = n; i > 0; i--) {
        const struct fld *f = steps[i - 1];
        if (f->name[0] != '\0') {
            if (len > 0) {
                name_add(buf, cap, &len, ".", 1);
            }
            name_add(buf, cap, &len, f->name, strlen(f->name));
        }
        if (f->index != SIZE_MAX) {
            char digits[24];
            size_t d = sizeof digits;
            digits[--d] = ']';
            size_t v = f->index;
            do {
                digits[--d] = (char)('0' + v % 10);
                v /= 10;
            } while (v > 0 && d > 1);
            digits[--d] = '[';
            name_add(buf, cap, &len, digits + d, sizeof digits - d);
        }
    }
    buf[len] = '\0';
    return buf;
}

/* ---------------------------------------------------------------- validation of the model */

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static bool digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i])) {
            return false;
        }
    }
    return true;
}

static int two(const char *s)
{
    return (s[0] - '0') * 10 + (s[1] - '0');
}

/* true when s starts with a real calendar date YYYY-MM-DD (year 0001..9999). */
static bool date_prefix_ok(const char *s)
{
    if (strlen(s) < 10 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' || !digits(s + 8, 2)) {
        return false;
    }
    int year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + two(s + 2);
    int month = two(s + 5);
    int day = two(s + 8);
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (year < 1 || month < 1 || month > 12 || day < 1 || day > mdays[month - 1]) {
        return false;
    }
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (month == 2 && day == 29 && !leap) {
        return false;
    }
    return true;
}

static bool check_date(struct iati_writer *w, const struct fld *field, const char *s, bool required)
{
    if (s == NULL) {
        return required ? invalid(w, field, "required date missing") : true;
    }
    if (strlen(s) != 10 || !date_prefix_ok(s)) {
        return invalid(w, field, "not a date YYYY-MM-DD");
    }
    return true;
}

/* xsd:dateTime: YYYY-MM-DDThh:mm:ss[.f+][Z|(+|-)hh:mm]. */
static bool check_datetime(struct iati_writer *w, const struct fld *field, const char *s, bool required)
{
    if (s == NULL) {
        return required ? invalid(w, field, "required date-time missing") : true;
    }
    size_t n = strlen(s);
    if (n < 19 || !date_prefix_ok(s) || s[10] != 'T' || !digits(s + 11, 2) || s[13] != ':' || !digits(s + 14, 2) ||
        s[16] != ':' || !digits(s + 17, 2) || two(s + 11) > 23 || two(s + 14) > 59 || two(s + 17) > 59) {
        return invalid(w, field, "not a date-time YYYY-MM-DDThh:mm:ss");
    }
    size_t i = 19;
    if (i < n && s[i] == '.') {
        i++;
        size_t start = i;
        while (i < n && is_digit(s[i]) && i - start < 9) {
            i++;
        }
        if (i == start) {
            return invalid(w, field, "empty fraction of a second");
        }
    }
    if (i == n) {
        return true;
    }
    if (s[i] == 'Z' && i + 1 == n) {
        return true;
    }
    if ((s[i] == '+' || s[i] == '-') && n - i == 6 && digits(s + i + 1, 2) && s[i + 3] == ':' && digits(s + i + 4, 2) &&
        two(s + i + 1) <= 14 && two(s + i + 4) <= 59) {
        return true;
    }
    return invalid(w, field, "bad time zone in date-time");
}

/* Text that XML 1.0 can carry: valid UTF-8, no C0 control but tab, LF, CR, bounded length. */
static bool check_string(struct iati_writer *w, const struct fld *field, const char *s, bool required)
{
    if (s == NULL) {
        return required ? invalid(w, field, "required text missing") : true;
    }
    size_t n = strnlen(s, IATI_TEXT_BYTES_MAX + 1);
    if (n > IATI_TEXT_BYTES_MAX) {
        return invalid(w, field, "text longer than IATI_TEXT_BYTES_MAX");
    }
    if (required && n == 0) {
        return invalid(w, field, "empty text");
    }
    bool ascii = true;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') {
            return invalid(w, field, "control character in text");
        }
        ascii = ascii && ch < 0x80;
    }
    if (!ascii && xmlCheckUTF8((const unsigned char *)s) == 0) {
        return invalid(w, field, "text is not valid UTF-8");
    }
    return true;
}

/* A code: 1..CODE_BYTES_MAX of [A-Za-z0-9._+/-]. */
static bool check_code(struct iati_writer *w, const struct fld *field, const char *s, bool required)
{
    if (s == NULL) {
        return required ? invalid(w, field, "required code missing") : true;
    }
    size_t n = strnlen(s, CODE_BYTES_MAX + 1);
    if (n == 0 || n > CODE_BYTES_MAX) {
        return invalid(w, field, "code empty or too long");
    }
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || is_digit(ch) || ch == '.' || ch == '_' ||
                  ch == '+' || ch == '/' || ch == '-';
        if (!ok) {
            return invalid(w, field, "code has a character outside [A-Za-z0-9._+/-]");
        }
    }
    return true;
}

static bool check_currency(struct iati_writer *w, const struct fld *field, const char *s)
{
    if (s == NULL || strlen(s) != 3 || s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z' || s[2] < 'A' ||
        s[2] > 'Z') {
        return invalid(w, field, "not a currency code of three capital letters");
    }
    return true;
}

/* An identifier or URL: non-empty text without leading or trailing white space (rules 1.x.1). */
static bool check_identifier(struct iati_writer *w, const struct fld *field, const char *s, bool required)
{
    if (!check_string(w, field, s, required)) {
        return false;
    }
    if (s == NULL) {
        return true;
    }
    size_t n = strlen(s);
    if (n == 0) {
        return invalid(w, field, "empty identifier");
    }
    if (strchr(" \t\r\n", s[0]) != NULL || strchr(" \t\r\n", s[n - 1]) != NULL) {
        return invalid(w, field, "identifier starts or ends with white space");
    }
    return true;
}

/* An organisation or activity identifier: as check_identifier, and without /, &, | or ?
 * (rules 1.3.13, 1.8.13, 1.10.13, 1.12.13, 1.14.13, 1.15.13). */
static bool check_ref(struct iati_writer *w, const struct fld *field, const char *s, bool required)
{
    if (!check_identifier(w, field, s, required)) {
        return false;
    }
    if (s != NULL && strpbrk(s, "/&|?") != NULL) {
        return invalid(w, field, "identifier contains one of / & | ?");
    }
    return true;
}

static bool check_list(struct iati_writer *w, const struct fld *field, const void *items, size_t count, size_t min)
{
    if (count < min) {
        return invalid(w, field, min == 1 ? "at least one item required" : "too few items");
    }
    if (count > IATI_LIST_MAX) {
        return invalid(w, field, "more items than IATI_LIST_MAX");
    }
    if (count > 0 && items == NULL) {
        return invalid(w, field, "count given without items");
    }
    return true;
}

static bool check_bp(struct iati_writer *w, const struct fld *field, bool present, int32_t bp)
{
    if (present && (bp < 0 || bp > 10000)) {
        return invalid(w, field, "percentage outside 0..10000 basis points");
    }
    return true;
}

static bool check_text(struct iati_writer *w, const struct fld *field, const struct iati_text *t, size_t min)
{
    if (t->count < min) {
        return invalid(w, field, "at least one narrative required");
    }
    if (t->count > IATI_NARRATIVES_MAX) {
        return invalid(w, field, "more narratives than IATI_NARRATIVES_MAX");
    }
    if (t->count > 0 && t->items == NULL) {
        return invalid(w, field, "count given without narratives");
    }
    for (size_t i = 0; i < t->count; i++) {
        const struct iati_narrative *n = &t->items[i];
        if (!check_string(w, FLD(FLDI(field, "", i), "text"), n->text, true) ||
            !check_code(w, FLD(FLDI(field, "", i), "lang"), n->lang, false)) {
            return false;
        }
        if (n->lang == NULL && w->lang == NULL) {
            return invalid(w, FLD(FLDI(field, "", i), "lang"),
                           "required when the record has no default language (rule 4.1.1)");
        }
    }
    return true;
}

static bool check_amount(struct iati_writer *w, const struct fld *field, const struct iati_amount *a)
{
    if (a->exponent < 0 || a->exponent > IATI_EXPONENT_MAX) {
        return invalid(w, FLD(field, "exponent"), "outside 0..18");
    }
    if (a->currency == NULL && w->currency == NULL) {
        return invalid(w, FLD(field, "currency"), "required when the record has no default currency (rule 7.8.1)");
    }
    if (a->currency != NULL && !check_currency(w, FLD(field, "currency"), a->currency)) {
        return false;
    }
    return check_date(w, FLD(field, "value_date"), a->value_date, true);
}

static bool check_org_ref(struct iati_writer *w, const struct fld *field, const struct iati_org_ref *o, bool reporting)
{
    if (!check_ref(w, FLD(field, "ref"), o->ref, reporting) || !check_code(w, FLD(field, "type"), o->type, reporting) ||
        !check_identifier(w, FLD(field, "activity_id"), o->activity_id, false) ||
        !check_text(w, FLD(field, "name"), &o->name, reporting ? 1 : 0)) {
        return false;
    }
    if (o->ref == NULL && o->name.count == 0) {
        return invalid(w, field, "needs a ref or a name (rules 6.9.x / 6.10.1)");
    }
    return true;
}

static bool check_document_link(struct iati_writer *w, const struct fld *field, const struct iati_document_link *d)
{
    if (!check_identifier(w, FLD(field, "url"), d->url, true) ||
        !check_code(w, FLD(field, "format"), d->format, true) || !check_text(w, FLD(field, "title"), &d->title, 1) ||
        !check_text(w, FLD(field, "description"), &d->description, 0) ||
        !check_list(w, FLD(field, "categories"), d->categories, d->category_count, 1) ||
        !check_list(w, FLD(field, "languages"), d->languages, d->language_count, 0) ||
        !check_date(w, FLD(field, "document_date"), d->document_date, false)) {
        return false;
    }
    for (size_t i = 0; i < d->category_count; i++) {
        const struct fld *f = FLDI(field, "categories", i);
        if (!check_code(w, f, d->categories[i], true)) {
            return false;
        }
    }
    for (size_t i = 0; i < d->language_count; i++) {
        const struct fld *f = FLDI(field, "languages", i);
        if (!check_code(w, f, d->languages[i], true)) {
            return false;
        }
    }
    return true;
}

static bool check_location(struct iati_writer *w, const struct fld *field, const struct iati_location *l)
{
    if (!check_identifier(w, FLD(field, "ref"), l->ref, false) ||
        !check_code(w, FLD(field, "reach"), l->reach, false) ||
        !check_code(w, FLD(field, "id_vocabulary"), l->id_vocabulary, false) ||
        !check_identifier(w, FLD(field, "id_code"), l->id_code, false) ||
        !check_text(w, FLD(field, "name"), &l->name, 0) ||
        !check_text(w, FLD(field, "description"), &l->description, 0) ||
        !check_list(w, FLD(field, "admin"), l->admin, l->admin_count, 0) ||
        !check_code(w, FLD(field, "exactness"), l->exactness, false) ||
        !check_code(w, FLD(field, "location_class"), l->location_class, false) ||
        !check_code(w, FLD(field, "feature_designation"), l->feature_designation, false)) {
        return false;
    }
    if ((l->id_vocabulary == NULL) != (l->id_code == NULL)) {
        return invalid(w, field, "id_vocabulary and id_code go together");
    }
    for (size_t i = 0; i < l->admin_count; i++) {
        const struct iati_admin_area *ad = &l->admin[i];
        const struct fld *fa = FLDI(field, "admin", i);
        if (!check_code(w, fa, ad->vocabulary, true) || !check_identifier(w, fa, ad->code, true)) {
            return false;
        }
        bool vocab_ok = strcmp(ad->vocabulary, "G1") == 0 || (ad->vocabulary[0] == 'A' && is_digit(ad->vocabulary[1]) &&
                                                              ad->vocabulary[1] != '0' && ad->vocabulary[2] == '\0');
        if (!vocab_ok) {
            return invalid(w, fa, "administrative vocabulary must be G1 or A1..A9");
        }
        if (ad->level < -1 || ad->level > IATI_ADMIN_LEVEL_MAX) {
            return invalid(w, fa, "administrative level finer than a municipality is never published");
        }
    }
    return true;
}

static bool check_transaction(struct iati_writer *w, const struct fld *field, const struct iati_transaction *t)
{
    if (!check_identifier(w, FLD(field, "ref"), t->ref, false) || !check_code(w, FLD(field, "type"), t->type, true) ||
        !check_date(w, FLD(field, "date"), t->date, true) || !check_amount(w, FLD(field, "value"), &t->value) ||
        !check_text(w, FLD(field, "description"), &t->description, 0) ||
        !check_code(w, FLD(field, "flow_type"), t->flow_type, false) ||
        !check_code(w, FLD(field, "finance_type"), t->finance_type, false) ||
        !check_code(w, FLD(field, "aid_type"), t->aid_type, false) ||
        !check_code(w, FLD(field, "aid_type_vocabulary"), t->aid_type_vocabulary, false) ||
        !check_code(w, FLD(field, "tied_status"), t->tied_status, false)) {
        return false;
    }
    if (t->aid_type_vocabulary != NULL && t->aid_type == NULL) {
        return invalid(w, field, "aid_type_vocabulary without aid_type");
    }
    if (t->provider != NULL && !check_org_ref(w, FLD(field, "provider"), t->provider, false)) {
        return false;
    }
    if (t->receiver != NULL && !check_org_ref(w, FLD(field, "receiver"), t->receiver, false)) {
        return false;
    }
    return true;
}

static bool check_result(struct iati_writer *w, const struct fld *field, const struct iati_result *r)
{
    if (!check_code(w, FLD(field, "type"), r->type, true) || !check_text(w, FLD(field, "title"), &r->title, 1) ||
        !check_text(w, FLD(field, "description"), &r->description, 0) ||
        !check_list(w, FLD(field, "indicators"), r->indicators, r->indicator_count, 1)) {
        return false;
    }
    if (r->aggregation_status < -1 || r->aggregation_status > 1) {
        return invalid(w, field, "aggregation_status must be -1, 0 or 1");
    }
    for (size_t i = 0; i < r->indicator_count; i++) {
        const struct iati_indicator *ind = &r->indicators[i];
        const struct fld *fi = FLDI(field, "indicators", i);
        if (!check_code(w, FLD(fi, "measure"), ind->measure, true) ||
            !check_text(w, FLD(fi, "title"), &ind->title, 1) ||
            !check_text(w, FLD(fi, "description"), &ind->description, 0) ||
            !check_list(w, FLD(fi, "periods"), ind->periods, ind->period_count, 0)) {
            return false;
        }
        if (ind->ascending < -1 || ind->ascending > 1) {
            return invalid(w, fi, "ascending must be -1, 0 or 1");
        }
        if (ind->has_baseline) {
            if (ind->baseline_year == 0 || ind->baseline_year > 9999) {
                return invalid(w, fi, "baseline_year must be 1..9999");
            }
            if (!check_date(w, FLD(fi, "baseline_iso_date"), ind->baseline_iso_date, false) ||
                !check_string(w, FLD(fi, "baseline_value"), ind->baseline_value, false)) {
                return false;
            }
        }
        for (size_t j = 0; j < ind->period_count; j++) {
            const struct iati_indicator_period *p = &ind->periods[j];
            const struct fld *g = FLDI(fi, "periods", j);
            if (!check_date(w, FLD(g, "period_start"), p->period_start, true) ||
                !check_date(w, FLD(g, "period_end"), p->period_end, true) ||
                !check_string(w, FLD(g, "target_value"), p->target_value, false) ||
                !check_string(w, FLD(g, "actual_value"), p->actual_value, false)) {
                return false;
            }
        }
    }
    return true;
}

static bool check_crs_add(struct iati_writer *w, const struct iati_crs_add *c)
{
    const struct iati_loan_terms *t = c->loan_terms;
    if (t != NULL) {
        if (!check_bp(w, TOP("crs_add.loan_terms.rate_1_bp"), t->has_rate_1, t->rate_1_bp) ||
            !check_bp(w, TOP("crs_add.loan_terms.rate_2_bp"), t->has_rate_2, t->rate_2_bp) ||
            !check_code(w, TOP("crs_add.loan_terms.repayment_type"), t->repayment_type, false) ||
            !check_code(w, TOP("crs_add.loan_terms.repayment_plan"), t->repayment_plan, false) ||
            !check_date(w, TOP("crs_add.loan_terms.commitment_date"), t->commitment_date, false) ||
            !check_date(w, TOP("crs_add.loan_terms.repayment_first_date"), t->repayment_first_date, false) ||
            !check_date(w, TOP("crs_add.loan_terms.repayment_final_date"), t->repayment_final_date, false)) {
            return false;
        }
    }
    const struct iati_loan_status *s = c->loan_status;
    if (s != NULL) {
        if (s->year == 0 || s->year > 9999) {
            return invalid(w, TOP("crs_add.loan_status.year"), "must be 1..9999");
        }
        if (s->exponent < 0 || s->exponent > IATI_EXPONENT_MAX) {
            return invalid(w, TOP("crs_add.loan_status.exponent"), "outside 0..18");
        }
        if (s->currency == NULL && w->currency == NULL) {
            return invalid(w, TOP("crs_add.loan_status.currency"), "required when the record has no default currency");
        }
        if (s->currency != NULL && !check_currency(w, FLD(TOP("crs_add.loan_status"), "currency"), s->currency)) {
            return false;
        }
        if (!check_date(w, TOP("crs_add.loan_status.value_date"), s->value_date, true)) {
            return false;
        }
    }
    return true;
}

static bool check_activity(struct iati_writer *w, const struct iati_activity *a)
{
    w->lang = a->lang;
    w->currency = a->default_currency;
    if (!check_ref(w, TOP("identifier"), a->identifier, true) || !check_code(w, TOP("lang"), a->lang, false) ||
        !check_datetime(w, TOP("last_updated_datetime"), a->last_updated_datetime, false) ||
        !check_code(w, TOP("activity_status"), a->activity_status, true) ||
        !check_code(w, TOP("activity_scope"), a->activity_scope, false) ||
        !check_code(w, TOP("collaboration_type"), a->collaboration_type, false) ||
        !check_code(w, TOP("default_flow_type"), a->default_flow_type, false) ||
        !check_code(w, TOP("default_finance_type"), a->default_finance_type, false) ||
        !check_code(w, TOP("default_aid_type"), a->default_aid_type, false) ||
        !check_code(w, TOP("default_aid_type_vocabulary"), a->default_aid_type_vocabulary, false) ||
        !check_code(w, TOP("default_tied_status"), a->default_tied_status, false) ||
        !check_org_ref(w, TOP("reporting_org"), &a->reporting_org, true) ||
        !check_text(w, TOP("title"), &a->title, 1) ||
        !check_list(w, TOP("descriptions"), a->descriptions, a->description_count, 1) ||
        !check_list(w, TOP("participating_orgs"), a->participating_orgs, a->participating_org_count, 1) ||
        !check_list(w, TOP("dates"), a->dates, a->date_count, 1) ||
        !check_list(w, TOP("recipient_countries"), a->recipient_countries, a->recipient_country_count, 0) ||
        !check_list(w, TOP("locations"), a->locations, a->location_count, 0) ||
        !check_list(w, TOP("sectors"), a->sectors, a->sector_count, 0) ||
        !check_list(w, TOP("budgets"), a->budgets, a->budget_count, 0) ||
        !check_list(w, TOP("transactions"), a->transactions, a->transaction_count, 0) ||
        !check_list(w, TOP("document_links"), a->document_links, a->document_link_count, 0) ||
        !check_list(w, TOP("related_activities"), a->related_activities, a->related_activity_count, 0) ||
        !check_list(w, TOP("results"), a->results, a->result_count, 0)) {
        return false;
    }
    if (a->default_currency != NULL && !check_currency(w, TOP("default_currency"), a->default_currency)) {
        return false;
    }
    /* An identifier once published never changes: get its shape right here (rules 1.1.3, 1.1.21). */
    size_t prefix = strlen(a->reporting_org.ref);
    if (strncmp(a->identifier, a->reporting_org.ref, prefix) != 0 || a->identifier[prefix] != '-' ||
        a->identifier[prefix + 1] == '\0') {
        return invalid(w, TOP("identifier"), "must be the reporting_org ref, a hyphen and the fund's own id");
    }
    if (a->hierarchy < 0 || a->humanitarian < -1 || a->humanitarian > 1) {
        return invalid(w, TOP("hierarchy/humanitarian"), "hierarchy must be >= 0, humanitarian -1, 0 or 1");
    }
    if (a->default_aid_type_vocabulary != NULL && a->default_aid_type == NULL) {
        return invalid(w, TOP("default_aid_type_vocabulary"), "given without default_aid_type");
    }
    for (size_t i = 0; i < a->description_count; i++) {
        if (!check_code(w, FLD(FLDI(NULL, "descriptions", i), "type"), a->descriptions[i].type, false) ||
            !check_text(w, FLD(FLDI(NULL, "descriptions", i), "text"), &a->descriptions[i].text, 1)) {
            return false;
        }
    }
    for (size_t i = 0; i < a->participating_org_count; i++) {
        const struct iati_participating_org *p = &a->participating_orgs[i];
        if (!check_ref(w, FLD(FLDI(NULL, "participating_orgs", i), "ref"), p->ref, false) ||
            !check_code(w, FLD(FLDI(NULL, "participating_orgs", i), "type"), p->type, false) ||
            !check_code(w, FLD(FLDI(NULL, "participating_orgs", i), "role"), p->role, true) ||
            !check_identifier(w, FLD(FLDI(NULL, "participating_orgs", i), "activity_id"), p->activity_id, false) ||
            !check_text(w, FLD(FLDI(NULL, "participating_orgs", i), "name"), &p->name, 0)) {
            return false;
        }
        if (p->ref == NULL && p->name.count == 0) {
            return invalid(w, FLDI(NULL, "participating_orgs", i), "needs a ref or a name (rule 6.10.1)");
        }
    }
    for (size_t i = 0; i < a->date_count; i++) {
        if (!check_code(w, FLD(FLDI(NULL, "dates", i), "type"), a->dates[i].type, true) ||
            !check_date(w, FLD(FLDI(NULL, "dates", i), "iso_date"), a->dates[i].iso_date, true)) {
            return false;
        }
    }
    for (size_t i = 0; i < a->recipient_country_count; i++) {
        const struct iati_recipient_country *rc = &a->recipient_countries[i];
        if (!check_code(w, FLD(FLDI(NULL, "recipient_countries", i), "code"), rc->code, true) ||
            !check_bp(w, FLD(FLDI(NULL, "recipient_countries", i), "percentage_bp"), rc->has_percentage,
                      rc->percentage_bp)) {
            return false;
        }
    }
    for (size_t i = 0; i < a->location_count; i++) {
        if (!check_location(w, FLDI(NULL, "locations", i), &a->locations[i])) {
            return false;
        }
    }
    for (size_t i = 0; i < a->sector_count; i++) {
        const struct iati_sector *s = &a->sectors[i];
        if (!check_code(w, FLD(FLDI(NULL, "sectors", i), "vocabulary"), s->vocabulary, false) ||
            !check_code(w, FLD(FLDI(NULL, "sectors", i), "code"), s->code, true) ||
            !check_bp(w, FLD(FLDI(NULL, "sectors", i), "percentage_bp"), s->has_percentage, s->percentage_bp)) {
            return false;
        }
    }
    for (size_t i = 0; i < a->budget_count; i++) {
        const struct iati_budget *b = &a->budgets[i];
        if (!check_code(w, FLD(FLDI(NULL, "budgets", i), "type"), b->type, false) ||
            !check_code(w, FLD(FLDI(NULL, "budgets", i), "status"), b->status, false) ||
            !check_date(w, FLD(FLDI(NULL, "budgets", i), "period_start"), b->period_start, true) ||
            !check_date(w, FLD(FLDI(NULL, "budgets", i), "period_end"), b->period_end, true) ||
            !check_amount(w, FLD(FLDI(NULL, "budgets", i), "value"), &b->value)) {
            return false;
        }
    }
    for (size_t i = 0; i < a->transaction_count; i++) {
        if (!check_transaction(w, FLDI(NULL, "transactions", i), &a->transactions[i])) {
            return false;
        }
    }
    for (size_t i = 0; i < a->document_link_count; i++) {
        if (!check_document_link(w, FLDI(NULL, "document_links", i), &a->document_links[i])) {
            return false;
        }
    }
    for (size_t i = 0; i < a->related_activity_count; i++) {
        if (!check_code(w, FLD(FLDI(NULL, "related_activities", i), "type"), a->related_activities[i].type, true) ||
            !check_identifier(w, FLD(FLDI(NULL, "related_activities", i), "ref"), a->related_activities[i].ref, true)) {
            return false;
        }
    }
    for (size_t i = 0; i < a->result_count; i++) {
        if (!check_result(w, FLDI(NULL, "results", i), &a->results[i])) {
            return false;
        }
    }
    if (a->crs_add != NULL && !check_crs_add(w, a->crs_add)) {
        return false;
    }
    return true;
}

static bool check_organisation(struct iati_writer *w, const struct iati_organisation *o)
{
    w->lang = o->lang;
    w->currency = o->default_currency;
    if (!check_ref(w, TOP("identifier"), o->identifier, true) || !check_code(w, TOP("lang"), o->lang, false) ||
        !check_datetime(w, TOP("last_updated_datetime"), o->last_updated_datetime, false) ||
        !check_text(w, TOP("name"), &o->name, 1) || !check_org_ref(w, TOP("reporting_org"), &o->reporting_org, true) ||
        !check_list(w, TOP("total_budgets"), o->total_budgets, o->total_budget_count, 0) ||
        !check_list(w, TOP("country_budgets"), o->country_budgets, o->country_budget_count, 0) ||
        !check_list(w, TOP("expenditures"), o->expenditures, o->expenditure_count, 0) ||
        !check_list(w, TOP("document_links"), o->document_links, o->document_link_count, 0)) {
        return false;
    }
    if (o->default_currency != NULL && !check_currency(w, TOP("default_currency"), o->default_currency)) {
        return false;
    }
    for (size_t i = 0; i < o->total_budget_count; i++) {
        const struct iati_org_budget *b = &o->total_budgets[i];
        if (!check_code(w, FLD(FLDI(NULL, "total_budgets", i), "status"), b->status, false) ||
            !check_date(w, FLD(FLDI(NULL, "total_budgets", i), "period_start"), b->period_start, true) ||
            !check_date(w, FLD(FLDI(NULL, "total_budgets", i), "period_end"), b->period_end, true) ||
            !check_amount(w, FLD(FLDI(NULL, "total_budgets", i), "value"), &b->value)) {
            return false;
        }
    }
    for (size_t i = 0; i < o->country_budget_count; i++) {
        const struct iati_org_country_budget *b = &o->country_budgets[i];
        if (!check_code(w, FLD(FLDI(NULL, "country_budgets", i), "status"), b->status, false) ||
            !check_code(w, FLD(FLDI(NULL, "country_budgets", i), "country_code"), b->country_code, true) ||
            !check_date(w, FLD(FLDI(NULL, "country_budgets", i), "period_start"), b->period_start, true) ||
            !check_date(w, FLD(FLDI(NULL, "country_budgets", i), "period_end"), b->period_end, true) ||
            !check_amount(w, FLD(FLDI(NULL, "country_budgets", i), "value"), &b->value)) {
            return false;
        }
    }
    for (size_t i = 0; i < o->expenditure_count; i++) {
        const struct iati_org_expenditure *e = &o->expenditures[i];
        if (!check_date(w, FLD(FLDI(NULL, "expenditures", i), "period_start"), e->period_start, true) ||
            !check_date(w, FLD(FLDI(NULL, "expenditures", i), "period_end"), e->period_end, true) ||
            !check_amount(w, FLD(FLDI(NULL, "expenditures", i), "value"), &e->value)) {
            return false;
        }
    }
    for (size_t i = 0; i < o->document_link_count; i++) {
        if (!check_document_link(w, FLDI(NULL, "document_links", i), &o->document_links[i])) {
            return false;
        }
    }
    return true;
}

/* ---------------------------------------------------------------- XML primitives */

static bool rc_ok(struct iati_writer *w, int rc, const char *what)
{
    if (rc < 0) {
        return write_failed(w, what);
    }
    return true;
}

/*
 * Indentation. Two spaces per level, a child element on its own line, text inline: the layout of
 * xmlTextWriterSetIndent(1) byte for byte, written here as one raw line break and indentation
 * before a start tag (and before the end tag of an element that has children) instead of
 * xmlTextWriter's one write per level and per line end (about a tenth of a write's CPU).
 */
static const char indentation[] = "\n"
                                  "                                                                ";

static bool line_break(struct iati_writer *w, size_t level)
{
    assert(2 * level + 1 < sizeof indentation);
    return rc_ok(w, xmlTextWriterWriteRawLen(w->xw, BAD_CAST indentation, (int)(2 * level + 1)), "indentation");
}

static bool start(struct iati_writer *w, const char *name)
{
    if (w->open == OPEN_MAX) {
        errno = 0;
        return write_failed(w, "an element nested too deep");
    }
    if (w->open > 0) {
        w->has_child[w->open - 1] = true;
        if (!line_break(w, w->open)) {
            return false;
        }
    }
    if (!rc_ok(w, xmlTextWriterStartElement(w->xw, BAD_CAST name), name)) {
        return false;
    }
    w->has_child[w->open++] = false;
    return true;
}

static bool end(struct iati_writer *w)
{
    assert(w->open > 0);
    w->open--;
    if (w->has_child[w->open] && !line_break(w, w->open)) {
        return false;
    }
    return rc_ok(w, xmlTextWriterEndElement(w->xw), "end of element");
}

/* Writes the attribute when value is not NULL. */
static bool attr(struct iati_writer *w, const char *name, const char *value)
{
    if (value == NULL) {
        return true;
    }
    return rc_ok(w, xmlTextWriterWriteAttribute(w->xw, BAD_CAST name, BAD_CAST value), name);
}

static bool attr_uint(struct iati_writer *w, const char *name, unsigned long long v)
{
    char buf[24];
    (void)snprintf(buf, sizeof buf, "%llu", v);
    return attr(w, name, buf);
}

static bool string(struct iati_writer *w, const char *text)
{
    assert(text != NULL);
    return rc_ok(w, xmlTextWriterWriteString(w->xw, BAD_CAST text), "text");
}

/* <name attr_name="value"/> when value is not NULL. */
static bool coded(struct iati_writer *w, const char *name, const char *attr_name, const char *value)
{
    if (value == NULL) {
        return true;
    }
    return start(w, name) && attr(w, attr_name, value) && end(w);
}

/* <name iso-date=".."/> when iso is not NULL. */
static bool dated(struct iati_writer *w, const char *name, const char *iso)
{
    return coded(w, name, "iso-date", iso);
}

/* Basis points as a decimal without trailing zeros: 7000 -> "70", 1250 -> "12.5", 5 -> "0.05". */
static void format_bp(int32_t bp, char *buf, size_t cap)
{
    assert(bp >= 0);
    int32_t whole = bp / 100;
    int32_t frac = bp % 100;
    if (frac == 0) {
        (void)snprintf(buf, cap, "%d", (int)whole);
    } else if (frac % 10 == 0) {
        (void)snprintf(buf, cap, "%d.%d", (int)whole, (int)(frac / 10));
    } else {
        (void)snprintf(buf, cap, "%d.%02d", (int)whole, (int)frac);
    }
}

static bool attr_bp(struct iati_writer *w, const char *name, bool present, int32_t bp)
{
    if (!present) {
        return true;
    }
    char buf[16];
    format_bp(bp, buf, sizeof buf);
    return attr(w, name, buf);
}

static bool money_text(struct iati_writer *w, int64_t minor, int exponent)
{
    char buf[MONEY_TEXT_MAX];
    assert(exponent >= 0 && exponent <= IATI_EXPONENT_MAX);
    if (money_format(minor, exponent, buf, sizeof buf) == 0) {
        return write_failed(w, "amount");
    }
    return string(w, buf);
}

/* The narratives of t; xml:lang only where it differs from the record's default language. */
static bool narratives(struct iati_writer *w, const struct iati_text *t)
{
    for (size_t i = 0; i < t->count; i++) {
        const struct iati_narrative *n = &t->items[i];
        bool same = n->lang == NULL || (w->lang != NULL && strcmp(n->lang, w->lang) == 0);
        if (!start(w, "narrative") || (!same && !attr(w, "xml:lang", n->lang)) || !string(w, n->text) || !end(w)) {
            return false;
        }
    }
    return true;
}

/* <name><narrative>..</narrative>...</name>, skipped when t has no narrative. */
static bool text_element(struct iati_writer *w, const char *name, const struct iati_text *t)
{
    if (t->count == 0) {
        return true;
    }
    return start(w, name) && narratives(w, t) && end(w);
}

static bool amount_element(struct iati_writer *w, const char *name, const struct iati_amount *a)
{
    return start(w, name) && attr(w, "currency", a->currency) && attr(w, "value-date", a->value_date) &&
           money_text(w, a->amount_minor, a->exponent) && end(w);
}

static bool org_ref_element(struct iati_writer *w, const char *name, const char *activity_attr,
                            const struct iati_org_ref *o)
{
    if (!start(w, name) || !attr(w, "ref", o->ref) || !attr(w, "type", o->type)) {
        return false;
    }
    if (activity_attr != NULL && !attr(w, activity_attr, o->activity_id)) {
        return false;
    }
    return narratives(w, &o->name) && end(w);
}

static bool document_link_element(struct iati_writer *w, const struct iati_document_link *d)
{
    if (!start(w, "document-link") || !attr(w, "format", d->format) || !attr(w, "url", d->url) ||
        !text_element(w, "title", &d->title) || !text_element(w, "description", &d->description)) {
        return false;
    }
    for (size_t i = 0; i < d->category_count; i++) {
        if (!coded(w, "category", "code", d->categories[i])) {
            return false;
        }
    }
    for (size_t i = 0; i < d->language_count; i++) {
        if (!coded(w, "language", "code", d->languages[i])) {
            return false;
        }
    }
    return dated(w, "document-date", d->document_date) && end(w);
}

/* ---------------------------------------------------------------- activity elements (XSD order) */

static bool location_element(struct iati_writer *w, const struct iati_location *l)
{
    if (!start(w, "location") || !attr(w, "ref", l->ref) || !coded(w, "location-reach", "code", l->reach)) {
        return false;
    }
    if (l->id_vocabulary != NULL) {
        if (!start(w, "location-id") || !attr(w, "vocabulary", l->id_vocabulary) || !attr(w, "code", l->id_code) ||
            !end(w)) {
            return false;
        }
    }
    if (!text_element(w, "name", &l->name) || !text_element(w, "description", &l->description)) {
        return false;
    }
    for (size_t i = 0; i < l->admin_count; i++) {
        const struct iati_admin_area *ad = &l->admin[i];
        if (!start(w, "administrative") || !attr(w, "vocabulary", ad->vocabulary) ||
            (ad->level >= 0 && !attr_uint(w, "level", (unsigned long long)ad->level)) || !attr(w, "code", ad->code) ||
            !end(w)) {
            return false;
        }
    }
    /* <point> would come here: never written (domain.md §10). */
    return coded(w, "exactness", "code", l->exactness) && coded(w, "location-class", "code", l->location_class) &&
           coded(w, "feature-designation", "code", l->feature_designation) && end(w);
}

static bool transaction_element(struct iati_writer *w, const struct iati_transaction *t)
{
    if (!start(w, "transaction") || !attr(w, "ref", t->ref) || !coded(w, "transaction-type", "code", t->type) ||
        !dated(w, "transaction-date", t->date) || !amount_element(w, "value", &t->value) ||
        !text_element(w, "description", &t->description)) {
        return false;
    }
    if (t->provider != NULL && !org_ref_element(w, "provider-org", "provider-activity-id", t->provider)) {
        return false;
    }
    if (t->receiver != NULL && !org_ref_element(w, "receiver-org", "receiver-activity-id", t->receiver)) {
        return false;
    }
    if (!coded(w, "flow-type", "code", t->flow_type) || !coded(w, "finance-type", "code", t->finance_type)) {
        return false;
    }
    if (t->aid_type != NULL) {
        if (!start(w, "aid-type") || !attr(w, "code", t->aid_type) || !attr(w, "vocabulary", t->aid_type_vocabulary) ||
            !end(w)) {
            return false;
        }
    }
    return coded(w, "tied-status", "code", t->tied_status) && end(w);
}

static bool result_element(struct iati_writer *w, const struct iati_result *r)
{
    if (!start(w, "result") || !attr(w, "type", r->type) ||
        (r->aggregation_status >= 0 && !attr(w, "aggregation-status", r->aggregation_status ? "1" : "0")) ||
        !text_element(w, "title", &r->title) || !text_element(w, "description", &r->description)) {
        return false;
    }
    for (size_t i = 0; i < r->indicator_count; i++) {
        const struct iati_indicator *ind = &r->indicators[i];
        if (!start(w, "indicator") || !attr(w, "measure", ind->measure) ||
            (ind->ascending >= 0 && !attr(w, "ascending", ind->ascending ? "1" : "0")) ||
            !text_element(w, "title", &ind->title) || !text_element(w, "description", &ind->description)) {
            return false;
        }
        if (ind->has_baseline) {
            if (!start(w, "baseline") || !attr_uint(w, "year", ind->baseline_year) ||
                !attr(w, "iso-date", ind->baseline_iso_date) || !attr(w, "value", ind->baseline_value) || !end(w)) {
                return false;
            }
        }
        for (size_t j = 0; j < ind->period_count; j++) {
            const struct iati_indicator_period *p = &ind->periods[j];
            if (!start(w, "period") || !dated(w, "period-start", p->period_start) ||
                !dated(w, "period-end", p->period_end) || !coded(w, "target", "value", p->target_value) ||
                !coded(w, "actual", "value", p->actual_value) || !end(w)) {
                return false;
            }
        }
        if (!end(w)) {
            return false;
        }
    }
    return end(w);
}

static bool opt_money_element(struct iati_writer *w, const char *name, const struct iati_opt_minor *m, int exponent)
{
    if (!m->present) {
        return true;
    }
    return start(w, name) && money_text(w, m->minor, exponent) && end(w);
}

static bool crs_add_element(struct iati_writer *w, const struct iati_crs_add *c)
{
    if (!start(w, "crs-add")) {
        return false;
    }
    const struct iati_loan_terms *t = c->loan_terms;
    if (t != NULL) {
        if (!start(w, "loan-terms") || !attr_bp(w, "rate-1", t->has_rate_1, t->rate_1_bp) ||
            !attr_bp(w, "rate-2", t->has_rate_2, t->rate_2_bp) ||
            !coded(w, "repayment-type", "code", t->repayment_type) ||
            !coded(w, "repayment-plan", "code", t->repayment_plan) ||
            !dated(w, "commitment-date", t->commitment_date) ||
            !dated(w, "repayment-first-date", t->repayment_first_date) ||
            !dated(w, "repayment-final-date", t->repayment_final_date) || !end(w)) {
            return false;
        }
    }
    const struct iati_loan_status *s = c->loan_status;
    if (s != NULL) {
        if (!start(w, "loan-status") || !attr_uint(w, "year", s->year) || !attr(w, "currency", s->currency) ||
            !attr(w, "value-date", s->value_date) ||
            !opt_money_element(w, "interest-received", &s->interest_received, s->exponent) ||
            !opt_money_element(w, "principal-outstanding", &s->principal_outstanding, s->exponent) ||
            !opt_money_element(w, "principal-arrears", &s->principal_arrears, s->exponent) ||
            !opt_money_element(w, "interest-arrears", &s->interest_arrears, s->exponent) || !end(w)) {
            return false;
        }
    }
    return end(w);
}

/* The related activities a source streams (iati_activity.related_next), each checked, then written.
 * A bad item or a failed source breaks the writer: the record is already half-written. */
static bool related_stream(struct iati_writer *w, const struct iati_activity *a)
{
    for (unsigned long i = 0; i < IATI_STREAM_ITEMS_MAX; i++) {
        struct iati_related_activity r = {NULL, NULL};
        int rc = a->related_next(a->related_ctx, &r);
        if (rc == 0) {
            return true;
        }
        const struct fld *f = FLDI(NULL, "related_next", i);
        if (rc < 0) {
            char name[FIELD_BYTES];
            w->failed = IATI_ERR_IO;
            set_error(w, "%s: the source of related activities failed", field_text(f, name, sizeof name));
            return false;
        }
        if (!check_code(w, f, r.type, true) || !check_identifier(w, f, r.ref, true)) {
            w->failed = IATI_ERR_INVALID;
            return false;
        }
        if (!start(w, "related-activity") || !attr(w, "ref", r.ref) || !attr(w, "type", r.type) || !end(w)) {
            return false;
        }
    }
    w->failed = IATI_ERR_INVALID;
    set_error(w, "related_next: more than IATI_STREAM_ITEMS_MAX items");
    return false;
}

/* One <iati-activity>, children in the order of the iati-activity xsd:sequence. */
static bool activity_element(struct iati_writer *w, const struct iati_activity *a)
{
    w->lang = a->lang;
    if (!start(w, "iati-activity") || !attr(w, "last-updated-datetime", a->last_updated_datetime) ||
        !attr(w, "xml:lang", a->lang) || !attr(w, "default-currency", a->default_currency) ||
        (a->hierarchy > 0 && !attr_uint(w, "hierarchy", (unsigned long long)a->hierarchy)) ||
        (a->humanitarian >= 0 && !attr(w, "humanitarian", a->humanitarian ? "1" : "0"))) {
        return false;
    }
    if (!start(w, "iati-identifier") || !string(w, a->identifier) || !end(w) ||
        !org_ref_element(w, "reporting-org", NULL, &a->reporting_org) || !text_element(w, "title", &a->title)) {
        return false;
    }
    for (size_t i = 0; i < a->description_count; i++) {
        const struct iati_description *d = &a->descriptions[i];
        if (!start(w, "description") || !attr(w, "type", d->type) || !narratives(w, &d->text) || !end(w)) {
            return false;
        }
    }
    for (size_t i = 0; i < a->participating_org_count; i++) {
        const struct iati_participating_org *p = &a->participating_orgs[i];
        if (!start(w, "participating-org") || !attr(w, "ref", p->ref) || !attr(w, "role", p->role) ||
            !attr(w, "type", p->type) || !attr(w, "activity-id", p->activity_id) || !narratives(w, &p->name) ||
            !end(w)) {
            return false;
        }
    }
    if (!coded(w, "activity-status", "code", a->activity_status)) {
        return false;
    }
    for (size_t i = 0; i < a->date_count; i++) {
        if (!start(w, "activity-date") || !attr(w, "type", a->dates[i].type) ||
            !attr(w, "iso-date", a->dates[i].iso_date) || !end(w)) {
            return false;
        }
    }
    if (!coded(w, "activity-scope", "code", a->activity_scope)) {
        return false;
    }
    for (size_t i = 0; i < a->recipient_country_count; i++) {
        const struct iati_recipient_country *rc = &a->recipient_countries[i];
        if (!start(w, "recipient-country") || !attr(w, "code", rc->code) ||
            !attr_bp(w, "percentage", rc->has_percentage, rc->percentage_bp) || !end(w)) {
            return false;
        }
    }
    for (size_t i = 0; i < a->location_count; i++) {
        if (!location_element(w, &a->locations[i])) {
            return false;
        }
    }
    for (size_t i = 0; i < a->sector_count; i++) {
        const struct iati_sector *s = &a->sectors[i];
        if (!start(w, "sector") || !attr(w, "vocabulary", s->vocabulary != NULL ? s->vocabulary : "1") ||
            !attr(w, "code", s->code) || !attr_bp(w, "percentage", s->has_percentage, s->percentage_bp) || !end(w)) {
            return false;
        }
    }
    if (!coded(w, "collaboration-type", "code", a->collaboration_type) ||
        !coded(w, "default-flow-type", "code", a->default_flow_type) ||
        !coded(w, "default-finance-type", "code", a->default_finance_type)) {
        return false;
    }
    if (a->default_aid_type != NULL) {
        if (!start(w, "default-aid-type") || !attr(w, "code", a->default_aid_type) ||
            !attr(w, "vocabulary", a->default_aid_type_vocabulary) || !end(w)) {
            return false;
        }
    }
    if (!coded(w, "default-tied-status", "code", a->default_tied_status)) {
        return false;
    }
    for (size_t i = 0; i < a->budget_count; i++) {
        const struct iati_budget *b = &a->budgets[i];
        if (!start(w, "budget") || !attr(w, "type", b->type) || !attr(w, "status", b->status) ||
            !dated(w, "period-start", b->period_start) || !dated(w, "period-end", b->period_end) ||
            !amount_element(w, "value", &b->value) || !end(w)) {
            return false;
        }
    }
    for (size_t i = 0; i < a->transaction_count; i++) {
        if (!transaction_element(w, &a->transactions[i])) {
            return false;
        }
    }
    for (size_t i = 0; i < a->document_link_count; i++) {
        if (!document_link_element(w, &a->document_links[i])) {
            return false;
        }
    }
    for (size_t i = 0; i < a->related_activity_count; i++) {
        const struct iati_related_activity *r = &a->related_activities[i];
        if (!start(w, "related-activity") || !attr(w, "ref", r->ref) || !attr(w, "type", r->type) || !end(w)) {
            return false;
        }
    }
    if (a->related_next != NULL && !related_stream(w, a)) {
        return false;
    }
    for (size_t i = 0; i < a->result_count; i++) {
        if (!result_element(w, &a->results[i])) {
            return false;
        }
    }
    if (a->crs_add != NULL && !crs_add_element(w, a->crs_add)) {
        return false;
    }
    return end(w);
}

/* One <iati-organisation>, children in the order of the iati-organisation xsd:sequence. */
static bool organisation_element(struct iati_writer *w, const struct iati_organisation *o)
{
    w->lang = o->lang;
    if (!start(w, "iati-organisation") || !attr(w, "last-updated-datetime", o->last_updated_datetime) ||
        !attr(w, "xml:lang", o->lang) || !attr(w, "default-currency", o->default_currency) ||
        !start(w, "organisation-identifier") || !string(w, o->identifier) || !end(w) ||
        !text_element(w, "name", &o->name) || !org_ref_element(w, "reporting-org", NULL, &o->reporting_org)) {
        return false;
    }
    for (size_t i = 0; i < o->total_budget_count; i++) {
        const struct iati_org_budget *b = &o->total_budgets[i];
        if (!start(w, "total-budget") || !attr(w, "status", b->status) || !dated(w, "period-start", b->period_start) ||
            !dated(w, "period-end", b->period_end) || !amount_element(w, "value", &b->value) || !end(w)) {
            return false;
        }
    }
    /* recipient-org-budget and recipient-region-budget come here: the fund publishes neither. */
    for (size_t i = 0; i < o->country_budget_count; i++) {
        const struct iati_org_country_budget *b = &o->country_budgets[i];
        if (!start(w, "recipient-country-budget") || !attr(w, "status", b->status) ||
            !coded(w, "recipient-country", "code", b->country_code) || !dated(w, "period-start", b->period_start) ||
            !dated(w, "period-end", b->period_end) || !amount_element(w, "value", &b->value) || !end(w)) {
            return false;
        }
    }
    for (size_t i = 0; i < o->expenditure_count; i++) {
        const struct iati_org_expenditure *e = &o->expenditures[i];
        if (!start(w, "total-expenditure") || !dated(w, "period-start", e->period_start) ||
            !dated(w, "period-end", e->period_end) || !amount_element(w, "value", &e->value) || !end(w)) {
            return false;
        }
    }
    for (size_t i = 0; i < o->document_link_count; i++) {
        if (!document_link_element(w, &o->document_links[i])) {
            return false;
        }
    }
    return end(w);
}

/* ---------------------------------------------------------------- open, add, close */

/* libxml2's output callback of a path writer: fp, and every WRITEBACK_BYTES the kernel is asked to
 * start writing what it has to disk (a hint: where it is not available nothing changes). */
static int file_write(void *ctx, const char *buf, int len)
{
    struct iati_writer *w = ctx;
    if (len <= 0) {
        return 0;
    }
    if (fwrite(buf, 1, (size_t)len, w->fp) != (size_t)len) {
        return -1;
    }
    w->written += len;
    if (w->written - w->writeback >= (off_t)WRITEBACK_BYTES) {
        if (fflush(w->fp) != 0) {
            return -1;
        }
#if defined(__linux__)
        (void)sync_file_range(fileno(w->fp), w->writeback, w->written - w->writeback, SYNC_FILE_RANGE_WRITE);
#endif
        w->writeback = w->written;
    }
    return len;
}

static int file_flush(void *ctx)
{
    struct iati_writer *w = ctx;
    return fflush(w->fp) == 0 ? 0 : -1;
}

static void writer_free(struct iati_writer *w, bool remove_tmp)
{
    if (w->xw != NULL) {
        xmlFreeTextWriter(w->xw); /* closes the output buffer; for a FILE* that only flushes */
        w->xw = NULL;
    }
    if (w->tmp_path != NULL) {
        if (w->fp != NULL) {
            (void)fclose(w->fp);
        }
        if (remove_tmp) {
            (void)unlink(w->tmp_path);
        }
    }
    free(w->tmp_path);
    free(w->final_path);
    free(w);
}

static enum iati_status writer_open(enum writer_kind kind, const char *path, FILE *fp, const char *generated,
                                    struct iati_writer **out)
{
    assert(out != NULL);
    assert((path == NULL) != (fp == NULL));
    *out = NULL;
    struct iati_writer *w = calloc(1, sizeof *w);
    if (w == NULL) {
        return IATI_ERR_NOMEM;
    }
    w->kind = kind;
    iati_chk_libxml_init();
    enum iati_status st = IATI_OK;
    if (!check_datetime(w, TOP("generated_datetime"), generated, true)) {
        st = IATI_ERR_INVALID;
        goto fail;
    }
    if (path != NULL) {
        size_t n = strlen(path);
        w->final_path = strdup(path);
        w->tmp_path = malloc(n + sizeof ".XXXXXX");
        if (w->final_path == NULL || w->tmp_path == NULL) {
            st = IATI_ERR_NOMEM;
            goto fail;
        }
        memcpy(w->tmp_path, path, n);
        memcpy(w->tmp_path + n, ".XXXXXX", sizeof ".XXXXXX");
        int fd = mkstemp(w->tmp_path);
        if (fd < 0) {
            free(w->tmp_path);
            w->tmp_path = NULL;
            st = IATI_ERR_IO;
            goto fail;
        }
        if (fchmod(fd, 0644) != 0) {
            (void)close(fd);
            (void)unlink(w->tmp_path);
            free(w->tmp_path);
            w->tmp_path = NULL;
            st = IATI_ERR_IO;
            goto fail;
        }
        w->fp = fdopen(fd, "wb");
        if (w->fp == NULL) {
            (void)close(fd);
            st = IATI_ERR_IO;
            goto fail;
        }
        if (setvbuf(w->fp, NULL, _IOFBF, FILE_BUFFER_BYTES) != 0) {
            st = IATI_ERR_NOMEM;
            goto fail;
        }
    } else {
        w->fp = fp;
    }
    xmlOutputBufferPtr buf = path != NULL ? xmlOutputBufferCreateIO(file_write, file_flush, w, NULL)
                                          : xmlOutputBufferCreateFile(w->fp, NULL);
    if (buf == NULL) {
        st = IATI_ERR_NOMEM;
        goto fail;
    }
    w->xw = xmlNewTextWriter(buf); /* owns buf from here on; on NULL it is still ours */
    if (w->xw == NULL) {
        (void)xmlOutputBufferClose(buf);
        st = IATI_ERR_NOMEM;
        goto fail;
    }
    const char *root = kind == WRITER_ACTIVITIES ? "iati-activities" : "iati-organisations";
    if (!rc_ok(w, xmlTextWriterStartDocument(w->xw, "1.0", "UTF-8", NULL), "XML declaration") || !start(w, root) ||
        !attr(w, "version", IATI_VERSION) || !attr(w, "generated-datetime", generated)) {
        st = w->failed;
        goto fail;
    }
    *out = w;
    return IATI_OK;
fail:
    writer_free(w, true);
    return st;
}

static enum iati_status writer_close(struct iati_writer *w, enum writer_kind kind)
{
    assert(w != NULL);
    enum iati_status st = w->failed;
    if (st == IATI_OK && w->kind != kind) {
        st = IATI_ERR_STATE;
    }
    if (st == IATI_OK && w->records == 0) {
        st = IATI_ERR_INVALID; /* the schema wants at least one record: never publish an empty file */
    }
    if (st == IATI_OK) {
        errno = 0;
        if (!end(w) || !rc_ok(w, xmlTextWriterEndDocument(w->xw), "end of document") ||
            !rc_ok(w, xmlTextWriterFlush(w->xw), "flush")) {
            st = w->failed;
        }
    }
    xmlFreeTextWriter(w->xw);
    w->xw = NULL;
    if (st == IATI_OK) {
        if (fflush(w->fp) != 0 || ferror(w->fp)) {
            st = IATI_ERR_IO;
        }
    }
    if (w->tmp_path != NULL) {
        if (st == IATI_OK && fsync(fileno(w->fp)) != 0) {
            st = IATI_ERR_IO;
        }
        int rc = fclose(w->fp);
        w->fp = NULL;
        if (st == IATI_OK && rc != 0) {
            st = IATI_ERR_IO;
        }
        if (st == IATI_OK && rename(w->tmp_path, w->final_path) != 0) {
            st = IATI_ERR_IO;
        }
    }
    writer_free(w, st != IATI_OK);
    return st;
}

/* Runs the model check, then writes; the shared body of both _add functions. */
static enum iati_status writer_add(struct iati_writer *w, enum writer_kind kind, const void *record)
{
    assert(w != NULL);
    assert(record != NULL);
    if (w->failed != IATI_OK || w->kind != kind) {
        set_error(w, "writer not usable: %s", w->failed != IATI_OK ? "an earlier write failed" : "wrong kind");
        return IATI_ERR_STATE;
    }
    w->error[0] = '\0';
    bool valid = kind == WRITER_ACTIVITIES ? check_activity(w, record) : check_organisation(w, record);
    if (!valid) {
        return IATI_ERR_INVALID;
    }
    errno = 0;
    bool written = kind == WRITER_ACTIVITIES ? activity_element(w, record) : organisation_element(w, record);
    if (!written) {
        assert(w->failed != IATI_OK);
        return w->failed;
    }
    w->records++;
    return IATI_OK;
}

enum iati_status iati_activities_writer_open(const char *path, const char *generated_datetime, struct iati_writer **out)
{
    if (path == NULL) {
        return IATI_ERR_INVALID;
    }
    return writer_open(WRITER_ACTIVITIES, path, NULL, generated_datetime, out);
}

enum iati_status iati_activities_writer_open_file(FILE *fp, const char *generated_datetime, struct iati_writer **out)
{
    if (fp == NULL) {
        return IATI_ERR_INVALID;
    }
    return writer_open(WRITER_ACTIVITIES, NULL, fp, generated_datetime, out);
}

enum iati_status iati_activities_writer_add(struct iati_writer *w, const struct iati_activity *a)
{
    return writer_add(w, WRITER_ACTIVITIES, a);
}

enum iati_status iati_activities_writer_close(struct iati_writer *w)
{
    return writer_close(w, WRITER_ACTIVITIES);
}

enum iati_status iati_organisations_writer_open(const char *path, const char *generated_datetime,
                                                struct iati_writer **out)
{
    if (path == NULL) {
        return IATI_ERR_INVALID;
    }
    return writer_open(WRITER_ORGANISATIONS, path, NULL, generated_datetime, out);
}

enum iati_status iati_organisations_writer_open_file(FILE *fp, const char *generated_datetime, struct iati_writer **out)
{
    if (fp == NULL) {
        return IATI_ERR_INVALID;
    }
    return writer_open(WRITER_ORGANISATIONS, NULL, fp, generated_datetime, out);
}

enum iati_status iati_organisations_writer_add(struct iati_writer *w, const struct iati_organisation *o)
{
    return writer_add(w, WRITER_ORGANISATIONS, o);
}

enum iati_status iati_organisations_writer_close(struct iati_writer *w)
{
    return writer_close(w, WRITER_ORGANISATIONS);
}

void iati_writer_abort(struct iati_writer *w)
{
    if (w == NULL) {
        return;
    }
    writer_free(w, true);
}

const char *iati_writer_error(const struct iati_writer *w)
{
    assert(w != NULL);
    return w->error;
}
