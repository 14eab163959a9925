// A Keeper holds the newest code of a pass, as the web app's does (web/pass.js): it
// fetches only when the code is due (refresh_after), never twice at once, waits after a
// failure (Retry-After when the server says), and never drops a code that is still
// valid because a request failed: with no network the last valid code stays on screen
// until it expires.
const retryOffline = [3, 5, 10, 15]; // seconds, after failures with no answer
const retryRefused = 30; // after a refusal without Retry-After

class Keeper {
  // fetch resolves {data: {payload, expires_at, refresh_after}, header}; now is the clock.
  constructor(fetch, now) {
    this.fetch = fetch;
    this.now = now || Date.now;
    this.code = null; // {payload, expires, refreshAt}, in this phone's clock
    this.inflight = null;
    this.retryAt = 0;
    this.failures = 0;
    this.problem = null; // the last failure, while it lasts
  }

  valid(now = this.now()) { return !!this.code && now < this.code.expires; }

  // secondsLeft is how long the current code stays valid.
  secondsLeft(now = this.now()) { return this.code ? Math.max(0, Math.ceil((this.code.expires - now) / 1000)) : 0; }

  due(now = this.now()) {
    if (this.inflight || now < this.retryAt) return false;
    return !this.code || now >= this.code.refreshAt;
  }

  // tick fetches when due; it resolves true when a new code came.
  tick() {
    if (!this.due()) return this.inflight || Promise.resolve(false);
    this.inflight = this.fetch().then((res) => {
      const d = res.data;
      // The server's clock, from its Date header, puts the code's times into this
      // phone's: a phone whose clock is off still counts down right.
      const serverDate = Date.parse(headerOf(res.header, 'Date'));
      const skew = Number.isNaN(serverDate) ? 0 : serverDate - this.now();
      this.code = { payload: d.payload, expires: Date.parse(d.expires_at) - skew, refreshAt: Date.parse(d.refresh_after) - skew };
      this.failures = 0;
      this.problem = null;
      this.retryAt = 0;
      return true;
    }, (e) => {
      this.failures++;
      this.problem = e;
      const wait = e.retryAfter || (e.status === 0 ? retryOffline[Math.min(this.failures, retryOffline.length) - 1] : retryRefused);
      this.retryAt = this.now() + wait * 1000;
      return false;
    }).then((changed) => {
      this.inflight = null;
      return changed;
    });
    return this.inflight;
  }
}

function headerOf(h, name) {
  if (!h) return '';
  const k = Object.keys(h).find((x) => x.toLowerCase() === name.toLowerCase());
  return k ? h[k] : '';
}

// shared keeps one Keeper per name for the whole mini-program: leaving the pass tab
// keeps a code that is still valid, and coming back shows it at once.
const kept = {};
function shared(name, fetch) {
  if (!kept[name]) kept[name] = new Keeper(fetch);
  return kept[name];
}
function reset() { Object.keys(kept).forEach((k) => delete kept[k]); }

module.exports = { Keeper, shared, reset, retryOffline, retryRefused };
