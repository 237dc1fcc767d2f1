// DOM helpers. User text only ever goes through textContent and attributes, never parsed as HTML.

/** h('a', {href, class, text}, ...children): an element; strings become text nodes. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

export function readJSON(id) {
  return JSON.parse(document.getElementById(id).textContent);
}

export function debounce(fn, ms) {
  let timer;
  const debounced = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  debounced.cancel = () => clearTimeout(timer);
  return debounced;
}

/** A short message in the page's polite live region, with an optional link. */
export function toast(message, link = null) {
  const box = document.getElementById('toast');
  if (!box) return;
  box.replaceChildren(h('span', { text: message }),
    ...(link ? [' ', h('a', { href: link.href, text: link.text })] : []));
  box.classList.add('visible');
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => box.classList.remove('visible'), 8000);
}

/** Fill a live status element (announced by screen readers). */
export function announce(el, message) {
  if (el) el.textContent = message;
}
