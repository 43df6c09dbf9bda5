/* hash: SHA-256 (OpenSSL EVP), random bytes (RAND_bytes) and hex. */
#include "fundledger/hash.h"

#include <assert.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

struct hash_ctx {
    EVP_MD_CTX *md;
};

struct hash_ctx *hash_begin(void)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (md == NULL) {
        return NULL;
    }
    if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(md);
        return NULL;
    }
    struct hash_ctx *c = OPENSSL_malloc(sizeof *c);
    if (c == NULL) {
        EVP_MD_CTX_free(md);
        return NULL;
    }
    c->md = md;
    return c;
}

bool hash_update(struct hash_ctx *c, const void *data, size_t n)
{
    assert(c != NULL);
    assert(data != NULL || n == 0);
    return n == 0 || EVP_DigestUpdate(c->md, data, n) == 1;
}

bool hash_end(struct hash_ctx *c, uint8_t out[HASH_BYTES])
{
    assert(c != NULL);
    unsigned len = 0;
    bool ok = EVP_DigestFinal_ex(c->md, out, &len) == 1 && len == HASH_BYTES;
    EVP_MD_CTX_free(c->md);
    OPENSSL_free(c);
    return ok;
}

bool hash_sha256(const void *data, size_t n, uint8_t out[HASH_BYTES])
{
    assert(data != NULL || n == 0);
    unsigned len = 0;
    return EVP_Digest(data, n, out, &len, EVP_sha256(), NULL) == 1 && len == HASH_BYTES;
}

bool hash_random(uint8_t *buf, size_t n)
{
    assert(buf != NULL);
    assert(n <= 1024);
    return RAND_bytes(buf, (int)n) == 1;
}

void hash_hex(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    assert(in != NULL && out != NULL);
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

bool hash_unhex(const char *hex, uint8_t *out, size_t n)
{
    assert(hex != NULL && out != NULL);
    if (strlen(hex) != 2 * n) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(hex[2 * i]);
        int lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return false;
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}
