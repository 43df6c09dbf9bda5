/* IATI check: streams a file through the XSD, then applies codelists and rulesets record by record. */
#include "check_internal.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/xmlIO.h>
#include <libxml/xmlreader.h>
#include <libxml/xmlschemas.h>

/* Reader steps over one file: far above any real file (each step is one node); bounds the loop. */
#define READ_STEPS_MAX (1ull << 40)
/* A path built from the configuration (schema dir + file name). */
#define PATH_BYTES_MAX 4096

/* ---------------------------------------------------------------- libxml2 set-up */

static pthread_once_t libxml_once = PTHREAD_ONCE_INIT;

static void libxml_init(void)
{
    xmlInitParser();
    /* Whatever a schema, codelist or file names, nothing is ever fetched over the network.
     * The entity loader is process-wide in libxml2: set once, before any parsing here. */
    xmlSetExternalEntityLoader(xmlNoNetExternalEntityLoader);
}

void iati_chk_libxml_init(void)
{
    int rc = pthread_once(&libxml_once, libxml_init);
    assert(rc == 0);
    (void)rc;
}

/* ---------------------------------------------------------------- problems */

void iati_problems_init(struct iati_problems *p)
{
    assert(p != NULL);
    memset(p, 0, sizeof *p);
}

void iati_problems_free(struct iati_problems *p)
{
    assert(p != NULL);
    free(p->items);
    memset(p, 0, sizeof *p);
}

const struct iati_problem *iati_problems_find(const struct iati_problems *p, const char *rule_id)
{
    assert(p != NULL && rule_id != NULL);
    for (size_t i = 0; i < p->count; i++) {
        if (strcmp(p->items[i].rule_id, rule_id) == 0) {
            return &p->items[i];
        }
    }
    return NULL;
}

const char *iati_severity_name(enum iati_severity s)
{
    switch (s) {
    case IATI_SEVERITY_ERROR:
        return "error";
    case IATI_SEVERITY_WARNING:
        return "warning";
    case IATI_SEVERITY_INFO:
        return "info";
    }
    return "error";
}

void iati_problems_print(const struct iati_problems *p, FILE *fp)
{
    assert(p != NULL && fp != NULL);
    for (size_t i = 0; i < p->count; i++) {
        const struct iati_problem *q = &p->items[i];
        (void)fprintf(fp, "%s %s %s line %ld: %s\n", q->rule_id, iati_severity_name(q->severity), q->location, q->line,
                      q->message);
    }
    if (p->dropped > 0) {
        (void)fprintf(fp, "... and %zu more problems not kept\n", p->dropped);
    }
}

size_t iati_problems_count(const struct iati_problems *p, size_t from, enum iati_severity severity)
{
    assert(p != NULL);
    size_t n = 0;
    for (size_t i = from; i < p->count; i++) {
        n += p->items[i].severity == severity ? 1 : 0;
    }
    return n;
}

bool iati_problems_errors_since(const struct iati_problems *p, size_t from, size_t dropped_before)
{
    assert(p != NULL);
    return p->dropped > dropped_before || iati_problems_count(p, from, IATI_SEVERITY_ERROR) > 0;
}

/* One finding in the Validator's shape; NULL when out of memory. */
static json_t *problem_json(const char *id, const char *severity, const char *message, const char *location, long line)
{
    char context[64];
    if (line > 0) {
        (void)snprintf(context, sizeof context, "At line: %ld", line);
    } else {
        context[0] = '\0';
    }
    /* "id" as the Validator names it; "rule_id" as this API always has (the same value) */
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:[{s:s}]}", "id", id, "rule_id", id, "severity", severity,
                     "message", message, "location", location, "line", (json_int_t)line, "context", "text", context);
}

json_t *iati_problems_json(const struct iati_problems *p, size_t from)
{
    assert(p != NULL);
    json_t *list = json_array();
    for (size_t i = from; list != NULL && i < p->count; i++) {
        const struct iati_problem *q = &p->items[i];
        if (json_array_append_new(list, problem_json(q->rule_id, iati_severity_name(q->severity), q->message,
                                                     q->location, q->line)) != 0) {
            json_decref(list);
            return NULL;
        }
    }
    if (list != NULL && p->dropped > 0) {
        char msg[96];
        (void)snprintf(msg, sizeof msg, "%zu more problems were found and not kept", p->dropped);
        if (json_array_append_new(list, problem_json("FL-LIMIT", "error", msg, "/", 0)) != 0) {
            json_decref(list);
            return NULL;
        }
    }
    return list;
}

/* A zeroed slot at the end of the list, or NULL (counted as dropped) when full or out of memory. */
static struct iati_problem *problem_slot(struct iati_problems *p)
{
    if (p->count >= IATI_PROBLEMS_MAX) {
        p->dropped++;
        return NULL;
    }
    if (p->count == p->capacity) {
        size_t cap = p->capacity == 0 ? 16 : p->capacity * 2;
        if (cap > IATI_PROBLEMS_MAX) {
            cap = IATI_PROBLEMS_MAX;
        }
        struct iati_problem *items = realloc(p->items, cap * sizeof *items);
        if (items == NULL) {
            p->dropped++;
            return NULL;
        }
        p->items = items;
        p->capacity = cap;
    }
    struct iati_problem *q = &p->items[p->count++];
    memset(q, 0, sizeof *q);
    return q;
}

/* Copies src into dst (cap bytes), cutting with "..." when it does not fit. */
static void copy_cut(char *dst, size_t cap, const char *src)
{
    assert(cap > 4);
    size_t n = strlen(src);
    if (n < cap) {
        memcpy(dst, src, n + 1);
        return;
    }
    memcpy(dst, src, cap - 4);
    memcpy(dst + cap - 4, "...", 4);
}

static void problem_vfill(struct iati_problem *q, const char *rule_id, enum iati_severity severity,
                          const char *location, long line, const char *fmt, va_list ap)
    __attribute__((format(printf, 6, 0)));

static void problem_vfill(struct iati_problem *q, const char *rule_id, enum iati_severity severity,
                          const char *location, long line, const char *fmt, va_list ap)
{
    copy_cut(q->rule_id, sizeof q->rule_id, rule_id);
    q->severity = severity;
    q->line = line;
    copy_cut(q->location, sizeof q->location, location);
    if (vsnprintf(q->message, sizeof q->message, fmt, ap) < 0) {
        q->message[0] = '\0';
    }
    /* One line: a parser message ends with a newline. */
    size_t n = strlen(q->message);
    while (n > 0 && (q->message[n - 1] == '\n' || q->message[n - 1] == ' ')) {
        q->message[--n] = '\0';
    }
}

void iati_chk_problem_at(struct iati_problems *out, const char *rule_id, enum iati_severity severity,
                         const char *location, long line, const char *fmt, ...)
{
    assert(out != NULL && rule_id != NULL && location != NULL);
    struct iati_problem *q = problem_slot(out);
    if (q == NULL) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    problem_vfill(q, rule_id, severity, location, line, fmt, ap);
    va_end(ap);
}

void iati_chk_problem(struct iati_chk *c, const char *rule_id, enum iati_severity severity, const xmlNode *node,
                      const char *attr, const char *fmt, ...)
{
    assert(c != NULL && rule_id != NULL);
    struct iati_problem *q = problem_slot(c->out);
    if (q == NULL) {
        return;
    }
    char location[IATI_LOCATION_BYTES];
    iati_chk_location(c, node, attr, location, sizeof location);
    long line = node != NULL ? xmlGetLineNo(node) : 0;
    va_list ap;
    va_start(ap, fmt);
    problem_vfill(q, rule_id, severity, location, line < 0 ? 0 : line, fmt, ap);
    va_end(ap);
}

/* ---------------------------------------------------------------- locations */

struct sbuf {
    char *buf;
    size_t cap;
    size_t len;
    bool cut;
};

static void sbuf_add(struct sbuf *s, const char *text)
{
    size_t n = strlen(text);
    if (s->cut) {
        return;
    }
    if (s->len + n + 1 > s->cap) {
        s->cut = true;
        if (s->cap >= 4) {
            size_t keep = s->cap - 4 < s->len ? s->cap - 4 : s->len;
            memcpy(s->buf + keep, "...", 4);
            s->len = keep + 3;
        }
        return;
    }
    memcpy(s->buf + s->len, text, n + 1);
    s->len += n;
}

static bool same_name(const xmlNode *a, const xmlNode *b)
{
    return a->type == XML_ELEMENT_NODE && b->type == XML_ELEMENT_NODE && xmlStrEqual(a->name, b->name) &&
           (a->ns == NULL) == (b->ns == NULL);
}

/* "/name" or "/name[i]" (i 1-based among same-named siblings, shown when there are several). */
static void add_step(struct sbuf *s, const xmlNode *n)
{
    size_t before = 0;
    bool more_after = false;
    size_t guard = 0;
    for (const xmlNode *p = n->prev; p != NULL && guard < IATI_CHECK_NODES_MAX; p = p->prev, guard++) {
        if (same_name(p, n)) {
            before++;
        }
    }
    for (const xmlNode *p = n->next; p != NULL && guard < IATI_CHECK_NODES_MAX; p = p->next, guard++) {
        if (same_name(p, n)) {
            more_after = true;
            break;
        }
    }
    sbuf_add(s, "/");
    sbuf_add(s, (const char *)n->name);
    if (before > 0 || more_after) {
        char idx[32];
        (void)snprintf(idx, sizeof idx, "[%zu]", before + 1);
        sbuf_add(s, idx);
    }
}

void iati_chk_location(const struct iati_chk *c, const xmlNode *node, const char *attr, char *buf, size_t cap)
{
    assert(c != NULL && buf != NULL && cap > 4);
    struct sbuf s = {buf, cap, 0, false};
    buf[0] = '\0';
    const xmlNode *chain[IATI_CHECK_DEPTH_MAX + 2];
    size_t depth = 0;
    for (const xmlNode *n = node; n != NULL && n->type == XML_ELEMENT_NODE && depth < IATI_CHECK_DEPTH_MAX + 2;
         n = n->parent) {
        chain[depth++] = n;
        if (n == c->item) {
            break;
        }
    }
    sbuf_add(&s, "/");
    sbuf_add(&s, c->root_name);
    size_t top = depth;
    if (depth > 0 && chain[depth - 1] == c->item) {
        char idx[48];
        (void)snprintf(idx, sizeof idx, "[%zu]", c->item_index);
        sbuf_add(&s, "/");
        sbuf_add(&s, c->item_name);
        sbuf_add(&s, idx);
        top = depth - 1;
    } else if (depth > 0) {
        top = depth - 1; /* the root element itself: already written */
    }
    for (size_t i = top; i > 0; i--) {
        if (chain[i - 1] == c->stream.el) {
            /* its earlier siblings of the kind are gone: its index is counted (always shown here,
             * "[1]" dropped afterwards when it was the only one: unindex_only_child) */
            char idx[48];
            (void)snprintf(idx, sizeof idx, "[%zu]", c->stream.index);
            sbuf_add(&s, "/");
            sbuf_add(&s, (const char *)chain[i - 1]->name);
            sbuf_add(&s, idx);
        } else {
            add_step(&s, chain[i - 1]);
        }
    }
    if (attr != NULL) {
        sbuf_add(&s, strcmp(attr, "text()") == 0 ? "/" : "/@");
        sbuf_add(&s, attr);
    }
}

/* ---------------------------------------------------------------- streamed children */

static const char *const kind_names[IATI_CHK_KINDS] = {"related-activity", "transaction"};

bool iati_chk_streamed_kind(const struct iati_chk *c, const xmlNode *n, enum iati_chk_kind *kind)
{
    assert(c != NULL && n != NULL && kind != NULL);
    if (c->kind != IATI_KIND_ACTIVITIES) {
        return false;
    }
    for (size_t k = 0; k < IATI_CHK_KINDS; k++) {
        if (iati_chk_is(n, kind_names[k])) {
            *kind = (enum iati_chk_kind)k;
            return true;
        }
    }
    return false;
}

/* Drops "[1]" from the step of the record's child of this kind at the start of loc: the child was
 * the only one of its kind, and an index is shown only where siblings share the name. */
static void unindex_only_child(const struct iati_chk *c, enum iati_chk_kind kind, char *loc)
{
    char prefix[IATI_LOCATION_BYTES];
    int n = snprintf(prefix, sizeof prefix, "/%s/%s[%zu]/%s[1]", c->root_name, c->item_name, c->item_index,
                     kind_names[kind]);
    if (n <= 0 || (size_t)n >= sizeof prefix || strncmp(loc, prefix, (size_t)n) != 0 ||
        (loc[n] != '\0' && loc[n] != '/')) {
        return;
    }
    memmove(loc + n - 3, loc + n, strlen(loc + n) + 1);
}

void iati_chk_spot_take(struct iati_chk *c, struct iati_chk_spot *spot, const xmlNode *node)
{
    assert(c != NULL && spot != NULL && node != NULL && c->stream.el != NULL);
    if (spot->set) {
        return;
    }
    spot->set = true;
    long line = xmlGetLineNo(node);
    spot->line = line < 0 ? 0 : line;
    spot->kept_before = c->stream.kept;
    spot->kind = c->stream.kind;
    spot->index = c->stream.index;
    iati_chk_location(c, node, NULL, spot->location, sizeof spot->location);
}

void iati_chk_problem_spot(struct iati_chk *c, const char *rule_id, enum iati_severity severity,
                           const struct iati_chk_spot *spot, const char *fmt, ...)
{
    assert(c != NULL && rule_id != NULL && spot != NULL && spot->set);
    struct iati_problem *q = problem_slot(c->out);
    if (q == NULL) {
        return;
    }
    char location[IATI_LOCATION_BYTES];
    memcpy(location, spot->location, sizeof location);
    if (spot->index == 1 && c->stream.count[spot->kind] == 1) {
        unindex_only_child(c, spot->kind, location);
    }
    va_list ap;
    va_start(ap, fmt);
    problem_vfill(q, rule_id, severity, location, spot->line, fmt, ap);
    va_end(ap);
}

bool iati_chk_spot_before(const struct iati_chk *c, const struct iati_chk_spot *spot, const xmlNode *node)
{
    assert(c != NULL && spot != NULL && node != NULL);
    const xmlNode *top = node;
    for (size_t depth = 0; top != NULL && top->parent != c->item && depth <= IATI_CHECK_DEPTH_MAX + 1; depth++) {
        top = top->parent;
    }
    if (top == NULL || top->parent != c->item) {
        return false; /* node is the record itself: it comes first */
    }
    size_t kept_before = 0;
    for (const xmlNode *p = top->prev; p != NULL && kept_before < IATI_CHECK_NODES_MAX; p = p->prev) {
        kept_before += p->type == XML_ELEMENT_NODE ? 1 : 0;
    }
    return spot->kept_before <= kept_before;
}

/* ---------------------------------------------------------------- tree helpers */

bool iati_chk_is(const xmlNode *n, const char *name)
{
    return n != NULL && n->type == XML_ELEMENT_NODE && n->ns == NULL && xmlStrEqual(n->name, BAD_CAST name);
}

const xmlNode *iati_chk_child(const xmlNode *parent, const char *name)
{
    assert(parent != NULL);
    size_t guard = 0;
    for (const xmlNode *n = parent->children; n != NULL && guard < IATI_CHECK_NODES_MAX; n = n->next, guard++) {
        if (iati_chk_is(n, name)) {
            return n;
        }
    }
    return NULL;
}

const xmlNode *iati_chk_next(const xmlNode *n, const char *name)
{
    assert(n != NULL);
    size_t guard = 0;
    for (const xmlNode *m = n->next; m != NULL && guard < IATI_CHECK_NODES_MAX; m = m->next, guard++) {
        if (iati_chk_is(m, name)) {
            return m;
        }
    }
    return NULL;
}

size_t iati_chk_count(const xmlNode *parent, const char *name)
{
    size_t count = 0;
    for (const xmlNode *n = iati_chk_child(parent, name); n != NULL; n = iati_chk_next(n, name)) {
        count++;
    }
    return count;
}

/* The text of an attribute node: its one text child (the parser makes exactly one when no
 * entity is involved; with a DOCTYPE, already reported as FL-XML, only the first text part). */
static const char *attr_text(const xmlAttr *a)
{
    for (const xmlNode *t = a->children; t != NULL; t = t->next) {
        if (t->type == XML_TEXT_NODE && t->content != NULL) {
            return (const char *)t->content;
        }
    }
    return "";
}

const char *iati_chk_attr(const xmlNode *n, const char *name)
{
    assert(n != NULL && name != NULL);
    for (const xmlAttr *a = n->properties; a != NULL; a = a->next) {
        if (a->ns == NULL && xmlStrEqual(a->name, BAD_CAST name)) {
            return attr_text(a);
        }
    }
    return NULL;
}

const char *iati_chk_lang(const xmlNode *n)
{
    assert(n != NULL);
    for (const xmlAttr *a = n->properties; a != NULL; a = a->next) {
        if (a->ns != NULL && xmlStrEqual(a->ns->href, XML_XML_NAMESPACE) && xmlStrEqual(a->name, BAD_CAST "lang")) {
            return attr_text(a);
        }
    }
    return NULL;
}

/* ---------------------------------------------------------------- values */

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool dig(char ch)
{
    return ch >= '0' && ch <= '9';
}

bool iati_chk_date_days(const char *s, int64_t *days)
{
    assert(days != NULL);
    if (s == NULL) {
        return false;
    }
    for (int i = 0; i < 10; i++) {
        bool want_dash = i == 4 || i == 7;
        if (s[i] == '\0' || (want_dash ? s[i] != '-' : !dig(s[i]))) {
            return false;
        }
    }
    if (s[10] != '\0' && s[10] != 'T' && s[10] != 'Z' && s[10] != '+' && s[10] != '-') {
        return false;
    }
    int year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int month = (s[5] - '0') * 10 + (s[6] - '0');
    int day = (s[8] - '0') * 10 + (s[9] - '0');
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (month < 1 || month > 12 || day < 1 || day > mdays[month - 1] || (month == 2 && day == 29 && !leap)) {
        return false;
    }
    *days = days_from_civil(year, month, day);
    return true;
}

static bool space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

bool iati_chk_decimal(const char *s, int64_t *nano)
{
    assert(nano != NULL);
    if (s == NULL) {
        return false;
    }
    size_t i = 0;
    while (i < 64 && space(s[i])) {
        i++;
    }
    bool neg = false;
    if (s[i] == '-') {
        neg = true;
        i++;
    }
    const int64_t limit = INT64_MAX / 10;
    int64_t whole = 0;
    size_t ndig = 0;
    while (dig(s[i])) {
        if (whole > limit / 1000000000) {
            return false; /* beyond what a percentage, rate or count needs */
        }
        whole = whole * 10 + (s[i] - '0');
        i++;
        ndig++;
    }
    int64_t frac = 0;
    int fdig = 0;
    if (s[i] == '.') {
        i++;
        while (dig(s[i])) {
            if (fdig < 9) {
                frac = frac * 10 + (s[i] - '0');
                fdig++;
            }
            ndig++;
            i++;
        }
    }
    if (ndig == 0) {
        return false;
    }
    while (space(s[i])) {
        i++;
    }
    if (s[i] != '\0') {
        return false;
    }
    for (int k = fdig; k < 9; k++) {
        frac *= 10;
    }
    int64_t v = whole * 1000000000 + frac;
    *nano = neg ? -v : v;
    return true;
}

/* ---------------------------------------------------------------- one check */

struct run {
    struct iati_chk c;
    xmlTextReaderPtr reader;
    size_t settle_from;                      /* first parser/schema problem whose location may still change */
    char prev_location[IATI_LOCATION_BYTES]; /* the record (or root) settled last, and its line */
    long prev_line;
    bool has_prev;
    /* the last error received, to drop the same error relayed twice */
    int last_domain;
    int last_code;
    int last_line;
};

static bool line_located(const struct iati_problem *q)
{
    return strcmp(q->rule_id, "FL-XSD") == 0 || strcmp(q->rule_id, "FL-XML") == 0;
}

/* Parser and schema errors arrive while the stream is parsed, a little ahead of the records being
 * checked or a little after (an end tag); they carry a line, not a node. When the element starting
 * at first_line (location) comes up, every such problem not yet final is placed by its line: at or
 * after first_line in this element, between the previous element's line and first_line in that
 * one. first_line LONG_MAX closes the stream: the rest belongs to the last element. */
static void settle(struct run *r, long first_line, const char *location)
{
    struct iati_problems *out = r->c.out;
    size_t next_from = out->count;
    for (size_t i = r->settle_from; i < out->count; i++) {
        struct iati_problem *q = &out->items[i];
        if (!line_located(q)) {
            continue;
        }
        if (q->line >= first_line) {
            copy_cut(q->location, sizeof q->location, location);
            if (i < next_from) {
                next_from = i;
            }
        } else if (r->has_prev && q->line >= r->prev_line) {
            copy_cut(q->location, sizeof q->location, r->prev_location);
        }
    }
    r->settle_from = next_from;
    copy_cut(r->prev_location, sizeof r->prev_location, location);
    r->prev_line = first_line;
    r->has_prev = true;
}

static void on_xml_error(void *user, xmlErrorPtr e)
{
    struct run *r = user;
    assert(r != NULL);
    if (e == NULL || e->level < XML_ERR_ERROR) {
        return; /* warnings of the parser are not problems of the file */
    }
    if (e->domain == r->last_domain && e->code == r->last_code && e->line == r->last_line) {
        return;
    }
    r->last_domain = e->domain;
    r->last_code = e->code;
    r->last_line = e->line;
    const char *rule = e->domain == XML_FROM_SCHEMASV ? "FL-XSD" : "FL-XML";
    char location[IATI_LOCATION_BYTES];
    (void)snprintf(location, sizeof location, "/%s", r->c.root_name);
    iati_chk_problem_at(r->c.out, rule, IATI_SEVERITY_ERROR, location, e->line, "%s",
                        e->message != NULL ? e->message : "XML error");
}

static void quiet(void *context, const char *msg, ...) __attribute__((format(printf, 2, 3)));

static void quiet(void *context, const char *msg, ...)
{
    (void)context;
    (void)msg;
}

static void on_schema_parse_error(void *user, xmlErrorPtr e)
{
    struct iati_problems *out = user;
    assert(out != NULL);
    if (e == NULL || e->level < XML_ERR_ERROR) {
        return;
    }
    iati_chk_problem_at(out, "FL-CONFIG", IATI_SEVERITY_ERROR, e->file != NULL ? e->file : "schema", e->line,
                        "schema cannot be used: %s", e->message != NULL ? e->message : "error");
}

/* Walks the elements of the subtree at top, which is depth levels below the record (pre-order,
 * explicit, bounded): codelists and element rules. The elements walked in one record are counted
 * across its streamed children and its tree; past IATI_CHECK_NODES_MAX the rest is not walked. */
static void walk_tree(struct iati_chk *c, const xmlNode *top, size_t depth)
{
    struct iati_chk_stream *s = &c->stream;
    if (s->too_many) {
        return;
    }
    const xmlNode *n = top;
    for (size_t steps = 0; n != NULL && steps < 4 * (size_t)IATI_CHECK_NODES_MAX; steps++) {
        if (n->type == XML_ELEMENT_NODE) {
            if (++s->elements > IATI_CHECK_NODES_MAX) {
                s->too_many = true;
                iati_chk_problem(c, "FL-LIMIT", IATI_SEVERITY_ERROR, c->item, NULL,
                                 "record has more than %d elements; the rest was not checked", IATI_CHECK_NODES_MAX);
                return;
            }
            iati_chk_codelists_element(c, n, false);
            iati_chk_rules_element(c, n);
            if (n->children != NULL) {
                if (depth < IATI_CHECK_DEPTH_MAX) {
                    n = n->children;
                    depth++;
                    continue;
                }
                if (!s->too_deep) {
                    s->too_deep = true;
                    iati_chk_problem(c, "FL-LIMIT", IATI_SEVERITY_ERROR, n, NULL,
                                     "elements nested deeper than %d were not checked", IATI_CHECK_DEPTH_MAX);
                }
            }
        }
        while (n != top && n->next == NULL) {
            n = n->parent;
            depth--;
        }
        if (n == top) {
            break;
        }
        n = n->next;
    }
}

static void check_root(struct run *r, const xmlNode *root)
{
    struct iati_chk *c = &r->c;
    if (!iati_chk_is(root, c->root_name)) {
        char location[IATI_LOCATION_BYTES];
        (void)snprintf(location, sizeof location, "/%.200s", (const char *)root->name);
        iati_chk_problem_at(c->out, "FL-ROOT", IATI_SEVERITY_ERROR, location, xmlGetLineNo(root),
                            "root element is <%.200s>, expected <%s>", (const char *)root->name, c->root_name);
        return;
    }
    iati_chk_codelists_element(c, root, true);
}

static void begin_record(struct run *r, const xmlNode *item)
{
    struct iati_chk *c = &r->c;
    c->item_index++;
    c->item = item;
    memset(&c->walk, 0, sizeof c->walk);
    memset(&c->stream, 0, sizeof c->stream);
}

/* One streamed child e of kind, expanded: everything that looks at it alone, now; what the record's
 * rules need of it, into c->stream. The reader frees it once it has moved past it. */
static void check_streamed(struct run *r, const xmlNode *e, enum iati_chk_kind kind)
{
    struct iati_chk *c = &r->c;
    struct iati_chk_stream *s = &c->stream;
    s->el = e;
    s->kind = kind;
    s->index = ++s->count[kind];
    size_t from = c->out->count;
    /* the record's codelist paths through e (iati-activity/transaction/value/@currency, ...) */
    iati_chk_codelists_streamed(c, e);
    /* e's own walk, its counts added to the record's */
    memset(&c->walk, 0, sizeof c->walk);
    walk_tree(c, e, 1);
    if (c->walk.narratives_without_lang > 0) {
        iati_chk_spot_take(c, &s->first_narrative_without_lang, c->walk.first_narrative_without_lang);
        s->narratives_without_lang += c->walk.narratives_without_lang;
    }
    if (c->walk.values_without_currency > 0) {
        iati_chk_spot_take(c, &s->first_value_without_currency, c->walk.first_value_without_currency);
        s->values_without_currency += c->walk.values_without_currency;
    }
    memset(&c->walk, 0, sizeof c->walk);
    iati_chk_rules_streamed(c, e);
    if (s->index == 1) {
        s->first_from[kind] = from;
        s->first_to[kind] = c->out->count;
    }
    s->el = NULL;
}

/* Where a record's identifier was first seen (1.1.2), packed into the hash table's payload pointer
 * (no allocation per identifier): its record's index (1-based, so never NULL) in the high 32 bits,
 * its line in the low 32 (both far below 2^32 in any file this checker reads whole). */
_Static_assert(sizeof(uintptr_t) >= 8, "a payload pointer holds an index and a line");

static void *seen_pack(size_t index, long line)
{
    uint64_t i = index > UINT32_MAX ? UINT32_MAX : (uint64_t)index;
    uint64_t l = line < 0 ? 0 : (uint64_t)line > UINT32_MAX ? UINT32_MAX : (uint64_t)line;
    return (void *)(uintptr_t)(i << 32 | l);
}

static void seen_unpack(const void *payload, size_t *index, long *line)
{
    uint64_t v = (uint64_t)(uintptr_t)payload;
    *index = (size_t)(v >> 32);
    *line = (long)(v & UINT32_MAX);
}

/* 1.1.2 (the Validator's, an error): the record's identifier (iati-identifier or
 * organisation-identifier, its text as written) is not the identifier of an earlier record of the
 * same file. The second is reported, naming the first. A record without one is left to the schema. */
static void unique_identifier(struct iati_chk *c, const xmlNode *item)
{
    if (c->ids_full) {
        return;
    }
    const char *name = c->kind == IATI_KIND_ACTIVITIES ? "iati-identifier" : "organisation-identifier";
    const xmlNode *id_el = iati_chk_child(item, name);
    xmlChar *id = id_el != NULL ? xmlNodeGetContent(id_el) : NULL;
    if (id == NULL || id[0] == '\0') {
        xmlFree(id);
        return;
    }
    if (c->ids == NULL) {
        c->ids = xmlHashCreate(1024);
    }
    const void *first = c->ids != NULL ? xmlHashLookup(c->ids, id) : NULL;
    if (first != NULL) {
        size_t first_index;
        long first_line;
        seen_unpack(first, &first_index, &first_line);
        char first_loc[IATI_LOCATION_BYTES];
        (void)snprintf(first_loc, sizeof first_loc, "/%s/%s[%zu]/%s", c->root_name, c->item_name, first_index, name);
        iati_chk_problem(c, "1.1.2", IATI_SEVERITY_ERROR, id_el, NULL,
                         "The %s identifier must be unique for each %s. ('%.200s' is also the identifier at %s, "
                         "line %ld)",
                         c->kind == IATI_KIND_ACTIVITIES ? "activity" : "organisation",
                         c->kind == IATI_KIND_ACTIVITIES ? "activity" : "organisation", (const char *)id, first_loc,
                         first_line);
        xmlFree(id);
        return;
    }
    if (c->ids == NULL || xmlHashAddEntry(c->ids, id, seen_pack(c->item_index, xmlGetLineNo(id_el))) != 0) {
        c->ids_full = true;
        iati_chk_problem(c, "FL-LIMIT", IATI_SEVERITY_ERROR, id_el, NULL,
                         "out of memory: identifiers from here on were not checked for uniqueness (1.1.2)");
    }
    xmlFree(id);
}

/* The record has been read (its streamed children checked and freed): its schema problems are
 * placed, then its tree is walked and the record's rules applied. */
static void end_record(struct run *r, xmlNode *item)
{
    struct iati_chk *c = &r->c;
    struct iati_chk_stream *s = &c->stream;
    assert(c->item == item);
    /* No streamed child is left in the tree (the reader frees each one as it moves past it); this
     * makes sure none is ever checked twice whatever the reader's version does. */
    for (xmlNode *n = item->children, *next = NULL; n != NULL; n = next) {
        next = n->next;
        enum iati_chk_kind kind;
        if (iati_chk_streamed_kind(c, n, &kind)) {
            xmlUnlinkNode(n);
            xmlFreeNode(n);
        }
    }
    char location[IATI_LOCATION_BYTES];
    iati_chk_location(c, item, NULL, location, sizeof location);
    settle(r, xmlGetLineNo(item), location);
    for (size_t k = 0; k < IATI_CHK_KINDS; k++) {
        for (size_t i = s->first_from[k]; s->count[k] == 1 && i < s->first_to[k] && i < c->out->count; i++) {
            unindex_only_child(c, (enum iati_chk_kind)k, c->out->items[i].location);
        }
    }
    memset(&c->walk, 0, sizeof c->walk);
    walk_tree(c, item, 0);
    if (c->kind == IATI_KIND_ACTIVITIES) {
        iati_chk_rules_activity(c, item);
    } else {
        iati_chk_rules_organisation(c, item);
    }
    unique_identifier(c, item);
    c->item = NULL;
}

/* A record read whole (an organisation; an empty activity). */
static void check_record(struct run *r, xmlNode *item)
{
    begin_record(r, item);
    end_record(r, item);
}

static bool any_since(const struct iati_problems *out, size_t from, const char *rule_id)
{
    for (size_t i = from; i < out->count; i++) {
        if (strcmp(out->items[i].rule_id, rule_id) == 0) {
            return true;
        }
    }
    return false;
}

/* Inside an activity (the reader on a node below it): a child element is either streamed (checked
 * and left to the reader to free) or kept (xmlTextReaderPreserve: the reader leaves it, and the
 * activity with it, in the tree); so is a text node right after a kept element or first in the
 * activity (element lines past 65535 are read from their neighbours). The rest the reader frees.
 * Returns the reader's next result. */
static int read_in_record(struct run *r, xmlNode *cur, int type, int depth, bool *kept_any)
{
    struct iati_chk *c = &r->c;
    if (depth != 2) {
        return xmlTextReaderRead(r->reader);
    }
    if (type == XML_READER_TYPE_ELEMENT) {
        enum iati_chk_kind kind;
        if (iati_chk_streamed_kind(c, cur, &kind)) {
            const xmlNode *e = xmlTextReaderExpand(r->reader);
            if (e == NULL) {
                return -1;
            }
            check_streamed(r, e, kind);
        } else {
            if (xmlTextReaderPreserve(r->reader) == NULL) {
                return -1;
            }
            *kept_any = true;
            c->stream.kept++;
        }
        return xmlTextReaderNext(r->reader);
    }
    if (cur->prev == NULL || cur->prev->type == XML_ELEMENT_NODE) {
        if (xmlTextReaderPreserve(r->reader) == NULL) {
            return -1;
        }
        *kept_any = true;
    }
    return xmlTextReaderRead(r->reader);
}

/* Reads the whole stream; returns false when the XML stopped being readable. */
static bool read_stream(struct run *r)
{
    struct iati_chk *c = &r->c;
    xmlNode *record = NULL;   /* the activity being read */
    bool kept_any = false;    /* some of its nodes were preserved: the reader will not free it */
    xmlNode *finished = NULL; /* such an activity, read and checked: freed here once the reader has left it */
    int ret = xmlTextReaderRead(r->reader);
    for (unsigned long long steps = 0; ret == 1 && steps < READ_STEPS_MAX; steps++) {
        xmlNode *cur = xmlTextReaderCurrentNode(r->reader);
        if (finished != NULL && cur != finished) {
            xmlUnlinkNode(finished);
            xmlFreeNode(finished);
            finished = NULL;
        }
        int type = xmlTextReaderNodeType(r->reader);
        int depth = xmlTextReaderDepth(r->reader);
        if (type == XML_READER_TYPE_DOCUMENT_TYPE) {
            /* IATI files have none; entities are a way to smuggle content in: refuse the file. */
            iati_chk_problem_at(c->out, "FL-XML", IATI_SEVERITY_ERROR, "/", 0,
                                "a DOCTYPE is not allowed in an IATI file; the file was not read further");
            return false;
        }
        if (record != NULL) {
            if (type == XML_READER_TYPE_END_ELEMENT && depth == 1) {
                end_record(r, record);
                finished = kept_any ? record : NULL;
                record = NULL;
                ret = xmlTextReaderRead(r->reader);
            } else {
                ret = read_in_record(r, cur, type, depth, &kept_any);
            }
            continue;
        }
        if (type == XML_READER_TYPE_ELEMENT && depth == 0) {
            if (cur != NULL) {
                check_root(r, cur);
            }
        } else if (type == XML_READER_TYPE_ELEMENT && depth == 1 && cur != NULL && c->kind == IATI_KIND_ACTIVITIES &&
                   iati_chk_is(cur, c->item_name)) {
            /* an activity: read child by child (read_in_record) */
            if (xmlTextReaderIsEmptyElement(r->reader) == 1) {
                check_record(r, cur);
            } else {
                begin_record(r, cur);
                record = cur;
                kept_any = false;
            }
        } else if (type == XML_READER_TYPE_ELEMENT && depth == 1) {
            /* an organisation, or an element that is not a record: read whole */
            xmlNode *n = xmlTextReaderExpand(r->reader);
            if (n == NULL) {
                return false;
            }
            if (iati_chk_is(n, c->item_name)) {
                check_record(r, n);
            } else {
                char location[IATI_LOCATION_BYTES];
                (void)snprintf(location, sizeof location, "/%s", c->root_name);
                settle(r, xmlGetLineNo(n), location);
            }
            ret = xmlTextReaderNext(r->reader);
            continue;
        }
        ret = xmlTextReaderRead(r->reader);
    }
    return ret == 0;
}

static bool readable(const char *path, struct iati_problems *out, const char *what)
{
    if (access(path, R_OK) != 0) {
        iati_chk_problem_at(out, "FL-CONFIG", IATI_SEVERITY_ERROR, path, 0, "%s not readable: %s: %s", what, path,
                            strerror(errno));
        return false;
    }
    return true;
}

/* Parses the XSD of kind from dir after making sure every file of it is readable. NULL: reported. */
static xmlSchemaPtr load_schema(const char *dir, enum iati_kind kind, struct iati_problems *out)
{
    if (dir == NULL) {
        iati_chk_problem_at(out, "FL-CONFIG", IATI_SEVERITY_ERROR, "schema_dir", 0, "no schema directory configured");
        return NULL;
    }
    static const char *const files[] = {"iati-activities-schema.xsd", "iati-organisations-schema.xsd",
                                        "iati-common.xsd", "xml.xsd"};
    char path[PATH_BYTES_MAX];
    char main_path[PATH_BYTES_MAX];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        int n = snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        if (n < 0 || (size_t)n >= sizeof path) {
            iati_chk_problem_at(out, "FL-CONFIG", IATI_SEVERITY_ERROR, "schema_dir", 0,
                                "schema directory path too long");
            return NULL;
        }
        if (!readable(path, out, "schema file")) {
            return NULL;
        }
    }
    (void)snprintf(main_path, sizeof main_path, "%s/%s", dir, kind == IATI_KIND_ACTIVITIES ? files[0] : files[1]);
    xmlSchemaParserCtxtPtr pctxt = xmlSchemaNewParserCtxt(main_path);
    if (pctxt == NULL) {
        iati_chk_problem_at(out, "FL-CONFIG", IATI_SEVERITY_ERROR, main_path, 0, "cannot create a schema parser");
        return NULL;
    }
    size_t before = out->count + out->dropped;
    xmlSchemaSetParserStructuredErrors(pctxt, on_schema_parse_error, out);
    xmlSchemaPtr schema = xmlSchemaParse(pctxt);
    xmlSchemaFreeParserCtxt(pctxt);
    if (schema != NULL && out->count + out->dropped != before) {
        xmlSchemaFree(schema); /* parsed with errors: not a schema to trust */
        schema = NULL;
    }
    if (schema == NULL && out->count + out->dropped == before) {
        iati_chk_problem_at(out, "FL-CONFIG", IATI_SEVERITY_ERROR, main_path, 0, "schema could not be parsed");
    }
    return schema;
}

static bool today_days(const char *today, struct iati_problems *out, int64_t *days)
{
    if (today == NULL) {
        time_t now = time(NULL);
        if (now == (time_t)-1) {
            iati_chk_problem_at(out, "FL-CONFIG", IATI_SEVERITY_ERROR, "today", 0, "the clock cannot be read");
            return false;
        }
        *days = (int64_t)now / 86400; /* time_t counts seconds since 1970-01-01 UTC without leap seconds */
        return true;
    }
    if (strlen(today) != 10 || !iati_chk_date_days(today, days)) {
        iati_chk_problem_at(out, "FL-CONFIG", IATI_SEVERITY_ERROR, "today", 0, "today is not a date YYYY-MM-DD: '%s'",
                            today);
        return false;
    }
    return true;
}

struct iati_schema {
    xmlSchemaPtr schema;
    enum iati_kind kind;
};

struct iati_schema *iati_schema_load(const char *schema_dir, enum iati_kind kind, struct iati_problems *problems)
{
    assert(problems != NULL);
    assert(kind == IATI_KIND_ACTIVITIES || kind == IATI_KIND_ORGANISATIONS);
    iati_chk_libxml_init();
    struct iati_schema *s = malloc(sizeof *s);
    if (s == NULL) {
        iati_chk_problem_at(problems, "FL-CONFIG", IATI_SEVERITY_ERROR, "schema", 0, "out of memory");
        return NULL;
    }
    s->kind = kind;
    s->schema = load_schema(schema_dir, kind, problems);
    if (s->schema == NULL) {
        free(s);
        return NULL;
    }
    return s;
}

void iati_schema_free(struct iati_schema *s)
{
    if (s != NULL) {
        xmlSchemaFree(s->schema);
        free(s);
    }
}

/* Checks the file at path, or when buf is non-NULL the document buf[0..len) named path. */
static enum iati_check_result check_source(const char *path, const char *buf, size_t len, enum iati_kind kind,
                                           const struct iati_check_config *cfg, struct iati_problems *out)
{
    assert(path != NULL && cfg != NULL && out != NULL);
    assert(kind == IATI_KIND_ACTIVITIES || kind == IATI_KIND_ORGANISATIONS);
    size_t before_count = out->count;
    size_t before_dropped = out->dropped;
    enum iati_check_result result = IATI_CHECK_ERROR;
    struct iati_codelists *owned = NULL;
    xmlSchemaPtr schema = NULL; /* owned: parsed for this call */
    xmlSchemaPtr use_schema = NULL;
    xmlSchemaValidCtxtPtr vctxt = NULL;
    int fd = -1;
    xmlStructuredErrorFunc saved_handler = NULL;
    void *saved_context = NULL;
    xmlGenericErrorFunc saved_generic = NULL;
    void *saved_generic_context = NULL;
    bool handler_set = false;
    struct run r;
    memset(&r, 0, sizeof r);
    r.last_domain = -1;
    r.c.cfg = cfg;
    r.c.out = out;
    r.c.kind = kind;
    r.c.root_name = kind == IATI_KIND_ACTIVITIES ? "iati-activities" : "iati-organisations";
    r.c.item_name = kind == IATI_KIND_ACTIVITIES ? "iati-activity" : "iati-organisation";

    iati_chk_libxml_init();

    if (!today_days(cfg->today, out, &r.c.today_days)) {
        goto done;
    }
    r.c.codelists = cfg->codelists;
    if (r.c.codelists == NULL) {
        if (cfg->codelist_dir == NULL) {
            iati_chk_problem_at(out, "FL-CONFIG", IATI_SEVERITY_ERROR, "codelist_dir", 0,
                                "neither codelists nor a codelist directory configured");
            goto done;
        }
        owned = iati_codelists_load(cfg->codelist_dir, out);
        if (owned == NULL) {
            goto done;
        }
        r.c.codelists = owned;
    }
    if (cfg->schema != NULL) {
        assert(cfg->schema->kind == kind);
        use_schema = cfg->schema->schema;
    } else if ((use_schema = schema = load_schema(cfg->schema_dir, kind, out)) == NULL) {
        goto done;
    }
    vctxt = xmlSchemaNewValidCtxt(use_schema);
    if (vctxt == NULL) {
        iati_chk_problem_at(out, "FL-CONFIG", IATI_SEVERITY_ERROR, "schema", 0, "cannot create a schema validator");
        goto done;
    }
    if (buf != NULL && len > INT_MAX) {
        iati_chk_problem_at(out, "FL-IO", IATI_SEVERITY_ERROR, path, 0, "%s is too large to check in memory", path);
        goto done;
    }
    fd = buf != NULL ? -1 : open(path, O_RDONLY | O_CLOEXEC);
    if (buf == NULL && fd < 0) {
        iati_chk_problem_at(out, "FL-IO", IATI_SEVERITY_ERROR, path, 0, "cannot open %s: %s", path, strerror(errno));
        goto done;
    }
    /* Parser errors: once the schema is plugged into the reader's SAX stream, libxml2 2.9 no longer
     * relays them to the reader's handler, only to the thread's structured handler. So this
     * thread's handler is ours for the duration of the read and restored afterwards. */
    saved_handler = xmlStructuredError;
    saved_context = xmlStructuredErrorContext;
    saved_generic = xmlGenericError;
    saved_generic_context = xmlGenericErrorContext;
    handler_set = true;
    xmlSetStructuredErrorFunc(&r, on_xml_error);
    /* libxml2's unstructured notices ("Unimplemented block" on an entity reference) are not
     * printed to stderr: everything that matters arrives structured. */
    xmlSetGenericErrorFunc(NULL, quiet);
    r.reader = buf != NULL ? xmlReaderForMemory(buf, (int)len, path, NULL, XML_PARSE_NONET | XML_PARSE_BIG_LINES)
                           : xmlReaderForFd(fd, path, NULL, XML_PARSE_NONET | XML_PARSE_BIG_LINES);
    if (r.reader == NULL) {
        iati_chk_problem_at(out, "FL-IO", IATI_SEVERITY_ERROR, path, 0, "cannot create an XML reader for %s", path);
        goto done;
    }
    /* Set before attaching the schema, so that schema errors are relayed to the same handler. */
    xmlTextReaderSetStructuredErrorHandler(r.reader, on_xml_error, &r);
    if (xmlTextReaderSchemaValidateCtxt(r.reader, vctxt, 0) != 0) {
        iati_chk_problem_at(out, "FL-CONFIG", IATI_SEVERITY_ERROR, "schema", 0,
                            "cannot attach the schema to the reader");
        goto done;
    }
    size_t stream_from = out->count;
    bool read_all = read_stream(&r);
    settle(&r, LONG_MAX, "");
    if (!read_all && !any_since(out, stream_from, "FL-XML")) {
        iati_chk_problem_at(out, "FL-XML", IATI_SEVERITY_ERROR, path, 0, "the XML could not be read to its end");
    }
    if (read_all && xmlTextReaderIsValid(r.reader) != 1 && !any_since(out, stream_from, "FL-XSD")) {
        iati_chk_problem_at(out, "FL-XSD", IATI_SEVERITY_ERROR, path, 0, "the file is not valid against the schema");
    }
    result = iati_problems_errors_since(out, before_count, before_dropped) ? IATI_CHECK_FAILED : IATI_CHECK_OK;
done:
    if (r.c.ids != NULL) {
        xmlHashFree(r.c.ids, NULL); /* payloads are packed values, nothing to free */
    }
    if (r.reader != NULL) {
        xmlFreeTextReader(r.reader);
    }
    if (handler_set) {
        xmlSetStructuredErrorFunc(saved_context, saved_handler);
        xmlSetGenericErrorFunc(saved_generic_context, saved_generic);
    }
    if (fd >= 0) {
        (void)close(fd);
    }
    if (vctxt != NULL) {
        xmlSchemaFreeValidCtxt(vctxt);
    }
    if (schema != NULL) {
        xmlSchemaFree(schema);
    }
    iati_codelists_free(owned);
    return result;
}

enum iati_check_result iati_check_file(const char *path, enum iati_kind kind, const struct iati_check_config *cfg,
                                       struct iati_problems *out)
{
    return check_source(path, NULL, 0, kind, cfg, out);
}

enum iati_check_result iati_check_memory(const char *buf, size_t len, const char *name, enum iati_kind kind,
                                         const struct iati_check_config *cfg, struct iati_problems *out)
{
    assert(buf != NULL && name != NULL);
    return check_source(name, buf, len, kind, cfg, out);
}
