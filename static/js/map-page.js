// The resident map page: map + list + filters + search + the contribution form, with the view
// and the filters kept in the URL.
import { CreateForm } from './create.js';
import { FilterForm } from './filters.js';
import { api, isAbort } from './lib/api.js';
import { $, $$, debounce, h, readJSON } from './lib/dom.js';
import { t } from './lib/i18n.js';
import { ResultList } from './list.js';
import { addOutlines, createMap, elementControl, fitPopup, MAX_ZOOM, PARIS_BOUNDS } from './map/base.js';
import { ContributionLayer } from './map/contributions.js';
import { AddressSearch } from './search.js';
import { filterParams, readState, writeSearch } from './state.js';

const L = window.L;
const config = readJSON('map-config');
const layout = $('#map-layout');
const mapStatus = $('#map-status');
let state = readState(location.search);

const map = createMap('map', config);
map.getContainer().setAttribute('aria-label', t('map.label'));
const narrow = window.matchMedia('(max-width: 47.99em)').matches;
elementControl($('#map-actions'), 'topleft').addTo(map);
elementControl($('#legend'), narrow ? 'topleft' : 'bottomleft').addTo(map);

const layer = new ContributionLayer(map, config, {
  onSameSpot: (bbox) => {
    const [w, s, e, n] = bbox;
    map.setView([(s + n) / 2, (w + e) / 2], MAX_ZOOM);
    setView('list');
    mapStatus.textContent = t('list.same_spot');
  },
});

const list = new ResultList(
  { list: $('#results-list'), count: $('#results-count'), shown: $('#results-shown'), more: $('#results-more') },
  config,
  {
    onShow: ({ lat, lon, item }) => {
      popupOpener = item.id;
      setView('map');
      pendingPopup = { lat, lon, item };
      map.setView([lat, lon], Math.max(map.getZoom(), MAX_ZOOM - 1));
    },
  },
);
let pendingPopup = null;
let popupOpener = null;  // the id of the item whose "Show on the map" opened the popup

const filters = new FilterForm($('#filters'), (values) => {
  state = { ...state, filters: values };
  history.pushState(null, '', writeSearch(currentView()));
  showScope();
  refresh();
});
filters.set(state.filters);

// What the default view leaves out, said above the count, with everything one click away.
const scopes = $$('.results-scope');
// "Get alerts": for the arrondissement the filters name, else the page lets one choose an area
const alertLink = $('#alert-link');
function showScope() {
  const status = state.filters.status;
  for (const scope of scopes) scope.hidden = scope.dataset.status !== status;
  const url = new URL(alertLink.href);
  if (state.filters.arrondissement) url.searchParams.set('arrondissement', state.filters.arrondissement);
  else url.searchParams.delete('arrondissement');
  alertLink.href = url.pathname + url.search;
}
for (const scope of scopes) {
  $('button', scope).addEventListener('click', (event) => {
    const status = event.currentTarget.dataset.status;
    filters.set({ ...state.filters, status });
    filters.changed();
    // the button pressed is gone: the focus goes to the one that brings the view back
    scopes.find((s) => s.dataset.status === status)?.querySelector('button').focus();
  });
}
showScope();

new AddressSearch($('#search-form'), {
  map,
  onSelect: ({ lat, lon, center, zoom }) => {
    jumpTo(center, zoom);
    create.setLocation([lat, lon]);
  },
});

const create = new CreateForm(map, config, {
  section: $('#create'),
  onOpen: () => {
    map.closePopup();
    setView('create');
  },
  onClose: () => setView('map'),
  onCreated: (created) => showCreated(created),
});

/** After publishing: the list shows the new contribution first, marked, with the focus. */
function showCreated(created) {
  const id = created.id ?? created.properties?.id;
  layer.mark(id);
  list.highlight(id);
  if (narrow) setView('list');
  $('#panel').scrollTop = 0;
  const where = L.geoJSON(created.geometry).getBounds();
  if (where.isValid()) map.setView(where.getCenter(), Math.max(map.getZoom(), 17));
  refresh();
}

// ---- the view: map position, mobile panels ------------------------------------------------

function currentView() {
  const center = map.getCenter();
  return { lat: center.lat, lon: center.lng, z: map.getZoom(), filters: state.filters };
}

function jumpTo(latlng, zoom) {
  map.setView(latlng, zoom);
  history.pushState(null, '', writeSearch(currentView()));
}

function setView(view) {
  layout.dataset.view = view;
  for (const button of $$('.view-switch button')) {
    button.setAttribute('aria-pressed', String(button.dataset.view === view));
  }
  $('#create-button').hidden = view === 'create';
  setTimeout(() => map.invalidateSize(), 0);
}

for (const button of $$('.view-switch button')) {
  button.addEventListener('click', () => {
    if (create.active) create.close();
    setView(button.dataset.view);
    if (button.dataset.view === 'filters') $('#filters-box').open = true;
  });
}

function applyState() {
  showScope();
  if (state.lat !== null && state.lon !== null && state.z !== null) {
    map.setView([state.lat, state.lon], Math.min(Math.max(state.z, 10), MAX_ZOOM));
  } else {
    map.fitBounds(PARIS_BOUNDS);
  }
}

window.addEventListener('popstate', () => {
  state = readState(location.search);
  filters.set(state.filters);
  applyState();
  refresh();
});

// ---- data: clusters for the map, the list, both for the visible area ----------------------

let controller = null;

function queryFor(bounds) {
  const clamp = (v, lo, hi) => Math.min(Math.max(v, lo), hi);
  const w = clamp(bounds.getWest(), -180, 180);
  const e = clamp(bounds.getEast(), -180, 180);
  const s = clamp(bounds.getSouth(), -90, 90);
  const n = clamp(bounds.getNorth(), -90, 90);
  const params = filterParams(state.filters);
  params.set('bbox', [w, s, e, n].map((v) => v.toFixed(6)).join(','));
  return params;
}

async function refresh() {
  controller?.abort();
  controller = new AbortController();
  const params = queryFor(map.getBounds());
  const clusters = new URLSearchParams(params);
  clusters.set('zoom', String(map.getZoom()));
  list.reload(new URLSearchParams(params));
  try {
    const data = await api(`/api/v1/map/clusters?${clusters}`, { signal: controller.signal });
    layer.update(data);
    requestAnimationFrame(() => {  // the new symbols are painted: a User Timing measure
      if (performance.getEntriesByName('cartagora:moveend', 'mark').length) {
        performance.measure('cartagora:map-drawn', 'cartagora:moveend');
      }
    });
    list.setTotal(data.total);
    const container = map.getContainer();
    container.dataset.total = data.total;
    container.dataset.loads = Number(container.dataset.loads ?? 0) + 1;
    if ([t('map.loading_error'), t('map.offline')].includes(mapStatus.textContent)) mapStatus.textContent = '';
    if (pendingPopup !== null) {
      // its own marker if it is one; else (it shares its spot with others, in a cluster even
      // at the deepest zoom) its popup at its place all the same
      const { lat, lon, item } = pendingPopup;
      const popup = layer.openPopup(item.id) ?? layer.popupAt(item, [lat, lon]);
      pendingPopup = null;
      popup?.querySelector('.popup-title a')?.focus();
    }
  } catch (error) {
    if (!isAbort(error)) mapStatus.textContent = t(navigator.onLine ? 'map.loading_error' : 'map.offline');
  }
}

// a pan held on the keyboard ends a move every ~30 ms: one request for the lot, still quick
const refreshSoon = debounce(refresh, 60);

// ---- map taps: place the pin, or offer to contribute here ---------------------------------

map.on('click', (event) => {
  if (create.handleMapClick(event.latlng)) return;
  const offer = (kind) => (click) => {
    L.DomEvent.stop(click);  // the map must not see this click as a tap on itself
    map.closePopup();
    create.open({ kind, latlng: event.latlng });
  };
  const content = h('div', { class: 'popup popup-create' },
    h('p', { class: 'popup-title', text: t('map.create_here') }),
    h('button', { type: 'button', class: 'button primary small', text: t('map.create_report'), onclick: offer('report') }),
    h('button', { type: 'button', class: 'button small', text: t('map.create_proposal'), onclick: offer('proposal') }));
  L.DomEvent.disableClickPropagation(content);
  fitPopup(map, L.popup({ className: 'create-popup' })).setLatLng(event.latlng).setContent(content).openOn(map);
});

// ---- popups and the legend ------------------------------------------------------------------

const legend = $('#legend');
map.on('popupopen', () => {
  legend.open = false;  // a popup and the open legend would cover each other on a phone
});
map.on('popupclose', (event) => {
  // closed (its button, Escape) with the focus in it: back to where the reader came from
  const focus = document.activeElement;
  if (focus !== document.body && !event.popup.getElement()?.contains(focus)) return;
  // (the list was reloaded for the new view since: its button is found again by the item's id)
  const button = $(`#results-list > li[data-id="${popupOpener}"] .show-on-map`);
  popupOpener = null;
  (button?.offsetParent ? button : map.getContainer()).focus();
});
// The open legend stops above the "Contribute" button rather than under it, and scrolls.
legend.addEventListener('toggle', () => {
  if (!legend.open) return;
  map.closePopup();
  if (!legend.closest('.leaflet-top')) return;  // at the bottom (wide screens): CSS caps it
  const top = legend.getBoundingClientRect().top;
  const fab = $('#create-button').getBoundingClientRect();
  const end = fab.height && fab.left < legend.getBoundingClientRect().right + 8 ? fab.top
    : map.getContainer().getBoundingClientRect().bottom;
  legend.style.maxHeight = `${Math.max(120, end - top - 12)}px`;
});

$('#create-button').addEventListener('click', () => create.open());

// ---- my location ----------------------------------------------------------------------------

let youAreHere = null;
function locate() {
  if (!navigator.geolocation) {
    mapStatus.textContent = t('geo.unavailable');
    return;
  }
  mapStatus.textContent = t('geo.locating');
  navigator.geolocation.getCurrentPosition((position) => {
    const latlng = L.latLng(position.coords.latitude, position.coords.longitude);
    if (!PARIS_BOUNDS.contains(latlng)) {
      mapStatus.textContent = t('geo.outside');
      return;
    }
    mapStatus.textContent = t('map.you_are_here');
    youAreHere?.remove();
    youAreHere = L.circleMarker(latlng, { className: 'you-are-here', radius: 9, interactive: false }).addTo(map);
    jumpTo(latlng, 18);
    create.setLocation(latlng);
  }, () => {
    mapStatus.textContent = t('geo.unavailable');
  }, { enableHighAccuracy: true, timeout: 10000, maximumAge: 60000 });
}
$('#locate-button').addEventListener('click', locate);
map.on('cartagora:locate', locate);

// ---- start ------------------------------------------------------------------------------------

applyState();
map.on('moveend', () => {
  performance.mark('cartagora:moveend');  // "pan or zoom to new data drawn" (bench/map_browser.py)
  history.replaceState(null, '', writeSearch(currentView()));
  refreshSoon();
});
addOutlines(map).catch(() => {
  mapStatus.textContent = t(navigator.onLine ? 'map.loading_error' : 'map.offline');
});
refresh();
