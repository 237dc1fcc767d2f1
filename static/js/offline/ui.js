// What the person sees of the offline outbox, on every page: a panel listing what waits on this
// device (with the server's refusal, to fix or delete), a banner on a page shown from the
// service worker's saved copy, "pending" marks on the agent's pages, and announcements (the
// page's polite live region) when something is kept, sent or refused.
import { $, $$, h, toast } from '../lib/dom.js';
import { formatDateTime, t, tn } from '../lib/i18n.js';
import { CHANGED, discard, retry, sendPending } from './outbox.js';
import { mine } from './store.js';

const OPENED = 'cartagora.outbox.open';
const sent = [];  // what was sent while this page is open: {text, href}
let user = null;

const timeFormat = new Intl.DateTimeFormat(document.documentElement.lang === 'en' ? 'en' : 'fr',
  { hour: '2-digit', minute: '2-digit', timeZone: 'Europe/Paris' });

/** The page came from the service worker's cache: say so, and how old it is. */
function showSavedCopy() {
  const at = document.querySelector('meta[name="cartagora-saved-copy"]')?.content;
  if (!at) return;
  const when = new Date(at);
  const today = when.toDateString() === new Date().toDateString();
  const banner = h('p', { class: 'offline-banner', role: 'status', id: 'offline-banner' },
    t('offline.saved_copy', { time: today ? timeFormat.format(when) : formatDateTime(at) }));
  const main = $('#main');
  // the map fills the rest of the window: the banner goes above it, not over its controls
  if (document.body.classList.contains('page-map')) main?.before(banner);
  else main?.prepend(banner);
  window.addEventListener('online', () => {
    banner.replaceChildren(t('offline.back_online'), ' ',
      h('a', { href: location.href, text: t('offline.reload') }));
  });
}

/** A live page that loses the network says what still works. */
function watchConnection() {
  window.addEventListener('offline', () => toast(t('offline.now_offline')));
}

function describe(store, record) {
  if (store === 'drafts') {
    const photos = record.photos.length ? ` · ${tn('offline.photos', record.photos.length)}` : '';
    return `${record.feature.properties.title || '—'} · ${t(`kind.${record.kind}`)}${photos}`;
  }
  return t('offline.transition', { id: record.report, status: record.label });
}

function problemText(error) {
  const details = [error.detail, ...(error.errors ?? []).map((e) => e.detail)].filter(Boolean);
  return t('offline.refused', { detail: [...new Set(details)].join(' ') || `HTTP ${error.status}` });
}

/** A refused draft's title and description, editable before sending it again. */
function draftEditor(record) {
  const p = record.feature.properties;
  const id = `outbox-${record.id}`;
  const title = h('input', { id: `${id}-title`, name: 'title', value: p.title ?? '' });
  const description = h('textarea', { id: `${id}-description`, name: 'description', rows: 2 });
  description.value = p.description ?? '';
  return h('form', {
    class: 'outbox-edit',
    onsubmit: (event) => {
      event.preventDefault();
      const feature = { ...record.feature, properties: { ...p, title: title.value, description: description.value } };
      retry('drafts', record.id, { feature });
    },
  },
  h('label', { for: title.id, text: t('offline.title_label') }), title,
  h('label', { for: description.id, text: t('offline.description_label') }), description,
  h('div', { class: 'button-row' },
    h('button', { type: 'submit', class: 'button primary small', text: t('offline.send_again') }),
    deleteButton('drafts', record)));
}

function deleteButton(store, record) {
  return h('button', {
    type: 'button', class: 'button secondary small', text: t('offline.delete'),
    'aria-label': `${t('offline.delete')} : ${describe(store, record)}`,
    onclick: () => { if (window.confirm(t('offline.delete_confirm'))) discard(store, record.id); },
  });
}

function item(store, record) {
  const refused = record.state === 'refused';
  const state = refused ? problemText(record.error)
    : record.error?.status === 401 ? t('offline.sign_in') : t('offline.waiting');
  const li = h('li', { class: `outbox-item ${refused ? 'is-refused' : 'is-waiting'}`, dataset: { store, id: record.id } },
    h('p', { class: 'outbox-what', text: describe(store, record) }),
    h('p', { class: refused ? 'outbox-state field-error' : 'outbox-state', text: state }));
  if (refused && store === 'drafts') {
    li.append(draftEditor(record));
  } else if (refused) {
    li.append(h('div', { class: 'button-row' },
      h('button', { type: 'button', class: 'button primary small', text: t('offline.send_again'),
        onclick: () => retry(store, record.id) }),
      deleteButton(store, record)));
  } else {
    li.append(h('div', { class: 'button-row' }, deleteButton(store, record)));
  }
  return li;
}

async function render() {
  const drafts = user ? await mine('drafts', user) : [];
  const changes = user ? await mine('transitions', user) : [];
  markPending(changes);
  let panel = $('#outbox');
  const n = drafts.length + changes.length;
  if (!n && !sent.length) {
    panel?.remove();
    return;
  }
  if (!panel) {
    panel = h('section', { id: 'outbox', class: 'outbox', 'aria-labelledby': 'outbox-title' });
    document.body.insertBefore(panel, $('#toast'));
  }
  // folded to one line over the page, unless something needs the person (a refusal) or
  // they opened it
  const refused = [...drafts, ...changes].some((r) => r.state === 'refused');
  const open = refused || sessionStorage.getItem(OPENED) === '1';
  const details = h('details', {
    open,
    ontoggle: (event) => sessionStorage.setItem(OPENED, event.target.open ? '1' : '0'),
  },
  h('summary', {}, h('h2', { id: 'outbox-title', text: n ? tn('offline.outbox', n) : t('offline.outbox_sent') })),
  h('ul', { class: 'outbox-list' },
    ...drafts.map((r) => item('drafts', r)),
    ...changes.map((r) => item('transitions', r)),
    ...sent.map((s) => h('li', { class: 'outbox-item is-sent' },
      h('p', {}, s.text, s.href ? ' ' : null, s.href ? h('a', { href: s.href, text: t('form.view') }) : null)))),
  sent.length ? h('p', { class: 'outbox-close' }, h('button', {
    type: 'button', class: 'button secondary small', text: t('offline.close'),
    onclick: () => { sent.length = 0; render(); },
  })) : null);
  panel.replaceChildren(details);
}

/** The agent's pages: a "pending" mark on the queue, a notice above the status form. */
function markPending(changes) {
  for (const old of $$('.offline-pending')) old.remove();
  const waiting = changes.filter((c) => c.state === 'waiting');
  for (const change of waiting) {
    for (const link of $$(`a.queue-link[href$="/agent/reports/${change.report}"]`)) {
      link.querySelector('.queue-meta')?.append(' ',
        h('span', { class: 'offline-pending badge-pending', text: t('offline.pending_badge') }));
    }
  }
  const here = location.pathname.match(/^\/agent\/reports\/(\d+)$/);
  const form = $('#transition-form');
  if (here && form) {
    for (const change of waiting.filter((c) => String(c.report) === here[1])) {
      form.before(h('p', { class: 'form-notice offline-pending', role: 'status' },
        t('offline.transition_pending', { status: change.label })));
    }
  }
}

function announce({ type, store, record, result }) {
  if (type === 'kept') {
    toast(store === 'drafts' ? t('offline.draft_saved') : t('offline.transition_saved', { status: record.label }));
  } else if (type === 'sent') {
    const entry = store === 'drafts'
      ? { text: t('offline.draft_sent', { title: record.feature.properties.title }), href: `/c/${result.id}` }
      : { text: t('offline.transition_sent', { id: record.report, status: record.label }),
        href: `/agent/reports/${record.report}` };
    sent.push(entry);
    toast(entry.text, { href: entry.href, text: t('form.view') });
  } else if (type === 'refused') {
    toast(`${describe(store, record)} — ${problemText(record.error)}`);
  }
}

export function startOutbox(currentUser) {
  user = currentUser;
  showSavedCopy();
  watchConnection();
  if (!('indexedDB' in window)) return;
  window.addEventListener(CHANGED, (event) => {
    announce(event.detail);
    render();
  });
  render();
  if (user) {
    sendPending(user);
    window.addEventListener('online', () => sendPending(user));
  }
}
