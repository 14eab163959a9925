// The offline pass: a type 0x02 device credential (docs/credential-format.md) held by
// this browser. The key is a WebCrypto ECDSA P-256 key made non-extractable, so no script
// can read it out, kept in IndexedDB with the server's certificate; every 30 s the app
// signs a presentation with it, which needs no network. WebCrypto's ECDSA signature is
// already the raw r ‖ s the format wants.
import { api, serverNow } from './api.js';

const DB = 'gatepass', STORE = 'device', KEY = 'this';
const enc = new TextEncoder();
const b64 = (bytes) => btoa(String.fromCharCode(...bytes));
const unb64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

export const supported = () => !!(window.crypto?.subtle && window.indexedDB);

function store(mode, fn) {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(DB, 1);
    open.onupgradeneeded = () => open.result.createObjectStore(STORE);
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const tx = open.result.transaction(STORE, mode);
      const req = fn(tx.objectStore(STORE));
      tx.oncomplete = () => { open.result.close(); resolve(req?.result); };
      tx.onerror = () => { open.result.close(); reject(tx.error); };
    };
  });
}

// A certificate's fields at their fixed offsets (credential-format.md §2).
const u32 = (b, at) => ((b[at] << 24) >>> 0) + (b[at + 1] << 16) + (b[at + 2] << 8) + b[at + 3];
const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
function certInfo(cert) {
  const id = hex(cert.subarray(5, 21));
  return {
    id: `${id.slice(0, 8)}-${id.slice(8, 12)}-${id.slice(12, 16)}-${id.slice(16, 20)}-${id.slice(20)}`,
    notBefore: u32(cert, 30) * 1000, notAfter: u32(cert, 34) * 1000,
  };
}

// load returns this browser's device ({id, key, cert, notBefore, notAfter}) or null.
export async function load() {
  if (!supported()) return null;
  const d = await store('readonly', (s) => s.get(KEY));
  return d ? { ...d, ...certInfo(d.cert) } : null;
}

async function save(key, certB64) {
  const cert = unb64(certB64);
  await store('readwrite', (s) => s.put({ key, cert }, KEY));
  return { key, cert, ...certInfo(cert) };
}

// forget deletes the key from this browser (the server's credential stays until revoked).
export async function forget() {
  if (supported()) await store('readwrite', (s) => s.delete(KEY));
}

// setUp makes a key and has the server certify it. The server wants a passkey
// verification from the last 5 minutes: the one of a sign-in, or a step-up.
export async function setUp(label) {
  const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
  const pub = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
  const out = await api('POST', '/api/v1/devices', { public_key: b64(pub), label });
  return save(pair.privateKey, out.certificate);
}

// renewDue: past 80 % of the certificate's life (credential-format.md §6, step 3).
export const renewDue = (d) => serverNow() > d.notBefore + 0.8 * (d.notAfter - d.notBefore);

// renew asks for a new certificate, proving the key with a presentation.
export async function renew(d) {
  const out = await api('POST', `/api/v1/devices/${d.id}/renew`, { presentation: await present(d) });
  return save(d.key, out.certificate);
}

// Base45 (RFC 9285): two bytes become three characters, a last byte two.
const B45 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:';
function base45(bytes) {
  let out = '';
  for (let i = 0; i < bytes.length; i += 2) {
    if (i + 1 < bytes.length) {
      const n = bytes[i] * 256 + bytes[i + 1];
      out += B45[n % 45] + B45[Math.floor(n / 45) % 45] + B45[Math.floor(n / 2025)];
    } else {
      out += B45[bytes[i] % 45] + B45[Math.floor(bytes[i] / 45)];
    }
  }
  return out;
}

export const counterAt = (ms) => Math.floor(ms / 30000);

// present makes the QR text of a presentation for the current 30-second step of the
// server's clock: certificate ‖ counter ‖ ECDSA(label ‖ certificate ‖ counter).
export async function present(d, counter = counterAt(serverNow())) {
  const token = new Uint8Array(203);
  token.set(d.cert, 0);
  new DataView(token.buffer).setUint32(135, counter);
  const label = enc.encode('gatepass/v1/device-presentation');
  const msg = new Uint8Array(label.length + 139);
  msg.set(label, 0);
  msg.set(token.subarray(0, 139), label.length);
  const sig = new Uint8Array(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, d.key, msg));
  token.set(sig, 139);
  return 'GA1:' + base45(token);
}
