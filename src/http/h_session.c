/* h_session: browser sign-in and sign-out, who is signed in, admin revocation, and the cookie +
 * CSRF authentication the dispatcher uses when a request has no bearer token (docs/console.md). */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "fundledger/http.h"
#include "fundledger/jsonv.h"
#include "fundledger/session.h"

static const char *cookie_of(struct http_req *r)
{
    return MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, SESSION_COOKIE_NAME);
}

bool http_session_cookie_present(struct http_req *r)
{
    return cookie_of(r) != NULL;
}

bool http_session_auth(struct http_req *r, struct http_reply *out)
{
    struct session_params sp;
    session_params_from_config(r->cfg, &sp);
    struct fl_error err;
    fl_error_clear(&err);
    const char *cookie = cookie_of(r);
    if (session_authenticate(r->db, &sp, cookie, &r->who, &r->session_id, &err) != FLE_OK) {
        http_reply_error(out, &err);
        return false;
    }
    r->session_cookie = cookie;
    if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
        const char *csrf = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-CSRF-Token");
        if (!session_csrf_ok(cookie, csrf)) {
            http_reply_fail(out, FLE_FORBIDDEN, "X-CSRF-Token",
                            "a write with a session cookie needs the session's X-CSRF-Token header (GET /v1/session)");
            return false;
        }
    }
    return true;
}

/* The client's address: the socket's peer, or the last X-Forwarded-For entry when the peer is
 * the configured trusted proxy. */
static void client_address(struct http_req *r, char out[SESSION_ADDRESS_BYTES])
{
    out[0] = '\0';
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci != NULL && ci->client_addr != NULL) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET) {
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out, SESSION_ADDRESS_BYTES);
        } else if (sa->sa_family == AF_INET6) {
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                      SESSION_ADDRESS_BYTES);
        }
    }
    if (r->cfg->http_trusted_proxy[0] != '\0' && strcmp(out, r->cfg->http_trusted_proxy) == 0) {
        const char *xff = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-Forwarded-For");
        if (xff != NULL) {
            const char *last = strrchr(xff, ',');
            last = last ? last + 1 : xff;
            last += strspn(last, " ");
            size_t n = strcspn(last, " ");
            if (n > 0 && n < SESSION_ADDRESS_BYTES) {
                snprintf(out, SESSION_ADDRESS_BYTES, "%.*s", (int)n, last);
            }
        }
    }
}

static bool cookie_secure(struct http_req *r)
{
    if (strcmp(r->cfg->session_cookie_secure, "always") == 0) {
        return true;
    }
    if (strcmp(r->cfg->session_cookie_secure, "never") == 0) {
        return false;
    }
    const char *proto = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-Forwarded-Proto");
    return proto != NULL && strcasecmp(proto, "https") == 0;
}

static void set_cookie(struct http_req *r, struct http_reply *out, const char *value, unsigned max_age_s)
{
    snprintf(out->set_cookie, sizeof out->set_cookie, "%s=%s; Path=/; Max-Age=%u; HttpOnly; SameSite=Strict%s",
             SESSION_COOKIE_NAME, value, max_age_s, cookie_secure(r) ? "; Secure" : "");
}

/* {"user": {...as GET /v1/me...}, "csrf_token": "..." | null, "via": "session" | "token"} */
static json_t *whoami(struct http_req *r, const struct principal *who, const char *cookie, struct fl_error *err)
{
    json_t *user = auth_principal_json(r->db, who, err);
    if (user == NULL) {
        return NULL;
    }
    char csrf[SESSION_CSRF_BYTES];
    bool has = cookie != NULL && session_csrf(cookie, csrf);
    json_object_set_new(user, "needs_totp", json_boolean(session_role_needs_totp(who->role)));
    return json_pack("{s:o, s:o, s:s}", "user", user, "csrf_token", has ? json_string(csrf) : json_null(), "via",
                     cookie ? "session" : "token");
}

void h_session_login(struct http_req *r, struct http_reply *out)
{
    static const struct jv_field spec[] = {{"name", JV_TEXT, true, USER_NAME_BYTES_MAX},
                                           {"password", JV_TEXT, true, PASSWORD_BYTES_MAX},
                                           {"totp", JV_TEXT, false, 16}};
    struct fl_error err;
    fl_error_clear(&err);
    if (jv_check(r->body, spec, 3, "", &err) != FLE_OK) {
        http_reply_error(out, &err);
        return;
    }
    struct session_params sp;
    session_params_from_config(r->cfg, &sp);
    char address[SESSION_ADDRESS_BYTES], cookie[SESSION_TOKEN_BYTES];
    client_address(r, address);
    struct principal who;
    int64_t session_id = 0;
    if (session_login(r->db, &sp, jv_str(r->body, "name"), jv_str(r->body, "password"), jv_str(r->body, "totp"),
                      address, cookie_of(r), cookie, &who, &session_id, &err) != FLE_OK) {
        http_reply_error(out, &err);
        return;
    }
    json_t *reply = whoami(r, &who, cookie, &err);
    if (reply == NULL) {
        http_reply_error(out, &err);
        return;
    }
    set_cookie(r, out, cookie, sp.ttl_s);
    http_reply_json(out, 200, reply);
}

void h_session_get(struct http_req *r, struct http_reply *out)
{
    struct fl_error err;
    fl_error_clear(&err);
    http_reply_result(out, 200, whoami(r, &r->who, r->session_cookie, &err), &err);
}

void h_session_logout(struct http_req *r, struct http_reply *out)
{
    struct fl_error err;
    fl_error_clear(&err);
    if (r->session_id == 0) {
        http_reply_fail(out, FLE_BAD_PARAM, "Authorization",
                        "a bearer token has no session to end; revoke the token instead");
        return;
    }
    if (session_logout(r->db, &r->who, r->session_id, &err) != FLE_OK) {
        http_reply_error(out, &err);
        return;
    }
    set_cookie(r, out, "", 0);
    http_reply_json(out, 200, json_pack("{s:b}", "signed_out", 1));
}

void h_sessions_revoke(struct http_req *r, struct http_reply *out)
{
    int64_t user_id = 0, ended = 0;
    if (!http_param_id(r, 0, &user_id, out)) {
        return;
    }
    struct fl_error err;
    fl_error_clear(&err);
    if (session_revoke_user(r->db, &r->who, user_id, &ended, &err) != FLE_OK) {
        http_reply_error(out, &err);
        return;
    }
    http_reply_json(out, 200, json_pack("{s:I, s:I}", "user_id", (json_int_t)user_id, "sessions_ended",
                                        (json_int_t)ended));
}
