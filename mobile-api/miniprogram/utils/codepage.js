// codePage is what the pass page and the visitor's page share: a Keeper's code drawn on
// the #qr canvas, a countdown every second, the screen bright while it shows. fetch
// gets a code; onError handles a refusal the page knows better (the pass page sends an
// unbound WeChat to bind).
const i18n = require('./i18n.js');
const qr = require('./qr.js');
const screen = require('./screen.js');
const { shared } = require('./keeper.js');

function codePage(name, fetch, onError) {
  return {
    start() {
      this.keeper = shared(name(this), () => fetch(this));
      this.drawn = null;
      screen.bright();
      this.refresh();
      this.timer = setInterval(() => this.refresh(), 1000);
    },
    stop() {
      if (this.timer) clearInterval(this.timer);
      this.timer = null;
      screen.restore();
    },
    // refresh shows the keeper's state now, fetching when due.
    refresh() {
      const k = this.keeper;
      const show = () => {
        const valid = k.valid();
        const s = k.secondsLeft();
        let status = 'loading';
        let note = i18n.t('pass.loading');
        if (valid && k.problem) {
          status = 'offline';
          note = i18n.t('pass.offline', { s });
        } else if (valid) {
          status = 'ok';
          note = i18n.t('pass.validFor', { s: Math.max(0, Math.ceil((k.code.refreshAt - k.now()) / 1000)) });
        } else if (k.problem) {
          status = 'error';
          note = k.problem.status === 0 && k.code ? i18n.t('pass.expired') : i18n.errorText(k.problem);
        }
        this.setData({ status, note, seconds: s });
        if (valid && this.drawn !== k.code.payload) {
          const payload = k.code.payload;
          this.drawn = payload;
          qr.drawOn(this, '#qr', payload).catch(() => { this.drawn = null; });
        }
      };
      show();
      if (k.due()) {
        return k.tick().then(() => {
          if (k.problem && onError && onError(k.problem)) return;
          show();
        });
      }
      return Promise.resolve();
    },
    retry() {
      this.keeper.retryAt = 0;
      return this.refresh();
    },
  };
}

module.exports = { codePage };
