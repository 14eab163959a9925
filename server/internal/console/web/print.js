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

export function card(community, c) {
  const r = c.resident;
  return h('div', { class: 'card', 'data-card': c.id },
    h('div', { class: 'card-text' },
      h('p', { class: 'community' }, community),
      h('p', { class: 'name' }, r.name), h('p', {}, r.unit_label || ''),
      h('p', { class: 'small' }, `有效期至 Valid until ${new Date(c.expires).toLocaleDateString()}`),
      h('p', { class: 'small' }, '将二维码对准门禁扫描器 · Hold the code to the gate reader'),
      h('p', { class: 'small' }, '遗失请告知物业 · If lost, tell the property office')),
    h('img', { class: 'card-qr', src: c.qr, alt: 'QR', width: 150, height: 150 }));
}

export function cardSheet(community, cards) {
  return h('div', { class: 'sheet', id: 'card-sheet' }, cards.map((c) => card(community, c)));
}
