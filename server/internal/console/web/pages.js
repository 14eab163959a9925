// The console's pages. Each draws into the element it is given and calls the admin API;
// the API decides what the caller may do, the navigation only hides what it would refuse.
import { t } from './i18n.js';
import { get, post, put, call } from './api.js';
import { h, field, select, fmtTime, fmtDate, table, ask } from './dom.js';
import { may, base, showError, state, communityName } from './app.js';
import { lockdownPanel, pausedWebhooks, accessPage, effectiveAccess, passholders, webhooks } from './access.js';
import { letter, cardSheet } from './print.js';

let stream = null; // the Today page's EventSource, closed when the page is left

// gateStatus: online when heard from within two heartbeats, stale within ten minutes.
function gateStatus(g) {
  if (g.disabled_at) return 'disabled';
  if (!g.last_seen_at) return 'never';
  const age = (Date.now() - new Date(g.last_seen_at)) / 1000;
  return age < 90 ? 'online' : age < 600 ? 'stale' : 'offline';
}
const badge = (k) => h('span', { class: 'badge ' + k }, t(k));

// who is the person of an entry as the server resolved it.
function who(e) {
  if (e.resident_name) return [h('strong', {}, e.resident_name), e.unit_label ? ` · ${e.unit_label}` : ''];
  if (e.visitor_label) return `${t('visitor')}: ${e.visitor_label}`;
  if (e.staff_name) return `${t('manual')}: ${e.staff_name}`;
  return '—';
}

function entryRow(e) {
  return h('tr', { 'data-id': e.id, 'data-result': e.result },
    h('td', {}, fmtTime(e.occurred_at)), h('td', {}, e.gate_name || e.gate_id), h('td', { class: 'who' }, who(e)),
    h('td', {}, t(e.method)), h('td', {}, badge(e.result)), h('td', {}, e.reason));
}
const entryHead = () => [t('time'), t('gate'), t('person'), t('method'), t('result'), t('reason')];

// release asks for a reason, opens the gate and shows when the gate confirmed it.
async function release(g, out) {
  const reason = h('input', { name: 'reason', id: 'release-reason', required: true, maxlength: 200 });
  const v = await ask(`${t('release')}: ${g.name}`, field(t('releaseReason'), reason), t('releaseSend'), t('cancel'));
  if (!v) return;
  out.textContent = t('releaseWaiting');
  out.className = 'notice';
  try {
    const cmd = await post(`/admin/v1/gates/${g.id}/unlock`, { reason: v.reason });
    for (let i = 0; i < 60; i++) {
      const c = await get(`/admin/v1/gates/${g.id}/commands/${cmd.command_id}`);
      if (c.acked_at) {
        out.textContent = `${t('releaseConfirmed')} ${new Date(c.acked_at).toLocaleTimeString()} (${g.name})`;
        out.className = 'notice good';
        out.dataset.confirmed = c.acked_at;
        return;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
    out.textContent = t('releaseTimeout');
    out.className = 'notice bad';
  } catch (err) { showError(err, out); }
}

function gateTable(gates, out) {
  return table([t('name'), t('status'), t('lastSync'), t('clockOffset'), t('queue'), t('version'), ''], gates.map((g) => {
    const st = gateStatus(g);
    return h('tr', { 'data-gate': g.id, 'data-status': st },
      h('td', {}, g.name), h('td', {}, badge(st)), h('td', {}, fmtTime(g.last_seen_at)),
      h('td', {}, g.clock_offset_ms == null ? '—' : `${g.clock_offset_ms} ms${g.clock_alarm ? ' ⚠' : ''}`),
      h('td', {}, g.queue_depth == null ? '—' : g.queue_depth), h('td', {}, g.agent_version || '—'),
      h('td', {}, may('gates.operate') && !g.disabled_at ? h('button', { class: 'release', 'data-gate': g.id, onclick: () => release(g, out) }, t('release')) : ''));
  }), { id: 'gates-table' });
}

async function today(el) {
  const out = h('p', { id: 'release-status', role: 'status' });
  const { gates } = await get(base() + '/gates');
  el.append(h('h1', {}, t('today')));
  if (may('access.read')) await lockdownPanel(el, gates);
  if (may('webhooks.manage')) await pausedWebhooks(el);
  el.append(h('h2', {}, t('gatesNow')), gateTable(gates, out), out);
  if (!may('entries.read')) return;
  const live = h('tbody', { id: 'live' });
  el.append(h('div', { class: 'cols' },
    h('section', {}, h('h2', {}, t('liveEntries')), h('table', { class: 'live' }, h('thead', {}, h('tr', {}, entryHead().map((x) => h('th', { scope: 'col' }, x)))), live)),
    h('section', { id: 'anomalies' }, h('h2', {}, t('anomalies')))));
  const { events } = await get(base() + '/events?limit=20');
  for (const e of events) live.append(entryRow(e));
  stream = new EventSource(base() + '/events/stream');
  stream.addEventListener('entry', (m) => {
    const e = JSON.parse(m.data);
    if (live.querySelector(`[data-id="${e.id}"]`)) return;
    const row = entryRow(e);
    row.classList.add('new');
    live.prepend(row);
    while (live.children.length > 50) live.lastChild.remove();
  });
  const { anomalies } = await get(base() + '/anomalies');
  const names = Object.fromEntries(gates.map((g) => [g.id, g.name]));
  document.getElementById('anomalies').append(anomalies.length === 0 ? h('p', {}, t('noAnomalies'))
    : h('ul', {}, anomalies.map((a) => h('li', {}, `${fmtTime(a.last_at)}: ${a.count}× ${a.gates.map((g) => names[g] || g).join(', ')}`))));
}

// units lists the community's units with their buildings, for the resident form.
async function unitOptions() {
  const [{ buildings }, { units }] = await Promise.all([get(base() + '/buildings'), get(base() + '/units')]);
  const bn = Object.fromEntries(buildings.map((b) => [b.id, b.name]));
  return units.map((u) => [u.id, `${bn[u.building_id] || ''} ${u.label}`.trim()]);
}

function residentsTable(list, extra) {
  return table([extra ? '' : null, t('personName'), t('unit'), t('phone'), t('status')].filter((x) => x !== null), list.map((r) => {
    const cells = [h('a', { href: '#/residents/' + r.id }, r.name), r.unit_label || '—', r.phone || '—', t(r.status)];
    return h('tr', { 'data-resident': r.id }, (extra ? [extra(r), ...cells] : cells).map((c) => h('td', {}, c)));
  }), { id: 'residents-table' });
}

async function residentsList(el) {
  const q = h('input', { id: 'res-q', type: 'search', name: 'q', maxlength: 100, placeholder: t('searchResidents') });
  const list = h('div', { id: 'res-list' });
  let cursor = '';
  const load = async (more) => {
    const page = await get(`${base()}/residents?limit=50&q=${encodeURIComponent(q.value)}${more ? '&cursor=' + encodeURIComponent(cursor) : ''}`);
    cursor = page.next_cursor || '';
    const tbl = residentsTable(page.residents);
    if (more) list.querySelector('tbody').append(...tbl.querySelector('tbody').children); else list.replaceChildren(tbl);
    moreBtn.hidden = !cursor;
  };
  const moreBtn = h('button', { class: 'secondary', hidden: true, onclick: () => load(true).catch((e) => showError(e)) }, t('more'));
  el.append(h('h1', {}, t('residents')),
    h('form', { class: 'row', role: 'search', onsubmit: (e) => { e.preventDefault(); load(false).catch((err) => showError(err)); } },
      field(t('searchResidents'), q), h('button', { type: 'submit', id: 'res-search' }, t('search'))), list, moreBtn);
  if (may('residents.edit')) el.append(await newResidentForm());
  if (may('structure.edit')) el.append(await newUnitForm());
  await load(false);
}

// newUnitForm adds a unit (and its building when new), so that a new community can take
// residents from the console alone.
async function newUnitForm() {
  const { buildings } = await get(base() + '/buildings');
  const building = h('input', { id: 'unit-building', required: true, maxlength: 200, list: 'buildings-list' });
  const label = h('input', { id: 'unit-label', required: true, maxlength: 100 });
  const out = h('p', { role: 'status' });
  return h('section', {}, h('h2', {}, t('newUnit')), h('datalist', { id: 'buildings-list' }, buildings.map((b) => h('option', { value: b.name }))),
    h('form', { class: 'grid', id: 'new-unit-form', onsubmit: async (e) => {
      e.preventDefault();
      try {
        let b = buildings.find((x) => x.name === building.value);
        if (!b) b = await post(base() + '/buildings', { name: building.value });
        await post(base() + '/units', { building_id: b.id, label: label.value });
        location.reload();
      } catch (err) { showError(err, out); }
    } }, field(t('building'), building), field(t('unit'), label), h('button', { type: 'submit' }, t('create')), out));
}

async function newResidentForm() {
  const name = h('input', { name: 'name', id: 'new-name', required: true, maxlength: 200 });
  const phone = h('input', { name: 'phone', id: 'new-phone', type: 'tel', maxlength: 40 });
  const unit = select({ name: 'unit_id', id: 'new-unit', required: true }, await unitOptions());
  const role = select({ name: 'role', id: 'new-role' }, ['owner', 'tenant', 'family'].map((r) => [r, t(r)]), 'owner');
  const under = h('input', { type: 'checkbox', name: 'under_14', id: 'new-under14' });
  const status = h('p', { role: 'status' });
  return h('section', {}, h('h2', {}, t('newResident')), h('form', { id: 'new-resident', class: 'grid', onsubmit: async (e) => {
    e.preventDefault();
    try {
      const body = { name: name.value, unit_id: unit.value, role: role.value, under_14: under.checked };
      if (phone.value) body.phone = phone.value;
      const r = await post(base() + '/residents', body);
      showLetter(r, r);
    } catch (err) { showError(err, status); }
  } }, field(t('personName'), name), field(t('phone'), phone), field(t('unit'), unit), field(t('role'), role),
  h('div', { class: 'field check' }, under, h('label', { for: 'new-under14' }, t('under14'))), h('button', { type: 'submit', id: 'new-create' }, t('create')), status));
}

// showLetter replaces the page with the resident's invite letter, ready to print.
function showLetter(resident, invite) {
  const el = document.querySelector('.page');
  el.replaceChildren(h('div', { class: 'noprint actions' },
    h('button', { onclick: () => window.print(), id: 'letter-print' }, t('print')),
    h('a', { href: '#/residents/' + resident.id, class: 'button secondary' }, t('back'))),
  letter(communityName(), resident, invite));
}

// printCards prints a sheet of cards, each {path: the holder's cards endpoint, ...what
// the card shows}. Reprint: the holder's earlier live cards are revoked first.
export async function printCards(el, holders, back) {
  const cards = [];
  for (const { path, ...who } of holders) {
    const { cards: old } = await get(path);
    for (const c of old.filter((x) => !x.revoked_at)) await post(`${path}/${c.id}/revoke`);
    const resp = await call('POST', path);
    const png = URL.createObjectURL(await resp.blob());
    cards.push({ ...who, qr: png, id: resp.headers.get('X-Credential-Id'), expires: resp.headers.get('X-Expires-At') });
  }
  el.replaceChildren(h('div', { class: 'noprint actions' }, h('button', { onclick: () => window.print(), id: 'cards-print' }, t('print')),
    h('a', { href: back, class: 'button secondary' }, t('back'))), cardSheet(communityName(), cards));
}
const residentCards = (el, residents) => printCards(el, residents.map((r) => ({ path: `/admin/v1/residents/${r.id}/cards`, resident: r })), '#/cards');

async function residentDetail(el, id) {
  const r = await get(`${base()}/residents/${id}`);
  const acc = await get(`${base()}/residents/${id}/credentials`);
  const status = h('p', { role: 'status', id: 'resident-status' });
  const actions = h('div', { class: 'actions' });
  if (may('residents.edit') && r.status === 'active') {
    actions.append(h('button', { id: 'print-letter', onclick: async () => {
      try { showLetter(r, await post(`${base()}/residents/${id}/invite`)); } catch (err) { showError(err, status); }
    } }, t('printLetter')));
  }
  if (may('gates.operate') && r.status === 'active') {
    actions.append(h('button', { id: 'print-card', onclick: () => residentCards(el, [r]).catch((err) => showError(err, status)) }, t('printCard')));
  }
  if (may('residents.edit') && r.status === 'active') {
    actions.append(h('button', { id: 'move-out', class: 'danger', onclick: async () => {
      if (!await ask(t('moveOut'), h('p', {}, t('moveOutConfirm')), t('moveOut'), t('cancel'))) return;
      try { await post(`${base()}/residents/${id}/move-out`); status.textContent = t('movedOut'); setTimeout(() => location.reload(), 300); } catch (err) { showError(err, status); }
    } }, t('moveOut')));
  }
  const list = (items, fmt) => (items.length ? h('ul', {}, items.map((x) => h('li', {}, fmt(x)))) : h('p', {}, t('none')));
  const life = (x) => (x.revoked_at ? t('revoked') : `${t('expires')} ${fmtDate(x.expires_at)}`);
  el.append(h('p', { class: 'noprint' }, h('a', { href: '#/residents' }, '← ' + t('residents'))),
    h('h1', { id: 'resident-name' }, r.name),
    h('dl', { class: 'facts' }, h('dt', {}, t('unit')), h('dd', {}, r.unit_label || '—'), h('dt', {}, t('role')), h('dd', {}, r.role ? t(r.role) : '—'),
      h('dt', {}, t('phone')), h('dd', {}, r.phone || '—'), h('dt', {}, t('status')), h('dd', {}, t(r.status))),
    actions, status, h('h2', {}, t('access')),
    h('h3', {}, t('credentialsCards')), list(acc.cards, (c) => `${fmtDate(c.created_at)} · ${life(c)}`),
    h('h3', {}, t('devices')), list(acc.devices, (d) => `${d.label || '—'} · ${life(d)}`),
    h('h3', {}, t('passkeys')), list(acc.passkeys, (p) => `${p.name || '—'} · ${fmtDate(p.created_at)}`),
    h('h3', {}, t('consents')), list(acc.consents, (c) => `${c.scope} · ${fmtDate(c.granted_at)}${c.withdrawn_at ? ' · ' + t('withdrawn') : ''}`));
  if (may('access.read')) await effectiveAccess(el, id);
}

async function residents(el, arg) { return arg ? residentDetail(el, arg) : residentsList(el); }

async function cards(el) {
  const q = h('input', { id: 'cards-q', type: 'search', maxlength: 100 });
  const list = h('div', { id: 'cards-list' });
  let found = [];
  const picked = new Map();
  const load = async () => {
    found = (await get(`${base()}/residents?limit=100&status=active&q=${encodeURIComponent(q.value)}`)).residents;
    list.replaceChildren(residentsTable(found, (r) => h('input', { type: 'checkbox', class: 'pick', 'aria-label': `${t('selectAll')} ${r.name}`,
      checked: picked.has(r.id), onchange: (e) => (e.target.checked ? picked.set(r.id, r) : picked.delete(r.id)) })));
  };
  el.append(h('h1', {}, t('cards')), h('p', {}, t('cardsHelp'), ' ', t('reprintNote')),
    h('form', { class: 'row', role: 'search', onsubmit: (e) => { e.preventDefault(); load().catch((err) => showError(err)); } },
      field(t('searchResidents'), q), h('button', { type: 'submit' }, t('search'))), list,
    h('button', { id: 'batch-print', onclick: () => residentCards(el, [...picked.values()]).catch((err) => showError(err)) }, t('batchPrint')));
  await load();
}

async function gatesPage(el) {
  const out = h('p', { id: 'release-status', role: 'status' });
  const { gates } = await get(base() + '/gates');
  el.append(h('h1', {}, t('gates')), gateTable(gates, out), out);
  if (!may('structure.edit')) return;
  const tbl = el.querySelector('#gates-table');
  for (const tr of tbl.querySelectorAll('tbody tr')) {
    const g = gates.find((x) => x.id === tr.dataset.gate);
    if (g.disabled_at) continue;
    tr.lastChild.append(' ', h('button', { class: 'secondary', onclick: () => gateSettings(g) }, t('settings')), ' ',
      h('button', { class: 'danger', onclick: async () => {
        if (!await ask(t('disable'), h('p', {}, t('disableGateConfirm')), t('disable'), t('cancel'))) return;
        try { await post(`/admin/v1/gates/${g.id}/disable`); location.reload(); } catch (err) { showError(err, out); }
      } }, t('disable')));
  }
  const name = h('input', { id: 'gate-name', required: true, maxlength: 200 });
  const zone = h('input', { id: 'gate-zone', type: 'number', min: 0, max: 63, value: 0, required: true });
  const dir = select({ id: 'gate-dir' }, ['in', 'out', 'both'].map((d) => [d, t(d)]), 'both');
  const result = h('div', { id: 'enroll' });
  el.append(h('h2', {}, t('newGate')), h('form', { class: 'grid', id: 'new-gate', onsubmit: async (e) => {
    e.preventDefault();
    try {
      const g = await post(base() + '/gates', { name: name.value, zone: Number(zone.value), direction: dir.value });
      result.replaceChildren(h('h3', {}, t('enrollTitle')), h('p', {}, t('enrollHelp')),
        h('code', { id: 'enroll-code' }, g.enrollment_code), h('img', { id: 'enroll-qr', src: g.enrollment_qr, alt: t('enrollTitle'), width: 240, height: 240 }));
    } catch (err) { showError(err, result); }
  } }, field(t('name'), name), field(t('zone'), zone), field(t('direction'), dir), h('button', { type: 'submit' }, t('create'))), result);
}

async function gateSettings(g) {
  const cur = (await get(`/admin/v1/gates/${g.id}`)).settings || {};
  const num = (k, min, max) => h('input', { name: k, type: 'number', min, max, value: cur[k] ?? '' });
  const body = h('div', {}, field('skew_seconds', num('skew_seconds', 0, 3600)), field('stale_after_seconds', num('stale_after_seconds', 1, 2592000)),
    field('heartbeat_seconds', num('heartbeat_seconds', 1, 3600)), field('pulse_ms', num('pulse_ms', 1, 30000)),
    field('stale_policy', select({ name: 'stale_policy' }, [['', '—'], ['flag', 'flag'], ['deny', 'deny']], cur.stale_policy || '')));
  const v = await ask(`${t('settings')}: ${g.name}`, body, t('save'), t('cancel'));
  if (!v) return;
  const out = {};
  for (const [k, x] of Object.entries(v)) if (x !== '') out[k] = k === 'stale_policy' ? x : Number(x);
  try { await put(`/admin/v1/gates/${g.id}/settings`, out); } catch (err) { showError(err); }
}

async function entries(el) {
  const { gates } = await get(base() + '/gates');
  const f = {
    from: h('input', { type: 'datetime-local', name: 'from' }), to: h('input', { type: 'datetime-local', name: 'to' }),
    gate_id: select({ name: 'gate_id' }, [['', t('any')], ...gates.map((g) => [g.id, g.name])]),
    result: select({ name: 'result' }, [['', t('any')], ['granted', t('granted')], ['denied', t('denied')]]),
    reason: h('input', { name: 'reason', maxlength: 64 }),
    method: select({ name: 'method' }, [['', t('any')], ['qr', t('qr')], ['face', t('face')], ['manual', t('manual')]]),
    who: h('input', { name: 'who', id: 'entries-who', maxlength: 100 }),
  };
  const params = () => {
    const p = new URLSearchParams();
    for (const [k, c] of Object.entries(f)) {
      if (!c.value) continue;
      p.set(k, k === 'from' || k === 'to' ? new Date(c.value).toISOString() : c.value);
    }
    return p;
  };
  const body = h('tbody', { id: 'entries-body' });
  let next = '';
  const load = async (more) => {
    const p = params();
    p.set('limit', '100');
    if (more) p.set('cursor', next);
    const page = await get(`${base()}/events?${p}`);
    if (!more) body.replaceChildren();
    body.append(...page.events.map(entryRow));
    if (!body.children.length) body.append(h('tr', {}, h('td', { colspan: 6 }, t('noEntries'))));
    next = page.next_cursor || '';
    moreBtn.hidden = !next;
    csv.href = `${base()}/events.csv?${params()}`;
  };
  const moreBtn = h('button', { class: 'secondary', hidden: true, onclick: () => load(true).catch((e) => showError(e)) }, t('more'));
  const csv = h('a', { class: 'button secondary', id: 'entries-csv', download: 'entry-events.csv' }, t('exportCsv'));
  el.append(h('h1', {}, t('entries')), h('form', { class: 'grid filters', onsubmit: (e) => { e.preventDefault(); load(false).catch((err) => showError(err)); } },
    field(t('from'), f.from), field(t('to'), f.to), field(t('gate'), f.gate_id), field(t('result'), f.result), field(t('reason'), f.reason),
    field(t('method'), f.method), field(t('who'), f.who), h('button', { type: 'submit', id: 'entries-filter' }, t('filter')), csv),
  h('table', {}, h('thead', {}, h('tr', {}, entryHead().map((x) => h('th', { scope: 'col' }, x)))), body), moreBtn);
  await load(false);
}

async function visitors(el) {
  const { visitor_passes: list } = await get(base() + '/visitor-passes');
  el.append(h('h1', {}, t('visitors')), list.length === 0 ? h('p', {}, t('noVisitors')) : table([t('label'), t('validUntil'), t('used'), t('status'), ''],
    list.map((v) => [v.label, fmtTime(v.valid_until), `${v.entries_used}/${v.max_entries}`, v.state || (v.revoked_at ? t('revoked') : ''),
      v.revoked_at ? '' : h('button', { class: 'danger', onclick: async () => {
        try { await post(`${base()}/visitor-passes/${v.id}/revoke`); location.reload(); } catch (err) { showError(err); }
      } }, t('revoke'))])));
}

async function face(el) {
  const rep = await get(base() + '/consent-report');
  const c = rep.counts;
  el.append(h('h1', {}, t('face')), h('h2', {}, t('consentReport')),
    h('dl', { class: 'facts', id: 'consent-counts' }, h('dt', {}, t('live')), h('dd', {}, c.live), h('dt', {}, t('withTemplates')), h('dd', {}, c.residents_with_templates),
      h('dt', {}, t('withdrawn')), h('dd', {}, c.ended_withdrawal), h('dt', {}, t('unconfirmedPurges')), h('dd', {}, c.unconfirmed_purges)),
    table([t('name'), t('status'), ''], (rep.residents || []).map((r) => [r.name || r.resident_id, r.scope || '', fmtDate(r.granted_at)])));
  if (!may('structure.edit')) return;
  const name = h('input', { name: 'operator_name', required: true, maxlength: 200 });
  const contact = h('input', { name: 'operator_contact', required: true, maxlength: 200 });
  const out = h('p', { role: 'status' });
  el.append(h('h2', {}, t('faceOperator')), h('form', { class: 'grid', onsubmit: async (e) => {
    e.preventDefault();
    try { await put(base() + '/face-operator', { operator_name: name.value, operator_contact: contact.value }); out.textContent = '✓'; } catch (err) { showError(err, out); }
  } }, field(t('operatorName'), name), field(t('operatorContact'), contact), h('button', { type: 'submit' }, t('save')), out),
  h('button', { class: 'danger', id: 'face-stop', onclick: async () => {
    if (!await ask(t('faceStop'), h('p', {}, t('faceStopConfirm')), t('faceStop'), t('cancel'))) return;
    try { await call('DELETE', base() + '/face-operator'); out.textContent = '✓'; } catch (err) { showError(err, out); }
  } }, t('faceStop')));
}

function inviteBox(inv) {
  return h('div', { class: 'invite', id: 'staff-invite' }, h('h3', {}, t('invite')), h('p', {}, t('inviteOnce')),
    h('input', { readonly: true, value: inv.invite_url || inv.invite_code, 'aria-label': t('invite'), id: 'staff-invite-url', size: 60 }),
    inv.invite_qr ? h('img', { src: inv.invite_qr, alt: t('invite'), width: 200, height: 200 }) : '');
}

async function staff(el) {
  const { staff: list } = await get(base() + '/staff');
  const out = h('div', { id: 'staff-out', role: 'status' });
  el.append(h('h1', {}, t('staff')), table([t('personName'), t('role'), t('status'), ''], list.map((m) => [m.name, t(m.role), m.disabled_at ? t('disabled') : t('active'),
    ((act) => h('span', { class: 'actions' },
      m.disabled_at ? act(t('enable'), async () => { await post(`${base()}/staff/${m.id}/enable`); location.reload(); })
        : act(t('disable'), async () => { await post(`${base()}/staff/${m.id}/disable`); location.reload(); }, 'danger'),
      act(t('invite'), async () => out.replaceChildren(inviteBox(await post(`${base()}/staff/${m.id}/invite`)))),
      act(t('tokens'), async () => {
        const { tokens } = await get(`${base()}/staff/${m.id}/tokens`);
        out.replaceChildren(h('h3', {}, `${t('tokens')}: ${m.name}`), table([t('kind'), t('label'), t('expires'), ''], tokens.map((tk) => [tk.kind, tk.label, fmtDate(tk.expires_at),
          tk.revoked_at ? t('revoked') : act(t('revoke'), async () => { await call('DELETE', `${base()}/staff/${m.id}/tokens/${tk.id}`); location.reload(); }, 'danger')])));
      })))((label, fn, cls) => h('button', { class: cls || 'secondary', 'aria-label': `${label}: ${m.name}`,
      onclick: async () => { try { await fn(); } catch (err) { showError(err, out); } } }, label))])), out);
  const name = h('input', { id: 'staff-name', required: true, maxlength: 200 });
  const role = select({ id: 'staff-role' }, ['guard', 'admin', 'auditor'].map((r) => [r, t(r)]), 'guard');
  el.append(h('h2', {}, t('newStaff')), h('form', { class: 'grid', id: 'new-staff', onsubmit: async (e) => {
    e.preventDefault();
    try { out.replaceChildren(inviteBox(await post(base() + '/staff', { name: name.value, role: role.value, invite: true }))); } catch (err) { showError(err, out); }
  } }, field(t('personName'), name), field(t('role'), role), h('button', { type: 'submit', id: 'staff-create' }, t('create'))));
}

async function audit(el) {
  const out = h('p', { role: 'status', id: 'audit-verify' });
  const { entries: list } = await get(`/admin/v1/audit?community_id=${state.session.community_id}&limit=100`);
  el.append(h('h1', {}, t('audit')), h('button', { id: 'verify-btn', onclick: async () => {
    try {
      const v = await get(base() + '/audit/verify');
      out.textContent = v.intact ? `${t('intact')}: ${v.rows} ${t('rows')}` : `${t('broken')}: ${v.error}`;
      out.className = 'notice ' + (v.intact ? 'good' : 'bad');
    } catch (err) { showError(err, out); }
  } }, t('verify')), out,
  table(['#', t('time'), t('actor'), t('action'), t('target')], list.map((e) => [e.seq, fmtTime(e.at), e.actor, e.action, e.target])));
}

export const pages = {
  today, residents, cards, passholders, gates: gatesPage, access: accessPage, entries, visitors, face, staff, webhooks, audit,
  leave() { if (stream) { stream.close(); stream = null; } },
};
