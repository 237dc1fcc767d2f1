// The agent's queue: geolocation for "nearest", checkboxes and batch actions (API, all or nothing).
import { api, ApiError } from '../lib/api.js';
import { $, $$, readJSON } from '../lib/dom.js';
import { createMap } from '../map/base.js';
import { s } from './strings.js';

const filters = $('#queue-filters');
const sort = $('#queue-sort');
const lon = filters.elements.lon;
const lat = filters.elements.lat;

filters.addEventListener('submit', (event) => {
  if (sort.value !== 'nearest' || lon.value) return;
  event.preventDefault();
  const fallback = () => {
    const box = $('#batch-error');
    if (box) box.textContent = s('no_geolocation');
    sort.value = 'priority';
    lon.disabled = true;
    lat.disabled = true;
    filters.submit();
  };
  if (!navigator.geolocation) { fallback(); return; }
  navigator.geolocation.getCurrentPosition((pos) => {
    lon.disabled = false;
    lat.disabled = false;
    lon.value = pos.coords.longitude.toFixed(6);
    lat.value = pos.coords.latitude.toFixed(6);
    filters.submit();
  }, fallback, { timeout: 10000, maximumAge: 60000 });
});
sort.addEventListener('change', () => {
  if (sort.value !== 'nearest') { lon.disabled = true; lat.disabled = true; lon.value = ''; lat.value = ''; }
});

// ---- selection and batch actions (the bar sticks to the bottom of the screen) ---------------
const batch = $('#batch');
if (batch) {
  const count = $('#batch-count');
  const errorBox = $('#batch-error');
  const selectAll = $('#select-all');
  const boxes = () => $$('.queue-check');
  const selected = () => boxes().filter((box) => box.checked).map((box) => Number(box.value));

  const showCount = () => {
    const n = selected().length;
    count.textContent = n ? s(n === 1 ? 'selected_one' : 'selected_other', { n }) : s('none_selected');
    batch.classList.toggle('is-idle', n === 0);
    for (const button of $$('[data-batch]')) button.disabled = n === 0;
    if (selectAll) {
      selectAll.checked = n > 0 && n === boxes().length;
      selectAll.indeterminate = n > 0 && n < boxes().length;
    }
  };
  document.addEventListener('change', (event) => {
    if (event.target === selectAll) {
      for (const box of boxes()) box.checked = selectAll.checked;
      showCount();
    } else if (event.target.classList?.contains('queue-check')) {
      showCount();
    }
  });
  showCount();

  for (const button of $$('[data-batch]')) {
    button.addEventListener('click', async () => {
      errorBox.textContent = '';
      const body = { ids: selected(), to: button.dataset.batch };
      if (body.to === 'scheduled') {
        body.planned_for = $('#batch-date').value;
        if (!body.planned_for) { errorBox.textContent = s('choose_date'); $('#batch-date').focus(); return; }
      }
      button.disabled = true;
      try {
        await api('/api/v1/agent/batch', { method: 'POST', json: body });
        count.textContent = s('done');
        // the page says what changed (the server checks it), then drops these parameters
        const next = new URL(window.location.href);
        next.searchParams.set('changed', body.ids.join(','));
        next.searchParams.set('to', body.to);
        window.location.assign(next);
      } catch (error) {
        errorBox.textContent = error instanceof ApiError
          ? [error.detail, ...error.errors.map((e) => e.detail)].filter(Boolean).join(' ')
          : s('error');
        button.disabled = false;
      }
    });
  }
}

// ---- the queue on a map: the same reports as the list, one marker each -----------------------
const mapConfig = $('#queue-map-config') ? readJSON('queue-map-config') : null;
if (mapConfig && mapConfig.reports.length) {
  const L = window.L;
  const map = createMap('queue-map', mapConfig, { scrollWheelZoom: false });
  const markers = mapConfig.reports.map((r) => {
    const marker = L.circleMarker([r.lonlat[1], r.lonlat[0]], {
      radius: 8, className: `agent-marker priority-${r.priority ?? 'none'}`,
    });
    const link = document.createElement('a');  // user text as text, never as HTML
    link.href = r.url;
    link.textContent = r.title;
    marker.bindPopup(link);
    return marker;
  });
  const group = L.featureGroup(markers).addTo(map);
  map.fitBounds(group.getBounds(), { padding: [20, 20], maxZoom: 17 });
}
