/* batcher: group commit. Writers queue entries; committer threads, each with its own
 * connection, post what has queued in one durable transaction (one statement), so N writers
 * share one WAL flush instead of paying one each. One committer is the default: with writers
 * that each wait for their answer, a second one halves every batch and pays the statement's
 * fixed cost twice (measured slower on two CPUs, tests/bench/README.md); it stays an option. */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
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
    /* The writer waits on its own semaphore, not on the batcher's lock: answering a batch wakes
     * each writer once, and no woken writer then queues on a lock the committer holds. The
     * answer (id, rc, err) is written before sem_post and read after sem_wait. */
    sem_t answered;
    struct pending *next;
};

/* How long a committer may wait for the writers it just answered to queue again, so that they
 * share its next commit instead of splitting into groups that take turns. */
#define BATCHER_GATHER_NS 200000L

struct committer {
    struct ledger_batcher *b;
    pthread_t thread;
    bool started;
    struct db *db;
    unsigned last_batch; /* size of its previous batch: about how many writers it serves */
    /* Working arrays, batch_max long. */
    struct pending **batch;
    const struct ledger_entry **entries;
    int64_t *ids;
};

struct ledger_batcher {
    pthread_mutex_t mu;
    pthread_cond_t work; /* signalled when something is queued or stop is asked */
    struct pending *head, *tail;
    unsigned queued; /* entries waiting in the queue */
    unsigned want;   /* a gathering committer wants a signal when this many are queued (0: at once) */
    bool stopping;
    unsigned batch_max;
    unsigned n_committers;
    struct committer c[LEDGER_BATCHER_COMMITTERS_MAX];
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

/* Commits batch[0..n) together: one statement, its own transaction. If the database refuses
 * it, each entry is posted alone through ledger_post, which names the field at fault, so one bad
 * entry never sinks the others. A lost connection is answered as it is: whether the batch
 * committed is unknown, and posting it again could post it twice. */
static void commit(struct committer *b, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        b->entries[i] = b->batch[i]->entry;
    }
    struct fl_error err;
    fl_error_clear(&err);
    enum fl_err rc = ledger_post_commit(b->db, b->entries, n, b->ids, &err);
    if (rc == FLE_OK || rc == FLE_DB_UNAVAILABLE || rc == FLE_INTERNAL) {
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
    struct committer *c = arg;
    struct ledger_batcher *b = c->b;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        while (b->head == NULL && !b->stopping) {
            pthread_cond_wait(&b->work, &b->mu);
        }
        if (b->head == NULL && b->stopping) {
            break;
        }
        /* Gather, bounded: wait until as many writers are queued as it served last time, or 200 us. */
        unsigned target = c->last_batch < b->batch_max ? c->last_batch : b->batch_max;
        if (b->queued < target && !b->stopping) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += BATCHER_GATHER_NS;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            b->want = target;
            while (b->queued < target && !b->stopping) {
                if (pthread_cond_timedwait(&b->work, &b->mu, &until) != 0) {
                    break; /* timed out: commit what is there */
                }
            }
            b->want = 0;
            if (b->head == NULL) {
                continue; /* another committer took them */
            }
        }
        unsigned n = 0;
        while (b->head != NULL && n < b->batch_max) {
            c->batch[n++] = b->head;
            b->head = b->head->next;
        }
        if (b->head == NULL) {
            b->tail = NULL;
        } else {
            pthread_cond_signal(&b->work); /* more queued than one batch: wake another committer */
        }
        b->queued -= n;
        c->last_batch = n;
        pthread_mutex_unlock(&b->mu);
        commit(c, n);
        for (unsigned i = 0; i < n; i++) {
            sem_post(&c->batch[i]->answered); /* c->batch[i] is the writer's: not touched after */
        }
        pthread_mutex_lock(&b->mu);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

static void committer_free(struct committer *c)
{
    db_close(c->db);
    free(c->batch);
    free(c->entries);
    free(c->ids);
}

/* Stops and joins the committers started so far, then frees everything. */
static void batcher_free(struct ledger_batcher *b)
{
    pthread_mutex_lock(&b->mu);
    b->stopping = true;
    pthread_cond_broadcast(&b->work);
    pthread_mutex_unlock(&b->mu);
    for (unsigned i = 0; i < b->n_committers; i++) {
        if (b->c[i].started) {
            pthread_join(b->c[i].thread, NULL);
        }
        committer_free(&b->c[i]);
    }
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->work);
    free(b);
}

enum fl_err ledger_batcher_start(const char *conninfo, unsigned batch_max, unsigned committers,
                                 unsigned tx_retries_max, struct ledger_batcher **out, struct fl_error *err)
{
    assert(conninfo != NULL && out != NULL);
    assert(batch_max >= 1 && batch_max <= LEDGER_BATCH_ENTRIES_MAX);
    assert(committers >= 1 && committers <= LEDGER_BATCHER_COMMITTERS_MAX);
    *out = NULL;
    struct ledger_batcher *b = calloc(1, sizeof *b);
    if (b == NULL) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
    }
    b->batch_max = batch_max;
    if (pthread_mutex_init(&b->mu, NULL) != 0 || pthread_cond_init(&b->work, NULL) != 0) {
        free(b); /* neither needs destroying on this platform's failure path */
        return fl_error_set(err, FLE_INTERNAL, NULL, "cannot create the batcher's lock");
    }
    enum fl_err e = FLE_OK;
    for (unsigned i = 0; i < committers && e == FLE_OK; i++) {
        struct committer *c = &b->c[i];
        b->n_committers = i + 1;
        c->b = b;
        c->batch = calloc(batch_max, sizeof *c->batch);
        c->entries = calloc(batch_max, sizeof *c->entries);
        c->ids = calloc(batch_max, sizeof *c->ids);
        if (c->batch == NULL || c->entries == NULL || c->ids == NULL) {
            e = fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
        } else if ((e = db_open(conninfo, true, tx_retries_max, &c->db, err)) == FLE_OK) {
            if (pthread_create(&c->thread, NULL, committer, c) == 0) {
                c->started = true;
            } else {
                e = fl_error_set(err, FLE_INTERNAL, NULL, "cannot start a committer thread");
            }
        }
    }
    if (e != FLE_OK) {
        batcher_free(b);
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
    if (sem_init(&p.answered, 0, 0) != 0) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "cannot wait for the ledger");
    }
    pthread_mutex_lock(&b->mu);
    bool stopping = b->stopping;
    if (!stopping) {
        if (b->tail) {
            b->tail->next = &p;
        } else {
            b->head = &p;
        }
        b->tail = &p;
        b->queued++;
        /* Wake a committer when one waits for work, or when as many as it gathers for are queued. */
        if (b->want == 0 || b->queued >= b->want) {
            pthread_cond_signal(&b->work);
        }
    }
    pthread_mutex_unlock(&b->mu);
    if (!stopping) {
        while (sem_wait(&p.answered) != 0) {
            assert(errno == EINTR); /* a signal handler ran: wait on */
        }
    }
    sem_destroy(&p.answered);
    if (stopping) {
        return fl_error_set(err, FLE_DB_UNAVAILABLE, NULL, "the ledger is shutting down");
    }
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
    if (b != NULL) {
        batcher_free(b); /* committers drain the queue before they see stopping with nothing left */
    }
}
