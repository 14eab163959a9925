// qr-draw TEXT SIZE: what the mini-program's pass page draws for TEXT on a SIZE×SIZE
// canvas (utils/qr.js through a 2D context that records it), as JSON
// {"size": SIZE, "ops": [[colour, x, y, w, h], ...]}. mobile-api's
// TestMiniProgramQRDecodes paints these into a PNG and decodes it with zbarimg.
const { mockWx, recordingContext } = require('./setup.js');

mockWx();
const qr = require('../miniprogram/utils/qr.js');

const [text, size] = [process.argv[2], Number(process.argv[3] || 560)];
const ctx = recordingContext();
qr.draw(ctx, text, size);
process.stdout.write(JSON.stringify({ size, ops: ctx.ops }));
