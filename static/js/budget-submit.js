// The project form's place: a tap on the map (or the "centre of the map" button, for the
// keyboard) puts the pin there and fills the form's lon/lat fields.
import { $, readJSON } from './lib/dom.js';
import { createMap, PARIS_BOUNDS } from './map/base.js';

const L = window.L;
const config = readJSON('map-config');
const strings = config.strings;
const map = createMap('map', config, { scrollWheelZoom: false });
map.getContainer().setAttribute('aria-label', strings.label);
const lon = $('#f-lon');
const lat = $('#f-lat');
let pin = null;

function place(latlng, announce = true) {
  if (pin) pin.setLatLng(latlng);
  else pin = L.circleMarker(latlng, { radius: 9, className: 'delivery-dot delivery-studies', interactive: false }).addTo(map);
  lon.value = latlng.lng.toFixed(6);
  lat.value = latlng.lat.toFixed(6);
  if (announce) {
    $('#place-status').textContent = strings.placed
      .replace('%(lat)s', lat.value).replace('%(lon)s', lon.value);
  }
}

if (lon.value && lat.value) {
  const latlng = L.latLng(Number(lat.value), Number(lon.value));
  map.setView(latlng, 16);
  place(latlng, false);
} else {
  map.fitBounds(PARIS_BOUNDS);
}
map.on('click', (event) => place(event.latlng));
$('#place-centre').addEventListener('click', () => place(map.getCenter()));
