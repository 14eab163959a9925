// Words of the mini-program, Chinese first, English beside: [zh, en]. The language is
// the one chosen in settings, else WeChat's own (English only when WeChat is in
// English). Error codes from mobile-api (docs/openapi-mobile.yaml) get words here; the
// server's English message is never shown.
const words = {
  'tab.pass': ['通行码', 'Pass'],
  'tab.visitors': ['访客', 'Visitors'],
  'tab.history': ['记录', 'History'],
  'tab.settings': ['设置', 'Settings'],

  'bind.title': ['绑定住户', 'Link your home'],
  'bind.what': ['输入物业给您的邀请码，或扫描邀请单上的二维码。每个邀请码只能用一次。',
    'Type the invite code from the property office, or scan the QR code on the invite. Each invite works once.'],
  'bind.code': ['邀请码', 'Invite code'],
  'bind.scan': ['扫描邀请二维码', 'Scan the invite QR code'],
  'bind.submit': ['绑定', 'Link'],
  'bind.empty': ['请输入邀请码或扫描邀请二维码。', 'Type the invite code or scan the invite QR code.'],
  'bind.privacy': ['绑定时仅记录您的微信 openid（本小程序内的用户标识）的加密摘要，用于下次识别您；解除绑定、搬离或注销时删除。',
    'Binding keeps only a keyed hash of your WeChat openid (your id in this mini-program), to recognise you next time; it is deleted when you unbind, move out or delete your account.'],

  'pass.title': ['我的通行码', 'My pass'],
  'pass.hint': ['在闸机扫码口出示此码。二维码会定时更新，截图无效。', 'Show this code at the gate reader. It changes regularly: a screenshot will not work.'],
  'pass.loading': ['正在获取通行码…', 'Getting your pass…'],
  'pass.validFor': ['{s} 秒后更新', 'refreshes in {s} s'],
  'pass.offline': ['网络不可用：仍显示上一个有效通行码（{s} 秒内有效）。', 'No network: showing the last valid code (valid for {s} s).'],
  'pass.expired': ['通行码已过期，请连接网络后重试。', 'The code has expired: connect to the network and try again.'],
  'pass.retry': ['重试', 'Try again'],

  'visitors.title': ['访客通行证', 'Visitor passes'],
  'visitors.what': ['为来访者生成限时通行证，并发到微信聊天。访客无需账号：打开链接或小程序卡片即可出示通行码。',
    'Make a time-limited pass for a visitor and send it to a WeChat chat. Visitors need no account: the link or the mini-program card shows their code.'],
  'visitors.label': ['来访者（如：快递、王阿姨）', 'Visitor (e.g. courier, Aunt Wang)'],
  'visitors.hours': ['有效时长（小时）', 'Valid for (hours)'],
  'visitors.entries': ['可进入次数', 'Entries'],
  'visitors.create': ['生成通行证', 'Create pass'],
  'visitors.share': ['发给微信好友', 'Send to a WeChat chat'],
  'visitors.copy': ['复制链接', 'Copy link'],
  'visitors.copied': ['链接已复制，请粘贴到消息里发给访客。', 'Link copied: paste it into a message to your visitor.'],
  'visitors.created': ['已生成“{l}”的通行证。', 'Pass for "{l}" created.'],
  'visitors.shareTitle': ['{l}的访客通行证', 'Visitor pass: {l}'],
  'visitors.none': ['还没有访客通行证。', 'No visitor passes yet.'],
  'visitors.until': ['有效至 {t}', 'until {t}'],
  'visitors.used': ['已用 {u}/{m} 次', '{u} of {m} entries used'],
  'visitors.revoke': ['撤销', 'Revoke'],
  'visitors.revokeQ': ['确定撤销“{l}”的通行证？链接将立即失效。', 'Revoke the pass for "{l}"? Its link stops working at once.'],
  'visitors.needLabel': ['请填写来访者。', 'Say who is visiting.'],
  'state.active': ['有效', 'active'],
  'state.not_yet_valid': ['未生效', 'not yet valid'],
  'state.expired': ['已过期', 'expired'],
  'state.used_up': ['次数已用完', 'used up'],
  'state.revoked': ['已撤销', 'revoked'],
  'state.host_left': ['邀请人已搬离', 'host moved out'],

  'visit.title': ['访客通行证', 'Visitor pass'],
  'visit.left': ['还可进入 {n} 次，有效至 {t}', '{n} entries left, until {t}'],

  'history.title': ['进出记录', 'Entry history'],
  'history.none': ['还没有进出记录。', 'No entries yet.'],
  'history.granted': ['通过', 'in'],
  'history.denied': ['拒绝', 'refused'],
  'history.offline': ['离线', 'offline'],
  'history.gate': ['闸机', 'Gate'],
  'history.more': ['加载更多', 'Load more'],

  'settings.title': ['设置', 'Settings'],
  'settings.binding': ['微信绑定', 'WeChat binding'],
  'settings.boundSince': ['绑定于 {t}', 'bound {t}'],
  'settings.notBound': ['未绑定。', 'Not bound.'],
  'settings.unbind': ['解除绑定', 'Unbind'],
  'settings.unbindQ': ['解除后本微信将退出登录，再次绑定需要物业的新邀请码。确定解除？',
    'This WeChat signs out, and binding again needs a new invite from the property office. Unbind?'],
  'settings.passkeyTitle': ['需要通行密钥的功能', 'What needs a passkey'],
  'settings.passkeyWhy': ['微信登录只能证明您控制这个微信账号，不能证明您持有通行密钥。以下功能请在手机浏览器中打开住户网页版，用通行密钥登录后使用：',
    'A WeChat login proves control of this WeChat account, not possession of your passkey. For these, open the resident web app in your phone\'s browser and sign in with your passkey:'],
  'settings.needsOffline': ['离线通行（设备密钥）', 'Offline pass (device key)'],
  'settings.needsFace': ['人脸通行的同意与撤回', 'Consent to face entry'],
  'settings.needsExport': ['导出我的数据', 'Export my data'],
  'settings.needsDelete': ['注销账户', 'Delete my account'],
  'settings.h5': ['住户网页版地址', 'Resident web app address'],
  'settings.copyH5': ['复制网址', 'Copy address'],
  'settings.copiedH5': ['网址已复制，请在浏览器中打开。', 'Address copied: open it in your browser.'],
  'settings.language': ['语言', 'Language'],
  'settings.privacy': ['本小程序只收集您的微信 openid（以加密摘要保存），用于识别已绑定的住户；解除绑定、搬离或注销时删除。',
    'This mini-program collects only your WeChat openid (stored as a keyed hash), to recognise the bound resident; it is deleted when you unbind, move out or delete your account.'],

  'err.network': ['网络不可用，请稍后重试。', 'No network: try again later.'],
  'err.unauthorized': ['登录已失效，请重新进入小程序。', 'Your sign-in ended: open the mini-program again.'],
  'err.invite_unusable': ['邀请码无效：可能输错了、已被使用或已过期。请核对，或向物业申请新的邀请码。',
    'This invite code is wrong, used or expired: check it, or ask the property office for a new one.'],
  'err.wechat_code_invalid': ['微信登录凭证无效或已过期，请重试。', 'WeChat did not accept the login: try again.'],
  'err.wechat_code_used': ['微信登录凭证已被使用，请重试。', 'That WeChat login was already used: try again.'],
  'err.wechat_rate_limited': ['登录过于频繁，请一分钟后再试。', 'Too many logins: try again in a minute.'],
  'err.wechat_risky_user': ['微信判定此账号存在风险，已拦截登录。请使用住户网页版，或联系物业。',
    'WeChat blocked this login as risky. Use the resident web app, or ask the property office.'],
  'err.wechat_busy': ['微信服务繁忙，请稍后重试。', 'WeChat is busy: try again shortly.'],
  'err.wechat_unavailable': ['暂时无法连接微信登录服务，请稍后重试。', 'The WeChat login service is not answering: try again later.'],
  'err.wechat_not_configured': ['此服务器未开通微信登录，请联系物业。', 'WeChat sign-in is not set up here: ask the property office.'],
  'err.wechat_not_bound': ['此微信尚未绑定住户，请用邀请码绑定。', 'This WeChat is not linked to a home yet: link it with your invite code.'],
  'err.wechat_bound_elsewhere': ['此微信已绑定本小区的另一位住户，需先由其解除绑定。',
    'This WeChat is linked to another resident here, who must unbind it first.'],
  'err.wechat_community_required': ['此微信绑定了多个小区，请重新绑定。', 'This WeChat is linked in several communities: link again.'],
  'err.passkey_required': ['此功能需要通行密钥，请使用住户网页版。', 'This needs your passkey: use the resident web app.'],
  'err.not_resident': ['您已不是本小区住户，无法生成通行码。', 'You no longer live here: no pass can be issued.'],
  'err.credential_revoked': ['物业已关闭您的通行码，请联系物业。', 'The property office turned off your pass: contact them.'],
  'err.rate_limited': ['请求过于频繁，请稍后再试。', 'Too many requests: try again shortly.'],
  'err.visitor_link_unknown': ['此访客链接无效。请向邀请人索取新的链接。', 'This visitor link is not valid: ask your host for a new one.'],
  'err.visitor_pass_expired': ['此通行证已过期。', 'This pass has expired.'],
  'err.visitor_pass_used_up': ['此通行证的进入次数已用完。请向邀请人索取新的通行证。', 'This pass is used up: ask your host for a new one.'],
  'err.visitor_pass_revoked': ['此通行证已被撤销。', 'This pass was revoked.'],
  'err.visitor_pass_not_yet_valid': ['此通行证尚未生效。', 'This pass is not valid yet.'],
  'err.visitor_pass_host_left': ['邀请人已搬离，此通行证失效。', 'Your host moved out: this pass no longer works.'],
  'err.invalid_field': ['填写的内容不符合要求，请检查。', 'Something you entered is not allowed: check it.'],
  'err.unknown': ['出错了，请稍后重试。', 'Something went wrong: try again later.'],
};

let chosen = null;

// lang is 'zh' or 'en'.
function lang() {
  if (chosen) return chosen;
  let l = '';
  try {
    l = wx.getStorageSync('gp_lang') || '';
    if (!l) l = (wx.getAppBaseInfo ? wx.getAppBaseInfo() : wx.getSystemInfoSync()).language || '';
  } catch (e) { l = ''; }
  chosen = /^en/i.test(l) ? 'en' : 'zh';
  return chosen;
}

function setLang(l) {
  chosen = l === 'en' ? 'en' : 'zh';
  wx.setStorageSync('gp_lang', chosen);
}

// t is the text of key, with {name} replaced from vars.
function t(key, vars) {
  const w = words[key];
  let s = w ? w[lang() === 'en' ? 1 : 0] : key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  return s;
}

// errorText says an API error (utils/api.js APIError) in the reader's words.
function errorText(e) {
  const code = e && e.code;
  return words['err.' + code] ? t('err.' + code) : t('err.unknown');
}

// texts is a page's words at once, for setData: {key: text} with dots as underscores.
function texts(keys) {
  const out = {};
  for (const k of keys) out[k.replace(/\./g, '_')] = t(k);
  return out;
}

// tabBar names the tabs in the reader's language (app.json has the Chinese ones).
function tabBar() {
  ['tab.pass', 'tab.visitors', 'tab.history', 'tab.settings'].forEach((k, index) => {
    try { wx.setTabBarItem({ index, text: t(k) }); } catch (e) { /* not a tab page */ }
  });
}

// time formats an ISO time for lists: 11-25 20:31.
function time(iso) {
  const d = new Date(iso);
  const p = (n) => String(n).padStart(2, '0');
  return `${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

module.exports = { t, lang, setLang, errorText, texts, tabBar, time, words };
