// Small DOM helpers shared by every page: element builders, icons, money and time
// formatting, dialogs, copy to clipboard, and the loading / empty / error states.

// h('button', {class: 'primary', onclick: fn}, 'Text', child, ...): an element. Children may
// be strings, nodes, arrays, or null/false (skipped). Text is always set as text, never as
// HTML, so nothing from the server is ever parsed as markup.
export function h(tag, props, ...children) {
  return build(document.createElement(tag), props, children);
}

const SVG_NS = 'http://www.w3.org/2000/svg';
export function s(tag, props, ...children) {
  return build(document.createElementNS(SVG_NS, tag), props, children);
}

function build(el, props, children) {
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.setAttribute('class', value);
    else if (key === 'text') el.textContent = value;
    else if (key === 'value' || key === 'checked') el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// Icons are decorative: the button or link that holds one always has a text name.
const ICONS = {
  trash: 'M4 7h16M10 11v6M14 11v6M6 7l1 12a2 2 0 0 0 2 2h6a2 2 0 0 0 2-2l1-12M9 7V4h6v3',
  copy: 'M9 9h11v11H9zM5 15H4V4h11v1',
  plus: 'M12 5v14M5 12h14',
  key: 'M12 15a4 4 0 1 1-8 0a4 4 0 1 1 8 0zM10.8 12.2L20 3M16 7l3 3M13.5 9.5l2 2',
  wallet: 'M3 7h16a2 2 0 0 1 2 2v9a2 2 0 0 1-2 2H3zM3 7V6a2 2 0 0 1 2-2h11v3M16 14h1',
  chart: 'M4 20h16M7 16v-5M12 16V6M17 16v-8',
  plug: 'M9 3v5M15 3v5M6 8h12v3a6 6 0 0 1-12 0zM12 17v4',
  terminal: 'M4 17l6-5-6-5M12 19h8',
  alert: 'M12 3l10 18H2zM12 10v5M12 18v.5',
};
export function icon(name) {
  return s('svg', { class: 'icon', viewBox: '0 0 24 24', 'aria-hidden': 'true', focusable: 'false' },
    s('path', { d: ICONS[name] }));
}

// Dollars from the API's decimal strings ("4.99", "-0.01", "0.000001"), by string
// operations only: money never passes through a floating-point number here.
export function usd(amount) {
  let text = String(amount ?? '0');
  const negative = text.startsWith('-');
  if (negative || text.startsWith('+')) text = text.slice(1);
  let [whole, frac = ''] = text.split('.');
  frac = frac.replace(/0+$/, '').padEnd(2, '0');
  whole = (whole || '0').replace(/^0+(?=\d)/, '').replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${negative ? '-' : ''}$${whole}.${frac}`;
}

// Integer micro-dollars to the same display (chart axes, sums).
export function usdMicros(micros) {
  const negative = micros < 0;
  const abs = Math.abs(Math.round(micros));
  const frac = String(abs % 1e6).padStart(6, '0');
  return usd(`${negative ? '-' : ''}${Math.floor(abs / 1e6)}.${frac}`);
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeZone: 'UTC' });

export function time(iso, fallback = '—') {
  if (!iso) return fallback;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return h('time', { datetime: iso, title: iso }, dateTime.format(d));
}

// "2025-06-01" as a calendar day (the API's usage days are UTC dates).
export function day(date) {
  const d = new Date(`${date}T00:00:00Z`);
  return Number.isNaN(d.getTime()) ? date : dateOnly.format(d);
}

export function limitText(limit) {
  if (!limit) return 'None';
  const per = { day: 'per day', month: 'per month', total: 'in total' }[limit.period] || limit.period;
  return `${usd(limit.amount)} ${per}`;
}

let announcer;
// Tells screen-reader users what just happened (a key was deleted, a copy worked, ...).
export function announce(message) {
  announcer ||= document.getElementById('announcer');
  announcer.textContent = '';
  requestAnimationFrame(() => {
    announcer.textContent = message;
  });
}

// The states every data view goes through.
export function loading(what) {
  return h('p', { class: 'loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), `Loading ${what}…`);
}

export function errorBox(error, retry) {
  return h('div', { class: 'notice error', role: 'alert' },
    h('p', {}, h('strong', {}, error.code && !error.code.startsWith('HTTP_') && error.code !== 'NETWORK' ? `${error.code}: ` : ''),
      error.message || String(error)),
    retry && h('button', { type: 'button', class: 'secondary', onclick: retry }, 'Try again'));
}

export function emptyState(title, text, action) {
  return h('div', { class: 'empty' }, h('p', { class: 'empty-title' }, title), text && h('p', {}, text), action);
}

// A modal <dialog>: the browser traps focus inside, closes it on Escape and, as it closes,
// puts focus back on the element that opened it. Returns the dialog; `onClose` runs once
// it is closed.
export function openDialog({ title, body, onClose, labelledBy }) {
  const opener = document.activeElement;
  const heading = h('h2', { id: `dialog-title-${++dialogCount}` }, title);
  const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': labelledBy || heading.id }, heading, body);
  dialog.addEventListener('close', () => {
    dialog.remove();
    if (onClose) onClose(dialog.returnValue);
    // Only where the browser could not restore focus. The close event can come a frame
    // later, after the user has already pressed Tab: focus must stay where they moved it.
    const lost = !document.activeElement || document.activeElement === document.body;
    if (lost && opener && opener.isConnected) opener.focus();
  });
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}
let dialogCount = 0;

// Copies text; falls back to selecting `input` and execCommand where the Clipboard API is
// missing (plain http on a non-localhost address is not a secure context).
export async function copyText(text, input) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    if (!input) return false;
    input.focus();
    input.select();
    try {
      return document.execCommand('copy');
    } catch {
      return false;
    }
  }
}

// A Copy button for `text` (or the current value of `source()`); shows "Copied" briefly.
export function copyButton(label, source, input) {
  const text = h('span', {}, 'Copy');
  const button = h('button', { type: 'button', class: 'secondary copy', 'aria-label': label }, icon('copy'), text);
  button.addEventListener('click', async () => {
    const ok = await copyText(typeof source === 'function' ? source() : source, input);
    text.textContent = ok ? 'Copied' : 'Copy failed';
    announce(ok ? 'Copied to the clipboard.' : 'Could not copy: select the text and copy it by hand.');
    clearTimeout(button.resetTimer);
    button.resetTimer = setTimeout(() => (text.textContent = 'Copy'), 2500);
  });
  return button;
}

// The field's error text, tied to it for screen readers.
export function fieldError(input, message) {
  const id = `${input.id}-error`;
  let note = document.getElementById(id);
  const hint = input.dataset.hint;
  if (!message) {
    note?.remove();
    input.removeAttribute('aria-invalid');
    if (hint) input.setAttribute('aria-describedby', hint);
    else input.removeAttribute('aria-describedby');
    return;
  }
  if (!note) {
    note = h('p', { id, class: 'field-error' });
    input.insertAdjacentElement('afterend', note);
  }
  note.textContent = message;
  // The message goes as soon as the person starts fixing the field.
  input.addEventListener('input', () => fieldError(input, ''), { once: true });
  input.setAttribute('aria-invalid', 'true');
  input.setAttribute('aria-describedby', hint ? `${hint} ${id}` : id);
}

// A labelled field: <label for> + input. Returns {wrap, input}.
let fieldCount = 0;
export function field(label, props = {}, hint) {
  const id = props.id || `f${++fieldCount}`;
  const hintId = hint ? `${id}-hint` : undefined;
  const input = h(props.tag || 'input', { ...props, tag: undefined, id, 'aria-describedby': hintId, 'data-hint': hintId });
  const wrap = h('div', { class: 'field' }, h('label', { for: id }, label), input,
    hint && h('p', { class: 'hint', id: `${id}-hint` }, hint));
  return { wrap, input };
}

export function pageHeader(title, intro, ...actions) {
  return h('header', { class: 'page-header' },
    h('div', {}, h('h1', { tabindex: '-1' }, title), intro && h('p', { class: 'intro' }, intro)),
    actions.length ? h('div', { class: 'actions' }, actions) : null);
}
