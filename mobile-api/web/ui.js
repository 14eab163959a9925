// Building screens: elements, the screen on view with the app's one clock, and the
// shapes every tab shares (an error line, a card that loads with a retry, a confirm step).
// Everything is built with DOM calls (never innerHTML), so nothing a server or another
// resident wrote can run as script.
import { t } from './i18n.js';
import { errorText, offline } from './api.js';

const view = document.getElementById('view');

// el builds an element: el('p', {class: 'x', onclick: f}, 'text', child...).
export function el(tag, attrs = {}, ...children) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) n.addEventListener(k.slice(2), v);
    else if (k === 'class') n.className = v;
    else n.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) n.append(c);
  return n;
}

// A Screen is what is on view. The app has one clock (a one-second interval made once,
// below) and it ticks only the current screen: a screen that has been left gets no tick,
// so nothing it started can fetch or schedule again. Work a screen started that is still
// running checks `alive` before touching anything.
class Screen {
  alive = true;
  ticks = [];
  stops = [];
  // every runs fn now and then on every tick while the screen is on view.
  every(fn) {
    this.ticks.push(fn);
    fn();
  }
  onStop(fn) { this.stops.push(fn); }
  stop() {
    this.alive = false;
    for (const f of this.stops) f();
  }
}

let screen = new Screen();
setInterval(() => {
  if (screen.alive) for (const f of screen.ticks) f();
}, 1000);

// show replaces what is on view and returns the new screen.
export function show(...nodes) {
  screen.stop();
  screen = new Screen();
  view.replaceChildren(...nodes.flat().filter((n) => n !== null && n !== undefined && n !== false));
  window.scrollTo(0, 0);
  return screen;
}

export const current = () => screen;

// fill adds nodes to what is on view (for a screen built after show).
export function fill(...nodes) {
  view.append(...nodes.flat().filter((n) => n !== null && n !== undefined && n !== false));
}

export function errorLine(id) {
  return el('p', { class: 'error', id, role: 'alert' });
}

// fail puts a failure in an error line, in the app's words.
export function fail(line, err) {
  line.textContent = errorText(err);
}

// loadInto fills box with what load() builds; on failure it says why (no network, or the
// server's refusal in the app's words) with a retry button, instead of an empty card.
export async function loadInto(box, load) {
  box.setAttribute('aria-busy', 'true');
  try {
    box.replaceChildren(...[await load()].flat().filter(Boolean));
  } catch (err) {
    box.replaceChildren(el('div', { class: 'problem', role: 'alert' },
      el('p', { class: offline(err) ? 'error offline-msg' : 'error' }, offline(err) ? t('err.offlineTab') : errorText(err)),
      el('button', { class: 'btn secondary retry', type: 'button', onclick: () => loadInto(box, load) }, t('retry'))));
  } finally {
    box.removeAttribute('aria-busy');
  }
}

// confirmStep replaces a button with a question and two answers until one is chosen:
// nothing that cannot be undone happens on one tap.
export function confirmStep(button, question, yesText, onYes) {
  button.addEventListener('click', () => {
    const box = el('div', { class: 'confirm', role: 'group' });
    const back = () => box.replaceWith(button);
    box.append(el('p', { class: 'confirm-q' }, question),
      el('div', { class: 'confirm-row' },
        el('button', { class: 'btn small danger confirm-yes', type: 'button', onclick: () => { back(); onYes(); } }, yesText),
        el('button', { class: 'btn small secondary confirm-no', type: 'button', onclick: back }, t('cancel'))));
    button.replaceWith(box);
  });
  return button;
}
