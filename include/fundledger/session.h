/* session: sign-in for people: Argon2id passwords, TOTP second factor (RFC 6238), browser
 * sessions bound to a server-side row, CSRF tokens, and login rate limits (docs/console.md). */
#ifndef FUNDLEDGER_SESSION_H
#define FUNDLEDGER_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "fundledger/auth.h"
#include "fundledger/config.h"
#include "fundledger/db.h"
#include "fundledger/error.h"

/* The cookie value: "fs_" and 64 hex digits (256 random bits). Only its SHA-256 is stored. */
#define SESSION_COOKIE_NAME "fl_session"
#define SESSION_TOKEN_BYTES (3 + 64 + 1)
/* The CSRF token: 64 hex digits, derived from the cookie value. */
#define SESSION_CSRF_BYTES (64 + 1)
/* An Argon2id encoded hash ("$argon2id$v=19$m=...,t=...,p=...$salt$hash") fits in this. */
#define PASSWORD_HASH_BYTES 256
/* Passwords: 12 to 256 bytes (NIST SP 800-63B: at least 8; we ask 12, no composition rules). */
#define PASSWORD_BYTES_MIN 12
#define PASSWORD_BYTES_MAX 256
/* TOTP: 20-byte secrets (HMAC-SHA1, as authenticator apps expect), 6 digits, 30 s steps,
 * one step of clock drift either way. */
#define TOTP_SECRET_BYTES 20
#define TOTP_DIGITS 6
#define TOTP_STEP_S 30
#define TOTP_WINDOW_STEPS 1
/* otpauth://totp/fundledger:NAME?secret=BASE32&issuer=fundledger&... */
#define TOTP_URI_BYTES 256
/* A client address as text (IPv6 at most 45 characters). */
#define SESSION_ADDRESS_BYTES 64

/* Argon2id cost from the config (password_argon2_*). */
struct password_params {
    unsigned t_cost;
    unsigned m_cost_kib;
    unsigned parallelism;
};
void password_params_from_config(const struct config *cfg, struct password_params *out);

/* Hashes password with Argon2id and a fresh 16-byte random salt into out (the encoded form).
 * FLE_BAD_FIELD "password" when shorter than PASSWORD_BYTES_MIN or longer than
 * PASSWORD_BYTES_MAX; FLE_INTERNAL when libargon2 fails. */
enum fl_err password_hash(const struct password_params *pp, const char *password, char out[PASSWORD_HASH_BYTES],
                          struct fl_error *err);
/* true when password matches the encoded Argon2id hash (constant time inside libargon2). */
bool password_verify(const char *encoded, const char *password);

/* The TOTP code (RFC 6238) of secret at time now with digits digits; sha is 1, 256 or 512
 * (the HMAC). false when liboath fails. */
bool totp_code(const uint8_t *secret, size_t secret_len, time_t now, unsigned digits, unsigned sha,
               char out[9]);
/* Checks a 6-digit HMAC-SHA1 code at now within TOTP_WINDOW_STEPS steps: true with the
 * matching step number (unix time / 30) in *step. */
bool totp_check(const uint8_t *secret, size_t secret_len, time_t now, const char *code, int64_t *step);
/* otpauth://totp/ URI of a secret for a user (for authenticator apps). false if it does not fit. */
bool totp_uri(const char *user, const uint8_t *secret, size_t secret_len, char out[TOTP_URI_BYTES]);

/* TOTP secrets at rest: AES-256-GCM (OpenSSL EVP) under a 32-byte key in a file outside the
 * database (totp_key_file; empty: data_dir/totp.key). Stored: nonce (12 random bytes per secret)
 * || ciphertext || tag (16 bytes); the associated data is "fundledger.totp.v1:<user id>", so a
 * sealed secret copied to another user's row does not open. */
#define TOTP_KEY_BYTES 32
#define TOTP_NONCE_BYTES 12
#define TOTP_TAG_BYTES 16
#define TOTP_SECRET_BYTES_MAX 64
#define TOTP_SEALED_BYTES_MAX (TOTP_NONCE_BYTES + TOTP_SECRET_BYTES_MAX + TOTP_TAG_BYTES)
#define TOTP_KEY_PATH_BYTES 1024
/* The key's path until totp_key_configure names another: data_dir's default, "var". */
#define TOTP_KEY_PATH_DEFAULT "var/totp.key"
/* The key file the configuration names (totp_key_file, or data_dir/totp.key). */
void totp_key_path_from_config(const struct config *cfg, char out[TOTP_KEY_PATH_BYTES]);
/* Uses the key at path from now on in this process (read, or made with RAND_bytes and mode 0600
 * when the file is missing, on first use). Naming another path forgets the key read before. */
void totp_key_configure(const char *path);
/* Reads (or makes) the configured key now: FLE_INTERNAL naming the file when it cannot be made,
 * is readable by group or others, or does not hold exactly TOTP_KEY_BYTES bytes. */
enum fl_err totp_key_load(struct fl_error *err);
/* Seals secret (16..TOTP_SECRET_BYTES_MAX bytes) of user_id into out (TOTP_SEALED_BYTES_MAX);
 * *out_len = n + 28. FLE_INTERNAL when the key cannot be read or OpenSSL fails. */
enum fl_err totp_seal(int64_t user_id, const uint8_t *secret, size_t n, uint8_t *out, size_t *out_len,
                      struct fl_error *err);
/* Opens a sealed secret of user_id into out (TOTP_SECRET_BYTES_MAX). Fails closed: FLE_INTERNAL
 * (field "totp") when the tag does not match (another key, another user's row, a changed byte). */
enum fl_err totp_open(int64_t user_id, const uint8_t *sealed, size_t n, uint8_t *out, size_t *out_len,
                      struct fl_error *err);
/* Seals every TOTP secret still stored clear (written before migration 0021), in one transaction;
 * *sealed gets how many. The server runs it at start (fundledger serve). */
enum fl_err session_totp_seal_clear(struct db *db, unsigned *sealed, struct fl_error *err);

/* What the session functions take from the config. */
struct session_params {
    struct password_params password;
    unsigned ttl_s;            /* session_ttl_s: a session ends this long after sign-in */
    unsigned idle_s;           /* session_idle_s: ... or after this long unused */
    unsigned fail_window_s;    /* login_fail_window_s */
    unsigned fail_max_account; /* login_fail_max_account: failures per account in the window */
    unsigned fail_max_address; /* login_fail_max_address: failures per address in the window */
};
void session_params_from_config(const struct config *cfg, struct session_params *out);

/* Does the role need a second factor? Approvers and admins do. */
bool session_role_needs_totp(enum role role);

/* Signs a person in: checks the rate limits (FLE_RATE_LIMITED, nothing else checked), the
 * password and, for roles that need it, the TOTP code (a code is accepted once). Every attempt
 * is recorded (login_attempt) and audited (session.login or session.login_failed) in its own
 * transaction, so a failure is recorded too. On success a new session is made (a new random
 * cookie; the session named by old_cookie, if any, is ended as 'replaced': no fixation) and its
 * cookie written to cookie, the user to *who. Failures answer FLE_UNAUTHENTICATED with one
 * message for unknown user and wrong password; field "totp" when the code is missing or wrong.
 * totp and old_cookie may be NULL. */
enum fl_err session_login(struct db *db, const struct session_params *sp, const char *name, const char *password,
                          const char *totp, const char *address, const char *old_cookie,
                          char cookie[SESSION_TOKEN_BYTES], struct principal *who, int64_t *session_id,
                          struct fl_error *err);

/* Resolves a cookie value to its user if the session is live (not ended, not expired, used
 * within idle_s, user not disabled), and marks it used now. FLE_UNAUTHENTICATED otherwise. */
enum fl_err session_authenticate(struct db *db, const struct session_params *sp, const char *cookie,
                                 struct principal *who, int64_t *session_id, struct fl_error *err);

/* The CSRF token of a session: hex SHA-256 of a fixed label and the cookie value. */
bool session_csrf(const char *cookie, char out[SESSION_CSRF_BYTES]);
/* Constant-time comparison of a presented CSRF token with the session's. */
bool session_csrf_ok(const char *cookie, const char *presented);

/* Ends a session (logout), audited. FLE_NOT_FOUND if it already ended. */
enum fl_err session_logout(struct db *db, const struct principal *who, int64_t session_id, struct fl_error *err);
/* Ends every live session of a user (an admin's revocation), audited; *ended = how many. */
enum fl_err session_revoke_user(struct db *db, const struct principal *actor, int64_t user_id, int64_t *ended,
                                struct fl_error *err);

/* Sets a user's password (ends the user's live sessions), audited with actor NULL (the CLI). */
enum fl_err session_password_set(struct db *db, const struct password_params *pp, int64_t user_id,
                                 const char *password, struct fl_error *err);
/* The same inside the caller's transaction (the demo). */
enum fl_err session_password_put(struct db *db, const struct password_params *pp, int64_t user_id,
                                 const char *password, struct fl_error *err);
/* Makes a new TOTP secret for a user who has a password and writes its otpauth URI (shown once). */
enum fl_err session_totp_enroll(struct db *db, int64_t user_id, const char *user_name, char uri[TOTP_URI_BYTES],
                                uint8_t secret_out[TOTP_SECRET_BYTES], struct fl_error *err);

#endif
