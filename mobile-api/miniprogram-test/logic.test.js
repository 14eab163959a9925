// The mini-program's logic without pages: the keeper's timing, the QR matrix, the words,
// and the one config file.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const { mockWx, root, recordingContext } = require('./setup.js');

mockWx();
const { Keeper } = require('../miniprogram/utils/keeper.js');
const qr = require('../miniprogram/utils/qr.js');
const i18n = require('../miniprogram/utils/i18n.js');

test('keeper: fetches when due, once at a time, waits after failures, keeps a valid code', async () => {
  let now = Date.parse('2030-01-01T00:00:00Z');
  const answers = [];
  let fetches = 0;
  const k = new Keeper(() => { fetches++; return answers.shift()(); }, () => now);
  const at = (s) => new Date(now + s * 1000).toISOString();
  answers.push(() => Promise.resolve({ data: { payload: 'GA1:A', expires_at: at(60), refresh_after: at(30) }, header: {} }));
  const a = k.tick();
  const b = k.tick(); // in flight: no second fetch
  assert.equal(await a, true);
  await b;
  assert.equal(fetches, 1);
  assert.equal(k.secondsLeft(), 60);
  now += 29e3;
  assert.equal(k.due(), false);
  now += 1e3;
  assert.equal(k.due(), true);
  // No network: the code stays, and the next try waits 3 s, then 5 s.
  answers.push(() => Promise.reject({ status: 0, code: 'network' }));
  assert.equal(await k.tick(), false);
  assert.equal(k.valid(), true);
  assert.equal(k.code.payload, 'GA1:A');
  assert.equal(k.due(), false);
  now += 3e3;
  answers.push(() => Promise.reject({ status: 0, code: 'network' }));
  await k.tick();
  now += 4e3;
  assert.equal(k.due(), false);
  now += 1e3;
  assert.equal(k.due(), true);
  // A 429 waits its Retry-After.
  answers.push(() => Promise.reject({ status: 429, code: 'rate_limited', retryAfter: 20 }));
  await k.tick();
  now += 19e3;
  assert.equal(k.due(), false);
  now += 1e3;
  // The server's clock: a phone 5 minutes fast still counts the code's 60 s.
  answers.push(() => Promise.resolve({ data: { payload: 'GA1:B', expires_at: at(60 - 300), refresh_after: at(30 - 300) },
    header: { date: new Date(now - 300e3).toUTCString() } }));
  assert.equal(await k.tick(), true);
  assert.ok(Math.abs(k.secondsLeft() - 60) <= 1, `${k.secondsLeft()} s left`);
  assert.equal(k.problem, null);
});

test('qr: the matrix of a GA1 text, drawn with a quiet zone', () => {
  const m = qr.matrix('GA1:ABC');
  assert.equal(m.length, 21);
  const ctx = recordingContext();
  const out = qr.draw(ctx, 'GA1:ABC', 300);
  assert.equal(out.scale, Math.floor(300 / 29));
  assert.deepEqual(ctx.ops[0], ['#ffffff', 0, 0, 300, 300]);
  const dark = m.flat().filter(Boolean).length;
  assert.equal(ctx.ops.length, dark + 1);
  assert.throws(() => qr.draw(recordingContext(), 'GA1:ABC', 20));
});

test('i18n: every word in both languages, every page key known', () => {
  for (const [k, v] of Object.entries(i18n.words)) {
    assert.equal(v.length, 2, k);
    assert.ok(v[0] && v[1], k);
  }
  // Every t.x_y a page's WXML uses is a word.
  const pages = path.join(root, 'pages');
  for (const p of fs.readdirSync(pages)) {
    const wxml = fs.readFileSync(path.join(pages, p, p + '.wxml'), 'utf8');
    for (const [, key] of wxml.matchAll(/\{\{t\.(\w+)\}\}/g)) {
      assert.ok(i18n.words[key.replace('_', '.')], `${p}: t.${key}`);
    }
  }
});

test('config: one file for the AppID and the API base, matching project.config.json', () => {
  const config = require('../miniprogram/config.js');
  const project = JSON.parse(fs.readFileSync(path.join(root, 'project.config.json'), 'utf8'));
  assert.equal(project.appid, config.appId);
  assert.match(config.apiBase, /^https:\/\/[^/]+$/);
  const app = JSON.parse(fs.readFileSync(path.join(root, 'app.json'), 'utf8'));
  for (const p of app.pages) {
    for (const ext of ['js', 'json', 'wxml', 'wxss']) assert.ok(fs.existsSync(path.join(root, p + '.' + ext)), `${p}.${ext}`);
  }
});
