/* batcher: group commit. Writers queue entries; one committer posts what queued in one
 * durable transaction, so N writers share one WAL flush instead of paying one each. */
#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fundledger/ledger.h"
#include "fundledger/log.h"

struct pending {
    const struct ledger_entry *entry;
    int64_t id;
    enum fl_err rc;
    struct fl_error err;
    bool done;
    struct pending *next;
};

/* How long the committer may wait for the writers it just answered to queue again, so that
 * they share the next commit instead of splitting into two groups that take turns. */
#define BATCHER_GATHER_NS 200000L

struct ledger_batcher {
    pthread_mutex_t mu;
    unsigned queued;      /* entries waiting in the queue */
    unsigned last_batch;  /* size of the previous batch: about how many writers are active */
    pthread_cond_t work;  /* signalled when something is queued or stop is asked */
    pthread_cond_t done;  /* broadcast when a batch is answered */
    struct pending *head, *tail;
    bool stopping;
    pthread_t thread;
    struct db *db;
    unsigned batch_max;
    /* The committer's working arrays, batch_max long. */
    struct pending **batch;
    const struct ledger_entry **entries;
    int64_t *ids;
};

struct post_args {
    const struct ledger_entry *const *entries;
    unsigned n;
    int64_t *ids;
};

static enum fl_err post_tx(struct db *db, void *arg, struct fl_error *err)
{
    struct post_args *a = arg;
    return ledger_post(db, a->entries, a->n, a->ids, err);
}

/* Commits batch[0..n) together; if the database refuses the batch, each entry alone. */
static void commit(struct ledger_batcher *b, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        b->entries[i] = b->batch[i]->entry;
    }
    struct fl_error err;
    fl_error_clear(&err);
    struct post_args a = {b->entries, n, b->ids};
    enum fl_err rc = db_tx(b->db, post_tx, &a, &err);
    if (rc == FLE_OK || n == 1) {
        for (unsigned i = 0; i < n; i++) {
            b->batch[i]->rc = rc;
            b->batch[i]->id = rc == FLE_OK ? b->ids[i] : 0;
            b->batch[i]->err = err;
        }
        return;
    }
    log_debug("batcher: batch of %u refused (%s); posting one by one", n, fl_err_code(rc));
    for (unsigned i = 0; i < n; i++) {
        struct fl_error one;
        fl_error_clear(&one);
        struct post_args s = {&b->entries[i], 1, &b->batch[i]->id};
        b->batch[i]->rc = db_tx(b->db, post_tx, &s, &one);
        b->batch[i]->err = one;
        if (b->batch[i]->rc != FLE_OK) {
            b->batch[i]->id = 0;
        }
    }
}

static void *committer(void *arg)
{
    struct ledger_batcher *b = arg;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        while (b->head == NULL && !b->stopping) {
            pthread_cond_wait(&b->work, &b->mu);
        }
        if (b->head == NULL && b->stopping) {
            break;
        }
        /* Gather, bounded: wait until as many writers are queued as last time, or 200 us. */
        unsigned target = b->last_batch < b->batch_max ? b->last_batch : b->batch_max;
        if (b->queued < target && !b->stopping) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += BATCHER_GATHER_NS;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            while (b->queued < target && !b->stopping) {
                if (pthread_cond_timedwait(&b->work, &b->mu, &until) != 0) {
                    break; /* timed out: commit what is there */
                }
            }
        }
        unsigned n = 0;
        while (b->head != NULL && n < b->batch_max) {
            b->batch[n++] = b->head;
            b->head = b->head->next;
        }
        if (b->head == NULL) {
            b->tail = NULL;
        }
        b->queued -= n;
        b->last_batch = n;
        pthread_mutex_unlock(&b->mu);
        commit(b, n);
        pthread_mutex_lock(&b->mu);
        for (unsigned i = 0; i < n; i++) {
            b->batch[i]->done = true;
        }
        pthread_cond_broadcast(&b->done);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

enum fl_err ledger_batcher_start(const char *conninfo, unsigned batch_max, unsigned tx_retries_max,
                                 struct ledger_batcher **out, struct fl_error *err)
{
    assert(conninfo != NULL && out != NULL);
    assert(batch_max >= 1 && batch_max <= LEDGER_BATCH_ENTRIES_MAX);
    *out = NULL;
    struct ledger_batcher *b = calloc(1, sizeof *b);
    if (b == NULL) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
    }
    b->batch_max = batch_max;
    b->batch = calloc(batch_max, sizeof *b->batch);
    b->entries = calloc(batch_max, sizeof *b->entries);
    b->ids = calloc(batch_max, sizeof *b->ids);
    enum fl_err e = FLE_OK;
    if (b->batch == NULL || b->entries == NULL || b->ids == NULL) {
        e = fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
    } else {
        e = db_open(conninfo, true, tx_retries_max, &b->db, err);
    }
    if (e == FLE_OK) {
        pthread_mutex_init(&b->mu, NULL);
        pthread_cond_init(&b->work, NULL);
        pthread_cond_init(&b->done, NULL);
        if (pthread_create(&b->thread, NULL, committer, b) != 0) {
            pthread_mutex_destroy(&b->mu);
            pthread_cond_destroy(&b->work);
            pthread_cond_destroy(&b->done);
            e = fl_error_set(err, FLE_INTERNAL, NULL, "cannot start the committer thread");
        }
    }
    if (e != FLE_OK) {
        db_close(b->db);
        free(b->batch);
        free(b->entries);
        free(b->ids);
        free(b);
        return e;
    }
    *out = b;
    return FLE_OK;
}

enum fl_err ledger_batcher_post(struct ledger_batcher *b, const struct ledger_entry *e, int64_t *id,
                                struct fl_error *err)
{
    assert(b != NULL && e != NULL);
    struct pending p = {.entry = e, .rc = FLE_INTERNAL};
    pthread_mutex_lock(&b->mu);
    if (b->stopping) {
        pthread_mutex_unlock(&b->mu);
        return fl_error_set(err, FLE_DB_UNAVAILABLE, NULL, "the ledger is shutting down");
    }
    if (b->tail) {
        b->tail->next = &p;
    } else {
        b->head = &p;
    }
    b->tail = &p;
    b->queued++;
    pthread_cond_signal(&b->work);
    while (!p.done) {
        pthread_cond_wait(&b->done, &b->mu);
    }
    pthread_mutex_unlock(&b->mu);
    if (p.rc != FLE_OK) {
        if (err) {
            *err = p.err;
        }
        return p.rc;
    }
    if (id) {
        *id = p.id;
    }
    return FLE_OK;
}

void ledger_batcher_stop(struct ledger_batcher *b)
{
    if (b == NULL) {
        return;
    }
    pthread_mutex_lock(&b->mu);
    b->stopping = true;
    pthread_cond_signal(&b->work);
    pthread_mutex_unlock(&b->mu);
    pthread_join(b->thread, NULL);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->work);
    pthread_cond_destroy(&b->done);
    db_close(b->db);
    free(b->batch);
    free(b->entries);
    free(b->ids);
    free(b);
}
