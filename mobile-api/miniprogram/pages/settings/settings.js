// Settings: the WeChat binding (seen and removed here, as on the web app's security
// screen), what needs the passkey web app and its address to copy, the language.
const api = require('../../utils/api.js');
const config = require('../../config.js');
const i18n = require('../../utils/i18n.js');

const keys = ['settings.binding', 'settings.unbind', 'settings.passkeyTitle', 'settings.passkeyWhy',
  'settings.h5', 'settings.copyH5', 'settings.language', 'settings.privacy'];

Component({
  data: { bound: false, bindingText: '', error: '', needs: [], h5: '', lang: 'zh', t: {} },
  methods: {
    onLoad() { this.words(); },
    words() {
      this.setData({
        t: i18n.texts(keys),
        lang: i18n.lang(),
        h5: config.apiBase + '/',
        needs: ['settings.needsOffline', 'settings.needsFace', 'settings.needsExport', 'settings.needsDelete'].map((k) => i18n.t(k)),
      });
    },
    onShow() {
      i18n.tabBar();
      wx.setNavigationBarTitle({ title: i18n.t('tab.settings') });
      return this.load();
    },
    async load() {
      try {
        const { binding } = (await api.call('GET', '/api/v1/wechat/binding')).data;
        this.setData({ bound: !!binding, error: '',
          bindingText: binding ? i18n.t('settings.boundSince', { t: i18n.time(binding.created_at) }) : i18n.t('settings.notBound') });
      } catch (e) {
        if (!api.needsBind(e)) this.setData({ error: i18n.errorText(e) });
      }
    },
    unbind() {
      wx.showModal({
        content: i18n.t('settings.unbindQ'),
        success: async (r) => {
          if (!r.confirm) return;
          try {
            await api.call('DELETE', '/api/v1/wechat/binding');
            api.forget();
            wx.reLaunch({ url: '/pages/bind/bind' });
          } catch (e) {
            this.setData({ error: i18n.errorText(e) });
          }
        },
      });
    },
    copyH5() {
      wx.setClipboardData({ data: this.data.h5, success: () => wx.showToast({ title: i18n.t('settings.copiedH5'), icon: 'none' }) });
    },
    onLang(e) {
      i18n.setLang(e.detail.value);
      this.words();
      i18n.tabBar();
      return this.load();
    },
  },
});
