// A consultation's synthesis: the area and a heat layer of its proposals weighted by their votes
// (the tables of the page say the same in text).
import { readJSON } from './lib/dom.js';
import { createMap } from './map/base.js';

const L = window.L;
const config = readJSON('map-config');
const map = createMap('map', config);
const area = L.geoJSON(config.area, {
  interactive: false, style: () => ({ className: 'consultation-area', fill: false }),
}).addTo(map);
map.fitBounds(area.getBounds(), { padding: [12, 12] });
const max = Math.max(1, ...config.heat.map((p) => p[2]));
L.heatLayer(config.heat, { radius: 30, blur: 20, max }).addTo(map);
