/* totp: time-based one-time passwords (RFC 6238) through liboath, and otpauth:// URIs. */
#include <assert.h>
#include <liboath/oath.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fundledger/session.h"

static pthread_once_t oath_once = PTHREAD_ONCE_INIT;
static int oath_ready = OATH_OK - 1;

static void init_oath(void)
{
    oath_ready = oath_init();
}

static bool ready(void)
{
    pthread_once(&oath_once, init_oath);
    return oath_ready == OATH_OK;
}

bool totp_code(const uint8_t *secret, size_t secret_len, time_t now, unsigned digits, unsigned sha, char out[9])
{
    assert(secret != NULL && out != NULL);
    int flags = sha == 256 ? OATH_TOTP_HMAC_SHA256 : sha == 512 ? OATH_TOTP_HMAC_SHA512 : 0;
    if (!ready() || (sha != 1 && sha != 256 && sha != 512) || digits < 6 || digits > 8) {
        return false;
    }
    return oath_totp_generate2((const char *)secret, secret_len, now, TOTP_STEP_S, 0, digits, flags, out) == OATH_OK;
}

bool totp_check(const uint8_t *secret, size_t secret_len, time_t now, const char *code, int64_t *step)
{
    assert(secret != NULL && step != NULL);
    if (!ready() || code == NULL || strlen(code) != TOTP_DIGITS || strspn(code, "0123456789") != TOTP_DIGITS) {
        return false;
    }
    int pos = 0;
    int rc = oath_totp_validate2((const char *)secret, secret_len, now, TOTP_STEP_S, 0, TOTP_WINDOW_STEPS, &pos, code);
    if (rc < 0) {
        return false;
    }
    *step = (int64_t)(now / TOTP_STEP_S) + pos;
    return true;
}

bool totp_uri(const char *user, const uint8_t *secret, size_t secret_len, char out[TOTP_URI_BYTES])
{
    assert(user != NULL && secret != NULL);
    char *b32 = NULL;
    size_t b32_len = 0;
    if (!ready() || oath_base32_encode((const char *)secret, secret_len, &b32, &b32_len) != OATH_OK) {
        return false;
    }
    /* Authenticator apps expect the secret without '=' padding. User names are a-z0-9._- only. */
    while (b32_len > 0 && b32[b32_len - 1] == '=') {
        b32[--b32_len] = '\0';
    }
    int n = snprintf(out, TOTP_URI_BYTES,
                     "otpauth://totp/fundledger:%s?secret=%s&issuer=fundledger&algorithm=SHA1&digits=%d&period=%d", user,
                     b32, TOTP_DIGITS, TOTP_STEP_S);
    free(b32);
    return n > 0 && n < TOTP_URI_BYTES;
}
