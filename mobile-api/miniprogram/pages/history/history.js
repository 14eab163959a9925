// The resident's own entries, newest first, 50 at a time.
const api = require('../../utils/api.js');
const i18n = require('../../utils/i18n.js');

function view(e) {
  let resultText = i18n.t(e.result === 'granted' ? 'history.granted' : 'history.denied');
  if (e.offline) resultText += ' · ' + i18n.t('history.offline');
  return { id: e.id, result: e.result, resultText, gate: e.gate_name || i18n.t('history.gate'), when: i18n.time(e.occurred_at) };
}

Component({
  data: { entries: [], cursor: '', loaded: false, error: '', t: {} },
  methods: {
    onLoad() {
      this.setData({ t: i18n.texts(['history.title', 'history.none', 'history.more']) });
    },
    onShow() {
      i18n.tabBar();
      wx.setNavigationBarTitle({ title: i18n.t('tab.history') });
      return this.load('');
    },
    more() { return this.load(this.data.cursor); },
    async load(cursor) {
      try {
        const q = cursor ? '&cursor=' + encodeURIComponent(cursor) : '';
        const page = (await api.call('GET', '/api/v1/entries?limit=50' + q)).data;
        const list = page.entries.map(view);
        this.setData({ entries: cursor ? this.data.entries.concat(list) : list, cursor: page.next_cursor || '', loaded: true, error: '' });
      } catch (e) {
        if (!api.needsBind(e)) this.setData({ error: i18n.errorText(e), loaded: true });
      }
    },
  },
});
