// The one file a property company edits before opening the project in WeChat DevTools
// and uploading it (docs/miniprogram.md, "Set up"):
//   appId    the mini-program's AppID from mp.weixin.qq.com (Development > Development
//            settings). project.config.json's "appid" must be the same: a test checks it,
//            and DevTools writes it there when you import the project with this AppID.
//   apiBase  the origin of mobile-api over HTTPS, which must be on the mini-program's
//            request domain allow-list ("request 合法域名"). It also serves the passkey
//            web app (H5), whose address the settings page offers to copy.
module.exports = {
  appId: 'wx0000000000000000',
  apiBase: 'https://gatepass.example.com',
};
