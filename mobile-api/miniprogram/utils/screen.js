// While a code shows, the screen stays on and at full brightness (a gate's camera reads
// a bright screen best); leaving the page puts both back as they were.
let saved = null;

function bright() {
  wx.setKeepScreenOn({ keepScreenOn: true });
  wx.getScreenBrightness({
    success: (r) => {
      if (saved === null) saved = r.value;
      wx.setScreenBrightness({ value: 1 });
    },
  });
}

function restore() {
  wx.setKeepScreenOn({ keepScreenOn: false });
  if (saved !== null) {
    wx.setScreenBrightness({ value: saved });
    saved = null;
  }
}

module.exports = { bright, restore };
