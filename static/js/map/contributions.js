// Contributions on the map: grid clusters with counts, lone contributions as category-coloured
// symbols (circles for reports, diamonds for proposals), shapes when zoomed in. Markers are
// kept by key between refreshes, so panning does not rebuild what is already there.
import { h } from '../lib/dom.js';
import { formatCompact, t, tn } from '../lib/i18n.js';
import { categoryClass, categoryLabel, MAX_ZOOM } from './base.js';

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
      keyboard: true,
      riseOnHover: true,
    });
    marker.on('add', () => {
      const el = marker.getElement();
      el.dataset.id = p.id;
      el.dataset.kind = p.kind;
      el.setAttribute('aria-label', `${t(`kind.${p.kind}`)} : ${p.title}`);
    });
    marker.bindPopup(() => this.popup(p), { autoPanPadding: [24, 24] });
    return marker;
  }

  shape(feature) {
    const p = feature.properties;
    const layer = L.geoJSON(feature, {
      pane: 'shapes',
      style: () => ({ className: `shape shape-${p.kind} ${categoryClass(this.config, p.kind, p.category)}` }),
    });
    layer.bindPopup(() => this.popup(p));
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
      keyboard: true,
    });
    marker.on('add', () => {
      const el = marker.getElement();
      el.dataset.count = p.count;
      el.setAttribute('aria-label', sameSpot ? tn('map.cluster_same_spot', p.count) : tn('map.cluster', p.count));
    });
    marker.on('click', () => {
      // the symbol goes away with the zoom: keep the keyboard focus on the map
      if (document.activeElement === marker.getElement()) this.map.getContainer().focus();
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

  /** Open a contribution's popup at a place: one that shares its spot with others. */
  popupAt(p, latlng) {
    L.popup().setLatLng(latlng).setContent(this.popup(p)).openOn(this.map);
  }

  /** Open the popup of a lone contribution shown on the map, if it is there. */
  openPopup(id) {
    const layer = this.byId.get(id);
    if (!layer) return false;
    layer.openPopup();
    return true;
  }
}
