// The resident's rotating pass: the GA1: code from /api/v1/pass drawn on the canvas,
// refreshed when due, kept while the network drops (utils/codepage.js).
const api = require('../../utils/api.js');
const i18n = require('../../utils/i18n.js');
const { codePage } = require('../../utils/codepage.js');

const page = codePage(() => 'pass', () => api.call('GET', '/api/v1/pass'), api.needsBind);

Component({
  data: { status: 'loading', note: '', seconds: 0, t: {} },
  methods: Object.assign({}, page, {
    onLoad() {
      this.setData({ t: i18n.texts(['pass.title', 'pass.hint', 'pass.retry']), note: i18n.t('pass.loading') });
    },
    onShow() {
      i18n.tabBar();
      wx.setNavigationBarTitle({ title: i18n.t('tab.pass') });
      this.start();
    },
    onHide() { this.stop(); },
    onUnload() { this.stop(); },
  }),
});
