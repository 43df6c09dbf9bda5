/* static: the web console's files under /app/, compiled into the binary by the Makefile
 * (src/web/embed.py): index.html is never cached; every other file is under
 * /app/assets/<content hash>/ and cached for a year. Every answer carries a strict
 * Content-Security-Policy (no inline script or style) and the other browser hardening headers. */
#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "fundledger/http.h"

/* The generated table ($(BUILD)/gen/web_assets.c). */
struct web_asset {
    const char *path; /* "/app/" or "/app/assets/<hash>/<file>" */
    const char *content_type;
    const unsigned char *data;
    size_t len;
};
extern const struct web_asset web_assets[];
extern const unsigned web_assets_count;

#define CSP                                                                                                     \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "             \
    "font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

bool http_static_path(const char *url)
{
    return strncmp(url, "/app", 4) == 0 && (url[4] == '\0' || url[4] == '/');
}

static int answer(struct MHD_Connection *conn, unsigned status, const char *type, const void *data, size_t len,
                  bool persistent, const char *cache, const char *location)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)data, persistent ? MHD_RESPMEM_PERSISTENT : MHD_RESPMEM_MUST_COPY);
    if (resp == NULL) {
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, "Cache-Control", cache);
    MHD_add_response_header(resp, "Content-Security-Policy", CSP);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
    if (location != NULL) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, location);
    }
    if (status == 405) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    }
    int rc = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

int http_static_serve(struct MHD_Connection *conn, const char *method, const char *url)
{
    static const char not_found[] = "{\"error\":{\"code\":\"not_found\",\"message\":\"no such file\",\"field\":\"\"}}";
    static const char bad_method[] =
        "{\"error\":{\"code\":\"method_not_allowed\",\"message\":\"the console's files take GET\",\"field\":\"\"}}";
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        return answer(conn, 405, "application/json", bad_method, sizeof bad_method - 1, true, "no-store", NULL);
    }
    if (strcmp(url, "/app") == 0) {
        return answer(conn, 308, "text/plain", "", 0, true, "no-store", "/app/");
    }
    for (unsigned i = 0; i < web_assets_count; i++) {
        if (strcmp(url, web_assets[i].path) == 0) {
            bool index = strcmp(url, "/app/") == 0;
            return answer(conn, 200, web_assets[i].content_type, web_assets[i].data, web_assets[i].len, true,
                          index ? "no-store" : "public, max-age=31536000, immutable", NULL);
        }
    }
    return answer(conn, 404, "application/json", not_found, sizeof not_found - 1, true, "no-store", NULL);
}
