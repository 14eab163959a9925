// First use: the invite (typed, or the invite QR scanned with wx.scanCode) binds this
// WeChat user to the resident, and the pass follows.
const api = require('../../utils/api.js');
const i18n = require('../../utils/i18n.js');

Component({
  data: { invite: '', error: '', busy: false, t: {} },
  methods: {
    onLoad(query) {
      this.setData({ t: i18n.texts(['bind.title', 'bind.what', 'bind.code', 'bind.scan', 'bind.submit', 'bind.privacy']) });
      if (query && query.invite) this.setData({ invite: decodeURIComponent(query.invite) });
      wx.setNavigationBarTitle({ title: i18n.t('bind.title') });
    },
    onInput(e) { this.setData({ invite: e.detail.value, error: '' }); },
    scan() {
      wx.scanCode({
        onlyFromCamera: false,
        scanType: ['qrCode'],
        // The invite QR holds the invite link; the server takes the code out of it.
        success: (r) => this.setData({ invite: r.result, error: '' }),
      });
    },
    async submit() {
      const invite = this.data.invite.trim();
      if (!invite) {
        this.setData({ error: i18n.t('bind.empty') });
        return;
      }
      this.setData({ busy: true, error: '' });
      try {
        await api.bind(invite);
        wx.reLaunch({ url: '/pages/pass/pass' });
      } catch (e) {
        this.setData({ error: i18n.errorText(e) });
      } finally {
        this.setData({ busy: false });
      }
    },
  },
});
