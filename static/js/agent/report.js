// One report for an agent: mini map, duplicates nearby, priority, the transition form.
import { api, ApiError } from '../lib/api.js';
import { $, $$, h, readJSON } from '../lib/dom.js';
import { createMap } from '../map/base.js';
import { keepTransition } from '../offline/outbox.js';
import { isNetworkFailure, newKey } from '../offline/store.js';
import { s } from './strings.js';

const L = window.L;
const config = readJSON('agent-config');

// ---- map -----------------------------------------------------------------------------------
const map = createMap('agent-map', config, { scrollWheelZoom: false });
L.geoJSON(config.geometry, {
  pointToLayer: (feature, latlng) => L.circleMarker(latlng, { radius: 9, className: 'agent-marker', interactive: false }),
  style: () => ({ className: 'agent-shape', interactive: false }),
}).addTo(map);
map.setView([config.lat, config.lon], 18);

// ---- errors next to the fields --------------------------------------------------------------
function clearErrors(form) {
  for (const box of $$('[data-error-for]', form)) box.textContent = '';
}
function showError(form, error) {
  if (!(error instanceof ApiError)) {
    $('[data-error-for="form"]', form).textContent = s('error');
    return;
  }
  let placed = false;
  for (const e of error.errors) {
    const box = $(`[data-error-for="${CSS.escape(e.field.replace(/^properties\./, ''))}"]`, form);
    if (box) { box.textContent = e.detail; placed = true; }
  }
  if (!placed || !error.errors.length) {
    const box = $('[data-error-for="form"]', form) ?? $('[data-error-for]', form);
    box.textContent = error.detail ?? s('error');
  }
}

// ---- priority ------------------------------------------------------------------------------
const priorityForm = $('#priority-form');
$('#priority').addEventListener('change', async (event) => {
  clearErrors(priorityForm);
  $('#priority-status').textContent = '';
  try {
    await api(`/api/v1/reports/${config.id}/priority`, { method: 'PUT', json: { priority: event.target.value || null } });
    $('#priority-status').textContent = s('saved');
  } catch (error) {
    showError(priorityForm, error);
  }
});

// ---- transitions ---------------------------------------------------------------------------
const form = $('#transition-form');
if (form) {
  const showFields = () => {
    const to = form.elements.to.value;
    for (const block of $$('[data-for]', form)) block.hidden = block.dataset.for !== to;
  };
  form.addEventListener('change', (event) => { if (event.target.name === 'to') showFields(); });
  showFields();

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form);
    const to = form.elements.to.value;
    const data = { to };
    const value = (name) => form.elements[name]?.value?.trim() ?? '';
    if (to === 'scheduled') data.planned_for = value('planned_for');
    if (to === 'rejected') data.reason = value('reason');
    if (to === 'resolved') data.resolution = value('resolution');
    if (to === 'transferred') data.transferred_to = value('transferred_to');
    if (to === 'duplicate' && value('duplicate_of')) data.duplicate_of = Number(value('duplicate_of'));
    for (const name of ['public_note', 'internal_note']) if (value(name)) data[name] = value(name);
    for (const [key, v] of Object.entries(data)) if (v === '') delete data[key];
    const photo = form.elements.photo?.files?.[0];
    const button = $('button[type="submit"]', form);
    button.disabled = true;
    const headers = { 'Idempotency-Key': newKey() };  // kept offline, it is sent with the same one
    try {
      let result;
      if (to === 'resolved' && photo) {
        const body = new FormData();
        body.append('transition', JSON.stringify(data));
        body.append('photo', photo);
        result = await api(`/api/v1/reports/${config.id}/transitions`, { method: 'POST', form: body, headers });
      } else {
        result = await api(`/api/v1/reports/${config.id}/transitions`, { method: 'POST', json: data, headers });
      }
      // the page says it was saved (the server checks the change is this agent's), once
      window.location.assign(`/agent/reports/${config.id}?changed=${encodeURIComponent(result?.event_id ?? '')}`);
    } catch (error) {
      if (isNetworkFailure(error)) {  // offline: the change waits on this device, shown as pending
        const label = $(`input[name="to"][value="${CSS.escape(to)}"]`, form).closest('label').textContent.trim();
        await keepTransition({ report: config.id, data, photo, label, key: headers['Idempotency-Key'] });
        form.reset();
        showFields();
      } else {
        showError(form, error);
      }
      button.disabled = false;
    }
  });
}

// ---- duplicate candidates ------------------------------------------------------------------
async function loadDuplicates() {
  const list = $('#duplicates');
  const params = new URLSearchParams({ lon: config.lon, lat: config.lat, category: config.category, radius_m: 50 });
  try {
    const data = await api(`/api/v1/reports/nearby?${params}`);
    const others = data.features.filter((f) => f.id !== config.id);
    list.replaceChildren(...(others.length ? others.map((f) => h('li', {},
      h('a', { href: `/agent/reports/${f.id}`, text: `#${f.id} ${f.properties.title}` }), ' ',
      h('span', { class: 'distance', text: s('distance', { n: Math.round(f.properties.distance_m ?? 0) }) }), ' ',
      form && $('input[name="to"][value="duplicate"]', form) ? h('button', {
        type: 'button', class: 'button small', text: s('mark_duplicate'),
        onclick: () => {
          $('input[name="to"][value="duplicate"]', form).checked = true;
          form.dispatchEvent(new Event('change'));
          form.elements.duplicate_of.value = f.id;
          $('input[name="to"][value="duplicate"]', form).dispatchEvent(new Event('change', { bubbles: true }));
          form.elements.duplicate_of.focus();
        },
      }) : null))
      : [h('li', { text: s('no_duplicates') })]));
  } catch {
    list.replaceChildren(h('li', { text: s('error') }));
  }
  list.removeAttribute('aria-busy');
}
loadDuplicates();
