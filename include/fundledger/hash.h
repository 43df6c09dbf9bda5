/* hash: SHA-256 and secure random bytes from OpenSSL, and hex encoding. */
#ifndef FUNDLEDGER_HASH_H
#define FUNDLEDGER_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HASH_BYTES 32
#define HASH_HEX_BYTES (2 * HASH_BYTES + 1)

/* Incremental SHA-256. The context is opaque and heap-allocated by hash_begin (NULL on
 * allocation failure); hash_end writes the digest and frees the context in all cases. */
struct hash_ctx;
struct hash_ctx *hash_begin(void);
bool hash_update(struct hash_ctx *c, const void *data, size_t n);
bool hash_end(struct hash_ctx *c, uint8_t out[HASH_BYTES]);

/* One-shot SHA-256 of a buffer. false only if OpenSSL fails. */
bool hash_sha256(const void *data, size_t n, uint8_t out[HASH_BYTES]);

/* Fills buf with n cryptographically secure random bytes (RAND_bytes). false on failure. */
bool hash_random(uint8_t *buf, size_t n);

/* Lower-case hex of n bytes into out (2n+1 bytes). */
void hash_hex(const uint8_t *in, size_t n, char *out);

/* Parses exactly 2n hex digits into out; false on any other input. */
bool hash_unhex(const char *hex, uint8_t *out, size_t n);

#endif
