// mobile-api from the mini-program: wx.request with the WeChat session as a bearer
// token (a mini-program keeps no cookies). The session comes from wx.login: bind the
// first time (an invite), then /api/v1/wechat/session whenever the stored one has ended.
const config = require('../config.js');

const TOKEN = 'gp_session';
const COMMUNITY = 'gp_community';

// APIError is a refused or failed request: status 0 and code 'network' when nothing
// answered; otherwise mobile-api's status and stable error code.
class APIError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter || 0;
  }
}

function header(h, name) {
  if (!h) return '';
  const k = Object.keys(h).find((x) => x.toLowerCase() === name.toLowerCase());
  return k ? h[k] : '';
}

// request sends one request; it resolves {data, header, status} for a 2xx answer.
function request(method, path, body, token) {
  return new Promise((resolve, reject) => {
    const h = { 'content-type': 'application/json' };
    if (token) h.Authorization = 'Bearer ' + token;
    wx.request({
      url: config.apiBase + path,
      method,
      data: body === undefined ? undefined : body,
      header: h,
      dataType: 'json',
      success(res) {
        if (res.statusCode >= 200 && res.statusCode < 300) {
          resolve({ data: res.data, header: res.header, status: res.statusCode });
          return;
        }
        const err = (res.data && res.data.error) || {};
        reject(new APIError(res.statusCode, err.code || 'unknown', err.message, Number(header(res.header, 'Retry-After')) || 0));
      },
      fail(e) {
        reject(new APIError(0, 'network', e && e.errMsg));
      },
    });
  });
}

// wxLogin is wx.login's code.
function wxLogin() {
  return new Promise((resolve, reject) => {
    wx.login({
      success: (r) => (r.code ? resolve(r.code) : reject(new APIError(0, 'network', 'wx.login gave no code'))),
      fail: (e) => reject(new APIError(0, 'network', e && e.errMsg)),
    });
  });
}

function keep(out) {
  wx.setStorageSync(TOKEN, out.session_token);
  wx.setStorageSync(COMMUNITY, out.community_id);
  return out;
}

// bind binds this WeChat user to the resident of the invite (typed or scanned).
async function bind(invite) {
  const code = await wxLogin();
  const res = await request('POST', '/api/v1/wechat/bind', { code, invite_code: invite });
  return keep(res.data);
}

// signIn opens a new WeChat session; it fails with code wechat_not_bound when this
// WeChat user is bound to nobody (the page then goes to bind).
async function signIn() {
  const code = await wxLogin();
  const community = wx.getStorageSync(COMMUNITY);
  const body = community ? { code, community_id: community } : { code };
  const res = await request('POST', '/api/v1/wechat/session', body);
  return keep(res.data).session_token;
}

// call is a request with the session, signing in first or again when it has none or
// it ended (30 days unused, unbinding elsewhere, sign-out).
async function call(method, path, body) {
  let token = wx.getStorageSync(TOKEN);
  if (!token) token = await signIn();
  try {
    return await request(method, path, body, token);
  } catch (e) {
    if (e.status !== 401 || e.code !== 'unauthorized') throw e;
    wx.removeStorageSync(TOKEN);
    return request(method, path, body, await signIn());
  }
}

// forget drops the session and community here (after unbinding or signing out).
function forget() {
  wx.removeStorageSync(TOKEN);
  wx.removeStorageSync(COMMUNITY);
}

// needsBind sends the reader to the bind page when e says this WeChat is bound to
// nobody; it reports whether it did.
function needsBind(e) {
  if (!e || e.code !== 'wechat_not_bound' && e.code !== 'wechat_community_required') return false;
  forget();
  wx.reLaunch({ url: '/pages/bind/bind' });
  return true;
}

module.exports = { APIError, request, call, bind, signIn, forget, needsBind, header, TOKEN, COMMUNITY };
