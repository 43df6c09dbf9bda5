/* check_internal: what check.c, codelists.c and rules.c share (not part of the public API). */
#ifndef FUNDLEDGER_IATI_CHECK_INTERNAL_H
#define FUNDLEDGER_IATI_CHECK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libxml/tree.h>

#include "fundledger/iati_check.h"

/* What the element walk of one record counts for the "one or all" rules (4.1.1, 7.8.1, ...). */
struct iati_chk_walk {
    size_t narratives_without_lang;
    const xmlNode *first_narrative_without_lang;
    size_t values_without_currency;
    const xmlNode *first_value_without_currency;
};

/* The state of one iati_check_file call. */
struct iati_chk {
    const struct iati_check_config *cfg;
    const struct iati_codelists *codelists;
    struct iati_problems *out;
    enum iati_kind kind;
    const char *root_name; /* "iati-activities" / "iati-organisations" */
    const char *item_name; /* "iati-activity" / "iati-organisation" */
    const xmlNode *item;   /* the record being checked, or NULL */
    size_t item_index;     /* 1-based position of item among the records */
    int64_t today_days;    /* days since 1970-01-01 */
    struct iati_chk_walk walk;
};

/* Initialises libxml2 once per process and installs its no-network entity loader. */
void iati_chk_libxml_init(void);

/* Appends a problem located at node (and its attribute attr when not NULL; "text()" for text).
 * node NULL means the root element. The message is printf-formatted. */
void iati_chk_problem(struct iati_chk *c, const char *rule_id, enum iati_severity severity, const xmlNode *node,
                      const char *attr, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Appends a problem with an explicit location and line (configuration, I/O, parser). */
void iati_chk_problem_at(struct iati_problems *out, const char *rule_id, enum iati_severity severity,
                         const char *location, long line, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Writes the XPath-like location of node (+ "/@attr") into buf. */
void iati_chk_location(const struct iati_chk *c, const xmlNode *node, const char *attr, char *buf, size_t cap);

/* ---------------------------------------------------------------- tree helpers (no namespace) */

/* true when n is an element named name in no namespace. */
bool iati_chk_is(const xmlNode *n, const char *name);
/* First child element named name, or NULL. */
const xmlNode *iati_chk_child(const xmlNode *parent, const char *name);
/* Next sibling element named name after n, or NULL. */
const xmlNode *iati_chk_next(const xmlNode *n, const char *name);
/* Number of child elements named name. */
size_t iati_chk_count(const xmlNode *parent, const char *name);
/* The value of the attribute name in no namespace, or NULL when absent. Borrowed from the tree. */
const char *iati_chk_attr(const xmlNode *n, const char *name);
/* The value of xml:lang on n itself, or NULL. */
const char *iati_chk_lang(const xmlNode *n);

/* ---------------------------------------------------------------- values */

/* Parses a date "YYYY-MM-DD" (a time or zone may follow) into days since 1970-01-01. */
bool iati_chk_date_days(const char *s, int64_t *days);
/* Parses an XPath number ([ws] [-] digits [. digits] [ws]) into billionths. false when it is not one. */
bool iati_chk_decimal(const char *s, int64_t *nano);

/* ---------------------------------------------------------------- codelists (codelists.c) */

/* Checks the coded values reachable from element e by mapping.xml paths whose first step names e,
 * and e's own xml:lang. root_only: e is the streamed root, whose children are not there yet. */
void iati_chk_codelists_element(struct iati_chk *c, const xmlNode *e, bool root_only);
/* true when prefix is a code of OrganisationRegistrationAgency. */
bool iati_chk_codelists_agency(const struct iati_codelists *cl, const char *prefix);

/* ---------------------------------------------------------------- rules (rules.c) */

/* Rules that look at single elements anywhere (4.3.1, 4.4.1, coordinates) and feed c->walk. */
void iati_chk_rules_element(struct iati_chk *c, const xmlNode *e);
/* The rules of standard.json whose context is an activity or anything inside one. */
void iati_chk_rules_activity(struct iati_chk *c, const xmlNode *a);
/* The rules of standard.json whose context is an organisation or anything inside one. */
void iati_chk_rules_organisation(struct iati_chk *c, const xmlNode *o);

#endif
