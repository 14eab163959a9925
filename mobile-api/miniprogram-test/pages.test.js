// The mini-program's pages under miniprogram-simulate, with a mocked wx: what each page
// asks mobile-api, what it shows, and what it does with the phone.
const { test, beforeEach } = require('node:test');
const assert = require('node:assert/strict');
const { mockWx, fresh, page, until, text } = require('./setup.js');
const simulate = require('miniprogram-simulate');

const future = (s) => new Date(Date.now() + s * 1000).toISOString();
const session = (data) => ({ status: 200, data });
const bound = () => session({ session_token: 'gpr_wechat', session_kind: 'wechat', community_id: 'c-1', resident_id: 'r-1' });
const passAnswer = (payload) => () => ({ data: { payload, expires_at: future(60), refresh_after: future(30) }, header: { Date: new Date().toUTCString() } });
const GA1 = 'GA1:0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';

beforeEach(() => fresh());

test('bind: typed invite, then the pass', async () => {
  const wx = mockWx({ routes: { 'POST /api/v1/wechat/bind': () => ({ status: 201, data: bound().data }) } });
  const p = page(simulate, 'bind');
  assert.match(text(p, '.title'), /绑定住户/);
  p.instance.submit();
  await until(() => text(p, '#error'), 'the empty-invite error');
  assert.match(text(p, '#error'), /邀请码/);
  p.instance.onInput({ detail: { value: ' AB12-CD34-EF56 ' } });
  await p.instance.submit();
  const req = wx.requests.find((r) => r.key === 'POST /api/v1/wechat/bind');
  assert.deepEqual(req.data, { code: 'code-1', invite_code: 'AB12-CD34-EF56' });
  assert.equal(wx.storage.get('gp_session'), 'gpr_wechat');
  assert.equal(wx.storage.get('gp_community'), 'c-1');
  assert.deepEqual(wx.named('reLaunch'), [{ url: '/pages/pass/pass' }]);
});

test('bind: the scanned invite QR, and a refusal in the reader\'s words', async () => {
  const wx = mockWx({ routes: { 'POST /api/v1/wechat/bind': () => ({ status: 409, data: { error: { code: 'wechat_bound_elsewhere', message: 'x' } } }) } });
  wx.scanResult = 'https://gatepass.example.com/i/gpi_abc';
  const p = page(simulate, 'bind');
  p.querySelector('#scan').dispatchEvent('tap');
  await until(() => p.data.invite, 'the scanned invite');
  assert.equal(p.data.invite, 'https://gatepass.example.com/i/gpi_abc');
  await p.instance.submit();
  assert.match(text(p, '#error'), /另一位住户/);
  assert.equal(wx.storage.has('gp_session'), false);
  assert.deepEqual(wx.named('reLaunch'), []);
});

test('pass: signs in, draws the code, bright screen while it shows, restored after', async () => {
  const wx = mockWx({ routes: { 'POST /api/v1/wechat/session': bound, 'GET /api/v1/pass': passAnswer(GA1) } });
  wx.storage.set('gp_community', 'c-1');
  const p = page(simulate, 'pass');
  p.instance.onShow();
  await until(() => p.data.status === 'ok', 'the pass');
  await until(() => wx.canvas.ctx.ops.length > 10, 'the drawing');
  const login = wx.requests.find((r) => r.key === 'POST /api/v1/wechat/session');
  assert.deepEqual(login.data, { code: 'code-1', community_id: 'c-1' });
  const pass = wx.requests.find((r) => r.key === 'GET /api/v1/pass');
  assert.equal(pass.header.Authorization, 'Bearer gpr_wechat');
  assert.equal(wx.canvas.width, 560); // 280 px at pixel ratio 2
  assert.match(text(p, '#note'), /秒后更新/);
  assert.equal(wx.screen.keepOn, true);
  assert.equal(wx.screen.brightness, 1);
  p.instance.onHide();
  assert.equal(wx.screen.keepOn, false);
  assert.equal(wx.screen.brightness, 0.4);
});

test('pass: the last valid code stays while the network drops', async () => {
  let n = 0;
  const wx = mockWx({ routes: { 'POST /api/v1/wechat/session': bound,
    // refresh_after already past: every tick asks again.
    'GET /api/v1/pass': () => { n++; return { data: { payload: GA1 + n, expires_at: future(40), refresh_after: future(-1) }, header: {} }; } } });
  const p = page(simulate, 'pass');
  p.instance.onShow();
  await until(() => p.data.status === 'ok', 'the first code');
  wx.offline = true;
  await p.instance.refresh();
  assert.equal(p.data.status, 'offline');
  assert.match(text(p, '#note'), /网络不可用.*上一个有效通行码/);
  assert.equal(p.instance.keeper.code.payload, GA1 + '1');
  // Back online: the next due refresh brings a new code (after the wait).
  wx.offline = false;
  await p.instance.retry();
  assert.equal(p.data.status, 'ok');
  assert.equal(p.instance.keeper.code.payload, GA1 + '2');
  p.instance.onUnload();
});

test('pass: an unbound WeChat goes to bind; a revoked pass says so', async () => {
  let wx = mockWx({ routes: { 'POST /api/v1/wechat/session': () => ({ status: 404, data: { error: { code: 'wechat_not_bound', message: 'x' } } }) } });
  let p = page(simulate, 'pass');
  p.instance.onShow();
  await until(() => wx.named('reLaunch').length, 'the bind page');
  assert.deepEqual(wx.named('reLaunch'), [{ url: '/pages/bind/bind' }]);
  p.instance.onUnload();

  fresh();
  wx = mockWx({ routes: { 'POST /api/v1/wechat/session': bound,
    'GET /api/v1/pass': () => ({ status: 403, data: { error: { code: 'credential_revoked', message: 'x' } } }) } });
  p = page(simulate, 'pass');
  p.instance.onShow();
  await until(() => p.data.status === 'error', 'the refusal');
  assert.match(text(p, '#note'), /物业已关闭/);
  assert.ok(p.querySelector('#retry'));
  p.instance.onUnload();
});

test('a session that ended signs in again once', async () => {
  let passCalls = 0;
  const wx = mockWx({ routes: { 'POST /api/v1/wechat/session': bound,
    'GET /api/v1/pass': (_, h) => { passCalls++; return h.Authorization === 'Bearer gpr_old' ? { status: 401, data: { error: { code: 'unauthorized', message: 'x' } } } : passAnswer(GA1)(); } } });
  wx.storage.set('gp_session', 'gpr_old');
  const p = page(simulate, 'pass');
  p.instance.onShow();
  await until(() => p.data.status === 'ok', 'the pass');
  assert.equal(passCalls, 2);
  assert.equal(wx.storage.get('gp_session'), 'gpr_wechat');
  p.instance.onUnload();
});

test('visitors: create, share to a chat, copy the link, revoke', async () => {
  const list = [];
  const wx = mockWx({ routes: {
    'POST /api/v1/wechat/session': bound,
    'GET /api/v1/visitors': () => session({ visitor_passes: list }),
    'POST /api/v1/visitors': (body) => {
      list.push({ id: 'v-1', label: body.label, state: 'active', valid_until: body.valid_until, entries_used: 0, max_entries: body.max_entries });
      return { status: 201, data: { visitor_pass: list[0], link: 'https://gatepass.example.com/v/gpv_TOKEN' } };
    },
    'DELETE /api/v1/visitors/v-1': () => { list[0].state = 'revoked'; return session({ revoked: true }); },
  } });
  const p = page(simulate, 'visitors');
  await p.instance.onShow();
  assert.ok(text(p, '#none'));
  p.instance.onLabel({ detail: { value: '快递' } });
  await p.instance.create();
  const req = wx.requests.find((r) => r.key === 'POST /api/v1/visitors');
  assert.equal(req.data.label, '快递');
  assert.equal(req.data.max_entries, 1);
  const hours = (Date.parse(req.data.valid_until) - Date.now()) / 3600e3;
  assert.ok(hours > 3.9 && hours <= 4, `valid for ${hours} h`);
  assert.equal(p.querySelectorAll('.visitor').length, 1);
  assert.ok(p.querySelector('#share'), 'the share button shows with the new pass');
  const share = p.instance.onShareAppMessage({ from: 'button' });
  assert.deepEqual(share, { title: '快递的访客通行证', path: '/pages/visit/visit?token=gpv_TOKEN' });
  p.instance.copy();
  assert.equal(wx.named('setClipboardData')[0].data, 'https://gatepass.example.com/v/gpv_TOKEN');
  p.instance.revoke({ currentTarget: { dataset: { id: 'v-1', label: '快递' } } });
  await until(() => wx.requests.some((r) => r.key === 'DELETE /api/v1/visitors/v-1'), 'the revocation');
  await until(() => p.querySelectorAll('.revoke').length === 0, 'the revoked list');
});

test('visit: a visitor with no account sees their code', async () => {
  const wx = mockWx({ routes: {
    'GET /api/v1/visit/gpv_TOKEN': () => session({ label: '快递', valid_until: future(3600), entries_left: 1, state: 'active' }),
    'GET /api/v1/visit/gpv_TOKEN/pass': passAnswer(GA1),
  } });
  const p = page(simulate, 'visit', { token: 'gpv_TOKEN' });
  p.instance.onShow();
  await until(() => p.data.status === 'ok' && p.data.label === '快递', 'the visitor pass');
  assert.ok(wx.requests.every((r) => !r.header.Authorization), 'a visitor sends no session');
  assert.match(text(p, '#left'), /还可进入 1 次/);
  p.instance.onUnload();
});

test('history: the entries, newest first, and more', async () => {
  const wx = mockWx({ routes: {
    'POST /api/v1/wechat/session': bound,
    'GET /api/v1/entries?limit=50': () => session({ entries: [
      { id: 'e1', occurred_at: new Date().toISOString(), gate_name: '北门', result: 'granted', offline: false },
      { id: 'e2', occurred_at: new Date().toISOString(), result: 'denied', offline: true }], next_cursor: 'k2' }),
    'GET /api/v1/entries?limit=50&cursor=k2': () => session({ entries: [
      { id: 'e3', occurred_at: new Date().toISOString(), gate_name: '南门', result: 'granted' }] }),
  } });
  const p = page(simulate, 'history');
  await p.instance.onShow();
  assert.equal(p.querySelectorAll('.entry').length, 2);
  assert.match(p.querySelectorAll('.entry')[0].dom.textContent, /北门[\s\S]*通过/);
  assert.match(p.querySelectorAll('.entry')[1].dom.textContent, /拒绝 · 离线/);
  await p.instance.more();
  assert.equal(p.querySelectorAll('.entry').length, 3);
  assert.equal(p.querySelector('#more'), undefined);
  assert.ok(wx.requests.length >= 3);
});

test('settings: the binding, unbinding, what needs the passkey web app, its address to copy', async () => {
  let bindingLive = true;
  const wx = mockWx({ routes: {
    'POST /api/v1/wechat/session': bound,
    'GET /api/v1/wechat/binding': () => session({ binding: bindingLive ? { created_at: new Date().toISOString() } : null, session_kind: 'wechat' }),
    'DELETE /api/v1/wechat/binding': () => { bindingLive = false; return session({ unbound: true, sessions_ended: 1 }); },
  } });
  const p = page(simulate, 'settings');
  await p.instance.onShow();
  assert.match(text(p, '#binding'), /绑定于/);
  assert.match(text(p, '#why'), /通行密钥/);
  const needs = p.querySelectorAll('.needs').map((n) => n.dom.textContent).join();
  for (const w of ['离线通行', '人脸', '导出', '注销']) assert.match(needs, new RegExp(w));
  assert.equal(text(p, '#h5'), 'https://gatepass.example.com/');
  p.querySelector('#copyH5').dispatchEvent('tap');
  await until(() => wx.named('setClipboardData').length, 'the copy');
  assert.equal(wx.named('setClipboardData')[0].data, 'https://gatepass.example.com/');
  p.instance.unbind();
  await until(() => wx.named('reLaunch').length, 'the bind page');
  assert.ok(wx.requests.some((r) => r.key === 'DELETE /api/v1/wechat/binding'));
  assert.equal(wx.storage.has('gp_session'), false);
  assert.deepEqual(wx.named('reLaunch'), [{ url: '/pages/bind/bind' }]);
});

test('English when WeChat is in English, and the language can be changed', async () => {
  const wx = mockWx({ language: 'en', routes: { 'POST /api/v1/wechat/session': bound,
    'GET /api/v1/wechat/binding': () => session({ binding: null, session_kind: 'wechat' }) } });
  const p = page(simulate, 'settings');
  await p.instance.onShow();
  assert.equal(text(p, '#binding'), 'Not bound.');
  assert.ok(wx.named('setTabBarItem').some((o) => o.text === 'Pass'));
  await p.instance.onLang({ detail: { value: 'zh' } });
  assert.equal(text(p, '#binding'), '未绑定。');
  assert.equal(wx.storage.get('gp_lang'), 'zh');
});
