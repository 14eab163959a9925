// The mini-program's world under node: a DOM (jsdom) for miniprogram-simulate, and a
// mocked wx whose network is a route table the test writes, whose storage is a Map, and
// whose canvas records what is drawn on it.
const path = require('path');
const { JSDOM } = require('jsdom');

const dom = new JSDOM('<!doctype html><html><body></body></html>', { pretendToBeVisual: true });
global.window = dom.window;
global.document = dom.window.document;
// miniprogram-simulate dispatches jsdom's events: node's own Event must not shadow them.
for (const k of ['Node', 'Event', 'CustomEvent', 'HTMLElement', 'MutationObserver', 'getComputedStyle', 'navigator']) {
  Object.defineProperty(global, k, { value: dom.window[k], configurable: true, writable: true });
}

const root = path.join(__dirname, '..', 'miniprogram');

// recordingContext is a 2D context that keeps its fillRect calls with their colour.
function recordingContext() {
  const ops = [];
  return {
    ops,
    fillStyle: '#000000',
    fillRect(x, y, w, h) { ops.push([this.fillStyle, x, y, w, h]); },
  };
}

// mockWx makes a fresh wx: routes maps "METHOD /path" (path without the API base, query
// included) to a function (body, header) => {status, data, header} or a thrown
// 'network' for no answer.
function mockWx({ routes = {}, language = 'zh_CN', brightness = 0.4 } = {}) {
  const storage = new Map();
  const calls = [];
  const record = (name, arg) => { calls.push({ name, arg }); };
  let logins = 0;
  const canvas = { width: 0, height: 0, ctx: recordingContext(), getContext() { return this.ctx; } };
  const wx = {
    calls,
    canvas,
    storage,
    screen: { brightness, keepOn: false },
    offline: false,
    requests: [],
    getStorageSync: (k) => (storage.has(k) ? storage.get(k) : ''),
    setStorageSync: (k, v) => storage.set(k, v),
    removeStorageSync: (k) => storage.delete(k),
    getAppBaseInfo: () => ({ language }),
    getSystemInfoSync: () => ({ language, pixelRatio: 2 }),
    getWindowInfo: () => ({ pixelRatio: 2 }),
    login: (o) => { logins++; o.success({ code: 'code-' + logins }); },
    request(o) {
      const url = o.url.replace(require('../miniprogram/config.js').apiBase, '');
      const key = o.method + ' ' + url;
      wx.requests.push({ key, data: o.data, header: o.header });
      setTimeout(() => {
        const h = routes[key] || routes[o.method + ' ' + url.split('?')[0]];
        if (wx.offline) { o.fail({ errMsg: 'request:fail timeout' }); return; }
        if (!h) { o.success({ statusCode: 404, data: { error: { code: 'not_found', message: 'no route ' + key } }, header: {} }); return; }
        const res = h(o.data, o.header);
        o.success({ statusCode: res.status || 200, data: res.data, header: res.header || {} });
      }, 0);
    },
    scanCode: (o) => { record('scanCode', o); o.success({ result: wx.scanResult || '' }); },
    setClipboardData: (o) => { record('setClipboardData', o); if (o.success) o.success(); },
    showToast: (o) => record('showToast', o),
    showModal: (o) => { record('showModal', o); o.success({ confirm: true }); },
    reLaunch: (o) => record('reLaunch', o),
    navigateTo: (o) => record('navigateTo', o),
    setNavigationBarTitle: (o) => record('setNavigationBarTitle', o),
    setTabBarItem: (o) => record('setTabBarItem', o),
    setKeepScreenOn: (o) => { wx.screen.keepOn = o.keepScreenOn; record('setKeepScreenOn', o); },
    getScreenBrightness: (o) => o.success({ value: wx.screen.brightness }),
    setScreenBrightness: (o) => { wx.screen.brightness = o.value; record('setScreenBrightness', o); },
    createSelectorQuery() {
      const q = {
        in: () => q,
        select: () => q,
        fields: () => q,
        exec: (cb) => cb([{ node: canvas, width: 280, height: 280 }]),
      };
      return q;
    },
    named: (name) => calls.filter((c) => c.name === name).map((c) => c.arg),
  };
  global.wx = wx;
  return wx;
}

// fresh clears the mini-program's modules (their state: the keepers, the language) so
// each test starts as a new launch.
function fresh() {
  for (const k of Object.keys(require.cache)) if (k.startsWith(root)) delete require.cache[k];
}

// page loads and attaches a page (built with Component) and calls its onLoad.
function page(simulate, name, query) {
  const id = simulate.load(path.join(root, 'pages', name, name), { rootPath: root });
  const comp = simulate.render(id);
  comp.attach(document.createElement('parent-wrapper'));
  if (comp.instance.onLoad) comp.instance.onLoad(query || {});
  return comp;
}

// until waits for cond, polling the event loop (bounded).
async function until(cond, what) {
  for (let i = 0; i < 400; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error('timed out waiting for ' + what);
}

const text = (comp, sel) => { const n = comp.querySelector(sel); return n ? n.dom.textContent.trim() : null; };

module.exports = { mockWx, fresh, page, until, text, root, recordingContext };
