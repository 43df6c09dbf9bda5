/* Unit tests for the IATI checker: shared examples pass, broken fixtures fail with the right rule id,
 * problems are all collected with locations, and configuration errors are never silent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxml/parser.h>

#include "fundledger/iati_check.h"

#define TODAY "2025-10-01"
#define FIXTURES "tests/fixtures/iati"

static char shared_dir[1024];
static char schema_dir[1100];
static char codelist_dir[1100];
static char examples_dir[1100];
static char tmp_dir[64];
static struct iati_codelists *codelists;

static int group_setup(void **state)
{
    (void)state;
    const char *env = getenv("FUNDLEDGER_SHARED_DIR");
    (void)snprintf(shared_dir, sizeof shared_dir, "%s", env != NULL && env[0] != '\0' ? env : "../shared");
    (void)snprintf(schema_dir, sizeof schema_dir, "%s/iati/schemas", shared_dir);
    (void)snprintf(codelist_dir, sizeof codelist_dir, "%s/iati/codelists", shared_dir);
    (void)snprintf(examples_dir, sizeof examples_dir, "%s/iati/examples", shared_dir);
    (void)snprintf(tmp_dir, sizeof tmp_dir, "/tmp/fl-iati-check-XXXXXX");
    if (mkdtemp(tmp_dir) == NULL) {
        return -1;
    }
    xmlInitParser();
    struct iati_problems p;
    iati_problems_init(&p);
    codelists = iati_codelists_load(codelist_dir, &p); /* once for the whole group */
    if (codelists == NULL) {
        iati_problems_print(&p, stderr);
    }
    iati_problems_free(&p);
    return codelists != NULL ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    static const char *const files[] = {"broken.xml",  "many.xml",   "second-bad.xml", "doctype.xml",
                                        "related.xml", "stream.xml", "cut.xml"};
    char path[256];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        (void)snprintf(path, sizeof path, "%s/%s", tmp_dir, files[i]);
        (void)unlink(path);
    }
    (void)rmdir(tmp_dir);
    iati_codelists_free(codelists);
    xmlCleanupParser();
    return 0;
}

static struct iati_check_config config(void)
{
    struct iati_check_config cfg = {
        .schema_dir = schema_dir, .codelists = codelists, .codelist_dir = NULL, .today = TODAY};
    return cfg;
}

static enum iati_check_result run(const char *path, enum iati_kind kind, const struct iati_check_config *cfg,
                                  struct iati_problems *p)
{
    iati_problems_init(p);
    return iati_check_file(path, kind, cfg, p);
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
}

/* ---------------------------------------------------------------- the shared examples */

static void test_example_activities_pass(void **state)
{
    (void)state;
    char path[1200];
    (void)snprintf(path, sizeof path, "%s/fund-activities.xml", examples_dir);
    struct iati_check_config cfg = config();
    struct iati_problems p;
    enum iati_check_result r = run(path, IATI_KIND_ACTIVITIES, &cfg, &p);
    iati_problems_print(&p, stderr);
    assert_int_equal(r, IATI_CHECK_OK);
    assert_int_equal(p.count, 0);
    iati_problems_free(&p);
}

static void test_example_organisation_passes(void **state)
{
    (void)state;
    char path[1200];
    (void)snprintf(path, sizeof path, "%s/fund-organisation.xml", examples_dir);
    struct iati_check_config cfg = config();
    struct iati_problems p;
    enum iati_check_result r = run(path, IATI_KIND_ORGANISATIONS, &cfg, &p);
    iati_problems_print(&p, stderr);
    assert_int_equal(r, IATI_CHECK_OK);
    iati_problems_free(&p);
}

static void test_codelists_loaded_per_call_from_dir(void **state)
{
    (void)state;
    char path[1200];
    (void)snprintf(path, sizeof path, "%s/fund-activities.xml", examples_dir);
    struct iati_check_config cfg = config();
    cfg.codelists = NULL;
    cfg.codelist_dir = codelist_dir;
    struct iati_problems p;
    assert_int_equal(run(path, IATI_KIND_ACTIVITIES, &cfg, &p), IATI_CHECK_OK);
    iati_problems_free(&p);
}

static void test_invalid_example_fails_schema(void **state)
{
    (void)state;
    char path[1200];
    (void)snprintf(path, sizeof path, "%s/invalid-activity.xml", examples_dir);
    struct iati_check_config cfg = config();
    struct iati_problems p;
    assert_int_equal(run(path, IATI_KIND_ACTIVITIES, &cfg, &p), IATI_CHECK_FAILED);
    const struct iati_problem *q = iati_problems_find(&p, "FL-XSD");
    assert_non_null(q);
    assert_int_equal(q->line, 7);
    assert_int_equal(q->severity, IATI_SEVERITY_ERROR);
    assert_non_null(strstr(q->message, "Element 'description': This element is not expected"));
    assert_string_equal(q->location, "/iati-activities/iati-activity[1]");
    iati_problems_free(&p);
}

/* Our own policy (domain.md §10): the example's loan carries a <point>, refused on request. */
static void test_coordinates_refused_on_request(void **state)
{
    (void)state;
    char path[1200];
    (void)snprintf(path, sizeof path, "%s/fund-activities.xml", examples_dir);
    struct iati_check_config cfg = config();
    cfg.policy = true;
    struct iati_problems p;
    assert_int_equal(run(path, IATI_KIND_ACTIVITIES, &cfg, &p), IATI_CHECK_FAILED);
    assert_int_equal(p.count, 1);
    assert_string_equal(p.items[0].rule_id, "FL-PRIVACY-COORDINATES");
    assert_string_equal(p.items[0].location, "/iati-activities/iati-activity[2]/location/point");
    iati_problems_free(&p);
}

/* ---------------------------------------------------------------- broken fixtures, one rule each */

/* Every problem of the fixture carries rule_id, the first at location (if given); the file fails
 * when severity is an error, passes (with the problems) when it is a warning. */
static void expect_only(const char *fixture, const char *rule_id, enum iati_severity severity, const char *location)
{
    char path[512];
    (void)snprintf(path, sizeof path, "%s/%s", FIXTURES, fixture);
    struct iati_check_config cfg = config();
    struct iati_problems p;
    enum iati_check_result r = run(path, IATI_KIND_ACTIVITIES, &cfg, &p);
    enum iati_check_result want = severity == IATI_SEVERITY_ERROR ? IATI_CHECK_FAILED : IATI_CHECK_OK;
    if (r != want || p.count == 0) {
        iati_problems_print(&p, stderr);
        fail_msg("%s: expected %s with %s", fixture, want == IATI_CHECK_OK ? "a pass" : "a failure", rule_id);
    }
    for (size_t i = 0; i < p.count; i++) {
        if (strcmp(p.items[i].rule_id, rule_id) != 0) {
            iati_problems_print(&p, stderr);
            fail_msg("%s: unexpected rule %s", fixture, p.items[i].rule_id);
        }
    }
    assert_int_equal(p.items[0].severity, severity);
    assert_true(p.items[0].line > 0);
    if (location != NULL) {
        assert_string_equal(p.items[0].location, location);
    }
    iati_problems_free(&p);
}

static void test_fixture_valid_loan_passes(void **state)
{
    (void)state;
    struct iati_check_config cfg = config();
    struct iati_problems p;
    enum iati_check_result r = run(FIXTURES "/valid-loan.xml", IATI_KIND_ACTIVITIES, &cfg, &p);
    iati_problems_print(&p, stderr);
    assert_int_equal(r, IATI_CHECK_OK);
    iati_problems_free(&p);
}

static void test_fixture_future_transaction_date(void **state)
{
    (void)state;
    expect_only("future-transaction-date.xml", "11.2.1", IATI_SEVERITY_ERROR,
                "/iati-activities/iati-activity[1]/transaction[2]/transaction-date/@iso-date");
}

static void test_fixture_bad_activity_status(void **state)
{
    (void)state;
    expect_only("bad-activity-status.xml", "FL-CODE-UNKNOWN", IATI_SEVERITY_ERROR,
                "/iati-activities/iati-activity[1]/activity-status/@code");
}

static void test_fixture_withdrawn_finance_type(void **state)
{
    (void)state;
    expect_only("withdrawn-finance-type.xml", "FL-CODE-WITHDRAWN", IATI_SEVERITY_WARNING,
                "/iati-activities/iati-activity[1]/transaction[2]/finance-type/@code");
}

static void test_fixture_sector_sum_90(void **state)
{
    (void)state;
    expect_only("sector-sum-90.xml", "2.1.2", IATI_SEVERITY_ERROR, NULL);
}

static void test_fixture_budget_over_a_year(void **state)
{
    (void)state;
    expect_only("budget-over-a-year.xml", "7.5.3", IATI_SEVERITY_ERROR,
                "/iati-activities/iati-activity[1]/budget/period-end/@iso-date");
}

static void test_fixture_planned_end_before_start(void **state)
{
    (void)state;
    expect_only("planned-end-before-start.xml", "11.1.2", IATI_SEVERITY_ERROR, NULL);
}

static void test_fixture_budget_end_before_start(void **state)
{
    (void)state;
    expect_only("budget-end-before-start.xml", "8.6.3", IATI_SEVERITY_ERROR, NULL);
}

static void test_fixture_identifier_without_prefix(void **state)
{
    (void)state;
    expect_only("identifier-without-prefix.xml", "1.1.21", IATI_SEVERITY_WARNING,
                "/iati-activities/iati-activity[1]/iati-identifier");
}

/* One file breaking many rules: all are reported, none stops the others. */
static void test_many_rules_all_collected(void **state)
{
    (void)state;
    struct iati_check_config cfg = config();
    struct iati_problems p;
    assert_int_equal(run(FIXTURES "/many-rules.xml", IATI_KIND_ACTIVITIES, &cfg, &p), IATI_CHECK_FAILED);
    static const char *const expected[] = {"1.1.3", "1.1.21", "1.7.1",   "6.11.1", "11.1.5", "6.6.2", "3.1.2",
                                           "4.1.1", "7.8.1",  "107.1.1", "6.10.1", "6.14.1", "8.8.1", "8.6.1",
                                           "8.9.2", "11.1.1", "11.1.4",  "6.2.2",  "3.7.1"};
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        if (iati_problems_find(&p, expected[i]) == NULL) {
            iati_problems_print(&p, stderr);
            fail_msg("rule %s not reported", expected[i]);
        }
    }
    assert_int_equal(p.count, sizeof expected / sizeof expected[0]);
    const struct iati_problem *q = iati_problems_find(&p, "11.1.1");
    assert_string_equal(q->location, "/iati-activities/iati-activity[2]/@last-updated-datetime");
    iati_problems_free(&p);
}

/* Every rule id in expected (with repeats) is reported, and nothing else. */
static void expect_exactly(const char *fixture, enum iati_kind kind, const char *const *expected, size_t n)
{
    char path[512];
    (void)snprintf(path, sizeof path, "%s/%s", FIXTURES, fixture);
    struct iati_check_config cfg = config();
    struct iati_problems p;
    assert_int_equal(run(path, kind, &cfg, &p), IATI_CHECK_FAILED);
    bool used[64] = {false};
    assert_true(p.count <= 64);
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < p.count && (used[j] || strcmp(p.items[j].rule_id, expected[i]) != 0)) {
            j++;
        }
        if (j == p.count) {
            iati_problems_print(&p, stderr);
            fail_msg("%s: rule %s not reported", fixture, expected[i]);
        }
        used[j] = true;
    }
    if (p.count != n) {
        iati_problems_print(&p, stderr);
        fail_msg("%s: %zu problems, %zu expected", fixture, p.count, n);
    }
    iati_problems_free(&p);
}

static void test_more_rules_all_collected(void **state)
{
    (void)state;
    static const char *const expected[] = {
        "4.3.1", "1.3.13",  "6.8.1",   "11.1.3",  "11.2.2",  "2.1.1",  "2.1.2", "2.1.4", "2.2.1",  "12.1.1", "3.4.2",
        "3.6.2", "107.1.2", "107.1.2", "107.2.2", "107.2.1", "12.2.1", "7.9.2", "1.8.1", "1.9.1",  "1.8.13", "1.10.13",
        "1.4.1", "6.9.2",   "1.5.1",   "8.6.3",   "6.13.1",  "8.11.1", "8.8.3", "8.9.3", "8.10.3", "8.9.1",  "8.10.2"};
    expect_exactly("more-rules.xml", IATI_KIND_ACTIVITIES, expected, sizeof expected / sizeof expected[0]);
}

static void test_organisation_rules_all_collected(void **state)
{
    (void)state;
    static const char *const expected[] = {"1.12.1", "1.12.13", "1.18.8", "1.18.13", "1.18.1", "1.17.1",
                                           "11.4.1", "4.5.1",   "7.8.2",  "7.5.3",   "8.6.3",  "11.3.1"};
    expect_exactly("org-more-rules.xml", IATI_KIND_ORGANISATIONS, expected, sizeof expected / sizeof expected[0]);
}

/* Every ruleInfo of standard.json, found by walking the document (json_t nodes, explicit stack):
 * the checker knows the rule and gives it the severity standard.json gives it, which is the one
 * the Validator reports (docs/iati.md, "Severities"). */
static void test_rule_severities_are_standard_json(void **state)
{
    (void)state;
    char path[1200];
    (void)snprintf(path, sizeof path, "%s/iati/rulesets/standard.json", shared_dir);
    json_error_t jerr;
    json_t *doc = json_load_file(path, 0, &jerr);
    assert_non_null(doc);
    json_t *stack[4096];
    size_t top = 0, rules = 0, warnings = 0;
    stack[top++] = doc;
    while (top > 0) {
        json_t *n = stack[--top];
        const json_t *info = json_is_object(n) ? json_object_get(n, "ruleInfo") : NULL;
        if (info != NULL) {
            const char *id = json_string_value(json_object_get(info, "id"));
            const char *sev = json_string_value(json_object_get(info, "severity"));
            assert_non_null(id);
            assert_non_null(sev);
            enum iati_severity ours;
            if (!iati_rule_severity(id, &ours)) {
                fail_msg("rule %s of standard.json unknown to the checker", id);
            }
            if (strcmp(iati_severity_name(ours), sev) != 0) {
                fail_msg("rule %s: standard.json says %s, the checker %s", id, sev, iati_severity_name(ours));
            }
            rules++;
            warnings += ours == IATI_SEVERITY_WARNING ? 1 : 0;
        }
        const char *key;
        json_t *v;
        size_t i;
        if (json_is_object(n)) {
            json_object_foreach(n, key, v)
            {
                assert_true(top < sizeof stack / sizeof stack[0]);
                stack[top++] = v;
            }
        } else if (json_is_array(n)) {
            json_array_foreach(n, i, v)
            {
                assert_true(top < sizeof stack / sizeof stack[0]);
                stack[top++] = v;
            }
        }
    }
    json_decref(doc);
    assert_true(rules >= 89); /* 89 distinct ids, some in several contexts */
    assert_true(warnings > 0);
    enum iati_severity sev;
    assert_false(iati_rule_severity("FL-XSD", &sev));
    assert_true(iati_rule_severity("8.6.3", &sev));
    assert_int_equal(sev, IATI_SEVERITY_ERROR);
    assert_true(iati_rule_severity("1.14.8", &sev));
    assert_int_equal(sev, IATI_SEVERITY_WARNING);
}

/* The Validator's 1.1.2: the second activity with an identifier is an error at its
 * iati-identifier, and the message names the first (both locations). */
static void test_duplicate_identifier_names_both(void **state)
{
    (void)state;
    struct iati_check_config cfg = config();
    struct iati_problems p;
    assert_int_equal(run(FIXTURES "/corpus/duplicate-identifier.xml", IATI_KIND_ACTIVITIES, &cfg, &p),
                     IATI_CHECK_FAILED);
    assert_int_equal(p.count, 1);
    assert_string_equal(p.items[0].rule_id, "1.1.2");
    assert_int_equal(p.items[0].severity, IATI_SEVERITY_ERROR);
    assert_string_equal(p.items[0].location, "/iati-activities/iati-activity[2]/iati-identifier");
    assert_int_equal(p.items[0].line, 24);
    assert_non_null(strstr(p.items[0].message, "'XM-DAC-41114-CORPUS-1' is also the identifier at "
                                               "/iati-activities/iati-activity[1]/iati-identifier, line 4"));
    iati_problems_free(&p);
}

/* ---------------------------------------------------------------- streaming, limits, errors */

/* The valid fixture's head and its one activity, read once for building multi-activity files. */
static void fixture_parts(char *buf, size_t cap, const char **head_end, const char **act, size_t *act_len)
{
    FILE *fp = fopen(FIXTURES "/valid-loan.xml", "rb");
    assert_non_null(fp);
    size_t n = fread(buf, 1, cap - 1, fp);
    (void)fclose(fp);
    buf[n] = '\0';
    const char *start = strstr(buf, "  <iati-activity ");
    const char *end = strstr(buf, "</iati-activity>");
    assert_non_null(start);
    assert_non_null(end);
    *head_end = start;
    *act = start;
    *act_len = (size_t)(end + strlen("</iati-activity>\n") - start);
}

/* Schema errors arrive from the stream with a line only: each is placed in its activity, whether
 * it is found inside the activity (a bad date) or at its end tag (a missing child). */
static void test_schema_errors_located_in_their_activity(void **state)
{
    (void)state;
    static char buf[16384];
    const char *head_end;
    const char *act;
    size_t act_len;
    fixture_parts(buf, sizeof buf, &head_end, &act, &act_len);
    size_t head_len = (size_t)(head_end - buf);
    const char *cut = strstr(act, "    <activity-date type=\"1\"");
    assert_non_null(cut);
    size_t cut_len = (size_t)(cut - act);
    static const char tail[] = "</iati-activities>\n";
    static const char close_act[] = "  </iati-activity>\n";

    char path[256];
    (void)snprintf(path, sizeof path, "%s/second-bad.xml", tmp_dir);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(buf, 1, head_len, fp), head_len);
    for (int i = 0; i < 5; i++) {
        if (i == 1 || i == 4) {
            /* activities 2 and 5 stop after activity-status: "Missing child element(s)" at </iati-activity> */
            assert_int_equal(fwrite(act, 1, cut_len, fp), cut_len);
            assert_int_equal(fputs(close_act, fp) >= 0, 1);
            continue;
        }
        char one[8192];
        assert_true(act_len < sizeof one);
        memcpy(one, act, act_len);
        one[act_len] = '\0';
        if (i == 2) {
            char *d = strstr(one, "iso-date=\"2024-04-15\"");
            assert_non_null(d);
            memcpy(d, "iso-date=\"2024-13-45\"", strlen("iso-date=\"2024-13-45\""));
        }
        assert_int_equal(fwrite(one, 1, act_len, fp), act_len);
    }
    assert_int_equal(fputs(tail, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);

    struct iati_check_config cfg = config();
    struct iati_problems p;
    assert_int_equal(run(path, IATI_KIND_ACTIVITIES, &cfg, &p), IATI_CHECK_FAILED);
    static const char *const where[] = {"/iati-activities/iati-activity[2]", "/iati-activities/iati-activity[3]",
                                        "/iati-activities/iati-activity[5]"};
    size_t found = 0;
    for (size_t i = 0; i < p.count; i++) {
        if (strcmp(p.items[i].rule_id, "FL-XSD") != 0) {
            continue;
        }
        assert_true(found < 3);
        assert_string_equal(p.items[i].location, where[found]);
        found++;
    }
    assert_int_equal(found, 3);
    const struct iati_problem *q = iati_problems_find(&p, "FL-XSD");
    assert_non_null(strstr(q->message, "Missing child element(s)"));
    iati_problems_free(&p);
}

static void test_not_well_formed(void **state)
{
    (void)state;
    char path[256];
    (void)snprintf(path, sizeof path, "%s/broken.xml", tmp_dir);
    write_file(path, "<?xml version=\"1.0\"?>\n<iati-activities version=\"2.03\">\n  <iati-activity>\n"
                     "</iati-activities>\n");
    struct iati_check_config cfg = config();
    struct iati_problems p;
    assert_int_equal(run(path, IATI_KIND_ACTIVITIES, &cfg, &p), IATI_CHECK_FAILED);
    const struct iati_problem *q = iati_problems_find(&p, "FL-XML");
    assert_non_null(q);
    assert_true(q->line > 0);
    iati_problems_free(&p);
}

static void test_doctype_refused(void **state)
{
    (void)state;
    char path[256];
    (void)snprintf(path, sizeof path, "%s/doctype.xml", tmp_dir);
    write_file(path, "<?xml version=\"1.0\"?>\n<!DOCTYPE iati-activities [<!ENTITY x SYSTEM \"/etc/passwd\">]>\n"
                     "<iati-activities version=\"2.03\"><iati-activity><iati-identifier>&x;</iati-identifier>"
                     "</iati-activity></iati-activities>\n");
    struct iati_check_config cfg = config();
    struct iati_problems p;
    assert_int_equal(run(path, IATI_KIND_ACTIVITIES, &cfg, &p), IATI_CHECK_FAILED);
    assert_non_null(iati_problems_find(&p, "FL-XML"));
    for (size_t i = 0; i < p.count; i++) {
        assert_null(strstr(p.items[i].message, "root:")); /* nothing of /etc/passwd came in */
    }
    iati_problems_free(&p);
}

static void test_wrong_kind(void **state)
{
    (void)state;
    char path[1200];
    (void)snprintf(path, sizeof path, "%s/fund-organisation.xml", examples_dir);
    struct iati_check_config cfg = config();
    struct iati_problems p;
    assert_int_equal(run(path, IATI_KIND_ACTIVITIES, &cfg, &p), IATI_CHECK_FAILED);
    const struct iati_problem *q = iati_problems_find(&p, "FL-ROOT");
    assert_non_null(q);
    assert_string_equal(q->location, "/iati-organisations");
    assert_non_null(iati_problems_find(&p, "FL-XSD"));
    iati_problems_free(&p);
}

/* 1200 activities with an unknown status: 1000 problems kept, the rest counted. */
static void test_problem_list_is_bounded(void **state)
{
    (void)state;
    char path[256];
    (void)snprintf(path, sizeof path, "%s/many.xml", tmp_dir);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    (void)fprintf(fp, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<iati-activities version=\"2.03\">\n");
    for (int i = 0; i < 1200; i++) {
        (void)fprintf(fp,
                      "<iati-activity xml:lang=\"es\" default-currency=\"COP\"><iati-identifier>CO-RUE-000000000-A%d"
                      "</iati-identifier><reporting-org ref=\"CO-RUE-000000000\" type=\"72\"><narrative>F"
                      "</narrative></reporting-org><title><narrative>T</narrative></title><description><narrative>D"
                      "</narrative></description><participating-org ref=\"CO-RUE-000000000\" role=\"3\"/>"
                      "<activity-status code=\"ZZ\"/><activity-date type=\"2\" iso-date=\"2024-01-01\"/>"
                      "<recipient-country code=\"CO\"/><sector code=\"31162\"/></iati-activity>\n",
                      i);
    }
    (void)fprintf(fp, "</iati-activities>\n");
    assert_int_equal(fclose(fp), 0);
    struct iati_check_config cfg = config();
    struct iati_problems p;
    assert_int_equal(run(path, IATI_KIND_ACTIVITIES, &cfg, &p), IATI_CHECK_FAILED);
    assert_int_equal(p.count, IATI_PROBLEMS_MAX);
    assert_int_equal(p.dropped, 200);
    assert_string_equal(p.items[999].location, "/iati-activities/iati-activity[1000]/activity-status/@code");
    iati_problems_free(&p);
}

static void test_missing_schema_dir_is_an_error(void **state)
{
    (void)state;
    char path[1200];
    (void)snprintf(path, sizeof path, "%s/fund-activities.xml", examples_dir);
    struct iati_check_config cfg = config();
    cfg.schema_dir = "/nonexistent/iati/schemas";
    struct iati_problems p;
    assert_int_equal(run(path, IATI_KIND_ACTIVITIES, &cfg, &p), IATI_CHECK_ERROR);
    assert_int_equal(p.count, 1);
    assert_string_equal(p.items[0].rule_id, "FL-CONFIG");
    assert_non_null(strstr(p.items[0].message, "schema file not readable"));
    assert_non_null(strstr(p.items[0].message, "/nonexistent/iati/schemas/iati-activities-schema.xsd"));
    assert_non_null(strstr(p.items[0].message, "No such file or directory"));
    iati_problems_free(&p);

    cfg.schema_dir = NULL;
    assert_int_equal(run(path, IATI_KIND_ACTIVITIES, &cfg, &p), IATI_CHECK_ERROR);
    assert_non_null(iati_problems_find(&p, "FL-CONFIG"));
    iati_problems_free(&p);
}

static void test_missing_codelists_is_an_error(void **state)
{
    (void)state;
    struct iati_problems p;
    iati_problems_init(&p);
    assert_null(iati_codelists_load("/nonexistent/codelists", &p));
    assert_int_equal(p.count, 1);
    assert_string_equal(p.items[0].rule_id, "FL-CONFIG");
    assert_non_null(strstr(p.items[0].message, "mapping.xml"));
    iati_problems_free(&p);

    char path[1200];
    (void)snprintf(path, sizeof path, "%s/fund-activities.xml", examples_dir);
    struct iati_check_config cfg = config();
    cfg.codelists = NULL;
    cfg.codelist_dir = NULL;
    assert_int_equal(run(path, IATI_KIND_ACTIVITIES, &cfg, &p), IATI_CHECK_ERROR);
    assert_non_null(iati_problems_find(&p, "FL-CONFIG"));
    iati_problems_free(&p);
}

static void test_missing_file_and_bad_today(void **state)
{
    (void)state;
    struct iati_check_config cfg = config();
    struct iati_problems p;
    assert_int_equal(run("/nonexistent/file.xml", IATI_KIND_ACTIVITIES, &cfg, &p), IATI_CHECK_ERROR);
    assert_non_null(iati_problems_find(&p, "FL-IO"));
    iati_problems_free(&p);

    cfg.today = "2025-13-01";
    assert_int_equal(run(FIXTURES "/valid-loan.xml", IATI_KIND_ACTIVITIES, &cfg, &p), IATI_CHECK_ERROR);
    assert_non_null(iati_problems_find(&p, "FL-CONFIG"));
    iati_problems_free(&p);

    /* a "today" before the loan's dates makes them future: the check uses the date given */
    cfg.today = "2024-04-12";
    assert_int_equal(run(FIXTURES "/valid-loan.xml", IATI_KIND_ACTIVITIES, &cfg, &p), IATI_CHECK_FAILED);
    assert_non_null(iati_problems_find(&p, "11.2.1"));
    assert_non_null(iati_problems_find(&p, "11.1.1"));
    iati_problems_free(&p);
}

/* ---------------------------------------------------------------- streamed children */

/* An edit of the fixture's activity: the first occurrence of from becomes to. */
struct edit {
    const char *from;
    const char *to;
};

static char *read_fixture(const char *name)
{
    char path[512];
    (void)snprintf(path, sizeof path, "%s/%s", FIXTURES, name);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    static char buf[16384];
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    (void)fclose(fp);
    buf[n] = '\0';
    return buf;
}

static size_t lines_in(const char *s, size_t n)
{
    size_t lines = 0;
    for (size_t i = 0; i < n; i++) {
        lines += s[i] == '\n';
    }
    return lines;
}

/* Writes to path the valid fixture with a second activity after its own, written by fn from the
 * fixture's activity text. Returns the line number (1-based) of the first line fn writes. */
typedef void (*activity_fn)(FILE *fp, const char *act, size_t act_len, void *arg);

static long write_with_activity(const char *path, activity_fn fn, void *arg)
{
    const char *buf = read_fixture("valid-loan.xml");
    const char *start = strstr(buf, "  <iati-activity ");
    const char *end = strstr(buf, "</iati-activity>");
    assert_non_null(start);
    assert_non_null(end);
    size_t act_len = (size_t)(end + strlen("</iati-activity>\n") - start);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    size_t head = (size_t)(start - buf);
    assert_int_equal(fwrite(buf, 1, head, fp), head);
    /* activity 1: valid, under another identifier of the same length (two activities with the same
     * one would be the Validator's 1.1.2) */
    char *first = malloc(act_len);
    assert_non_null(first);
    memcpy(first, start, act_len);
    char *id = strstr(first, "FUND-L0001</iati-identifier>");
    assert_true(id != NULL && id < first + act_len);
    id[strlen("FUND-L000")] = '0';
    assert_int_equal(fwrite(first, 1, act_len, fp), act_len);
    free(first);
    long first_line = (long)(lines_in(buf, head) + lines_in(start, act_len)) + 1;
    fn(fp, start, act_len, arg);
    assert_int_equal(fputs("</iati-activities>\n", fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
    return first_line;
}

/* Writes act with the text between the start of `at` and the end of its line replaced by what
 * gen writes. */
static void write_replacing_line(FILE *fp, const char *act, size_t act_len, const char *at,
                                 void (*gen)(FILE *fp, void *arg), void *arg)
{
    const char *p = strstr(act, at);
    assert_non_null(p);
    assert_true(p < act + act_len);
    const char *eol = strchr(p, '\n');
    assert_non_null(eol);
    size_t before = (size_t)(p - act);
    assert_int_equal(fwrite(act, 1, before, fp), before);
    gen(fp, arg);
    size_t after = act_len - (size_t)(eol + 1 - act);
    assert_int_equal(fwrite(eol + 1, 1, after, fp), after);
}

struct related_spec {
    int count;     /* related-activity elements, one per line */
    int bad_type;  /* the one with type="99" (0: none) */
    int bad_ref;   /* the one whose ref starts with a space (0: none) */
    int bad_lang;  /* the one with xml:lang="zz" (0: none) */
    long line_of1; /* out: the line of the first one */
};

static void gen_related(FILE *fp, void *arg)
{
    const struct related_spec *r = arg;
    for (int i = 1; i <= r->count; i++) {
        (void)fprintf(fp, "    <related-activity ref=\"%sCO-RUE-000000000-FUND-L%d\" type=\"%s\"%s/>\n",
                      i == r->bad_ref ? " " : "", i, i == r->bad_type ? "99" : "2",
                      i == r->bad_lang ? " xml:lang=\"zz\"" : "");
    }
}

static void related_activity(FILE *fp, const char *act, size_t act_len, void *arg)
{
    struct related_spec *r = arg;
    const char *at = strstr(act, "    <related-activity ");
    assert_non_null(at);
    r->line_of1 = (long)lines_in(act, (size_t)(at - act));
    write_replacing_line(fp, act, act_len, "    <related-activity ", gen_related, r);
}

/* Prints the problems when the check did not find exactly n. */
static void expect_count(const struct iati_problems *p, size_t n)
{
    if (p->count != n) {
        iati_problems_print(p, stderr);
        fail_msg("%zu problems, %zu expected", p->count, n);
    }
}

/* A fund's parent activity lists one related-activity per child: they are checked one by one as
 * they stream past and never held together. A problem in any of them is reported with its rule,
 * its place among its siblings and its line, in the activity where it is (xml:lang is not allowed
 * on a related-activity: the schema's problem is placed in the activity, by its line). */
static void test_streamed_related_activities(void **state)
{
    (void)state;
    char path[256];
    (void)snprintf(path, sizeof path, "%s/related.xml", tmp_dir);
    struct related_spec r = {.count = 3000, .bad_type = 1500, .bad_ref = 2000, .bad_lang = 3000};
    long first = write_with_activity(path, related_activity, &r);
    long line_of1 = first + r.line_of1;
    struct iati_check_config cfg = config();
    struct iati_problems p;
    assert_int_equal(run(path, IATI_KIND_ACTIVITIES, &cfg, &p), IATI_CHECK_FAILED);
    expect_count(&p, 4);
    const struct iati_problem *q = iati_problems_find(&p, "FL-CODE-UNKNOWN");
    assert_non_null(q);
    assert_string_equal(q->location, "/iati-activities/iati-activity[2]/related-activity[1500]/@type");
    assert_int_equal(q->line, line_of1 + 1499);
    assert_non_null(strstr(q->message, "'99' is not a code of RelatedActivityType"));
    q = iati_problems_find(&p, "1.7.1");
    assert_non_null(q);
    assert_string_equal(q->location, "/iati-activities/iati-activity[2]/related-activity[2000]/@ref");
    assert_int_equal(q->line, line_of1 + 1999);
    assert_int_equal(q->severity, IATI_SEVERITY_WARNING);
    bool lang = false;
    for (size_t i = 0; i < p.count; i++) {
        if (strcmp(p.items[i].location, "/iati-activities/iati-activity[2]/related-activity[3000]/@xml:lang") == 0) {
            assert_string_equal(p.items[i].rule_id, "FL-CODE-UNKNOWN");
            assert_int_equal(p.items[i].line, line_of1 + 2999);
            lang = true;
        }
    }
    assert_true(lang);
    q = iati_problems_find(&p, "FL-XSD");
    assert_non_null(q);
    assert_string_equal(q->location, "/iati-activities/iati-activity[2]");
    assert_int_equal(q->line, line_of1 + 2999);
    iati_problems_free(&p);
}

/* An element is indexed only when siblings share its name: a streamed child's index is counted as
 * it passes, and dropped when it turns out to have been the only one of its name. */
static void test_streamed_child_index_only_with_siblings(void **state)
{
    (void)state;
    char path[256];
    (void)snprintf(path, sizeof path, "%s/related.xml", tmp_dir);
    struct iati_check_config cfg = config();
    struct iati_problems p;

    struct related_spec one = {.count = 1, .bad_type = 1};
    (void)write_with_activity(path, related_activity, &one);
    assert_int_equal(run(path, IATI_KIND_ACTIVITIES, &cfg, &p), IATI_CHECK_FAILED);
    expect_count(&p, 1);
    assert_string_equal(p.items[0].location, "/iati-activities/iati-activity[2]/related-activity/@type");
    iati_problems_free(&p);

    struct related_spec two = {.count = 2, .bad_type = 1};
    (void)write_with_activity(path, related_activity, &two);
    assert_int_equal(run(path, IATI_KIND_ACTIVITIES, &cfg, &p), IATI_CHECK_FAILED);
    expect_count(&p, 1);
    assert_string_equal(p.items[0].location, "/iati-activities/iati-activity[2]/related-activity[1]/@type");
    iati_problems_free(&p);
}

struct edits {
    const struct edit *e;
    size_t n;
};

static void edited(FILE *fp, const char *act, size_t act_len, void *arg)
{
    const struct edits *ed = arg;
    static char text[16384];
    assert_true(act_len < sizeof text);
    memcpy(text, act, act_len);
    text[act_len] = '\0';
    for (size_t i = 0; i < ed->n; i++) {
        char *at = strstr(text, ed->e[i].from);
        assert_non_null(at);
        size_t from = strlen(ed->e[i].from), to = strlen(ed->e[i].to), rest = strlen(at + from);
        assert_true(strlen(text) - from + to < sizeof text);
        memmove(at + to, at + from, rest + 1);
        memcpy(at, ed->e[i].to, to);
    }
    assert_int_equal(fputs(text, fp) >= 0, 1);
}

static void check_edited(const struct edit *e, size_t n, struct iati_problems *p)
{
    char path[256];
    (void)snprintf(path, sizeof path, "%s/stream.xml", tmp_dir);
    struct edits ed = {e, n};
    (void)write_with_activity(path, edited, &ed);
    struct iati_check_config cfg = config();
    assert_int_equal(run(path, IATI_KIND_ACTIVITIES, &cfg, p), IATI_CHECK_FAILED);
}

/* Transactions stream too: the rules about one transaction point into it, and the activity rules
 * that look at all of them point at the first one concerned, counted as it passed. */
static void test_streamed_transactions(void **state)
{
    (void)state;
    struct iati_problems p;
    /* the only transaction (the commitment removed): no index; a future date in it */
    static const struct edit one[] = {
        {"    <transaction ref=\"L0001-C\">\n"
         "      <transaction-type code=\"2\"/>\n"
         "      <transaction-date iso-date=\"2024-04-10\"/>\n"
         "      <value value-date=\"2024-04-10\">400000000.00</value>\n"
         "      <provider-org ref=\"CO-RUE-000000000\" type=\"72\" provider-activity-id=\"CO-RUE-000000000-FUND\">"
         "<narrative>Fondo de Impacto Ejemplo</narrative></provider-org>\n"
         "      <receiver-org ref=\"CO-RUE-111111111\" type=\"72\"><narrative>Cooperativa Cafetera Ejemplo</narrative>"
         "</receiver-org>\n"
         "    </transaction>\n",
         ""},
        {"<transaction-date iso-date=\"2024-04-15\"/>", "<transaction-date iso-date=\"2026-04-15\"/>"},
    };
    check_edited(one, sizeof one / sizeof one[0], &p);
    expect_count(&p, 1);
    assert_string_equal(p.items[0].rule_id, "11.2.1");
    assert_string_equal(p.items[0].location,
                        "/iati-activities/iati-activity[2]/transaction/transaction-date/@iso-date");
    iati_problems_free(&p);

    /* a sector on the second transaction while the activity has its own (6.6.2), and a country on it
     * too (3.6.2): both point at the second transaction */
    static const struct edit two[] = {
        {"      <finance-type code=\"421\"/>",
         "      <sector vocabulary=\"1\" code=\"31162\"/>\n      <recipient-country code=\"CO\"/>\n"
         "      <finance-type code=\"421\"/>"},
    };
    check_edited(two, sizeof two / sizeof two[0], &p);
    expect_count(&p, 2);
    const struct iati_problem *q = iati_problems_find(&p, "6.6.2");
    assert_non_null(q);
    assert_string_equal(q->location, "/iati-activities/iati-activity[2]/transaction[2]/sector");
    q = iati_problems_find(&p, "3.6.2");
    assert_non_null(q);
    assert_string_equal(q->location, "/iati-activities/iati-activity[2]/transaction[2]");
    iati_problems_free(&p);
}

/* 4.1.1 names the first narrative without a language in document order, whether it is in a
 * streamed transaction or in an element kept in the tree, and counts them all. */
static void test_streamed_and_kept_first_in_document_order(void **state)
{
    (void)state;
    struct iati_problems p;
    /* no default language; every kept narrative has one; the second transaction's receiver not */
    static const struct edit in_tx[] = {
        {" xml:lang=\"es\" default-currency", " default-currency"},
        {"<narrative>Fondo de Impacto Ejemplo</narrative></reporting-org>",
         "<narrative xml:lang=\"es\">Fondo de Impacto Ejemplo</narrative></reporting-org>"},
        {"<title><narrative>", "<title><narrative xml:lang=\"es\">"},
        {"<description type=\"1\"><narrative>", "<description type=\"1\"><narrative xml:lang=\"es\">"},
        {"role=\"3\" type=\"72\"><narrative>", "role=\"3\" type=\"72\"><narrative xml:lang=\"es\">"},
        {"role=\"4\" type=\"72\"><narrative>", "role=\"4\" type=\"72\"><narrative xml:lang=\"es\">"},
        {"provider-activity-id=\"CO-RUE-000000000-FUND\"><narrative>",
         "provider-activity-id=\"CO-RUE-000000000-FUND\"><narrative xml:lang=\"es\">"},
        {"type=\"72\"><narrative>Cooperativa Cafetera Ejemplo</narrative></receiver-org>",
         "type=\"72\"><narrative xml:lang=\"es\">Cooperativa Cafetera Ejemplo</narrative></receiver-org>"},
        {"provider-activity-id=\"CO-RUE-000000000-FUND\"><narrative>",
         "provider-activity-id=\"CO-RUE-000000000-FUND\"><narrative xml:lang=\"es\">"},
    };
    check_edited(in_tx, sizeof in_tx / sizeof in_tx[0], &p);
    expect_count(&p, 1);
    assert_string_equal(p.items[0].rule_id, "4.1.1");
    assert_string_equal(p.items[0].location, "/iati-activities/iati-activity[2]/transaction[2]/receiver-org/narrative");
    assert_non_null(strstr(p.items[0].message, "(1 narratives without xml:lang)"));
    iati_problems_free(&p);

    /* the same, and a kept element after the transactions with a narrative without language: the
     * transaction's still comes first, and both are counted */
    struct edit after[sizeof in_tx / sizeof in_tx[0] + 1];
    memcpy(after, in_tx, sizeof in_tx);
    after[sizeof in_tx / sizeof in_tx[0]] = (struct edit){
        "    <related-activity ",
        "    <document-link format=\"text/html\" url=\"https://example.org/p\"><title><narrative>Pol\xC3\xADtica"
        "</narrative></title><category code=\"A01\"/></document-link>\n    <related-activity "};
    check_edited(after, sizeof after / sizeof after[0], &p);
    expect_count(&p, 1);
    assert_string_equal(p.items[0].rule_id, "4.1.1");
    assert_string_equal(p.items[0].location, "/iati-activities/iati-activity[2]/transaction[2]/receiver-org/narrative");
    assert_non_null(strstr(p.items[0].message, "(2 narratives without xml:lang)"));
    iati_problems_free(&p);

    /* and one before them: the kept one comes first */
    after[0] = in_tx[0];
    after[1] = (struct edit){"<narrative>Fondo de Impacto Ejemplo</narrative></reporting-org>",
                             "<narrative>Fondo de Impacto Ejemplo</narrative></reporting-org>"};
    check_edited(after, sizeof after / sizeof after[0], &p);
    expect_count(&p, 1);
    assert_string_equal(p.items[0].location, "/iati-activities/iati-activity[2]/reporting-org/narrative");
    assert_non_null(strstr(p.items[0].message, "(3 narratives without xml:lang)"));
    iati_problems_free(&p);
}

/* The problem list keeps its bound when the problems come from streamed children. */
static void test_streamed_problems_bounded(void **state)
{
    (void)state;
    char path[256];
    (void)snprintf(path, sizeof path, "%s/related.xml", tmp_dir);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    const char *buf = read_fixture("valid-loan.xml");
    const char *at = strstr(buf, "    <related-activity ");
    assert_non_null(at);
    size_t before = (size_t)(at - buf);
    assert_int_equal(fwrite(buf, 1, before, fp), before);
    for (int i = 1; i <= 1200; i++) {
        (void)fprintf(fp, "    <related-activity ref=\"CO-RUE-000000000-FUND\" type=\"9\"/>\n");
    }
    const char *rest = strchr(at, '\n') + 1;
    assert_int_equal(fputs(rest, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
    struct iati_check_config cfg = config();
    struct iati_problems p;
    assert_int_equal(run(path, IATI_KIND_ACTIVITIES, &cfg, &p), IATI_CHECK_FAILED);
    assert_int_equal(p.count, IATI_PROBLEMS_MAX);
    assert_int_equal(p.dropped, 200);
    assert_string_equal(p.items[0].location, "/iati-activities/iati-activity[1]/related-activity[1]/@type");
    assert_string_equal(p.items[999].location, "/iati-activities/iati-activity[1]/related-activity[1000]/@type");
    iati_problems_free(&p);
}

/* XML that breaks among the streamed children: what was read before the break has been checked
 * and is reported, then the break; the activity's own rules are not applied to half an activity. */
static void test_streamed_then_broken(void **state)
{
    (void)state;
    char path[256];
    (void)snprintf(path, sizeof path, "%s/cut.xml", tmp_dir);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    const char *buf = read_fixture("valid-loan.xml");
    const char *at = strstr(buf, "    <related-activity ");
    assert_non_null(at);
    size_t before = (size_t)(at - buf);
    assert_int_equal(fwrite(buf, 1, before, fp), before);
    for (int i = 1; i <= 500; i++) {
        (void)fprintf(fp, "    <related-activity ref=\"CO-RUE-000000000-FUND\" type=\"%s\"/>\n", i == 7 ? "9" : "1");
    }
    assert_int_equal(fputs("    <related-activity ref=\"CO-RUE-000000000-FUND\" type=\"1\"\n", fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
    struct iati_check_config cfg = config();
    struct iati_problems p;
    assert_int_equal(run(path, IATI_KIND_ACTIVITIES, &cfg, &p), IATI_CHECK_FAILED);
    const struct iati_problem *q = iati_problems_find(&p, "FL-CODE-UNKNOWN");
    assert_non_null(q);
    assert_string_equal(q->location, "/iati-activities/iati-activity[1]/related-activity[7]/@type");
    assert_non_null(iati_problems_find(&p, "FL-XML"));
    for (size_t i = 0; i < p.count; i++) {
        assert_true(strcmp(p.items[i].rule_id, "FL-CODE-UNKNOWN") == 0 || strcmp(p.items[i].rule_id, "FL-XML") == 0);
    }
    iati_problems_free(&p);
}

/* ---------------------------------------------------------------- in memory, schema parsed once */

/* Every fixture checked from memory with a schema parsed beforehand reports exactly what the file
 * check reports (rule, line, location, message), the name given standing for the path. */
static void test_memory_check_matches_file_check(void **state)
{
    (void)state;
    static const char *const fixtures[] = {"valid-loan.xml",
                                           "many-rules.xml",
                                           "more-rules.xml",
                                           "sector-sum-90.xml",
                                           "withdrawn-finance-type.xml",
                                           "org-more-rules.xml",
                                           "budget-over-a-year.xml"};
    struct iati_problems p;
    iati_problems_init(&p);
    struct iati_schema *schemas[2] = {iati_schema_load(schema_dir, IATI_KIND_ACTIVITIES, &p),
                                      iati_schema_load(schema_dir, IATI_KIND_ORGANISATIONS, &p)};
    assert_non_null(schemas[0]);
    assert_non_null(schemas[1]);
    assert_int_equal(p.count, 0);
    iati_problems_free(&p);
    size_t failing = 0;
    for (size_t f = 0; f < sizeof fixtures / sizeof fixtures[0]; f++) {
        enum iati_kind kind = strncmp(fixtures[f], "org-", 4) == 0 ? IATI_KIND_ORGANISATIONS : IATI_KIND_ACTIVITIES;
        char path[256];
        (void)snprintf(path, sizeof path, "%s/%s", FIXTURES, fixtures[f]);
        FILE *fp = fopen(path, "rb");
        assert_non_null(fp);
        char buf[16384];
        size_t len = fread(buf, 1, sizeof buf, fp);
        assert_true(len > 0 && len < sizeof buf);
        fclose(fp);

        struct iati_check_config cfg = config();
        struct iati_problems from_file, from_memory;
        enum iati_check_result rf = run(path, kind, &cfg, &from_file);
        cfg.schema = schemas[kind];
        iati_problems_init(&from_memory);
        enum iati_check_result rm = iati_check_memory(buf, len, path, kind, &cfg, &from_memory);
        assert_int_equal(rm, rf);
        assert_int_equal(from_memory.count, from_file.count);
        for (size_t i = 0; i < from_file.count; i++) {
            assert_string_equal(from_memory.items[i].rule_id, from_file.items[i].rule_id);
            assert_int_equal(from_memory.items[i].line, from_file.items[i].line);
            assert_string_equal(from_memory.items[i].location, from_file.items[i].location);
            assert_string_equal(from_memory.items[i].message, from_file.items[i].message);
        }
        /* valid-loan.xml has no finding, withdrawn-finance-type.xml only a withdrawn code (a
         * warning, as the IATI Validator ranks it): both pass; every other fixture has an error. */
        bool passes = strcmp(fixtures[f], "valid-loan.xml") == 0 || strcmp(fixtures[f], "withdrawn-finance-type.xml") == 0;
        assert_int_equal(rf, passes ? IATI_CHECK_OK : IATI_CHECK_FAILED);
        failing += rf == IATI_CHECK_FAILED;
        iati_problems_free(&from_file);
        iati_problems_free(&from_memory);
    }
    assert_int_equal(failing, sizeof fixtures / sizeof fixtures[0] - 2);
    iati_schema_free(schemas[0]);
    iati_schema_free(schemas[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory_check_matches_file_check),
        cmocka_unit_test(test_example_activities_pass),
        cmocka_unit_test(test_example_organisation_passes),
        cmocka_unit_test(test_codelists_loaded_per_call_from_dir),
        cmocka_unit_test(test_invalid_example_fails_schema),
        cmocka_unit_test(test_coordinates_refused_on_request),
        cmocka_unit_test(test_fixture_valid_loan_passes),
        cmocka_unit_test(test_fixture_future_transaction_date),
        cmocka_unit_test(test_fixture_bad_activity_status),
        cmocka_unit_test(test_fixture_withdrawn_finance_type),
        cmocka_unit_test(test_fixture_sector_sum_90),
        cmocka_unit_test(test_fixture_budget_over_a_year),
        cmocka_unit_test(test_fixture_planned_end_before_start),
        cmocka_unit_test(test_fixture_budget_end_before_start),
        cmocka_unit_test(test_fixture_identifier_without_prefix),
        cmocka_unit_test(test_many_rules_all_collected),
        cmocka_unit_test(test_more_rules_all_collected),
        cmocka_unit_test(test_organisation_rules_all_collected),
        cmocka_unit_test(test_rule_severities_are_standard_json),
        cmocka_unit_test(test_duplicate_identifier_names_both),
        cmocka_unit_test(test_schema_errors_located_in_their_activity),
        cmocka_unit_test(test_not_well_formed),
        cmocka_unit_test(test_doctype_refused),
        cmocka_unit_test(test_wrong_kind),
        cmocka_unit_test(test_problem_list_is_bounded),
        cmocka_unit_test(test_missing_schema_dir_is_an_error),
        cmocka_unit_test(test_missing_codelists_is_an_error),
        cmocka_unit_test(test_missing_file_and_bad_today),
        cmocka_unit_test(test_streamed_related_activities),
        cmocka_unit_test(test_streamed_child_index_only_with_siblings),
        cmocka_unit_test(test_streamed_transactions),
        cmocka_unit_test(test_streamed_and_kept_first_in_document_order),
        cmocka_unit_test(test_streamed_problems_bounded),
        cmocka_unit_test(test_streamed_then_broken),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
