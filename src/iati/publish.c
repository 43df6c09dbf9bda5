/* publish: the checks before IATI files are published (schema, codelists, rules, privacy, ledger
 * totals) and the immutable publications of a fund. */
#include "fundledger/iati_export.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/xmlreader.h>

#include "fundledger/audit.h"
#include "fundledger/fund.h"
#include "fundledger/hash.h"
#include "fundledger/ledger.h"
#include "fundledger/money.h"

#include "check_internal.h" /* iati_chk_libxml_init */

#define PATH_BYTES 4096
/* A directory that files are then named in: leaves room for "/organisation.xml". */
#define DIR_BYTES (PATH_BYTES - 64)
/* Bytes read from a file at a time by the privacy scan. */
#define SCAN_CHUNK_BYTES 65536
/* Names read from the database per query. */
#define NAMES_PAGE 1000
/* An element name the coordinate scan looks at ("gml:pos"): longer names are not coordinates. */
#define TAG_NAME_BYTES 64
/* Reader steps over one stored file when listing its identifiers and refs: bounds the loop. */
#define READ_STEPS_MAX (1ull << 40)

/* ---------------------------------------------------------------- file kind */

bool iati_file_kind(const char *path, enum iati_kind *kind)
{
    assert(path != NULL && kind != NULL);
    iati_chk_libxml_init();
    xmlTextReaderPtr r = xmlReaderForFile(path, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (r == NULL) {
        return false;
    }
    bool found = false;
    for (int steps = 0; steps < 1000 && xmlTextReaderRead(r) == 1; steps++) {
        if (xmlTextReaderNodeType(r) != XML_READER_TYPE_ELEMENT) {
            continue;
        }
        const char *name = (const char *)xmlTextReaderConstLocalName(r);
        if (name != NULL && strcmp(name, "iati-activities") == 0) {
            *kind = IATI_KIND_ACTIVITIES;
            found = true;
        } else if (name != NULL && strcmp(name, "iati-organisations") == 0) {
            *kind = IATI_KIND_ORGANISATIONS;
            found = true;
        }
        break;
    }
    xmlFreeTextReader(r);
    return found;
}

/* ---------------------------------------------------------------- privacy: names and coordinates */

/* Words are runs of ASCII letters and digits and of bytes >= 0x80 (UTF-8); anything else separates
 * them. Folding: ASCII upper case to lower, and the Latin-1 capitals of UTF-8 (C3 80..C3 9E but
 * the multiplication sign) to their small letters, so "QUIÑONES" and "quiñones" are one word. */
struct words {
    uint64_t h1, h2; /* the word being read */
    bool in_word;
    bool after_c3;
};

static bool word_byte(unsigned char b)
{
    return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') || b >= 0x80;
}

static void word_feed(struct words *w, unsigned char b)
{
    unsigned char f = b;
    if (f >= 'A' && f <= 'Z') {
        f = (unsigned char)(f + 32);
    } else if (w->after_c3 && f >= 0x80 && f <= 0x9E && f != 0x97) {
        f = (unsigned char)(f + 0x20);
    }
    w->after_c3 = b == 0xC3;
    if (!w->in_word) {
        w->in_word = true;
        w->h1 = 0xcbf29ce484222325ull;
        w->h2 = 0x9ae16a3b2f90404full;
    }
    w->h1 = (w->h1 ^ f) * 0x100000001b3ull;
    w->h2 = (w->h2 + f + 1) * 0xc2b2ae3d27d4eb4full;
    w->h2 ^= w->h2 >> 29;
}

/* A sequence of words: S = S * P + word, in two independent 64-bit hashes (a 128-bit key). */
#define SEQ_P1 0x9e3779b97f4a7c15ull
#define SEQ_P2 0xff51afd7ed558ccdull

struct name_key {
    uint64_t h1, h2;
    int64_t id; /* 0: empty slot */
};

struct name_set {
    struct name_key *slots;
    size_t cap; /* a power of two */
    size_t n;
    unsigned max_words;
};

static size_t slot_of(const struct name_set *s, uint64_t h1)
{
    return (size_t)(h1 ^ (h1 >> 31)) & (s->cap - 1);
}

static void set_add(struct name_set *s, uint64_t h1, uint64_t h2, int64_t id)
{
    size_t i = slot_of(s, h1);
    for (size_t k = 0; k < s->cap; k++, i = (i + 1) & (s->cap - 1)) {
        if (s->slots[i].id == 0) {
            s->slots[i] = (struct name_key){h1, h2, id};
            s->n++;
            return;
        }
        if (s->slots[i].h1 == h1 && s->slots[i].h2 == h2) {
            return; /* two persons of the same name: one is enough to refuse */
        }
    }
}

static int64_t set_find(const struct name_set *s, uint64_t h1, uint64_t h2)
{
    size_t i = slot_of(s, h1);
    for (size_t k = 0; k < s->cap; k++, i = (i + 1) & (s->cap - 1)) {
        if (s->slots[i].id == 0) {
            return 0;
        }
        if (s->slots[i].h1 == h1 && s->slots[i].h2 == h2) {
            return s->slots[i].id;
        }
    }
    return 0;
}

/* The key of a name: its words folded and chained. Returns the number of words (0: none). */
static unsigned name_key_of(const char *name, uint64_t *k1, uint64_t *k2)
{
    struct words w = {0};
    uint64_t s1 = 0, s2 = 0;
    unsigned n = 0;
    for (const unsigned char *p = (const unsigned char *)name;; p++) {
        if (*p != '\0' && word_byte(*p)) {
            word_feed(&w, *p);
            continue;
        }
        if (w.in_word && n < IATI_PRIVACY_NAME_WORDS_MAX) {
            s1 = s1 * SEQ_P1 + w.h1;
            s2 = s2 * SEQ_P2 + w.h2;
            n++;
        }
        w.in_word = false;
        w.after_c3 = false;
        if (*p == '\0') {
            break;
        }
    }
    *k1 = s1;
    *k2 = s2;
    return n;
}

/* The scan of one file for one set of names (and, on the first pass, coordinates). */
struct scan {
    const struct name_set *names;
    const char *path;
    struct iati_problems *out;
    bool coordinates;
    long line;
    struct words w;
    uint64_t seq1[IATI_PRIVACY_NAME_WORDS_MAX], seq2[IATI_PRIVACY_NAME_WORDS_MAX];
    unsigned seen; /* words so far, up to max_words */
    int64_t reported[IATI_PRIVACY_HITS_MAX];
    size_t hits;
    /* tag names */
    bool after_lt, in_tag_name;
    char tag[TAG_NAME_BYTES];
    size_t tag_len;
};

static void scan_word_end(struct scan *s)
{
    unsigned max = s->names->max_words;
    if (max == 0) {
        return;
    }
    unsigned top = s->seen < max ? s->seen : max - 1;
    for (unsigned d = top; d > 0; d--) {
        s->seq1[d] = s->seq1[d - 1] * SEQ_P1 + s->w.h1;
        s->seq2[d] = s->seq2[d - 1] * SEQ_P2 + s->w.h2;
    }
    s->seq1[0] = s->w.h1;
    s->seq2[0] = s->w.h2;
    if (s->seen < max) {
        s->seen++;
    }
    for (unsigned d = 0; d < s->seen && s->hits < IATI_PRIVACY_HITS_MAX; d++) {
        int64_t id = set_find(s->names, s->seq1[d], s->seq2[d]);
        if (id == 0) {
            continue;
        }
        bool again = false;
        for (size_t k = 0; k < s->hits && !again; k++) {
            again = s->reported[k] == id;
        }
        if (again) {
            continue;
        }
        s->reported[s->hits++] = id;
        iati_chk_problem_at(s->out, "FL-PRIVACY-NAME", IATI_SEVERITY_ERROR, s->path, s->line,
                            "the name of entrepreneur %" PRId64 " (a person) appears in the file; loans to persons "
                            "are published only summed per department (domain.md 10)",
                            id);
    }
}

static void scan_tag_end(struct scan *s)
{
    s->tag[s->tag_len] = '\0';
    const char *colon = strrchr(s->tag, ':');
    const char *local = colon != NULL ? colon + 1 : s->tag;
    if (s->coordinates && (strcmp(local, "point") == 0 || strcmp(local, "pos") == 0) &&
        s->hits < IATI_PRIVACY_HITS_MAX) {
        s->hits++;
        iati_chk_problem_at(s->out, "FL-PRIVACY-COORDINATES", IATI_SEVERITY_ERROR, s->path, s->line,
                            "a <%s> element: coordinates are never published, locations stop at municipality "
                            "level (domain.md 10)",
                            s->tag);
    }
    s->in_tag_name = false;
    s->tag_len = 0;
}

static void scan_byte(struct scan *s, unsigned char b)
{
    if (b == '\n') {
        s->line++;
    }
    /* element names for the coordinate check */
    if (s->in_tag_name) {
        bool name_char = (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') || b == ':' ||
                         b == '_' || b == '-' || b == '.';
        if (name_char && s->tag_len + 1 < sizeof s->tag) {
            s->tag[s->tag_len++] = (char)b;
        } else {
            scan_tag_end(s);
        }
    } else if (s->after_lt) {
        s->in_tag_name = b != '/' && b != '?' && b != '!';
        if (s->in_tag_name) {
            s->tag[0] = (char)b;
            s->tag_len = 1;
        }
    }
    s->after_lt = b == '<';
    /* words for the names */
    if (word_byte(b)) {
        word_feed(&s->w, b);
        return;
    }
    if (s->w.in_word) {
        scan_word_end(s);
    }
    s->w.in_word = false;
    s->w.after_c3 = false;
}

static enum fl_err scan_file(const char *path, const struct name_set *names, bool coordinates,
                             struct iati_problems *out, struct fl_error *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "cannot open %s: %s", path, strerror(errno));
    }
    struct scan *s = calloc(1, sizeof *s);
    unsigned char *buf = malloc(SCAN_CHUNK_BYTES);
    if (s == NULL || buf == NULL) {
        free(s);
        free(buf);
        (void)fclose(f);
        return fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
    }
    s->names = names;
    s->path = path;
    s->out = out;
    s->coordinates = coordinates;
    s->line = 1;
    size_t n;
    while ((n = fread(buf, 1, SCAN_CHUNK_BYTES, f)) > 0) {
        for (size_t i = 0; i < n; i++) {
            scan_byte(s, buf[i]);
        }
    }
    scan_byte(s, '\n'); /* ends a last word */
    bool failed = ferror(f) != 0;
    (void)fclose(f);
    free(buf);
    free(s);
    if (failed) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "cannot read %s", path);
    }
    return FLE_OK;
}

/* Fills set with the next names of persons after *after (at most the pass's capacity). *more
 * tells whether names are left for another pass. */
static enum fl_err names_load(struct db *db, struct name_set *set, int64_t *after, bool *more, struct fl_error *err)
{
    memset(set->slots, 0, set->cap * sizeof *set->slots);
    set->n = 0;
    set->max_words = 0;
    *more = false;
    while (set->n + NAMES_PAGE <= IATI_PRIVACY_NAMES_PER_PASS) {
        char ab[21], lb[21];
        const char *p[2] = {db_i64_text(*after, ab), db_i64_text(NAMES_PAGE, lb)};
        PGresult *r = db_exec(db, "iati_privacy_names", 2, p, err);
        if (r == NULL) {
            return err->code;
        }
        int n = PQntuples(r);
        for (int i = 0; i < n; i++) {
            uint64_t k1, k2;
            unsigned words = name_key_of(db_str(r, i, 1), &k1, &k2);
            if (words > 0) {
                set_add(set, k1, k2, db_i64(r, i, 0));
                set->max_words = words > set->max_words ? words : set->max_words;
            }
        }
        if (n > 0) {
            *after = db_i64(r, n - 1, 0);
        }
        PQclear(r);
        if (n < NAMES_PAGE) {
            return FLE_OK;
        }
    }
    *more = true;
    return FLE_OK;
}

enum fl_err iati_privacy_check(struct db *db, const char *path, struct iati_problems *problems, struct fl_error *err)
{
    assert(db != NULL && path != NULL && problems != NULL);
    struct name_set set = {0};
    set.cap = 1;
    while (set.cap < 2 * (size_t)IATI_PRIVACY_NAMES_PER_PASS) {
        set.cap *= 2;
    }
    set.slots = calloc(set.cap, sizeof *set.slots);
    if (set.slots == NULL) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
    }
    enum fl_err e = FLE_OK;
    int64_t after = 0;
    bool more = true;
    for (unsigned pass = 0; more && e == FLE_OK && pass < 1000000u; pass++) {
        e = names_load(db, &set, &after, &more, err);
        if (e == FLE_OK && (set.n > 0 || pass == 0)) {
            e = scan_file(path, &set, pass == 0, problems, err);
        }
    }
    free(set.slots);
    return e;
}

/* ---------------------------------------------------------------- publishing */

static void remove_quietly(const char *dir, const char *name)
{
    char p[PATH_BYTES];
    if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, name) < sizeof p) {
        (void)unlink(p);
    }
}

enum fl_err iati_export_publish(struct db *db, const struct iati_export_options *o, struct iati_export_summary *sum,
                                struct iati_problems *problems, struct fl_error *err)
{
    assert(db != NULL && o != NULL && sum != NULL && problems != NULL && err != NULL);
    size_t before_count = problems->count, before_dropped = problems->dropped;
    char staging[DIR_BYTES];
    if ((size_t)snprintf(staging, sizeof staging, "%s/.iati-staging-XXXXXX", o->out_dir) >= sizeof staging) {
        return fl_error_set(err, FLE_BAD_FIELD, "out", "the output directory path is too long");
    }
    if (mkdtemp(staging) == NULL) {
        return fl_error_set(err, FLE_INTERNAL, "out", "cannot write in %s: %s", o->out_dir, strerror(errno));
    }
    struct iati_export_options so = *o;
    so.out_dir = staging;
    enum fl_err e = iati_export_write(db, &so, sum, err);
    if (e == FLE_RULE || e == FLE_BAD_FIELD) {
        /* the data cannot be published as it is: a problem like the others */
        iati_chk_problem_at(problems, "FL-EXPORT", IATI_SEVERITY_ERROR, err->field[0] ? err->field : "/", 0, "%s",
                            err->message);
    }
    char apath[PATH_BYTES], opath[PATH_BYTES];
    snprintf(apath, sizeof apath, "%s/activities.xml", staging);
    snprintf(opath, sizeof opath, "%s/organisation.xml", staging);
    if (e == FLE_OK) {
        struct iati_codelists *cl = iati_codelists_load(o->codelist_dir, problems);
        if (cl != NULL) {
            struct iati_check_config cfg = {.schema_dir = o->schema_dir,
                                            .codelists = cl,
                                            .codelist_dir = o->codelist_dir,
                                            .today = o->today,
                                            .policy = true};
            (void)iati_check_file(apath, IATI_KIND_ACTIVITIES, &cfg, problems);
            (void)iati_check_file(opath, IATI_KIND_ORGANISATIONS, &cfg, problems);
            iati_codelists_free(cl);
        }
        e = iati_privacy_check(db, apath, problems, err);
        if (e == FLE_OK) {
            e = iati_privacy_check(db, opath, problems, err);
        }
    }
    if (e == FLE_OK) {
        struct iati_totals ledger;
        e = iati_export_totals(db, o->fund_id, &ledger, err);
        for (int t = 0; e == FLE_OK && t < IATI_TX_COUNT_; t++) {
            /* what the file says plus what small groups withheld (docs/iati.md) is the ledger's */
            int64_t accounted;
            bool ok = money_add(sum->written.total_minor[t], sum->withheld.total_minor[t], &accounted);
            if (ok && ledger.total_minor[t] == accounted) {
                continue;
            }
            char a[MONEY_TEXT_MAX], w[MONEY_TEXT_MAX], b[MONEY_TEXT_MAX];
            (void)money_format(sum->written.total_minor[t], ledger.exponent, a, sizeof a);
            (void)money_format(sum->withheld.total_minor[t], ledger.exponent, w, sizeof w);
            (void)money_format(ledger.total_minor[t], ledger.exponent, b, sizeof b);
            iati_chk_problem_at(problems, "FL-TOTALS", IATI_SEVERITY_ERROR, "/iati-activities", 0,
                                "transaction type %s: the file totals %s %s (and %s %s withheld), the ledger %s %s",
                                iati_tx_code((enum iati_tx)t), a, ledger.currency, w, ledger.currency, b,
                                ledger.currency);
        }
    }
    /* errors (IATI errors and the fund's policies) refuse; warnings and infos are published with
     * the files and shown to the caller (problems) */
    if (e == FLE_OK && iati_problems_errors_since(problems, before_count, before_dropped)) {
        size_t found =
            iati_problems_count(problems, before_count, IATI_SEVERITY_ERROR) + (problems->dropped - before_dropped);
        e = fl_error_set(err, FLE_RULE, "iati",
                         "the files did not pass the checks: %zu error(s); nothing was "
                         "published",
                         found);
    }
    if (e == FLE_OK) {
        char final_a[PATH_BYTES], final_o[PATH_BYTES];
        snprintf(final_a, sizeof final_a, "%s/activities.xml", o->out_dir);
        snprintf(final_o, sizeof final_o, "%s/organisation.xml", o->out_dir);
        if (rename(apath, final_a) != 0 || rename(opath, final_o) != 0) {
            e = fl_error_set(err, FLE_INTERNAL, "out", "cannot move the files into %s: %s", o->out_dir,
                             strerror(errno));
        }
    }
    if (e == FLE_RULE && err->field[0] == '\0') {
        snprintf(err->field, sizeof err->field, "iati");
    }
    remove_quietly(staging, "activities.xml");
    remove_quietly(staging, "organisation.xml");
    (void)rmdir(staging);
    return e;
}

/* ---------------------------------------------------------------- publications */

/* Reads a whole file into a NUL-terminated buffer (caller frees), at most IATI_PUBLICATION_BYTES_MAX. */
static char *read_all(const char *path, size_t *len, struct fl_error *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fl_error_set(err, FLE_INTERNAL, NULL, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        (void)fclose(f);
        fl_error_set(err, FLE_INTERNAL, NULL, "cannot stat %s", path);
        return NULL;
    }
    if (st.st_size < 0 || (uint64_t)st.st_size > IATI_PUBLICATION_BYTES_MAX) {
        (void)fclose(f);
        fl_error_set(err, FLE_RULE, "iati",
                     "a file of %lld bytes is over the %u bytes a publication stores; export "
                     "it with the command line",
                     (long long)st.st_size, IATI_PUBLICATION_BYTES_MAX);
        return NULL;
    }
    size_t n = (size_t)st.st_size;
    char *buf = malloc(n + 1);
    if (buf == NULL) {
        (void)fclose(f);
        fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
        return NULL;
    }
    size_t got = fread(buf, 1, n, f);
    (void)fclose(f);
    if (got != n || memchr(buf, '\0', n) != NULL) {
        free(buf);
        fl_error_set(err, FLE_INTERNAL, NULL, "cannot read %s", path);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static json_t *decimal(int64_t minor, int exponent)
{
    char buf[MONEY_TEXT_MAX];
    if (money_format(minor, exponent, buf, sizeof buf) == 0) {
        return json_null();
    }
    return json_string(buf);
}

/* {"<type>": {"count", "total"}} from the stored {"<type>": {"count", "total_minor"}}. */
static json_t *transactions_reply(const json_t *stored, int exponent)
{
    json_t *out = json_object();
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)stored, key, v)
    {
        json_object_set_new(out, key,
                            json_pack("{s:O, s:o}", "count", json_object_get(v, "count"), "total",
                                      decimal(json_integer_value(json_object_get(v, "total_minor")), exponent)));
    }
    return out;
}

struct published {
    char *xml[2];
    size_t len[2];
    char sha[2][HASH_HEX_BYTES];
};

static void published_free(struct published *p)
{
    free(p->xml[0]);
    free(p->xml[1]);
    memset(p, 0, sizeof *p);
}

/* Writes the ledger's signed chain head into a checked file as an element of our own namespace,
 * the last child of the root (the IATI schemas allow any element of another namespace there:
 * <xsd:any namespace="##other" processContents="lax"/>), then checks the file again in full.
 * *xml / *len are replaced by the new text. The values are digits and hex: nothing to escape. */
#define CHAIN_HEAD_NS "urn:fundledger:ledger-chain-head:1"
static enum fl_err add_chain_head(const char *path, enum iati_kind kind, const json_t *head,
                                  const struct iati_export_options *o, char **xml, size_t *len,
                                  struct iati_problems *problems, struct fl_error *err)
{
    const char *close = kind == IATI_KIND_ACTIVITIES ? "</iati-activities>" : "</iati-organisations>";
    size_t cn = strlen(close), at = *len;
    while (at > 0 && ((*xml)[at - 1] == '\n' || (*xml)[at - 1] == ' ')) {
        at--;
    }
    if (at < cn || memcmp(*xml + at - cn, close, cn) != 0) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "%s does not end with %s", path, close);
    }
    at -= cn;
    char el[1024];
    int n = snprintf(el, sizeof el,
                     "  <fl:ledger-chain-head xmlns:fl=\"" CHAIN_HEAD_NS "\" chain=\"%s\" seal-pos=\"%" PRId64
                     "\" entry-id=\"%" PRId64 "\" count=\"%" PRId64 "\" hash=\"%s\" key-id=\"%s\" signature=\"%s\"/>\n",
                     json_string_value(json_object_get(head, "chain")),
                     (int64_t)json_integer_value(json_object_get(head, "seal_pos")),
                     (int64_t)json_integer_value(json_object_get(head, "entry_id")),
                     (int64_t)json_integer_value(json_object_get(head, "count")),
                     json_string_value(json_object_get(head, "hash")), json_string_value(json_object_get(head, "key_id")),
                     json_string_value(json_object_get(head, "signature")));
    assert(n > 0 && (size_t)n < sizeof el);
    char *out = malloc(*len + (size_t)n + 1);
    if (out == NULL) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
    }
    memcpy(out, *xml, at);
    memcpy(out + at, el, (size_t)n);
    memcpy(out + at + n, *xml + at, *len - at + 1);
    FILE *f = fopen(path, "wb");
    bool ok = f != NULL && fwrite(out, 1, *len + (size_t)n, f) == *len + (size_t)n;
    ok = (f == NULL || fclose(f) == 0) && ok;
    if (!ok) {
        free(out);
        return fl_error_set(err, FLE_INTERNAL, NULL, "cannot write %s", path);
    }
    free(*xml);
    *xml = out;
    *len += (size_t)n;
    struct iati_check_config c = {.schema_dir = o->schema_dir,
                                  .codelist_dir = o->codelist_dir,
                                  .today = o->today,
                                  .policy = true};
    /* The first check already reported this file's warnings: only an error the added element
     * brings is reported again (into problems, with the publication refused). */
    struct iati_problems again;
    iati_problems_init(&again);
    enum iati_check_result cr = iati_check_file(path, kind, &c, &again);
    bool failed = cr != IATI_CHECK_OK || iati_problems_errors_since(&again, 0, 0);
    for (size_t i = 0; failed && i < again.count; i++) {
        if (again.items[i].severity == IATI_SEVERITY_ERROR) {
            const struct iati_problem *q = &again.items[i];
            iati_chk_problem_at(problems, q->rule_id, q->severity, q->location, q->line, "%s", q->message);
        }
    }
    iati_problems_free(&again);
    if (failed) {
        return fl_error_set(err, FLE_RULE, "iati", "the file with the ledger's chain head fails its checks");
    }
    return FLE_OK;
}

/* Exports and checks into a private directory under o->out_dir, then reads both files (with the
 * chain head written in, when there is one). */
static enum fl_err publish_files(struct db *db, const struct iati_export_options *o, struct iati_export_summary *sum,
                                 struct published *pub, struct iati_problems *problems, struct fl_error *err)
{
    json_t *head = ledger_chain_head(db, err);
    if (head == NULL) {
        return err->code;
    }
    char dir[DIR_BYTES];
    if ((size_t)snprintf(dir, sizeof dir, "%s/fundledger-publication-XXXXXX", o->out_dir) >= sizeof dir) {
        json_decref(head);
        return fl_error_set(err, FLE_INTERNAL, NULL, "the staging directory path is too long");
    }
    if (mkdtemp(dir) == NULL) {
        json_decref(head);
        return fl_error_set(err, FLE_INTERNAL, NULL, "cannot make a staging directory in %s: %s", o->out_dir,
                            strerror(errno));
    }
    struct iati_export_options so = *o;
    so.out_dir = dir;
    enum fl_err e = iati_export_publish(db, &so, sum, problems, err);
    static const char *const names[2] = {"activities.xml", "organisation.xml"};
    for (int i = 0; i < 2 && e == FLE_OK; i++) {
        char path[PATH_BYTES];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        pub->xml[i] = read_all(path, &pub->len[i], err);
        uint8_t h[HASH_BYTES];
        if (pub->xml[i] == NULL) {
            e = err->code;
        } else if (json_is_object(head) &&
                   (e = add_chain_head(path, i == 0 ? IATI_KIND_ACTIVITIES : IATI_KIND_ORGANISATIONS, head, o,
                                       &pub->xml[i], &pub->len[i], problems, err)) != FLE_OK) {
            /* e and err set */
        } else if (!hash_sha256(pub->xml[i], pub->len[i], h)) {
            e = fl_error_set(err, FLE_INTERNAL, NULL, "SHA-256 failed");
        } else {
            hash_hex(h, HASH_BYTES, pub->sha[i]);
        }
    }
    remove_quietly(dir, names[0]);
    remove_quietly(dir, names[1]);
    (void)rmdir(dir);
    json_decref(head);
    return e;
}

/* The chain head in row i from column c on (seal_pos, entry_id, count, hash, key_id, signature,
 * chain), or JSON null when there is none. */
static json_t *chain_head_json(const PGresult *r, int i, int c)
{
    if (db_null(r, i, c)) {
        return json_null();
    }
    return json_pack("{s:s, s:I, s:I, s:I, s:s, s:s, s:s}", "chain", db_str(r, i, c + 6), "seal_pos",
                     (json_int_t)db_i64(r, i, c), "entry_id", (json_int_t)db_i64(r, i, c + 1), "count",
                     (json_int_t)db_i64(r, i, c + 2), "hash", db_str(r, i, c + 3), "key_id", db_str(r, i, c + 4),
                     "signature", db_str(r, i, c + 5));
}

json_t *iati_publication_create(struct db *db, const struct principal *who, const struct iati_export_options *o,
                                struct iati_problems *problems, struct fl_error *err)
{
    assert(db != NULL && who != NULL && o != NULL && problems != NULL);
    size_t warnings_from = problems->count; /* what the checks find from here on, warnings only on success */
    struct iati_export_summary sum;
    struct published pub;
    memset(&pub, 0, sizeof pub);
    if (fund_exists(db, o->fund_id, NULL, err) != FLE_OK) {
        return NULL;
    }
    if (publish_files(db, o, &sum, &pub, problems, err) != FLE_OK) {
        published_free(&pub);
        return NULL;
    }
    json_t *stored = json_object();
    for (int t = 0; t < IATI_TX_COUNT_; t++) {
        if (sum.written.count[t] == 0 && sum.written.total_minor[t] == 0) {
            continue;
        }
        json_object_set_new(stored, iati_tx_code((enum iati_tx)t),
                            json_pack("{s:I, s:I}", "count", (json_int_t)sum.written.count[t], "total_minor",
                                      (json_int_t)sum.written.total_minor[t]));
    }
    char *stored_text = json_dumps(stored, JSON_COMPACT | JSON_SORT_KEYS);
    char fb[21], ub[21], cb[21];
    const char *p[10] = {db_i64_text(o->fund_id, fb),
                         db_i64_text(who->user_id, ub),
                         sum.fund_identifier,
                         sum.written.currency,
                         db_i64_text((int64_t)sum.activity_count, cb),
                         stored_text,
                         pub.sha[0],
                         pub.sha[1],
                         pub.xml[0],
                         pub.xml[1]};
    PGresult *r = stored_text != NULL ? db_exec(db, "iati_publication_insert", 10, p, err) : NULL;
    free(stored_text);
    free(pub.xml[0]);
    free(pub.xml[1]);
    pub.xml[0] = pub.xml[1] = NULL;
    if (r == NULL) {
        if (stored_text == NULL) {
            fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
        } else if (err->code == FLE_DUPLICATE) {
            fl_error_set(err, FLE_CONFLICT, "fund_id",
                         "another publication of this fund was made at the same time; "
                         "retry");
        }
        json_decref(stored);
        return NULL;
    }
    int64_t version = db_i64(r, 0, 0);
    json_t *reply =
        json_pack("{s:I, s:I, s:s, s:I, s:s, s:s, s:I, s:o, s:s, s:s}", "fund_id", (json_int_t)o->fund_id, "version",
                  (json_int_t)version, "created_at", db_str(r, 0, 1), "created_by", (json_int_t)who->user_id,
                  "fund_identifier", sum.fund_identifier, "currency", sum.written.currency, "activity_count",
                  (json_int_t)sum.activity_count, "transactions", transactions_reply(stored, sum.written.exponent),
                  "activities_sha256", pub.sha[0], "organisation_sha256", pub.sha[1]);
    PQclear(r);
    json_decref(stored);
    json_t *warnings = iati_problems_json(problems, warnings_from);
    json_t *small = json_pack("{s:I, s:I}", "other_departments", (json_int_t)sum.other_departments, "withheld_loans",
                              (json_int_t)sum.withheld_loans);
    if (reply == NULL || warnings == NULL || small == NULL || json_object_set_new(reply, "small_groups", small) != 0 ||
        json_object_set_new(reply, "warnings", warnings) != 0) {
        json_decref(reply);
        fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
        return NULL;
    }
    /* The signed head of the ledger's hash chain this publication was made on, stored beside it. */
    char vb[21];
    /* the record says what was published despite warnings: their rule ids, in order found */
    json_t *warning_ids = json_array();
    for (size_t i = warnings_from; warning_ids != NULL && i < problems->count; i++) {
        json_array_append_new(warning_ids, json_string(problems->items[i].rule_id));
    }
    const char *ph[2] = {fb, db_i64_text(version, vb)};
    if ((r = db_exec(db, "iati_publication_chain_head", 2, ph, err)) == NULL) {
        json_decref(warning_ids);
        json_decref(reply);
        return NULL;
    }
    json_t *head = PQntuples(r) == 1 ? chain_head_json(r, 0, 0) : json_null();
    PQclear(r);
    json_object_set_new(reply, "chain_head", head);
    json_t *detail = json_pack("{s:I, s:s, s:s, s:s, s:o*, s:O}", "version", (json_int_t)version, "fund_identifier",
                               sum.fund_identifier, "activities_sha256", pub.sha[0], "organisation_sha256", pub.sha[1],
                               "warnings", warning_ids, "chain_head", head);
    if (audit_record(db, who, "iati.publish", "publication", db_i64_text(version, vb), o->fund_id, detail, err) !=
        FLE_OK) {
        json_decref(reply);
        return NULL;
    }
    return reply;
}

json_t *iati_publication_list(struct db *db, int64_t fund_id, struct fl_error *err)
{
    assert(db != NULL);
    if (fund_exists(db, fund_id, NULL, err) != FLE_OK) {
        return NULL;
    }
    char fb[21];
    const char *p[1] = {db_i64_text(fund_id, fb)};
    PGresult *r = db_exec(db, "iati_publication_list", 1, p, err);
    if (r == NULL) {
        return NULL;
    }
    json_t *list = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        int exponent = money_currency_exponent(db_str(r, i, 4));
        json_t *stored = json_loads(db_str(r, i, 6), 0, NULL);
        char url[96];
        snprintf(url, sizeof url, "/v1/funds/%" PRId64 "/publications/%s", fund_id, db_str(r, i, 0));
        json_t *item =
            json_pack("{s:I, s:s, s:I, s:s, s:s, s:I, s:o, s:s, s:s, s:I, s:I, s:s+, s:s+}", "version",
                      (json_int_t)db_i64(r, i, 0), "created_at", db_str(r, i, 1), "created_by",
                      (json_int_t)db_i64(r, i, 2), "fund_identifier", db_str(r, i, 3), "currency", db_str(r, i, 4),
                      "activity_count", (json_int_t)db_i64(r, i, 5), "transactions",
                      stored != NULL ? transactions_reply(stored, exponent < 0 ? 0 : exponent) : json_object(),
                      "activities_sha256", db_str(r, i, 7), "organisation_sha256", db_str(r, i, 8), "activities_bytes",
                      (json_int_t)db_i64(r, i, 9), "organisation_bytes", (json_int_t)db_i64(r, i, 10), "activities_url",
                      url, "/activities.xml", "organisation_url", url, "/organisation.xml");
        json_decref(stored);
        if (item != NULL) {
            json_object_set_new(item, "chain_head", chain_head_json(r, i, 11));
        }
        if (item == NULL || json_array_append_new(list, item) != 0) {
            PQclear(r);
            json_decref(list);
            fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
            return NULL;
        }
    }
    PQclear(r);
    return json_pack("{s:I, s:o}", "fund_id", (json_int_t)fund_id, "publications", list);
}

char *iati_publication_file(struct db *db, int64_t fund_id, int64_t version, bool organisation, struct fl_error *err)
{
    assert(db != NULL && version >= 0);
    if (fund_exists(db, fund_id, NULL, err) != FLE_OK) {
        return NULL;
    }
    char fb[21], vb[21];
    const char *p[3] = {db_i64_text(fund_id, fb), version > 0 ? db_i64_text(version, vb) : NULL,
                        organisation ? "true" : "false"};
    PGresult *r = db_exec(db, "iati_publication_file", 3, p, err);
    if (r == NULL) {
        return NULL;
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        fl_error_set(err, FLE_NOT_FOUND, "version", version > 0 ? "no such publication" : "nothing published yet");
        return NULL;
    }
    char *text = strdup(db_str(r, 0, 0));
    PQclear(r);
    if (text == NULL) {
        fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
    }
    return text;
}

/* ---------------------------------------------------------------- changes between publications */

struct strs {
    char **v;
    size_t n, cap;
    bool failed;
};

static void strs_push(struct strs *s, const char *text)
{
    if (s->failed || text == NULL) {
        return;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap == 0 ? 256 : s->cap * 2;
        char **v = realloc(s->v, cap * sizeof *v);
        if (v == NULL) {
            s->failed = true;
            return;
        }
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n] = strdup(text);
    if (s->v[s->n] == NULL) {
        s->failed = true;
        return;
    }
    s->n++;
}

static void strs_free(struct strs *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i]);
    }
    free(s->v);
    memset(s, 0, sizeof *s);
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The activity identifiers and transaction refs of a stored activity file, sorted. */
static bool collect(const char *xml, struct strs *ids, struct strs *refs)
{
    iati_chk_libxml_init();
    xmlTextReaderPtr r = xmlReaderForMemory(xml, (int)strlen(xml), NULL, NULL,
                                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_HUGE);
    if (r == NULL) {
        return false;
    }
    int ret = xmlTextReaderRead(r);
    for (unsigned long long steps = 0; ret == 1 && steps < READ_STEPS_MAX; steps++) {
        if (xmlTextReaderNodeType(r) == XML_READER_TYPE_ELEMENT && xmlTextReaderDepth(r) == 2) {
            const char *name = (const char *)xmlTextReaderConstLocalName(r);
            if (name != NULL && strcmp(name, "iati-identifier") == 0) {
                xmlChar *id = xmlTextReaderReadString(r);
                strs_push(ids, (const char *)id);
                xmlFree(id);
            } else if (name != NULL && strcmp(name, "transaction") == 0) {
                xmlChar *ref = xmlTextReaderGetAttribute(r, BAD_CAST "ref");
                strs_push(refs, (const char *)ref);
                xmlFree(ref);
            }
        }
        ret = xmlTextReaderRead(r);
    }
    xmlFreeTextReader(r);
    if (ret != 0 || ids->failed || refs->failed) {
        return false;
    }
    qsort(ids->v, ids->n, sizeof ids->v[0], str_cmp);
    qsort(refs->v, refs->n, sizeof refs->v[0], str_cmp);
    return true;
}

/* Sets key_added / key_removed (lists cut at IATI_CHANGES_LIST_MAX) and their counts. */
static bool diff(json_t *out, const char *what, const struct strs *now, const struct strs *before)
{
    json_t *added = json_array(), *removed = json_array();
    size_t n_added = 0, n_removed = 0, i = 0, j = 0;
    while (i < now->n || j < before->n) {
        int c = i == now->n ? 1 : j == before->n ? -1 : strcmp(now->v[i], before->v[j]);
        if (c < 0) {
            if (n_added++ < IATI_CHANGES_LIST_MAX) {
                json_array_append_new(added, json_string(now->v[i]));
            }
            i++;
        } else if (c > 0) {
            if (n_removed++ < IATI_CHANGES_LIST_MAX) {
                json_array_append_new(removed, json_string(before->v[j]));
            }
            j++;
        } else {
            i++;
            j++;
        }
    }
    char k[64];
    snprintf(k, sizeof k, "%s_added", what);
    json_object_set_new(out, k, added);
    snprintf(k, sizeof k, "%s_added_count", what);
    json_object_set_new(out, k, json_integer((json_int_t)n_added));
    snprintf(k, sizeof k, "%s_removed", what);
    json_object_set_new(out, k, removed);
    snprintf(k, sizeof k, "%s_removed_count", what);
    json_object_set_new(out, k, json_integer((json_int_t)n_removed));
    return n_added > IATI_CHANGES_LIST_MAX || n_removed > IATI_CHANGES_LIST_MAX;
}

/* {"<type>": {"previous", "current", "change"}} from two stored transaction summaries. */
static json_t *totals_diff(const json_t *now, const json_t *before, int exponent)
{
    json_t *out = json_object();
    for (int t = 0; t < IATI_TX_COUNT_; t++) {
        const char *code = iati_tx_code((enum iati_tx)t);
        const json_t *a = json_object_get(now, code), *b = before != NULL ? json_object_get(before, code) : NULL;
        if (a == NULL && b == NULL) {
            continue;
        }
        int64_t cur = (int64_t)json_integer_value(json_object_get(a, "total_minor"));
        int64_t prev = (int64_t)json_integer_value(json_object_get(b, "total_minor"));
        int64_t change = 0;
        if (!money_sub(cur, prev, &change)) {
            change = 0;
        }
        json_object_set_new(out, code,
                            json_pack("{s:o, s:o, s:o}", "previous", decimal(prev, exponent), "current",
                                      decimal(cur, exponent), "change", decimal(change, exponent)));
    }
    return out;
}

json_t *iati_publication_changes(struct db *db, int64_t fund_id, int64_t version, struct fl_error *err)
{
    assert(db != NULL && version >= 0);
    if (fund_exists(db, fund_id, NULL, err) != FLE_OK) {
        return NULL;
    }
    char fb[21], vb[21];
    const char *p[2] = {db_i64_text(fund_id, fb), version > 0 ? db_i64_text(version, vb) : NULL};
    PGresult *r = db_exec(db, "iati_publication_pair", 2, p, err);
    if (r == NULL) {
        return NULL;
    }
    if (PQntuples(r) == 0 || (version > 0 && db_i64(r, 0, 0) != version)) {
        PQclear(r);
        fl_error_set(err, FLE_NOT_FOUND, "version", version > 0 ? "no such publication" : "nothing published yet");
        return NULL;
    }
    bool has_prev = PQntuples(r) == 2;
    int exponent = money_currency_exponent(db_str(r, 0, 2));
    struct strs ids_now = {0}, refs_now = {0}, ids_before = {0}, refs_before = {0};
    bool ok = collect(db_str(r, 0, 3), &ids_now, &refs_now) &&
              (!has_prev || collect(db_str(r, 1, 3), &ids_before, &refs_before));
    json_t *t_now = json_loads(db_str(r, 0, 1), 0, NULL);
    json_t *t_before = has_prev ? json_loads(db_str(r, 1, 1), 0, NULL) : NULL;
    json_t *out = NULL;
    if (ok && t_now != NULL && (!has_prev || t_before != NULL)) {
        out = json_pack("{s:I, s:I, s:o}", "fund_id", (json_int_t)fund_id, "version", (json_int_t)db_i64(r, 0, 0),
                        "previous_version", has_prev ? json_integer((json_int_t)db_i64(r, 1, 0)) : json_null());
    }
    if (out != NULL) {
        bool cut = diff(out, "activities", &ids_now, &ids_before);
        cut = diff(out, "transactions", &refs_now, &refs_before) || cut;
        json_object_set_new(out, "truncated", json_boolean(cut));
        json_object_set_new(out, "totals", totals_diff(t_now, t_before, exponent < 0 ? 0 : exponent));
    } else {
        fl_error_set(err, FLE_INTERNAL, NULL, "a stored publication cannot be read");
    }
    json_decref(t_now);
    json_decref(t_before);
    strs_free(&ids_now);
    strs_free(&refs_now);
    strs_free(&ids_before);
    strs_free(&refs_before);
    PQclear(r);
    return out;
}

const char *iati_exclusions_policy_html(void)
{
    return "<!DOCTYPE html>\n"
           "<html lang=\"es\"><head><meta charset=\"utf-8\"><title>Política de exclusiones IATI</title></head>"
           "<body>\n"
           "<h1>Política de exclusiones</h1>\n"
           "<p>Los créditos a personas naturales no se publican uno por uno: se suman por departamento y trimestre, "
           "sin nombres, números de identificación ni municipio. Un departamento con menos créditos a personas que "
           "el mínimo del fondo (5 si no se fija otro) no se publica aparte: se suma con los demás en «otros "
           "departamentos», sin ubicación más fina que el país; si el fondo tiene menos de ese mínimo en total, no "
           "se publican (sus sumas cuentan en la conciliación con la contabilidad). Ninguna cifra publicada es el "
           "crédito de una sola persona. Los créditos a cooperativas, asociaciones y empresas "
           "se publican uno por uno, con la ubicación a nivel de municipio como máximo. Nunca se publican "
           "coordenadas ni la ubicación de una finca.</p>\n"
           "<p>Razones: la Ley 1581 de 2012 de protección de datos personales, y la seguridad de líderes sociales y "
           "emprendedores en municipios afectados por el conflicto, donde líderes sociales han sido asesinados "
           "durante el programa.</p>\n"
           "<h1 lang=\"en\">Exclusions policy</h1>\n"
           "<p lang=\"en\">Loans to individuals are not published one by one: they are summed per department and "
           "quarter, without names, identification numbers or municipality. A department with fewer loans to "
           "individuals than the fund's minimum (5 unless set otherwise) is not published on its own: it is summed "
           "with the others as \"other departments\", located at country level only; when the fund has fewer than "
           "that minimum in all, they are not published (their sums still count in the reconciliation with the "
           "ledger). No published figure is one person's loan. Loans to cooperatives, associations and "
           "firms are published one by one, located at municipality level at the finest. Coordinates and the "
           "location of a farm are never published.</p>\n"
           "<p lang=\"en\">Reasons: Colombian Law 1581 of 2012 on personal data protection, and the safety of "
           "social leaders and entrepreneurs in conflict-affected municipalities, where social leaders have been "
           "killed during the programme.</p>\n"
           "</body></html>\n";
}
