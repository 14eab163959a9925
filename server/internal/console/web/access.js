// Who may enter where and when (issue 16's admin API) and the signed webhooks: lockdowns
// on Today, the Access page (settings, zones, groups with schedules and holidays,
// policies), passholders with their printed cards, and the webhook endpoints.
import { t, lang } from './i18n.js';
import { get, post, put, call } from './api.js';
import { h, field, select, fmtTime, fmtDate, table, ask } from './dom.js';
import { may, base, showError, showFieldError } from './app.js';
import { printCards } from './pages.js';
import { scheduleWords } from './print.js';

// labelled is a form field that API errors naming `name` are shown beside.
function labelled(name, label, control) {
  const f = field(label, control);
  f.dataset.field = name;
  return f;
}

// submitForm makes a form whose submit runs fn, with the API's validation errors shown
// next to their fields.
function submitForm(attrs, fn, ...children) {
  const status = h('p', { role: 'status', class: 'form-status' });
  const form = h('form', { ...attrs, onsubmit: async (e) => {
    e.preventDefault();
    try { await fn(); } catch (err) { showFieldError(err, form, status); }
  } }, ...children, status);
  return form;
}

const zoneName = (zones, n) => { const z = zones.find((x) => x.zone === n); return z && z.name ? `${n} ${z.name}` : String(n); };
const zoneList = (zones, ns) => (ns && ns.length ? ns.map((n) => zoneName(zones, n)).join(', ') : t('perimeterOnly'));
const numbers = (s) => s.split(/[\s,，]+/).filter(Boolean).map(Number);

// --- Today: lockdowns and paused webhook endpoints ---

function lockdownScope(l, gates, zones) {
  if (l.scope === 'community') return t('wholeCommunity');
  if (l.scope === 'zone') return `${t('zone')} ${zoneName(zones, l.zone)}`;
  const g = gates.find((x) => x.id === l.gate_id);
  return `${t('gate')} ${g ? g.name : l.gate_id}`;
}

// lockdownPanel shows the lockdowns in force at the top of Today, each with a Lift
// button, and a Start button for those who may (guards and admins).
export async function lockdownPanel(el, gates) {
  const [{ lockdowns }, { zones }] = await Promise.all([get(base() + '/lockdowns'), get(base() + '/zones')]);
  const status = h('p', { role: 'status', id: 'lockdown-status' });
  const act = may('lockdown.manage');
  const sec = h('section', { id: 'lockdowns', class: lockdowns.length ? 'lockdown-on' : '' }, h('h2', {}, t('lockdowns')));
  if (!lockdowns.length) sec.append(h('p', { id: 'no-lockdown' }, t('noLockdown')));
  else {
    sec.append(table([t('scope'), t('reason'), t('since'), t('autoEnd'), ''], lockdowns.map((l) => h('tr', { 'data-lockdown': l.id },
      h('td', {}, h('strong', {}, lockdownScope(l, gates, zones))), h('td', {}, l.reason), h('td', {}, fmtTime(l.started_at)),
      h('td', {}, l.ends_at ? fmtTime(l.ends_at) : t('untilLifted')),
      h('td', {}, act ? h('button', { class: 'danger lift', 'data-lockdown': l.id, onclick: async () => {
        if (!await ask(t('liftLockdown'), h('p', {}, `${t('liftConfirm')} ${lockdownScope(l, gates, zones)}: ${l.reason}`), t('liftLockdown'), t('cancel'))) return;
        try { await post(`${base()}/lockdowns/${l.id}/lift`); location.reload(); } catch (err) { showError(err, status); }
      } }, t('liftLockdown')) : '')))));
  }
  if (act) sec.append(h('button', { id: 'lockdown-start', class: 'danger', onclick: () => startLockdown(gates, zones, status) }, t('startLockdown')));
  sec.append(status);
  el.append(sec);
}

async function startLockdown(gates, zones, status) {
  const scope = select({ name: 'scope', id: 'ld-scope' }, ['community', 'zone', 'gate'].map((s) => [s, t('scope_' + s)]), 'community');
  const zone = select({ name: 'zone', id: 'ld-zone' }, (zones.length ? zones : [{ zone: 0 }]).map((z) => [String(z.zone), zoneName(zones, z.zone)]));
  const gate = select({ name: 'gate_id', id: 'ld-gate' }, gates.map((g) => [g.id, g.name]));
  const reason = h('input', { name: 'reason', id: 'ld-reason', required: true, maxlength: 200 });
  const minutes = h('input', { name: 'duration_minutes', id: 'ld-minutes', type: 'number', min: 1, max: 10080 });
  // Only the field the scope needs is shown.
  const zf = field(t('zone'), zone);
  const gf = field(t('gate'), gate);
  const sync = () => { zf.hidden = scope.value !== 'zone'; gf.hidden = scope.value !== 'gate'; };
  scope.addEventListener('change', sync);
  sync();
  const v = await ask(t('startLockdown'), h('div', {}, field(t('scope'), scope), zf, gf,
    field(t('reason'), reason), field(t('autoEndMinutes'), minutes)), t('startLockdown'), t('cancel'));
  if (!v) return;
  const body = { scope: v.scope, reason: v.reason };
  if (v.scope === 'zone') body.zone = Number(v.zone);
  if (v.scope === 'gate') body.gate_id = v.gate_id;
  if (v.duration_minutes) body.duration_minutes = Number(v.duration_minutes);
  try { await post(base() + '/lockdowns', body); location.reload(); } catch (err) { showError(err, status); }
}

// pausedWebhooks tells admins on Today which endpoints stopped receiving events.
export async function pausedWebhooks(el) {
  const paused = (await get(base() + '/webhooks')).webhooks.filter((w) => w.state === 'paused');
  if (!paused.length) return;
  el.append(h('section', { id: 'paused-webhooks', class: 'notice bad' }, h('strong', {}, t('webhooksPaused')),
    h('ul', {}, paused.map((w) => h('li', {}, `${w.url}: ${w.paused_reason || ''} (${fmtTime(w.paused_at)}) `,
      h('a', { href: '#/webhooks' }, t('webhooks')))))));
}

// --- The Access page ---

const days = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const windowsText = (ws) => (ws || []).map((w) => `${w.start}-${w.end}`).join(', ');
// windowsIn reads "08:00-12:00, 14:00-18:00"; what is not a window goes to the API as
// typed, whose error names it.
const windowsIn = (s) => s.split(/[,，;]/).map((x) => x.trim()).filter(Boolean).map((x) => {
  const [start, end] = x.split(/[-–~]/).map((y) => y.trim());
  return { start, end };
});

export async function accessPage(el) {
  const edit = may('access.edit');
  const [settings, { buildings }, { zones }, { access_groups: groups }, { access_policies: policies }, { units }] = await Promise.all([
    get(base() + '/access-settings'), get(base() + '/buildings'), get(base() + '/zones'), get(base() + '/access-groups'),
    get(base() + '/access-policies'), get(base() + '/units')]);
  el.append(h('h1', {}, t('access')), settingsSection(settings, edit), buildingsSection(buildings, zones, edit),
    groupsSection(groups, zones, edit), await policiesSection(policies, groups, buildings, units, edit));
}

function settingsSection(s, edit) {
  const policies = ['accept_all_verifiable', 'cards_and_device_passes_only', 'manual_release_only'];
  if (!edit) {
    return h('section', { id: 'access-settings' }, h('h2', {}, t('accessSettings')), h('dl', { class: 'facts' },
      h('dt', {}, t('timeZone')), h('dd', {}, s.time_zone), h('dt', {}, t('offlineLimit')), h('dd', {}, `${Math.round(s.offline_limit_seconds / 60)} min`),
      h('dt', {}, t('offlinePolicy')), h('dd', {}, t(s.offline_policy))));
  }
  const tz = h('input', { id: 'set-tz', required: true, maxlength: 64, value: s.time_zone });
  const limit = h('input', { id: 'set-limit', type: 'number', required: true, min: 1, value: Math.round(s.offline_limit_seconds / 60) });
  const pol = select({ id: 'set-policy' }, policies.map((p) => [p, t(p)]), s.offline_policy);
  return h('section', { id: 'access-settings' }, h('h2', {}, t('accessSettings')), h('p', { class: 'small' }, t('offlineHelp')),
    submitForm({ class: 'grid', id: 'settings-form' }, async () => {
      await put(base() + '/access-settings', { time_zone: tz.value, offline_limit_seconds: Number(limit.value) * 60, offline_policy: pol.value });
      location.reload();
    }, labelled('time_zone', t('timeZone'), tz), labelled('offline_limit_seconds', t('offlineLimitMinutes'), limit),
    labelled('offline_policy', t('offlinePolicy'), pol), h('button', { type: 'submit' }, t('save'))));
}

function buildingsSection(buildings, zones, edit) {
  return h('section', { id: 'access-buildings' }, h('h2', {}, t('buildingsZones')), h('p', { class: 'small' }, t('zonesHelp')),
    table([t('building'), t('zones'), ''], buildings.map((b) => {
      const z = h('input', { value: b.zones.join(', '), 'aria-label': `${t('zones')}: ${b.name}`, size: 12 });
      return [b.name, edit ? submitForm({ class: 'row' }, async () => {
        await put(`${base()}/buildings/${b.id}`, { zones: numbers(z.value) });
        location.reload();
      }, h('span', { 'data-field': 'zones' }, z), h('button', { type: 'submit', class: 'secondary' }, t('save'))) : zoneList(zones, b.zones), ''];
    })), zones.length ? h('p', { class: 'small' }, `${t('zones')}: ${zones.map((z) => zoneName(zones, z.zone)).join(' · ')}`) : '');
}

function groupsSection(groups, zones, edit) {
  const holder = h('div', { id: 'group-editor' });
  const sec = h('section', { id: 'access-groups' }, h('h2', {}, t('accessGroups')),
    groups.length ? table([t('name'), t('zones'), t('schedule'), t('holidays'), ''], groups.map((g) => h('tr', { 'data-group': g.id },
      h('td', {}, g.name), h('td', {}, zoneList(zones, g.zones)), h('td', {}, scheduleWords(g.schedule, lang)),
      h('td', {}, g.holidays.map((d) => `${d.date}${d.name ? ' ' + d.name : ''}`).join(', ') || '—'),
      h('td', {}, edit ? h('span', { class: 'actions' },
        h('button', { class: 'secondary', 'aria-label': `${t('edit')}: ${g.name}`, onclick: () => holder.replaceChildren(groupForm(g)) }, t('edit')),
        h('button', { class: 'danger', 'aria-label': `${t('delete')}: ${g.name}`, onclick: async () => {
          if (!await ask(t('delete'), h('p', {}, `${t('deleteGroupConfirm')} ${g.name}`), t('delete'), t('cancel'))) return;
          try { await call('DELETE', `${base()}/access-groups/${g.id}`); location.reload(); } catch (err) { showError(err); }
        } }, t('delete'))) : ''))), { id: 'groups-table' }) : h('p', { id: 'groups-table' }, t('noGroups')), holder);
  if (edit) holder.append(groupForm(null));
  return sec;
}

// groupForm creates a group (g null) or edits one: name, zones, the week's windows and
// the holidays, one per line ("2026-10-01 National Day 09:00-12:00"; no times: closed).
function groupForm(g) {
  const name = h('input', { id: 'group-name', required: true, maxlength: 100, value: g ? g.name : '' });
  const zones = h('input', { id: 'group-zones', value: g ? g.zones.join(', ') : '0' });
  const dayInputs = days.map((d) => h('input', { id: 'group-' + d, placeholder: '08:00-18:00', value: g && g.schedule ? windowsText(g.schedule[d]) : '' }));
  const holidays = h('textarea', { id: 'group-holidays', rows: 3, cols: 50 },
    g ? g.holidays.map((x) => `${x.date}${x.name ? ' ' + x.name : ''}${x.windows.length ? ' ' + windowsText(x.windows) : ''}`).join('\n') : '');
  const save = async () => {
    const body = { name: name.value, zones: numbers(zones.value), holidays: [] };
    if (dayInputs.some((i) => i.value.trim())) {
      body.schedule = {};
      days.forEach((d, i) => { if (dayInputs[i].value.trim()) body.schedule[d] = windowsIn(dayInputs[i].value); });
    }
    for (const line of holidays.value.split('\n').map((x) => x.trim()).filter(Boolean)) {
      const [date, ...rest] = line.split(/\s+/);
      const times = rest.filter((x) => /^\d{1,2}:\d{2}/.test(x));
      body.holidays.push({ date, name: rest.filter((x) => !times.includes(x)).join(' '), windows: windowsIn(times.join(',')) });
    }
    if (g) await put(`${base()}/access-groups/${g.id}`, body); else await post(base() + '/access-groups', body);
    location.reload();
  };
  return h('div', {}, h('h2', {}, g ? `${t('editGroup')}: ${g.name}` : t('newGroup')), h('p', { class: 'small' }, t('scheduleHelp')),
    submitForm({ class: 'grid', id: 'group-form' }, save, labelled('name', t('name'), name), labelled('zones', t('zonesNumbers'), zones),
      days.map((d, i) => labelled('schedule.' + d, t('day_' + d), dayInputs[i])),
      h('div', { class: 'field wide', 'data-field': 'holidays' }, h('label', { for: 'group-holidays' }, t('holidaysHelp')), holidays),
      h('button', { type: 'submit', id: 'group-save' }, g ? t('save') : t('create'))));
}

async function policiesSection(policies, groups, buildings, units, edit) {
  const gname = Object.fromEntries(groups.map((g) => [g.id, g.name]));
  const bname = Object.fromEntries(buildings.map((b) => [b.id, b.name]));
  const targets = {
    building: buildings.map((b) => [b.id, b.name]),
    unit: units.map((u) => [u.id, `${bname[u.building_id] || ''} ${u.label}`.trim()]),
  };
  const names = Object.fromEntries([...targets.building, ...targets.unit]);
  const sec = h('section', { id: 'access-policies' }, h('h2', {}, t('policies')), h('p', { class: 'small' }, t('policiesHelp')),
    table([t('level'), t('policyTarget'), t('accessGroups'), t('mode'), ''], policies.map((p) => [t('level_' + p.level), names[p.target_id] || p.target_id,
      p.group_ids.map((id) => gname[id] || id).join(', ') || '—', p.inherit ? t('widen') : t('narrow'),
      edit ? h('button', { class: 'danger', 'aria-label': `${t('delete')}: ${names[p.target_id] || p.target_id}`, onclick: async () => {
        try { await call('DELETE', `${base()}/access-policies/${p.level}/${p.target_id}`); location.reload(); } catch (err) { showError(err); }
      } }, t('delete')) : ''])));
  if (!edit) return sec;
  const level = select({ id: 'pol-level' }, ['building', 'unit'].map((l) => [l, t('level_' + l)]), 'building');
  const target = select({ id: 'pol-target' }, targets.building);
  level.addEventListener('change', () => target.replaceChildren(...targets[level.value].map(([v, x]) => h('option', { value: v }, x))));
  const gsel = select({ id: 'pol-groups', multiple: true, size: Math.min(5, Math.max(2, groups.length)) }, groups.map((g) => [g.id, g.name]));
  const mode = select({ id: 'pol-mode' }, [['true', t('widen')], ['false', t('narrow')]], 'true');
  sec.append(h('h3', {}, t('setPolicy')), submitForm({ class: 'grid', id: 'policy-form' }, async () => {
    await put(`${base()}/access-policies/${level.value}/${target.value}`, { group_ids: [...gsel.selectedOptions].map((o) => o.value), inherit: mode.value === 'true' });
    location.reload();
  }, labelled('level', t('level'), level), labelled('target', t('policyTarget'), target), labelled('group_ids', t('accessGroups'), gsel),
  labelled('inherit', t('mode'), mode), h('button', { type: 'submit' }, t('save'))));
  return sec;
}

// effectiveAccess is what a resident opens now and through which groups (the resident
// page); admins set the resident's own policy there.
export async function effectiveAccess(el, id) {
  const ra = await get(`${base()}/residents/${id}/access`);
  const { zones } = await get(base() + '/zones');
  el.append(h('section', { id: 'effective-access' }, h('h2', {}, t('effectiveAccess')),
    h('p', {}, `${t('zones')}: `, h('strong', { id: 'effective-zones' }, zoneList(zones, ra.zones))),
    table([t('accessGroups'), t('zones'), t('schedule')], ra.groups.map((g) => [g.building_default ? `${t('buildingDefault')}` : g.name,
      zoneList(zones, g.zones), scheduleWords(g.schedule, lang)]))));
  if (!may('access.edit')) return;
  const { access_groups: groups } = await get(base() + '/access-groups');
  const gsel = select({ id: 'res-pol-groups', multiple: true, size: Math.min(5, Math.max(2, groups.length)) }, groups.map((g) => [g.id, g.name]));
  const mode = select({ id: 'res-pol-mode' }, [['true', t('widen')], ['false', t('narrow')]], 'true');
  el.querySelector('#effective-access').append(h('h3', {}, t('residentPolicy')), submitForm({ class: 'grid', id: 'resident-policy' }, async () => {
    await put(`${base()}/access-policies/resident/${id}`, { group_ids: [...gsel.selectedOptions].map((o) => o.value), inherit: mode.value === 'true' });
    location.reload();
  }, labelled('group_ids', t('accessGroups'), gsel), labelled('inherit', t('mode'), mode), h('button', { type: 'submit' }, t('save'))));
}

// --- Passholders ---

export async function passholders(el) {
  const [{ passholders: list }, { access_groups: groups }] = await Promise.all([get(base() + '/passholders'), get(base() + '/access-groups')]);
  const byId = Object.fromEntries(groups.map((g) => [g.id, g]));
  const status = h('p', { role: 'status', id: 'passholder-status' });
  const live = (p) => !p.ended_at && (!p.valid_until || new Date(p.valid_until) > new Date());
  el.append(h('h1', {}, t('passholders')), h('p', {}, t('passholdersHelp'), ' ', t('reprintPass')),
    list.length ? table([t('personName'), t('kind'), t('company'), t('group'), t('validUntil'), t('status'), ''], list.map((p) => h('tr', { 'data-passholder': p.id },
      [p.name, t('kind_' + p.kind), p.company || '—', byId[p.group_id] ? byId[p.group_id].name : '—', p.valid_until ? fmtDate(p.valid_until) : '—',
        live(p) ? t('valid') : t('ended'),
        live(p) ? h('span', { class: 'actions' },
          may('gates.operate') ? h('button', { class: 'print-pass', 'aria-label': `${t('printCard')}: ${p.name}`, onclick: () =>
            printCards(el, [{ path: `${base()}/passholders/${p.id}/cards`, passholder: p, group: byId[p.group_id] }], '#/passholders')
              .catch((err) => showError(err, status)) }, t('printCard')) : '',
          may('access.edit') ? h('button', { class: 'danger', 'aria-label': `${t('end')}: ${p.name}`, onclick: async () => {
            if (!await ask(t('end'), h('p', {}, `${t('endConfirm')} ${p.name}`), t('end'), t('cancel'))) return;
            try { await post(`${base()}/passholders/${p.id}/end`); location.reload(); } catch (err) { showError(err, status); }
          } }, t('end')) : '') : ''].map((c) => h('td', {}, c)))), { id: 'passholders-table' })
      : h('p', { id: 'passholders-table' }, t('noPassholders')), status);
  if (!may('access.edit')) return;
  const name = h('input', { id: 'ph-name', required: true, maxlength: 200 });
  const kind = select({ id: 'ph-kind' }, ['cleaner', 'courier', 'contractor', 'staff'].map((k) => [k, t('kind_' + k)]), 'cleaner');
  const company = h('input', { id: 'ph-company', maxlength: 200 });
  const group = select({ id: 'ph-group', required: true }, groups.filter((g) => !g.building_default).map((g) => [g.id, g.name]));
  const until = h('input', { id: 'ph-until', type: 'date' });
  el.append(h('h2', {}, t('newPassholder')), submitForm({ class: 'grid', id: 'new-passholder' }, async () => {
    const body = { name: name.value, kind: kind.value, company: company.value, group_id: group.value };
    if (until.value) body.valid_until = new Date(until.value + 'T23:59:59').toISOString();
    await post(base() + '/passholders', body);
    location.reload();
  }, labelled('name', t('personName'), name), labelled('kind', t('kind'), kind), labelled('company', t('company'), company),
  labelled('group_id', t('group'), group), labelled('valid_until', t('validUntil'), until), h('button', { type: 'submit', id: 'ph-create' }, t('create'))));
}

// --- Webhooks ---

const eventTypes = ['entry.created', 'anomaly.reuse', 'gate.offline', 'gate.online', 'lockdown.changed', 'resident.moved_out'];

function eventBoxes(prefix, chosen) {
  return h('fieldset', { class: 'events', 'data-field': 'events' }, h('legend', {}, t('events')), eventTypes.map((ev) => {
    const id = `${prefix}-${ev.replace(/\W/g, '-')}`;
    return h('span', { class: 'field check' }, h('input', { type: 'checkbox', name: 'events', value: ev, id, checked: chosen.includes(ev) }), h('label', { for: id }, ev));
  }));
}
const checkedEvents = (root) => [...root.querySelectorAll('input[name=events]:checked')].map((x) => x.value);

// secretBox shows a new secret once, with a copy button.
function secretBox(w) {
  const input = h('input', { readonly: true, value: w.secret, id: 'webhook-secret', 'aria-label': t('secret'), size: 50 });
  const note = h('span', { role: 'status' });
  return h('div', { class: 'invite', id: 'webhook-secret-box' }, h('h3', {}, `${t('secret')}: ${w.url}`), h('p', {}, t('secretOnce')), input, ' ',
    h('button', { type: 'button', id: 'webhook-copy', class: 'secondary', onclick: async () => {
      input.select();
      try { await navigator.clipboard.writeText(w.secret); note.textContent = t('copied'); } catch { note.textContent = t('copyByHand'); }
    } }, t('copy')), ' ', note);
}

export async function webhooks(el) {
  const manage = may('webhooks.manage');
  const { webhooks: list } = await get(base() + '/webhooks');
  const out = h('div', { id: 'webhook-out' });
  const act = (w, label, fn, cls) => h('button', { class: cls || 'secondary', 'aria-label': `${label}: ${w.url}`,
    onclick: async () => { try { await fn(); } catch (err) { showError(err, out); } } }, label);
  const rows = list.map((w) => h('tr', { 'data-webhook': w.id, 'data-state': w.state },
    h('td', {}, h('code', {}, w.url), w.description ? h('div', { class: 'small' }, w.description) : ''),
    h('td', {}, w.events.join(', ')),
    h('td', {}, h('span', { class: 'badge ' + (w.state === 'paused' ? 'denied' : 'granted') }, t('wh_' + w.state)),
      w.paused_reason ? h('div', { class: 'small' }, w.paused_reason) : '',
      w.previous_secret_expires_at ? h('div', { class: 'small' }, `${t('oldSecretUntil')} ${fmtTime(w.previous_secret_expires_at)}`) : ''),
    h('td', {}, h('span', { class: 'actions' },
      act(w, t('deliveries'), () => deliveries(w, out)),
      manage ? [
        act(w, t('editEvents'), () => { out.replaceChildren(editWebhook(w)); }),
        act(w, t('rotateSecret'), async () => {
          const overlap = h('input', { name: 'overlap', id: 'wh-overlap', value: '24h', required: true, maxlength: 10 });
          const v = await ask(`${t('rotateSecret')}: ${w.url}`, h('div', {}, h('p', {}, t('rotateHelp')), field(t('overlap'), overlap)), t('rotateSecret'), t('cancel'));
          if (v) out.replaceChildren(secretBox(await post(`${base()}/webhooks/${w.id}/rotate-secret`, { overlap: v.overlap })));
        }),
        w.state === 'paused' ? act(w, t('resume'), async () => { await post(`${base()}/webhooks/${w.id}/resume`); location.reload(); }) : '',
        act(w, t('ping'), async () => { await post(`${base()}/webhooks/${w.id}/ping`); out.replaceChildren(h('p', { class: 'notice good' }, t('pingQueued'))); }),
        act(w, t('delete'), async () => {
          if (!await ask(t('delete'), h('p', {}, `${t('deleteWebhookConfirm')} ${w.url}`), t('delete'), t('cancel'))) return;
          await call('DELETE', `${base()}/webhooks/${w.id}`); location.reload();
        }, 'danger')] : ''))));
  el.append(h('h1', {}, t('webhooks')), h('p', {}, t('webhooksHelp')),
    list.length ? table([t('url'), t('events'), t('status'), ''], rows, { id: 'webhooks-table' }) : h('p', { id: 'webhooks-table' }, t('noWebhooks')), out);
  if (!manage) return;
  const url = h('input', { id: 'wh-url', type: 'url', required: true, maxlength: 2000, placeholder: 'https://' });
  const desc = h('input', { id: 'wh-desc', maxlength: 200 });
  const boxes = eventBoxes('wh-new', ['entry.created', 'lockdown.changed']);
  el.append(h('h2', {}, t('newWebhook')), submitForm({ class: 'grid', id: 'new-webhook' }, async () => {
    const w = await post(base() + '/webhooks', { url: url.value, description: desc.value, events: checkedEvents(boxes) });
    el.querySelector('#new-webhook').reset();
    out.replaceChildren(secretBox(w));
  }, labelled('url', t('url'), url), labelled('description', t('description'), desc), boxes, h('button', { type: 'submit', id: 'wh-create' }, t('create'))));
}

function editWebhook(w) {
  const desc = h('input', { id: 'wh-edit-desc', maxlength: 200, value: w.description || '' });
  const boxes = eventBoxes('wh-edit', w.events);
  return h('div', {}, h('h3', {}, `${t('editEvents')}: ${w.url}`), submitForm({ class: 'grid', id: 'edit-webhook' }, async () => {
    await call('PATCH', `${base()}/webhooks/${w.id}`, { description: desc.value, events: checkedEvents(boxes) });
    location.reload();
  }, labelled('description', t('description'), desc), boxes, h('button', { type: 'submit' }, t('save'))));
}

async function deliveries(w, out) {
  const { deliveries: list } = await get(`${base()}/webhooks/${w.id}/deliveries?limit=50`);
  out.replaceChildren(h('h3', {}, `${t('deliveries')}: ${w.url}`), list.length === 0 ? h('p', { id: 'deliveries' }, t('none'))
    : table([t('time'), t('event'), '#', t('httpStatus'), t('latency'), t('status'), t('error')], list.map((d) => [fmtTime(d.at), d.event_type, d.attempt,
      d.status_code ?? '—', `${d.latency_ms} ms`, t('dl_' + d.delivery_state), d.error || '']), { id: 'deliveries' }));
}
