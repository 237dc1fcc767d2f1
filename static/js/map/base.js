// A Leaflet map of Paris: the configurable basemap, our credits, the area outlines.
import { api } from '../lib/api.js';
import { t } from '../lib/i18n.js';

const L = window.L;

export const PARIS_BOUNDS = L.latLngBounds([48.8156, 2.2242], [48.9022, 2.4699]);
export const MAX_ZOOM = 19;
// A transparent pixel: a tile that cannot be loaded leaves no broken image behind.
const BLANK_TILE = 'data:image/gif;base64,R0lGODlhAQABAAAAACH5BAEKAAEALAAAAAABAAEAAAICTAEAOw==';

/** A map in element `id`; the basemap is optional: without it our own layers still work. */
export function createMap(id, config, options = {}) {
  const map = L.map(id, {
    zoomControl: false,
    minZoom: 10,
    maxZoom: MAX_ZOOM,
    maxBounds: PARIS_BOUNDS.pad(1),
    ...options,
  });
  L.control.zoom({
    position: 'topright',
    zoomInTitle: t('map.zoom_in'),
    zoomOutTitle: t('map.zoom_out'),
  }).addTo(map);
  if (config.tileUrl) {
    L.tileLayer(config.tileUrl, {
      maxZoom: MAX_ZOOM,
      maxNativeZoom: config.tileMaxZoom,
      attribution: config.tileAttribution,
      errorTileUrl: BLANK_TILE,
      className: 'basemap',
    }).addTo(map);
  }
  map.attributionControl.setPrefix(false);  // room for the credits that matter on a phone
  map.attributionControl.addAttribution(t('map.attribution_paris'));
  map.attributionControl.addAttribution(t('map.attribution_ban'));
  map.on('popupopen', (event) => {
    const popup = event.popup.getElement();
    popup?.querySelector('.leaflet-popup-close-button')?.setAttribute('aria-label', t('map.close_popup'));
    // Escape closes it with the focus inside (Leaflet listens only while the map has it)
    popup?.addEventListener('keydown', (key) => {
      if (key.key === 'Escape') map.closePopup(event.popup);
    });
    // opened from the keyboard on a symbol: take the focus into the popup, to its link
    if (document.activeElement?.classList.contains('leaflet-marker-icon')) {
      popup?.querySelector('a:not(.leaflet-popup-close-button), button')?.focus();
    }
  });
  map.createPane('outlines').style.zIndex = 350;
  map.createPane('shapes').style.zIndex = 420;
  return map;
}

// A popup keeps this far (px) from the map's edges and from the controls over it.
const POPUP_MARGIN = 12;

/** The box `element` takes when at rest: a <details> (the legend) by its summary alone. */
function restingBox(element) {
  const shown = element.matches('details[open]') ? element.querySelector('summary') : element;
  return shown.getBoundingClientRect();
}

/**
 * Size and auto-pan a popup about to open so that it shows whole between the controls over
 * the map: those at the top (locate, legend, zoom), those at the bottom (the legend on a wide
 * screen) and the page's `.map-overlay` buttons ("Contribute"). Leaflet reads these options
 * when it opens the popup; the controls move with the screen's width, so they are measured
 * each time.
 */
export function fitPopup(map, popup) {
  const box = map.getContainer().getBoundingClientRect();
  let top = 0;
  let bottom = 0;
  for (const control of map.getContainer().querySelectorAll('.leaflet-top .leaflet-control')) {
    const r = restingBox(control);
    if (r.height) top = Math.max(top, r.bottom - box.top);
  }
  const below = [...map.getContainer().querySelectorAll('.leaflet-bottom .leaflet-control:not(.leaflet-control-attribution)'),
    ...document.querySelectorAll('.map-overlay')];
  for (const element of below) {
    const r = restingBox(element);
    if (r.height && r.left < box.right && r.right > box.left) bottom = Math.max(bottom, box.bottom - r.top);
  }
  Object.assign(popup.options, {
    autoPan: true,
    autoPanPaddingTopLeft: [POPUP_MARGIN, top + POPUP_MARGIN],
    autoPanPaddingBottomRight: [POPUP_MARGIN, bottom + POPUP_MARGIN],
    maxWidth: Math.min(300, box.width - 2 * POPUP_MARGIN - 40),
    // what remains, less the popup's tip and its content's margins: longer content scrolls
    maxHeight: Math.max(120, box.height - top - bottom - 2 * POPUP_MARGIN - 60),
  });
  return popup;
}

/** Arrondissement and quartier outlines (one cached request), under everything else. */
export async function addOutlines(map) {
  const data = await api('/api/v1/map/areas');
  L.geoJSON(data, {
    pane: 'outlines',
    interactive: false,
    style: (feature) => ({
      className: feature.properties.level === 'arrondissement' ? 'outline-arrondissement' : 'outline-quartier',
      fill: false,
    }),
  }).addTo(map);
  return data;
}

/** The colour class of a top-level category: its position among its kind's categories. */
export function categoryClass(config, kind, code) {
  const index = (config.categories[kind] ?? []).findIndex((c) => c.code === code);
  return `cat-${index < 0 ? 'x' : index}`;
}

export function categoryLabel(config, kind, code) {
  return (config.categories[kind] ?? []).find((c) => c.code === code)?.label ?? code;
}

/** A Leaflet control wrapping an element already in the page (its text is translated). */
export function elementControl(element, position) {
  const Control = L.Control.extend({
    onAdd() {
      L.DomEvent.disableClickPropagation(element);
      L.DomEvent.disableScrollPropagation(element);
      return element;
    },
  });
  return new Control({ position });
}
