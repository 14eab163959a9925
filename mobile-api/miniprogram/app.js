// The gatepass resident mini-program (docs/miniprogram.md). Each page signs in on its
// own when it needs to (utils/api.js: wx.login, then /api/v1/wechat/session), and goes
// to the bind page when this WeChat user is bound to nobody.
const config = require('./config.js');

App({
  onLaunch() {
    // A config.js whose AppID is not this mini-program's would send its login codes to a
    // server that cannot exchange them: say so at once rather than failing at sign-in.
    try {
      const info = wx.getAccountInfoSync && wx.getAccountInfoSync();
      if (info && info.miniProgram && info.miniProgram.appId !== config.appId) {
        console.error('gatepass: config.js appId', config.appId, 'is not this mini-program', info.miniProgram.appId);
      }
    } catch (e) { /* not in WeChat (tests) */ }
  },
});
