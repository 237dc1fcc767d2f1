// The list beside the map: the same area and filters, newest first, page by page. It is a
// complete alternative to the map: every item has its page (vote, comment) and "show on map".
import { api, isAbort } from './lib/api.js';
import { h } from './lib/dom.js';
import { formatDate, formatNumber, t, tn } from './lib/i18n.js';
import { categoryClass } from './map/base.js';

const PAGE = 20;

export class ResultList {
  constructor({ list, count, shown, more }, config, { onShow }) {
    this.list = list;
    this.count = count;
    this.shown = shown;
    this.more = more;
    this.config = config;
    this.onShow = onShow;
    this.next = null;
    this.total = null;
    this.controller = null;
    this.highlighted = null;
    more.addEventListener('click', () => this.loadMore());
  }

  setTotal(total) {
    this.total = total;
    this.renderCount();
  }

  renderCount() {
    if (this.total === null) return;
    const shown = this.list.children.length;
    this.count.textContent = this.total === 0 ? t('list.count_zero') : tn('list.count', this.total);
    this.shown.textContent = shown && shown < this.total
      ? t('list.shown', { shown: formatNumber(shown), total: formatNumber(this.total) })
      : '';
  }

  /** Show `id` (just published) marked in every reload, in view and focused once listed. */
  highlight(id) {
    this.highlighted = id;
    this.focusHighlighted = true;
  }

  async reload(params) {
    params.set('limit', String(PAGE));
    await this.fetch(`/api/v1/map/items?${params}`, true);
  }

  async loadMore() {
    if (!this.next) return;
    const first = await this.fetch(this.next, false);
    first?.querySelector('a')?.focus();
  }

  async fetch(url, replace) {
    this.controller?.abort();
    this.controller = new AbortController();
    this.list.setAttribute('aria-busy', 'true');
    try {
      const page = await api(url, { signal: this.controller.signal });
      const items = page.features.map((f) => this.item(f));
      if (replace) this.list.replaceChildren(...items);
      else this.list.append(...items);
      if (replace && this.highlighted !== null) this.showHighlighted();
      this.next = page.links.find((l) => l.rel === 'next')?.href ?? null;
      this.more.hidden = !this.next;
      this.renderCount();
      return items[0] ?? null;
    } catch (error) {
      if (!isAbort(error)) this.count.textContent = t('map.loading_error');
      return null;
    } finally {
      this.list.removeAttribute('aria-busy');
    }
  }

  showHighlighted() {
    const item = this.list.querySelector(`.item[data-id="${this.highlighted}"]`);
    if (!item) return;
    item.classList.add('item-new');
    item.querySelector('.item-kicker').prepend(h('strong', { class: 'item-badge', text: t('list.just_published') }), ' ');
    // the first time, or again when a reload took the focused item away
    if (this.focusHighlighted || document.activeElement === document.body) {
      this.focusHighlighted = false;
      item.scrollIntoView({ block: 'center' });
      item.querySelector('.item-title a').focus({ preventScroll: true });
    }
  }

  item(feature) {
    const p = feature.properties;
    const titleId = `item-${p.id}-title`;
    const [lon, lat] = feature.geometry.coordinates;
    const counts = p.kind === 'proposal'
      ? t('list.votes', { up: formatNumber(p.votes.up), down: formatNumber(p.votes.down) })
      : tn('list.supports', p.votes.up);
    const facts = [counts, tn('list.comments', p.comments_count)];
    if (p.photos_count) facts.push(tn('list.photos', p.photos_count));
    return h('li', { class: 'item', dataset: { id: p.id, kind: p.kind } },
      h('article', { 'aria-labelledby': titleId },
        p.thumbnail ? h('img', { class: 'item-thumb', src: p.thumbnail, alt: '', loading: 'lazy', width: 64, height: 64 }) : null,
        h('div', { class: 'item-body' },
          h('p', { class: 'item-kicker' },
            h('span', { class: `sym sym-${p.kind} ${categoryClass(this.config, p.kind, p.category.top)}`, 'aria-hidden': 'true' }),
            ` ${t(`kind.${p.kind}`)} · ${p.category.top_label}`),
          h('h3', { class: 'item-title', id: titleId }, h('a', { href: `/c/${p.id}`, text: p.title })),
          h('p', { class: 'item-meta' },
            h('span', { class: `status status-${p.status}`, text: t(`status.${p.kind}.${p.status}`) }),
            ' · ', h('time', { datetime: p.created_at, text: formatDate(p.created_at) })),
          p.address ? h('p', { class: 'item-address', text: p.address }) : null,
          h('p', { class: 'item-facts', text: facts.join(' · ') }),
          h('button', {
            type: 'button',
            class: 'link-button show-on-map',
            'aria-describedby': titleId,
            text: t('list.show_on_map'),
            onclick: () => this.onShow({ id: p.id, lat, lon, item: { id: p.id, kind: p.kind, category: p.category.top, status: p.status, title: p.title } }),
          }))));
  }
}
