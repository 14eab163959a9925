// What is printed and handed to residents: the A5 invite letter and credit-card-size
// cards. Both are bilingual whatever the console's language: the resident reads them.
import { both } from './i18n.js';
import { h } from './dom.js';

const steps = {
  zh: ['用手机相机扫描右侧二维码，打开住户应用（已自动填好邀请码）。', '按提示用指纹、面容或锁屏密码创建通行密钥。', '到门口时打开应用，把二维码对准门禁扫描器。'],
  en: ['Scan the QR code with your phone\'s camera: the resident app opens with your invite filled in.',
    'Follow the prompt to create a passkey with your fingerprint, face or screen lock.',
    'At the gate, open the app and hold its QR code to the reader.'],
};

export function letter(community, resident, invite) {
  return h('article', { class: 'letter', id: 'letter' },
    h('header', {}, h('p', { class: 'community' }, community), h('h1', {}, '住户邀请函 · Resident invitation')),
    h('p', { class: 'to' }, h('strong', {}, resident.name), resident.unit_label ? ` · ${both('unit')}: ${resident.unit_label}` : ''),
    h('div', { class: 'letter-body' },
      h('ol', { class: 'steps' }, steps.zh.map((s, i) => h('li', {}, h('span', { lang: 'zh-CN' }, s), h('br'), h('span', { lang: 'en', class: 'en' }, steps.en[i])))),
      invite.invite_qr ? h('img', { id: 'letter-qr', class: 'qr', src: invite.invite_qr, alt: 'QR', width: 200, height: 200 }) : ''),
    h('p', { class: 'short' }, '无法扫码？在应用中输入邀请码 · Cannot scan? Type this code in the app: ',
      h('code', { id: 'letter-code' }, invite.invite_short_code)),
    invite.invite_url ? h('p', { class: 'small' }, invite.invite_url.replace(/\/i\/.*/, '/')) : '',
    h('p', { class: 'small' }, `有效期至 · Valid until: ${new Date(invite.invite_expires_at).toLocaleString()}`),
    h('p', { class: 'small' }, '不想用手机？可到物业办理门卡，或由保安人工放行。No smartphone? Ask the property office for a card; a guard can always let you in.'));
}

// cardFace is the credit-card layout every printed card shares: the community, a name,
// the lines that say who the holder is, the validity, the instructions and the QR.
function cardFace(community, c, name, lines) {
  return h('div', { class: 'card', 'data-card': c.id },
    h('div', { class: 'card-text' },
      h('p', { class: 'community' }, community),
      h('p', { class: 'name' }, name), lines.map((l) => h('p', { class: l.class || '' }, l.text)),
      h('p', { class: 'small' }, `有效期至 Valid until ${new Date(c.expires).toLocaleDateString()}`),
      h('p', { class: 'small' }, '将二维码对准门禁扫描器 · Hold the code to the gate reader'),
      h('p', { class: 'small' }, '遗失请告知物业 · If lost, tell the property office')),
    h('img', { class: 'card-qr', src: c.qr, alt: 'QR', width: 150, height: 150 }));
}

export function card(community, c) {
  if (c.passholder) return passCard(community, c);
  return cardFace(community, c, c.resident.name, [{ text: c.resident.unit_label || '' }]);
}

// passCard is a cleaner's, courier's, contractor's or staff member's card: their company
// and kind, and the group with its hours in words, in both languages.
function passCard(community, c) {
  const p = c.passholder;
  const kind = `${kinds.zh[p.kind] || p.kind} ${kinds.en[p.kind] || p.kind}`;
  const sched = c.group && c.group.schedule;
  return cardFace(community, c, p.name, [{ text: p.company ? `${p.company} · ${kind}` : kind, class: 'meta' },
    { text: `${c.group ? c.group.name + ': ' : ''}${scheduleWords(sched, 'zh')}`, class: 'small' },
    { text: scheduleWords(sched, 'en'), class: 'small' }]);
}

const kinds = {
  zh: { staff: '员工', cleaner: '保洁', courier: '快递', contractor: '施工' },
  en: { staff: 'staff', cleaner: 'cleaner', courier: 'courier', contractor: 'contractor' },
};
const dayOrder = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const dayNames = {
  zh: { mon: '周一', tue: '周二', wed: '周三', thu: '周四', fri: '周五', sat: '周六', sun: '周日', always: '全天', never: '无通行时段' },
  en: { mon: 'Mon', tue: 'Tue', wed: 'Wed', thu: 'Thu', fri: 'Fri', sat: 'Sat', sun: 'Sun', always: 'Any time', never: 'No hours' },
};

// scheduleWords says a weekly schedule in words: runs of days with the same hours are
// joined ("Mon–Fri 08:00–18:00; Sat 09:00–12:00"). No schedule: any time.
export function scheduleWords(schedule, lang) {
  const n = dayNames[lang] || dayNames.en;
  if (!schedule) return n.always;
  const hours = (d) => (schedule[d] || []).map((w) => `${w.start}–${w.end}`).join(', ');
  const runs = [];
  for (const d of dayOrder) {
    const hs = hours(d);
    const last = runs[runs.length - 1];
    if (hs && last && last.hs === hs && dayOrder.indexOf(last.to) === dayOrder.indexOf(d) - 1) last.to = d;
    else if (hs) runs.push({ from: d, to: d, hs });
  }
  if (!runs.length) return n.never;
  return runs.map((r) => `${n[r.from]}${r.to !== r.from ? '–' + n[r.to] : ''} ${r.hs}`).join('; ');
}

export function cardSheet(community, cards) {
  return h('div', { class: 'sheet', id: 'card-sheet' }, cards.map((c) => card(community, c)));
}
