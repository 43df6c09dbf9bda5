// api: every call the console makes to the JSON API. The session cookie travels by itself
// (HttpOnly, SameSite=Strict); writes carry the session's CSRF token and a fresh Idempotency-Key.
let csrfToken = null;

export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || 'http_' + status;
    this.field = e.field || '';
  }
}

export function setCsrf(token) {
  csrfToken = token;
}

// contentType: send body as that type, as it is (a CSV text); otherwise body is sent as JSON.
export async function call(method, path, body, { idempotent = false, contentType = null } = {}) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  if (idempotent) headers['Idempotency-Key'] = crypto.randomUUID();
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = contentType || 'application/json';
    init.body = contentType ? body : JSON.stringify(body);
  }
  const resp = await fetch(path, init);
  let data = null;
  try {
    data = await resp.json();
  } catch (_) {
    data = null;
  }
  if (!resp.ok) throw new ApiError(resp.status, data);
  return data;
}
