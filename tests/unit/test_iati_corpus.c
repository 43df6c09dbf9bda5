/* Unit tests for `iati check` as a user runs it: every line of tests/fixtures/iati/corpus/EXPECTED
 * (file, options, exit code, findings, and why) against the command's exit code and JSON report. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <jansson.h>

#define CORPUS "tests/fixtures/iati/corpus"
/* Lines of the manifest, findings per line, bytes of a line or of the command's output. */
#define LINES_MAX 200
#define FINDINGS_MAX 16
#define LINE_BYTES 1024
#define OUTPUT_BYTES (1024 * 1024)
/* The issue asks for at least twenty files of our own making. */
#define FILES_MIN 20

struct expected {
    int line_no;
    char file[128];
    char options[64];
    int exit_code;
    char findings[FINDINGS_MAX][64];
    size_t n_findings;
    char why[LINE_BYTES];
};

static struct expected lines[LINES_MAX];
static size_t n_lines;
static const char *bin;

/* Only names a shell passes through unchanged (the command line is built from them). */
static bool plain(const char *s)
{
    for (const char *p = s; *p != '\0'; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
              *p == '-' || *p == '_' || *p == ',' || *p == ':')) {
            return false;
        }
    }
    return s[0] != '\0';
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* Parses one manifest line; false (with a message) when it is malformed. */
static bool parse_line(char *text, int line_no, struct expected *e)
{
    memset(e, 0, sizeof *e);
    e->line_no = line_no;
    char *hash = strchr(text, '#');
    if (hash == NULL) {
        fprintf(stderr, "EXPECTED:%d: no '# why'\n", line_no);
        return false;
    }
    *hash = '\0';
    const char *why = hash + 1;
    while (*why == ' ') {
        why++;
    }
    snprintf(e->why, sizeof e->why, "%s", why);
    e->why[strcspn(e->why, "\n")] = '\0';
    if (strlen(e->why) < 10) {
        fprintf(stderr, "EXPECTED:%d: the why is too short to say which rule\n", line_no);
        return false;
    }
    char findings[LINE_BYTES];
    if (sscanf(text, "%127s %63s %d %1023s", e->file, e->options, &e->exit_code, findings) != 4 || !plain(e->file) ||
        !plain(e->options) || !plain(findings) || e->exit_code < 0 || e->exit_code > 2) {
        fprintf(stderr, "EXPECTED:%d: want FILE OPTIONS EXIT FINDINGS # why\n", line_no);
        return false;
    }
    if (strcmp(findings, "-") != 0) {
        for (char *tok = strtok(findings, ","); tok != NULL; tok = strtok(NULL, ",")) {
            if (e->n_findings == FINDINGS_MAX || strchr(tok, ':') == NULL) {
                fprintf(stderr, "EXPECTED:%d: findings are rule:severity, at most %d\n", line_no, FINDINGS_MAX);
                return false;
            }
            snprintf(e->findings[e->n_findings++], sizeof e->findings[0], "%s", tok);
        }
    }
    qsort(e->findings, e->n_findings, sizeof e->findings[0], cmp_str);
    return true;
}

static int setup(void **state)
{
    (void)state;
    bin = getenv("FUNDLEDGER_BIN");
    if (bin == NULL || bin[0] == '\0') {
        bin = "build/fundledger";
    }
    const char *shared = getenv("FUNDLEDGER_SHARED_DIR");
    if (shared == NULL || shared[0] == '\0') {
        shared = "../shared";
    }
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/iati/schemas", shared);
    setenv("FUNDLEDGER_IATI_SCHEMA_DIR", dir, 1);
    snprintf(dir, sizeof dir, "%s/iati/codelists", shared);
    setenv("FUNDLEDGER_IATI_CODELIST_DIR", dir, 1);
    FILE *f = fopen(CORPUS "/EXPECTED", "r");
    if (f == NULL) {
        fprintf(stderr, "cannot open %s/EXPECTED\n", CORPUS);
        return -1;
    }
    char text[LINE_BYTES];
    int line_no = 0;
    bool ok = true;
    while (fgets(text, sizeof text, f) != NULL) {
        line_no++;
        if (text[0] == '#' || text[strspn(text, " \t\n")] == '\0') {
            continue;
        }
        if (n_lines == LINES_MAX) {
            ok = false;
            break;
        }
        ok = parse_line(text, line_no, &lines[n_lines++]) && ok;
    }
    fclose(f);
    return ok ? 0 : -1;
}

/* Runs the command for e; its exit code, and its standard output in out (cap bytes). */
static int run_check(const struct expected *e, char *out, size_t cap)
{
    char opts[128] = "";
    if (strcmp(e->options, "-") != 0) {
        snprintf(opts, sizeof opts, "%s", e->options);
        for (char *p = opts; *p != '\0'; p++) {
            *p = *p == ',' ? ' ' : *p;
        }
    }
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s iati check %s/%s --format json %s 2>/dev/null", bin, CORPUS, e->file, opts);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    assert_true(status != -1 && WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* Checks one line; prints what differs and returns false when the command disagrees. */
static bool check_line(const struct expected *e, char *out)
{
    int rc = run_check(e, out, OUTPUT_BYTES);
    bool ok = rc == e->exit_code;
    char found[FINDINGS_MAX * 4][64];
    size_t n_found = 0;
    json_error_t jerr;
    json_t *report = out[0] != '\0' ? json_loads(out, 0, &jerr) : NULL;
    if (e->exit_code == 2 && report == NULL) {
        /* could not run: the command says so on stderr, no report */
    } else if (report == NULL) {
        fprintf(stderr, "EXPECTED:%d %s: no JSON report\n", e->line_no, e->file);
        ok = false;
    } else {
        const json_t *list = json_object_get(report, "errors");
        const json_t *summary = json_object_get(report, "summary");
        size_t by_severity[3] = {0, 0, 0};
        size_t i;
        const json_t *item;
        json_array_foreach(list, i, item)
        {
            const char *id = json_string_value(json_object_get(item, "id"));
            const char *sev = json_string_value(json_object_get(item, "severity"));
            assert_non_null(id);
            assert_non_null(sev);
            assert_non_null(json_string_value(json_object_get(item, "location")));
            assert_non_null(json_string_value(json_object_get(item, "message")));
            by_severity[strcmp(sev, "error") == 0 ? 0 : strcmp(sev, "warning") == 0 ? 1 : 2]++;
            char pair[64];
            snprintf(pair, sizeof pair, "%s:%s", id, sev);
            bool seen = false;
            for (size_t k = 0; k < n_found; k++) {
                seen = seen || strcmp(found[k], pair) == 0;
            }
            if (!seen && n_found < sizeof found / sizeof found[0]) {
                snprintf(found[n_found++], sizeof found[0], "%s", pair);
            }
        }
        /* the summary counts what the list holds; valid is "no error" */
        ok = ok && (size_t)json_integer_value(json_object_get(summary, "error")) == by_severity[0] &&
             (size_t)json_integer_value(json_object_get(summary, "warning")) == by_severity[1] &&
             (size_t)json_integer_value(json_object_get(summary, "info")) == by_severity[2] &&
             json_is_true(json_object_get(report, "valid")) == (by_severity[0] == 0);
        json_decref(report);
    }
    qsort(found, n_found, sizeof found[0], cmp_str);
    bool same = n_found == e->n_findings;
    for (size_t k = 0; same && k < n_found; k++) {
        same = strcmp(found[k], e->findings[k]) == 0;
    }
    if (!ok || !same) {
        fprintf(stderr, "EXPECTED:%d %s %s: exit %d (expected %d); findings:", e->line_no, e->file, e->options, rc,
                e->exit_code);
        for (size_t k = 0; k < n_found; k++) {
            fprintf(stderr, " %s", found[k]);
        }
        fprintf(stderr, " (expected:");
        for (size_t k = 0; k < e->n_findings; k++) {
            fprintf(stderr, " %s", e->findings[k]);
        }
        fprintf(stderr, ") -- %s\n", e->why);
    }
    return ok && same;
}

static void test_corpus_verdicts(void **state)
{
    (void)state;
    char *out = malloc(OUTPUT_BYTES);
    assert_non_null(out);
    size_t failed = 0;
    for (size_t i = 0; i < n_lines; i++) {
        failed += check_line(&lines[i], out) ? 0 : 1;
    }
    free(out);
    assert_int_equal(failed, 0);
}

/* Every file of the corpus has a verdict, and there are at least FILES_MIN of them. */
static void test_corpus_complete(void **state)
{
    (void)state;
    DIR *d = opendir(CORPUS);
    assert_non_null(d);
    size_t files = 0;
    for (struct dirent *de = readdir(d); de != NULL; de = readdir(d)) {
        size_t n = strlen(de->d_name);
        if (n < 5 || strcmp(de->d_name + n - 4, ".xml") != 0) {
            continue;
        }
        files++;
        bool listed = false;
        for (size_t i = 0; i < n_lines && !listed; i++) {
            listed = strcmp(lines[i].file, de->d_name) == 0;
        }
        if (!listed) {
            fprintf(stderr, "%s/%s has no line in EXPECTED\n", CORPUS, de->d_name);
        }
        assert_true(listed);
    }
    closedir(d);
    assert_true(files >= FILES_MIN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus_complete),
        cmocka_unit_test(test_corpus_verdicts),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
