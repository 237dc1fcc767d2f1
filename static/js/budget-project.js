// A budget project's page: its place on a small map (an approximate place as a dashed ring:
// the arrondissement as a whole, not a spot). The page says the same in text.
import { readJSON } from './lib/dom.js';
import { createMap, MAX_ZOOM } from './map/base.js';

const L = window.L;
const config = readJSON('map-config');
const map = createMap('map', config, { scrollWheelZoom: false });
map.getContainer().setAttribute('aria-label', config.strings.label);
// the view first: a layer waits for the map to have one before it is drawn
const bounds = L.geoJSON(config.geometry).getBounds();
if (config.geometry.type === 'Point') map.setView(bounds.getCenter(), config.approximate ? 14 : 17);
else map.fitBounds(bounds, { maxZoom: MAX_ZOOM - 2, padding: [24, 24] });
L.geoJSON(config.geometry, {
  interactive: false,
  pointToLayer: (feature, latlng) => (config.approximate
    ? L.circle(latlng, { radius: 600, className: 'approximate-ring', interactive: false })
    : L.circleMarker(latlng, { radius: 9, className: 'delivery-dot delivery-delivered', interactive: false })),
  // a point keeps its own class (a GeoJSON layer's style would replace it)
  style: (f) => (f.geometry.type === 'Point' ? {} : { className: 'project-place' }),
}).addTo(map);
