// Calls to the admin API and the console's session endpoints. The session cookie goes by
// itself (same origin); every change carries the CSRF token from the gp_csrf cookie.
function csrf() {
  const m = document.cookie.match(/(?:^|;\s*)gp_csrf=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : '';
}

export class APIError extends Error {
  constructor(status, code, message, field) { super(message); this.status = status; this.code = code; this.field = field; }
}

export async function call(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET') headers['X-CSRF-Token'] = csrf();
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  if (!resp.ok) {
    let e = {};
    try { e = (await resp.json()).error || {}; } catch { /* not JSON */ }
    throw new APIError(resp.status, e.code || String(resp.status), e.message || resp.statusText, e.field);
  }
  const type = resp.headers.get('Content-Type') || '';
  if (type.startsWith('application/json')) return resp.json();
  return resp;
}

export const get = (p) => call('GET', p);
export const post = (p, b) => call('POST', p, b);
export const put = (p, b) => call('PUT', p, b);
export const del = (p) => call('DELETE', p);
