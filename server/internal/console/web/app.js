// The staff console: sign-in with a passkey, then pages for what the member's role may
// do. Navigation is by the address's fragment (#/today, #/residents/<id>, ...).
import { t, lang, setLang } from './i18n.js';
import { get, post, put, APIError } from './api.js';
import { h } from './dom.js';
import { pages } from './pages.js';

const main = () => document.getElementById('main');
export const state = { session: null };

// The pages in the order of the navigation, each with the action of the permission table
// (internal/access) it needs; the session says which the member may do.
const nav = [
  ['today', 'gates.read'], ['residents', 'residents.read'], ['cards', 'gates.operate'], ['passholders', 'access.read'],
  ['gates', 'gates.read'], ['access', 'access.read'], ['entries', 'entries.read'], ['visitors', 'gates.operate'],
  ['face', 'consent.read'], ['staff', 'staff.manage'], ['webhooks', 'webhooks.read'], ['audit', 'audit.read'],
];

export const may = (action) => !!state.session && (state.session.may || []).includes(action);
export const community = () => state.session && state.session.community_id;
export const base = () => '/admin/v1/communities/' + community();
export function communityName() {
  const c = state.session.communities.find((x) => x.id === state.session.community_id);
  return c ? c.name : '';
}

function say(el, msg, kind) {
  el.textContent = msg;
  el.className = 'notice ' + (kind || '');
}

// showError puts an error where the user is looking; a session that ended sends them to
// the sign-in page.
export function showError(err, where) {
  if (err instanceof APIError && err.status === 401) { state.session = null; route(); return; }
  const msg = err instanceof APIError && err.status === 403 && err.code === 'forbidden' ? t('forbidden') : err.message;
  const el = where || document.getElementById('flash');
  if (el) say(el, `${t('error')}: ${msg}`, 'bad');
}

// showFieldError puts an API validation error next to the field it names: the form's
// element whose data-field is the longest prefix of the error's field ("schedule.mon"
// for "schedule.mon[0]"); an error of no field there goes to status.
export function showFieldError(err, form, status) {
  for (const old of form.querySelectorAll('.field-error')) old.remove();
  for (const bad of form.querySelectorAll('[aria-invalid]')) bad.removeAttribute('aria-invalid');
  if (status) say(status, '');
  const f = err instanceof APIError ? err.field || '' : '';
  const at = [...form.querySelectorAll('[data-field]')].filter((x) => f && (f === x.dataset.field || f.startsWith(x.dataset.field + '.')
    || f.startsWith(x.dataset.field + '['))).sort((a, b) => b.dataset.field.length - a.dataset.field.length)[0];
  if (!at) { showError(err, status); return; }
  const control = at.querySelector('input, select, textarea');
  const note = h('span', { class: 'field-error', role: 'alert', id: (control ? control.id : 'f') + '-error' }, err.message);
  if (control) { control.setAttribute('aria-invalid', 'true'); control.setAttribute('aria-describedby', note.id); }
  at.append(note);
}

function webauthnOK() { return !!(window.PublicKeyCredential && PublicKeyCredential.parseCreationOptionsFromJSON); }

async function signInPage(note) {
  const status = h('p', { role: 'status', id: 'signin-status' }, note || '');
  const btn = h('button', { id: 'signin-btn', type: 'button', onclick: async () => {
    btn.disabled = true; say(status, t('working'));
    try {
      const begin = await post('/console/api/v1/signin/begin');
      const cred = await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(begin.options.publicKey) });
      await post('/console/api/v1/signin/finish', { ceremony: begin.ceremony, credential: cred.toJSON() });
      await boot();
    } catch (err) { btn.disabled = false; say(status, `${t('error')}: ${err.message}`, 'bad'); }
  } }, t('signIn'));
  shell(false);
  main().replaceChildren(h('section', { class: 'signin' }, h('h1', {}, t('signInTitle')), h('p', {}, t('signInText')),
    webauthnOK() ? btn : h('p', { class: 'notice bad' }, t('noWebAuthn')), status));
}

async function invitePage(code) {
  shell(false);
  const status = h('p', { role: 'status', id: 'invite-status' });
  const name = h('input', { id: 'passkey-name', maxlength: 100, autocomplete: 'off' });
  let begin;
  try { begin = await post('/console/api/v1/invite/begin', { invite_code: code }); } catch (err) {
    main().replaceChildren(h('section', { class: 'signin' }, h('h1', {}, t('inviteTitle')), h('p', { class: 'notice bad', id: 'invite-status' }, `${t('error')}: ${err.message}`)));
    return;
  }
  const btn = h('button', { id: 'register-btn', type: 'submit' }, t('register'));
  const form = h('form', { onsubmit: async (e) => {
    e.preventDefault(); btn.disabled = true; say(status, t('working'));
    try {
      const cred = await navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(begin.options.publicKey) });
      await post('/console/api/v1/invite/finish', { ceremony: begin.ceremony, credential: cred.toJSON(), name: name.value });
      history.replaceState(null, '', '/console/#/today');
      await boot();
    } catch (err) { btn.disabled = false; say(status, `${t('error')}: ${err.message}`, 'bad'); }
  } }, h('div', { class: 'field' }, h('label', { for: 'passkey-name' }, t('passkeyName')), name), btn);
  main().replaceChildren(h('section', { class: 'signin' }, h('h1', {}, t('inviteTitle')), h('p', {}, t('inviteText')),
    h('p', {}, `${t('inviteFor')}: `, h('strong', { id: 'invitee' }, begin.name), ` (${t(begin.role)})`), form, status));
}

// shell draws the header (and the navigation when signed in).
function shell(signedIn) {
  const s = state.session;
  const langSel = h('select', { id: 'lang', 'aria-label': t('lang'), onchange: (e) => { setLang(e.target.value); route(); } },
    h('option', { value: 'zh', selected: lang === 'zh' }, '中文'), h('option', { value: 'en', selected: lang === 'en' }, 'English'));
  const right = [h('label', { class: 'lang' }, t('lang'), ' ', langSel)];
  if (signedIn) {
    if (s.operator || s.communities.length > 1) {
      const sel = h('select', { id: 'community', 'aria-label': t('community'), onchange: async (e) => {
        try { await put('/console/api/v1/session/community', { community_id: e.target.value }); await boot(); } catch (err) { showError(err); }
      } }, h('option', { value: '' }, t('chooseCommunity')), s.communities.map((c) => h('option', { value: c.id, selected: c.id === s.community_id }, c.name)));
      right.unshift(h('label', { class: 'lang' }, t('community'), ' ', sel));
    }
    right.push(h('span', { class: 'who', id: 'who' }, `${s.name} · ${t(s.role)}${s.operator ? ' · operator' : ''}`),
      h('button', { class: 'secondary', id: 'signout', onclick: () => signOut('/console/api/v1/signout') }, t('signOut')),
      h('button', { class: 'secondary', id: 'signout-all', onclick: () => signOut('/console/api/v1/signout/everywhere') }, t('signOutAll')));
  }
  const cname = signedIn && s.communities.find((c) => c.id === s.community_id);
  document.title = t('title');
  document.querySelector('.skip').textContent = t('skip');
  document.getElementById('top').replaceChildren(h('span', { class: 'brand' }, 'gatepass'),
    h('span', { class: 'cname', id: 'community-name' }, cname ? cname.name : ''), h('span', { class: 'spacer' }), ...right);
  const n = document.getElementById('nav');
  n.replaceChildren();
  if (!signedIn) return;
  const here = (location.hash.match(/^#\/([a-z]+)/) || [])[1] || 'today';
  n.append(h('ul', {}, nav.filter(([, a]) => community() && may(a)).map(([p]) =>
    h('li', {}, h('a', { href: '#/' + p, id: 'nav-' + p, 'aria-current': p === here ? 'page' : undefined }, t(p))))));
}

async function signOut(path) {
  try { await post(path); } catch { /* already signed out */ }
  state.session = null;
  signInPage(t('signedOutIdle'));
}

// route draws the page of the address.
export async function route() {
  const m = location.hash.match(/^#invite=(.+)$/);
  if (m) return invitePage(decodeURIComponent(m[1]));
  if (!state.session) return signInPage();
  shell(true);
  const [, page, arg] = location.hash.match(/^#\/([a-z]+)(?:\/(.+))?/) || [];
  const allowed = nav.filter(([, a]) => may(a)).map(([p]) => p);
  const name = allowed.includes(page) ? page : allowed[0];
  const flash = h('p', { id: 'flash', role: 'status' });
  const body = h('div', { class: 'page', id: 'page-' + (name || 'none') });
  main().replaceChildren(flash, body);
  if (!community()) { body.append(h('p', {}, t('chooseCommunity'))); return; }
  if (!name) { body.append(h('p', {}, t('forbidden'))); return; }
  try { await pages[name](body, arg); } catch (err) { showError(err, flash); }
}

async function boot() {
  try {
    state.session = await get('/console/api/v1/session');
  } catch (err) {
    state.session = null;
    if (!(err instanceof APIError && err.status === 401)) throw err;
  }
  await route();
}

window.addEventListener('hashchange', () => { if (pages.leave) pages.leave(); route(); });
boot().catch((err) => { main().replaceChildren(h('p', { class: 'notice bad' }, err.message)); });
