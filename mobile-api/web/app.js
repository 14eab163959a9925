// The resident app: one page, five tabs, and the visitor's page at /v/{token}.
// Everything is built with DOM calls (never innerHTML), so nothing a server or another
// resident wrote can run as script.
import { t, has, translatePage, formatTime, lang } from './i18n.js';
import * as passkey from './webauthn.js';

const view = document.getElementById('view');
const tabs = document.getElementById('tabs');
const alertLine = document.getElementById('alert');
let stopTimers = () => {};

// el builds an element: el('p', {class: 'x', onclick: f}, 'text', child...).
function el(tag, attrs = {}, ...children) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) n.addEventListener(k.slice(2), v);
    else if (k === 'class') n.className = v;
    else n.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) n.append(c);
  return n;
}

class APIError extends Error {
  constructor(status, body) {
    super(body?.error?.message || `HTTP ${status}`);
    this.status = status;
    this.code = body?.error?.code;
  }
}

async function api(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: {} };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  const data = res.headers.get('Content-Type')?.startsWith('application/json') ? await res.json() : null;
  if (!res.ok) throw new APIError(res.status, data);
  return data;
}

function show(...nodes) {
  stopTimers();
  stopTimers = () => {};
  view.replaceChildren(...nodes.filter((n) => n !== null && n !== undefined));
}

function errorLine(id) {
  return el('p', { class: 'error', id, role: 'alert' });
}

// fail shows an error: the app's own words for the codes it knows (in the reader's
// language), else the server's message.
function fail(line, err) {
  if (err instanceof APIError) line.textContent = err.code && has('err.' + err.code) ? t('err.' + err.code) : err.message;
  else line.textContent = err?.name === 'NotAllowedError' ? err.message : t('err.network');
}

// suspendedAlert shows or hides the warning above every screen: while a suspended
// passkey is listed, a copy of it may exist and the resident should remove it.
function suspendedAlert(n) {
  alertLine.textContent = t('alert.suspended');
  alertLine.hidden = !(n > 0);
}

// ---- signed out ----

function welcome() {
  tabs.hidden = true;
  const code = el('input', { id: 'invite-code', autocomplete: 'one-time-code', spellcheck: 'false', autocapitalize: 'off' });
  const redeemErr = errorLine('redeem-error');
  const signinErr = errorLine('signin-error');
  const redeem = async () => {
    redeemErr.textContent = '';
    try {
      const begin = await api('POST', '/api/v1/invites/redeem/begin', { invite_code: code.value.trim() });
      const credential = await passkey.create(begin.options);
      await api('POST', '/api/v1/invites/redeem/finish', { ceremony: begin.ceremony, credential, name: deviceName() });
      await start();
    } catch (e) { fail(redeemErr, e); }
  };
  const signin = async () => {
    signinErr.textContent = '';
    try {
      const begin = await api('POST', '/api/v1/signin/begin', {});
      const credential = await passkey.get(begin.options);
      await api('POST', '/api/v1/signin/finish', { ceremony: begin.ceremony, credential });
      await start();
    } catch (e) { fail(signinErr, e); }
  };
  show(
    el('h1', {}, t('welcome.title')),
    el('p', { class: 'muted' }, t('welcome.intro')),
    passkey.supported() ? null : el('p', { class: 'error' }, t('err.noWebAuthn')),
    el('section', { class: 'card' },
      el('h2', {}, t('signin.title')),
      el('button', { class: 'btn', id: 'signin-btn', type: 'button', onclick: signin }, t('signin.go')),
      signinErr),
    el('section', { class: 'card' },
      el('h2', {}, t('redeem.title')),
      el('label', { for: 'invite-code' }, t('redeem.code')), code,
      el('button', { class: 'btn secondary', id: 'redeem-btn', type: 'button', onclick: redeem }, t('redeem.go')),
      redeemErr),
  );
}

function deviceName() {
  const ua = navigator.userAgent;
  return (/iPhone|iPad|Android|Mac|Windows|Linux/.exec(ua) || ['Browser'])[0];
}

// ---- the rotating pass ----

// passScreen shows a code from fetchPNG (a function returning a fetch Response) and
// keeps it fresh: the next code is fetched at refresh_after; if that fails the old one
// stays, with its remaining life, until it expires.
function passScreen(title, fetchPNG, extra = []) {
  const img = el('img', { id: 'pass-img', alt: 'QR' });
  const frame = el('div', { class: 'qr-frame stale' }, img);
  const countdown = el('p', { class: 'countdown', id: 'countdown' });
  const status = el('p', { class: 'status', id: 'pass-status', role: 'status' });
  let expires = 0, refreshAt = 0, url = null, timer = null, stopped = false, fetching = false, offline = false;

  const tick = () => {
    const now = Date.now();
    const left = Math.max(0, Math.floor((expires - now) / 1000));
    if (expires && now < expires) {
      frame.classList.remove('stale');
      countdown.textContent = t('pass.valid', { s: left });
      if (offline) status.textContent = t('pass.offline', { s: left });
    } else if (expires) {
      frame.classList.add('stale');
      countdown.textContent = '';
      status.className = 'status offline';
      status.textContent = t('pass.expired');
    }
    if (!fetching && now >= refreshAt) refresh();
  };
  const refresh = async () => {
    fetching = true;
    try {
      const res = await fetchPNG();
      if (!res.ok) {
        const body = await res.json().catch(() => null);
        throw new APIError(res.status, body);
      }
      const blob = await res.blob();
      if (stopped) return;
      if (url) URL.revokeObjectURL(url);
      url = URL.createObjectURL(blob);
      img.src = url;
      expires = Date.parse(res.headers.get('X-Pass-Expires-At'));
      refreshAt = Date.parse(res.headers.get('X-Pass-Refresh-After'));
      img.dataset.expiresAt = res.headers.get('X-Pass-Expires-At');
      offline = false;
      status.className = 'status';
      status.textContent = t('pass.hint');
    } catch (e) {
      if (e instanceof APIError) {
        if (e.status === 401) return start();
        expires = 0;
        frame.classList.add('stale');
        status.className = 'status offline';
        status.textContent = t('pass.refused', { msg: e.message });
        refreshAt = Date.now() + 30000;
      } else {
        // Offline: keep the current code while it lives, retry every few seconds.
        offline = true;
        status.className = 'status offline';
        const left = Math.max(0, Math.floor((expires - Date.now()) / 1000));
        status.textContent = left > 0 ? t('pass.offline', { s: left }) : t('pass.expired');
        refreshAt = Date.now() + 3000;
      }
    } finally {
      fetching = false;
      tick();
    }
  };
  show(el('section', { class: 'pass' }, el('h1', {}, title), frame, countdown, status, ...extra));
  timer = setInterval(tick, 1000);
  const online = () => { refreshAt = 0; tick(); };
  window.addEventListener('online', online);
  stopTimers = () => {
    stopped = true;
    clearInterval(timer);
    window.removeEventListener('online', online);
    if (url) URL.revokeObjectURL(url);
  };
  refresh();
}

const tabViews = {
  pass: () => passScreen(t('pass.title'), () => fetch('/api/v1/pass.png', { credentials: 'same-origin', cache: 'no-store' })),
  visitors: visitorsTab,
  security: securityTab,
  history: historyTab,
  data: dataTab,
};

function selectTab(name) {
  for (const b of tabs.querySelectorAll('button')) {
    if (b.dataset.tab === name) b.setAttribute('aria-current', 'page');
    else b.removeAttribute('aria-current');
  }
  tabViews[name]();
}

// ---- visitors ----

async function visitorsTab() {
  const label = el('input', { id: 'v-label', maxlength: '100' });
  const hours = el('input', { id: 'v-hours', type: 'number', min: '1', max: '168', value: '24' });
  const entries = el('input', { id: 'v-entries', type: 'number', min: '1', max: '100', value: '2' });
  const err = errorLine('v-error');
  const shared = el('div', { id: 'v-shared' });
  const list = el('ul', { class: 'list', id: 'v-list' });
  const load = async () => {
    const data = await api('GET', '/api/v1/visitors');
    list.replaceChildren(...(data.visitor_passes.length ? data.visitor_passes.map((p) => el('li', {},
      el('div', { class: 'item-main' },
        el('div', { class: 'item-title' }, p.label),
        el('div', { class: 'muted' }, `${formatTime(p.valid_from)} – ${formatTime(p.valid_until)}`),
        el('div', { class: 'muted' }, t('visitors.entriesUsed', { u: p.entries_used, m: p.max_entries }), ' ',
          el('span', { class: p.state === 'active' ? 'badge' : 'badge off' }, t('state.' + p.state)))),
      p.revoked_at ? null : el('button', { class: 'btn small danger', type: 'button', onclick: async () => {
        await api('DELETE', `/api/v1/visitors/${p.id}`); load();
      } }, t('visitors.revoke')))) : [el('li', { class: 'muted' }, t('visitors.none'))]));
  };
  const create = async () => {
    err.textContent = '';
    try {
      const now = new Date();
      const out = await api('POST', '/api/v1/visitors', {
        label: label.value.trim(), max_entries: Number(entries.value),
        valid_from: now.toISOString(), valid_until: new Date(now.getTime() + Number(hours.value) * 3600e3).toISOString(),
      });
      shared.replaceChildren(el('p', { class: 'muted' }, t('visitors.share')),
        el('p', { class: 'link-box', id: 'v-link' }, out.link));
      label.value = '';
      load();
    } catch (e) { fail(err, e); }
  };
  show(el('h1', {}, t('visitors.title')),
    el('section', { class: 'card' }, el('h2', {}, t('visitors.new')),
      el('label', { for: 'v-label' }, t('visitors.label')), label,
      el('label', { for: 'v-hours' }, t('visitors.hours')), hours,
      el('label', { for: 'v-entries' }, t('visitors.entries')), entries,
      el('button', { class: 'btn', id: 'v-create', type: 'button', onclick: create }, t('visitors.create')), err, shared),
    el('section', { class: 'card' }, list));
  await load();
}

// ---- passkeys, devices, sign out ----

async function securityTab() {
  const keys = el('ul', { class: 'list', id: 'passkeys' });
  const devices = el('ul', { class: 'list', id: 'devices' });
  const err = errorLine('sec-error');
  const load = async () => {
    const [pk, dv] = await Promise.all([api('GET', '/api/v1/passkeys'), api('GET', '/api/v1/devices')]);
    // The last passkey that signs in stays (the server refuses it too); a suspended one
    // can always be removed.
    const usable = pk.passkeys.filter((p) => !p.suspended_at).length;
    suspendedAlert(pk.passkeys.length - usable);
    keys.replaceChildren(...pk.passkeys.map((p) => el('li', { class: p.suspended_at ? 'suspended' : null },
      el('div', { class: 'item-main' },
        el('div', { class: 'item-title' }, p.name || 'Passkey', ' ',
          p.suspended_at ? el('span', { class: 'badge off' }, t('security.suspended')) : null),
        el('div', { class: 'muted' }, formatTime(p.created_at), p.current ? ' · ' + t('security.current') : ''),
        p.suspended_at ? el('div', { class: 'item-why' }, t('security.suspendedWhy', { t: formatTime(p.suspended_at) })) : null),
      p.suspended_at || usable > 1 ? el('button', { class: 'btn small danger', type: 'button', onclick: async () => {
        try { await api('DELETE', `/api/v1/passkeys/${p.id}`); p.current ? start() : load(); } catch (e) { fail(err, e); }
      } }, t('security.remove')) : null)));
    devices.replaceChildren(...(dv.devices.length ? dv.devices.map((d) => el('li', {},
      el('div', { class: 'item-main' }, el('div', { class: 'item-title' }, d.label || 'Device'),
        el('div', { class: 'muted' }, formatTime(d.created_at), ' – ', formatTime(d.expires_at))),
      d.revoked_at ? el('span', { class: 'badge off' }, t('revoked')) : el('button', { class: 'btn small danger', type: 'button', onclick: async () => {
        try { await api('DELETE', `/api/v1/devices/${d.id}`); load(); } catch (e) { fail(err, e); }
      } }, t('visitors.revoke')))) : [el('li', { class: 'muted' }, t('security.noDevices'))]));
  };
  const add = async () => {
    err.textContent = '';
    try {
      const begin = await api('POST', '/api/v1/passkeys/begin', {});
      const credential = await passkey.create(begin.options);
      await api('POST', '/api/v1/passkeys/finish', { ceremony: begin.ceremony, credential, name: deviceName() });
      load();
    } catch (e) { fail(err, e); }
  };
  const signOut = (path) => async () => { await api('POST', path); start(); };
  show(el('h1', {}, t('tab.security')),
    el('section', { class: 'card' }, el('h2', {}, t('security.passkeys')), keys,
      el('button', { class: 'btn secondary', type: 'button', onclick: add }, t('security.add')), err),
    el('section', { class: 'card' }, el('h2', {}, t('security.devices')), devices),
    el('button', { class: 'btn secondary', id: 'signout-btn', type: 'button', onclick: signOut('/api/v1/signout') }, t('security.signout')),
    el('button', { class: 'btn danger', id: 'signout-all-btn', type: 'button', onclick: signOut('/api/v1/signout/everywhere') }, t('security.signoutAll')));
  await load();
}

// ---- history ----

async function historyTab() {
  const list = el('ul', { class: 'list', id: 'entries' });
  const more = el('button', { class: 'btn secondary', type: 'button', hidden: true }, t('history.more'));
  let cursor = '';
  const load = async () => {
    const page = await api('GET', '/api/v1/entries?limit=30' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''));
    if (!cursor && !page.entries.length) list.append(el('li', { class: 'muted' }, t('history.none')));
    list.append(...page.entries.map((e) => el('li', {},
      el('div', { class: 'item-main' }, el('div', { class: 'item-title' }, e.gate_name || e.gate_id),
        el('div', { class: 'muted' }, formatTime(e.occurred_at), ' · ', e.method)),
      el('span', { class: e.result === 'granted' ? 'badge' : 'badge off' }, e.result))));
    cursor = page.next_cursor || '';
    more.hidden = !cursor;
  };
  more.addEventListener('click', load);
  show(el('h1', {}, t('history.title')), el('section', { class: 'card' }, list), more);
  await load();
}

// ---- export, face entry, delete ----

// stepUp verifies the resident again with a passkey, for acts that need it.
async function stepUp() {
  const begin = await api('POST', '/api/v1/stepup/begin', {});
  const credential = await passkey.get(begin.options);
  await api('POST', '/api/v1/stepup/finish', { ceremony: begin.ceremony, credential });
}

// markdown renders the notice's plain Markdown (headings, paragraphs, lists, **bold**)
// as DOM nodes: the text is the server's, but it still never goes through innerHTML.
function markdown(text) {
  const inline = (line) => line.split(/(\*\*[^*]+\*\*)/).map((part) =>
    part.startsWith('**') && part.endsWith('**') ? el('strong', {}, part.slice(2, -2)) : part);
  return text.split(/\n\s*\n/).map((block) => {
    const lines = block.trim().split('\n');
    const h = /^(#{1,3})\s+(.*)$/.exec(lines[0]);
    if (h && lines.length === 1) return el('h3', {}, ...inline(h[2]));
    if (lines.every((l) => /^\s*([-*]|\d+\.)\s+/.test(l) || /^\s{2,}/.test(l))) {
      const items = [];
      for (const l of lines) {
        if (/^\s*([-*]|\d+\.)\s+/.test(l)) items.push(l.replace(/^\s*([-*]|\d+\.)\s+/, ''));
        else items[items.length - 1] += ' ' + l.trim();
      }
      return el('ul', {}, ...items.map((i) => el('li', {}, ...inline(i))));
    }
    return el('p', {}, ...inline(lines.map((l) => l.trim()).join(lang === 'zh' ? '' : ' ')));
  });
}

// faceCard shows face entry as what it is: optional, with the QR code always there.
async function faceCard() {
  const card = el('section', { class: 'card', id: 'face' }, el('h2', {}, t('face.title')));
  const err = errorLine('face-error');
  const st = await api('GET', '/api/v1/face/status');
  if (!st.offered) {
    card.append(el('p', { class: 'muted' }, t('face.off')));
    return card;
  }
  const live = st.consents.find((c) => !c.withdrawn_at);
  if (live) {
    card.append(el('p', {}, t('face.on', { t: formatTime(live.granted_at) })),
      el('button', { class: 'btn danger', id: 'face-withdraw', type: 'button', onclick: async () => {
        try { await api('POST', '/api/v1/face/withdraw'); dataTab(); } catch (e) { fail(err, e); }
      } }, t('face.withdraw')));
    if (live.scope === 'one_gate' && live.current_notice) card.append(enrolAtGate(st, live, err));
  } else {
    card.append(el('p', { class: 'muted' }, t('face.optional')));
    const gates = st.gates;
    const read = el('button', { class: 'btn secondary', id: 'face-read', type: 'button' }, t('face.read'));
    read.addEventListener('click', async () => {
      try {
        const n = await api('GET', `/api/v1/face/notice?lang=${lang}`);
        const select = el('select', { id: 'face-gate' }, ...gates.map((g) => el('option', { value: g.gate_id }, g.gate_name)));
        read.replaceWith(
          el('div', { class: 'notice', id: 'face-notice' }, ...markdown(n.text)),
          gates.length ? el('label', { for: 'face-gate' }, t('face.gate')) : el('p', { class: 'muted' }, t('face.noGates')),
          gates.length ? select : null,
          gates.length ? el('button', { class: 'btn', id: 'face-agree', type: 'button', onclick: async () => {
            try {
              await stepUp();
              await api('POST', '/api/v1/face/consent', { notice_version: n.version, notice_lang: n.lang, notice_hash: n.hash,
                scope: 'one_gate', gate_id: select.value });
              dataTab();
            } catch (e) { fail(err, e); }
          } }, t('face.agree')) : null);
      } catch (e) { fail(err, e); }
    });
    card.append(read);
  }
  if (st.purges.length) {
    card.append(el('p', { class: 'muted' }, t('face.purges')), el('ul', { class: 'list' }, ...st.purges.map((p) => el('li', {},
      el('span', {}, p.gate_name), el('span', { class: p.acked ? 'badge' : 'badge off' }, t(p.acked ? 'face.confirmed' : 'face.pending'))))));
  }
  card.append(err);
  return card;
}

// enrolAtGate offers a one-gate consent's enrolment: the browser cannot run the face
// model, so the resident starts a session and stands at that gate's reader, which makes
// and keeps the template; the page follows the session until the gate confirms.
function enrolAtGate(st, live, err) {
  const gate = st.gates.find((g) => g.gate_id === live.gate_id);
  if (!gate) return null;
  const box = el('div', { id: 'face-enrol' });
  const line = el('p', { id: 'face-enrol-state', role: 'status' });
  if (gate.has_template) line.textContent = t('face.enrolled', { g: gate.gate_name });
  const button = el('button', { class: 'btn', id: 'face-enrol-start', type: 'button' }, t('face.enrolAt', { g: gate.gate_name }));
  button.addEventListener('click', async () => {
    err.textContent = '';
    try {
      const s = await api('POST', '/api/v1/face/enrolment', { gate_id: gate.gate_id });
      button.disabled = true;
      line.textContent = t('face.standAt', { g: gate.gate_name, t: formatTime(s.expires_at) });
      const timer = setInterval(async () => {
        try {
          const now = await api('GET', `/api/v1/face/enrolment/${s.id}`);
          if (now.state === 'waiting') return;
          clearInterval(timer);
          button.disabled = false;
          line.textContent = t(now.state === 'enrolled' ? 'face.enrolled' : 'face.enrolAgain', { g: gate.gate_name });
        } catch (e) { clearInterval(timer); button.disabled = false; fail(err, e); }
      }, 2000);
      const before = stopTimers;
      stopTimers = () => { before(); clearInterval(timer); };
    } catch (e) { fail(err, e); }
  });
  box.append(button, line);
  return box;
}

async function dataTab() {
  const err = errorLine('data-error');
  const del = async () => {
    if (!confirm(t('data.confirm'))) return;
    err.textContent = '';
    try {
      // Deleting needs a fresh verification with a passkey.
      await stepUp();
      await api('DELETE', '/api/v1/me');
      tabs.hidden = true;
      suspendedAlert(0);
      show(el('h1', {}, t('data.deleted')));
    } catch (e) { fail(err, e); }
  };
  const face = await faceCard().catch(() => null);
  show(el('h1', {}, t('data.title')),
    el('section', { class: 'card' },
      el('a', { class: 'btn secondary', id: 'export-link', href: '/api/v1/me/export', download: 'gatepass-export.json' }, t('data.export'))),
    face,
    el('section', { class: 'card' },
      el('p', { class: 'muted' }, t('data.deleteWarn')),
      el('button', { class: 'btn danger', id: 'delete-btn', type: 'button', onclick: del }, t('data.delete')), err));
}

// ---- the visitor's page ----

async function visitorPage(token) {
  tabs.hidden = true;
  const base = `/api/v1/visit/${encodeURIComponent(token)}`;
  try {
    const v = await api('GET', base);
    const info = [
      el('p', { class: 'item-title', id: 'visit-label' }, v.label),
      el('p', { class: 'muted' }, t('visit.until', { t: formatTime(v.valid_until) }), ' · ', t('visit.left', { n: v.entries_left })),
    ];
    if (v.state !== 'active') {
      show(el('h1', {}, t('visit.title')), ...info, el('p', { class: 'error', id: 'visit-state' }, t('state.' + v.state)));
      return;
    }
    passScreen(t('visit.title'), () => fetch(base + '/pass.png', { cache: 'no-store' }), info);
  } catch (e) {
    show(el('h1', {}, t('visit.title')), el('p', { class: 'error', id: 'visit-state' }, e.message));
  }
}

// ---- start ----

async function start() {
  translatePage();
  const m = /^\/v\/([A-Za-z0-9_-]+)$/.exec(location.pathname);
  if (m) return visitorPage(m[1]);
  try {
    const me = await api('GET', '/api/v1/me');
    document.getElementById('community').textContent = me.community_name;
    suspendedAlert(me.passkeys_suspended);
    tabs.hidden = false;
    selectTab('pass');
  } catch (e) {
    document.getElementById('community').textContent = '';
    suspendedAlert(0);
    if (e instanceof APIError && e.status === 401) welcome();
    else show(el('p', { class: 'error' }, t('err.network')), el('button', { class: 'btn', type: 'button', onclick: start }, 'Retry'));
  }
}

alertLine.addEventListener('click', () => selectTab('security'));
tabs.addEventListener('click', (e) => {
  const b = e.target.closest('button[data-tab]');
  if (b) selectTab(b.dataset.tab);
});
start();
