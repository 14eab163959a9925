// Every word the app shows, in Chinese and English. The server's messages are never
// shown: its error codes are looked up here (err.<code>), as are WebAuthn's failures,
// entry reasons and states. The language is the resident's choice, remembered on the
// phone; until they choose, the browser's. A key "<group>.*" is what a group says for a
// value it does not know (a code added to the server later). Each key has both
// languages side by side, [English, Chinese], so neither can be forgotten.
const texts = {
  'lang.other': ['中文', 'English'],

  'tab.pass': ['Pass', '通行码'],
  'tab.visitors': ['Visitors', '访客'],
  'tab.security': ['Security', '安全'],
  'tab.history': ['History', '记录'],
  'tab.data': ['My data', '我的数据'],
  'retry': ['Try again', '重试'],
  'cancel': ['Cancel', '取消'],
  'revoked': ['Turned off', '已关闭'],

  'welcome.title': ['Welcome home', '欢迎回家'],
  'welcome.intro': [
    'Open the community gates with a QR code on your phone. No face scan, no password.',
    '用手机上的二维码打开小区门禁。无需刷脸，无需密码。'],

  'redeem.title': ['First time here?', '第一次使用？'],
  'redeem.titleLink': ['Set up your pass', '开通您的通行码'],
  'redeem.fromLink': ['Your invite code is filled in from the link. Tap the button below.', '邀请码已从链接中填好，请点下面的按钮。'],
  'redeem.code': ['Invite code from the property office', '物业给您的邀请码'],
  'redeem.help': [
    'The 12 letters and digits on your invite slip, like 7K2M-QX9D-4HTR. Or scan the QR code on the slip.',
    '邀请单上的 12 位字母和数字，例如 7K2M-QX9D-4HTR。也可以直接扫邀请单上的二维码。'],
  'redeem.go': ['Create my passkey', '创建我的通行密钥'],

  'signin.title': ['Already set up?', '已经开通过？'],
  'signin.go': ['Sign in with passkey', '用通行密钥登录'],

  'pass.title': ['Your gate pass', '我的通行码'],
  'pass.alt': ['QR code to show at the gate', '在门禁出示的二维码'],
  'pass.who': ['{n} · {u}', '{n} · {u}'],
  'pass.valid': ['Valid for {s} s', '有效期还剩 {s} 秒'],
  'pass.refreshing': ['Getting a new code…', '正在获取新的通行码…'],
  'pass.loading': ['Getting your code…', '正在获取通行码…'],
  'pass.offline': ['No signal. This code still works for {s} s.', '当前没有信号。此通行码还可使用 {s} 秒。'],
  'pass.expired': ['The code has expired. It comes back when you have signal again.', '通行码已过期。有信号后会自动更新。'],
  'pass.noSignal': [
    'No signal, and no offline pass on this phone. Turn it on in Security while you have signal.',
    '当前没有信号，本机也没有开通离线通行。请在有信号时到“安全”页开通。'],
  'pass.busy': ['Many requests just now: a new code follows shortly.', '当前请求较多，稍后自动更新通行码。'],
  'pass.wait': ['Many requests just now: trying again in {s} s.', '当前请求较多，{s} 秒后自动重试。'],
  'pass.hint': ['Hold the code up to the gate scanner.', '请将二维码对准门禁扫码器。'],
  'pass.bright': ['Tip: turn the screen brightness up, the scanner reads a bright code faster.', '小提示：调亮屏幕，扫码更快。'],
  'pass.offlinePass': ['Offline pass', '离线通行码'],
  'pass.offlineUntil': ['Offline pass valid until {t}', '离线通行有效期至 {t}'],
  'pass.offlineHint': ['Works without signal. It changes every 30 seconds.', '没有信号也能用，每 30 秒更新一次。'],

  'visitors.title': ['Visitor passes', '访客通行证'],
  'visitors.new': ['New visitor pass', '新建访客通行证'],
  'visitors.list': ['Your visitor passes', '我的访客通行证'],
  'visitors.label': ['Who is visiting', '来访者'],
  'visitors.hours': ['Valid for (hours, up to 168)', '有效时长（小时，最多 168）'],
  'visitors.entries': ['Number of entries', '可进入次数'],
  'visitors.create': ['Create pass', '创建通行证'],
  'visitors.share': ['Send this link to your visitor now: it is shown only once.', '请现在把链接发给访客：链接只显示这一次。'],
  'visitors.shareBtn': ['Share', '分享'],
  'visitors.copy': ['Copy link', '复制链接'],
  'visitors.copied': ['Link copied. Paste it into a message to your visitor.', '链接已复制，请粘贴到消息里发给访客。'],
  'visitors.copyFailed': ['Could not copy. Press and hold the link to copy it.', '无法复制。请长按链接进行复制。'],
  'visitors.shareText': [
    'Visitor pass for {l}: open the link and show the code at the gate.',
    '{l}的访客通行证：打开链接，在门禁出示二维码。'],
  'visitors.none': ['No visitor passes yet.', '还没有访客通行证。'],
  'visitors.revoke': ['Revoke', '撤销'],
  'visitors.revokeQ': ['Revoke the pass for {l}? The link stops working at once.', '确定撤销{l}的通行证？链接将立即失效。'],
  'visitors.revokeYes': ['Revoke it', '确定撤销'],
  'visitors.entriesUsed': ['Entries used: {u} of {m}', '已使用 {u} / {m} 次'],

  'state.active': ['active', '有效'],
  'state.not_yet_valid': ['not valid yet', '尚未生效'],
  'state.expired': ['expired', '已过期'],
  'state.used_up': ['all entries used', '次数已用完'],
  'state.revoked': ['revoked', '已撤销'],
  'state.host_left': ['host moved out', '邀请人已搬离'],
  'state.*': ['ended', '已结束'],

  'visit.title': ['Visitor pass', '访客通行证'],
  'visit.until': ['Valid until {t}', '有效期至 {t}'],
  'visit.left': ['Entries left: {n}', '还可进入 {n} 次'],
  'visit.not_yet_valid': ['This pass starts at {t}. Open this page again then.', '此通行证从 {t} 起生效，届时请再打开本页。'],
  'visit.expired': ['This pass has expired. Ask your host for a new one.', '此通行证已过期。请向邀请人索取新的通行证。'],
  'visit.used_up': ['All entries of this pass are used. Ask your host for a new one.', '此通行证的进入次数已用完。请向邀请人索取新的通行证。'],
  'visit.revoked': ['Your host revoked this pass.', '邀请人已撤销此通行证。'],
  'visit.host_left': ['Your host no longer lives here: this pass has ended.', '邀请人已不在本小区居住，此通行证已结束。'],
  'visit.*': ['This pass cannot be used now.', '此通行证现在不能使用。'],

  'security.offline': ['Offline pass', '离线通行'],
  'security.passkeys': ['Passkeys (to sign in)', '通行密钥（用于登录）'],
  'security.offlineWhat': [
    'With the offline pass your phone shows a code even without signal, for gates in garages and stairwells. It renews itself while you have signal.',
    '开通离线通行后，手机没有信号也能出示通行码，适用于地下车库、楼梯间等处的门禁。有信号时会自动续期。'],
  'security.offlineNone': ['Not turned on on this phone.', '本机尚未开通。'],
  'security.offlineOn': ['Turn on the offline pass on this phone', '在本机开通离线通行'],
  'security.offlineUnsupported': ['This browser cannot keep an offline pass.', '此浏览器无法保存离线通行。'],
  'security.offlineUntil': ['Works until {t}', '有效期至 {t}'],
  'security.thisPhone': ['This phone', '本机'],
  'security.otherPhone': ['Another phone', '其他手机'],
  'security.offlineOff': ['Turn off', '关闭'],
  'security.offlineOffQ': [
    'Turn off the offline pass of this phone? Gates refuse it within seconds.',
    '确定关闭这部手机的离线通行？几秒内门禁即拒绝它。'],
  'security.offlineOffYes': ['Turn it off', '确定关闭'],
  'security.passkeysWhat': [
    'A passkey is how you sign in: your phone\'s screen lock (fingerprint, face or PIN) confirms it is you.',
    '通行密钥用于登录：由手机的屏幕锁（指纹、面容或锁屏密码）确认是您本人。'],
  'security.passkey': ['Passkey', '通行密钥'],
  'security.browser': ['Browser', '浏览器'],
  'security.add': ['Add a passkey', '添加通行密钥'],
  'security.remove': ['Remove', '删除'],
  'security.wechat': ['WeChat mini-program', '微信小程序'],
  'security.wechatWhat': ['A WeChat account bound with an invite shows your pass, visitor passes and history in the mini-program. It cannot do what needs a passkey.',
    '用邀请码绑定的微信账号可在小程序中出示通行码、发访客通行证、查看记录；需要通行密钥的操作不能在小程序中进行。'],
  'security.wechatNone': ['No WeChat account is bound.', '未绑定微信账号。'],
  'security.wechatBound': ['WeChat account bound', '已绑定微信账号'],
  'security.wechatSince': ['bound {t}', '绑定于 {t}'],
  'security.wechatUsed': ['last used {t}', '最近使用 {t}'],
  'security.wechatRemoveQ': ['Remove the WeChat binding? The mini-program signs out and needs a new invite to bind again.',
    '确定解除微信绑定？小程序将退出登录，再次绑定需要新的邀请码。'],
  'security.removeQ': ['Remove this passkey? It will not sign in again.', '确定删除这个通行密钥？删除后不能再用它登录。'],
  'security.current': ['signed in with this one', '当前登录所用'],
  'security.signout': ['Sign out', '退出登录'],
  'security.signoutAll': ['Sign out everywhere', '在所有设备上退出'],
  'security.signoutAllQ': [
    'Sign out on every phone and turn off every offline pass? (For a lost phone.) You will sign in again with your passkey.',
    '在所有手机上退出登录，并关闭所有离线通行？（适用于手机丢失时。）之后请用通行密钥重新登录。'],
  'security.suspended': ['suspended', '已停用'],
  'security.suspendedWhy': [
    'Suspended on {t}: its signature counter went backwards, so a copy of this passkey may exist. It will not sign in again. Remove it, then add a new passkey on this phone.',
    '已于 {t} 停用：它的签名计数器倒退了，说明这个通行密钥可能已被复制。它不能再用于登录。请删除它，然后在本机添加新的通行密钥。'],

  'alert.suspended': [
    'One of your passkeys was suspended because a copy of it may exist. Open Security to remove it.',
    '您有一个通行密钥因可能已被复制而停用。请打开“安全”页将其删除。'],

  'history.title': ['My entries', '我的出入记录'],
  'history.none': ['No entries yet.', '暂无记录。'],
  'history.more': ['Show more', '显示更多'],
  'history.gate': ['A gate', '门禁'],
  'history.offline': ['Recorded while the gate was offline.', '门禁离线时记录。'],

  'method.qr': ['QR code', '二维码'],
  'method.device': ['offline pass', '离线通行码'],
  'method.face': ['face', '刷脸'],
  'method.manual': ['opened by staff', '工作人员放行'],
  'method.*': ['other', '其他方式'],

  'result.granted': ['entered', '已通过'],
  'result.denied': ['refused', '未通过'],
  'result.*': ['—', '—'],

  'reason.ok': ['', ''],
  'reason.expired': ['The code had expired.', '通行码已过期。'],
  'reason.not_yet_valid': ['The code was not valid yet.', '通行码尚未生效。'],
  'reason.revoked': ['This pass was turned off.', '此通行方式已被关闭。'],
  'reason.wrong_zone': ['This pass does not open this gate.', '此通行码不能打开这个门。'],
  'reason.replayed': ['This code was already used at this gate.', '这个码已在此门使用过。'],
  'reason.passback': ['You were already recorded as inside.', '系统记录您已在门内。'],
  'reason.malformed': ['The gate could not read the code.', '门禁无法识别这个码。'],
  'reason.bad_signature': ['The code was not genuine.', '这个码不是真实有效的。'],
  'reason.unknown_key': ['The gate did not know the code\'s key yet.', '门禁还没有收到这个码的密钥。'],
  'reason.no_trusted_key': ['The gate was not set up yet.', '门禁尚未完成设置。'],
  'reason.wrong_community': ['The code is from another community.', '这个码属于其他小区。'],
  'reason.stale_data': ['The gate had been offline too long to decide.', '门禁离线太久，无法判断。'],
  'reason.face_no_match': ['Your face was not recognised.', '未能识别您的面容。'],
  'reason.no_liveness': ['The reader could not confirm a live face.', '读头未能确认是真人。'],
  'reason.release_expired': ['The staff release had ended.', '工作人员的放行已过时效。'],
  'reason.duplicate_read': ['The same code was read twice in a row.', '同一个码被连续读取了两次。'],
  'reason.manual_release': ['', ''],
  'reason.*': ['The gate refused.', '门禁拒绝通行。'],

  'reasonHelp.expired': [
    'Check that your phone has the right time, or wait for the next code.',
    '请检查手机时间是否准确，或等待下一个码。'],
  'reasonHelp.replayed': ['Wait for the next code (it changes within 30 seconds).', '请等待下一个码（30 秒内会更新）。'],
  'reasonHelp.revoked': ['Ask the property office.', '请联系物业。'],
  'reasonHelp.wrong_zone': ['Ask the property office.', '请联系物业。'],
  'reasonHelp.*': ['', ''],

  'data.title': ['My data', '我的数据'],
  'data.held': ['What is kept about you', '我们保存的您的信息'],
  'data.name': ['Name', '姓名'],
  'data.unit': ['Home', '住址'],
  'data.phone': ['Phone', '电话'],
  'data.passkeys': ['Passkeys', '通行密钥'],
  'data.passkeysN': ['{n}: {l}', '{n} 个：{l}'],
  'list.sep': [', ', '、'],

  'data.devices': ['Offline passes', '离线通行'],
  'data.devicesN': ['{n} turned on', '已开通 {n} 部手机'],
  'data.visitors': ['Visitor passes', '访客通行证'],
  'data.visitorsN': ['{n} made, {a} still usable', '共 {n} 张，其中 {a} 张仍可使用'],
  'data.consents': ['Face entry', '刷脸通行'],
  'data.faceOn': ['consent given on {t}', '已于 {t} 同意'],
  'data.faceOff': ['no consent: no face data', '未同意：没有人脸数据'],
  'data.entries': ['Entries', '出入记录'],
  'data.entriesRecent': ['the latest on {t} (see History)', '最近一次在 {t}（详见“记录”页）'],
  'data.kept': [
    'Entries are kept as the community\'s record for the time it has set (180 days unless it chose otherwise). No photo of you is ever kept.',
    '出入记录作为小区的记录，按小区设定的期限保存（未另行设定时为 180 天）。我们从不保存您的照片。'],
  'data.export': ['Download everything (JSON file)', '下载全部数据（JSON 文件）'],
  'data.exportWhat': [
    'A file with all of the above in full, for you to keep or to take elsewhere.',
    '包含以上全部内容的完整文件，供您保存或转交他处。'],
  'data.delete': ['Delete my account', '删除我的账户'],
  'data.deleteYes': ['Delete for good', '永久删除'],
  'data.deleteWarn': [
    'This turns off every pass and passkey and erases your name and phone number. You will need a new invite to come back.',
    '这将关闭所有通行码和通行密钥，并删除您的姓名和电话。再次使用需要新的邀请码。'],
  'data.confirm': ['Delete your account for good? You will confirm with your passkey.', '确定永久删除您的账户？需要用通行密钥确认。'],
  'data.deleted': ['Your account was deleted.', '您的账户已删除。'],

  'face.title': ['Face entry (optional)', '刷脸通行（可选）'],
  'face.off': [
    'Face entry is not offered in this community. Your QR code works at every gate.',
    '本小区未提供刷脸通行。您的二维码在每个门禁都可使用。'],
  'face.optional': [
    'Face entry is optional. Your QR code, and release by staff, always work at every gate.',
    '刷脸通行完全自愿。您的二维码以及工作人员人工放行在每个门禁始终可用。'],
  'face.read': ['Read the notice', '阅读告知书'],
  'face.readNew': ['Read the updated notice', '阅读更新后的告知书'],
  'face.noticeUpdated': [
    'The notice was updated. Your consent still holds for the gate that has your face; to enrol again, read and confirm the new notice.',
    '告知书已更新。您对已保存人脸的门禁所作的同意依然有效；如需重新录入，请阅读并确认新的告知书。'],
  'face.gate': [
    'Gate whose reader will enrol your face (the template never leaves that gate)',
    '由哪个门禁的读头录入人脸（人脸模板不会离开该门禁）'],
  'face.agree': ['I agree: confirm with my passkey', '我同意：用通行密钥确认'],
  'face.on': ['Face entry is on since {t}.', '已于 {t} 开通刷脸通行。'],
  'face.withdraw': ['Withdraw consent and delete my face data', '撤回同意并删除我的人脸数据'],
  'face.withdrawQ': ['Withdraw and delete your face data from every gate now?', '确定撤回同意，并立即从所有门禁删除您的人脸数据？'],
  'face.withdrawYes': ['Withdraw', '确定撤回'],
  'face.purges': ['Deletion confirmed by each gate:', '各门禁的删除确认：'],
  'face.confirmed': ['confirmed', '已确认'],
  'face.pending': ['waiting for the gate', '等待门禁确认'],
  'face.noGates': ['No gate can enrol faces yet.', '目前没有可录入人脸的门禁。'],
  'face.enrolAt': ['Enrol at {g}', '在{g}录入人脸'],
  'face.enrolled': ['Enrolled at {g}: your face opens that gate.', '已在{g}录入：刷脸即可通过该门禁。'],
  'face.standAt': [
    'Stand in front of the reader at {g} now, until {t} (2 minutes). This page shows when the gate confirms.',
    '请在 {t} 前（2 分钟内）站到{g}的读头前。门禁确认后本页会显示。'],
  'face.enrolAgain': [
    'The gate did not enrol you in time. Start again when you are at {g}.',
    '门禁未能在时限内录入。到达{g}后请重新开始。'],

  'field.invite_code': ['Please enter the invite code from your slip.', '请输入邀请单上的邀请码。'],
  'field.label': ['Please say who is visiting.', '请填写来访者。'],
  'field.hours': ['Choose from 1 to 168 hours.', '有效时长请选择 1 到 168 小时。'],
  'field.max_entries': ['Choose from 1 to 100 entries.', '可进入次数请选择 1 到 100 次。'],
  'field.valid_until': ['Choose a shorter time: at most 7 days.', '有效时间太长：最多 7 天。'],
  'field.valid_from': ['The start time is not possible.', '开始时间不可用。'],
  'field.zones': ['This pass cannot open those gates.', '此通行证不能打开这些门。'],

  'err.network': ['No connection to the server. Check your signal and try again.', '无法连接服务器。请检查信号后重试。'],
  'err.offlineTab': ['No signal just now. Your pass still works: open the Pass tab.', '当前没有信号。您的通行码仍可使用：请打开“通行码”页。'],
  'err.offlineStart': ['No connection to the server. Check your signal and try again.', '无法连接服务器。请检查信号后重试。'],
  'err.noWebAuthn': [
    'This browser cannot use passkeys. Please open this page in your phone\'s own browser.',
    '此浏览器不支持通行密钥。请用手机自带的浏览器打开本页。'],
  'err.passkeyCancelled': ['The passkey step was cancelled or took too long. Please try again.', '通行密钥验证已取消或超时，请重试。'],
  'err.passkeyExists': [
    'This phone already has a passkey for you. Use "Sign in with passkey" instead.',
    '这部手机上已有您的通行密钥，请改用“用通行密钥登录”。'],
  'err.passkeySecurity': [
    'The passkey cannot be used on this address. Open the app from its usual address.',
    '在此网址无法使用通行密钥。请从平常的网址打开本应用。'],
  'err.passkeyFailed': ['Your phone could not make or use the passkey. Please try again.', '手机未能创建或使用通行密钥，请重试。'],
  'err.invite_unusable': [
    'This invite code is not valid: it is mistyped, already used or expired. Check it, or ask the property office for a new one.',
    '邀请码无效：可能输错了、已被使用或已过期。请核对，或向物业申请新的邀请码。'],
  'err.ceremony_expired': ['That took too long. Please start again.', '操作超时，请重新开始。'],
  'err.webauthn_failed': ['The passkey check failed. Please try again.', '通行密钥验证失败，请重试。'],
  'err.unknown_passkey': [
    'This passkey is not registered here (perhaps it was removed). Use another passkey or ask the property office for an invite.',
    '这个通行密钥未在此登记（可能已被删除）。请使用其他通行密钥，或向物业申请邀请码。'],
  'err.user_not_verified': [
    'Your phone did not confirm it is you (screen lock PIN, fingerprint or face). Turn on a screen lock and try again.',
    '手机未确认是您本人（锁屏密码、指纹或面容）。请开启锁屏后重试。'],
  'err.passkey_counter_regressed': [
    'This passkey\'s signature counter went backwards, so a copy of it may exist. It is now suspended and will not sign in again. Sign in with another passkey of yours and remove this one under Security, or ask the property office for a new invite.',
    '此通行密钥的签名计数器倒退了，说明它可能已被复制。它现已停用，不能再用于登录。请用您的其他通行密钥登录后在“安全”页删除它，或向物业申请新的邀请码。'],
  'err.passkey_suspended': [
    'This passkey was suspended because a copy of it may exist. Sign in with another passkey of yours and remove it under Security, or ask the property office for a new invite.',
    '此通行密钥因可能已被复制而停用。请用您的其他通行密钥登录后在“安全”页删除它，或向物业申请新的邀请码。'],
  'err.step_up_required': ['Please confirm with your passkey first.', '请先用通行密钥确认。'],
  'err.not_resident': [
    'You are no longer registered as living here, so no pass can be shown. Ask the property office.',
    '您已不再登记为本小区住户，无法显示通行码。请联系物业。'],
  'err.credential_revoked': ['The property office turned off your pass. Please ask them.', '物业已关闭您的通行码。请联系物业。'],
  'err.rate_limited': ['Too many tries just now. Please wait a minute and try again.', '尝试次数过多，请稍等一分钟再试。'],
  'err.rate_limited_s': ['Too many tries just now. Please try again in {s} seconds.', '尝试次数过多，请 {s} 秒后再试。'],
  'err.pass_expired': ['This pass has ended.', '此通行证已结束。'],
  'err.visitor_link_unknown': ['This visitor link is not valid. Ask your host for a new one.', '此访客链接无效。请向邀请人索取新的链接。'],
  'err.visitor_pass_expired': ['This pass has expired. Ask your host for a new one.', '此通行证已过期。请向邀请人索取新的通行证。'],
  'err.visitor_pass_used_up': [
    'All entries of this pass are used. Ask your host for a new one.',
    '此通行证的进入次数已用完。请向邀请人索取新的通行证。'],
  'err.visitor_pass_revoked': ['Your host revoked this pass.', '邀请人已撤销此通行证。'],
  'err.visitor_pass_not_yet_valid': ['This pass is not valid yet.', '此通行证尚未生效。'],
  'err.visitor_pass_host_left': ['Your host no longer lives here: this pass has ended.', '邀请人已不在本小区居住，此通行证已结束。'],
  'err.already_revoked': ['This was already turned off.', '已经关闭过了。'],
  'err.last_passkey': [
    'This is your last passkey that signs in: add another one before removing it.',
    '这是您最后一个可以登录的通行密钥：请先添加另一个，再删除它。'],
  'err.device_proof_invalid': [
    'The offline pass on this phone could not be renewed. Turn it on again.',
    '本机的离线通行无法续期，请重新开通。'],
  'err.face_off': ['Face entry is not offered in this community.', '本小区未提供刷脸通行。'],
  'err.face_already_consented': ['You have already consented.', '您已经同意过了。'],
  'err.notice_changed': ['The notice has just changed. Please read it again.', '告知书刚刚更新，请重新阅读。'],
  'err.guardian_required': [
    'A child under 14 needs a parent or guardian from the same home to consent.',
    '不满十四周岁的儿童需由同户的父母或其他监护人同意。'],
  'err.no_one_gate_consent': ['Please read and accept the current notice for this gate first.', '请先阅读并同意此门禁的最新告知书。'],
  'err.unauthorized': ['Please sign in again.', '请重新登录。'],
  'err.not_found': ['This is no longer there. Please reload.', '内容已不存在，请刷新。'],
  'err.conflict': ['This cannot be done right now. Please reload and try again.', '暂时无法完成此操作，请刷新后重试。'],
  'err.invalid_field': ['Please check what you entered.', '请检查您填写的内容。'],
  'err.invalid': ['Please check what you entered.', '请检查您填写的内容。'],
  'err.body_too_large': ['That is too much to send at once.', '一次发送的内容过多。'],
  'err.server': ['The server had a problem. Please try again in a moment.', '服务器出现问题，请稍后重试。'],
  'err.unknown': ['Something went wrong. Please try again.', '出现问题，请重试。'],
  'err.*': ['Something went wrong. Please try again.', '出现问题，请重试。'],
};

const stored = () => { try { return localStorage.getItem('gp.lang'); } catch { return null; } };
const fromBrowser = () => ((navigator.languages || [navigator.language || 'en'])
  .map((l) => l.toLowerCase()).find((l) => l.startsWith('zh') || l.startsWith('en')) || 'en').startsWith('zh') ? 'zh' : 'en';

const langs = ['en', 'zh'];
let current = langs.includes(stored()) ? stored() : fromBrowser();
const at = () => langs.indexOf(current);

export const lang = () => current;

// setLang switches the language and remembers the choice on this phone.
export function setLang(l) {
  current = langs.includes(l) ? l : 'en';
  try { localStorage.setItem('gp.lang', current); } catch { /* private mode: the choice lasts this visit */ }
  translatePage();
}

const lookup = (key) => (texts[key] || texts[key.slice(0, key.indexOf('.') + 1) + '*'] || [key, key])[at()];

// has reports whether key has a text of its own (not a group's fallback).
export const has = (key) => key in texts;

// t looks a key up and fills {name} placeholders.
export function t(key, vars = {}) {
  return lookup(key).replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ''));
}

export function translatePage() {
  document.documentElement.lang = current === 'zh' ? 'zh-CN' : 'en';
  for (const n of document.querySelectorAll('[data-i18n]')) n.textContent = t(n.dataset.i18n);
}

export function formatTime(iso) {
  return new Date(iso).toLocaleString(current === 'zh' ? 'zh-CN' : 'en', { dateStyle: 'medium', timeStyle: 'short' });
}

// fromDictionary reports whether text is one of the current language's texts with its
// placeholders filled in: the tests check with it that every message on screen is the
// app's own.
export function fromDictionary(text) {
  const esc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return Object.values(texts).map((pair) => pair[at()]).some((s) => s !== '' &&
    new RegExp('^' + s.split(/\{\w+\}/).map(esc).join('[\\s\\S]+?') + '$').test(text));
}
