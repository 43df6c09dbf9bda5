/* check_internal: what check.c, codelists.c and rules.c share (not part of the public API). */
#ifndef FUNDLEDGER_IATI_CHECK_INTERNAL_H
#define FUNDLEDGER_IATI_CHECK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libxml/hash.h>
#include <libxml/tree.h>

#include "fundledger/iati_check.h"

/* What the element walk of one record counts for the "one or all" rules (4.1.1, 7.8.1, ...). */
struct iati_chk_walk {
    size_t narratives_without_lang;
    const xmlNode *first_narrative_without_lang;
    size_t values_without_currency;
    const xmlNode *first_value_without_currency;
};

/*
 * Streamed children. An activity is read one child element at a time. The children a rule needs
 * together with their siblings stay in the tree until the activity ends; the repeated ones named in
 * iati_chk_streamed_kind (related-activity: one per child activity in a fund's parent activity;
 * transaction) are checked as each one streams past (its codelists, its element walk, the rules
 * that look at it alone) and then freed, so the memory of one activity does not grow with them.
 * What the activity-level rules need of them is kept here: counts, flags and the place ("spot")
 * of the first element each rule would report.
 */
enum iati_chk_kind {
    IATI_CHK_RELATED_ACTIVITY = 0,
    IATI_CHK_TRANSACTION,
    IATI_CHK_KINDS,
};

/* Where a problem about a streamed element is to be reported once that element is gone. */
struct iati_chk_spot {
    bool set;
    long line;
    size_t kept_before; /* child elements of the record kept in the tree before it (document order) */
    enum iati_chk_kind kind;
    size_t index; /* of the streamed child the spot is in, 1-based among its kind */
    char location[IATI_LOCATION_BYTES];
};

struct iati_chk_stream {
    const xmlNode *el;       /* the streamed child being checked, or NULL */
    enum iati_chk_kind kind; /* its kind */
    size_t index;            /* its position among the record's children of its kind, 1-based */
    size_t count[IATI_CHK_KINDS];
    /* problems appended while the first child of each kind was checked: its location says "[1]",
     * which is dropped when it turns out to be the only one (as for any element without
     * same-named siblings) */
    size_t first_from[IATI_CHK_KINDS];
    size_t first_to[IATI_CHK_KINDS];
    size_t kept;     /* child elements of the record kept in the tree so far */
    size_t elements; /* elements walked in streamed children (for IATI_CHECK_NODES_MAX) */
    bool too_deep;   /* FL-LIMIT for depth already reported for this record */
    bool too_many;   /* FL-LIMIT for the element count already reported for this record */
    /* the element walk of the streamed children (4.1.1 / 4.5.1, 7.8.1 / 7.8.2) */
    size_t narratives_without_lang;
    struct iati_chk_spot first_narrative_without_lang;
    size_t values_without_currency;
    struct iati_chk_spot first_value_without_currency;
    /* transactions, for the activity rules that look at all of them (rules.c) */
    struct iati_chk_spot first_tx_sector;    /* 6.6.2: the first transaction/sector */
    struct iati_chk_spot first_tx_no_sector; /* 6.7.2 */
    size_t tx_without_sector;                /* 6.7.2 */
    struct iati_chk_spot first_tx_geo;       /* 3.6.2: the first transaction with a country or region */
    struct iati_chk_spot first_tx_no_geo;    /* 3.7.2 */
    struct iati_chk_spot first_tx_aid_type;  /* 107.2.1: the first transaction/aid-type */
    bool tx_aid_type_dac;                    /* 107.2.1: some transaction/aid-type of vocabulary 1 */
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
    struct iati_chk_stream stream; /* the record's streamed children (activities only) */
    xmlHashTablePtr ids;           /* identifiers of the records read so far (1.1.2), or NULL */
    bool ids_full;                 /* the table could not grow (out of memory): 1.1.2 stopped */
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

/* The kind of a streamed child: a child element of an activity named related-activity or
 * transaction in no namespace. false for anything else (kept in the tree). */
bool iati_chk_streamed_kind(const struct iati_chk *c, const xmlNode *n, enum iati_chk_kind *kind);

/* Records node (inside the streamed child being checked) as spot, unless spot is already set. */
void iati_chk_spot_take(struct iati_chk *c, struct iati_chk_spot *spot, const xmlNode *node);

/* Appends a problem at a spot (its location final now that the record has been read). */
void iati_chk_problem_spot(struct iati_chk *c, const char *rule_id, enum iati_severity severity,
                           const struct iati_chk_spot *spot, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* true when the spot comes before node (an element of the record's tree) in document order. */
bool iati_chk_spot_before(const struct iati_chk *c, const struct iati_chk_spot *spot, const xmlNode *node);

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
/* Checks the coded values of the streamed child e by the mapping.xml paths that start at its
 * record and go through e (iati-activity/transaction/...), as the record's own check would. */
void iati_chk_codelists_streamed(struct iati_chk *c, const xmlNode *e);
/* true when prefix is a code of OrganisationRegistrationAgency. */
bool iati_chk_codelists_agency(const struct iati_codelists *cl, const char *prefix);

/* ---------------------------------------------------------------- rules (rules.c) */

/* Rules that look at single elements anywhere (4.3.1, 4.4.1, coordinates) and feed c->walk. */
void iati_chk_rules_element(struct iati_chk *c, const xmlNode *e);
/* The rules that look at one streamed child alone (1.7.1; 11.2.1, 11.2.2, 107.2.2, provider and
 * receiver rules of a transaction), and what the activity rules need of it, into c->stream. */
void iati_chk_rules_streamed(struct iati_chk *c, const xmlNode *e);
/* The rules of standard.json whose context is an activity or anything inside one; the streamed
 * children are gone from the tree by then: their part comes from c->stream. */
void iati_chk_rules_activity(struct iati_chk *c, const xmlNode *a);
/* The rules of standard.json whose context is an organisation or anything inside one. */
void iati_chk_rules_organisation(struct iati_chk *c, const xmlNode *o);

#endif
