/* password: Argon2id password hashes (libargon2) with the cost from the config. */
#include <argon2.h>
#include <assert.h>
#include <string.h>

#include "fundledger/hash.h"
#include "fundledger/session.h"

#define SALT_BYTES 16
#define HASH_LEN 32

void password_params_from_config(const struct config *cfg, struct password_params *out)
{
    out->t_cost = cfg->password_argon2_t_cost;
    out->m_cost_kib = cfg->password_argon2_m_cost_kib;
    out->parallelism = cfg->password_argon2_parallelism;
}

enum fl_err password_hash(const struct password_params *pp, const char *password, char out[PASSWORD_HASH_BYTES],
                          struct fl_error *err)
{
    assert(pp != NULL && out != NULL);
    size_t len = password ? strlen(password) : 0;
    if (len < PASSWORD_BYTES_MIN || len > PASSWORD_BYTES_MAX) {
        return fl_error_set(err, FLE_BAD_FIELD, "password", "a password has %d to %d characters", PASSWORD_BYTES_MIN,
                            PASSWORD_BYTES_MAX);
    }
    uint8_t salt[SALT_BYTES];
    if (!hash_random(salt, sizeof salt)) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "no random bytes");
    }
    size_t need = argon2_encodedlen(pp->t_cost, pp->m_cost_kib, pp->parallelism, SALT_BYTES, HASH_LEN, Argon2_id);
    if (need > PASSWORD_HASH_BYTES) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "the encoded hash does not fit");
    }
    int rc = argon2id_hash_encoded(pp->t_cost, pp->m_cost_kib, pp->parallelism, password, len, salt, SALT_BYTES,
                                   HASH_LEN, out, PASSWORD_HASH_BYTES);
    if (rc != ARGON2_OK) {
        return fl_error_set(err, FLE_INTERNAL, NULL, "argon2: %s", argon2_error_message(rc));
    }
    return FLE_OK;
}

bool password_verify(const char *encoded, const char *password)
{
    if (encoded == NULL || password == NULL || strncmp(encoded, "$argon2id$", 10) != 0) {
        return false;
    }
    size_t len = strlen(password);
    if (len > PASSWORD_BYTES_MAX) {
        return false;
    }
    return argon2id_verify(encoded, password, len) == ARGON2_OK;
}
