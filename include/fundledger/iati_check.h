/* iati_check: checks any IATI 2.03 file against the schema, the codelists and the standard rulesets. */
#ifndef FUNDLEDGER_IATI_CHECK_H
#define FUNDLEDGER_IATI_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

/* ---------------------------------------------------------------- limits (with their reasons) */

/* Problems kept per check: enough to fix a file by; the rest are only counted (dropped). */
#define IATI_PROBLEMS_MAX 1000
/* A rule id: "11.2.1", "FL-CODE-WITHDRAWN". */
#define IATI_RULE_ID_BYTES 24
/* Location: an XPath-like path; deeper or longer paths are cut with "...". */
#define IATI_LOCATION_BYTES 320
/* One English line; longer messages are cut. */
#define IATI_MESSAGE_BYTES 512
/* Elements in one activity or organisation record (its streamed children included), and their
 * depth: bounds the tree walks. */
#define IATI_CHECK_NODES_MAX 2000000
#define IATI_CHECK_DEPTH_MAX 64
/* Codes in one codelist file and mappings in mapping.xml (the largest list has ~550 codes). */
#define IATI_CODELIST_CODES_MAX 20000
#define IATI_CODELIST_MAPPINGS_MAX 1000

/* ---------------------------------------------------------------- problems */

/* How much a finding weighs, as the IATI Validator ranks it (docs/iati.md, "Severities"): the
 * Validator's "critical" (XML, schema) and "error" are errors here, its "warning" a warning, its
 * "advisory" an info. Only errors make a file fail (iati check exits 1, publishing refuses);
 * warnings and infos are reported and the file passes (unless iati check --strict). */
enum iati_severity {
    IATI_SEVERITY_ERROR = 0,
    IATI_SEVERITY_WARNING,
    IATI_SEVERITY_INFO,
};

/* "error", "warning", "info". Static storage. */
const char *iati_severity_name(enum iati_severity s);

/* The severity iati_check gives the standard.json rule rule_id ("8.6.3"): the one standard.json
 * gives it (the Validator reports a ruleset finding with its ruleInfo.severity). false when the
 * rule is not one of standard.json's. */
bool iati_rule_severity(const char *rule_id, enum iati_severity *severity);

/* One problem found in a file.
 * rule_id: the id in standard.json / standard-rules-table.tsv ("11.2.1"), or one of ours:
 *   FL-XML             not well-formed XML, or a DOCTYPE
 *   FL-XSD             invalid against the 2.03 schema
 *   FL-ROOT            the root element is not the one the kind asks for
 *   FL-CODE-UNKNOWN    a coded value not in its codelist (mapping.xml)
 *   FL-CODE-WITHDRAWN  a coded value whose codelist item is status="withdrawn" (a warning: the
 *                      Validator's codelist rules accept withdrawn codes)
 *   1.1.2              (the Validator's id) an iati-identifier (organisation-identifier) already
 *                      used by an earlier record of the same file; the message names the first
 *   FL-PRIVACY-COORDINATES, FL-PRIVACY-ADMIN-LEVEL
 *                      the fund's publication policy, not an IATI rule (only with .policy;
 *                      domain.md §10): a location/point (coordinates), or a
 *                      location/administrative finer than a municipality (@level above 2)
 *   FL-LIMIT           a record too large or too deep to walk (IATI_CHECK_*_MAX)
 *   FL-CONFIG          schema, codelists or "today" missing or unusable (the check did not run)
 *   FL-IO              the file could not be opened
 * location: "/iati-activities/iati-activity[3]/transaction[2]/transaction-date/@iso-date". An index
 *   is shown for iati-activity / iati-organisation always, elsewhere when siblings share the name.
 * line: the line in the file, 0 when unknown. */
struct iati_problem {
    char rule_id[IATI_RULE_ID_BYTES];
    enum iati_severity severity;
    long line;
    char location[IATI_LOCATION_BYTES];
    char message[IATI_MESSAGE_BYTES];
};

/* A bounded list: at most IATI_PROBLEMS_MAX kept in order found, `dropped` counts the rest. */
struct iati_problems {
    struct iati_problem *items;
    size_t count;
    size_t capacity;
    size_t dropped;
};

/* Makes p an empty list. Nothing is allocated until a problem is added. */
void iati_problems_init(struct iati_problems *p);

/* Frees the items and makes p empty again. p may be reused afterwards. */
void iati_problems_free(struct iati_problems *p);

/* The first kept problem with this rule id, or NULL. Borrowed from p. */
const struct iati_problem *iati_problems_find(const struct iati_problems *p, const char *rule_id);

/* Writes the problems one per line ("rule_id severity location line N: message") to fp. */
void iati_problems_print(const struct iati_problems *p, FILE *fp);

/* How many kept problems from index `from` on have this severity. Problems not kept (dropped)
 * are not counted: see iati_problems_errors_since. */
size_t iati_problems_count(const struct iati_problems *p, size_t from, enum iati_severity severity);

/* true when a problem of severity error was appended at or after index `from`, or when problems
 * were dropped since `dropped_before` (a dropped problem's severity is unknown: it counts as an
 * error, so that a full list never lets a file pass). */
bool iati_problems_errors_since(const struct iati_problems *p, size_t from, size_t dropped_before);

/* The problems from index `from` on as a JSON array of {"id", "rule_id" (the same), "severity",
 * "message", "location", "line", "context": [{"text"}]} (the IATI Validator's finding shape, plus location and line),
 * and, when problems were dropped, a last FL-LIMIT item saying how many. New reference; NULL when
 * out of memory. */
json_t *iati_problems_json(const struct iati_problems *p, size_t from);

/* ---------------------------------------------------------------- codelists */

/* The codelists of a directory holding embedded/, non-embedded/ and mapping.xml, loaded once. */
struct iati_codelists;

/* Loads every codelist mapping.xml names (looked up in embedded/ then non-embedded/, as
 * tools/check_codelists.py does) and OrganisationRegistrationAgency (for rules 1.14.8 / 1.18.8).
 * On success returns a handle the caller frees with iati_codelists_free. On failure returns NULL
 * and appends an FL-CONFIG problem to problems saying which file and why (missing list, unknown
 * condition syntax, unreadable XML). Never touches the network. */
struct iati_codelists *iati_codelists_load(const char *dir, struct iati_problems *problems);

/* Frees a handle from iati_codelists_load. NULL is fine. */
void iati_codelists_free(struct iati_codelists *cl);

/* ---------------------------------------------------------------- checking a file */

enum iati_kind {
    IATI_KIND_ACTIVITIES = 0,
    IATI_KIND_ORGANISATIONS,
};

struct iati_check_config {
    /* Directory with iati-activities-schema.xsd, iati-organisations-schema.xsd, iati-common.xsd
     * and xml.xsd. Required: a missing or unreadable schema is an error, never a skipped check. */
    const char *schema_dir;
    /* Codelists loaded beforehand (borrowed), or NULL to load them from codelist_dir for this
     * call. One of the two is required. */
    const struct iati_codelists *codelists;
    const char *codelist_dir;
    /* "YYYY-MM-DD": dates after it are in the future (11.1.1, 11.1.4, 11.1.5, 11.2.1, 11.2.2,
     * 11.4.1). NULL means the current UTC date. Passed in so tests are deterministic. */
    const char *today;
    /* Also apply the fund's publication policies that need only the file (domain.md §10; not IATI
     * rules): no coordinates (FL-PRIVACY-COORDINATES), no location finer than a municipality
     * (FL-PRIVACY-ADMIN-LEVEL). Off for other people's files; iati check --policy turns it on.
     * The name and ledger-total policies need the database: iati_export_publish runs them. */
    bool policy;
    /* The schema parsed beforehand (iati_schema_load, of the kind checked; borrowed), or NULL to
     * parse it from schema_dir for this call. */
    const struct iati_schema *schema;
};

/* An IATI XSD parsed once for many checks (parsing it is most of a small file's check). */
struct iati_schema;

/* Parses the schema of kind from schema_dir as iati_check_file would. NULL on failure with an
 * FL-CONFIG problem appended to problems. Free with iati_schema_free (NULL is fine). */
struct iati_schema *iati_schema_load(const char *schema_dir, enum iati_kind kind, struct iati_problems *problems);
void iati_schema_free(struct iati_schema *s);

enum iati_check_result {
    IATI_CHECK_OK = 0, /* no error: the file passes (warnings or infos may have been appended) */
    IATI_CHECK_FAILED, /* at least one error was found (appended to out) */
    IATI_CHECK_ERROR,  /* the check could not run (FL-CONFIG, FL-IO, out of memory): see out */
};

/* Checks the file at path, read as a stream: one activity (or organisation) at a time is held in
 * memory, validated against the XSD as it is parsed (structured errors with line numbers), then
 * its coded values are looked up in the codelists and the rules of standard.json are applied.
 * An activity's related-activity and transaction children, which can be many (a fund's parent
 * activity lists every loan), are not held: each is checked as it streams past (its codelists, the
 * rules about it alone) and only what the activity's rules need of them is kept (counts, flags,
 * the place of the first one a rule reports): the tree held does not grow with them (libxml2's
 * streaming XSD validation itself keeps about 100 bytes per child of an open element: see
 * tests/bench/README.md). Their problems come before the rest of their activity's; after XML that
 * is not well-formed, those of the children read before the break are reported, the rules of the
 * activity cut by it are not.
 * Every problem found is appended to out (up to IATI_PROBLEMS_MAX, then counted as dropped);
 * nothing stops at the first one, except XML that is not well-formed, after which nothing can be
 * read. The parser never touches the network (XML_PARSE_NONET, no-network entity loader) and does
 * not load DTDs or substitute entities. The caller owns out (iati_problems_init beforehand,
 * iati_problems_free afterwards); problems are appended, never cleared. */
enum iati_check_result iati_check_file(const char *path, enum iati_kind kind, const struct iati_check_config *cfg,
                                       struct iati_problems *out);

/* The same check of a document held in memory, buf[0..len) (at most INT_MAX bytes), named name
 * in problems (for tests and tests/fuzz/fuzz_iati). */
enum iati_check_result iati_check_memory(const char *buf, size_t len, const char *name, enum iati_kind kind,
                                         const struct iati_check_config *cfg, struct iati_problems *out);

#endif
