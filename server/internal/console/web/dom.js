// A small element builder: text always goes in as text, never as HTML.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

// field is a labelled form control: every input has a <label for>.
let seq = 0;
export function field(label, control) {
  if (!control.id) control.id = 'f' + (++seq);
  return h('div', { class: 'field' }, h('label', { for: control.id }, label), control);
}

export function select(attrs, options, value) {
  const s = h('select', attrs);
  for (const [v, text] of options) s.append(h('option', { value: v, selected: v === value }, text));
  return s;
}

const locale = () => (document.documentElement.lang === 'zh-CN' ? 'zh-CN' : 'en-GB');
export const fmtTime = (s) => (s ? new Date(s).toLocaleString(locale()) : '—');
export const fmtDate = (s) => (s ? new Date(s).toLocaleDateString(locale()) : '—');

// table makes a table with a header row; rows are arrays of cells (nodes or text).
export function table(head, rows, attrs) {
  return h('table', attrs || {},
    h('thead', {}, h('tr', {}, head.map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', {}, rows.map((r) => (r instanceof Node ? r : h('tr', {}, r.map((c) => h('td', {}, c)))))));
}

// ask shows a modal dialog with the given body and resolves with the submitted form's
// values, or null when cancelled. Escape cancels; focus starts in the dialog.
export function ask(title, body, okText, cancelText) {
  return new Promise((resolve) => {
    const form = h('form', { method: 'dialog' },
      h('h2', {}, title), body,
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'secondary', onclick: () => { d.close(); } }, cancelText),
        h('button', { type: 'submit', value: 'ok', id: 'dialog-ok' }, okText)));
    const d = h('dialog', { 'aria-label': title }, form);
    let ok = false;
    form.addEventListener('submit', (e) => { if (!form.checkValidity()) { e.preventDefault(); return; } ok = true; });
    d.addEventListener('close', () => { d.remove(); resolve(ok ? Object.fromEntries(new FormData(form)) : null); });
    document.body.append(d);
    d.showModal();
  });
}
