/* ledger_post: throughput of durable postings through the group-commit batcher.
 *
 * Sets up its own fund, user and accounts through the C API, starts one ledger_batcher and N
 * writer threads, each posting balanced two-line entries (debit one account, credit another,
 * amounts from a fixed-seed generator) with ledger_batcher_post, and prints postings per second,
 * latency percentiles and the batch sizes the committer formed. Afterwards it checks that the
 * database holds exactly what was acknowledged and that the books balance.
 *
 * Usage: ledger_post [CONNINFO] [--writers N] [--seconds S | --postings N] [--accounts A]
 *                    [--hot] [--batch-max B] [--committers C] [--label TEXT] [--crash-test] [--direct]
 * CONNINFO defaults to $FUNDLEDGER_DATABASE_URL. It prints one "RESULT key=value ..." line
 * for scripts. Exit status 0 only when every check passed. A figure, never an assertion on time.
 *
 * --crash-test: the server is expected to be killed and restarted during the run (the runner
 * does it). Refusals while it is down are expected; the checks then demand that every
 * acknowledged entry is present and the books balance, and report entries that committed
 * without an acknowledgement (the connection died between the commit and its answer).
 *
 * --direct: no batcher, for comparison: each writer opens its own connection and posts each
 * entry in its own transaction (db_tx + ledger_post), as a request handler would. */
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fundledger/auth.h"
#include "fundledger/db.h"
#include "fundledger/fund.h"
#include "fundledger/ledger.h"
#include "fundledger/log.h"

#define WRITERS_MAX 256
#define ACCOUNTS_MAX 100000
#define SEED 0x5eed1ed6e2ULL

struct opts {
    const char *conninfo;
    unsigned writers;
    double seconds;    /* used when postings == 0 */
    uint64_t postings; /* total across writers; 0 = run for seconds */
    unsigned accounts;
    bool hot; /* every posting touches account 0 */
    unsigned batch_max;
    unsigned committers;
    const char *label;
    bool crash_test;
    bool direct; /* no batcher: each writer its own connection, one transaction a posting */
};

struct shared {
    const struct opts *o;
    struct ledger_batcher *b;
    int64_t fund_id;
    int64_t user_id;
    const int64_t *acct;
    struct timespec deadline;
    atomic_uint_fast64_t issued; /* --postings: tickets handed out */
    atomic_bool stop;            /* set on a fatal error */
};

struct writer {
    struct shared *s;
    unsigned index;
    pthread_t thread;
    uint64_t acked, failed;
    int64_t id_sum;     /* sum of acknowledged ids */
    int64_t amount_sum; /* sum of acknowledged debit amounts */
    uint32_t *lat_us;   /* latency of each acknowledged posting, microseconds */
    size_t lat_n, lat_cap;
    int64_t *ids; /* acknowledged ids */
    size_t ids_n, ids_cap;
    struct fl_error first_err;
};

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* splitmix64: a fixed-seed generator, one stream per writer. */
static uint64_t next_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static bool push_u32(uint32_t **a, size_t *n, size_t *cap, uint32_t v)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 4096;
        uint32_t *p = realloc(*a, c * sizeof *p);
        if (p == NULL) {
            return false;
        }
        *a = p;
        *cap = c;
    }
    (*a)[(*n)++] = v;
    return true;
}

static bool push_i64(int64_t **a, size_t *n, size_t *cap, int64_t v)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 4096;
        int64_t *p = realloc(*a, c * sizeof *p);
        if (p == NULL) {
            return false;
        }
        *a = p;
        *cap = c;
    }
    (*a)[(*n)++] = v;
    return true;
}

static bool past_deadline(const struct timespec *d)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec > d->tv_sec || (t.tv_sec == d->tv_sec && t.tv_nsec >= d->tv_nsec);
}

struct one_args {
    const struct ledger_entry *e;
    int64_t id;
};

static enum fl_err post_one_tx(struct db *db, void *arg, struct fl_error *err)
{
    struct one_args *a = arg;
    return ledger_post(db, &a->e, 1, &a->id, err);
}

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    struct shared *s = w->s;
    const struct opts *o = s->o;
    struct db *db = NULL;
    /* 8 retries: the service default (db_tx_retries_max). */
    if (o->direct && db_open(o->conninfo, true, 8, &db, &w->first_err) != FLE_OK) {
        w->failed++;
        atomic_store(&s->stop, true);
        return NULL;
    }
    uint64_t rng = SEED + w->index * 0x1000193ULL;
    struct ledger_entry e;
    memset(&e, 0, sizeof e);
    e.fund_id = s->fund_id;
    e.posted_by = s->user_id;
    snprintf(e.effective_date, sizeof e.effective_date, "2026-01-15");
    snprintf(e.event_type, sizeof e.event_type, "bench");
    e.n_lines = 2;
    snprintf(e.lines[0].currency, CURRENCY_CODE_BYTES, "USD");
    snprintf(e.lines[1].currency, CURRENCY_CODE_BYTES, "USD");
    fl_error_clear(&w->first_err);
    for (uint64_t k = 0; !atomic_load(&s->stop); k++) {
        if (o->postings > 0) {
            if (atomic_fetch_add(&s->issued, 1) >= o->postings) {
                break;
            }
        } else if (past_deadline(&s->deadline)) {
            break;
        }
        unsigned a1, a2;
        if (o->hot) {
            a1 = 0;
            a2 = 1 + (unsigned)(next_rand(&rng) % (o->accounts - 1));
            if (next_rand(&rng) & 1) {
                unsigned t = a1;
                a1 = a2;
                a2 = t;
            }
        } else {
            a1 = (unsigned)(next_rand(&rng) % o->accounts);
            a2 = (unsigned)(next_rand(&rng) % (o->accounts - 1));
            if (a2 >= a1) {
                a2++;
            }
        }
        int64_t amount = 1 + (int64_t)(next_rand(&rng) % 1000000);
        e.lines[0].account_id = s->acct[a1];
        e.lines[0].amount_minor = amount;
        e.lines[1].account_id = s->acct[a2];
        e.lines[1].amount_minor = -amount;
        snprintf(e.event_ref, sizeof e.event_ref, "w%u:%" PRIu64, w->index, k);

        struct fl_error err;
        fl_error_clear(&err);
        int64_t id = 0;
        double t0 = now_s();
        enum fl_err rc;
        if (o->direct) {
            struct one_args one = {&e, 0};
            rc = db_tx(db, post_one_tx, &one, &err);
            id = one.id;
        } else {
            rc = ledger_batcher_post(s->b, &e, &id, &err);
        }
        double dt = now_s() - t0;
        if (rc != FLE_OK) {
            if (w->failed++ == 0) {
                w->first_err = err;
            }
            if (rc != FLE_DB_UNAVAILABLE && rc != FLE_CONFLICT && !o->crash_test) {
                continue; /* a refused entry: counted, not acknowledged */
            }
            /* The database went away (a crash test): slow down instead of spinning. */
            struct timespec pause = {0, 20 * 1000 * 1000};
            nanosleep(&pause, NULL);
            continue;
        }
        w->acked++;
        w->id_sum += id;
        w->amount_sum += amount;
        double us = dt * 1e6;
        if (!push_u32(&w->lat_us, &w->lat_n, &w->lat_cap, us > 4e9 ? 4000000000u : (uint32_t)us) ||
            !push_i64(&w->ids, &w->ids_n, &w->ids_cap, id)) {
            fprintf(stderr, "ledger_post: out of memory\n");
            atomic_store(&s->stop, true);
        }
    }
    db_close(db);
    return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static void usage(void)
{
    fprintf(stderr, "usage: ledger_post [CONNINFO] [--writers N] [--seconds S | --postings N] [--accounts A]\n"
                    "                   [--hot] [--batch-max B] [--committers C] [--label TEXT] [--crash-test]\n"
                    "                   [--direct]\n"
                    "CONNINFO defaults to $FUNDLEDGER_DATABASE_URL.\n");
}

static bool parse_uint(const char *s, unsigned long long lo, unsigned long long hi, unsigned long long *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
        return false;
    }
    *out = v;
    return true;
}

static bool parse_args(int argc, char **argv, struct opts *o)
{
    *o = (struct opts){.conninfo = getenv("FUNDLEDGER_DATABASE_URL"),
                       .writers = 4,
                       .seconds = 10,
                       .accounts = 1000,
                       .batch_max = 512,
                       .committers = 1,
                       .label = "uniform"};
    bool label_set = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        unsigned long long n;
        if (strcmp(a, "--hot") == 0) {
            o->hot = true;
            continue;
        }
        if (strcmp(a, "--direct") == 0) {
            o->direct = true;
            continue;
        }
        if (strcmp(a, "--crash-test") == 0) {
            o->crash_test = true;
            continue;
        }
        if (a[0] != '-') {
            o->conninfo = a;
            continue;
        }
        if (v == NULL) {
            return false;
        }
        i++;
        if (strcmp(a, "--writers") == 0 && parse_uint(v, 1, WRITERS_MAX, &n)) {
            o->writers = (unsigned)n;
        } else if (strcmp(a, "--postings") == 0 && parse_uint(v, 1, 1000000000ULL, &n)) {
            o->postings = n;
        } else if (strcmp(a, "--accounts") == 0 && parse_uint(v, 2, ACCOUNTS_MAX, &n)) {
            o->accounts = (unsigned)n;
        } else if (strcmp(a, "--batch-max") == 0 && parse_uint(v, 1, LEDGER_BATCH_ENTRIES_MAX, &n)) {
            o->batch_max = (unsigned)n;
        } else if (strcmp(a, "--committers") == 0 && parse_uint(v, 1, LEDGER_BATCHER_COMMITTERS_MAX, &n)) {
            o->committers = (unsigned)n;
        } else if (strcmp(a, "--seconds") == 0) {
            char *end;
            o->seconds = strtod(v, &end);
            if (*end != '\0' || !(o->seconds > 0 && o->seconds <= 3600)) {
                return false;
            }
        } else if (strcmp(a, "--label") == 0) {
            o->label = v;
            label_set = true;
        } else {
            return false;
        }
    }
    if (!label_set) {
        o->label = o->direct ? (o->hot ? "direct-hot" : "direct") : (o->hot ? "hot" : "uniform");
    }
    return o->conninfo != NULL && o->conninfo[0] != '\0';
}

struct setup_args {
    const struct opts *o;
    char name[64];
    int64_t user_id, fund_id;
    int64_t *acct;
};

static enum fl_err setup_tx(struct db *db, void *arg, struct fl_error *err)
{
    struct setup_args *a = arg;
    enum fl_err e = auth_user_add(db, a->name, ROLE_FUND_MANAGER, 0, &a->user_id, err);
    if (e != FLE_OK) {
        return e;
    }
    struct principal actor = {.user_id = a->user_id, .role = ROLE_FUND_MANAGER};
    snprintf(actor.name, sizeof actor.name, "%s", a->name);
    char code[33];
    snprintf(code, sizeof code, "BENCH-%ld-%ld", (long)getpid(), (long)time(NULL) % 100000000);
    json_t *f = fund_create(db, &actor, code, "ledger_post benchmark", "USD", err);
    if (f == NULL) {
        return err->code;
    }
    a->fund_id = json_integer_value(json_object_get(f, "id"));
    json_decref(f);
    for (unsigned i = 0; i < a->o->accounts; i++) {
        char acode[32];
        snprintf(acode, sizeof acode, "B%05u", i);
        json_t *x = fund_account_create(db, &actor, a->fund_id, acode, "bench account", "asset", "USD", err);
        if (x == NULL) {
            return err->code;
        }
        a->acct[i] = json_integer_value(json_object_get(x, "id"));
        json_decref(x);
    }
    return FLE_OK;
}

/* One value of a query on a plain libpq connection, as text into out; false on error. */
static bool scalar(PGconn *c, const char *sql, char *out, size_t cap)
{
    PGresult *r = PQexec(c, sql);
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && PQnfields(r) >= 1;
    if (ok) {
        snprintf(out, cap, "%s", PQgetisnull(r, 0, 0) ? "" : PQgetvalue(r, 0, 0));
    } else {
        fprintf(stderr, "ledger_post: query failed: %s\n  %s", sql, PQerrorMessage(c));
    }
    PQclear(r);
    return ok;
}

static bool scalar_i64(PGconn *c, const char *sql, int64_t *v)
{
    char buf[64];
    if (!scalar(c, sql, buf, sizeof buf)) {
        return false;
    }
    *v = strtoll(buf, NULL, 10);
    return true;
}

struct wal_stat {
    int64_t records, bytes, writes, syncs;
    int64_t deadlocks, rollbacks; /* of this database */
};

static bool wal_read(PGconn *c, struct wal_stat *w)
{
    PQclear(PQexec(c, "SELECT pg_stat_clear_snapshot()"));
    PGresult *r = PQexec(c, "SELECT wal_records, wal_bytes, wal_write, wal_sync FROM pg_stat_wal");
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    if (ok) {
        w->records = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        w->bytes = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
        w->writes = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
        w->syncs = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
    }
    PQclear(r);
    r = PQexec(c, "SELECT deadlocks, xact_rollback FROM pg_stat_database WHERE datname = current_database()");
    ok = ok && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    if (ok) {
        w->deadlocks = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        w->rollbacks = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    }
    PQclear(r);
    return ok;
}

static int check_eq(const char *what, bool queried, int64_t got, int64_t want)
{
    bool ok = queried && got == want;
    printf("  check %-46s %s (got %" PRId64 ", want %" PRId64 ")\n", what, ok ? "ok  " : "FAIL", got, want);
    return ok ? 0 : 1;
}

/* How many of the acknowledged ids are not in journal_entry (must be 0), sent as one array. */
static bool missing_ids(PGconn *c, const struct writer *ws, unsigned n, int64_t *missing)
{
    struct db_array a;
    db_array_init(&a);
    for (unsigned i = 0; i < n; i++) {
        for (size_t k = 0; k < ws[i].ids_n; k++) {
            db_array_i64(&a, ws[i].ids[k]);
        }
    }
    const char *p[1] = {db_array_str(&a)};
    bool ok = false;
    if (p[0] != NULL) {
        PGresult *r = PQexecParams(c,
                                   "SELECT count(*) FROM unnest($1::bigint[]) i "
                                   "WHERE NOT EXISTS (SELECT 1 FROM journal_entry e WHERE e.id = i)",
                                   1, NULL, p, NULL, NULL, 0);
        ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
        if (ok) {
            *missing = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        } else {
            fprintf(stderr, "ledger_post: acknowledged-id check failed: %s", PQerrorMessage(c));
        }
        PQclear(r);
    }
    db_array_free(&a);
    return ok;
}

/* A monitoring connection; in a crash test the server may still be coming back: retry a while. */
static PGconn *connect_mon(const struct opts *o)
{
    for (int attempt = 0;; attempt++) {
        PGconn *c = PQconnectdb(o->conninfo);
        if (PQstatus(c) == CONNECTION_OK) {
            return c;
        }
        if (!o->crash_test || attempt >= 300) {
            fprintf(stderr, "ledger_post: cannot connect: %s", PQerrorMessage(c));
            PQfinish(c);
            return NULL;
        }
        PQfinish(c);
        struct timespec pause = {0, 100 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
}

int main(int argc, char **argv)
{
    struct opts o;
    if (!parse_args(argc, argv, &o)) {
        usage();
        return 2;
    }
    const char *lvl = getenv("FUNDLEDGER_LOG_LEVEL");
    log_set_level_name(lvl ? lvl : (o.crash_test ? "error" : "warn"));

    /* Set-up through the C API: a user, a fund with its chart, and the benchmark's accounts. */
    struct db *db = NULL;
    struct fl_error err;
    fl_error_clear(&err);
    if (db_open(o.conninfo, true, 8, &db, &err) != FLE_OK) {
        fprintf(stderr, "ledger_post: cannot open the database: %s\n", err.message);
        return 1;
    }
    struct setup_args sa = {.o = &o, .acct = calloc(o.accounts, sizeof(int64_t))};
    snprintf(sa.name, sizeof sa.name, "bench-%ld-%ld", (long)getpid(), (long)time(NULL));
    if (sa.acct == NULL || db_tx(db, setup_tx, &sa, &err) != FLE_OK) {
        fprintf(stderr, "ledger_post: set-up failed: %s %s\n", err.field, err.message);
        return 1;
    }
    db_close(db);

    PGconn *mon = connect_mon(&o);
    if (mon == NULL) {
        return 1;
    }
    char sql[512], sync_commit[32] = "", fsync_set[32] = "", wal_method[32] = "", fpw[32] = "";
    scalar(mon, "SHOW synchronous_commit", sync_commit, sizeof sync_commit);
    scalar(mon, "SHOW fsync", fsync_set, sizeof fsync_set);
    scalar(mon, "SHOW full_page_writes", fpw, sizeof fpw);
    scalar(mon, "SHOW wal_sync_method", wal_method, sizeof wal_method);
    int64_t entries_before = 0;
    scalar_i64(mon, "SELECT count(*) FROM journal_entry", &entries_before);
    struct wal_stat w0 = {0}, w1 = {0};
    wal_read(mon, &w0);
    PQfinish(mon); /* a crash test kills it; a new one is opened for the checks */

    struct ledger_batcher *b = NULL;
    if (!o.direct && ledger_batcher_start(o.conninfo, o.batch_max, o.committers, 8, &b, &err) != FLE_OK) {
        fprintf(stderr, "ledger_post: cannot start the batcher: %s\n", err.message);
        return 1;
    }
    struct shared s = {.o = &o, .b = b, .fund_id = sa.fund_id, .user_id = sa.user_id, .acct = sa.acct};
    atomic_init(&s.issued, 0);
    atomic_init(&s.stop, false);
    struct writer *ws = calloc(o.writers, sizeof *ws);
    if (ws == NULL) {
        return 1;
    }
    double t0 = now_s();
    clock_gettime(CLOCK_MONOTONIC, &s.deadline);
    s.deadline.tv_sec += (time_t)o.seconds;
    s.deadline.tv_nsec += (long)((o.seconds - (double)(time_t)o.seconds) * 1e9);
    if (s.deadline.tv_nsec >= 1000000000L) {
        s.deadline.tv_sec++;
        s.deadline.tv_nsec -= 1000000000L;
    }
    unsigned started = 0;
    for (unsigned i = 0; i < o.writers; i++) {
        ws[i].s = &s;
        ws[i].index = i;
        if (pthread_create(&ws[i].thread, NULL, writer_main, &ws[i]) != 0) {
            fprintf(stderr, "ledger_post: cannot start writer %u\n", i);
            atomic_store(&s.stop, true);
            break;
        }
        started++;
    }
    for (unsigned i = 0; i < started; i++) {
        pthread_join(ws[i].thread, NULL);
    }
    double elapsed = now_s() - t0;
    ledger_batcher_stop(b); /* closes the committer's connection: its statistics are flushed */

    uint64_t acked = 0, failed = 0;
    int64_t id_sum = 0, amount_sum = 0;
    size_t lat_n = 0;
    for (unsigned i = 0; i < started; i++) {
        acked += ws[i].acked;
        failed += ws[i].failed;
        id_sum += ws[i].id_sum;
        amount_sum += ws[i].amount_sum;
        lat_n += ws[i].lat_n;
        if (ws[i].failed > 0 && (!o.crash_test || i == 0)) {
            fprintf(stderr, "ledger_post: writer %u: %" PRIu64 " refused, first: %s %s %s\n", i, ws[i].failed,
                    fl_err_code(ws[i].first_err.code), ws[i].first_err.field, ws[i].first_err.message);
        }
    }
    uint32_t *lat = malloc((lat_n ? lat_n : 1) * sizeof *lat);
    size_t at = 0;
    for (unsigned i = 0; i < started && lat; i++) {
        memcpy(lat + at, ws[i].lat_us, ws[i].lat_n * sizeof *lat);
        at += ws[i].lat_n;
    }
    double p50 = 0, p99 = 0, pmax = 0;
    if (lat && lat_n > 0) {
        qsort(lat, lat_n, sizeof *lat, cmp_u32);
        p50 = lat[(lat_n - 1) / 2] / 1000.0;
        p99 = lat[(size_t)((double)(lat_n - 1) * 0.99)] / 1000.0;
        pmax = lat[lat_n - 1] / 1000.0;
    }

    mon = connect_mon(&o);
    if (mon == NULL) {
        return 1;
    }
    /* Batch sizes: every entry carries the transaction that wrote it (created_xact). */
    int64_t xacts = 0, b_p50 = 0, b_p99 = 0, b_max = 0;
    snprintf(sql, sizeof sql, "SELECT count(DISTINCT created_xact) FROM journal_entry WHERE fund_id = %" PRId64,
             sa.fund_id);
    scalar_i64(mon, sql, &xacts);
    snprintf(sql, sizeof sql,
             "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY n), percentile_disc(0.99) WITHIN GROUP (ORDER BY "
             "n), max(n) FROM (SELECT count(*) n FROM journal_entry WHERE fund_id = %" PRId64
             " GROUP BY created_xact) s",
             sa.fund_id);
    PGresult *r = PQexec(mon, sql);
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        b_p50 = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        b_p99 = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
        b_max = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
    }
    PQclear(r);
    bool wal_ok = !o.crash_test && wal_read(mon, &w1);

    double pps = elapsed > 0 ? (double)acked / elapsed : 0;
    printf("ledger_post %s: %u writer(s), %u accounts%s, %s, %.1f s\n", o.label, o.writers, o.accounts,
           o.hot ? " (one hot account on every posting)" : "",
           o.direct ? "no batcher (a connection and a transaction per posting)" : "batcher", elapsed);
    printf("  server: fsync=%s synchronous_commit=%s full_page_writes=%s wal_sync_method=%s\n", fsync_set, sync_commit,
           fpw, wal_method);
    printf("  postings acknowledged %" PRIu64 ", refused %" PRIu64 ": %.0f postings/s\n", acked, failed, pps);
    printf("  latency ms: p50 %.2f  p99 %.2f  max %.2f\n", p50, p99, pmax);
    printf("  batches (transactions) %" PRId64 ": entries per batch avg %.1f, p50 %" PRId64 ", p99 %" PRId64
           ", max %" PRId64 "\n",
           xacts, xacts ? (double)acked / (double)xacts : 0.0, b_p50, b_p99, b_max);
    if (wal_ok && acked > 0) {
        printf("  WAL per posting: %.0f bytes, %.1f records; WAL syncs %" PRId64 " (%.2f per batch)\n",
               (double)(w1.bytes - w0.bytes) / (double)acked, (double)(w1.records - w0.records) / (double)acked,
               w1.syncs - w0.syncs, xacts ? (double)(w1.syncs - w0.syncs) / (double)xacts : 0.0);
        printf("  deadlocks detected %" PRId64 ", transactions rolled back %" PRId64 "\n", w1.deadlocks - w0.deadlocks,
               w1.rollbacks - w0.rollbacks);
    }

    /* What the database holds must be exactly what was acknowledged, and the books balance. */
    int bad = 0;
    int64_t v = -1, fund_entries = -1;
    bool q;
    q = missing_ids(mon, ws, started, &v);
    bad += check_eq("acknowledged ids missing from journal_entry", q, v, 0);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM journal_entry WHERE fund_id = %" PRId64, sa.fund_id);
    q = scalar_i64(mon, sql, &fund_entries);
    if (o.crash_test) {
        /* An entry may commit and lose its answer with the connection: present, not acknowledged. */
        bad += check_eq("entries of the fund >= acknowledged", q, fund_entries >= (int64_t)acked, 1);
        printf("  info  entries committed without an acknowledgement: %" PRId64 " (at most one batch)\n",
               fund_entries - (int64_t)acked);
    } else {
        bad += check_eq("entries of the fund = acknowledged", q, fund_entries, (int64_t)acked);
        int64_t after = -1;
        q = scalar_i64(mon, "SELECT count(*) FROM journal_entry", &after);
        bad += check_eq("SELECT count(*) FROM journal_entry grew by", q, after - entries_before, (int64_t)acked);
        snprintf(sql, sizeof sql, "SELECT coalesce(sum(id), 0) FROM journal_entry WHERE fund_id = %" PRId64,
                 sa.fund_id);
        q = scalar_i64(mon, sql, &v);
        bad += check_eq("sum of entry ids = sum of acknowledged ids", q, v, id_sum);
        snprintf(sql, sizeof sql,
                 "SELECT coalesce(sum(l.amount_minor), 0) FROM journal_line l JOIN journal_entry e ON e.id = "
                 "l.entry_id WHERE e.fund_id = %" PRId64 " AND l.amount_minor > 0",
                 sa.fund_id);
        q = scalar_i64(mon, sql, &v);
        bad += check_eq("sum of debits = acknowledged amounts", q, v, amount_sum);
    }
    snprintf(sql, sizeof sql, "SELECT coalesce(sum(b.balance_minor), 0) FROM account a JOIN account_balance b ON b.account_id = a.id "
             "WHERE a.fund_id = %" PRId64,
             sa.fund_id);
    q = scalar_i64(mon, sql, &v);
    bad += check_eq("trial balance: sum of balance_minor", q, v, 0);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM account a JOIN account_balance b ON b.account_id = a.id WHERE a.fund_id = %" PRId64
             " AND b.balance_minor <> "
             "(SELECT coalesce(sum(amount_minor), 0) FROM journal_line l WHERE l.account_id = a.id)",
             sa.fund_id);
    q = scalar_i64(mon, sql, &v);
    bad += check_eq("accounts whose balance != sum of their lines", q, v, 0);
    PQfinish(mon);

    printf("RESULT label=%s writers=%u accounts=%u hot=%d batch_max=%u seconds=%.2f acked=%" PRIu64 " refused=%" PRIu64
           " pps=%.0f p50_ms=%.2f p99_ms=%.2f batches=%" PRId64 " avg_batch=%.1f unacked_committed=%" PRId64
           " deadlocks=%" PRId64 " checks=%s\n",
           o.label, o.writers, o.accounts, o.hot ? 1 : 0, o.batch_max, elapsed, acked, failed, pps, p50, p99, xacts,
           xacts ? (double)acked / (double)xacts : 0.0, fund_entries - (int64_t)acked,
           wal_ok ? w1.deadlocks - w0.deadlocks : -1, bad ? "FAIL" : "ok");

    for (unsigned i = 0; i < o.writers; i++) {
        free(ws[i].lat_us);
        free(ws[i].ids);
    }
    free(ws);
    free(lat);
    free(sa.acct);
    return bad ? 1 : 0;
}
