/* anchor: Ed25519 signatures over the hash chain's head, with a key the database never holds,
 * and the append-only anchor log file outside the database (docs/architecture.md, Tamper evidence). */
#ifndef FUNDLEDGER_ANCHOR_H
#define FUNDLEDGER_ANCHOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fundledger/config.h"
#include "fundledger/error.h"
#include "fundledger/hash.h"

#define ANCHOR_KEY_ID_HEX_BYTES 17 /* 16 hex digits (the first 8 bytes of SHA-256(public key)) + NUL */
#define ANCHOR_SIG_BYTES 64        /* an Ed25519 signature */
#define ANCHOR_SIG_HEX_BYTES (2 * ANCHOR_SIG_BYTES + 1)
#define ANCHOR_PATH_BYTES 1024
/* The signed message: fixed lines, numbers and hex only; well under this. */
#define ANCHOR_MESSAGE_BYTES 256
/* Longest line accepted in the anchor log (a line is about 330 bytes). */
#define ANCHOR_LINE_BYTES_MAX 1024

/* One anchored head: after sealing, the chain holds seal_pos entries; the last is entry_id with
 * chain hash `hash`; `count` entries were sealed since the previous anchor (so the previous one is
 * at seal_pos - count, 0 for the first). `chain` is the hash at seal position 1: it names the
 * ledger, so that the log of one database is never read as another's. key_id names the key,
 * sig signs anchor_message(). */
struct anchor_head {
    uint8_t chain[HASH_BYTES];
    int64_t seal_pos;
    int64_t entry_id;
    int64_t count;
    uint8_t hash[HASH_BYTES];
    char key_id[ANCHOR_KEY_ID_HEX_BYTES];
    uint8_t sig[ANCHOR_SIG_BYTES];
};

/* Where the key, its public half and the log live: the config keys anchor_key_file,
 * anchor_public_key_file and anchor_log_file, or when empty data_dir/anchor.key,
 * <key file>.pub and data_dir/anchor-<database>.log (one log per database: the log of one
 * ledger must never hold another's heads; database is the libpq database name). */
struct anchor_paths {
    char key[ANCHOR_PATH_BYTES];
    char public_key[ANCHOR_PATH_BYTES];
    char log[ANCHOR_PATH_BYTES];
};
void anchor_paths_from_config(const struct config *c, const char *database, struct anchor_paths *out);

/* The exact bytes signed for h (its key_id included, its sig not), NUL-terminated in out (at
 * least ANCHOR_MESSAGE_BYTES); returns their length. Example:
 * "fundledger.anchor.v1\nchain=<64 hex>\nseal_pos=3\nentry_id=7\ncount=3\nhash=<64 hex>\nkey_id=<16 hex>\n". */
size_t anchor_message(const struct anchor_head *h, char *out);

/* A private key to sign with and the log to append to. Opened by anchor_signer_open, freed by
 * anchor_signer_close. Signing is thread-safe. */
struct anchor_signer;

/* Loads the Ed25519 private key from p->key, creating it first (mode 0600, refusing to follow an
 * existing file) when the file does not exist, and writes the public key to p->public_key when that
 * file does not exist. The log file is opened on each append. Errors: FLE_INTERNAL naming the file
 * (unreadable, not an Ed25519 key, cannot create). */
enum fl_err anchor_signer_open(const struct anchor_paths *p, struct anchor_signer **out, struct fl_error *err);
void anchor_signer_close(struct anchor_signer *s);

/* Sets h->key_id and h->sig from the other fields. false only if OpenSSL fails. */
bool anchor_sign(const struct anchor_signer *s, struct anchor_head *h);

/* Appends h as one JSON line to the anchor log (O_APPEND, created 0600, one write, fsync).
 * Errors: FLE_INTERNAL naming the file. */
enum fl_err anchor_log_append(const struct anchor_signer *s, const struct anchor_head *h, struct fl_error *err);

/* A public key to check anchors with (an auditor needs nothing else). */
struct anchor_verifier;

/* Loads the public key from p->public_key, or when that file is absent derives it from p->key.
 * Never creates a key. Errors: FLE_NOT_FOUND when neither file exists, FLE_INTERNAL otherwise. */
enum fl_err anchor_verifier_open(const struct anchor_paths *p, struct anchor_verifier **out, struct fl_error *err);
void anchor_verifier_close(struct anchor_verifier *v);
/* The key id of the verifier's key (16 hex digits, static for the verifier's life). */
const char *anchor_verifier_key_id(const struct anchor_verifier *v);

/* true when h names the verifier's key and its signature is valid for its fields. */
bool anchor_check(const struct anchor_verifier *v, const struct anchor_head *h);

/* One line of the anchor log (without its newline) to a head. false when the line is not a
 * well-formed anchor (the signature is not checked here). */
bool anchor_line_parse(const char *line, size_t len, struct anchor_head *h);

#endif
