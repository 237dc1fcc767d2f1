// Address search (our geocoder, BAN) as an ARIA combobox: type, pick with arrows or a tap.
// Streets and squares come first (tagged as such), then house numbers; the place chosen
// gets a marker with its name on the map (until the next choice), and the view the
// street's extent or the address at street zoom.
import { api, isAbort } from './lib/api.js';
import { debounce, h } from './lib/dom.js';
import { t, tn } from './lib/i18n.js';

const STREET_ZOOM = 18;

export class AddressSearch {
  // `map`: where the marker goes (none without it)
  constructor(form, { onSelect, map = null }) {
    this.form = form;
    this.map = map;
    this.marker = null;
    this.input = form.querySelector('[role="combobox"]');
    this.listbox = form.querySelector('[role="listbox"]');
    this.status = form.querySelector('[role="status"]');
    this.onSelect = onSelect;
    this.results = [];
    this.active = -1;
    this.controller = null;
    const lookup = debounce(() => this.lookup(), 250);
    this.input.addEventListener('input', lookup);
    this.input.addEventListener('keydown', (event) => this.keydown(event));
    this.input.addEventListener('blur', () => setTimeout(() => this.close(), 150));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      lookup.cancel();
      if (!this.results.length || this.listbox.hidden) await this.lookup();
      if (this.results.length) this.select(Math.max(this.active, 0));
    });
  }

  async lookup() {
    const q = this.input.value.trim();
    if (!q) this.unmark();
    if (q.length < 3) {
      this.close();
      return;
    }
    this.controller?.abort();
    this.controller = new AbortController();
    try {
      const data = await api(`/api/v1/geocode?${new URLSearchParams({ q, limit: '6' })}`,
        { signal: this.controller.signal });
      this.show(data.features);
    } catch (error) {
      if (!isAbort(error)) this.status.textContent = t('error.network');
    }
  }

  show(features) {
    this.results = features;
    this.active = -1;
    this.input.removeAttribute('aria-activedescendant');
    this.listbox.replaceChildren(...features.map((f, i) => h('li', {
      id: `search-option-${i}`,
      role: 'option',
      'aria-selected': 'false',
      'data-type': f.properties.type,
      onmousedown: (event) => event.preventDefault(),
      onclick: () => this.select(i),
    },
    f.properties.type === 'street' ? h('span', { class: 'search-type', text: t('search.type_street') }) : null,
    f.properties.label)));
    const open = features.length > 0;
    this.listbox.hidden = !open;
    this.input.setAttribute('aria-expanded', String(open));
    this.status.textContent = open ? tn('search.results', features.length) : t('search.no_result');
  }

  keydown(event) {
    if (event.key === 'Escape') {
      this.close();
      return;
    }
    if (!this.results.length || (event.key !== 'ArrowDown' && event.key !== 'ArrowUp')) return;
    event.preventDefault();
    if (this.listbox.hidden) this.show(this.results);
    const step = event.key === 'ArrowDown' ? 1 : -1;
    this.active = (this.active + step + this.results.length) % this.results.length;
    for (const [i, option] of Array.from(this.listbox.children).entries()) {
      option.setAttribute('aria-selected', String(i === this.active));
      option.classList.toggle('active', i === this.active);
    }
    this.input.setAttribute('aria-activedescendant', `search-option-${this.active}`);
  }

  select(index) {
    const feature = this.results[index];
    if (!feature) return;
    const [lon, lat] = feature.geometry.coordinates;
    const label = feature.properties.label;
    this.input.value = label;
    this.close();
    this.status.textContent = t('search.jumped', { label });
    this.onSelect({ lat, lon, label, type: feature.properties.type, ...this.view(feature) });
    this.mark([lat, lon], label);
  }

  /** Where to look: a street's extent (a little margin, street zoom at most), an address
   * at street zoom. */
  view(feature) {
    const [lon, lat] = feature.geometry.coordinates;
    if (!feature.bbox || !this.map) return { center: [lat, lon], zoom: STREET_ZOOM };
    const [w, s, e, n] = feature.bbox;
    const bounds = window.L.latLngBounds([s, w], [n, e]).pad(0.15);
    const zoom = Math.min(this.map.getBoundsZoom(bounds), STREET_ZOOM);
    const center = bounds.getCenter();
    return { center: [center.lat, center.lng], zoom };
  }

  /** The marker of the place found, named; the previous one goes. */
  mark(latlng, label) {
    if (!this.map) return;
    this.marker?.remove();
    const L = window.L;
    this.marker = L.marker(latlng, {
      icon: L.divIcon({ className: 'marker-found', html: h('span'), iconSize: [28, 28], iconAnchor: [14, 38] }),
      interactive: false,
      keyboard: false,
      zIndexOffset: 900,
    }).bindTooltip(label, { permanent: true, direction: 'top', offset: [0, -38], className: 'search-found-tooltip' })
      .addTo(this.map);
  }

  unmark() {
    this.marker?.remove();
    this.marker = null;
  }

  close() {
    this.listbox.hidden = true;
    this.input.setAttribute('aria-expanded', 'false');
    this.input.removeAttribute('aria-activedescendant');
  }
}
