// Talking to mobile-api: JSON calls, the server's clock, and what a failure means to
// the resident. The server's error messages are English and for developers; the app
// shows its own words for the error's code (errorText), in the reader's language.
import { t, has } from './i18n.js';

export class APIError extends Error {
  constructor(status, body, retryAfter) {
    super(body?.error?.code || `HTTP ${status}`);
    this.status = status;
    this.code = body?.error?.code || '';
    this.field = body?.error?.field || '';
    this.retryAfter = retryAfter; // seconds, on a 429
  }
}

// The phone's clock against the server's (the Date header, to the second): the offline
// pass counts 30-second steps on the server's time, as the gate does.
let offset = Number(localStorage.getItem('gp.clock')) || 0;
export const serverNow = () => Date.now() + offset;

function noteClock(res, sent) {
  const date = Date.parse(res.headers.get('Date'));
  if (!date) return;
  // Date is truncated to the second: its middle is half a second later.
  offset = Math.round(date + 500 - (sent + Date.now()) / 2);
  localStorage.setItem('gp.clock', String(offset));
}

// signedOut is called when the server says the session has ended (signed out on another
// phone, expired, moved out): the app goes back to its welcome screen.
let signedOut = () => {};
export function onSignedOut(fn) { signedOut = fn; }

// A server that does not answer is treated like no network after this long.
const timeoutMs = 10000;

// api fetches an API path and turns an error answer into an APIError.
export async function api(method, path, body) {
  const init = { method, credentials: 'same-origin', cache: 'no-store', headers: {}, signal: AbortSignal.timeout(timeoutMs) };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const sent = Date.now();
  const res = await fetch(path, init);
  noteClock(res, sent);
  const json = res.headers.get('Content-Type')?.startsWith('application/json');
  const data = json ? await res.json() : null;
  if (!res.ok) {
    const err = new APIError(res.status, data, Number(res.headers.get('Retry-After')) || 0);
    if (err.code === 'unauthorized') signedOut();
    throw err;
  }
  return data;
}

// offline reports whether a failure means "no network" (or no answer) rather than a
// refusal by the server.
export const offline = (err) => err instanceof TypeError || err?.name === 'TimeoutError' || err?.name === 'NetworkError';

// WebAuthn failures, by the DOMException name the browser gives. A cancelled prompt, a
// prompt that timed out and one the browser did not allow are all NotAllowedError.
const webauthnErrors = {
  NotAllowedError: 'err.passkeyCancelled',
  AbortError: 'err.passkeyCancelled',
  InvalidStateError: 'err.passkeyExists',
  SecurityError: 'err.passkeySecurity',
  NotSupportedError: 'err.noWebAuthn',
  NotReadableError: 'err.passkeyFailed',
  UnknownError: 'err.passkeyFailed',
  ConstraintError: 'err.passkeyFailed',
};

// errorText is what the resident reads for a failure: always the app's own words.
export function errorText(err) {
  if (err instanceof APIError) {
    if (err.code === 'invalid_field' && has('field.' + err.field)) return t('field.' + err.field);
    if (err.code === 'rate_limited' && err.retryAfter) return t('err.rate_limited_s', { s: err.retryAfter });
    if (has('err.' + err.code)) return t('err.' + err.code);
    return t(err.status >= 500 ? 'err.server' : 'err.unknown');
  }
  if (offline(err)) return t('err.network');
  if (webauthnErrors[err?.name]) return t(webauthnErrors[err.name]);
  return t('err.unknown');
}
