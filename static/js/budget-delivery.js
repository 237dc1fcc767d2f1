// The delivery map: the winning projects the page's filters choose, coloured by their delivery
// status. Projects placed only at their arrondissement share one dashed ring per arrondissement
// (their popup lists them). The list under the map is the complete, map-free alternative.
import { api } from './lib/api.js';
import { $, h, readJSON } from './lib/dom.js';
import { createMap, MAX_ZOOM, PARIS_BOUNDS } from './map/base.js';

const L = window.L;
const config = readJSON('map-config');
const strings = config.strings;
const map = createMap('map', config, { scrollWheelZoom: false });
map.getContainer().setAttribute('aria-label', strings.label);
map.fitBounds(PARIS_BOUNDS);
const POPUP_ITEMS = 10;

function fill(template, params) {
  return template.replace(/%\((\w+)\)s/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

function link(feature) {
  const p = feature.properties;
  return h('li', {}, h('a', { href: p.url, text: p.title }), ' ',
    h('span', { class: `delivery-status delivery-status-${p.delivery_status ?? 'none'}`,
      text: strings.delivery[p.delivery_status ?? 'None'] }));
}

function popup(features, heading) {
  const shown = features.slice(0, POPUP_ITEMS);
  return h('div', { class: 'popup' },
    heading ? h('p', { text: heading }) : null,
    h('ul', {}, shown.map(link)),
    features.length > POPUP_ITEMS ? h('p', { text: fill(strings.more, { n: features.length - POPUP_ITEMS }) }) : null);
}

async function features() {
  const out = [];
  let url = config.source;
  while (url) {
    const page = await api(url);
    out.push(...page.features);
    url = page.links.find((l) => l.rel === 'next')?.href ?? null;
  }
  return out;
}

async function draw() {
  let all;
  try {
    all = await features();
  } catch {
    $('#map-status').textContent = strings.loading_error;
    return;
  }
  const layer = L.featureGroup().addTo(map);
  const approximate = new Map();
  for (const feature of all) {
    if (!feature.geometry) continue;
    if (feature.properties.approximate) {
      const key = feature.properties.arrondissement;
      if (!approximate.has(key)) approximate.set(key, []);
      approximate.get(key).push(feature);
      continue;
    }
    L.geoJSON(feature, {
      pointToLayer: (f, latlng) => L.circleMarker(latlng, {
        radius: 7, className: `delivery-dot delivery-${f.properties.delivery_status ?? 'none'}` }),
      // a point keeps its own class (a GeoJSON layer's style would replace it)
      style: (f) => (f.geometry.type === 'Point' ? {} : { className: 'delivery-shape' }),
      onEachFeature: (f, shape) => shape.bindPopup(() => popup([f]), { maxWidth: 240 }),
    }).addTo(layer);
  }
  for (const [arrondissement, group] of approximate) {
    const [lon, lat] = group[0].geometry.coordinates;
    const name = strings.ordinals[String(arrondissement)] ?? '';
    const heading = fill(group.length === 1 ? strings.approximate_one : strings.approximate,
      { n: group.length, arrondissement: name });
    L.circle([lat, lon], { radius: 450, className: 'approximate-ring' })
      .bindPopup(() => popup(group, heading), { maxWidth: 240 }).addTo(layer);
  }
  map.getContainer().dataset.projects = String(all.length);
  if (layer.getLayers().length) map.fitBounds(layer.getBounds(), { maxZoom: MAX_ZOOM - 3, padding: [16, 16] });
  map.getContainer().dataset.loaded = 'true';
}

draw();
