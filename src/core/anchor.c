/* anchor: Ed25519 keys (OpenSSL EVP), signed chain heads and the append-only anchor log. */
#include "fundledger/anchor.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct anchor_signer {
    EVP_PKEY *key;
    char key_id[ANCHOR_KEY_ID_HEX_BYTES];
    char log[ANCHOR_PATH_BYTES];
};

struct anchor_verifier {
    EVP_PKEY *key;
    char key_id[ANCHOR_KEY_ID_HEX_BYTES];
};

void anchor_paths_from_config(const struct config *c, const char *database, struct anchor_paths *out)
{
    assert(c != NULL && database != NULL && out != NULL);
    memset(out, 0, sizeof *out);
    if (c->anchor_key_file[0]) {
        snprintf(out->key, sizeof out->key, "%s", c->anchor_key_file);
    } else {
        snprintf(out->key, sizeof out->key, "%s/anchor.key", c->data_dir);
    }
    if (c->anchor_public_key_file[0]) {
        snprintf(out->public_key, sizeof out->public_key, "%s", c->anchor_public_key_file);
    } else {
        snprintf(out->public_key, sizeof out->public_key, "%.*s.pub", (int)sizeof out->key - 5, out->key);
    }
    if (c->anchor_log_file[0]) {
        snprintf(out->log, sizeof out->log, "%s", c->anchor_log_file);
    } else {
        /* The name as a file name: anything but [A-Za-z0-9_-] becomes '_'. */
        char name[128];
        size_t n = 0;
        for (; database[n] != '\0' && n + 1 < sizeof name; n++) {
            char ch = database[n];
            bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                         ch == '_' || ch == '-';
            name[n] = plain ? ch : '_';
        }
        name[n] = '\0';
        snprintf(out->log, sizeof out->log, "%s/anchor-%s.log", c->data_dir, name);
    }
}

size_t anchor_message(const struct anchor_head *h, char *out)
{
    assert(h != NULL && out != NULL);
    char hex[HASH_HEX_BYTES], chain[HASH_HEX_BYTES];
    hash_hex(h->hash, HASH_BYTES, hex);
    hash_hex(h->chain, HASH_BYTES, chain);
    int n = snprintf(out, ANCHOR_MESSAGE_BYTES,
                     "fundledger.anchor.v1\nchain=%s\nseal_pos=%" PRId64 "\nentry_id=%" PRId64 "\ncount=%" PRId64
                     "\nhash=%s\nkey_id=%s\n",
                     chain, h->seal_pos, h->entry_id, h->count, hex, h->key_id);
    assert(n > 0 && n < ANCHOR_MESSAGE_BYTES);
    return (size_t)n;
}

/* The first 8 bytes of SHA-256 of the raw 32-byte public key, in hex. */
static bool key_id_of(EVP_PKEY *key, char out[ANCHOR_KEY_ID_HEX_BYTES])
{
    uint8_t raw[32], h[HASH_BYTES];
    size_t len = sizeof raw;
    if (EVP_PKEY_get_raw_public_key(key, raw, &len) != 1 || len != sizeof raw || !hash_sha256(raw, len, h)) {
        return false;
    }
    hash_hex(h, 8, out);
    return true;
}

static bool is_ed25519(EVP_PKEY *key)
{
    return key != NULL && EVP_PKEY_get_id(key) == EVP_PKEY_ED25519;
}

/* Makes the directory that holds path (one level, mode 0700) when it does not exist yet. */
static void make_parent(const char *path)
{
    char dir[ANCHOR_PATH_BYTES];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL || slash == dir) {
        return;
    }
    *slash = '\0';
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        return; /* the write that follows reports the error */
    }
}

/* Writes a PEM file atomically: a temporary file beside path, then link(2), which refuses to
 * replace an existing file (so of two processes creating the key, one wins and both use it).
 * *exists is set when path was there already. */
static bool write_pem(const char *path, EVP_PKEY *key, bool private_key, bool *exists)
{
    make_parent(path);
    char tmp[ANCHOR_PATH_BYTES + 16];
    *exists = false;
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= sizeof tmp) {
        return false;
    }
    int fd = mkstemp(tmp); /* mode 0600 */
    if (fd < 0) {
        return false;
    }
    if (!private_key && fchmod(fd, 0644) != 0) {
        (void)close(fd);
        (void)unlink(tmp);
        return false;
    }
    FILE *f = fdopen(fd, "w");
    if (f == NULL) {
        (void)close(fd);
        (void)unlink(tmp);
        return false;
    }
    bool ok = private_key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) == 1
                          : PEM_write_PUBKEY(f, key) == 1;
    ok = fflush(f) == 0 && ok && fsync(fileno(f)) == 0;
    ok = fclose(f) == 0 && ok;
    if (ok && link(tmp, path) != 0) {
        *exists = errno == EEXIST;
        ok = false;
    }
    (void)unlink(tmp);
    return ok;
}

/* Reads a PEM key; a private key file readable by group or others is refused. */
static EVP_PKEY *read_pem(const char *path, bool private_key, struct fl_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        fl_error_set(err, errno == ENOENT ? FLE_NOT_FOUND : FLE_INTERNAL, NULL, "anchor key %s: %s", path,
                     strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (private_key && (st.st_mode & 077) != 0)) {
        (void)close(fd);
        fl_error_set(err, FLE_INTERNAL, NULL, "anchor key %s: not a regular file%s", path,
                     private_key ? " of mode 0600 (chmod 600 it)" : "");
        return NULL;
    }
    FILE *f = fdopen(fd, "r");
    if (f == NULL) {
        (void)close(fd);
        fl_error_set(err, FLE_INTERNAL, NULL, "anchor key %s: %s", path, strerror(errno));
        return NULL;
    }
    EVP_PKEY *key = private_key ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : PEM_read_PUBKEY(f, NULL, NULL, NULL);
    (void)fclose(f);
    if (!is_ed25519(key)) {
        EVP_PKEY_free(key);
        fl_error_set(err, FLE_INTERNAL, NULL, "anchor key %s: not an Ed25519 %s key in PEM", path,
                     private_key ? "private" : "public");
        return NULL;
    }
    return key;
}

enum fl_err anchor_signer_open(const struct anchor_paths *p, struct anchor_signer **out, struct fl_error *err)
{
    assert(p != NULL && out != NULL);
    *out = NULL;
    EVP_PKEY *key = read_pem(p->key, true, err);
    if (key == NULL && err->code == FLE_NOT_FOUND) {
        /* First use: make the key. */
        EVP_PKEY *fresh = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        bool exists = false;
        if (fresh == NULL) {
            return fl_error_set(err, FLE_INTERNAL, NULL, "cannot generate an Ed25519 key");
        }
        make_parent(p->key);
        if (!write_pem(p->key, fresh, true, &exists) && !exists) {
            EVP_PKEY_free(fresh);
            return fl_error_set(err, FLE_INTERNAL, NULL, "anchor key %s: cannot create it: %s", p->key,
                                strerror(errno));
        }
        EVP_PKEY_free(fresh);
        fl_error_clear(err);
        key = read_pem(p->key, true, err);
    }
    if (key == NULL) {
        return err->code;
    }
    /* The public half for auditors, next to it unless configured elsewhere. */
    if (access(p->public_key, F_OK) != 0) {
        bool exists = false;
        if (!write_pem(p->public_key, key, false, &exists) && !exists) {
            EVP_PKEY_free(key);
            return fl_error_set(err, FLE_INTERNAL, NULL, "anchor public key %s: cannot write it: %s", p->public_key,
                                strerror(errno));
        }
    }
    struct anchor_signer *s = calloc(1, sizeof *s);
    if (s == NULL || !key_id_of(key, s->key_id)) {
        free(s);
        EVP_PKEY_free(key);
        return fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
    }
    s->key = key;
    snprintf(s->log, sizeof s->log, "%s", p->log);
    *out = s;
    return FLE_OK;
}

void anchor_signer_close(struct anchor_signer *s)
{
    if (s != NULL) {
        EVP_PKEY_free(s->key);
        free(s);
    }
}

bool anchor_sign(const struct anchor_signer *s, struct anchor_head *h)
{
    assert(s != NULL && h != NULL);
    assert(h->seal_pos >= 1 && h->count >= 1 && h->count <= h->seal_pos);
    snprintf(h->key_id, sizeof h->key_id, "%s", s->key_id);
    char msg[ANCHOR_MESSAGE_BYTES];
    size_t n = anchor_message(h, msg);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t len = ANCHOR_SIG_BYTES;
    bool ok = ctx != NULL && EVP_DigestSignInit(ctx, NULL, NULL, NULL, s->key) == 1 &&
              EVP_DigestSign(ctx, h->sig, &len, (const unsigned char *)msg, n) == 1 && len == ANCHOR_SIG_BYTES;
    EVP_MD_CTX_free(ctx);
    return ok;
}

enum fl_err anchor_log_append(const struct anchor_signer *s, const struct anchor_head *h, struct fl_error *err)
{
    assert(s != NULL && h != NULL);
    char chain[HASH_HEX_BYTES], hash[HASH_HEX_BYTES], sig[ANCHOR_SIG_HEX_BYTES], at[32];
    hash_hex(h->chain, HASH_BYTES, chain);
    hash_hex(h->hash, HASH_BYTES, hash);
    hash_hex(h->sig, ANCHOR_SIG_BYTES, sig);
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm) == NULL || strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        at[0] = '\0';
    }
    json_t *o = json_pack("{s:i, s:s, s:I, s:I, s:I, s:s, s:s, s:s, s:s}", "v", 1, "chain", chain, "seal_pos",
                          (json_int_t)h->seal_pos,
                          "entry_id", (json_int_t)h->entry_id, "count", (json_int_t)h->count, "hash", hash, "key_id",
                          h->key_id, "signature", sig, "logged_at", at);
    char *line = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (line == NULL) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
    }
    size_t n = strlen(line);
    assert(n + 1 < ANCHOR_LINE_BYTES_MAX);
    line[n] = '\n'; /* json_dumps leaves room: the NUL becomes the newline, written with the line */
    make_parent(s->log);
    int fd = open(s->log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    bool ok = fd >= 0;
    int saved = errno;
    if (ok) {
        /* One write of one short line: O_APPEND places it whole at the end, even with a second writer. */
        ssize_t w = write(fd, line, n + 1);
        saved = errno;
        ok = w == (ssize_t)(n + 1) && fsync(fd) == 0;
        if (!ok && w >= 0) {
            saved = errno ? errno : EIO;
        }
        ok = close(fd) == 0 && ok;
    }
    free(line);
    if (!ok) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "anchor log %s: cannot append: %s", s->log, strerror(saved));
    }
    return FLE_OK;
}

enum fl_err anchor_verifier_open(const struct anchor_paths *p, struct anchor_verifier **out, struct fl_error *err)
{
    assert(p != NULL && out != NULL);
    *out = NULL;
    EVP_PKEY *key = read_pem(p->public_key, false, err);
    if (key == NULL && err->code == FLE_NOT_FOUND) {
        fl_error_clear(err);
        key = read_pem(p->key, true, err);
        if (key == NULL && err->code == FLE_NOT_FOUND) {
            return fl_error_set(err, FLE_NOT_FOUND, NULL, "no anchor key: neither %s nor %s exists", p->public_key,
                                p->key);
        }
    }
    if (key == NULL) {
        return err->code;
    }
    struct anchor_verifier *v = calloc(1, sizeof *v);
    if (v == NULL || !key_id_of(key, v->key_id)) {
        free(v);
        EVP_PKEY_free(key);
        return fl_error_set(err, FLE_INTERNAL, NULL, "out of memory");
    }
    v->key = key;
    *out = v;
    return FLE_OK;
}

void anchor_verifier_close(struct anchor_verifier *v)
{
    if (v != NULL) {
        EVP_PKEY_free(v->key);
        free(v);
    }
}

const char *anchor_verifier_key_id(const struct anchor_verifier *v)
{
    assert(v != NULL);
    return v->key_id;
}

bool anchor_check(const struct anchor_verifier *v, const struct anchor_head *h)
{
    assert(v != NULL && h != NULL);
    if (strcmp(h->key_id, v->key_id) != 0 || h->seal_pos < 1 || h->count < 1 || h->count > h->seal_pos) {
        return false;
    }
    char msg[ANCHOR_MESSAGE_BYTES];
    size_t n = anchor_message(h, msg);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, v->key) == 1 &&
              EVP_DigestVerify(ctx, h->sig, ANCHOR_SIG_BYTES, (const unsigned char *)msg, n) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

static bool int_member(const json_t *o, const char *name, int64_t *out)
{
    const json_t *v = json_object_get(o, name);
    if (!json_is_integer(v)) {
        return false;
    }
    *out = json_integer_value(v);
    return true;
}

bool anchor_line_parse(const char *line, size_t len, struct anchor_head *h)
{
    assert(line != NULL && h != NULL);
    memset(h, 0, sizeof *h);
    json_error_t je;
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
    const char *chain = json_string_value(json_object_get(o, "chain"));
    const char *hash = json_string_value(json_object_get(o, "hash"));
    const char *key_id = json_string_value(json_object_get(o, "key_id"));
    const char *sig = json_string_value(json_object_get(o, "signature"));
    int64_t v = 0;
    bool ok = json_is_object(o) && int_member(o, "v", &v) && v == 1 && chain != NULL &&
              hash_unhex(chain, h->chain, HASH_BYTES) && int_member(o, "seal_pos", &h->seal_pos) &&
              int_member(o, "entry_id", &h->entry_id) && int_member(o, "count", &h->count) && hash != NULL &&
              hash_unhex(hash, h->hash, HASH_BYTES) && key_id != NULL &&
              strlen(key_id) == ANCHOR_KEY_ID_HEX_BYTES - 1 && sig != NULL &&
              hash_unhex(sig, h->sig, ANCHOR_SIG_BYTES);
    if (ok) {
        snprintf(h->key_id, sizeof h->key_id, "%s", key_id);
    }
    json_decref(o);
    return ok;
}
