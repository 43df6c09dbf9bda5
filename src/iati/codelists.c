/* IATI codelists: loads codelists and mapping.xml once, and checks coded values as check_codelists.py does. */
#include "check_internal.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxml/parser.h>

#define NAME_BYTES 64       /* a codelist name or an XML name in a mapping path */
#define STEPS_MAX 8         /* child steps after the first in a mapping path (the deepest has 6) */
#define VOCAB_BYTES 16      /* the vocabulary value of a condition */
#define PATH_BYTES_MAX 4096 /* a codelist file path built from the configured directory */
#define LISTS_MAX 128       /* distinct codelists named by mapping.xml (67 today) */

struct code_item {
    char *code;
    bool withdrawn;
};

struct codelist {
    char name[NAME_BYTES];
    struct code_item *items; /* sorted by code, unique */
    size_t count;
};

enum target_kind {
    TARGET_ATTR,     /* .../@name */
    TARGET_XML_LANG, /* .../@xml:lang */
    TARGET_TEXT,     /* .../text() */
};

struct mapping {
    char path[256];   /* as written in mapping.xml, for messages */
    bool any_element; /* "//@attr": every element */
    char first[NAME_BYTES];
    char steps[STEPS_MAX][NAME_BYTES];
    size_t step_count;
    enum target_kind target;
    char attr[NAME_BYTES];
    size_t list;
    bool has_condition;
    char cond_vocabulary[VOCAB_BYTES];
    bool cond_or_absent;
};

struct iati_codelists {
    struct codelist lists[LISTS_MAX];
    size_t list_count;
    struct mapping *maps;
    size_t map_count;
    size_t agency_list; /* index of OrganisationRegistrationAgency */
};

/* ---------------------------------------------------------------- loading */

static int item_cmp(const void *a, const void *b)
{
    const struct code_item *x = a;
    const struct code_item *y = b;
    return strcmp(x->code, y->code);
}

/* The text of the first child element named name of parent (not stripped, as ElementTree's
 * findtext), copied with xmlNodeGetContent; NULL when there is no such child. Caller frees. */
static xmlChar *child_text(const xmlNode *parent, const char *name)
{
    const xmlNode *n = iati_chk_child(parent, name);
    if (n == NULL) {
        return NULL;
    }
    return xmlNodeGetContent(n);
}

/* Loads one codelist file into list. Problems go to out as FL-CONFIG. */
static bool load_list_file(const char *path, struct codelist *list, struct iati_problems *out)
{
    xmlDocPtr doc = xmlReadFile(path, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (doc == NULL) {
        iati_chk_problem_at(out, "FL-CONFIG", IATI_SEVERITY_ERROR, path, 0, "codelist is not readable XML: %s", path);
        return false;
    }
    bool ok = true;
    size_t cap = 0;
    const xmlNode *root = xmlDocGetRootElement(doc);
    /* Every codelist-item at any depth (ElementTree's iter), by an explicit pre-order walk. */
    const xmlNode *n = root;
    size_t depth = 0;
    for (size_t steps = 0; n != NULL && ok && steps < 16 * (size_t)IATI_CODELIST_CODES_MAX; steps++) {
        if (iati_chk_is(n, "codelist-item")) {
            xmlChar *code = child_text(n, "code");
            if (code != NULL) {
                if (list->count == IATI_CODELIST_CODES_MAX) {
                    iati_chk_problem_at(out, "FL-CONFIG", IATI_SEVERITY_ERROR, path, 0,
                                        "codelist has more than %d codes", IATI_CODELIST_CODES_MAX);
                    ok = false;
                } else if (list->count == cap) {
                    size_t ncap = cap == 0 ? 64 : cap * 2;
                    struct code_item *items = realloc(list->items, ncap * sizeof *items);
                    if (items == NULL) {
                        ok = false;
                    } else {
                        list->items = items;
                        cap = ncap;
                    }
                }
                if (ok) {
                    char *copy = strdup((const char *)code);
                    const char *status = iati_chk_attr(n, "status");
                    if (copy == NULL) {
                        ok = false;
                    } else {
                        list->items[list->count].code = copy;
                        list->items[list->count].withdrawn = status != NULL && strcmp(status, "withdrawn") == 0;
                        list->count++;
                    }
                }
                xmlFree(code);
            }
            /* a codelist-item holds no codelist-item: skip its subtree */
        } else if (n->type == XML_ELEMENT_NODE && n->children != NULL && depth < IATI_CHECK_DEPTH_MAX) {
            n = n->children;
            depth++;
            continue;
        }
        while (n != root && n->next == NULL) {
            n = n->parent;
            depth--;
        }
        if (n == root) {
            break;
        }
        n = n->next;
    }
    xmlFreeDoc(doc);
    if (!ok) {
        return false;
    }
    if (list->count > 1) {
        qsort(list->items, list->count, sizeof list->items[0], item_cmp);
    }
    /* One entry per code: active if any item with the code is active (the script's two sets). */
    size_t w = 0;
    for (size_t i = 0; i < list->count; i++) {
        if (w > 0 && strcmp(list->items[w - 1].code, list->items[i].code) == 0) {
            list->items[w - 1].withdrawn = list->items[w - 1].withdrawn && list->items[i].withdrawn;
            free(list->items[i].code);
            continue;
        }
        list->items[w++] = list->items[i];
    }
    list->count = w;
    return true;
}

/* Index of the list called name, loading it (embedded/ first, then non-embedded/) when new.
 * SIZE_MAX on failure, reported to out. */
static size_t list_index(struct iati_codelists *cl, const char *dir, const char *name, struct iati_problems *out)
{
    for (size_t i = 0; i < cl->list_count; i++) {
        if (strcmp(cl->lists[i].name, name) == 0) {
            return i;
        }
    }
    if (cl->list_count == LISTS_MAX || strlen(name) >= NAME_BYTES || strchr(name, '/') != NULL) {
        iati_chk_problem_at(out, "FL-CONFIG", IATI_SEVERITY_ERROR, "mapping.xml", 0, "cannot load codelist '%s'", name);
        return SIZE_MAX;
    }
    static const char *const subdirs[] = {"embedded", "non-embedded"};
    char path[PATH_BYTES_MAX];
    for (size_t s = 0; s < 2; s++) {
        int n = snprintf(path, sizeof path, "%s/%s/%s.xml", dir, subdirs[s], name);
        if (n < 0 || (size_t)n >= sizeof path) {
            iati_chk_problem_at(out, "FL-CONFIG", IATI_SEVERITY_ERROR, dir, 0, "codelist directory path too long");
            return SIZE_MAX;
        }
        if (access(path, F_OK) != 0) {
            continue;
        }
        struct codelist *list = &cl->lists[cl->list_count];
        memset(list, 0, sizeof *list);
        memcpy(list->name, name, strlen(name) + 1);
        cl->list_count++; /* counted now so that a failed load is freed with the rest */
        if (!load_list_file(path, list, out)) {
            return SIZE_MAX;
        }
        return cl->list_count - 1;
    }
    iati_chk_problem_at(out, "FL-CONFIG", IATI_SEVERITY_ERROR, dir, 0,
                        "codelist %s named in mapping.xml is in neither %s/embedded nor %s/non-embedded", name, dir,
                        dir);
    return SIZE_MAX;
}

static bool copy_name(char *dst, const char *src, size_t n)
{
    if (n == 0 || n >= NAME_BYTES) {
        return false;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
    return true;
}

/* Parses a mapping path the way check_codelists.py's find() reads it. */
static bool parse_path(struct mapping *m, const char *path)
{
    size_t len = strlen(path);
    if (len >= sizeof m->path) {
        return false;
    }
    memcpy(m->path, path, len + 1);
    const char *p = path;
    while (*p == '/') {
        p++;
    }
    if (*p == '@') {
        m->any_element = true;
        p++;
        if (strcmp(p, "xml:lang") == 0) {
            m->target = TARGET_XML_LANG;
            return true;
        }
        m->target = TARGET_ATTR;
        return strchr(p, ':') == NULL && copy_name(m->attr, p, strlen(p));
    }
    /* Split on '/': first step, middle steps, last part. */
    const char *parts[STEPS_MAX + 2];
    size_t lens[STEPS_MAX + 2];
    size_t count = 0;
    const char *s = p;
    for (size_t guard = 0; guard < STEPS_MAX + 2; guard++) {
        const char *slash = strchr(s, '/');
        size_t n = slash != NULL ? (size_t)(slash - s) : strlen(s);
        parts[count] = s;
        lens[count] = n;
        count++;
        if (slash == NULL) {
            break;
        }
        if (count == STEPS_MAX + 2) {
            return false;
        }
        s = slash + 1;
    }
    if (count == 0) {
        return false;
    }
    size_t last = count - 1;
    if (lens[last] > 0 && parts[last][0] == '@') {
        const char *a = parts[last] + 1;
        size_t an = lens[last] - 1;
        if (an == 8 && strncmp(a, "xml:lang", 8) == 0) {
            m->target = TARGET_XML_LANG;
        } else {
            m->target = TARGET_ATTR;
            if (memchr(a, ':', an) != NULL || !copy_name(m->attr, a, an)) {
                return false;
            }
        }
        count--;
    } else if (lens[last] == 6 && strncmp(parts[last], "text()", 6) == 0) {
        m->target = TARGET_TEXT;
        count--;
    } else {
        m->target = TARGET_TEXT; /* an element path: its text, as the script's el.text */
    }
    if (count == 0 || count - 1 > STEPS_MAX || !copy_name(m->first, parts[0], lens[0])) {
        return false;
    }
    for (size_t i = 1; i < count; i++) {
        if (!copy_name(m->steps[i - 1], parts[i], lens[i])) {
            return false;
        }
    }
    m->step_count = count - 1;
    return true;
}

/* The only condition forms the script accepts: @vocabulary = 'X' [or not(@vocabulary)]. */
static bool parse_condition(struct mapping *m, const char *cond)
{
    while (*cond == ' ' || *cond == '\t' || *cond == '\n' || *cond == '\r') {
        cond++;
    }
    size_t n = strlen(cond);
    while (n > 0 && (cond[n - 1] == ' ' || cond[n - 1] == '\t' || cond[n - 1] == '\n' || cond[n - 1] == '\r')) {
        n--;
    }
    static const char head[] = "@vocabulary = '";
    static const char tail[] = " or not(@vocabulary)";
    if (n < sizeof head || strncmp(cond, head, sizeof head - 1) != 0) {
        return false;
    }
    const char *v = cond + sizeof head - 1;
    const char *q = memchr(v, '\'', n - (sizeof head - 1));
    if (q == NULL || (size_t)(q - v) >= VOCAB_BYTES) {
        return false;
    }
    memcpy(m->cond_vocabulary, v, (size_t)(q - v));
    m->cond_vocabulary[q - v] = '\0';
    size_t rest = n - (size_t)(q + 1 - cond);
    if (rest == 0) {
        m->cond_or_absent = false;
    } else if (rest == sizeof tail - 1 && strncmp(q + 1, tail, rest) == 0) {
        m->cond_or_absent = true;
    } else {
        return false;
    }
    m->has_condition = true;
    return true;
}

static bool load_mappings(struct iati_codelists *cl, const char *dir, struct iati_problems *out)
{
    char path[PATH_BYTES_MAX];
    int pn = snprintf(path, sizeof path, "%s/mapping.xml", dir);
    if (pn < 0 || (size_t)pn >= sizeof path) {
        iati_chk_problem_at(out, "FL-CONFIG", IATI_SEVERITY_ERROR, dir, 0, "codelist directory path too long");
        return false;
    }
    if (access(path, R_OK) != 0) {
        iati_chk_problem_at(out, "FL-CONFIG", IATI_SEVERITY_ERROR, path, 0, "codelist mapping not readable: %s: %s",
                            path, strerror(errno));
        return false;
    }
    xmlDocPtr doc = xmlReadFile(path, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (doc == NULL) {
        iati_chk_problem_at(out, "FL-CONFIG", IATI_SEVERITY_ERROR, path, 0, "codelist mapping is not readable XML");
        return false;
    }
    const xmlNode *root = xmlDocGetRootElement(doc);
    size_t total = root != NULL ? iati_chk_count(root, "mapping") : 0;
    bool ok = total > 0 && total <= IATI_CODELIST_MAPPINGS_MAX;
    if (!ok) {
        iati_chk_problem_at(out, "FL-CONFIG", IATI_SEVERITY_ERROR, path, 0,
                            "mapping.xml has %zu mappings (1..%d expected)", total, IATI_CODELIST_MAPPINGS_MAX);
    } else {
        cl->maps = calloc(total, sizeof *cl->maps);
        ok = cl->maps != NULL;
    }
    for (const xmlNode *m = ok ? iati_chk_child(root, "mapping") : NULL; m != NULL && ok;
         m = iati_chk_next(m, "mapping")) {
        struct mapping *map = &cl->maps[cl->map_count];
        xmlChar *p = child_text(m, "path");
        xmlChar *cond = child_text(m, "condition");
        const xmlNode *list_el = iati_chk_child(m, "codelist");
        const char *ref = list_el != NULL ? iati_chk_attr(list_el, "ref") : NULL;
        if (p == NULL || ref == NULL || !parse_path(map, (const char *)p)) {
            iati_chk_problem_at(out, "FL-CONFIG", IATI_SEVERITY_ERROR, path, xmlGetLineNo(m),
                                "mapping path '%s' not understood", p != NULL ? (const char *)p : "");
            ok = false;
        } else if (cond != NULL && !parse_condition(map, (const char *)cond)) {
            iati_chk_problem_at(out, "FL-CONFIG", IATI_SEVERITY_ERROR, path, xmlGetLineNo(m),
                                "mapping condition '%s' not understood", (const char *)cond);
            ok = false;
        } else {
            map->list = list_index(cl, dir, ref, out);
            ok = map->list != SIZE_MAX;
            cl->map_count += ok ? 1 : 0;
        }
        xmlFree(p);
        xmlFree(cond);
    }
    xmlFreeDoc(doc);
    return ok;
}

struct iati_codelists *iati_codelists_load(const char *dir, struct iati_problems *problems)
{
    assert(problems != NULL);
    if (dir == NULL) {
        iati_chk_problem_at(problems, "FL-CONFIG", IATI_SEVERITY_ERROR, "codelist_dir", 0, "no codelist directory");
        return NULL;
    }
    iati_chk_libxml_init();
    struct iati_codelists *cl = calloc(1, sizeof *cl);
    if (cl == NULL) {
        iati_chk_problem_at(problems, "FL-CONFIG", IATI_SEVERITY_ERROR, dir, 0, "out of memory loading codelists");
        return NULL;
    }
    if (!load_mappings(cl, dir, problems)) {
        iati_codelists_free(cl);
        return NULL;
    }
    cl->agency_list = list_index(cl, dir, "OrganisationRegistrationAgency", problems);
    if (cl->agency_list == SIZE_MAX) {
        iati_codelists_free(cl);
        return NULL;
    }
    return cl;
}

void iati_codelists_free(struct iati_codelists *cl)
{
    if (cl == NULL) {
        return;
    }
    for (size_t i = 0; i < cl->list_count; i++) {
        for (size_t j = 0; j < cl->lists[i].count; j++) {
            free(cl->lists[i].items[j].code);
        }
        free(cl->lists[i].items);
    }
    free(cl->maps);
    free(cl);
}

/* ---------------------------------------------------------------- lookups */

/* 0: not in the list, 1: active, 2: withdrawn. */
static int lookup(const struct codelist *list, const char *code)
{
    size_t lo = 0;
    size_t hi = list->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = strcmp(code, list->items[mid].code);
        if (cmp == 0) {
            return list->items[mid].withdrawn ? 2 : 1;
        }
        if (cmp < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return 0;
}

bool iati_chk_codelists_agency(const struct iati_codelists *cl, const char *prefix)
{
    assert(cl != NULL && prefix != NULL);
    return lookup(&cl->lists[cl->agency_list], prefix) != 0;
}

/* ---------------------------------------------------------------- checking values */

static void check_value(struct iati_chk *c, const struct mapping *m, const xmlNode *el, const char *attr_label,
                        const char *value)
{
    if (value == NULL || value[0] == '\0') {
        return;
    }
    const struct codelist *list = &c->codelists->lists[m->list];
    int found = lookup(list, value);
    if (found == 0) {
        iati_chk_problem(c, "FL-CODE-UNKNOWN", IATI_SEVERITY_ERROR, el, attr_label, "'%s' is not a code of %s (%s)",
                         value, list->name, m->path);
    } else if (found == 2) {
        /* a warning: the Validator's codelist rules accept withdrawn codes (docs/iati.md) */
        iati_chk_problem(c, "FL-CODE-WITHDRAWN", IATI_SEVERITY_WARNING, el, attr_label,
                         "'%s' is withdrawn from %s and must not be used in new data (%s)", value, list->name, m->path);
    }
}

static bool condition_holds(const struct mapping *m, const xmlNode *el)
{
    if (!m->has_condition) {
        return true;
    }
    const char *v = iati_chk_attr(el, "vocabulary");
    if (v == NULL) {
        return m->cond_or_absent;
    }
    return strcmp(v, m->cond_vocabulary) == 0;
}

/* Strips ASCII white space in place (Python's str.strip on the text of an element). */
static char *strip(char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\f' || *s == '\v') {
        s++;
    }
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == '\f' ||
                     s[n - 1] == '\v')) {
        s[--n] = '\0';
    }
    return s;
}

static void check_target(struct iati_chk *c, const struct mapping *m, const xmlNode *el)
{
    if (!condition_holds(m, el)) {
        return;
    }
    switch (m->target) {
    case TARGET_ATTR:
        check_value(c, m, el, m->attr, iati_chk_attr(el, m->attr));
        return;
    case TARGET_XML_LANG:
        check_value(c, m, el, "xml:lang", iati_chk_lang(el));
        return;
    case TARGET_TEXT: {
        xmlChar *text = xmlNodeGetContent(el);
        if (text != NULL) {
            check_value(c, m, el, "text()", strip((char *)text));
            xmlFree(text);
        }
        return;
    }
    }
}

/* Visits every element reached from e by the child steps of m from step `from` on (ElementTree's
 * findall), with an odometer of one cursor per step instead of recursion. */
static void apply_mapping(struct iati_chk *c, const struct mapping *m, const xmlNode *e, size_t from)
{
    if (from == m->step_count) {
        check_target(c, m, e);
        return;
    }
    size_t n = m->step_count - from; /* steps to walk */
    const xmlNode *cur[STEPS_MAX];
    size_t d = 0;
    cur[0] = iati_chk_child(e, m->steps[from]);
    for (size_t guard = 0; guard < 4 * (size_t)IATI_CHECK_NODES_MAX; guard++) {
        if (cur[d] == NULL) {
            if (d == 0) {
                return;
            }
            d--;
            cur[d] = iati_chk_next(cur[d], m->steps[from + d]);
            continue;
        }
        if (d + 1 == n) {
            check_target(c, m, cur[d]);
            cur[d] = iati_chk_next(cur[d], m->steps[from + d]);
            continue;
        }
        cur[d + 1] = iati_chk_child(cur[d], m->steps[from + d + 1]);
        d++;
    }
}

void iati_chk_codelists_element(struct iati_chk *c, const xmlNode *e, bool root_only)
{
    assert(c != NULL && c->codelists != NULL && e != NULL);
    if (e->type != XML_ELEMENT_NODE) {
        return;
    }
    const struct iati_codelists *cl = c->codelists;
    for (size_t i = 0; i < cl->map_count; i++) {
        const struct mapping *m = &cl->maps[i];
        if (m->any_element) {
            check_target(c, m, e); /* //@attr: every element, in any namespace, as root.iter() */
            continue;
        }
        if (!iati_chk_is(e, m->first) || (root_only && m->step_count > 0)) {
            continue;
        }
        apply_mapping(c, m, e, 0);
    }
}

void iati_chk_codelists_streamed(struct iati_chk *c, const xmlNode *e)
{
    assert(c != NULL && c->codelists != NULL && e != NULL);
    const struct iati_codelists *cl = c->codelists;
    for (size_t i = 0; i < cl->map_count; i++) {
        const struct mapping *m = &cl->maps[i];
        /* //@attr mappings are applied by the element walk of e */
        if (m->any_element || m->step_count == 0 || strcmp(m->first, c->item_name) != 0 ||
            !iati_chk_is(e, m->steps[0])) {
            continue;
        }
        apply_mapping(c, m, e, 1);
    }
}
