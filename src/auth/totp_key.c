/* totp_key: TOTP secrets sealed at rest with AES-256-GCM (OpenSSL EVP), under a 32-byte key kept
 * in a file outside the database (totp_key_file; docs/console.md, Passwords and the second factor). */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fundledger/log.h"
#include "fundledger/session.h"

/* The process's key: read (or made) on first use from the configured path. */
static pthread_mutex_t key_lock = PTHREAD_MUTEX_INITIALIZER;
static char key_path[TOTP_KEY_PATH_BYTES] = TOTP_KEY_PATH_DEFAULT;
static uint8_t key_bytes[TOTP_KEY_BYTES];
static bool key_loaded;

void totp_key_path_from_config(const struct config *cfg, char out[TOTP_KEY_PATH_BYTES])
{
    assert(cfg != NULL && out != NULL);
    if (cfg->totp_key_file[0] != '\0') {
        snprintf(out, TOTP_KEY_PATH_BYTES, "%s", cfg->totp_key_file);
    } else {
        snprintf(out, TOTP_KEY_PATH_BYTES, "%s/totp.key", cfg->data_dir);
    }
}

void totp_key_configure(const char *path)
{
    assert(path != NULL && path[0] != '\0');
    pthread_mutex_lock(&key_lock);
    if (strcmp(path, key_path) != 0) {
        snprintf(key_path, sizeof key_path, "%s", path);
        OPENSSL_cleanse(key_bytes, sizeof key_bytes);
        key_loaded = false;
    }
    pthread_mutex_unlock(&key_lock);
}

/* Makes a new random key at path, atomically: a 0600 temporary file beside it, then link(2),
 * which refuses to replace a file (of two processes making it, one wins and both read that). */
static bool make_key(const char *path)
{
    char dir[TOTP_KEY_PATH_BYTES], tmp[TOTP_KEY_PATH_BYTES + 16];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash != NULL && slash != dir) {
        *slash = '\0';
        (void)mkdir(dir, 0700); /* the open below reports what goes wrong */
    }
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= sizeof tmp) {
        return false;
    }
    uint8_t k[TOTP_KEY_BYTES];
    if (RAND_bytes(k, sizeof k) != 1) {
        return false;
    }
    int fd = mkstemp(tmp); /* mode 0600 */
    if (fd < 0) {
        OPENSSL_cleanse(k, sizeof k);
        return false;
    }
    bool ok = write(fd, k, sizeof k) == (ssize_t)sizeof k && fsync(fd) == 0;
    OPENSSL_cleanse(k, sizeof k);
    ok = close(fd) == 0 && ok;
    if (ok && link(tmp, path) != 0 && errno != EEXIST) {
        ok = false;
    }
    (void)unlink(tmp);
    return ok;
}

/* Reads the key under key_lock; makes it first when the file does not exist. */
static enum fl_err load_locked(struct fl_error *err)
{
    if (key_loaded) {
        return FLE_OK;
    }
    int fd = open(key_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT) {
        if (!make_key(key_path)) {
            return fl_error_set(err, FLE_INTERNAL, NULL, "TOTP key %s cannot be made: %s", key_path, strerror(errno));
        }
        log_info("totp: made a new TOTP key %s (mode 0600): back it up; without it no TOTP secret opens", key_path);
        fd = open(key_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    }
    if (fd < 0) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "TOTP key %s: %s", key_path, strerror(errno));
    }
    struct stat st;
    uint8_t k[TOTP_KEY_BYTES + 1];
    ssize_t n = -1;
    bool plain = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077) == 0;
    if (plain) {
        n = read(fd, k, sizeof k);
    }
    (void)close(fd);
    if (!plain) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "TOTP key %s: not a regular file of mode 0600 (chmod 600 it)",
                            key_path);
    }
    if (n != TOTP_KEY_BYTES) {
        OPENSSL_cleanse(k, sizeof k);
        return fl_error_set(err, FLE_INTERNAL, NULL, "TOTP key %s: must hold exactly %d bytes", key_path,
                            TOTP_KEY_BYTES);
    }
    memcpy(key_bytes, k, TOTP_KEY_BYTES);
    OPENSSL_cleanse(k, sizeof k);
    key_loaded = true;
    return FLE_OK;
}

/* A copy of the key (to cleanse after use). */
static enum fl_err key_copy(uint8_t out[TOTP_KEY_BYTES], struct fl_error *err)
{
    pthread_mutex_lock(&key_lock);
    enum fl_err e = load_locked(err);
    if (e == FLE_OK) {
        memcpy(out, key_bytes, TOTP_KEY_BYTES);
    }
    pthread_mutex_unlock(&key_lock);
    return e;
}

enum fl_err totp_key_load(struct fl_error *err)
{
    uint8_t k[TOTP_KEY_BYTES];
    enum fl_err e = key_copy(k, err);
    OPENSSL_cleanse(k, sizeof k);
    return e;
}

/* The associated data: the secret belongs to this user and no other row. */
static int aad_of(int64_t user_id, char out[48])
{
    return snprintf(out, 48, "fundledger.totp.v1:%" PRId64, user_id);
}

enum fl_err totp_seal(int64_t user_id, const uint8_t *secret, size_t n, uint8_t *out, size_t *out_len,
                      struct fl_error *err)
{
    assert(secret != NULL && out != NULL && out_len != NULL);
    assert(n >= 16 && n <= TOTP_SECRET_BYTES_MAX);
    uint8_t k[TOTP_KEY_BYTES];
    if (key_copy(k, err) != FLE_OK) {
        return err->code;
    }
    char aad[48];
    int aad_n = aad_of(user_id, aad);
    uint8_t *nonce = out, *ct = out + TOTP_NONCE_BYTES, *tag = out + TOTP_NONCE_BYTES + n;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int len = 0, fin = 0;
    bool ok = c != NULL && RAND_bytes(nonce, TOTP_NONCE_BYTES) == 1 &&
              EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
              EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, TOTP_NONCE_BYTES, NULL) == 1 &&
              EVP_EncryptInit_ex(c, NULL, NULL, k, nonce) == 1 &&
              EVP_EncryptUpdate(c, NULL, &len, (const uint8_t *)aad, aad_n) == 1 &&
              EVP_EncryptUpdate(c, ct, &len, secret, (int)n) == 1 && len == (int)n &&
              EVP_EncryptFinal_ex(c, ct + len, &fin) == 1 && fin == 0 &&
              EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TOTP_TAG_BYTES, tag) == 1;
    EVP_CIPHER_CTX_free(c);
    OPENSSL_cleanse(k, sizeof k);
    if (!ok) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "the TOTP secret cannot be sealed (OpenSSL)");
    }
    *out_len = TOTP_NONCE_BYTES + n + TOTP_TAG_BYTES;
    return FLE_OK;
}

enum fl_err totp_open(int64_t user_id, const uint8_t *sealed, size_t n, uint8_t *out, size_t *out_len,
                      struct fl_error *err)
{
    assert(sealed != NULL && out != NULL && out_len != NULL);
    if (n < TOTP_NONCE_BYTES + 16 + TOTP_TAG_BYTES || n > TOTP_SEALED_BYTES_MAX) {
        return fl_error_set(err, FLE_INTERNAL, "totp", "a sealed TOTP secret of %zu bytes is not well formed", n);
    }
    uint8_t k[TOTP_KEY_BYTES];
    if (key_copy(k, err) != FLE_OK) {
        return err->code;
    }
    size_t ct_n = n - TOTP_NONCE_BYTES - TOTP_TAG_BYTES;
    char aad[48];
    int aad_n = aad_of(user_id, aad);
    uint8_t tag[TOTP_TAG_BYTES];
    memcpy(tag, sealed + TOTP_NONCE_BYTES + ct_n, TOTP_TAG_BYTES);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int len = 0, fin = 0;
    bool ok = c != NULL && EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
              EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, TOTP_NONCE_BYTES, NULL) == 1 &&
              EVP_DecryptInit_ex(c, NULL, NULL, k, sealed) == 1 &&
              EVP_DecryptUpdate(c, NULL, &len, (const uint8_t *)aad, aad_n) == 1 &&
              EVP_DecryptUpdate(c, out, &len, sealed + TOTP_NONCE_BYTES, (int)ct_n) == 1 &&
              EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TOTP_TAG_BYTES, tag) == 1 &&
              EVP_DecryptFinal_ex(c, out + len, &fin) == 1; /* 0: the tag does not match */
    EVP_CIPHER_CTX_free(c);
    OPENSSL_cleanse(k, sizeof k);
    if (!ok) {
        OPENSSL_cleanse(out, ct_n);
        return fl_error_set(err, FLE_INTERNAL, "totp",
                            "the TOTP secret of user %" PRId64 " does not open with the key of totp_key_file "
                            "(another key, or the secret was changed)",
                            user_id);
    }
    *out_len = ct_n;
    return FLE_OK;
}
