// The pass on screen: a rotating code from the server while online, the offline pass
// (device.js) when the phone has no signal or the server does not answer.
//
// A Keeper holds the current code for the whole app, not for one screen: leaving the
// pass tab keeps a code that is still valid, and coming back shows it at once without a
// request. A screen asks the keeper on the app's one clock tick; the keeper fetches only
// when its code is due (refresh_after), never twice at once, and after a 429 not before
// Retry-After. A refusal never greys a code that is still valid.
import qrcode from './vendor/qrcode-generator/qrcode.mjs';
import { t, formatTime } from './i18n.js';
import { APIError, offline, errorText, serverNow } from './api.js';
import { el } from './ui.js';
import * as device from './device.js';

// qrImage draws text as a QR code (error correction M, alphanumeric, 4-module quiet
// zone, as docs/credential-format.md prescribes) into a PNG data URL.
export function qrImage(text, scale = 8) {
  const q = qrcode(0, 'M');
  q.addData(text, 'Alphanumeric');
  q.make();
  const n = q.getModuleCount(), quiet = 4, size = (n + 2 * quiet) * scale;
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = size;
  const g = canvas.getContext('2d');
  g.fillStyle = '#fff';
  g.fillRect(0, 0, size, size);
  g.fillStyle = '#000';
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) if (q.isDark(r, c)) g.fillRect((c + quiet) * scale, (r + quiet) * scale, scale, scale);
  }
  return canvas.toDataURL('image/png');
}

// Waits after a failure that is not a refusal with its own Retry-After.
const retryOffline = [3, 5, 10, 15];
const retryRefused = 30;

export class Keeper {
  constructor(url) {
    this.url = url;
    this.code = null; // {payload, expires, refreshAt} of the newest code
    this.inflight = null;
    this.retryAt = 0;
    this.failures = 0;
    this.problem = null; // the last failure, while it lasts
  }

  valid(now = Date.now()) { return !!this.code && now < this.code.expires; }

  // due reports whether a fetch should start now.
  due(now = Date.now()) {
    return !this.inflight && now >= this.retryAt && (!this.code || now >= this.code.refreshAt);
  }

  // forceSoon makes the next tick fetch (back online; a visitor entry was counted).
  forceSoon() {
    this.retryAt = 0;
    if (this.code) this.code.refreshAt = 0;
  }

  // fetch gets a new code, once at a time; it never throws.
  fetch() {
    if (this.inflight) return this.inflight;
    this.inflight = (async () => {
      try {
        const res = await fetch(this.url, { credentials: 'same-origin', cache: 'no-store', signal: AbortSignal.timeout(10000) });
        const body = await res.json().catch(() => null);
        if (!res.ok) throw new APIError(res.status, body, Number(res.headers.get('Retry-After')) || 0);
        this.code = { payload: body.payload, expires: Date.parse(body.expires_at), refreshAt: Date.parse(body.refresh_after) };
        this.problem = null;
        this.failures = 0;
        this.retryAt = 0;
      } catch (err) {
        this.problem = err;
        // A 429 says when to come back (Retry-After, in whole seconds: at least 1).
        const wait = err instanceof APIError
          ? (err.status === 429 ? Math.max(err.retryAfter, 1) : retryRefused)
          : retryOffline[Math.min(this.failures, retryOffline.length - 1)];
        this.failures++;
        this.retryAt = Date.now() + wait * 1000;
      } finally {
        this.inflight = null;
      }
    })();
    return this.inflight;
  }
}

// The resident's own pass, for the whole app.
export const residentKeeper = new Keeper('/api/v1/pass');

// The offline pass's state: this browser's device and its current presentation.
const offlinePass = { device: undefined, counter: -1, text: '', signing: null };

// loadDevice reads this browser's device once (after a change, call it again).
export async function loadDevice() {
  offlinePass.device = await device.load().catch(() => null);
  offlinePass.counter = -1;
  return offlinePass.device;
}

export const offlineDevice = () => offlinePass.device;

// presentation keeps the offline pass's text current: a new signature for every 30 s
// step of the server's clock (onReady is called when a new one is signed).
function presentation(onReady) {
  const d = offlinePass.device;
  if (!d || serverNow() >= d.notAfter) return null;
  const counter = device.counterAt(serverNow());
  if (counter !== offlinePass.counter && !offlinePass.signing) {
    offlinePass.signing = device.present(d, counter)
      .then((text) => { offlinePass.text = text; offlinePass.counter = counter; onReady(); })
      .catch(() => {})
      .finally(() => { offlinePass.signing = null; });
  }
  return offlinePass.counter === counter ? offlinePass.text : null;
}

// Keep the screen on while a pass shows (the phone must not dim or lock at the gate).
function keepAwake(s) {
  if (!navigator.wakeLock) return;
  let lock = null;
  const take = () => {
    if (document.visibilityState !== 'visible' || !s.alive) return;
    navigator.wakeLock.request('screen').then((l) => { if (s.alive) lock = l; else l.release(); }).catch(() => {});
  };
  document.addEventListener('visibilitychange', take);
  s.onStop(() => {
    document.removeEventListener('visibilitychange', take);
    lock?.release().catch(() => {});
  });
  take();
}

// passView draws a pass screen on screen s for keeper k. who is the holder's line
// (initial and unit: on the screen only, never in the code); withDevice lets the
// offline pass stand in when there is no valid code and the network failed or the
// server did not answer; onSignedOut is called on a 401.
export function passView(s, { title, keeper, who = null, extra = [], withDevice = false, onSignedOut = () => {}, when = () => true }) {
  const img = el('img', { id: 'pass-img', alt: t('pass.alt') });
  const frame = el('div', { class: 'qr-frame stale' }, img);
  const badge = el('p', { class: 'pass-kind', id: 'pass-kind', hidden: true });
  const countdown = el('p', { class: 'countdown', id: 'countdown' });
  const status = el('p', { class: 'status', id: 'pass-status', role: 'status' });
  const hint = el('p', { class: 'muted hint', id: 'pass-hint' }, t('pass.bright'));
  let shown = '';

  const draw = (text, kind, expiresAt) => {
    if (text !== shown) {
      img.src = qrImage(text);
      shown = text;
    }
    img.dataset.expiresAt = new Date(expiresAt).toISOString();
    img.dataset.kind = kind;
    frame.classList.remove('stale');
  };
  const blank = () => {
    frame.classList.add('stale');
    delete img.dataset.expiresAt;
  };
  const say = (line, text, cls) => {
    line.textContent = text;
    line.className = cls;
  };

  const tick = () => {
    const now = Date.now();
    if (keeper.due(now)) {
      keeper.fetch().then(() => {
        if (!s.alive) return;
        if (keeper.problem?.status === 401) onSignedOut();
        else render();
      });
    }
    render();
  };
  const render = () => {
    const now = Date.now();
    const p = keeper.problem;
    const noNetwork = p && offline(p);
    // No network, no answer, or a server too busy: the offline pass stands in.
    const fallback = p && (noNetwork || p.status === 429 || p.status >= 500);
    badge.hidden = true;
    if (keeper.valid(now)) {
      const left = Math.floor((keeper.code.expires - now) / 1000);
      draw(keeper.code.payload, 'online', keeper.code.expires);
      say(countdown, t('pass.valid', { s: left }), 'countdown');
      if (noNetwork) say(status, t('pass.offline', { s: left }), 'status offline');
      else if (p?.status === 429) say(status, t('pass.busy'), 'status');
      else say(status, t('pass.hint'), 'status');
      return;
    }
    const text = withDevice && fallback ? presentation(() => s.alive && render()) : null;
    if (text) {
      const d = offlinePass.device;
      draw(text, 'device', (offlinePass.counter + 1) * 30000);
      badge.hidden = false;
      badge.textContent = t('pass.offlinePass');
      say(countdown, t('pass.offlineUntil', { t: formatTime(new Date(d.notAfter).toISOString()) }), 'countdown');
      say(status, t('pass.offlineHint'), 'status');
      return;
    }
    blank();
    say(countdown, '', 'countdown');
    if (!p) say(status, keeper.code ? t('pass.refreshing') : t('pass.loading'), 'status');
    else if (noNetwork) say(status, keeper.code ? t('pass.expired') : t('pass.noSignal'), 'status offline');
    else if (p.status === 429) say(status, t('pass.wait', { s: Math.max(1, Math.ceil((keeper.retryAt - now) / 1000)) }), 'status');
    else say(status, errorText(p), 'status offline');
  };

  const online = () => { keeper.forceSoon(); tick(); };
  window.addEventListener('online', online);
  s.onStop(() => window.removeEventListener('online', online));
  keepAwake(s);
  return {
    nodes: el('section', { class: 'pass' }, title ? el('h1', {}, title) : null, who, frame, badge, countdown, status, ...extra, hint),
    // The screen's clock drives it while when() says the pass is wanted.
    start: () => s.every(() => { if (when()) tick(); }),
  };
}
