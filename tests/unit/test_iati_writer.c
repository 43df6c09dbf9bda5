/* Unit tests for the IATI writer: XSD order, decimals, no coordinates, model refusals, and a
 * synthetic fund file (a parent plus 50 loans) that passes schema, codelists and rulesets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/parser.h>

#include "fundledger/iati.h"
#include "fundledger/iati_check.h"

#define TODAY "2025-10-01"
#define GENERATED "2025-10-01T12:00:00Z"
#define FUND_ORG "CO-RUE-000000000"
#define FUND_ID "CO-RUE-000000000-FUND"
#define LOANS 50

/* ---------------------------------------------------------------- environment */

static char shared_dir[1024];
static char schema_dir[1100];
static char codelist_dir[1100];
static char tmp_dir[64];

static int group_setup(void **state)
{
    (void)state;
    const char *env = getenv("FUNDLEDGER_SHARED_DIR");
    (void)snprintf(shared_dir, sizeof shared_dir, "%s", env != NULL && env[0] != '\0' ? env : "../shared");
    (void)snprintf(schema_dir, sizeof schema_dir, "%s/iati/schemas", shared_dir);
    (void)snprintf(codelist_dir, sizeof codelist_dir, "%s/iati/codelists", shared_dir);
    (void)snprintf(tmp_dir, sizeof tmp_dir, "/tmp/fl-iati-writer-XXXXXX");
    if (mkdtemp(tmp_dir) == NULL) {
        return -1;
    }
    xmlInitParser();
    return 0;
}

/* FUNDLEDGER_KEEP_TMP=1 keeps the written files for a look (the directory is printed). */
static int group_teardown(void **state)
{
    (void)state;
    const char *keep = getenv("FUNDLEDGER_KEEP_TMP");
    if (keep != NULL && strcmp(keep, "1") == 0) {
        printf("written files kept in %s\n", tmp_dir);
        xmlCleanupParser();
        return 0;
    }
    DIR *d = opendir(tmp_dir);
    if (d != NULL) {
        char path[512];
        for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
                (void)snprintf(path, sizeof path, "%s/%s", tmp_dir, e->d_name);
                (void)unlink(path);
            }
        }
        (void)closedir(d);
    }
    (void)rmdir(tmp_dir);
    xmlCleanupParser();
    return 0;
}

static void tmp_path(char *buf, size_t cap, const char *name)
{
    (void)snprintf(buf, cap, "%s/%s", tmp_dir, name);
}

/* The whole file as a NUL-terminated string (caller frees). */
static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    long n = ftell(fp);
    assert_true(n >= 0);
    rewind(fp);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    buf[n] = '\0';
    (void)fclose(fp);
    return buf;
}

static char *slurp_stream(FILE *fp)
{
    assert_int_equal(fflush(fp), 0);
    long n = ftell(fp);
    assert_true(n >= 0);
    rewind(fp);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    buf[n] = '\0';
    return buf;
}

/* Runs the full check (schema, codelists, rulesets, no coordinates); prints problems on failure. */
static enum iati_check_result check(const char *path, enum iati_kind kind)
{
    struct iati_check_config cfg = {
        .schema_dir = schema_dir, .codelist_dir = codelist_dir, .today = TODAY, .policy = true};
    struct iati_problems p;
    iati_problems_init(&p);
    enum iati_check_result r = iati_check_file(path, kind, &cfg, &p);
    if (r != IATI_CHECK_OK) {
        iati_problems_print(&p, stderr);
    }
    iati_problems_free(&p);
    return r;
}

/* xmllint's verdict on path (0 valid), or -1 when xmllint is not installed. */
static int xmllint(const char *path, const char *schema_file)
{
    if (system("command -v xmllint >/dev/null 2>&1") != 0) {
        return -1;
    }
    char cmd[4096];
    (void)snprintf(cmd, sizeof cmd, "xmllint --noout --nonet --schema '%s/%s' '%s' >/dev/null 2>&1", schema_dir,
                   schema_file, path);
    int rc = system(cmd);
    return rc == 0 ? 0 : 1;
}

/* ---------------------------------------------------------------- the fund's model */

static const struct iati_narrative fund_name_n[] = {{NULL, "Fondo de Impacto Ejemplo"}};
static const struct iati_text fund_name = {fund_name_n, 1};
static const struct iati_narrative undp_n[] = {{NULL, "Programa de las Naciones Unidas para el Desarrollo"},
                                               {"en", "United Nations Development Programme"}};
static const struct iati_narrative partner_n[] = {{"en", "Corporate partner (placeholder)"}};

static const struct iati_org_ref fund_reporting = {FUND_ORG, "72", NULL, {fund_name_n, 1}};

static const struct iati_narrative fund_title_n[] = {
    {NULL, "Fondo de financiamiento combinado para productores rurales"},
    {"en", "Blended-finance fund for rural producers"}};
static const struct iati_narrative fund_desc_n[] = {
    {NULL, "Préstamos a cooperativas cafeteras y emprendedores en municipios afectados por el conflicto."},
    {"en", "Loans to coffee cooperatives & entrepreneurs in municipalities affected by the conflict <2016-2024>."}};
static const struct iati_description fund_desc[] = {{"1", {fund_desc_n, 2}}};

static const struct iati_participating_org fund_parts[] = {
    {"XM-DAC-41114", "40", "1", NULL, {undp_n, 2}},
    {NULL, "71", "1", NULL, {partner_n, 1}},
    {FUND_ORG, "72", "2", NULL, {fund_name_n, 1}},
    {FUND_ORG, "72", "3", FUND_ID, {fund_name_n, 1}},
};
static const struct iati_activity_date fund_dates[] = {{"1", "2024-01-01"}, {"2", "2024-02-01"}, {"3", "2030-12-31"}};
static const struct iati_recipient_country colombia[] = {{"CO", true, 10000}};
static const struct iati_sector fund_sectors[] = {{NULL, "31162", true, 7000}, {"1", "32130", true, 3000}};
static const struct iati_budget fund_budgets[] = {
    {"1", "2", "2024-01-01", "2024-12-31", {600000000000, 2, NULL, "2024-01-01"}},
    {"1", "2", "2025-01-01", "2025-12-31", {800000000000, 2, NULL, "2025-01-01"}},
};
static const struct iati_org_ref undp_provider = {"XM-DAC-41114", "40", "XM-DAC-41114-OUTPUT-00000000", {undp_n, 2}};
static const struct iati_org_ref fund_receiver = {FUND_ORG, "72", FUND_ID, {fund_name_n, 1}};
static const struct iati_org_ref partner_provider = {NULL, "71", NULL, {partner_n, 1}};
static const struct iati_narrative tranche_n[] = {{NULL, "Acuerdo tramo 1 PNUD"}, {"en", "UNDP tranche 1 agreement"}};
static const struct iati_transaction fund_tx[] = {
    {"T-UNDP-C1",
     "11",
     "2024-01-15",
     {100000000, 2, "USD", "2024-01-15"},
     {tranche_n, 2},
     &undp_provider,
     &fund_receiver,
     "10",
     "110",
     NULL,
     NULL,
     NULL},
    {"T-UNDP-I1",
     "1",
     "2024-02-01",
     {50000000, 2, "USD", "2024-02-01"},
     {NULL, 0},
     &undp_provider,
     &fund_receiver,
     "10",
     "110",
     NULL,
     NULL,
     NULL},
    {"T-CORP-I1",
     "1",
     "2024-03-01",
     {25000000, 2, "USD", "2024-03-01"},
     {NULL, 0},
     &partner_provider,
     &fund_receiver,
     NULL,
     "421",
     NULL,
     NULL,
     NULL},
    {"T-OPEX-2024",
     "4",
     "2024-12-31",
     {15000000000, 2, NULL, "2024-12-31"},
     {NULL, 0},
     NULL,
     NULL,
     NULL,
     "110",
     "C01",
     "1",
     "5"},
};
static const struct iati_narrative policy_title_n[] = {
    {NULL, "Política de exclusiones (protección de datos personales)"},
    {"en", "Exclusions policy (personal data protection)"}};
static const char *const cat_b08[] = {"B08"};
static const char *const lang_es_en[] = {"es", "en"};
static const struct iati_document_link policy_link[] = {{"https://example.org/iati/exclusion-policy.pdf",
                                                         "application/pdf",
                                                         {policy_title_n, 2},
                                                         {NULL, 0},
                                                         cat_b08,
                                                         1,
                                                         lang_es_en,
                                                         2,
                                                         "2025-01-15"}};
static const struct iati_narrative res_title_n[] = {{NULL, "Productores financiados"}, {"en", "Producers financed"}};
static const struct iati_narrative ind_title_n[] = {{NULL, "Número de productores con crédito desembolsado"}};
static const struct iati_indicator_period ind_periods[] = {
    {"2025-01-01", "2025-06-30", "300", "212"},
    {"2025-07-01", "2025-12-31", "600", NULL},
};
static const struct iati_indicator fund_indicators[] = {
    {"1", 1, {ind_title_n, 1}, {NULL, 0}, true, 2024, "2024-01-01", "0", ind_periods, 2}};
static const struct iati_result fund_results[] = {{"1", 1, {res_title_n, 2}, {NULL, 0}, fund_indicators, 1}};

static char loan_ids[LOANS][64];
static struct iati_related_activity fund_children[LOANS];

static void fund_activity(struct iati_activity *a)
{
    memset(a, 0, sizeof *a);
    for (size_t i = 0; i < LOANS; i++) {
        (void)snprintf(loan_ids[i], sizeof loan_ids[i], "%s-L%04zu", FUND_ID, i + 1);
        fund_children[i].type = "2";
        fund_children[i].ref = loan_ids[i];
    }
    a->identifier = FUND_ID;
    a->hierarchy = 1;
    a->lang = "es";
    a->default_currency = "COP";
    a->last_updated_datetime = GENERATED;
    a->humanitarian = 0;
    a->reporting_org = fund_reporting;
    a->title = (struct iati_text){fund_title_n, 2};
    a->descriptions = fund_desc;
    a->description_count = 1;
    a->participating_orgs = fund_parts;
    a->participating_org_count = 4;
    a->activity_status = "2";
    a->dates = fund_dates;
    a->date_count = 3;
    a->activity_scope = "5";
    a->recipient_countries = colombia;
    a->recipient_country_count = 1;
    a->sectors = fund_sectors;
    a->sector_count = 2;
    a->collaboration_type = "6";
    a->default_flow_type = "30";
    a->default_finance_type = "421";
    a->default_aid_type = "C01";
    a->default_aid_type_vocabulary = "1";
    a->default_tied_status = "5";
    a->budgets = fund_budgets;
    a->budget_count = 2;
    a->transactions = fund_tx;
    a->transaction_count = 4;
    a->document_links = policy_link;
    a->document_link_count = 1;
    a->related_activities = fund_children;
    a->related_activity_count = LOANS;
    a->results = fund_results;
    a->result_count = 1;
}

/* Everything one loan needs, held in one place so that a loop can rebuild it per loan. */
struct loan {
    char id[64];
    char borrower_ref[32];
    char borrower_name[64];
    char title[96];
    struct iati_narrative title_n[2];
    struct iati_narrative desc_n[1];
    struct iati_description desc[1];
    struct iati_narrative borrower_n[1];
    struct iati_participating_org parts[2];
    struct iati_activity_date dates[3];
    struct iati_narrative place_n[1];
    struct iati_admin_area admin[3];
    struct iati_location location[1];
    struct iati_sector sector[1];
    struct iati_org_ref fund_provider;
    struct iati_org_ref borrower_receiver;
    struct iati_org_ref borrower_provider;
    struct iati_org_ref fund_back;
    struct iati_narrative writeoff_n[1];
    struct iati_transaction tx[4];
    struct iati_related_activity parent[1];
    struct iati_loan_terms terms;
    struct iati_loan_status status;
    struct iati_crs_add crs;
};

static const struct iati_narrative fund_n[] = {{NULL, "Fondo de Impacto Ejemplo"}};

static void loan_activity(struct loan *l, size_t i, struct iati_activity *a)
{
    memset(l, 0, sizeof *l);
    memset(a, 0, sizeof *a);
    (void)snprintf(l->id, sizeof l->id, "%s-L%04zu", FUND_ID, i + 1);
    (void)snprintf(l->borrower_ref, sizeof l->borrower_ref, "CO-RUE-9%08zu", i + 1);
    (void)snprintf(l->borrower_name, sizeof l->borrower_name, "Cooperativa Cafetera %zu", i + 1);
    (void)snprintf(l->title, sizeof l->title, "Crédito de capital de trabajo - Cooperativa Cafetera %zu", i + 1);
    l->title_n[0] = (struct iati_narrative){NULL, l->title};
    l->title_n[1] = (struct iati_narrative){"en", "Working capital loan to a coffee cooperative"};
    l->desc_n[0] = (struct iati_narrative){NULL, "Capital de trabajo para acopio y beneficio de café."};
    l->desc[0] = (struct iati_description){"1", {l->desc_n, 1}};
    l->borrower_n[0] = (struct iati_narrative){NULL, l->borrower_name};
    l->parts[0] = (struct iati_participating_org){FUND_ORG, "72", "3", NULL, {fund_n, 1}};
    l->parts[1] = (struct iati_participating_org){l->borrower_ref, "72", "4", NULL, {l->borrower_n, 1}};
    l->dates[0] = (struct iati_activity_date){"1", "2024-04-01"};
    l->dates[1] = (struct iati_activity_date){"2", "2024-04-10"};
    l->dates[2] = (struct iati_activity_date){"3", "2027-04-10"};
    l->place_n[0] = (struct iati_narrative){NULL, "Planadas, Tolima"};
    l->admin[0] = (struct iati_admin_area){"A4", "CO", 0};
    l->admin[1] = (struct iati_admin_area){"G1", "3687951", 1};
    l->admin[2] = (struct iati_admin_area){"G1", "3672348", 2};
    l->location[0] =
        (struct iati_location){NULL, "1", "G1", "3672348", {l->place_n, 1}, {NULL, 0}, l->admin, 3, "2", "1", "ADM2"};
    l->sector[0] = (struct iati_sector){"1", "31162", true, 10000};
    l->fund_provider = (struct iati_org_ref){FUND_ORG, "72", FUND_ID, {fund_n, 1}};
    l->borrower_receiver = (struct iati_org_ref){l->borrower_ref, "72", NULL, {l->borrower_n, 1}};
    l->borrower_provider = (struct iati_org_ref){l->borrower_ref, "72", NULL, {l->borrower_n, 1}};
    l->fund_back = (struct iati_org_ref){FUND_ORG, "72", FUND_ID, {fund_n, 1}};
    int64_t principal = 40000000000 + (int64_t)i * 1000000; /* 400,000,000.00 COP and a bit more per loan */
    l->tx[0] = (struct iati_transaction){"C",
                                         "2",
                                         "2024-04-10",
                                         {principal, 2, NULL, "2024-04-10"},
                                         {NULL, 0},
                                         &l->fund_provider,
                                         &l->borrower_receiver,
                                         NULL,
                                         NULL,
                                         NULL,
                                         NULL,
                                         NULL};
    l->tx[1] = (struct iati_transaction){"D1",
                                         "3",
                                         "2024-04-15",
                                         {principal, 2, NULL, "2024-04-15"},
                                         {NULL, 0},
                                         &l->fund_provider,
                                         &l->borrower_receiver,
                                         NULL,
                                         NULL,
                                         NULL,
                                         NULL,
                                         NULL};
    l->tx[2] = (struct iati_transaction){"R1",          "6",
                                         "2024-10-15",  {principal / 6, 2, NULL, "2024-10-15"},
                                         {NULL, 0},     &l->borrower_provider,
                                         &l->fund_back, NULL,
                                         NULL,          NULL,
                                         NULL,          NULL};
    l->tx[3] = (struct iati_transaction){"I1",          "5",
                                         "2024-10-15",  {principal / 16 + 1, 2, NULL, "2024-10-15"},
                                         {NULL, 0},     &l->borrower_provider,
                                         &l->fund_back, NULL,
                                         NULL,          NULL,
                                         NULL,          NULL};
    l->parent[0] = (struct iati_related_activity){"1", FUND_ID};
    l->terms = (struct iati_loan_terms){true, 1250, false, 0, "1", "2", "2024-04-10", "2024-10-15", "2027-04-10"};
    l->status = (struct iati_loan_status){
        2024,      NULL,     2, "2024-12-31", {true, principal / 16 + 1}, {true, principal - principal / 6},
        {true, 0}, {true, 0}};
    if (i % 10 == 9) {
        /* a written-off loan: principal outstanding drops to zero and the description says so */
        l->writeoff_n[0] = (struct iati_narrative){NULL, "Crédito castigado en 2024; saldo reflejado en loan-status."};
        l->desc[0].text = (struct iati_text){l->writeoff_n, 1};
        l->status.principal_outstanding.minor = 0;
        l->status.principal_arrears.minor = principal - principal / 6;
    }
    l->crs = (struct iati_crs_add){&l->terms, &l->status};

    a->identifier = l->id;
    a->hierarchy = 2;
    a->lang = "es";
    a->default_currency = "COP";
    a->last_updated_datetime = GENERATED;
    a->humanitarian = 0;
    a->reporting_org = fund_reporting;
    a->title = (struct iati_text){l->title_n, 2};
    a->descriptions = l->desc;
    a->description_count = 1;
    a->participating_orgs = l->parts;
    a->participating_org_count = 2;
    a->activity_status = "2";
    a->dates = l->dates;
    a->date_count = 3;
    a->activity_scope = "8";
    a->recipient_countries = colombia;
    a->recipient_country_count = 1;
    a->locations = l->location;
    a->location_count = 1;
    a->sectors = l->sector;
    a->sector_count = 1;
    a->collaboration_type = "6";
    a->default_flow_type = "30";
    a->default_finance_type = "421";
    a->default_aid_type = "C01";
    a->default_aid_type_vocabulary = "1";
    a->default_tied_status = "5";
    a->transactions = l->tx;
    a->transaction_count = 4;
    a->related_activities = l->parent;
    a->related_activity_count = 1;
    a->crs_add = &l->crs;
}

/* ---------------------------------------------------------------- organisation */

static const struct iati_org_budget org_budgets[] = {
    {"2", "2025-01-01", "2025-12-31", {800000000000, 2, NULL, "2025-01-01"}},
    {"1", "2026-01-01", "2026-12-31", {900000000000, 2, NULL, "2025-09-30"}},
};
static const struct iati_org_country_budget org_country_budgets[] = {
    {"2", "CO", "2025-01-01", "2025-12-31", {800000000000, 2, NULL, "2025-01-01"}},
};
static const struct iati_org_expenditure org_expenditures[] = {
    {"2024-01-01", "2024-12-31", {210000000000, 2, NULL, "2024-12-31"}},
};

static void fund_organisation(struct iati_organisation *o)
{
    memset(o, 0, sizeof *o);
    o->identifier = FUND_ORG;
    o->lang = "es";
    o->default_currency = "COP";
    o->last_updated_datetime = GENERATED;
    o->name = fund_name;
    o->reporting_org = fund_reporting;
    o->total_budgets = org_budgets;
    o->total_budget_count = 2;
    o->country_budgets = org_country_budgets;
    o->country_budget_count = 1;
    o->expenditures = org_expenditures;
    o->expenditure_count = 1;
    o->document_links = policy_link;
    o->document_link_count = 1;
}

/* ---------------------------------------------------------------- tests */

static void test_fund_file_passes_every_check(void **state)
{
    (void)state;
    char path[256];
    tmp_path(path, sizeof path, "fund-activities.xml");
    struct iati_writer *w = NULL;
    assert_int_equal(iati_activities_writer_open(path, GENERATED, &w), IATI_OK);
    struct iati_activity a;
    fund_activity(&a);
    assert_int_equal(iati_activities_writer_add(w, &a), IATI_OK);
    struct loan l;
    for (size_t i = 0; i < LOANS; i++) {
        loan_activity(&l, i, &a);
        enum iati_status st = iati_activities_writer_add(w, &a);
        if (st != IATI_OK) {
            fail_msg("loan %zu: %s: %s", i, iati_status_text(st), iati_writer_error(w));
        }
    }
    /* not in place until closed */
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(iati_activities_writer_close(w), IATI_OK);
    assert_int_equal(access(path, R_OK), 0);

    assert_int_equal(check(path, IATI_KIND_ACTIVITIES), IATI_CHECK_OK);
    int lint = xmllint(path, "iati-activities-schema.xsd");
    if (lint >= 0) {
        assert_int_equal(lint, 0);
    }

    char *xml = slurp(path);
    assert_null(strstr(xml, "<point"));
    assert_null(strstr(xml, "<pos"));
    assert_non_null(strstr(xml, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    assert_non_null(strstr(xml, "<iati-activities version=\"2.03\" generated-datetime=\"" GENERATED "\">"));
    /* decimals from minor units with the currency exponent */
    assert_non_null(strstr(xml, "<value value-date=\"2024-04-10\">400000000.00</value>"));
    assert_non_null(strstr(xml, "<value currency=\"USD\" value-date=\"2024-01-15\">1000000.00</value>"));
    assert_non_null(strstr(xml, "<principal-outstanding>0.00</principal-outstanding>"));
    /* basis points as decimals */
    assert_non_null(strstr(xml, "<loan-terms rate-1=\"12.5\">"));
    assert_non_null(strstr(xml, "percentage=\"70\""));
    /* narratives: default language without xml:lang, others with it; text escaped */
    assert_non_null(strstr(xml, "<narrative>Fondo de financiamiento combinado para productores rurales</narrative>"));
    assert_non_null(strstr(xml, "<narrative xml:lang=\"en\">Blended-finance fund for rural producers</narrative>"));
    assert_non_null(strstr(xml, "coffee cooperatives &amp; entrepreneurs"));
    assert_non_null(strstr(xml, "&lt;2016-2024&gt;"));
    assert_non_null(strstr(xml, "provider-activity-id=\"XM-DAC-41114-OUTPUT-00000000\""));
    assert_non_null(strstr(xml, "<administrative vocabulary=\"G1\" level=\"2\" code=\"3672348\"/>"));
    /* indented */
    assert_non_null(strstr(xml, "\n  <iati-activity "));
    assert_non_null(strstr(xml, "\n    <iati-identifier>" FUND_ID "</iati-identifier>"));
    size_t activities = 0;
    for (const char *p = strstr(xml, "<iati-activity "); p != NULL; p = strstr(p + 1, "<iati-activity ")) {
        activities++;
    }
    assert_int_equal(activities, LOANS + 1);
    free(xml);
}

static void test_element_order_follows_xsd(void **state)
{
    (void)state;
    FILE *fp = tmpfile();
    assert_non_null(fp);
    struct iati_writer *w = NULL;
    assert_int_equal(iati_activities_writer_open_file(fp, GENERATED, &w), IATI_OK);
    struct loan l;
    struct iati_activity a;
    loan_activity(&l, 0, &a);
    static const struct iati_budget b[] = {{"1", "2", "2025-01-01", "2025-12-31", {12345, 2, NULL, "2025-01-01"}}};
    a.budgets = b;
    a.budget_count = 1;
    a.document_links = policy_link;
    a.document_link_count = 1;
    a.results = fund_results;
    a.result_count = 1;
    assert_int_equal(iati_activities_writer_add(w, &a), IATI_OK);
    assert_int_equal(iati_activities_writer_close(w), IATI_OK);
    char *xml = slurp_stream(fp);
    static const char *const order[] = {"<iati-identifier>",
                                        "<reporting-org ",
                                        "<title>",
                                        "<description ",
                                        "<participating-org ",
                                        "<activity-status ",
                                        "<activity-date ",
                                        "<activity-scope ",
                                        "<recipient-country ",
                                        "<location>",
                                        "<location-reach ",
                                        "<location-id ",
                                        "<name>",
                                        "<administrative ",
                                        "<exactness ",
                                        "<location-class ",
                                        "<feature-designation ",
                                        "<sector ",
                                        "<collaboration-type ",
                                        "<default-flow-type ",
                                        "<default-finance-type ",
                                        "<default-aid-type ",
                                        "<default-tied-status ",
                                        "<budget ",
                                        "<period-start ",
                                        "<period-end ",
                                        "<value ",
                                        "<transaction ",
                                        "<transaction-type ",
                                        "<transaction-date ",
                                        "<provider-org ",
                                        "<receiver-org ",
                                        "<document-link ",
                                        "<category ",
                                        "<language ",
                                        "<document-date ",
                                        "<related-activity ",
                                        "<result ",
                                        "<indicator ",
                                        "<baseline ",
                                        "<period>",
                                        "<target ",
                                        "<actual ",
                                        "<crs-add>",
                                        "<loan-terms ",
                                        "<repayment-type ",
                                        "<repayment-plan ",
                                        "<commitment-date ",
                                        "<repayment-first-date ",
                                        "<repayment-final-date ",
                                        "<loan-status ",
                                        "<interest-received>",
                                        "<principal-outstanding>",
                                        "<principal-arrears>",
                                        "<interest-arrears>",
                                        "</iati-activity>"};
    const char *at = xml;
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        const char *next = strstr(at, order[i]);
        if (next == NULL) {
            fail_msg("%s missing or out of order", order[i]);
        }
        at = next;
    }
    assert_non_null(strstr(xml, "<value value-date=\"2025-01-01\">123.45</value>"));
    free(xml);
    (void)fclose(fp);
}

static void test_organisation_file_passes_every_check(void **state)
{
    (void)state;
    char path[256];
    tmp_path(path, sizeof path, "fund-organisation.xml");
    struct iati_writer *w = NULL;
    assert_int_equal(iati_organisations_writer_open(path, GENERATED, &w), IATI_OK);
    struct iati_organisation o;
    fund_organisation(&o);
    assert_int_equal(iati_organisations_writer_add(w, &o), IATI_OK);
    assert_int_equal(iati_organisations_writer_close(w), IATI_OK);
    assert_int_equal(check(path, IATI_KIND_ORGANISATIONS), IATI_CHECK_OK);
    int lint = xmllint(path, "iati-organisations-schema.xsd");
    if (lint >= 0) {
        assert_int_equal(lint, 0);
    }
    char *xml = slurp(path);
    assert_non_null(strstr(xml, "<organisation-identifier>" FUND_ORG "</organisation-identifier>"));
    assert_non_null(strstr(xml, "<recipient-country code=\"CO\"/>"));
    assert_non_null(strstr(xml, "<value value-date=\"2024-12-31\">2100000000.00</value>"));
    const char *tb = strstr(xml, "<total-budget ");
    const char *rcb = strstr(xml, "<recipient-country-budget ");
    const char *te = strstr(xml, "<total-expenditure>");
    const char *dl = strstr(xml, "<document-link ");
    assert_true(tb != NULL && rcb != NULL && te != NULL && dl != NULL);
    assert_true(tb < rcb && rcb < te && te < dl);
    free(xml);
}

/* A valid activity with one mutation applied must be refused with a message naming the field. */
static void expect_invalid(void (*mutate)(struct iati_activity *a, struct loan *l), const char *field)
{
    FILE *fp = tmpfile();
    assert_non_null(fp);
    struct iati_writer *w = NULL;
    assert_int_equal(iati_activities_writer_open_file(fp, GENERATED, &w), IATI_OK);
    struct loan l;
    struct iati_activity a;
    loan_activity(&l, 0, &a);
    mutate(&a, &l);
    long before = ftell(fp);
    assert_int_equal(iati_activities_writer_add(w, &a), IATI_ERR_INVALID);
    if (strstr(iati_writer_error(w), field) == NULL) {
        fail_msg("error '%s' does not name '%s'", iati_writer_error(w), field);
    }
    assert_int_equal(ftell(fp), before);
    /* still usable: a valid record after a refused one */
    loan_activity(&l, 1, &a);
    assert_int_equal(iati_activities_writer_add(w, &a), IATI_OK);
    assert_int_equal(iati_activities_writer_close(w), IATI_OK);
    char *xml = slurp_stream(fp);
    size_t activities = 0;
    for (const char *p = strstr(xml, "<iati-activity "); p != NULL; p = strstr(p + 1, "<iati-activity ")) {
        activities++;
    }
    assert_int_equal(activities, 1);
    free(xml);
    (void)fclose(fp);
}

static void no_title(struct iati_activity *a, struct loan *l)
{
    (void)l;
    a->title.count = 0;
}
static void admin_level_3(struct iati_activity *a, struct loan *l)
{
    (void)a;
    l->admin[2].level = 3;
}
static void admin_vocabulary_g2(struct iati_activity *a, struct loan *l)
{
    (void)a;
    l->admin[1].vocabulary = "G2";
}
static void bad_date(struct iati_activity *a, struct loan *l)
{
    (void)a;
    l->tx[1].date = "2024-02-30";
}
static void no_lang_anywhere(struct iati_activity *a, struct loan *l)
{
    (void)l;
    a->lang = NULL;
}
static void no_currency_anywhere(struct iati_activity *a, struct loan *l)
{
    (void)l;
    a->default_currency = NULL;
}
static void bad_utf8(struct iati_activity *a, struct loan *l)
{
    (void)a;
    l->place_n[0].text = "Planadas \xC3\x28";
}
static void control_char(struct iati_activity *a, struct loan *l)
{
    (void)a;
    l->desc_n[0].text = "bell \a";
}
static void bad_exponent(struct iati_activity *a, struct loan *l)
{
    (void)a;
    l->tx[0].value.exponent = 19;
}
static void percentage_over(struct iati_activity *a, struct loan *l)
{
    (void)a;
    l->sector[0].percentage_bp = 10001;
}
static void no_participant(struct iati_activity *a, struct loan *l)
{
    (void)l;
    a->participating_org_count = 0;
}
static void identifier_spaces(struct iati_activity *a, struct loan *l)
{
    (void)l;
    a->identifier = " CO-RUE-000000000-FUND-L0001";
}

static void identifier_without_prefix(struct iati_activity *a, struct loan *l)
{
    (void)l;
    a->identifier = "CO-RUE-000000001-FUND-L0001";
}
static void identifier_with_slash(struct iati_activity *a, struct loan *l)
{
    (void)l;
    a->identifier = "CO-RUE-000000000-FUND/L0001";
}

static void test_model_refusals(void **state)
{
    (void)state;
    expect_invalid(no_title, "title");
    expect_invalid(admin_level_3, "locations[0].admin[2]");
    expect_invalid(admin_vocabulary_g2, "locations[0].admin[1]");
    expect_invalid(bad_date, "transactions[1].date");
    expect_invalid(no_lang_anywhere, "lang");
    expect_invalid(no_currency_anywhere, "currency");
    expect_invalid(bad_utf8, "locations[0].name");
    expect_invalid(control_char, "descriptions[0]");
    expect_invalid(bad_exponent, "transactions[0].value.exponent");
    expect_invalid(percentage_over, "sectors[0].percentage_bp");
    expect_invalid(no_participant, "participating_orgs");
    expect_invalid(identifier_spaces, "identifier");
    expect_invalid(identifier_without_prefix, "identifier");
    expect_invalid(identifier_with_slash, "identifier");
}

static void test_empty_file_is_never_published(void **state)
{
    (void)state;
    char path[256];
    tmp_path(path, sizeof path, "empty.xml");
    struct iati_writer *w = NULL;
    assert_int_equal(iati_activities_writer_open(path, GENERATED, &w), IATI_OK);
    assert_int_equal(iati_activities_writer_close(w), IATI_ERR_INVALID);
    assert_int_equal(access(path, F_OK), -1);
    /* and nothing temporary is left beside it */
    DIR *d = opendir(tmp_dir);
    assert_non_null(d);
    for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
        assert_null(strstr(e->d_name, "empty.xml"));
    }
    (void)closedir(d);
}

static void test_abort_leaves_nothing(void **state)
{
    (void)state;
    char path[256];
    tmp_path(path, sizeof path, "aborted.xml");
    struct iati_writer *w = NULL;
    assert_int_equal(iati_activities_writer_open(path, GENERATED, &w), IATI_OK);
    struct iati_activity a;
    fund_activity(&a);
    assert_int_equal(iati_activities_writer_add(w, &a), IATI_OK);
    iati_writer_abort(w);
    assert_int_equal(access(path, F_OK), -1);
    DIR *d = opendir(tmp_dir);
    assert_non_null(d);
    for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
        assert_null(strstr(e->d_name, "aborted.xml"));
    }
    (void)closedir(d);
    iati_writer_abort(NULL);
}

static void test_open_errors(void **state)
{
    (void)state;
    struct iati_writer *w = (struct iati_writer *)&w;
    assert_int_equal(iati_activities_writer_open("/nonexistent-dir/x.xml", GENERATED, &w), IATI_ERR_IO);
    assert_null(w);
    char path[256];
    tmp_path(path, sizeof path, "bad-datetime.xml");
    assert_int_equal(iati_activities_writer_open(path, "2025-10-01", &w), IATI_ERR_INVALID);
    assert_null(w);
    assert_int_equal(iati_activities_writer_open(path, NULL, &w), IATI_ERR_INVALID);
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(iati_organisations_writer_open_file(NULL, GENERATED, &w), IATI_ERR_INVALID);
}

static void test_kind_mismatch_is_refused(void **state)
{
    (void)state;
    FILE *fp = tmpfile();
    assert_non_null(fp);
    struct iati_writer *w = NULL;
    assert_int_equal(iati_organisations_writer_open_file(fp, GENERATED, &w), IATI_OK);
    struct iati_activity a;
    fund_activity(&a);
    assert_int_equal(iati_activities_writer_add(w, &a), IATI_ERR_STATE);
    struct iati_organisation o;
    fund_organisation(&o);
    assert_int_equal(iati_organisations_writer_add(w, &o), IATI_OK);
    assert_int_equal(iati_activities_writer_close(w), IATI_ERR_STATE); /* frees all the same */
    (void)fclose(fp);
    assert_string_equal(iati_status_text(IATI_ERR_IO), "input/output error");
}

/* Memory must not grow with the number of activities: compare the heap in use after a few
 * records and after many more (glibc's counters; under sanitizers or valgrind they read 0). */
static void test_memory_does_not_grow(void **state)
{
    (void)state;
    FILE *fp = fopen("/dev/null", "wb");
    assert_non_null(fp);
    struct iati_writer *w = NULL;
    assert_int_equal(iati_activities_writer_open_file(fp, GENERATED, &w), IATI_OK);
    struct loan l;
    struct iati_activity a;
    size_t after_few = 0;
    for (size_t i = 0; i < 3000; i++) {
        loan_activity(&l, i % LOANS, &a);
        assert_int_equal(iati_activities_writer_add(w, &a), IATI_OK);
        if (i == 99) {
            after_few = mallinfo2().uordblks;
        }
    }
    size_t after_many = mallinfo2().uordblks;
    assert_int_equal(iati_activities_writer_close(w), IATI_OK);
    (void)fclose(fp);
    assert_true(after_many <= after_few + 16 * 1024);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fund_file_passes_every_check),
        cmocka_unit_test(test_element_order_follows_xsd),
        cmocka_unit_test(test_organisation_file_passes_every_check),
        cmocka_unit_test(test_model_refusals),
        cmocka_unit_test(test_empty_file_is_never_published),
        cmocka_unit_test(test_abort_leaves_nothing),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_kind_mismatch_is_refused),
        cmocka_unit_test(test_memory_does_not_grow),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
