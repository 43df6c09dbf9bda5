/* httpc: one HTTP request through libcurl for the tests, with the answer parsed as JSON. */
#include "httpc.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A test reply is small; anything bigger than this is a server defect, not a body to keep. */
#define HTTPC_BODY_BYTES_MAX (16u * 1024u * 1024u)
/* No test request may hang the program. */
#define HTTPC_TIMEOUT_S 30L
#define HTTPC_URL_BYTES_MAX 4096
#define HTTPC_HEADER_BYTES_MAX 512

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static bool global_ok;

static void global_init(void)
{
    global_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

/* The body as it arrives; owned by the caller of curl_easy_perform. */
struct sink {
    char *buf;
    size_t len, cap;
    bool overflow;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    struct sink *s = arg;
    size_t n = size * nmemb;
    if (s->len + n + 1 > HTTPC_BODY_BYTES_MAX) {
        s->overflow = true;
        return 0; /* curl aborts the transfer */
    }
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + n + 1) {
            cap *= 2;
        }
        char *b = realloc(s->buf, cap);
        if (b == NULL) {
            return 0;
        }
        s->buf = b;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, n);
    s->len += n;
    s->buf[s->len] = '\0';
    return n;
}

/* The headers a test reads: the last value seen of each. */
struct kept_headers {
    char *replayed;    /* Idempotent-Replayed */
    char *retry_after; /* Retry-After */
};

/* Keeps the value of Idempotent-Replayed and Retry-After in the struct kept_headers at arg. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
    struct kept_headers *kept = arg;
    size_t n = size * nmemb;
    static const char name_replayed[] = "Idempotent-Replayed:";
    static const char name_retry[] = "Retry-After:";
    bool retry = n > sizeof name_retry - 1 && strncasecmp(data, name_retry, sizeof name_retry - 1) == 0;
    const char *name = retry ? name_retry : name_replayed;
    char **replayed = retry ? &kept->retry_after : &kept->replayed;
    size_t nl = strlen(name);
    if (n > nl && strncasecmp(data, name, nl) == 0) {
        const char *v = data + nl;
        size_t vl = n - nl;
        while (vl > 0 && (*v == ' ' || *v == '\t')) {
            v++;
            vl--;
        }
        while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' ' || v[vl - 1] == '\t')) {
            vl--;
        }
        char *copy = malloc(vl + 1);
        if (copy == NULL) {
            return 0;
        }
        memcpy(copy, v, vl);
        copy[vl] = '\0';
        free(*replayed);
        *replayed = copy;
    }
    return n;
}

void httpc_resp_free(struct httpc_resp *r)
{
    if (r == NULL) {
        return;
    }
    json_decref(r->json);
    free(r->body);
    free(r->replayed_header);
    free(r->retry_after_header);
    memset(r, 0, sizeof *r);
}

bool httpc_request_raw(const char *base_url, const char *method, const char *path, const char *const *headers,
                       const char *body, size_t body_len, struct httpc_resp *out)
{
    memset(out, 0, sizeof *out);
    pthread_once(&global_once, global_init);
    if (!global_ok || base_url == NULL || method == NULL || path == NULL) {
        return false;
    }
    char url[HTTPC_URL_BYTES_MAX];
    int un = snprintf(url, sizeof url, "%s%s", base_url, path);
    if (un < 0 || (size_t)un >= sizeof url) {
        fprintf(stderr, "httpc: URL too long\n");
        return false;
    }
    CURL *c = curl_easy_init();
    if (c == NULL) {
        return false;
    }
    struct curl_slist *list = NULL;
    bool ok = true;
    for (size_t i = 0; headers != NULL && headers[i] != NULL && ok; i++) {
        struct curl_slist *l = curl_slist_append(list, headers[i]);
        ok = l != NULL;
        list = l ? l : list;
    }
    struct sink sink = {0};
    struct kept_headers kept = {0};
    bool writes = strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0;
    ok = ok && curl_easy_setopt(c, CURLOPT_URL, url) == CURLE_OK &&
         curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
         curl_easy_setopt(c, CURLOPT_TIMEOUT, HTTPC_TIMEOUT_S) == CURLE_OK &&
         curl_easy_setopt(c, CURLOPT_PROXY, "") == CURLE_OK &&
         curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK &&
         curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink) == CURLE_OK &&
         curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header) == CURLE_OK &&
         curl_easy_setopt(c, CURLOPT_HEADERDATA, &kept) == CURLE_OK &&
         curl_easy_setopt(c, CURLOPT_HTTPHEADER, list) == CURLE_OK;
    if (ok && strcmp(method, "GET") == 0 && body == NULL) {
        ok = curl_easy_setopt(c, CURLOPT_HTTPGET, 1L) == CURLE_OK;
    } else if (ok && strcmp(method, "HEAD") == 0) {
        ok = curl_easy_setopt(c, CURLOPT_NOBODY, 1L) == CURLE_OK;
    } else if (ok && (body != NULL || writes)) {
        /* POSTFIELDS makes curl send the body (Content-Length: 0 for none); the custom method
         * then replaces POST in the request line. */
        ok = curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? body_len : 0)) == CURLE_OK &&
             curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "") == CURLE_OK &&
             curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method) == CURLE_OK;
    } else if (ok) {
        ok = curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method) == CURLE_OK;
    }
    CURLcode rc = ok ? curl_easy_perform(c) : CURLE_FAILED_INIT;
    long status = 0;
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    } else {
        fprintf(stderr, "httpc: %s %s: %s\n", method, path, curl_easy_strerror(rc));
    }
    curl_easy_cleanup(c);
    curl_slist_free_all(list);
    if (rc != CURLE_OK || status == 0) {
        free(sink.buf);
        free(kept.replayed);
        free(kept.retry_after);
        return false;
    }
    out->status = status;
    out->body = sink.buf ? sink.buf : strdup("");
    out->replayed_header = kept.replayed;
    out->retry_after_header = kept.retry_after;
    if (out->body != NULL && sink.len > 0) {
        json_error_t je;
        out->json = json_loadb(out->body, sink.len, 0, &je);
    }
    return out->body != NULL;
}

bool httpc_request(const char *base_url, const char *method, const char *path, const char *token,
                   const char *idempotency_key, const char *content_type, const char *body, struct httpc_resp *out)
{
    char authz[HTTPC_HEADER_BYTES_MAX], idem[HTTPC_HEADER_BYTES_MAX], ctype[HTTPC_HEADER_BYTES_MAX];
    const char *headers[6];
    size_t n = 0;
    memset(out, 0, sizeof *out);
    if (token != NULL) {
        int k = snprintf(authz, sizeof authz, "Authorization: Bearer %s", token);
        if (k < 0 || (size_t)k >= sizeof authz) {
            return false;
        }
        headers[n++] = authz;
    }
    if (idempotency_key != NULL) {
        int k = snprintf(idem, sizeof idem, "Idempotency-Key: %s", idempotency_key);
        if (k < 0 || (size_t)k >= sizeof idem) {
            return false;
        }
        headers[n++] = idem;
    }
    if (body != NULL) {
        int k = snprintf(ctype, sizeof ctype, "Content-Type: %s", content_type ? content_type : "application/json");
        if (k < 0 || (size_t)k >= sizeof ctype) {
            return false;
        }
        headers[n++] = ctype;
    } else {
        headers[n++] = "Content-Type:"; /* no form type on an empty POST */
    }
    headers[n++] = "Expect:"; /* no 100-continue round trip on big bodies */
    headers[n] = NULL;
    return httpc_request_raw(base_url, method, path, headers, body, body ? strlen(body) : 0, out);
}
