// The mission form: only the chosen schedule's fields are shown, and a place can be clicked
// on the small map (its coordinates go into the row's hidden fields; the address typed in
// the row, geocoded by the server, stays the way to do it without the map).
import { $, readJSON } from './lib/dom.js';
import { createMap, PARIS_BOUNDS } from './map/base.js';

const form = $('#mission-form');
const L = window.L;

function showSchedule() {
  const chosen = form.querySelector('input[name="schedule"]:checked')?.value;
  for (const part of form.querySelectorAll('.schedule-part')) {
    part.hidden = part.dataset.schedule !== chosen;
  }
}
form.querySelectorAll('input[name="schedule"]').forEach((r) => r.addEventListener('change', showSchedule));
if (form.querySelector('input[name="schedule"]')) showSchedule();

const mapEl = $('#mission-map');
if (mapEl && L) {
  mapEl.hidden = false;
  const map = createMap('mission-map', readJSON('map-config'));
  map.getContainer().setAttribute('aria-label', mapEl.getAttribute('aria-label'));
  map.fitBounds(PARIS_BOUNDS);
  const rows = [...form.querySelectorAll('.place-row')];
  const markers = new Map();
  let active = 0;

  function mark(i, lat, lon) {
    markers.get(i)?.remove();
    markers.set(i, L.circleMarker([lat, lon], { radius: 9, className: 'place-dot' }).addTo(map));
  }

  function choose(i) {
    active = i;
    rows.forEach((row, j) => {
      row.classList.toggle('is-active', j === i);
      row.querySelector('.choose-on-map')?.setAttribute('aria-pressed', String(j === i));
    });
  }

  rows.forEach((row, i) => {
    const lon = row.querySelector('[data-lon]').value;
    const lat = row.querySelector('[data-lat]').value;
    if (lon && lat) mark(i, Number(lat), Number(lon));
    const button = row.querySelector('.choose-on-map');
    button.hidden = false;
    button.addEventListener('click', () => { choose(i); mapEl.scrollIntoView({ block: 'center' }); });
  });
  choose(0);
  const placed = [...markers.values()].map((m) => m.getLatLng());
  if (placed.length) map.fitBounds(L.latLngBounds(placed).pad(0.5), { maxZoom: 16 });

  map.on('click', (event) => {
    const row = rows[active];
    const { lat, lng } = event.latlng;
    row.querySelector('[data-lon]').value = lng.toFixed(6);
    row.querySelector('[data-lat]').value = lat.toFixed(6);
    row.querySelector('input[name="place_address"]').value = '';  // the point wins over an address
    row.querySelector('.point-status').textContent = mapEl.dataset.pointText
      .replace('%(lat)s', lat.toFixed(5)).replace('%(lon)s', lng.toFixed(5));
    mark(active, lat, lng);
  });
}

// "Add a date": one more empty row for a one-off date (without the script, saving adds one)
const addSlot = $('#add-slot');
if (addSlot) {
  addSlot.hidden = false;
  $('#more-dates-hint').hidden = true;
  addSlot.addEventListener('click', () => {
    const rows = form.querySelectorAll('.slot-row');
    const last = rows[rows.length - 1];
    const n = rows.length;
    const copy = last.cloneNode(true);
    copy.dataset.slot = String(n);
    copy.querySelector('.slot-title strong').textContent = addSlot.dataset.title.replace('%(n)s', String(n + 1));
    for (const input of copy.querySelectorAll('input')) {
      const part = input.name.replace('slot_', '');
      input.id = `slot-${part}-${n}`;
      input.value = '';
      input.removeAttribute('aria-invalid');
      input.setAttribute('aria-describedby', `slot_${n}_${part}-error`);
    }
    for (const label of copy.querySelectorAll('label')) {
      label.htmlFor = label.htmlFor.replace(/-\d+$/, `-${n}`);
    }
    for (const error of copy.querySelectorAll('.field-error')) {
      error.id = error.id.replace(/^slot_\d+_/, `slot_${n}_`);
      error.textContent = '';
    }
    last.after(copy);
    copy.querySelector('input').focus();
  });
}
