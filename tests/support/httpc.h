/* httpc: a tiny libcurl client for the HTTP tests: one request, its status, body, JSON and replay header. */
#ifndef FUNDLEDGER_TEST_HTTPC_H
#define FUNDLEDGER_TEST_HTTPC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* One answer. All members are owned by the struct (free with httpc_resp_free).
 * status: the HTTP status, 0 when the exchange failed (connection refused, reset, timeout);
 * body: the body as received, NUL-terminated ("" when empty; NULL only when status is 0);
 * json: the body parsed by Jansson, NULL when it is not JSON;
 * replayed_header: the value of the Idempotent-Replayed header, NULL when absent;
 * retry_after_header: the value of the Retry-After header, NULL when absent. */
struct httpc_resp {
    long status;
    json_t *json;
    char *body;
    char *replayed_header;
    char *retry_after_header;
};

/* Sends method path (path includes the query) to base_url ("http://127.0.0.1:PORT") with
 * Authorization: Bearer token (when token is non-NULL), Idempotency-Key (when non-NULL) and
 * body (when non-NULL; "" sends an empty body) with Content-Type content_type, or
 * application/json when content_type is NULL. A POST or PUT without a body sends
 * Content-Length: 0 and no Content-Type. Safe to call from several threads at once.
 * Returns true when an HTTP answer arrived; false with out->status 0 otherwise. *out is always
 * filled (free it with httpc_resp_free either way). */
bool httpc_request(const char *base_url, const char *method, const char *path, const char *token,
                   const char *idempotency_key, const char *content_type, const char *body, struct httpc_resp *out);

/* The same with full control of the request headers: headers is a NULL-terminated array of
 * "Name: value" lines (NULL for none) sent as they are; "Name:" removes a header curl would add.
 * body_len bytes of body are sent when body is non-NULL (so a body may hold any bytes). */
bool httpc_request_raw(const char *base_url, const char *method, const char *path, const char *const *headers,
                       const char *body, size_t body_len, struct httpc_resp *out);

/* Frees every member and zeroes *r. NULL is allowed. */
void httpc_resp_free(struct httpc_resp *r);

#endif
