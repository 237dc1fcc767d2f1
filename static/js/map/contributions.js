// Contributions on the map: grid clusters with counts, lone contributions as category-coloured
// symbols (circles for reports, diamonds for proposals), shapes when zoomed in. Markers are
// kept by key between refreshes, so panning does not rebuild what is already there.
//
// The symbols are not tab stops: a street holds a hundred or more, and the keyboard would
// cross them all to reach what follows the map. The list beside the map is the keyboard's
// (and screen reader's) full alternative; each symbol is an image with a name, and the
// map itself pans and zooms from the keyboard.
import { h } from '../lib/dom.js';
import { formatCompact, t, tn } from '../lib/i18n.js';
import { categoryClass, categoryLabel, fitPopup, MAX_ZOOM } from './base.js';

const L = window.L;

export class ContributionLayer {
  constructor(map, config, { onSameSpot } = {}) {
    this.map = map;
    this.config = config;
    this.onSameSpot = onSameSpot;
    this.group = L.layerGroup().addTo(map);
    this.layers = new Map();
    this.byId = new Map();
  }

  update(collection) {
    const next = new Map();
    this.byId.clear();
    for (const feature of collection.features) {
      const key = this.key(feature, collection.zoom);
      const layer = this.layers.get(key) ?? this.create(feature, collection.zoom);
      next.set(key, layer);
      if (!feature.properties.cluster) this.byId.set(feature.properties.id, layer);
    }
    for (const [key, layer] of this.layers) if (!next.has(key)) this.group.removeLayer(layer);
    for (const [key, layer] of next) if (!this.layers.has(key)) this.group.addLayer(layer);
    this.layers = next;
  }

  key(feature, zoom) {
    const p = feature.properties;
    if (p.cluster) return `c:${zoom}:${feature.geometry.coordinates.join(',')}:${p.count}`;
    return `p:${p.id}:${feature.geometry.type}:${p.status}`;
  }

  create(feature, zoom) {
    const p = feature.properties;
    if (p.cluster) return this.cluster(feature, zoom);
    if (feature.geometry.type !== 'Point') return this.shape(feature);
    const [lon, lat] = feature.geometry.coordinates;
    const symbol = h('span', { class: `sym sym-${p.kind} ${categoryClass(this.config, p.kind, p.category)}` });
    const marker = L.marker([lat, lon], {
      icon: L.divIcon({ className: 'marker-point', html: symbol, iconSize: [26, 26] }),
      keyboard: false,
      riseOnHover: true,
    });
    marker.on('add', () => {
      const el = marker.getElement();
      el.dataset.id = p.id;
      el.dataset.kind = p.kind;
      el.setAttribute('role', 'img');
      el.setAttribute('aria-label', `${t(`kind.${p.kind}`)} : ${p.title}`);
      el.classList.toggle('marker-new', p.id === this.marked);
    });
    this.bindPopup(marker, p);
    return marker;
  }

  shape(feature) {
    const p = feature.properties;
    const layer = L.geoJSON(feature, {
      pane: 'shapes',
      style: () => ({ className: `shape shape-${p.kind} ${categoryClass(this.config, p.kind, p.category)}` }),
    });
    this.bindPopup(layer, p);
    return layer;
  }

  cluster(feature, zoom) {
    const p = feature.properties;
    const [lon, lat] = feature.geometry.coordinates;
    const size = p.count < 10 ? 's' : p.count < 100 ? 'm' : p.count < 1000 ? 'l' : 'xl';
    const mix = p.proposals === 0 ? 'reports' : p.proposals === p.count ? 'proposals' : 'mixed';
    const [w, s, e, n] = p.bbox;
    const sameSpot = zoom >= MAX_ZOOM - 1 || (e - w < 1e-6 && n - s < 1e-6);
    const marker = L.marker([lat, lon], {
      icon: L.divIcon({
        className: `marker-cluster size-${size} cluster-${mix}`,
        html: h('span', { text: formatCompact(p.count) }),
        iconSize: { s: [32, 32], m: [38, 38], l: [44, 44], xl: [50, 50] }[size],
      }),
      keyboard: false,
    });
    marker.on('add', () => {
      const el = marker.getElement();
      el.dataset.count = p.count;
      el.setAttribute('role', 'img');
      // the name starts with the count as shown ("1,2 k" above 999), as WCAG 2.5.3 asks
      const n = formatCompact(p.count);
      el.setAttribute('aria-label', sameSpot ? tn('map.cluster_same_spot', p.count, { n }) : tn('map.cluster', p.count, { n }));
    });
    marker.on('click', () => {
      if (sameSpot) {
        this.onSameSpot?.(p.bbox);
        return;
      }
      const bounds = L.latLngBounds([s, w], [n, e]);
      const target = Math.max(this.map.getBoundsZoom(bounds, false, [48, 48]), zoom + 1);
      this.map.setView(bounds.getCenter(), Math.min(target, MAX_ZOOM));
    });
    return marker;
  }

  popup(p) {
    const href = `/c/${p.id}`;
    return h('div', { class: 'popup' },
      h('p', { class: 'popup-kicker' },
        h('span', { class: `sym sym-${p.kind} ${categoryClass(this.config, p.kind, p.category)}`, 'aria-hidden': 'true' }),
        ` ${t(`kind.${p.kind}`)} · ${categoryLabel(this.config, p.kind, p.category)}`),
      h('h3', { class: 'popup-title' }, h('a', { href, text: p.title })),
      h('p', { class: `status status-${p.status}`, text: t(`status.${p.kind}.${p.status}`) }),
      h('p', {}, h('a', { href, class: 'button small', text: t('map.details') })));
  }

  /** A popup sized to show whole between the map's controls, whichever way it opens. */
  bindPopup(layer, p) {
    // registered before bindPopup's own click handler, so it runs before the popup opens
    layer.on('click', () => fitPopup(this.map, layer.getPopup()));
    layer.bindPopup(() => this.popup(p));
  }

  /** Open a contribution's popup at a place: one that shares its spot with others. */
  popupAt(p, latlng) {
    const popup = fitPopup(this.map, L.popup());
    popup.setLatLng(latlng).setContent(this.popup(p)).openOn(this.map);
    return popup.getElement();
  }

  /** Open the popup of a lone contribution shown on the map, if it is there: its element. */
  openPopup(id) {
    const layer = this.byId.get(id);
    if (!layer) return null;
    fitPopup(this.map, layer.getPopup());
    layer.openPopup();
    return layer.getPopup().getElement() ?? null;
  }

  /** Mark a contribution's symbol (the one just published), now and after each refresh. */
  mark(id) {
    this.marked = id;
    for (const [key, layer] of this.byId) layer.getElement?.()?.classList.toggle('marker-new', key === id);
  }
}
