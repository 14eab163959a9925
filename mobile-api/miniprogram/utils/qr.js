// The pass as a QR code on a <canvas type="2d">: the vendored qrcode-generator makes the
// module matrix (alphanumeric mode, error correction M, as docs/credential-format.md
// prescribes for GA1: texts, like the web app), drawn here with a 4-module quiet zone,
// whole device pixels per module, black on white.
const qrcode = require('../vendor/qrcode-generator/qrcode.js');

const QUIET = 4;

// matrix is the code's modules: n×n, true for dark.
function matrix(text) {
  const q = qrcode(0, 'M');
  q.addData(text, 'Alphanumeric');
  q.make();
  const n = q.getModuleCount();
  const rows = [];
  for (let r = 0; r < n; r++) {
    const row = [];
    for (let c = 0; c < n; c++) row.push(q.isDark(r, c));
    rows.push(row);
  }
  return rows;
}

// draw paints text's code into ctx (a 2D context) over a size×size square of device
// pixels, centred; it answers the module count and the pixels per module.
function draw(ctx, text, size) {
  const m = matrix(text);
  const n = m.length;
  const scale = Math.floor(size / (n + 2 * QUIET));
  if (scale < 1) throw new Error('canvas too small for the code');
  const off = Math.floor((size - scale * (n + 2 * QUIET)) / 2) + QUIET * scale;
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, size, size);
  ctx.fillStyle = '#000000';
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) if (m[r][c]) ctx.fillRect(off + c * scale, off + r * scale, scale, scale);
  }
  return { modules: n, scale };
}

// drawOn finds the canvas with selector in component (a page) and draws text on it,
// sized for the screen's pixel ratio.
function drawOn(component, selector, text) {
  return new Promise((resolve, reject) => {
    wx.createSelectorQuery().in(component).select(selector).fields({ node: true, size: true }).exec((res) => {
      const f = res && res[0];
      if (!f || !f.node) { reject(new Error('no canvas ' + selector)); return; }
      const ratio = (wx.getWindowInfo ? wx.getWindowInfo() : wx.getSystemInfoSync()).pixelRatio || 1;
      const size = Math.floor(Math.min(f.width, f.height) * ratio);
      f.node.width = size;
      f.node.height = size;
      try {
        resolve(draw(f.node.getContext('2d'), text, size));
      } catch (e) { reject(e); }
    });
  });
}

module.exports = { matrix, draw, drawOn, QUIET };
