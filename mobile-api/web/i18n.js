// Chinese or English, chosen by the browser's language; English is the fallback.
const dict = {
  en: {
    'tab.pass': 'Pass', 'tab.visitors': 'Visitors', 'tab.security': 'Security', 'tab.history': 'History', 'tab.data': 'My data',
    'welcome.title': 'Welcome home',
    'welcome.intro': 'Open the community gates with a QR code on your phone. No face scan, no password.',
    'redeem.title': 'First time here?', 'redeem.code': 'Invite code from the property office',
    'redeem.go': 'Create my passkey', 'signin.title': 'Already set up?', 'signin.go': 'Sign in with passkey',
    'pass.title': 'Your gate pass', 'pass.valid': 'Valid for {s} s', 'pass.refreshing': 'Getting a new code…',
    'pass.offline': 'You are offline. This code still works for {s} s.',
    'pass.expired': 'The code has expired. Connect to the internet to get a new one.',
    'pass.refused': 'No pass can be shown: {msg}', 'pass.hint': 'Hold the code up to the gate scanner.',
    'visitors.title': 'Visitor passes', 'visitors.new': 'New visitor pass', 'visitors.label': 'Who is visiting',
    'visitors.hours': 'Valid for (hours, up to 168)', 'visitors.entries': 'Number of entries', 'visitors.create': 'Create pass',
    'visitors.share': 'Send this link to your visitor. It is shown only once:', 'visitors.none': 'No visitor passes yet.',
    'visitors.revoke': 'Revoke', 'visitors.entriesUsed': '{u} of {m} entries used',
    'security.passkeys': 'Passkeys', 'security.add': 'Add a passkey', 'security.remove': 'Remove',
    'security.current': 'this session', 'security.devices': 'Offline devices', 'security.noDevices': 'No device is set up for offline codes.',
    'security.signout': 'Sign out', 'security.signoutAll': 'Sign out everywhere',
    'security.suspended': 'suspended',
    'security.suspendedWhy': 'Suspended on {t}: its signature counter went backwards, so a copy of this passkey may exist. It will not sign in again. Remove it, then add a new passkey on this phone.',
    'alert.suspended': 'One of your passkeys was suspended because a copy of it may exist. Open Security to remove it.',
    'err.passkey_counter_regressed': 'This passkey\'s signature counter went backwards, so a copy of it may exist. It is now suspended and will not sign in again. Sign in with another passkey of yours and remove this one under Security, or ask the property office for a new invite.',
    'err.passkey_suspended': 'This passkey was suspended because a copy of it may exist. Sign in with another passkey of yours and remove it under Security, or ask the property office for a new invite.',
    'err.user_not_verified': 'Your phone did not confirm it is you (screen lock PIN, fingerprint or face). Turn on a screen lock and try again.',
    'history.title': 'My entries', 'history.none': 'No entries yet.', 'history.more': 'Show more',
    'data.title': 'My data', 'data.export': 'Download all my data (JSON)',
    'data.delete': 'Delete my account', 'data.deleteWarn': 'This revokes every pass and passkey and erases your name and phone number. You will need a new invite to come back.',
    'data.confirm': 'Delete my account for good?', 'data.deleted': 'Your account was deleted.',
    'visit.title': 'Visitor pass', 'visit.until': 'Valid until {t}', 'visit.left': '{n} entries left',
    'state.active': 'active', 'state.not_yet_valid': 'not valid yet', 'state.expired': 'expired', 'state.used_up': 'all entries used',
    'state.revoked': 'revoked', 'state.host_left': 'host has moved out', 'revoked': 'revoked',
    'err.network': 'Network problem: please try again.', 'err.noWebAuthn': 'This browser cannot use passkeys.',
    'face.title': 'Face entry (optional)', 'face.off': 'Face entry is not offered in this community. Your QR code works at every gate.',
    'face.optional': 'Face entry is optional. Your QR code, and manual release by staff, always work at every gate.',
    'face.read': 'Read the notice', 'face.gate': 'Gate whose reader will enrol your face (the template never leaves that gate)',
    'face.agree': 'I agree: confirm with my passkey', 'face.on': 'Face entry is on since {t}.',
    'face.withdraw': 'Withdraw consent and delete my face data', 'face.purges': 'Deletion confirmed by each gate:',
    'face.confirmed': 'confirmed', 'face.pending': 'waiting for the gate', 'face.noGates': 'No gate can enrol faces yet.',
    'face.enrolAt': 'Enrol at {g}', 'face.enrolled': 'Enrolled at {g}: your face opens that gate.',
    'face.standAt': 'Stand in front of the reader at {g} now, until {t} (2 minutes). This page shows when the gate confirms.',
    'face.enrolAgain': 'The gate did not enrol you in time. Start again when you are at {g}.',
  },
  zh: {
    'tab.pass': '通行码', 'tab.visitors': '访客', 'tab.security': '安全', 'tab.history': '记录', 'tab.data': '我的数据',
    'welcome.title': '欢迎回家',
    'welcome.intro': '用手机上的二维码打开小区门禁。无需刷脸，无需密码。',
    'redeem.title': '第一次使用？', 'redeem.code': '物业给您的邀请码',
    'redeem.go': '创建我的通行密钥', 'signin.title': '已经设置过？', 'signin.go': '用通行密钥登录',
    'pass.title': '我的通行码', 'pass.valid': '有效期还剩 {s} 秒', 'pass.refreshing': '正在获取新的通行码…',
    'pass.offline': '当前离线。此通行码还可使用 {s} 秒。',
    'pass.expired': '通行码已过期。请连接网络以获取新的通行码。',
    'pass.refused': '无法显示通行码：{msg}', 'pass.hint': '请将二维码对准门禁扫码器。',
    'visitors.title': '访客通行证', 'visitors.new': '新建访客通行证', 'visitors.label': '来访者',
    'visitors.hours': '有效时长（小时，最多 168）', 'visitors.entries': '可进入次数', 'visitors.create': '创建通行证',
    'visitors.share': '请把此链接发给访客。链接只显示这一次：', 'visitors.none': '还没有访客通行证。',
    'visitors.revoke': '撤销', 'visitors.entriesUsed': '已使用 {u} / {m} 次',
    'security.passkeys': '通行密钥', 'security.add': '添加通行密钥', 'security.remove': '删除',
    'security.current': '当前会话', 'security.devices': '离线设备', 'security.noDevices': '尚未设置离线通行码设备。',
    'security.signout': '退出登录', 'security.signoutAll': '在所有设备上退出',
    'security.suspended': '已停用',
    'security.suspendedWhy': '已于 {t} 停用：它的签名计数器倒退了，说明这个通行密钥可能已被复制。它不能再用于登录。请删除它，然后在本机添加新的通行密钥。',
    'alert.suspended': '您有一个通行密钥因可能已被复制而停用。请打开“安全”页将其删除。',
    'err.passkey_counter_regressed': '此通行密钥的签名计数器倒退了，说明它可能已被复制。它现已停用，不能再用于登录。请用您的其他通行密钥登录后在“安全”页删除它，或向物业申请新的邀请码。',
    'err.passkey_suspended': '此通行密钥因可能已被复制而停用。请用您的其他通行密钥登录后在“安全”页删除它，或向物业申请新的邀请码。',
    'err.user_not_verified': '手机未确认是您本人（锁屏密码、指纹或面容）。请开启锁屏后重试。',
    'history.title': '我的出入记录', 'history.none': '暂无记录。', 'history.more': '显示更多',
    'data.title': '我的数据', 'data.export': '下载我的全部数据（JSON）',
    'data.delete': '删除我的账户', 'data.deleteWarn': '这将撤销所有通行码和通行密钥，并删除您的姓名和电话。再次使用需要新的邀请码。',
    'data.confirm': '确定永久删除我的账户？', 'data.deleted': '您的账户已删除。',
    'visit.title': '访客通行证', 'visit.until': '有效期至 {t}', 'visit.left': '还可进入 {n} 次',
    'state.active': '有效', 'state.not_yet_valid': '尚未生效', 'state.expired': '已过期', 'state.used_up': '次数已用完',
    'state.revoked': '已撤销', 'state.host_left': '邀请人已搬离', 'revoked': '已撤销',
    'err.network': '网络出现问题，请重试。', 'err.noWebAuthn': '此浏览器不支持通行密钥。',
    'face.title': '刷脸通行（可选）', 'face.off': '本小区未提供刷脸通行。您的二维码在每个门禁都可使用。',
    'face.optional': '刷脸通行完全自愿。您的二维码以及物业人工放行在每个门禁始终可用。',
    'face.read': '阅读告知书', 'face.gate': '由哪个门禁的读头录入人脸（人脸模板不会离开该门禁）',
    'face.agree': '我同意：用通行密钥确认', 'face.on': '已于 {t} 开通刷脸通行。',
    'face.withdraw': '撤回同意并删除我的人脸数据', 'face.purges': '各门禁的删除确认：',
    'face.confirmed': '已确认', 'face.pending': '等待门禁确认', 'face.noGates': '目前没有可录入人脸的门禁。',
    'face.enrolAt': '在{g}录入人脸', 'face.enrolled': '已在{g}录入：刷脸即可通过该门禁。',
    'face.standAt': '请在 {t} 前（2 分钟内）站到{g}的读头前。门禁确认后本页会显示。',
    'face.enrolAgain': '门禁未能在时限内录入。到达{g}后请重新开始。',
  },
};

export const lang = (navigator.languages || [navigator.language || 'en'])
  .map((l) => l.toLowerCase()).find((l) => l.startsWith('zh') || l.startsWith('en'))?.startsWith('zh') ? 'zh' : 'en';

// has reports whether key has a text (an error code the app explains in the reader's
// language rather than with the server's English message).
export function has(key) {
  return key in dict[lang] || key in dict.en;
}

// t looks a key up and fills {name} placeholders.
export function t(key, vars = {}) {
  const s = dict[lang][key] ?? dict.en[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ''));
}

export function translatePage() {
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  for (const n of document.querySelectorAll('[data-i18n]')) n.textContent = t(n.dataset.i18n);
}

export function formatTime(iso) {
  return new Date(iso).toLocaleString(lang === 'zh' ? 'zh-CN' : 'en', { dateStyle: 'medium', timeStyle: 'short' });
}
