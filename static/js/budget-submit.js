// The project form's place: a point (a tap on the map, or the "centre of the map" button for
// the keyboard), or a line or an area drawn one tap per vertex (the buttons add the map's
// centre, undo the last vertex, start again). The form's hidden `geometry` field carries it as
// GeoJSON; without JavaScript the form still takes a Paris-wide project.
import { $, readJSON } from './lib/dom.js';
import { createMap, PARIS_BOUNDS } from './map/base.js';

const L = window.L;
const config = readJSON('map-config');
const strings = config.strings;
const map = createMap('map', config, { scrollWheelZoom: false });
map.getContainer().setAttribute('aria-label', strings.label);
const field = $('#f-geometry');
const status = $('#place-status');
const style = { color: '#1a4d8f', weight: 4, interactive: false };
let shape = 'Point';
let points = [];
let drawn = null;

function geometry() {
  const coords = points.map((p) => [Number(p.lng.toFixed(6)), Number(p.lat.toFixed(6))]);
  if (shape === 'Point') return coords.length ? { type: 'Point', coordinates: coords[0] } : null;
  if (shape === 'LineString') return coords.length >= 2 ? { type: 'LineString', coordinates: coords } : null;
  return coords.length >= 3 ? { type: 'Polygon', coordinates: [[...coords, coords[0]]] } : null;
}

function render(announce = true) {
  if (drawn) drawn.remove();
  drawn = null;
  if (shape === 'Point' && points.length) {
    drawn = L.circleMarker(points[0], { radius: 9, className: 'delivery-dot delivery-studies', interactive: false });
  } else if (points.length) {
    drawn = L.layerGroup([
      (shape === 'Polygon' && points.length >= 3 ? L.polygon(points, style) : L.polyline(points, style)),
      ...points.map((p) => L.circleMarker(p, { radius: 5, interactive: false })),
    ]);
  }
  if (drawn) drawn.addTo(map);
  const value = geometry();
  field.value = value ? JSON.stringify(value) : '';
  $('#place-undo').hidden = shape === 'Point' || !points.length;
  if (!announce) return;
  if (shape === 'Point') {
    status.textContent = strings.placed.replace('%(lat)s', points[0].lat.toFixed(6))
      .replace('%(lon)s', points[0].lng.toFixed(6));
  } else {
    const needed = shape === 'LineString' ? 2 : 3;
    status.textContent = (points.length >= needed ? strings.drawn : strings.more)
      .replace('%(count)s', points.length).replace('%(needed)s', needed);
  }
}

function add(latlng) {
  points = shape === 'Point' ? [latlng] : [...points, latlng];
  render();
}

function fromField() {
  if (!field.value) return;
  try {
    const g = JSON.parse(field.value);
    const ring = g.type === 'Polygon' ? g.coordinates[0].slice(0, -1) : g.type === 'LineString' ? g.coordinates : [g.coordinates];
    shape = g.type;
    points = ring.map(([lon, lat]) => L.latLng(lat, lon));
    const radio = document.querySelector(`input[name="shape"][value="${shape}"]`);
    if (radio) radio.checked = true;
  } catch { /* a value the server will refuse, with its message */ }
}

fromField();
if (points.length) {
  map.fitBounds(L.latLngBounds(points).pad(0.5), { maxZoom: 16 });
  render(false);
} else {
  map.fitBounds(PARIS_BOUNDS);
}
map.on('click', (event) => add(event.latlng));
$('#place-centre').addEventListener('click', () => add(map.getCenter()));
$('#place-undo').addEventListener('click', () => { points = points.slice(0, -1); render(); });
for (const radio of document.querySelectorAll('input[name="shape"]')) {
  radio.addEventListener('change', () => {
    shape = radio.value;
    points = [];
    render(false);
    status.textContent = strings[`help_${shape}`];
    $('#place-centre').textContent = shape === 'Point' ? strings.centre_point : strings.centre_vertex;
  });
}
$('#shapes').hidden = false;
