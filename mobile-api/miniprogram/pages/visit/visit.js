// A visitor's pass, opened from the card a resident shared (path ?token=...): no
// account, no sign-in; the code comes from the share link's own API.
const api = require('../../utils/api.js');
const i18n = require('../../utils/i18n.js');
const { codePage } = require('../../utils/codepage.js');

const base = (p) => '/api/v1/visit/' + encodeURIComponent(p.token);
const page = codePage((p) => 'visit:' + p.token, (p) => api.request('GET', base(p) + '/pass'));

Component({
  data: { status: 'loading', note: '', seconds: 0, label: '', left: '', t: {} },
  methods: Object.assign({}, page, {
    async onLoad(query) {
      this.token = (query && query.token) || '';
      this.setData({ t: i18n.texts(['pass.hint', 'pass.retry']), label: i18n.t('visit.title'), note: i18n.t('pass.loading') });
      try {
        const v = (await api.request('GET', base(this))).data;
        this.setData({ label: v.label, left: i18n.t('visit.left', { n: v.entries_left, t: i18n.time(v.valid_until) }) });
      } catch (e) {
        this.setData({ status: 'error', note: i18n.errorText(e) });
      }
    },
    onShow() { this.start(); },
    onHide() { this.stop(); },
    onUnload() { this.stop(); },
  }),
});
