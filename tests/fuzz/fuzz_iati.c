/* fuzz_iati: the IATI checker (iati_check_memory) on documents held in memory, with the schemas
 * and codelists of ../shared/iati (or $FUNDLEDGER_SHARED_DIR/iati) loaded once at start.
 * Checked: the check always runs (never IATI_CHECK_ERROR: the configuration is good), says OK
 * exactly when it reports no problem, keeps at most IATI_PROBLEMS_MAX problems, each with a
 * known severity, a rule id and NUL-terminated texts; and a second check of the same document
 * reports the same problems (no state leaks from one check into the next).
 *
 * Input: byte 0 picks the kind (bit 0: organisations), the no-coordinates policy (bit 1) and
 * whether to check twice (bit 7: half the inputs, as a check is slow); the rest is the document. */
#include <stdbool.h>

#include <libxml/parser.h>

#include "fundledger/iati_check.h"
#include "fuzz.h"

static struct iati_codelists *codelists;
static struct iati_schema *schemas[2];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *env = getenv("FUNDLEDGER_SHARED_DIR");
    char dir[1024];
    struct iati_problems p;
    iati_problems_init(&p);
    snprintf(dir, sizeof dir, "%s/iati/codelists", env != NULL && env[0] != '\0' ? env : "../shared");
    codelists = iati_codelists_load(dir, &p);
    snprintf(dir, sizeof dir, "%s/iati/schemas", env != NULL && env[0] != '\0' ? env : "../shared");
    schemas[IATI_KIND_ACTIVITIES] = iati_schema_load(dir, IATI_KIND_ACTIVITIES, &p);
    schemas[IATI_KIND_ORGANISATIONS] = iati_schema_load(dir, IATI_KIND_ORGANISATIONS, &p);
    if (codelists == NULL || schemas[0] == NULL || schemas[1] == NULL) {
        fprintf(stderr, "fuzz_iati: cannot load the IATI schemas and codelists (set FUNDLEDGER_SHARED_DIR):\n");
        iati_problems_print(&p, stderr);
        exit(1);
    }
    iati_problems_free(&p);
    return 0;
}

static bool terminated(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

static enum iati_check_result check(const uint8_t *data, size_t size, struct iati_problems *p)
{
    enum iati_kind kind = (data[0] & 1) ? IATI_KIND_ORGANISATIONS : IATI_KIND_ACTIVITIES;
    struct iati_check_config cfg = {.schema = schemas[kind],
                                    .codelists = codelists,
                                    .today = "2025-10-01",
                                    .policy = (data[0] & 2) != 0};
    iati_problems_init(p);
    return iati_check_memory((const char *)data + 1, size - 1, "fuzz.xml", kind, &cfg, p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 1 << 16) {
        return 0;
    }
    struct iati_problems p, q;
    enum iati_check_result r = check(data, size, &p);
    FUZZ_CHECK(r == IATI_CHECK_OK || r == IATI_CHECK_FAILED, "the check did not run: %d", (int)r);
    /* OK means no error (warnings and infos may be listed; a dropped problem may be an error). */
    FUZZ_CHECK((r == IATI_CHECK_OK) == !iati_problems_errors_since(&p, 0, 0), "result %d with %zu problems", (int)r,
               p.count + p.dropped);
    FUZZ_CHECK(p.count <= IATI_PROBLEMS_MAX && (p.dropped == 0 || p.count == IATI_PROBLEMS_MAX),
               "%zu kept, %zu dropped", p.count, p.dropped);
    for (size_t i = 0; i < p.count; i++) {
        const struct iati_problem *x = &p.items[i];
        FUZZ_CHECK(terminated(x->rule_id, sizeof x->rule_id) && x->rule_id[0] != '\0', "problem %zu rule id", i);
        FUZZ_CHECK(strcmp(x->rule_id, "FL-CONFIG") != 0 && strcmp(x->rule_id, "FL-IO") != 0, "problem %zu: %s: %s", i,
                   x->rule_id, x->message);
        FUZZ_CHECK(x->severity == IATI_SEVERITY_ERROR || x->severity == IATI_SEVERITY_WARNING ||
                       x->severity == IATI_SEVERITY_INFO,
                   "severity %d",
                   (int)x->severity);
        FUZZ_CHECK(terminated(x->location, sizeof x->location) && terminated(x->message, sizeof x->message),
                   "problem %zu texts", i);
        FUZZ_CHECK(x->line >= 0, "problem %zu line %ld", i, x->line);
    }

    if ((data[0] & 0x80) == 0) {
        iati_problems_free(&p);
        return 0;
    }
    /* Same document, same problems. */
    enum iati_check_result r2 = check(data, size, &q);
    FUZZ_CHECK(r2 == r && q.count == p.count && q.dropped == p.dropped, "second check: %d, %zu/%zu problems", (int)r2,
               q.count, q.dropped);
    for (size_t i = 0; i < p.count; i++) {
        const struct iati_problem *x = &p.items[i], *y = &q.items[i];
        FUZZ_CHECK(strcmp(x->rule_id, y->rule_id) == 0 && x->line == y->line && strcmp(x->location, y->location) == 0 &&
                       strcmp(x->message, y->message) == 0,
                   "problem %zu differs the second time: %s %s / %s %s", i, x->rule_id, x->message, y->rule_id,
                   y->message);
    }
    iati_problems_free(&q);
    iati_problems_free(&p);
    return 0;
}
