// The resident app: one page, five tabs, the visitor's page at /v/{token} and the
// invite link at /i/{code}. It works as an installed app and, for the pass, offline
// (sw.js keeps the app, device.js the offline pass).
import { t, lang, setLang, translatePage, formatTime } from './i18n.js';
import { api, APIError, offline, onSignedOut } from './api.js';
import { el, show, fill, current, errorLine, fail, loadInto, confirmStep } from './ui.js';
import * as passkey from './webauthn.js';
import * as device from './device.js';
import { Keeper, residentKeeper, passView, loadDevice, offlineDevice } from './pass.js';
import { markdown } from './markdown.js';

const tabs = document.getElementById('tabs');
const alertLine = document.getElementById('alert');
const communityLine = document.getElementById('community');
const langButton = document.getElementById('lang-btn');

// rerender shows the current view again (after a language switch).
let rerender = () => {};

// suspendedAlert shows or hides the warning above every screen: while a suspended
// passkey is listed, a copy of it may exist and the resident should remove it.
function suspendedAlert(n) {
  alertLine.textContent = t('alert.suspended');
  alertLine.hidden = !(n > 0);
}

// busy runs an action with its button disabled, so a second tap does not start it twice.
async function busy(button, action) {
  if (button.disabled) return;
  button.disabled = true;
  try {
    await action();
  } finally {
    button.disabled = false;
  }
}

// ---- who is signed in (remembered for the offline pass) ----

// The pass says whose it is, on the screen only: the name's first character and the
// unit. The phone remembers them (and the community's name) to show offline.
function rememberWho(me) {
  const who = { initial: [...(me.resident.name || '')][0] || '', unit: me.resident.unit_label || '', community: me.community_name || '' };
  localStorage.setItem('gp.who', JSON.stringify(who));
  return who;
}
const rememberedWho = () => { try { return JSON.parse(localStorage.getItem('gp.who')); } catch { return null; } };

// forgetHere removes what this phone holds of the resident: the offline pass's key and
// the remembered name and unit.
async function forgetHere() {
  localStorage.removeItem('gp.who');
  residentKeeper.code = null;
  await device.forget().catch(() => {});
  await loadDevice();
}

function whoLine(who) {
  if (!who || (!who.initial && !who.unit)) return null;
  return el('p', { class: 'who', id: 'pass-who' }, t('pass.who', { n: who.initial, u: who.unit || '—' }));
}

function deviceName() {
  const ua = navigator.userAgent;
  // Android's user agent says "Linux" too, so Android is looked for first.
  for (const [re, name] of [[/Android/, 'Android'], [/iPhone/, 'iPhone'], [/iPad/, 'iPad'], [/CrOS/, 'Chromebook'],
    [/Windows/, 'Windows'], [/Macintosh|Mac OS X/, 'Mac'], [/Linux/, 'Linux']]) {
    if (re.test(ua)) return name;
  }
  return t('security.browser');
}

// ---- signed out ----

// formatShort groups a short code as XXXX-XXXX-XXXX while it is typed at the end of the
// field. A long code (pasted, or from a link) is left exactly as it is: it is case
// sensitive, so the field only looks upper case (CSS) and the server reads short codes
// in any case.
function formatShort(input) {
  input.classList.toggle('short', !input.value.includes('_'));
  if (input.value.includes('_') || input.selectionStart !== input.value.length) return;
  const raw = input.value.replace(/[^0-9A-Za-z]/g, '');
  if (raw.length > 12) return;
  input.value = raw.match(/.{1,4}/g)?.join('-') || '';
}

// settingUp is the offline pass being set up after a sign-in (Security waits for it).
let settingUp = Promise.resolve();

async function afterSignIn() {
  await start();
  settingUp = setUpOfflinePass().catch(() => {});
}

function welcome(linkCode = '') {
  rerender = () => welcome(linkCode);
  tabs.hidden = true;
  communityLine.textContent = '';
  const code = el('input', { id: 'invite-code', class: 'short', autocomplete: 'one-time-code', spellcheck: 'false',
    autocapitalize: 'characters', placeholder: 'XXXX-XXXX-XXXX', 'aria-describedby': 'invite-help' });
  code.value = linkCode;
  code.addEventListener('input', () => formatShort(code));
  const redeemErr = errorLine('redeem-error');
  const signinErr = errorLine('signin-error');
  const redeemBtn = el('button', { class: 'btn', id: 'redeem-btn', type: 'button' }, t('redeem.go'));
  const signinBtn = el('button', { class: linkCode ? 'btn secondary' : 'btn', id: 'signin-btn', type: 'button' }, t('signin.go'));
  redeemBtn.addEventListener('click', () => busy(redeemBtn, async () => {
    redeemErr.textContent = '';
    if (!code.value.trim()) {
      redeemErr.textContent = t('field.invite_code');
      return;
    }
    try {
      const begin = await api('POST', '/api/v1/invites/redeem/begin', { invite_code: code.value.trim() });
      const credential = await passkey.create(begin.options);
      await api('POST', '/api/v1/invites/redeem/finish', { ceremony: begin.ceremony, credential, name: deviceName() });
      await afterSignIn();
    } catch (e) { fail(redeemErr, e); }
  }));
  signinBtn.addEventListener('click', () => busy(signinBtn, async () => {
    signinErr.textContent = '';
    try {
      const begin = await api('POST', '/api/v1/signin/begin', {});
      const credential = await passkey.get(begin.options);
      await api('POST', '/api/v1/signin/finish', { ceremony: begin.ceremony, credential });
      await afterSignIn();
    } catch (e) { fail(signinErr, e); }
  }));
  const redeemCard = el('section', { class: 'card', id: 'redeem-card' },
    el('h2', {}, t(linkCode ? 'redeem.titleLink' : 'redeem.title')),
    // From a link the long code is filled in and need not be seen.
    linkCode ? el('p', { class: 'ok', id: 'invite-from-link' }, t('redeem.fromLink')) : null,
    el('div', { hidden: !!linkCode }, el('label', { for: 'invite-code' }, t('redeem.code')), code,
      el('p', { class: 'muted small', id: 'invite-help' }, t('redeem.help'))),
    redeemBtn, redeemErr);
  const signinCard = el('section', { class: 'card' }, el('h2', {}, t('signin.title')), signinBtn, signinErr);
  show(el('h1', {}, t('welcome.title')),
    el('p', { class: 'muted' }, t('welcome.intro')),
    passkey.supported() ? null : el('p', { class: 'error' }, t('err.noWebAuthn')),
    // Someone who came by an invite link starts there; everyone else signs in.
    linkCode ? [redeemCard, signinCard] : [signinCard, redeemCard]);
}

// ---- the pass ----

function passTab() {
  const s = show();
  const who = rememberedWho();
  const v = passView(s, { title: t('pass.title'), keeper: residentKeeper, who: whoLine(who), withDevice: true,
    onSignedOut: () => { forgetHere().then(() => welcome()); } });
  fill(v.nodes);
  v.start();
}

const tabViews = { pass: passTab, visitors: visitorsTab, security: securityTab, history: historyTab, data: dataTab };

function selectTab(name) {
  for (const b of tabs.querySelectorAll('button')) {
    if (b.dataset.tab === name) b.setAttribute('aria-current', 'page');
    else b.removeAttribute('aria-current');
  }
  rerender = () => selectTab(name);
  tabViews[name]();
}

// ---- visitors ----

const endedStates = ['expired', 'used_up', 'revoked', 'host_left'];

// copyText puts text on the clipboard; the fallback is for browsers without the
// asynchronous clipboard (or without permission for it).
async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = el('textarea', { class: 'offscreen', readonly: true });
    area.value = text;
    document.body.append(area);
    area.select();
    const ok = document.execCommand('copy');
    area.remove();
    return ok;
  }
}

// shareBox shows a new visitor link once, with a share button (the phone's share
// sheet, or a copy where there is none) and a copy button.
function shareBox(link, label) {
  const said = el('p', { class: 'ok', id: 'v-copied', role: 'status' });
  const copy = async () => { said.textContent = t(await copyText(link) ? 'visitors.copied' : 'visitors.copyFailed'); };
  const share = async () => {
    if (navigator.share) {
      try {
        await navigator.share({ title: t('visit.title'), text: t('visitors.shareText', { l: label }), url: link });
        return;
      } catch (e) {
        if (e?.name === 'AbortError') return; // the resident closed the share sheet
      }
    }
    await copy();
  };
  return el('div', { class: 'share', id: 'v-shared' },
    el('p', { class: 'muted' }, t('visitors.share')),
    el('p', { class: 'link-box', id: 'v-link' }, link),
    el('div', { class: 'row' },
      el('button', { class: 'btn', id: 'v-share', type: 'button', onclick: share }, t('visitors.shareBtn')),
      el('button', { class: 'btn secondary', id: 'v-copy', type: 'button', onclick: copy }, t('visitors.copy'))),
    said);
}

function visitorItem(p, reload, err) {
  const ended = endedStates.includes(p.state);
  const revoke = ended ? null : confirmStep(el('button', { class: 'btn small danger v-revoke', type: 'button' }, t('visitors.revoke')),
    t('visitors.revokeQ', { l: p.label }), t('visitors.revokeYes'), async () => {
      try { await api('DELETE', `/api/v1/visitors/${p.id}`); } catch (e) { fail(err, e); }
      reload();
    });
  return el('li', { class: ended ? 'ended' : null },
    el('div', { class: 'item-main' },
      el('div', { class: 'item-title' }, p.label, ' ', el('span', { class: ended ? 'badge off' : 'badge' }, t('state.' + p.state))),
      el('div', { class: 'muted' }, `${formatTime(p.valid_from)} – ${formatTime(p.valid_until)}`),
      el('div', { class: 'muted' }, t('visitors.entriesUsed', { u: p.entries_used, m: p.max_entries }))),
    revoke);
}

function visitorsTab() {
  const label = el('input', { id: 'v-label', maxlength: '100' });
  const hours = el('input', { id: 'v-hours', type: 'number', min: '1', max: '168', value: '24', inputmode: 'numeric' });
  const entries = el('input', { id: 'v-entries', type: 'number', min: '1', max: '100', value: '2', inputmode: 'numeric' });
  const err = errorLine('v-error');
  const listErr = errorLine('v-list-error');
  const shared = el('div', {});
  const list = el('div', { id: 'v-list-box' });
  const load = () => loadInto(list, async () => {
    const data = await api('GET', '/api/v1/visitors');
    return el('ul', { class: 'list', id: 'v-list' }, data.visitor_passes.length
      ? data.visitor_passes.map((p) => visitorItem(p, load, listErr))
      : el('li', { class: 'muted' }, t('visitors.none')));
  });
  const create = el('button', { class: 'btn', id: 'v-create', type: 'button' }, t('visitors.create'));
  create.addEventListener('click', () => busy(create, async () => {
    err.textContent = '';
    const h = Number(hours.value), n = Number(entries.value);
    if (!label.value.trim()) return void (err.textContent = t('field.label'));
    if (!Number.isInteger(h) || h < 1 || h > 168) return void (err.textContent = t('field.hours'));
    if (!Number.isInteger(n) || n < 1 || n > 100) return void (err.textContent = t('field.max_entries'));
    try {
      const now = new Date();
      const out = await api('POST', '/api/v1/visitors', {
        label: label.value.trim(), max_entries: n,
        valid_from: now.toISOString(), valid_until: new Date(now.getTime() + h * 3600e3).toISOString(),
      });
      shared.replaceChildren(shareBox(out.link, label.value.trim()));
      label.value = '';
      load();
    } catch (e) { fail(err, e); }
  }));
  show(el('h1', {}, t('visitors.title')),
    el('section', { class: 'card' }, el('h2', {}, t('visitors.new')),
      el('label', { for: 'v-label' }, t('visitors.label')), label,
      el('label', { for: 'v-hours' }, t('visitors.hours')), hours,
      el('label', { for: 'v-entries' }, t('visitors.entries')), entries,
      create, err, shared),
    el('section', { class: 'card' }, el('h2', {}, t('visitors.list')), list, listErr));
  load();
}

// ---- passkeys, the offline pass, sign out ----

// setUpOfflinePass gives this browser an offline pass (after a sign-in, whose passkey
// verification the server accepts for 5 minutes, or a step-up), or renews the one it
// has when that is due.
async function setUpOfflinePass() {
  if (!device.supported()) return;
  const d = await loadDevice();
  if (!d) await device.setUp(deviceName());
  else if (device.renewDue(d)) await device.renew(d);
  await loadDevice();
}

// renewOfflinePass renews this browser's certificate when due; a device the server no
// longer knows (revoked, ended) is forgotten here, so the pass does not show it.
async function renewOfflinePass() {
  const d = await loadDevice();
  if (!d || !device.renewDue(d)) return;
  try {
    await device.renew(d);
  } catch (e) {
    if (e instanceof APIError && (e.status === 404 || e.code === 'device_proof_invalid')) await device.forget();
  }
  await loadDevice();
}

function offlinePassCard(list, err, reload) {
  const mine = offlineDevice();
  const others = list.filter((d) => d.id !== mine?.id);
  const live = (d) => !d.revoked_at && Date.parse(d.expires_at) > Date.now();
  const item = (d, here) => el('li', { class: here ? 'this-device' : null },
    el('div', { class: 'item-main' },
      el('div', { class: 'item-title' }, here ? t('security.thisPhone') : (d.label || t('security.otherPhone'))),
      el('div', { class: 'muted' }, live(d) ? t('security.offlineUntil', { t: formatTime(d.expires_at) }) : t('revoked'))),
    live(d) ? confirmStep(el('button', { class: 'btn small danger dev-revoke', type: 'button' }, t('security.offlineOff')),
      t('security.offlineOffQ'), t('security.offlineOffYes'), async () => {
        try {
          await api('DELETE', `/api/v1/devices/${d.id}`);
          if (here) await device.forget();
        } catch (e) { fail(err, e); }
        reload();
      }) : null);
  const serverMine = list.find((d) => d.id === mine?.id);
  const setUp = el('button', { class: 'btn', id: 'offline-on', type: 'button' }, t('security.offlineOn'));
  setUp.addEventListener('click', () => busy(setUp, async () => {
    err.textContent = '';
    try {
      await stepUp();
      await device.forget();
      await setUpOfflinePass();
      reload();
    } catch (e) { fail(err, e); }
  }));
  return [
    el('p', { class: 'muted' }, t('security.offlineWhat')),
    el('ul', { class: 'list', id: 'devices' },
      serverMine && live(serverMine) ? item(serverMine, true) : el('li', { class: 'muted', id: 'offline-none' }, t('security.offlineNone')),
      others.filter(live).map((d) => item(d, false))),
    serverMine && live(serverMine) ? null : (device.supported() ? setUp : el('p', { class: 'muted' }, t('security.offlineUnsupported'))),
  ];
}

function securityTab() {
  const err = errorLine('sec-error');
  const keys = el('div', { id: 'passkeys-box' });
  const offlineBox = el('div', { id: 'offline-box' });
  const loadKeys = () => loadInto(keys, async () => {
    const pk = await api('GET', '/api/v1/passkeys');
    // The last passkey that signs in stays (the server refuses it too); a suspended one
    // can always be removed.
    const usable = pk.passkeys.filter((p) => !p.suspended_at).length;
    suspendedAlert(pk.passkeys.length - usable);
    return el('ul', { class: 'list', id: 'passkeys' }, pk.passkeys.map((p) => el('li', { class: p.suspended_at ? 'suspended' : null },
      el('div', { class: 'item-main' },
        el('div', { class: 'item-title' }, p.name || t('security.passkey'), ' ',
          p.suspended_at ? el('span', { class: 'badge off' }, t('security.suspended')) : null),
        el('div', { class: 'muted' }, formatTime(p.created_at), p.current ? ' · ' + t('security.current') : ''),
        p.suspended_at ? el('div', { class: 'item-why' }, t('security.suspendedWhy', { t: formatTime(p.suspended_at) })) : null),
      p.suspended_at || usable > 1 ? confirmStep(el('button', { class: 'btn small danger pk-remove', type: 'button' }, t('security.remove')),
        t('security.removeQ'), t('security.remove'), async () => {
          try {
            await api('DELETE', `/api/v1/passkeys/${p.id}`);
            if (p.current) return start();
          } catch (e) { fail(err, e); }
          loadKeys();
        }) : null)));
  });
  // The WeChat mini-program's binding (docs/miniprogram.md): seen and removed here too.
  const weChatBox = el('div', { id: 'wechat-box' });
  const loadWeChat = () => loadInto(weChatBox, async () => {
    const { binding } = await api('GET', '/api/v1/wechat/binding');
    if (!binding) return el('p', { class: 'muted', id: 'wechat-none' }, t('security.wechatNone'));
    return el('ul', { class: 'list', id: 'wechat-binding' }, el('li', {},
      el('div', { class: 'item-main' },
        el('div', { class: 'item-title' }, t('security.wechatBound')),
        el('div', { class: 'muted' }, t('security.wechatSince', { t: formatTime(binding.created_at) }),
          binding.last_used_at ? ' · ' + t('security.wechatUsed', { t: formatTime(binding.last_used_at) }) : '')),
      confirmStep(el('button', { class: 'btn small danger wechat-remove', type: 'button' }, t('security.remove')),
        t('security.wechatRemoveQ'), t('security.remove'), async () => {
          try {
            await api('DELETE', '/api/v1/wechat/binding');
          } catch (e) { fail(err, e); }
          loadWeChat();
        })));
  });
  const loadOffline = () => loadInto(offlineBox, async () => {
    await settingUp;
    await loadDevice();
    const dv = await api('GET', '/api/v1/devices');
    return offlinePassCard(dv.devices, err, loadOffline);
  });
  const add = el('button', { class: 'btn secondary', type: 'button' }, t('security.add'));
  add.addEventListener('click', () => busy(add, async () => {
    err.textContent = '';
    try {
      const begin = await api('POST', '/api/v1/passkeys/begin', {});
      const credential = await passkey.create(begin.options);
      await api('POST', '/api/v1/passkeys/finish', { ceremony: begin.ceremony, credential, name: deviceName() });
      loadKeys();
    } catch (e) { fail(err, e); }
  }));
  const signOut = (everywhere) => async () => {
    err.textContent = '';
    try {
      // An offline pass must not outlive the sign-out: this phone's ends with it, and
      // signing out everywhere (a lost phone) ends every phone's.
      const mine = offlineDevice();
      const ids = everywhere
        ? (await api('GET', '/api/v1/devices')).devices.filter((d) => !d.revoked_at).map((d) => d.id)
        : mine ? [mine.id] : [];
      for (const id of ids) await api('DELETE', `/api/v1/devices/${id}`).catch(() => {});
      await api('POST', everywhere ? '/api/v1/signout/everywhere' : '/api/v1/signout');
      await forgetHere();
      start();
    } catch (e) { fail(err, e); }
  };
  show(el('h1', {}, t('tab.security')),
    el('section', { class: 'card' }, el('h2', {}, t('security.offline')), offlineBox),
    el('section', { class: 'card' }, el('h2', {}, t('security.passkeys')),
      el('p', { class: 'muted' }, t('security.passkeysWhat')), keys, add),
    err,
    el('button', { class: 'btn secondary', id: 'signout-btn', type: 'button', onclick: signOut(false) }, t('security.signout')),
    confirmStep(el('button', { class: 'btn danger', id: 'signout-all-btn', type: 'button' }, t('security.signoutAll')),
      t('security.signoutAllQ'), t('security.signoutAll'), signOut(true)),
    // Last: it loads after the rest, and nothing below it moves when it does.
    el('section', { class: 'card', id: 'wechat-card' }, el('h2', {}, t('security.wechat')),
      el('p', { class: 'muted' }, t('security.wechatWhat')), weChatBox));
  loadOffline();
  loadWeChat();
  loadKeys();
}

// ---- history ----

// entryLine says in plain words what happened at a gate.
function entryLine(e, devices) {
  const method = e.method === 'qr' && devices.has(e.credential_id) ? 'device' : e.method;
  const denied = e.result !== 'granted';
  return el('li', {},
    el('div', { class: 'item-main' },
      el('div', { class: 'item-title' }, e.gate_name || t('history.gate')),
      el('div', { class: 'muted' }, formatTime(e.occurred_at), ' · ', t('method.' + method)),
      denied ? el('div', { class: 'item-why' }, t('reason.' + e.reason)) : null,
      denied && t('reasonHelp.' + e.reason) ? el('div', { class: 'item-help' }, t('reasonHelp.' + e.reason)) : null,
      e.offline ? el('div', { class: 'muted small' }, t('history.offline')) : null),
    el('span', { class: denied ? 'badge off' : 'badge' }, t('result.' + e.result)));
}

function historyTab() {
  const box = el('div', { id: 'entries-box' });
  const more = el('button', { class: 'btn secondary', type: 'button', id: 'history-more', hidden: true }, t('history.more'));
  let cursor = '', devices = new Set();
  const page = async () => {
    const p = await api('GET', '/api/v1/entries?limit=30' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''));
    cursor = p.next_cursor || '';
    more.hidden = !cursor;
    return p.entries.map((e) => entryLine(e, devices));
  };
  const load = () => loadInto(box, async () => {
    cursor = '';
    // Entries with a device credential were made with an offline pass.
    devices = new Set((await api('GET', '/api/v1/devices')).devices.map((d) => d.id));
    const first = await page();
    return el('ul', { class: 'list', id: 'entries' }, first.length ? first : el('li', { class: 'muted' }, t('history.none')));
  });
  more.addEventListener('click', () => busy(more, async () => {
    try {
      box.querySelector('#entries')?.append(...await page());
    } catch (e) {
      more.hidden = false;
      box.append(el('p', { class: 'error' }, t(offline(e) ? 'err.offlineTab' : 'err.unknown')));
    }
  }));
  show(el('h1', {}, t('history.title')), el('section', { class: 'card' }, box), more);
  load();
}

// ---- my data: a summary, the export, face entry, deletion ----

// stepUp verifies the resident again with a passkey, for acts that need it.
async function stepUp() {
  const begin = await api('POST', '/api/v1/stepup/begin', {});
  const credential = await passkey.get(begin.options);
  await api('POST', '/api/v1/stepup/finish', { ceremony: begin.ceremony, credential });
}

// summary says in plain words what the server holds about the resident.
async function summary() {
  const [me, pk, dv, vp, en, face] = await Promise.all([api('GET', '/api/v1/me'), api('GET', '/api/v1/passkeys'),
    api('GET', '/api/v1/devices'), api('GET', '/api/v1/visitors'), api('GET', '/api/v1/entries?limit=5'),
    api('GET', '/api/v1/face/status')]);
  const liveDevices = dv.devices.filter((d) => !d.revoked_at && Date.parse(d.expires_at) > Date.now());
  const activeVisitors = vp.visitor_passes.filter((p) => !endedStates.includes(p.state));
  const consent = face.consents.find((c) => !c.withdrawn_at);
  const row = (k, v) => el('div', { class: 'sum-row' }, el('dt', {}, k), el('dd', {}, v));
  return [
    el('dl', { class: 'summary', id: 'data-summary' },
      row(t('data.name'), me.resident.name),
      row(t('data.unit'), [me.community_name, me.resident.unit_label].filter(Boolean).join(' · ') || '—'),
      me.resident.phone ? row(t('data.phone'), me.resident.phone) : null,
      row(t('data.passkeys'), t('data.passkeysN', { n: pk.passkeys.length, l: pk.passkeys.map((p) => p.name || t('security.passkey')).join(t('list.sep')) })),
      row(t('data.devices'), t('data.devicesN', { n: liveDevices.length })),
      row(t('data.visitors'), t('data.visitorsN', { n: vp.visitor_passes.length, a: activeVisitors.length })),
      row(t('data.consents'), consent ? t('data.faceOn', { t: formatTime(consent.granted_at) }) : t('data.faceOff')),
      row(t('data.entries'), en.entries.length ? t('data.entriesRecent', { t: formatTime(en.entries[0].occurred_at) }) : t('history.none'))),
    el('p', { class: 'muted small' }, t('data.kept')),
  ];
}

// faceCard shows face entry as what it is: optional, with the QR code always there.
async function faceCard(err, reload) {
  const st = await api('GET', '/api/v1/face/status');
  if (!st.offered) return el('p', { class: 'muted' }, t('face.off'));
  const out = [];
  const live = st.consents.find((c) => !c.withdrawn_at);
  const withdraw = confirmStep(el('button', { class: 'btn danger', id: 'face-withdraw', type: 'button' }, t('face.withdraw')),
    t('face.withdrawQ'), t('face.withdrawYes'), async () => {
      try { await api('POST', '/api/v1/face/withdraw'); } catch (e) { fail(err, e); }
      reload();
    });
  if (live) out.push(el('p', {}, t('face.on', { t: formatTime(live.granted_at) })));
  if (live && !live.current_notice) out.push(el('p', { class: 'muted', id: 'face-updated' }, t('face.noticeUpdated')));
  if (live && live.current_notice && live.scope === 'one_gate') out.push(enrolAtGate(st, live, err));
  if (!live || !live.current_notice) {
    if (!live) out.push(el('p', { class: 'muted' }, t('face.optional')));
    const read = el('button', { class: 'btn secondary', id: 'face-read', type: 'button' }, t(live ? 'face.readNew' : 'face.read'));
    read.addEventListener('click', () => busy(read, async () => {
      try {
        const n = await api('GET', `/api/v1/face/notice?lang=${lang()}`);
        const gates = live ? st.gates.filter((g) => g.gate_id === live.gate_id) : st.gates;
        const select = el('select', { id: 'face-gate' }, gates.map((g) => el('option', { value: g.gate_id }, g.gate_name)));
        const agree = el('button', { class: 'btn', id: 'face-agree', type: 'button' }, t('face.agree'));
        agree.addEventListener('click', () => busy(agree, async () => {
          try {
            await stepUp();
            await api('POST', '/api/v1/face/consent', { notice_version: n.version, notice_lang: n.lang, notice_hash: n.hash,
              scope: 'one_gate', gate_id: select.value });
            reload();
          } catch (e) { fail(err, e); }
        }));
        read.replaceWith(el('div', { class: 'notice', id: 'face-notice', lang: n.lang === 'zh' ? 'zh-CN' : 'en' },
          ...markdown(n.text, n.lang === 'zh' ? '' : ' ')),
        ...(gates.length ? [el('label', { for: 'face-gate' }, t('face.gate')), select, agree] : [el('p', { class: 'muted' }, t('face.noGates'))]));
      } catch (e) { fail(err, e); }
    }));
    out.push(read);
  }
  if (live) out.push(withdraw);
  if (st.purges.length) {
    out.push(el('p', { class: 'muted' }, t('face.purges')), el('ul', { class: 'list' }, st.purges.map((p) => el('li', {},
      el('span', {}, p.gate_name), el('span', { class: p.acked ? 'badge' : 'badge off' }, t(p.acked ? 'face.confirmed' : 'face.pending'))))));
  }
  return out;
}

// enrolAtGate offers a one-gate consent's enrolment: the browser cannot run the face
// model, so the resident starts a session and stands at that gate's reader, which makes
// and keeps the template; the page follows the session until the gate confirms.
function enrolAtGate(st, live, err) {
  const gate = st.gates.find((g) => g.gate_id === live.gate_id);
  if (!gate) return null;
  const line = el('p', { id: 'face-enrol-state', role: 'status' });
  if (gate.has_template) line.textContent = t('face.enrolled', { g: gate.gate_name });
  const button = el('button', { class: 'btn', id: 'face-enrol-start', type: 'button' }, t('face.enrolAt', { g: gate.gate_name }));
  button.addEventListener('click', async () => {
    err.textContent = '';
    try {
      const s = await api('POST', '/api/v1/face/enrolment', { gate_id: gate.gate_id });
      button.disabled = true;
      line.textContent = t('face.standAt', { g: gate.gate_name, t: formatTime(s.expires_at) });
      // Followed on the screen's clock: leaving the tab stops the polling.
      const screen = current();
      let n = 0, asking = false;
      screen.every(() => {
        if (button.disabled === false || asking || ++n % 2) return;
        asking = true;
        api('GET', `/api/v1/face/enrolment/${s.id}`).then((now) => {
          if (now.state === 'waiting' || !screen.alive) return;
          button.disabled = false;
          line.textContent = t(now.state === 'enrolled' ? 'face.enrolled' : 'face.enrolAgain', { g: gate.gate_name });
        }).catch((e) => { button.disabled = false; fail(err, e); }).finally(() => { asking = false; });
      });
    } catch (e) { fail(err, e); }
  });
  return el('div', { id: 'face-enrol' }, button, line);
}

function dataTab() {
  const err = errorLine('data-error');
  const sum = el('div', { id: 'summary-box' });
  const face = el('div', { id: 'face-box' });
  const loadFace = () => loadInto(face, () => faceCard(err, loadFace));
  const del = confirmStep(el('button', { class: 'btn danger', id: 'delete-btn', type: 'button' }, t('data.delete')),
    t('data.confirm'), t('data.deleteYes'), async () => {
      err.textContent = '';
      try {
        // Deleting needs a fresh verification with a passkey.
        await stepUp();
        await api('DELETE', '/api/v1/me');
        await forgetHere();
        tabs.hidden = true;
        suspendedAlert(0);
        rerender = () => show(el('h1', {}, t('data.deleted')));
        rerender();
      } catch (e) { fail(err, e); }
    });
  show(el('h1', {}, t('data.title')),
    el('section', { class: 'card' }, el('h2', {}, t('data.held')), sum,
      el('a', { class: 'btn secondary', id: 'export-link', href: '/api/v1/me/export', download: 'gatepass-export.json' }, t('data.export')),
      el('p', { class: 'muted small' }, t('data.exportWhat'))),
    el('section', { class: 'card', id: 'face' }, el('h2', {}, t('face.title')), face),
    el('section', { class: 'card' },
      el('h2', {}, t('data.delete')),
      el('p', { class: 'muted' }, t('data.deleteWarn')), del),
    err);
  loadInto(sum, summary);
  loadFace();
}

// ---- the visitor's page ----

function visitorPage(token) {
  rerender = () => visitorPage(token);
  tabs.hidden = true;
  const base = `/api/v1/visit/${encodeURIComponent(token)}`;
  const keeper = new Keeper(base + '/pass');
  const s = show();
  const info = el('div', { class: 'visit-info', id: 'visit-info' });
  const state = el('p', { class: 'error', id: 'visit-state', role: 'status' });
  let shown = null, left = null, asking = false, n = 0;
  const describe = (v) => {
    const active = v.state === 'active';
    // Entries left and the end only while the pass can still be used: an ended pass
    // says why it ended, nothing else.
    info.replaceChildren(el('p', { class: 'item-title', id: 'visit-label' }, v.label),
      ...(active || v.state === 'not_yet_valid'
        ? [el('p', { class: 'muted', id: 'visit-left' }, t('visit.until', { t: formatTime(v.valid_until) }), ' · ', t('visit.left', { n: v.entries_left }))]
        : []));
    state.textContent = active ? '' : t('visit.' + v.state);
    if (v.state === 'not_yet_valid') state.textContent = t('visit.not_yet_valid', { t: formatTime(v.valid_from) });
  };
  // The page follows the pass: an entry counted (a fresh code at once, so a pass of
  // several entries works from one open page), the end of the pass (no code at all).
  const follow = async () => {
    if (asking) return;
    asking = true;
    try {
      const v = await api('GET', base);
      if (!s.alive) return;
      describe(v);
      if (left !== null && v.entries_left < left) keeper.forceSoon();
      left = v.entries_left;
      if ((v.state === 'active') !== (shown === 'active')) {
        shown = v.state;
        draw(v.state === 'active');
      }
    } catch (e) {
      if (!s.alive) return;
      if (e instanceof APIError) {
        shown = 'gone';
        info.replaceChildren();
        state.textContent = t('err.' + (e.code === 'visitor_link_unknown' ? 'visitor_link_unknown' : 'unknown'));
        draw(false);
      } else if (shown === null) {
        state.textContent = t('err.offlineTab');
      }
    } finally {
      asking = false;
    }
  };
  const passBox = el('div', { hidden: true });
  let pass = null;
  const draw = (active) => {
    passBox.hidden = !active;
    if (!active || pass) return;
    pass = passView(s, { title: null, keeper, when: () => shown === 'active' });
    passBox.replaceChildren(pass.nodes);
    pass.start();
  };
  fill(el('h1', {}, t('visit.title')), info, state, passBox);
  s.every(() => { if (n++ % 4 === 0) follow(); });
}

// ---- start ----

async function start() {
  translatePage();
  langButton.textContent = t('lang.other');
  const visit = /^\/v\/([A-Za-z0-9_-]+)$/.exec(location.pathname);
  if (visit) return visitorPage(visit[1]);
  const invite = /^\/i\/([^/]+)$/.exec(location.pathname);
  if (invite) {
    // The code leaves the address bar and the history at once: no one scrolling the
    // history or looking over a shoulder sees it later.
    history.replaceState(null, '', '/');
    suspendedAlert(0);
    return welcome(decodeURIComponent(invite[1]));
  }
  await loadDevice();
  try {
    const me = await api('GET', '/api/v1/me');
    const who = rememberWho(me);
    communityLine.textContent = who.community;
    suspendedAlert(me.passkeys_suspended);
    tabs.hidden = false;
    selectTab('pass');
    renewOfflinePass().catch(() => {});
  } catch (e) {
    suspendedAlert(0);
    if (e instanceof APIError && e.status === 401) {
      await forgetHere();
      return welcome();
    }
    // No network (or no answer): with an offline pass, the pass is there anyway.
    const who = rememberedWho();
    if (offlineDevice() || who) {
      communityLine.textContent = who?.community || '';
      residentKeeper.problem = e;
      tabs.hidden = false;
      selectTab('pass');
      return;
    }
    rerender = start;
    show(el('h1', {}, t('welcome.title')), el('p', { class: 'error', id: 'start-error' }, offline(e) ? t('err.offlineStart') : t('err.unknown')),
      el('button', { class: 'btn', type: 'button', id: 'start-retry', onclick: start }, t('retry')));
  }
}

if ('serviceWorker' in navigator) navigator.serviceWorker.register('/sw.js').catch(() => {});
// A session that ended elsewhere (signed out everywhere, expired) ends here too, on
// whichever screen: back to the welcome screen, with this phone's offline pass deleted.
onSignedOut(() => {
  if (!tabs.hidden) forgetHere().then(() => welcome());
});
alertLine.addEventListener('click', () => selectTab('security'));
tabs.addEventListener('click', (e) => {
  const b = e.target.closest('button[data-tab]');
  if (b) selectTab(b.dataset.tab);
});
langButton.addEventListener('click', () => {
  setLang(lang() === 'zh' ? 'en' : 'zh');
  langButton.textContent = t('lang.other');
  rerender();
});
window.addEventListener('online', () => { if (!tabs.hidden) renewOfflinePass().catch(() => {}); });
start();
