// The missions' map (the list page and a mission's page): one marker per place of the missions
// the page lists, its popup linking to the mission. The list is the complete, map-free
// alternative. On the list page, "Near me" asks the browser for its position and searches
// from there (the hidden lon/lat fields); typing an address forgets that position.
import { $, h, readJSON } from './lib/dom.js';
import { createMap, MAX_ZOOM, PARIS_BOUNDS } from './map/base.js';

const L = window.L;
const config = readJSON('map-config');
const strings = config.strings;

function draw() {
  const element = document.getElementById('map');
  if (!element) return;
  const map = createMap('map', config, { scrollWheelZoom: false });
  map.fitBounds(PARIS_BOUNDS);
  const layer = L.featureGroup().addTo(map);
  for (const marker of config.markers) {
    const popup = h('div', { class: 'popup' },
      h('p', {}, h('a', { href: marker.url, text: marker.title })),
      h('p', { class: 'popup-kicker', text: [marker.organisation, marker.place].filter(Boolean).join(' · ') }));
    L.marker([marker.lat, marker.lon], {
      icon: L.divIcon({ className: 'mission-pin', iconSize: [22, 22], iconAnchor: [11, 11] }),
      title: marker.title, alt: marker.title, keyboard: true,
    }).bindPopup(popup, { maxWidth: 240 }).addTo(layer);
  }
  if (config.near) {
    L.circleMarker([config.near[1], config.near[0]], { radius: 6, className: 'mission-here', interactive: false })
      .addTo(layer);
  }
  if (layer.getLayers().length) {
    map.fitBounds(layer.getBounds(), { maxZoom: MAX_ZOOM - 4, padding: [24, 24] });
  }
  element.dataset.markers = String(config.markers.length);
  element.dataset.loaded = 'true';
}

function nearMe() {
  const button = $('#near-me');
  const form = $('#filters');
  if (!button || !form) return;
  const lon = $('#f-lon');
  const lat = $('#f-lat');
  $('#f-address').addEventListener('input', () => { lon.value = ''; lat.value = ''; });
  if (!('geolocation' in navigator)) return;
  button.hidden = false;
  const status = $('#locate-status');
  button.addEventListener('click', () => {
    status.textContent = strings.locating;
    navigator.geolocation.getCurrentPosition((position) => {
      lon.value = position.coords.longitude.toFixed(6);
      lat.value = position.coords.latitude.toFixed(6);
      $('#f-address').value = '';
      status.textContent = strings.located;
      form.submit();
    }, () => { status.textContent = strings.not_located; }, { timeout: 10000, maximumAge: 60000 });
  });
}

draw();
nearMe();
