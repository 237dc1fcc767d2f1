// A consultation's page: its area outlined on the map, its proposals, and the form to answer it
// (a proposal inside the area, while it takes ideas). The list below the map is the same
// content without the map.
import { CreateForm } from './create.js';
import { api } from './lib/api.js';
import { $, h, readJSON } from './lib/dom.js';
import { t } from './lib/i18n.js';
import { createMap } from './map/base.js';

const L = window.L;
const config = readJSON('map-config');
const consultation = config.consultation;
const map = createMap('map', config);
map.getContainer().setAttribute('aria-label', $('#map').getAttribute('aria-label'));

const area = L.geoJSON(consultation.area, {
  interactive: false, style: () => ({ className: 'consultation-area', fill: true, fillOpacity: 0.06 }),
}).addTo(map);
map.fitBounds(area.getBounds(), { padding: [12, 12] });
const proposals = L.layerGroup().addTo(map);

async function loadProposals() {
  const data = await api(`/api/v1/proposals?consultation=${consultation.id}&limit=1000`);
  proposals.clearLayers();
  L.geoJSON(data, {
    pointToLayer: (feature, latlng) => L.circleMarker(latlng, { radius: 8, className: 'proposal-dot' }),
    style: () => ({ className: 'proposal-shape' }),
    onEachFeature: (feature, layer) => {
      const p = feature.properties;
      layer.bindPopup(() => h('div', { class: 'popup' },
        h('a', { href: `/c/${feature.id}`, text: p.title }),
        h('p', { text: t('consultation.votes', { up: p.votes.up, down: p.votes.down }) })));
    },
  }).addTo(proposals);
}

const createButton = $('#create-button');
if (createButton) {
  const create = new CreateForm(map, config, {
    section: $('#create'),
    consultation,
    onOpen: () => { createButton.hidden = true; },
    onClose: () => { createButton.hidden = false; },
    onCreated: () => { loadProposals(); setTimeout(() => location.reload(), 1200); },
  });
  createButton.addEventListener('click', () => create.open({ kind: 'proposal' }));
  map.on('click', (event) => {
    if (create.active) create.handleMapClick(event.latlng);
  });
}
loadProposals();
