// The service worker keeps the app itself (never an API answer, never a visitor or
// invite link) so that the app opens with no signal, in a basement garage or a
// stairwell, and shows the offline pass. Online it always asks the server first, so a
// resident never runs yesterday's app against today's API; the copy is only for when
// the network fails or the server does not answer in time.
const CACHE = 'gatepass-app-v1';
const SHELL = ['/', '/manifest.webmanifest', '/assets/app.css', '/assets/app.js', '/assets/api.js', '/assets/ui.js',
  '/assets/i18n.js', '/assets/pass.js', '/assets/device.js', '/assets/markdown.js', '/assets/webauthn.js',
  '/assets/vendor/qrcode-generator/qrcode.mjs', '/assets/icon-192.png', '/assets/icon-512.png'];
// A server slower than this counts as not answering.
const patience = 4000;

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(caches.keys()
    .then((names) => Promise.all(names.filter((n) => n !== CACHE).map((n) => caches.delete(n))))
    .then(() => self.clients.claim()));
});

// fresh asks the network for path (within patience), keeps what it got, and falls back
// to the kept copy. (By path, not by the page's request: a navigation's request cannot
// be given a timeout.)
async function fresh(path) {
  const cache = await caches.open(CACHE);
  try {
    const res = await fetch(path, { signal: AbortSignal.timeout(patience), cache: 'no-cache', credentials: 'same-origin' });
    if (res.ok) await cache.put(path, res.clone());
    return res;
  } catch (err) {
    const kept = await cache.match(path);
    if (kept) return kept;
    throw err;
  }
}

self.addEventListener('fetch', (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== self.location.origin || url.pathname.startsWith('/api/')) return;
  if (req.mode === 'navigate') {
    // Every page of the app is the same page; a visitor's or an invite link is fetched
    // but never kept (its secret is in the address): offline it opens the kept app.
    const keep = url.pathname === '/';
    event.respondWith(keep ? fresh('/') : fetch(req).catch(() => caches.match('/').then((r) => r || Response.error())));
    return;
  }
  if (SHELL.includes(url.pathname)) event.respondWith(fresh(url.pathname));
});
