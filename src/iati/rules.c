/* IATI rules: the rules of IATI-Rulesets standard.json (2.03) as named C checks, with their rule ids. */
#include "check_internal.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <libxml/tree.h>

/*
 * Each rule carries the id, severity and message of standard.json. The semantics follow the
 * IATI Validator's implementation (js-validator-api, services/rulesValidator.js) with these
 * deliberate differences, all stricter:
 * - 11.2.1 / 11.2.2 look at every transaction (the validator only at the first one it selects);
 * - 1.14.8 / 1.18.8 take the approved agency prefixes from the OrganisationRegistrationAgency
 *   codelist, and the rules with idCondition NOT_EXISTING_ORG_ID(_PREFIX) always apply (the
 *   registry of publishers is not available offline).
 * Dates that do not parse are left to the schema, as the validator does. The date_order rules
 * (8.6.1, 8.6.3, 11.1.2, 11.1.3) fail only when the start is after the end: equal dates pass
 * (SPEC.rst: "If they are equal, the are valid"; the validator's dateOrder is compareAsc <= 0),
 * so a one-day period is valid.
 */

struct rule {
    const char *id;
    enum iati_severity severity;
    const char *text;
};

#define E IATI_SEVERITY_ERROR
#define W IATI_SEVERITY_WARNING

/* identifiers */
static const struct rule R_1_1_3 = {
    "1.1.3", E,
    "The activity identifier must be different to the organisation identifier of the reporting organisation."};
static const struct rule R_1_1_21 = {"1.1.21", W,
                                     "The activity identifier should begin with your IATI organisation identifier "
                                     "followed by a unique string for the activity separated by a hyphen."};
static const struct rule R_1_3_1 = {"1.3.1", W, "The iati-identifier should not start or end with spaces or newlines."};
static const struct rule R_1_3_13 = {"1.3.13", W,
                                     "The iati-identifier must not contain any of the symbols /, &, | or ?."};
static const struct rule R_1_4_1 = {
    "1.4.1", W, "The provider-org activity identifier should not start or end with spaces or newlines."};
static const struct rule R_1_5_1 = {
    "1.5.1", W, "The receiver-org activity identifier should not start or end with spaces or newlines."};
static const struct rule R_1_6_1 = {
    "1.6.1", W, "The previous activity identifier should not start or end with spaces or newlines."};
static const struct rule R_1_7_1 = {"1.7.1", W,
                                    "The related activity identifier should not start or end with spaces or newlines."};
static const struct rule R_1_8_1 = {
    "1.8.1", W, "The participating-org identifier should not start or end with spaces or newlines."};
static const struct rule R_1_8_13 = {"1.8.13", W,
                                     "The receiver-org identifier must not contain any of the symbols /, &, | or ?."};
static const struct rule R_1_9_1 = {
    "1.9.1", W, "The participating-org activity identifier should not start or end with spaces or newlines."};
static const struct rule R_1_10_1 = {
    "1.10.1", W, "The provider organisation identifier should not start or end with spaces or newlines."};
static const struct rule R_1_10_13 = {
    "1.10.13", W, "The provider organisation identifier must not contain any of the symbols /, &, | or ?."};
static const struct rule R_1_11_1 = {
    "1.11.1", W, "The owner organisation identifier should not start or end with spaces or newlines."};
static const struct rule R_1_11_13 = {
    "1.11.13", W, "The owner organisation identifier must not contain any of the symbols /, &, | or ?."};
static const struct rule R_1_12_1 = {"1.12.1", W,
                                     "The organisation-identifier should not start or end with spaces or newlines."};
static const struct rule R_1_12_13 = {"1.12.13", W,
                                      "The organisation-identifier must not contain any of the symbols /, &, | or ?."};
static const struct rule R_1_14_1 = {"1.14.1", W,
                                     "The reporting-org identifier should not start or end with spaces or newlines."};
static const struct rule R_1_14_8 = {"1.14.8", W,
                                     "The reporting organisation id must start with an approved agency code."};
static const struct rule R_1_14_13 = {"1.14.13", W,
                                      "The reporting-org identifier must not contain any of the symbols /, &, | or ?."};
static const struct rule R_1_15_1 = {"1.15.1", W,
                                     "The receiver-org identifier should not start or end with spaces or newlines."};
static const struct rule R_1_15_13 = {"1.15.13", W,
                                      "The receiver-org identifier must not contain any of the symbols /, &, | or ?."};
static const struct rule R_1_16_1 = {
    "1.16.1", W, "The previous reporting organisation identifier should not start or end with spaces or newlines."};
static const struct rule R_1_17_1 = {
    "1.17.1", W, "The recipient organisation identifier should not start or end with spaces or newlines."};
static const struct rule R_1_18_1 = {"1.18.1", W,
                                     "The reporting-org identifier should not start or end with spaces or newlines."};
static const struct rule R_1_18_8 = {"1.18.8", W,
                                     "The reporting organisation id must start with an approved agency code."};
static const struct rule R_1_18_13 = {"1.18.13", W,
                                      "The reporting-org identifier must not contain any of the symbols /, &, | or ?."};
/* classifications */
static const struct rule R_2_1_1 = {
    "2.1.1", E,
    "When multiple sectors, within a vocabulary (e.g. 1 - OECD DAC) are declared, each must have a percentage."};
static const struct rule R_2_1_2 = {
    "2.1.2", E, "Percentage values for sectors, within a vocabulary (e.g. 1 - OECD DAC), must add up to 100%."};
static const struct rule R_2_1_4 = {
    "2.1.4", E, "When a single sector is declared, the percentage must either be omitted, or set to 100."};
static const struct rule R_2_2_1 = {
    "2.2.1", E, "When using a reporting organisation sector code (vocabulary 98 or 99), it must include a narrative."};
static const struct rule R_6_2_2 = {
    "6.2.2", E, "Each activity must have a specified sector, either at activity level OR for all transactions."};
static const struct rule R_6_6_2 = {"6.6.2", E,
                                    "Sectors must only be declared at activity level OR for all transactions."};
static const struct rule R_6_7_2 = {
    "6.7.2", E, "If sector is declared at transaction level, a sector must be declared for all transactions."};
static const struct rule R_6_13_1 = {
    "6.13.1", E,
    "When using a reporting organisation policy marker code (vocabulary 99), it must include a narrative."};
static const struct rule R_6_14_1 = {
    "6.14.1", E, "When using a policy marker code for vocabulary 1, it must include a significance."};
static const struct rule R_12_3_1 = {"12.3.1", E,
                                     "The sector percentage value must be between 0.0 and 100.0 (inclusive)."};
static const struct rule R_102_1_1 = {
    "102.1.1", W, "When a non OECD DAC sector vocabulary is used, sector vocabulary 1 - OECD DAC should also be used."};
/* geography */
static const struct rule R_3_1_1 = {"3.1.1", E,
                                    "When multiple recipient countries are declared, each must have a percentage."};
static const struct rule R_3_1_2 = {"3.1.2", E, "Percentage values for recipient countries, must add up to 100%."};
static const struct rule R_3_1_4 = {
    "3.1.4", E, "When a single recipient country is declared, the percentage must either be omitted, or set to 100."};
static const struct rule R_3_4_1 = {
    "3.4.1", E, "When multiple recipient countries or regions are declared, each must have a percentage."};
static const struct rule R_3_4_2 = {"3.4.2", E,
                                    "Percentage values for recipient countries or regions, must add up to 100%."};
static const struct rule R_3_4_4 = {"3.4.4", E,
                                    "When a single recipient region in a vocabulary is declared, the percentage must "
                                    "either be omitted, or set to 100."};
static const struct rule R_3_6_2 = {
    "3.6.2", E, "Recipient countries or regions must only be declared at activity level OR for all transactions."};
static const struct rule R_3_7_1 = {
    "3.7.1", E,
    "Recipient country or recipient region should be declared for either the activity or for all transactions."};
static const struct rule R_3_7_2 = {
    "3.7.2", E,
    "Recipient country or recipient region should be declared for either the activity or for all transactions."};
static const struct rule R_12_1_1 = {"12.1.1", E,
                                     "The country/region percentage value must be between 0.0 and 100.0 (inclusive)."};
/* information */
static const struct rule R_4_1_1 = {
    "4.1.1", E,
    "The activity should specify a default language OR the language must be specified for each narrative element."};
static const struct rule R_4_3_1 = {"4.3.1", E, "The title must contain narrative content."};
static const struct rule R_4_4_1 = {"4.4.1", E, "The description must contain narrative content."};
static const struct rule R_4_5_1 = {"4.5.1", E,
                                    "The organisation should specify a default language, or the language should be "
                                    "specified for each narrative element."};
static const struct rule R_6_8_1 = {"6.8.1", E, "The owner organisation must have an identifier or a narrative."};
static const struct rule R_6_9_1 = {"6.9.1", E,
                                    "The provider organisation must have an organisation identifier or a narrative."};
static const struct rule R_6_9_2 = {"6.9.2", E,
                                    "The receiver organisation must have an organisation identifier or a narrative."};
static const struct rule R_6_10_1 = {"6.10.1", E,
                                     "The participating organisation must have an identifier or a narrative."};
static const struct rule R_6_11_1 = {"6.11.1", E,
                                     "The activity must have a planned start date or an actual start date."};
/* financial */
static const struct rule R_7_5_3 = {"7.5.3", E, "Budget Period must not be longer than one year."};
static const struct rule R_7_8_1 = {
    "7.8.1", E,
    "The activity should specify a default currency OR the currency must be specified for each monetary value."};
static const struct rule R_7_8_2 = {
    "7.8.2", E,
    "The financial value must have a specified currency, or the organisation must declare a default currency."};
static const struct rule R_7_9_1 = {"7.9.1", W,
                                    "When multiple budget items are declared, each must have a percentage."};
static const struct rule R_7_9_2 = {"7.9.2", W, "Percentage values for budget items, should add up to 100%."};
static const struct rule R_7_9_4 = {
    "7.9.4", W, "When a single budget item is declared, the percentage must either be omitted, or set to 100."};
static const struct rule R_8_6_3 = {"8.6.3", E, "The start of the period must be before the end of the period."};
static const struct rule R_11_2_1 = {"11.2.1", E, "The transaction date must not be in the future."};
static const struct rule R_11_2_2 = {"11.2.2", E, "The transaction value date must not be in the future."};
static const struct rule R_11_3_1 = {"11.3.1", E, "The budget line value date must be within the budget period."};
static const struct rule R_12_2_1 = {"12.2.1", E, "The percentage value must be between 0.0 and 100.0 (inclusive)."};
static const struct rule R_107_1_1 = {
    "107.1.1", W, "The activity should also declare an aid type code from aid type vocabulary 1 - OECD DAC."};
static const struct rule R_107_1_2 = {
    "107.1.2", W,
    "Each activity should only contain one default aid type code per aid type vocabulary (e.g. 1 - OECD DAC)"};
static const struct rule R_107_2_1 = {
    "107.2.1", W, "The transaction should also contain a code from the OECD DAC aid type vocabulary."};
static const struct rule R_107_2_2 = {
    "107.2.2", W, "Each transaction should only contain one aid type code per aid type vocabulary (e.g. 1 - OECD DAC)"};
/* performance */
static const struct rule R_8_6_1 = {
    "8.6.1", E, "The start date of the indicator period must be before the end date of the indicator period."};
static const struct rule R_8_8_1 = {"8.8.1", E,
                                    "The baseline must have a value when the indicator measure is non-qualitative "
                                    "(e.g. 1 = unit, 2 = percentage, 3 = nominal, 4 = ordinal)."};
static const struct rule R_8_8_2 = {"8.8.2", W,
                                    "The baseline value should be a valid number for all non-qualitative measures "
                                    "(e.g. 1 = unit, 2 = percentage, 3 = nominal, 4 = ordinal)."};
static const struct rule R_8_8_3 = {"8.8.3", W, "The baseline value should be omitted for qualitative measures."};
static const struct rule R_8_9_1 = {"8.9.1", E,
                                    "The target must have a value when indicator measure is non-qualitative (e.g. 1 = "
                                    "unit, 2 = percentage, 3 = nominal, 4 = ordinal)."};
static const struct rule R_8_9_2 = {"8.9.2", W,
                                    "The target value should be a valid number for all non-qualitative measures (e.g. "
                                    "1 = unit, 2 = percentage, 3 = nominal, 4 = ordinal)."};
static const struct rule R_8_9_3 = {"8.9.3", W, "The target value should be omitted for qualitative measures."};
static const struct rule R_8_10_1 = {"8.10.1", E,
                                     "The actual must have a value when the indicator measure is non-qualitative (e.g. "
                                     "1 = unit, 2 = percentage, 3 = nominal, 4 = ordinal)."};
static const struct rule R_8_10_2 = {"8.10.2", W,
                                     "The actual value should be a valid number for all non-qualitative indicator "
                                     "measures (e.g. 1 = unit, 2 = percentage, 3 = nominal, 4 = ordinal)."};
static const struct rule R_8_10_3 = {"8.10.3", W,
                                     "The actual value should be omitted for qualitative indicator measures."};
static const struct rule R_8_11_1 = {"8.11.1", E,
                                     "A reference code must only be declared at result OR result indicator level."};
/* dates */
static const struct rule R_11_1_1 = {"11.1.1", E,
                                     "The last updated datetime of the activity must not be in the future."};
static const struct rule R_11_1_2 = {"11.1.2", E,
                                     "The planned start date of the activity must be before the planned end date."};
static const struct rule R_11_1_3 = {"11.1.3", E,
                                     "The actual start date of the activity must be before the actual end date."};
static const struct rule R_11_1_4 = {"11.1.4", E, "The actual start date of the activity must not be in the future."};
static const struct rule R_11_1_5 = {"11.1.5", E, "The actual end date of the activity must not be in the future."};
static const struct rule R_11_4_1 = {"11.4.1", E,
                                     "The last updated datetime of the organisation must not be in the future."};

#undef E
#undef W

/* Every rule above, for iati_rule_severity (and the test that compares them with standard.json). */
static const struct rule *const all_rules[] = {
    &R_1_1_3,  &R_1_1_21,  &R_1_3_1,  &R_1_3_13,  &R_1_4_1,  &R_1_5_1,   &R_1_6_1,   &R_1_7_1,   &R_1_8_1,
    &R_1_8_13, &R_1_9_1,   &R_1_10_1, &R_1_10_13, &R_1_11_1, &R_1_11_13, &R_1_12_1,  &R_1_12_13, &R_1_14_1,
    &R_1_14_8, &R_1_14_13, &R_1_15_1, &R_1_15_13, &R_1_16_1, &R_1_17_1,  &R_1_18_1,  &R_1_18_8,  &R_1_18_13,
    &R_2_1_1,  &R_2_1_2,   &R_2_1_4,  &R_2_2_1,   &R_6_2_2,  &R_6_6_2,   &R_6_7_2,   &R_6_13_1,  &R_6_14_1,
    &R_12_3_1, &R_102_1_1, &R_3_1_1,  &R_3_1_2,   &R_3_1_4,  &R_3_4_1,   &R_3_4_2,   &R_3_4_4,   &R_3_6_2,
    &R_3_7_1,  &R_3_7_2,   &R_12_1_1, &R_4_1_1,   &R_4_3_1,  &R_4_4_1,   &R_4_5_1,   &R_6_8_1,   &R_6_9_1,
    &R_6_9_2,  &R_6_10_1,  &R_6_11_1, &R_7_5_3,   &R_7_8_1,  &R_7_8_2,   &R_7_9_1,   &R_7_9_2,   &R_7_9_4,
    &R_8_6_3,  &R_11_2_1,  &R_11_2_2, &R_11_3_1,  &R_12_2_1, &R_107_1_1, &R_107_1_2, &R_107_2_1, &R_107_2_2,
    &R_8_6_1,  &R_8_8_1,   &R_8_8_2,  &R_8_8_3,   &R_8_9_1,  &R_8_9_2,   &R_8_9_3,   &R_8_10_1,  &R_8_10_2,
    &R_8_10_3, &R_8_11_1,  &R_11_1_1, &R_11_1_2,  &R_11_1_3, &R_11_1_4,  &R_11_1_5,  &R_11_4_1,
};

bool iati_rule_severity(const char *rule_id, enum iati_severity *severity)
{
    assert(rule_id != NULL && severity != NULL);
    for (size_t i = 0; i < sizeof all_rules / sizeof all_rules[0]; i++) {
        if (strcmp(all_rules[i]->id, rule_id) == 0) {
            *severity = all_rules[i]->severity;
            return true;
        }
    }
    return false;
}

#define NANO 1000000000LL
#define LIST_GUARD 100000 /* distinct vocabularies looked at per element kind: far beyond real data */

/* ---------------------------------------------------------------- reporting */

static void fail(struct iati_chk *c, const struct rule *r, const xmlNode *node, const char *attr, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void fail(struct iati_chk *c, const struct rule *r, const xmlNode *node, const char *attr, const char *fmt, ...)
{
    assert(c != NULL && r != NULL);
    char detail[IATI_MESSAGE_BYTES];
    detail[0] = '\0';
    if (fmt != NULL) {
        va_list ap;
        va_start(ap, fmt);
        if (vsnprintf(detail, sizeof detail, fmt, ap) < 0) {
            detail[0] = '\0';
        }
        va_end(ap);
    }
    if (detail[0] != '\0') {
        iati_chk_problem(c, r->id, r->severity, node, attr, "%s (%s)", r->text, detail);
    } else {
        iati_chk_problem(c, r->id, r->severity, node, attr, "%s", r->text);
    }
}

/* fail() at a spot: a streamed child, gone from the tree, where the rule is to be reported. */
static void fail_spot(struct iati_chk *c, const struct rule *r, const struct iati_chk_spot *spot, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void fail_spot(struct iati_chk *c, const struct rule *r, const struct iati_chk_spot *spot, const char *fmt, ...)
{
    assert(c != NULL && r != NULL && spot != NULL);
    char detail[IATI_MESSAGE_BYTES];
    detail[0] = '\0';
    if (fmt != NULL) {
        va_list ap;
        va_start(ap, fmt);
        if (vsnprintf(detail, sizeof detail, fmt, ap) < 0) {
            detail[0] = '\0';
        }
        va_end(ap);
    }
    if (detail[0] != '\0') {
        iati_chk_problem_spot(c, r->id, r->severity, spot, "%s (%s)", r->text, detail);
    } else {
        iati_chk_problem_spot(c, r->id, r->severity, spot, "%s", r->text);
    }
}

/* ---------------------------------------------------------------- small predicates */

static bool str_eq(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* @vocabulary = '1' or @vocabulary = '' or not(@vocabulary) */
static bool vocab_default(const char *v)
{
    return v == NULL || v[0] == '\0' || strcmp(v, "1") == 0;
}

/* XPath "value = n" for an attribute value and an integer n. */
static bool num_is(const char *s, int64_t n)
{
    int64_t x;
    return iati_chk_decimal(s, &x) && x == n * NANO;
}

/* XPath "number(@value) = @value": the text is an XPath Number. */
static bool xpath_number(const char *s)
{
    size_t i = 0;
    while (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
        i++;
    }
    if (s[i] == '-') {
        i++;
    }
    size_t digits = 0;
    while (s[i] >= '0' && s[i] <= '9') {
        i++;
        digits++;
    }
    if (s[i] == '.') {
        i++;
        while (s[i] >= '0' && s[i] <= '9') {
            i++;
            digits++;
        }
    }
    while (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
        i++;
    }
    return digits > 0 && s[i] == '\0';
}

static bool ws_byte(unsigned char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}

/* JavaScript's text === text.trim() for ASCII white space and U+00A0. */
static bool no_spaces(const char *s)
{
    size_t n = strlen(s);
    if (n == 0) {
        return true;
    }
    const unsigned char *u = (const unsigned char *)s;
    if (ws_byte(u[0]) || ws_byte(u[n - 1])) {
        return false;
    }
    if ((n >= 2 && u[0] == 0xC2 && u[1] == 0xA0) || (n >= 2 && u[n - 2] == 0xC2 && u[n - 1] == 0xA0)) {
        return false;
    }
    return true;
}

/* regex ^[^\/\&\|\?]+$, an empty text passing as in the validator. */
static bool no_symbols(const char *s)
{
    return strpbrk(s, "/&|?") == NULL;
}

/* The element has a narrative child with a text node (XPath narrative/text()). */
static bool has_narrative_text(const xmlNode *e)
{
    for (const xmlNode *n = iati_chk_child(e, "narrative"); n != NULL; n = iati_chk_next(n, "narrative")) {
        for (const xmlNode *t = n->children; t != NULL; t = t->next) {
            if (t->type == XML_TEXT_NODE || t->type == XML_CDATA_SECTION_NODE) {
                return true;
            }
        }
    }
    return false;
}

/* Adds a percentage text to a running sum in billionths; false when it is not a number or overflows. */
static bool add_percentage(int64_t *sum, const char *text)
{
    int64_t v;
    if (!iati_chk_decimal(text, &v)) {
        return false;
    }
    if ((v > 0 && *sum > INT64_MAX - v) || (v < 0 && *sum < INT64_MIN - v)) {
        return false;
    }
    *sum += v;
    return true;
}

/* The validator's Number(sum.toFixed(4)) === 100, on exact billionths. */
static bool sum_is_100(int64_t sum_nano)
{
    int64_t step = NANO / 10000;
    int64_t rounded = sum_nano >= 0 ? (sum_nano + step / 2) / step : -((-sum_nano + step / 2) / step);
    return rounded == 100 * 10000;
}

/* A readable sum for a message: billionths to at most 4 decimals. */
static void sum_text(int64_t sum_nano, char *buf, size_t cap)
{
    int64_t step = NANO / 10000;
    bool neg = sum_nano < 0;
    int64_t mag = neg ? -(sum_nano / step) : sum_nano / step;
    int64_t whole = mag / 10000;
    int64_t frac = mag % 10000;
    if (frac == 0) {
        (void)snprintf(buf, cap, "%s%lld", neg ? "-" : "", (long long)whole);
    } else {
        (void)snprintf(buf, cap, "%s%lld.%04lld", neg ? "-" : "", (long long)whole, (long long)frac);
    }
}

static bool in_range_0_100(const char *text)
{
    int64_t v;
    return iati_chk_decimal(text, &v) && v >= 0 && v <= 100 * NANO;
}

/* First child element named name whose @type is type, or NULL. */
static const xmlNode *child_typed(const xmlNode *parent, const char *name, const char *type)
{
    for (const xmlNode *n = iati_chk_child(parent, name); n != NULL; n = iati_chk_next(n, name)) {
        if (str_eq(iati_chk_attr(n, "type"), type)) {
            return n;
        }
    }
    return NULL;
}

/* true when n has an earlier sibling named like n whose @vocabulary equals v (first of its kind). */
static bool vocabulary_seen_before(const xmlNode *n, const char *name, const char *v)
{
    size_t guard = 0;
    for (const xmlNode *p = n->prev; p != NULL && guard < LIST_GUARD; p = p->prev, guard++) {
        if (iati_chk_is(p, name) && str_eq(iati_chk_attr(p, "vocabulary"), v)) {
            return true;
        }
    }
    return false;
}

/* ---------------------------------------------------------------- the fund's policies */

/* Administrative levels the fund publishes at most: 1 department, 2 municipality (DIVIPOLA). */
#define POLICY_ADMIN_LEVEL_MAX 2

/* The fund's publication policies on one element (only with cfg->policy; domain.md §10). Not IATI
 * rules: errors of the fund's own, never applied to other people's files unless asked. */
static void policy_element(struct iati_chk *c, const xmlNode *e)
{
    if (iati_chk_is(e, "point")) {
        iati_chk_problem(c, "FL-PRIVACY-COORDINATES", IATI_SEVERITY_ERROR, e, NULL,
                         "policy: coordinates are never published: locations stop at municipality level "
                         "(domain.md 10)");
        return;
    }
    if (iati_chk_is(e, "administrative") && e->parent != NULL && iati_chk_is(e->parent, "location")) {
        const char *level = iati_chk_attr(e, "level");
        int64_t v;
        if (level != NULL && iati_chk_decimal(level, &v) && v > POLICY_ADMIN_LEVEL_MAX * NANO) {
            iati_chk_problem(c, "FL-PRIVACY-ADMIN-LEVEL", IATI_SEVERITY_ERROR, e, "level",
                             "policy: administrative level %s is finer than a municipality (level %d at most)", level,
                             POLICY_ADMIN_LEVEL_MAX);
        }
    }
}

/* ---------------------------------------------------------------- element rules (any depth) */

void iati_chk_rules_element(struct iati_chk *c, const xmlNode *e)
{
    assert(c != NULL && e != NULL);
    if (e->type != XML_ELEMENT_NODE || e->ns != NULL) {
        return;
    }
    if (iati_chk_is(e, "title") && !has_narrative_text(e)) {
        fail(c, &R_4_3_1, e, NULL, NULL);
    } else if (iati_chk_is(e, "description") && !has_narrative_text(e)) {
        fail(c, &R_4_4_1, e, NULL, NULL);
    } else if (iati_chk_is(e, "narrative") && iati_chk_lang(e) == NULL) {
        if (c->walk.narratives_without_lang++ == 0) {
            c->walk.first_narrative_without_lang = e;
        }
    } else if ((iati_chk_is(e, "value") || iati_chk_is(e, "forecast") || iati_chk_is(e, "loan-status")) &&
               iati_chk_attr(e, "currency") == NULL) {
        if (c->walk.values_without_currency++ == 0) {
            c->walk.first_value_without_currency = e;
        }
    } else if (c->cfg->policy) {
        policy_element(c, e);
    }
}

/* ---------------------------------------------------------------- shared rule groups */

/* 8.6.3 / 8.6.1 (start not after end; equal is fine) and, when asked, 7.5.3 (at most 365 days apart). */
static void period_rules(struct iati_chk *c, const xmlNode *el, const struct rule *order, bool time_limit)
{
    const xmlNode *ps = iati_chk_child(el, "period-start");
    const xmlNode *pe = iati_chk_child(el, "period-end");
    int64_t start;
    int64_t end;
    if (ps == NULL || pe == NULL || !iati_chk_date_days(iati_chk_attr(ps, "iso-date"), &start) ||
        !iati_chk_date_days(iati_chk_attr(pe, "iso-date"), &end)) {
        return;
    }
    if (start > end) {
        fail(c, order, pe, "iso-date", "period %s to %s", iati_chk_attr(ps, "iso-date"), iati_chk_attr(pe, "iso-date"));
    }
    if (time_limit && end - start > 365) {
        fail(c, &R_7_5_3, pe, "iso-date", "period %s to %s is %lld days", iati_chk_attr(ps, "iso-date"),
             iati_chk_attr(pe, "iso-date"), (long long)(end - start));
    }
}

/* A date attribute that must not be after today. */
static void not_future(struct iati_chk *c, const struct rule *r, const xmlNode *el, const char *attr)
{
    int64_t d;
    const char *v = el != NULL ? iati_chk_attr(el, attr) : NULL;
    if (v != NULL && iati_chk_date_days(v, &d) && d > c->today_days) {
        fail(c, r, el, attr, "%s is after today", v);
    }
}

static void spaces_rule(struct iati_chk *c, const struct rule *r, const xmlNode *el, const char *attr)
{
    const char *v = iati_chk_attr(el, attr);
    if (v != NULL && !no_spaces(v)) {
        fail(c, r, el, attr, "'%s'", v);
    }
}

static void symbols_rule(struct iati_chk *c, const struct rule *r, const xmlNode *el, const char *attr)
{
    const char *v = iati_chk_attr(el, attr);
    if (v != NULL && !no_symbols(v)) {
        fail(c, r, el, attr, "'%s'", v);
    }
}

/* An identifier or a narrative (6.8.1, 6.9.1, 6.9.2, 6.10.1). */
static void ref_or_narrative(struct iati_chk *c, const struct rule *r, const xmlNode *el)
{
    if (iati_chk_attr(el, "ref") == NULL && iati_chk_child(el, "narrative") == NULL) {
        fail(c, r, el, NULL, NULL);
    }
}

/* 1.14.8 / 1.18.8: the prefix (text up to the second '-') is an approved agency code. */
static void agency_rule(struct iati_chk *c, const struct rule *r, const xmlNode *el)
{
    const char *ref = iati_chk_attr(el, "ref");
    if (ref == NULL) {
        return;
    }
    char prefix[128];
    const char *dash = strchr(ref, '-');
    const char *dash2 = dash != NULL ? strchr(dash + 1, '-') : NULL;
    size_t n = dash2 != NULL ? (size_t)(dash2 - ref) : strlen(ref);
    bool ok = dash != NULL && n < sizeof prefix;
    if (ok) {
        memcpy(prefix, ref, n);
        prefix[n] = '\0';
        ok = iati_chk_codelists_agency(c->codelists, prefix);
    }
    if (!ok) {
        fail(c, r, el, "ref", "'%s' does not start with a code of OrganisationRegistrationAgency", ref);
    }
}

/* id starts with prefix followed by "-" (1.1.21's prefix + separator). */
static bool has_prefix(const char *id, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(id, prefix, n) == 0 && id[n] == '-';
}

/* The text content of an element, copied (caller frees with xmlFree), or NULL. */
static xmlChar *content_of(const xmlNode *el)
{
    return el != NULL ? xmlNodeGetContent(el) : NULL;
}

/* ---------------------------------------------------------------- activity rule groups */

static void identifier_rules(struct iati_chk *c, const xmlNode *a)
{
    const xmlNode *id_el = iati_chk_child(a, "iati-identifier");
    const xmlNode *rep = iati_chk_child(a, "reporting-org");
    const char *ref = rep != NULL ? iati_chk_attr(rep, "ref") : NULL;
    xmlChar *id_copy = content_of(id_el);
    const char *id = (const char *)id_copy;
    if (id != NULL) {
        if (ref != NULL && strcmp(id, ref) == 0) {
            fail(c, &R_1_1_3, id_el, NULL, "'%s'", id);
        }
        bool prefixed = ref != NULL && has_prefix(id, ref);
        for (const xmlNode *oi = iati_chk_child(a, "other-identifier"); oi != NULL && !prefixed;
             oi = iati_chk_next(oi, "other-identifier")) {
            const char *p = iati_chk_attr(oi, "ref");
            prefixed = str_eq(iati_chk_attr(oi, "type"), "B1") && p != NULL && has_prefix(id, p);
        }
        if (!prefixed) {
            fail(c, &R_1_1_21, id_el, NULL, "'%s' does not start with '%s-'", id, ref != NULL ? ref : "");
        }
        if (!no_spaces(id)) {
            fail(c, &R_1_3_1, id_el, NULL, "'%s'", id);
        }
        if (!no_symbols(id)) {
            fail(c, &R_1_3_13, id_el, NULL, "'%s'", id);
        }
    }
    xmlFree(id_copy);
    if (rep != NULL) {
        spaces_rule(c, &R_1_14_1, rep, "ref");
        symbols_rule(c, &R_1_14_13, rep, "ref");
        agency_rule(c, &R_1_14_8, rep);
    }
    for (const xmlNode *oi = iati_chk_child(a, "other-identifier"); oi != NULL;
         oi = iati_chk_next(oi, "other-identifier")) {
        const char *type = iati_chk_attr(oi, "type");
        if (str_eq(type, "B1")) {
            spaces_rule(c, &R_1_16_1, oi, "ref");
        } else if (str_eq(type, "A3")) {
            spaces_rule(c, &R_1_6_1, oi, "ref");
        }
        const xmlNode *owner = iati_chk_child(oi, "owner-org");
        if (owner != NULL) {
            ref_or_narrative(c, &R_6_8_1, owner);
            spaces_rule(c, &R_1_11_1, owner, "ref");
            symbols_rule(c, &R_1_11_13, owner, "ref");
        }
    }
    /* 1.7.1 on each related-activity: iati_chk_rules_streamed */
}

static void date_rules(struct iati_chk *c, const xmlNode *a)
{
    not_future(c, &R_11_1_1, a, "last-updated-datetime");
    const xmlNode *d[5] = {NULL, NULL, NULL, NULL, NULL};
    int64_t days[5] = {0, 0, 0, 0, 0};
    bool ok[5] = {false, false, false, false, false};
    static const char *const types[5] = {"", "1", "2", "3", "4"};
    for (int t = 1; t <= 4; t++) {
        d[t] = child_typed(a, "activity-date", types[t]);
        ok[t] = d[t] != NULL && iati_chk_date_days(iati_chk_attr(d[t], "iso-date"), &days[t]);
    }
    if (d[1] == NULL && d[2] == NULL) {
        fail(c, &R_6_11_1, a, NULL, NULL);
    }
    if (ok[1] && ok[3] && days[1] > days[3]) {
        fail(c, &R_11_1_2, d[3], "iso-date", "planned start %s, planned end %s", iati_chk_attr(d[1], "iso-date"),
             iati_chk_attr(d[3], "iso-date"));
    }
    if (ok[2] && ok[4] && days[2] > days[4]) {
        fail(c, &R_11_1_3, d[4], "iso-date", "actual start %s, actual end %s", iati_chk_attr(d[2], "iso-date"),
             iati_chk_attr(d[4], "iso-date"));
    }
    not_future(c, &R_11_1_4, d[2], "iso-date");
    not_future(c, &R_11_1_5, d[4], "iso-date");
    /* 11.2.1 / 11.2.2 on each transaction: iati_chk_rules_streamed */
}

/* 2.1.1 / 2.1.2 / 2.1.4 for the sectors of one vocabulary group. in_group selects them. */
static void sector_group_rules(struct iati_chk *c, const xmlNode *a, const char *vocab, bool default_group)
{
    size_t count = 0;
    size_t with_pct = 0;
    int64_t sum = 0;
    bool sum_ok = true;
    const xmlNode *first = NULL;
    for (const xmlNode *s = iati_chk_child(a, "sector"); s != NULL; s = iati_chk_next(s, "sector")) {
        const char *v = iati_chk_attr(s, "vocabulary");
        bool in = default_group ? vocab_default(v) : str_eq(v, vocab);
        if (!in) {
            continue;
        }
        if (first == NULL) {
            first = s;
        }
        count++;
        const char *pct = iati_chk_attr(s, "percentage");
        if (pct != NULL) {
            with_pct++;
            sum_ok = add_percentage(&sum, pct) && sum_ok;
        }
    }
    const char *label = default_group ? "1" : vocab;
    if (count > 1 && with_pct != count) {
        fail(c, &R_2_1_1, first, NULL, "vocabulary %s: %zu sectors, %zu with a percentage", label, count, with_pct);
    }
    bool sum_applies = default_group ? with_pct > 1 : count > 1;
    if (sum_applies && (!sum_ok || !sum_is_100(sum))) {
        char buf[48];
        sum_text(sum, buf, sizeof buf);
        fail(c, &R_2_1_2, first, NULL, "vocabulary %s: the percentages sum to %s", label,
             sum_ok ? buf : "a value that is not a number");
    }
    if (count == 1) {
        const char *pct = iati_chk_attr(first, "percentage");
        if (pct != NULL && !num_is(pct, 100)) {
            fail(c, &R_2_1_4, first, "percentage", "vocabulary %s: single sector at %s%%", label, pct);
        }
    }
}

static void sector_rules(struct iati_chk *c, const xmlNode *a)
{
    size_t sectors = 0;
    size_t default_sectors = 0;
    size_t own_sectors = 0;
    size_t own_narratives = 0;
    const xmlNode *first_own = NULL;
    for (const xmlNode *s = iati_chk_child(a, "sector"); s != NULL; s = iati_chk_next(s, "sector")) {
        sectors++;
        const char *v = iati_chk_attr(s, "vocabulary");
        default_sectors += vocab_default(v) ? 1 : 0;
        if (num_is(v, 98) || num_is(v, 99)) {
            first_own = first_own != NULL ? first_own : s;
            own_sectors++;
            own_narratives += iati_chk_count(s, "narrative");
        }
        const char *pct = iati_chk_attr(s, "percentage");
        if (pct != NULL && !in_range_0_100(pct)) {
            fail(c, &R_12_3_1, s, "percentage", "'%s'", pct);
        }
    }
    sector_group_rules(c, a, "1", true);
    for (const xmlNode *s = iati_chk_child(a, "sector"); s != NULL; s = iati_chk_next(s, "sector")) {
        const char *v = iati_chk_attr(s, "vocabulary");
        if (v != NULL && strcmp(v, "1") != 0 && !vocabulary_seen_before(s, "sector", v)) {
            sector_group_rules(c, a, v, false);
        }
    }
    if (own_sectors > 0 && own_narratives < own_sectors) {
        fail(c, &R_2_2_1, first_own, NULL, "%zu sectors of vocabulary 98/99, %zu narratives", own_sectors,
             own_narratives);
    }
    if (sectors > 0 && default_sectors == 0) {
        fail(c, &R_102_1_1, iati_chk_child(a, "sector"), NULL, NULL);
    }
    /* sectors at activity level or on all transactions, not both (the transactions: c->stream) */
    const struct iati_chk_stream *st = &c->stream;
    if (sectors == 0 && !st->first_tx_sector.set) {
        fail(c, &R_6_2_2, a, NULL, NULL);
    }
    if (sectors > 0 && st->first_tx_sector.set) {
        fail_spot(c, &R_6_6_2, &st->first_tx_sector, NULL);
    }
    if (sectors == 0 && st->tx_without_sector > 0) {
        fail_spot(c, &R_6_7_2, &st->first_tx_no_sector, "%zu transactions without a sector", st->tx_without_sector);
    }
}

static void geo_rules(struct iati_chk *c, const xmlNode *a)
{
    size_t countries = iati_chk_count(a, "recipient-country");
    size_t regions = iati_chk_count(a, "recipient-region");
    const xmlNode *first_country = iati_chk_child(a, "recipient-country");
    size_t countries_pct = 0;
    int64_t country_sum = 0;
    bool country_sum_ok = true;
    for (const xmlNode *rc = first_country; rc != NULL; rc = iati_chk_next(rc, "recipient-country")) {
        const char *pct = iati_chk_attr(rc, "percentage");
        if (pct != NULL) {
            countries_pct++;
            country_sum_ok = add_percentage(&country_sum, pct) && country_sum_ok;
            if (!in_range_0_100(pct)) {
                fail(c, &R_12_1_1, rc, "percentage", "'%s'", pct);
            }
        }
    }
    for (const xmlNode *rr = iati_chk_child(a, "recipient-region"); rr != NULL;
         rr = iati_chk_next(rr, "recipient-region")) {
        const char *pct = iati_chk_attr(rr, "percentage");
        if (pct != NULL && !in_range_0_100(pct)) {
            fail(c, &R_12_1_1, rr, "percentage", "'%s'", pct);
        }
    }
    if (countries > 1 && regions == 0) {
        if (countries_pct != countries) {
            fail(c, &R_3_1_1, first_country, NULL, "%zu countries, %zu with a percentage", countries, countries_pct);
        }
        if (!country_sum_ok || !sum_is_100(country_sum)) {
            char buf[48];
            sum_text(country_sum, buf, sizeof buf);
            fail(c, &R_3_1_2, first_country, NULL, "the percentages sum to %s", country_sum_ok ? buf : "not a number");
        }
    }
    if (countries == 1 && regions == 0) {
        const char *pct = iati_chk_attr(first_country, "percentage");
        if (pct != NULL && !num_is(pct, 100)) {
            fail(c, &R_3_1_4, first_country, "percentage", "single country at %s%%", pct);
        }
    }
    /* per region vocabulary present: 3.4.1, 3.4.4, 3.4.2 (countries count with every vocabulary) */
    for (const xmlNode *rr = iati_chk_child(a, "recipient-region"); rr != NULL;
         rr = iati_chk_next(rr, "recipient-region")) {
        const char *v = iati_chk_attr(rr, "vocabulary");
        if (v == NULL || vocabulary_seen_before(rr, "recipient-region", v)) {
            continue;
        }
        size_t n = 0;
        size_t with_pct = 0;
        int64_t sum = country_sum;
        bool sum_ok = country_sum_ok;
        const xmlNode *single = NULL;
        for (const xmlNode *x = rr; x != NULL; x = iati_chk_next(x, "recipient-region")) {
            if (!str_eq(iati_chk_attr(x, "vocabulary"), v)) {
                continue;
            }
            n++;
            single = x;
            const char *pct = iati_chk_attr(x, "percentage");
            if (pct != NULL) {
                with_pct++;
                sum_ok = add_percentage(&sum, pct) && sum_ok;
            }
        }
        if (n > 1 && with_pct != n) {
            fail(c, &R_3_4_1, rr, NULL, "vocabulary %s: %zu regions, %zu with a percentage", v, n, with_pct);
        }
        if (n == 1 && countries == 0) {
            const char *pct = iati_chk_attr(single, "percentage");
            if (pct != NULL && !num_is(pct, 100)) {
                fail(c, &R_3_4_4, single, "percentage", "vocabulary %s: single region at %s%%", v, pct);
            }
        }
        if (n + countries > 1 && (!sum_ok || !sum_is_100(sum))) {
            char buf[48];
            sum_text(sum, buf, sizeof buf);
            fail(c, &R_3_4_2, rr, NULL, "vocabulary %s: countries and regions sum to %s", v,
                 sum_ok ? buf : "not a number");
        }
    }
    /* at activity level or on all transactions, not both (the transactions: c->stream) */
    bool at_activity = countries > 0 || regions > 0;
    const struct iati_chk_stream *st = &c->stream;
    if (at_activity && st->first_tx_geo.set) {
        fail_spot(c, &R_3_6_2, &st->first_tx_geo, NULL);
    }
    if (!at_activity && !st->first_tx_geo.set) {
        fail(c, &R_3_7_1, a, NULL, "no recipient country or region on the activity nor on any transaction");
    }
    if (!at_activity && st->first_tx_no_geo.set) {
        fail_spot(c, &R_3_7_2, &st->first_tx_no_geo, "a transaction without recipient country or region");
    }
}

/* The first of what the walk found, in the tree (node, n_tree of them) or in the streamed
 * children (spot, n_streamed), reported once with the total. */
static void one_or_all_fail(struct iati_chk *c, const struct rule *r, const xmlNode *node, size_t n_tree,
                            const struct iati_chk_spot *spot, size_t n_streamed, const char *what)
{
    size_t n = n_tree + n_streamed;
    if (n_streamed > 0 && (n_tree == 0 || iati_chk_spot_before(c, spot, node))) {
        fail_spot(c, r, spot, "%zu %s", n, what);
    } else {
        fail(c, r, node, NULL, "%zu %s", n, what);
    }
}

static void one_or_all_rules(struct iati_chk *c, const xmlNode *rec, const struct rule *lang_rule,
                             const struct rule *currency_rule)
{
    const struct iati_chk_walk *w = &c->walk;
    const struct iati_chk_stream *st = &c->stream;
    if (iati_chk_lang(rec) == NULL && w->narratives_without_lang + st->narratives_without_lang > 0) {
        one_or_all_fail(c, lang_rule, w->first_narrative_without_lang, w->narratives_without_lang,
                        &st->first_narrative_without_lang, st->narratives_without_lang, "narratives without xml:lang");
    }
    if (iati_chk_attr(rec, "default-currency") == NULL &&
        w->values_without_currency + st->values_without_currency > 0) {
        one_or_all_fail(c, currency_rule, w->first_value_without_currency, w->values_without_currency,
                        &st->first_value_without_currency, st->values_without_currency, "values without currency");
    }
}

/* 107.x.2 for the aid-type elements named name under parent (at most one per vocabulary). */
static void one_aid_type_per_vocabulary(struct iati_chk *c, const xmlNode *parent, const char *name,
                                        const struct rule *r)
{
    size_t defaults = 0;
    for (const xmlNode *x = iati_chk_child(parent, name); x != NULL; x = iati_chk_next(x, name)) {
        defaults += vocab_default(iati_chk_attr(x, "vocabulary")) ? 1 : 0;
    }
    if (defaults > 1) {
        fail(c, r, iati_chk_child(parent, name), NULL, "%zu codes of vocabulary 1", defaults);
    }
    for (const xmlNode *x = iati_chk_child(parent, name); x != NULL; x = iati_chk_next(x, name)) {
        const char *v = iati_chk_attr(x, "vocabulary");
        if (v == NULL || num_is(v, 1) || vocabulary_seen_before(x, name, v)) {
            continue;
        }
        size_t n = 0;
        for (const xmlNode *y = x; y != NULL; y = iati_chk_next(y, name)) {
            n += str_eq(iati_chk_attr(y, "vocabulary"), v) ? 1 : 0;
        }
        if (n > 1) {
            fail(c, r, x, NULL, "%zu codes of vocabulary %s", n, v);
        }
    }
}

static void aid_type_rules(struct iati_chk *c, const xmlNode *a)
{
    bool any = false;
    bool dac = false;
    for (const xmlNode *x = iati_chk_child(a, "default-aid-type"); x != NULL;
         x = iati_chk_next(x, "default-aid-type")) {
        any = true;
        dac = dac || vocab_default(iati_chk_attr(x, "vocabulary"));
    }
    if (any && !dac) {
        fail(c, &R_107_1_1, iati_chk_child(a, "default-aid-type"), NULL, NULL);
    }
    one_aid_type_per_vocabulary(c, a, "default-aid-type", &R_107_1_2);
    /* 107.2.2 on each transaction: iati_chk_rules_streamed */
    const struct iati_chk_stream *st = &c->stream;
    if (st->first_tx_aid_type.set && !st->tx_aid_type_dac) {
        fail_spot(c, &R_107_2_1, &st->first_tx_aid_type, NULL);
    }
}

static void budget_item_rules(struct iati_chk *c, const xmlNode *a)
{
    const xmlNode *cs = iati_chk_child(a, "capital-spend");
    if (cs != NULL) {
        const char *pct = iati_chk_attr(cs, "percentage");
        if (pct != NULL && !in_range_0_100(pct)) {
            fail(c, &R_12_2_1, cs, "percentage", "'%s'", pct);
        }
    }
    for (const xmlNode *cbi = iati_chk_child(a, "country-budget-items"); cbi != NULL;
         cbi = iati_chk_next(cbi, "country-budget-items")) {
        size_t n = 0;
        size_t with_pct = 0;
        int64_t sum = 0;
        bool sum_ok = true;
        const xmlNode *first = iati_chk_child(cbi, "budget-item");
        for (const xmlNode *bi = first; bi != NULL; bi = iati_chk_next(bi, "budget-item")) {
            n++;
            const char *pct = iati_chk_attr(bi, "percentage");
            if (pct != NULL) {
                with_pct++;
                sum_ok = add_percentage(&sum, pct) && sum_ok;
                if (!in_range_0_100(pct)) {
                    fail(c, &R_12_2_1, bi, "percentage", "'%s'", pct);
                }
            }
        }
        if (n > 1 && (!sum_ok || !sum_is_100(sum))) {
            char buf[48];
            sum_text(sum, buf, sizeof buf);
            fail(c, &R_7_9_2, first, NULL, "the percentages sum to %s", sum_ok ? buf : "not a number");
        }
        if (n > 1 && with_pct == 0) {
            fail(c, &R_7_9_1, first, NULL, NULL);
        }
        if (n == 1) {
            const char *pct = iati_chk_attr(first, "percentage");
            if (pct != NULL && !num_is(pct, 100)) {
                fail(c, &R_7_9_4, first, "percentage", "single budget item at %s%%", pct);
            }
        }
    }
}

static void provider_receiver_rules(struct iati_chk *c, const xmlNode *parent)
{
    const xmlNode *p = iati_chk_child(parent, "provider-org");
    if (p != NULL) {
        ref_or_narrative(c, &R_6_9_1, p);
        symbols_rule(c, &R_1_10_13, p, "ref");
        spaces_rule(c, &R_1_10_1, p, "ref");
        spaces_rule(c, &R_1_4_1, p, "provider-activity-id");
    }
    const xmlNode *r = iati_chk_child(parent, "receiver-org");
    if (r != NULL) {
        ref_or_narrative(c, &R_6_9_2, r);
        spaces_rule(c, &R_1_15_1, r, "ref");
        spaces_rule(c, &R_1_5_1, r, "receiver-activity-id");
        symbols_rule(c, &R_1_15_13, r, "ref");
    }
}

static void org_rules(struct iati_chk *c, const xmlNode *a)
{
    for (const xmlNode *p = iati_chk_child(a, "participating-org"); p != NULL;
         p = iati_chk_next(p, "participating-org")) {
        ref_or_narrative(c, &R_6_10_1, p);
        symbols_rule(c, &R_1_8_13, p, "ref");
        spaces_rule(c, &R_1_8_1, p, "ref");
        spaces_rule(c, &R_1_9_1, p, "activity-id");
    }
    /* provider and receiver of each transaction: iati_chk_rules_streamed */
    for (const xmlNode *pd = iati_chk_child(a, "planned-disbursement"); pd != NULL;
         pd = iati_chk_next(pd, "planned-disbursement")) {
        provider_receiver_rules(c, pd);
        period_rules(c, pd, &R_8_6_3, false);
    }
    for (const xmlNode *b = iati_chk_child(a, "budget"); b != NULL; b = iati_chk_next(b, "budget")) {
        period_rules(c, b, &R_8_6_3, true);
    }
    for (const xmlNode *pm = iati_chk_child(a, "policy-marker"); pm != NULL; pm = iati_chk_next(pm, "policy-marker")) {
        const char *v = iati_chk_attr(pm, "vocabulary");
        if (vocab_default(v) && iati_chk_attr(pm, "significance") == NULL) {
            fail(c, &R_6_14_1, pm, NULL, "code '%s'",
                 iati_chk_attr(pm, "code") != NULL ? iati_chk_attr(pm, "code") : "");
        }
        if (str_eq(v, "99") && iati_chk_child(pm, "narrative") == NULL) {
            fail(c, &R_6_13_1, pm, NULL, NULL);
        }
    }
}

/* 8.x.1 / 8.x.2 / 8.x.3 on one baseline, target or actual. */
static void indicator_value_rules(struct iati_chk *c, const xmlNode *el, bool quantitative, bool qualitative,
                                  const struct rule *need, const struct rule *number, const struct rule *omit)
{
    const char *v = iati_chk_attr(el, "value");
    if (quantitative) {
        if (v == NULL) {
            fail(c, need, el, NULL, NULL);
        } else if (!xpath_number(v)) {
            fail(c, number, el, "value", "'%s'", v);
        }
    }
    if (qualitative && v != NULL) {
        fail(c, omit, el, "value", "'%s'", v);
    }
}

static void result_rules(struct iati_chk *c, const xmlNode *a)
{
    for (const xmlNode *r = iati_chk_child(a, "result"); r != NULL; r = iati_chk_next(r, "result")) {
        bool result_ref = iati_chk_child(r, "reference") != NULL;
        for (const xmlNode *ind = iati_chk_child(r, "indicator"); ind != NULL; ind = iati_chk_next(ind, "indicator")) {
            const xmlNode *ind_ref = iati_chk_child(ind, "reference");
            if (ind_ref != NULL && result_ref) {
                fail(c, &R_8_11_1, ind_ref, NULL, NULL);
            }
            const char *m = iati_chk_attr(ind, "measure");
            bool quant = str_eq(m, "1") || str_eq(m, "2") || str_eq(m, "3") || str_eq(m, "4");
            bool qual = str_eq(m, "5");
            for (const xmlNode *b = iati_chk_child(ind, "baseline"); b != NULL; b = iati_chk_next(b, "baseline")) {
                indicator_value_rules(c, b, quant, qual, &R_8_8_1, &R_8_8_2, &R_8_8_3);
            }
            for (const xmlNode *p = iati_chk_child(ind, "period"); p != NULL; p = iati_chk_next(p, "period")) {
                period_rules(c, p, &R_8_6_1, false);
                for (const xmlNode *t = iati_chk_child(p, "target"); t != NULL; t = iati_chk_next(t, "target")) {
                    indicator_value_rules(c, t, quant, qual, &R_8_9_1, &R_8_9_2, &R_8_9_3);
                }
                for (const xmlNode *t = iati_chk_child(p, "actual"); t != NULL; t = iati_chk_next(t, "actual")) {
                    indicator_value_rules(c, t, quant, qual, &R_8_10_1, &R_8_10_2, &R_8_10_3);
                }
            }
        }
    }
}

/* One transaction, alone; and what the activity rules need of it (11.2.x, 107.2.2, provider and
 * receiver rules as the activity's groups did them; 6.6.2, 6.7.2, 3.6.2, 3.7.x, 107.2.1 later). */
static void transaction_rules(struct iati_chk *c, const xmlNode *t)
{
    struct iati_chk_stream *st = &c->stream;
    not_future(c, &R_11_2_1, iati_chk_child(t, "transaction-date"), "iso-date");
    not_future(c, &R_11_2_2, iati_chk_child(t, "value"), "value-date");
    const xmlNode *sector = iati_chk_child(t, "sector");
    if (sector != NULL) {
        iati_chk_spot_take(c, &st->first_tx_sector, sector);
    } else if (st->tx_without_sector++ == 0) {
        iati_chk_spot_take(c, &st->first_tx_no_sector, t);
    }
    if (iati_chk_child(t, "recipient-country") != NULL || iati_chk_child(t, "recipient-region") != NULL) {
        iati_chk_spot_take(c, &st->first_tx_geo, t);
    } else {
        iati_chk_spot_take(c, &st->first_tx_no_geo, t);
    }
    for (const xmlNode *x = iati_chk_child(t, "aid-type"); x != NULL; x = iati_chk_next(x, "aid-type")) {
        iati_chk_spot_take(c, &st->first_tx_aid_type, x);
        st->tx_aid_type_dac = st->tx_aid_type_dac || vocab_default(iati_chk_attr(x, "vocabulary"));
    }
    one_aid_type_per_vocabulary(c, t, "aid-type", &R_107_2_2);
    provider_receiver_rules(c, t);
}

void iati_chk_rules_streamed(struct iati_chk *c, const xmlNode *e)
{
    assert(c != NULL && e != NULL && c->stream.el == e);
    switch (c->stream.kind) {
    case IATI_CHK_RELATED_ACTIVITY:
        spaces_rule(c, &R_1_7_1, e, "ref");
        return;
    case IATI_CHK_TRANSACTION:
        transaction_rules(c, e);
        return;
    case IATI_CHK_KINDS:
        break;
    }
    assert(false);
}

void iati_chk_rules_activity(struct iati_chk *c, const xmlNode *a)
{
    assert(c != NULL && a != NULL);
    assert(c->kind == IATI_KIND_ACTIVITIES);
    identifier_rules(c, a);
    date_rules(c, a);
    sector_rules(c, a);
    geo_rules(c, a);
    one_or_all_rules(c, a, &R_4_1_1, &R_7_8_1);
    aid_type_rules(c, a);
    budget_item_rules(c, a);
    org_rules(c, a);
    result_rules(c, a);
}

/* ---------------------------------------------------------------- organisation */

void iati_chk_rules_organisation(struct iati_chk *c, const xmlNode *o)
{
    assert(c != NULL && o != NULL);
    assert(c->kind == IATI_KIND_ORGANISATIONS);
    const xmlNode *id_el = iati_chk_child(o, "organisation-identifier");
    xmlChar *id = content_of(id_el);
    if (id != NULL) {
        if (!no_spaces((const char *)id)) {
            fail(c, &R_1_12_1, id_el, NULL, "'%s'", (const char *)id);
        }
        if (!no_symbols((const char *)id)) {
            fail(c, &R_1_12_13, id_el, NULL, "'%s'", (const char *)id);
        }
    }
    xmlFree(id);
    const xmlNode *rep = iati_chk_child(o, "reporting-org");
    if (rep != NULL) {
        agency_rule(c, &R_1_18_8, rep);
        symbols_rule(c, &R_1_18_13, rep, "ref");
        spaces_rule(c, &R_1_18_1, rep, "ref");
    }
    for (const xmlNode *b = iati_chk_child(o, "recipient-org-budget"); b != NULL;
         b = iati_chk_next(b, "recipient-org-budget")) {
        const xmlNode *ro = iati_chk_child(b, "recipient-org");
        if (ro != NULL) {
            spaces_rule(c, &R_1_17_1, ro, "ref");
        }
    }
    not_future(c, &R_11_4_1, o, "last-updated-datetime");
    one_or_all_rules(c, o, &R_4_5_1, &R_7_8_2);
    static const char *const budgets[] = {"total-budget", "recipient-org-budget", "recipient-region-budget",
                                          "recipient-country-budget", "total-expenditure"};
    for (size_t i = 0; i < sizeof budgets / sizeof budgets[0]; i++) {
        for (const xmlNode *b = iati_chk_child(o, budgets[i]); b != NULL; b = iati_chk_next(b, budgets[i])) {
            period_rules(c, b, &R_8_6_3, true);
        }
    }
    for (const xmlNode *b = iati_chk_child(o, "recipient-country-budget"); b != NULL;
         b = iati_chk_next(b, "recipient-country-budget")) {
        const xmlNode *bl = iati_chk_child(b, "budget-line");
        const xmlNode *v = bl != NULL ? iati_chk_child(bl, "value") : NULL;
        const xmlNode *ps = iati_chk_child(b, "period-start");
        const xmlNode *pe = iati_chk_child(b, "period-end");
        int64_t d;
        int64_t s;
        int64_t e;
        if (v != NULL && ps != NULL && pe != NULL && iati_chk_date_days(iati_chk_attr(v, "value-date"), &d) &&
            iati_chk_date_days(iati_chk_attr(ps, "iso-date"), &s) &&
            iati_chk_date_days(iati_chk_attr(pe, "iso-date"), &e) && (d < s || d > e)) {
            fail(c, &R_11_3_1, v, "value-date", "%s outside %s to %s", iati_chk_attr(v, "value-date"),
                 iati_chk_attr(ps, "iso-date"), iati_chk_attr(pe, "iso-date"));
        }
    }
}
