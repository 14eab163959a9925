// Visitor passes: create one, send it to a WeChat chat (onShareAppMessage: the card
// opens the mini-program's visitor page; no account needed) or copy its H5 link; list
// and revoke.
const api = require('../../utils/api.js');
const i18n = require('../../utils/i18n.js');

const hourChoices = [1, 2, 4, 8, 12, 24, 48, 72, 168];
const entryChoices = [1, 2, 3, 5, 10, 20];

// tokenOf takes the visitor token out of a share link (<origin>/v/<token>).
function tokenOf(link) {
  const i = link.lastIndexOf('/v/');
  return i >= 0 ? link.slice(i + 3) : '';
}

Component({
  data: { label: '', hourChoices, hoursIndex: 2, entryChoices, entriesIndex: 0, busy: false, error: '',
    created: null, createdText: '', passes: [], t: {} },
  methods: {
    onLoad() {
      this.setData({ t: i18n.texts(['visitors.title', 'visitors.what', 'visitors.label', 'visitors.hours', 'visitors.entries',
        'visitors.create', 'visitors.share', 'visitors.copy', 'visitors.none', 'visitors.revoke']) });
    },
    onShow() {
      i18n.tabBar();
      wx.setNavigationBarTitle({ title: i18n.t('tab.visitors') });
      return this.load();
    },
    onLabel(e) { this.setData({ label: e.detail.value, error: '' }); },
    onHours(e) { this.setData({ hoursIndex: Number(e.detail.value) }); },
    onEntries(e) { this.setData({ entriesIndex: Number(e.detail.value) }); },
    async load() {
      try {
        const res = await api.call('GET', '/api/v1/visitors');
        this.setData({ passes: res.data.visitor_passes.map((p) => Object.assign({}, p, {
          stateText: i18n.t('state.' + p.state),
          untilText: i18n.t('visitors.until', { t: i18n.time(p.valid_until) }),
          usedText: i18n.t('visitors.used', { u: p.entries_used, m: p.max_entries }),
        })) });
      } catch (e) {
        if (!api.needsBind(e)) this.setData({ error: i18n.errorText(e) });
      }
    },
    async create() {
      const label = this.data.label.trim();
      if (!label) {
        this.setData({ error: i18n.t('visitors.needLabel') });
        return;
      }
      this.setData({ busy: true, error: '' });
      try {
        const until = new Date(Date.now() + hourChoices[this.data.hoursIndex] * 3600 * 1000).toISOString();
        const res = await api.call('POST', '/api/v1/visitors', { label, max_entries: entryChoices[this.data.entriesIndex], valid_until: until });
        const created = { label, link: res.data.link, token: tokenOf(res.data.link) };
        this.setData({ created, createdText: i18n.t('visitors.created', { l: label }), label: '' });
        await this.load();
      } catch (e) {
        if (!api.needsBind(e)) this.setData({ error: i18n.errorText(e) });
      } finally {
        this.setData({ busy: false });
      }
    },
    copy() {
      wx.setClipboardData({ data: this.data.created.link, success: () => wx.showToast({ title: i18n.t('visitors.copied'), icon: 'none' }) });
    },
    // The share card opens the visitor page of this mini-program with the pass's token;
    // the visitor needs no account (the H5 link works outside WeChat too).
    onShareAppMessage() {
      const c = this.data.created;
      if (!c) return { title: i18n.t('visitors.title'), path: '/pages/pass/pass' };
      return { title: i18n.t('visitors.shareTitle', { l: c.label }), path: '/pages/visit/visit?token=' + encodeURIComponent(c.token) };
    },
    revoke(e) {
      const { id, label } = e.currentTarget.dataset;
      wx.showModal({
        content: i18n.t('visitors.revokeQ', { l: label }),
        success: async (r) => {
          if (!r.confirm) return;
          try {
            await api.call('DELETE', '/api/v1/visitors/' + id);
          } catch (err) {
            this.setData({ error: i18n.errorText(err) });
          }
          await this.load();
        },
      });
    },
  },
});
