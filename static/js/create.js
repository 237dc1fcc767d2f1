// The contribution form: place a pin (tap, address, location, or the map centre), drag it,
// see the nearest address and possible duplicates, pick a category from the tree, add photos.
// Proposals may also be drawn as a line or an area. Errors come from the API, in the page's
// language, and are shown next to their field.
import { api, ApiError, isAbort } from './lib/api.js';
import { $, debounce, h, toast } from './lib/dom.js';
import { formatNumber, lang, t, tn } from './lib/i18n.js';
import { CategoryPicker } from './category-picker.js';
import { keepDraft } from './offline/outbox.js';
import { isNetworkFailure, newKey } from './offline/store.js';

const L = window.L;
const KEY_STEP_PX = 8;
const ARROWS = { ArrowUp: [0, -1], ArrowDown: [0, 1], ArrowLeft: [-1, 0], ArrowRight: [1, 0] };
const FIELD_OF = {
  'properties.title': 'title',
  'properties.description': 'description',
  'properties.category': 'category',
  'properties.address': 'geometry',
  geometry: 'geometry',
  photos: 'photos',
};

function fieldOf(path) {
  if (FIELD_OF[path]) return FIELD_OF[path];
  if (path.startsWith('photos')) return 'photos';
  if (path.startsWith('geometry')) return 'geometry';
  return null;
}

export class CreateForm {
  // `consultation`: the form answers it (a proposal only, of its themes and shapes)
  constructor(map, config, { section, onOpen, onClose, onCreated, consultation = null }) {
    this.map = map;
    this.consultation = consultation;
    this.config = config;
    this.section = section;
    this.onOpen = onOpen;
    this.onClose = onClose;
    this.onCreated = onCreated;
    this.form = $('#create-form', section);
    this.active = false;
    this.kind = 'report';
    this.shape = 'Point';
    this.pin = null;
    this.vertices = [];
    this.drawing = null;
    this.files = [];
    this.address = null;
    this.categories = {};
    this.lookup = debounce(() => this.locationChanged(), 300);
    $('#create-close', section).addEventListener('click', () => this.close());
    if (this.form) this.bindForm();
  }

  bindForm() {
    const form = this.form;
    if (this.consultation) {
      form.elements.kind.value = 'proposal';
      $('#f-kind', form).hidden = true;
      for (const input of form.elements.shape) {
        input.closest('label').hidden = !this.consultation.geometry_types.includes(input.value);
      }
    }
    form.addEventListener('change', (event) => {
      const name = event.target.name;
      if (name === 'kind') this.setKind(event.target.value);
      if (name === 'shape') this.setShape(event.target.value);
    });
    $('#f-category', form).addEventListener('change', () => this.categoryChanged());
    this.picker = new CategoryPicker($('#field-category-search', form), { onPick: (c) => this.pickCategory(c) });
    $('#f-subcategory', form).addEventListener('change', () => this.lookup());
    $('#place-center', form).addEventListener('click', () => this.addPoint(this.map.getCenter()));
    $('#place-locate', form).addEventListener('click', () => this.map.fire('cartagora:locate'));
    $('#draw-undo', form).addEventListener('click', () => this.undoVertex());
    $('#f-photos', form).addEventListener('change', (event) => this.addFiles(event.target));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.submit();
    });
  }

  // ---- opening and closing -------------------------------------------------------------

  open({ kind = null, latlng = null } = {}) {
    this.active = true;
    this.section.hidden = false;
    this.map.getContainer().classList.add('placing');
    if (this.form) {
      if (kind) {
        this.form.elements.kind.value = kind;
        this.setKind(kind);
      } else {
        this.setKind(this.form.elements.kind.value);
      }
      if (latlng) this.addPoint(latlng);
    } else {
      const next = encodeURIComponent(location.pathname + location.search);
      for (const id of ['create-login', 'create-signup']) {
        const link = $(`#${id}`, this.section);
        link.href = `${link.pathname}?next=${next}`;
      }
    }
    this.onOpen?.();
    $('#create-title', this.section).focus();
  }

  close({ reset = false } = {}) {
    this.active = false;
    this.section.hidden = true;
    this.map.getContainer().classList.remove('placing');
    this.clearGeometry();
    if (reset && this.form) this.resetForm();
    this.onClose?.();
  }

  resetForm() {
    this.form.reset();
    for (const file of this.files) URL.revokeObjectURL(file.url);
    this.files = [];
    this.renderPhotos();
    this.clearErrors();
    this.setKind(this.consultation ? 'proposal' : 'report');
    $('#duplicates', this.form).hidden = true;
  }

  // ---- kind, shape, category -----------------------------------------------------------

  async setKind(kind) {
    this.kind = kind;
    const shapes = $('#f-shape', this.form);
    shapes.hidden = kind !== 'proposal';
    if (kind !== 'proposal' && this.shape !== 'Point') {
      this.form.elements.shape.value = 'Point';
      this.setShape('Point');
    }
    $('#duplicates', this.form).hidden = true;
    await this.loadCategories(kind);
  }

  setShape(shape) {
    this.clearGeometry();
    this.shape = shape;
    $('#draw-undo', this.form).hidden = shape === 'Point';
    const help = { Point: 'form.place_pin_first', LineString: 'form.draw_line', Polygon: 'form.draw_polygon' };
    $('#f-geometry-help', this.form).textContent = t(help[shape]);
  }

  async loadCategories(kind) {
    const select = $('#f-category', this.form);
    try {
      this.categories[kind] ??= (await api(`/api/v1/categories?kind=${kind}`)).categories;
    } catch {
      $('#f-category-error', this.form).textContent = t('form.categories_error');
      return;
    }
    if (this.kind !== kind) return;
    const offered = this.offered(this.categories[kind])
      .map((node) => ({ ...node, children: this.offered(node.children) }));
    select.replaceChildren(
      h('option', { value: '', text: t('form.choose_category') }),
      ...offered.map((node) => h('option', { value: node.code, text: this.optionText(node) })));
    this.picker.setTree(offered, this.form.hasAttribute('data-staff'));
    this.categoryChanged();
  }

  categoryChanged() {
    const code = $('#f-category', this.form).value;
    const node = (this.categories[this.kind] ?? []).find((c) => c.code === code);
    const sub = $('#f-subcategory', this.form);
    const children = this.offered(node?.children ?? []);
    sub.replaceChildren(
      h('option', { value: '', text: t('form.choose_subcategory') }),
      ...children.map((c) => h('option', { value: c.code, text: this.optionText(c) })));
    $('#field-subcategory', this.form).hidden = children.length === 0;
    this.lookup();
  }

  /** A category found with the picker: the selects take it, as if chosen in them. */
  pickCategory({ top, sub }) {
    $('#f-category', this.form).value = top;
    this.categoryChanged();
    $('#f-subcategory', this.form).value = sub;
    this.setError('category', '');
  }

  /** The label in a select: without DansMaRue's "[réservé agents …]" (a staff-only tag says it). */
  optionText(node) {
    const text = node.description[lang] ?? node.description.fr;
    return node.agent_only ? `${text} (${t('picker.staff_only')})` : text;
  }

  /** The categories this person may choose, the most used first: in use, and agent-only
   * ones for staff only. */
  offered(nodes) {
    const staff = this.form.hasAttribute('data-staff');
    const themes = this.consultation?.themes;
    const inThemes = (c) => !themes || themes.some((code) => code === c.code || code.startsWith(`${c.code}.`)
      || c.code.startsWith(`${code}.`));
    return nodes.filter((c) => c.active && (staff || !c.agent_only) && inThemes(c))
      .sort((a, b) => b.recent_count - a.recent_count);
  }

  category() {
    return $('#f-subcategory', this.form).value || $('#f-category', this.form).value;
  }

  // ---- geometry: the pin, or the points of a line / area -------------------------------

  /** A map tap while the form is open; returns true when it was used. */
  handleMapClick(latlng) {
    if (!this.active || !this.form) return false;
    this.addPoint(latlng);
    return true;
  }

  setLocation(latlng) {
    if (this.active && this.form) this.addPoint(L.latLng(latlng));
  }

  addPoint(latlng) {
    if (this.shape === 'Point') this.placePin(latlng);
    else this.addVertex(latlng);
  }

  placePin(latlng) {
    if (!this.pin) {
      this.pin = this.draggable(latlng, 'pin', t('map.pin'), () => this.lookup());
      this.pin.addTo(this.map);
    } else {
      this.pin.setLatLng(latlng);
    }
    if (!this.map.getBounds().pad(-0.1).contains(latlng)) this.map.panTo(latlng);
    $('#f-geometry-help', this.form).textContent = t('form.pin_placed');
    this.setError('geometry', '');
    this.lookup();
  }

  addVertex(latlng) {
    const n = this.vertices.length + 1;
    const vertex = this.draggable(latlng, 'vertex', t('map.vertex', { n }), () => this.redraw());
    vertex.addTo(this.map);
    this.vertices.push(vertex);
    this.redraw();
  }

  undoVertex() {
    const vertex = this.vertices.pop();
    if (vertex) this.map.removeLayer(vertex);
    this.redraw();
  }

  redraw() {
    const points = this.vertices.map((v) => v.getLatLng());
    if (this.drawing) this.map.removeLayer(this.drawing);
    this.drawing = null;
    if (points.length >= 2) {
      const options = { className: 'drawing', interactive: false };
      this.drawing = (this.shape === 'Polygon' ? L.polygon(points, options) : L.polyline(points, options))
        .addTo(this.map);
    }
    $('#f-geometry-help', this.form).textContent = tn('form.points', points.length);
    this.setError('geometry', '');
    this.lookup();
  }

  /** A marker that can be dragged, and moved with the arrow keys when it has the focus. */
  draggable(latlng, kind, label, moved) {
    const marker = L.marker(latlng, {
      icon: L.divIcon({
        className: `marker-${kind}`,
        html: h('span', { class: kind }),
        iconSize: kind === 'pin' ? [36, 48] : [22, 22],
        iconAnchor: kind === 'pin' ? [18, 46] : [11, 11],
      }),
      draggable: true,
      keyboard: true,
      autoPan: true,
      zIndexOffset: 1000,
    });
    marker.on('dragend', moved);
    marker.on('add', () => {
      const el = marker.getElement();
      el.setAttribute('aria-label', label);
      L.DomEvent.on(el, 'keydown', (event) => {
        const step = ARROWS[event.key];
        if (!step) return;
        L.DomEvent.stop(event);
        const point = this.map.latLngToContainerPoint(marker.getLatLng());
        marker.setLatLng(this.map.containerPointToLatLng(point.add(L.point(step).multiplyBy(KEY_STEP_PX))));
        moved();
      });
    });
    return marker;
  }

  clearGeometry() {
    if (this.pin) this.map.removeLayer(this.pin);
    this.pin = null;
    for (const v of this.vertices) this.map.removeLayer(v);
    this.vertices = [];
    if (this.drawing) this.map.removeLayer(this.drawing);
    this.drawing = null;
    this.address = null;
    if (this.form) $('#f-address', this.form).textContent = '';
  }

  geometry() {
    const lonlat = (ll) => [Number(ll.lng.toFixed(7)), Number(ll.lat.toFixed(7))];
    if (this.shape === 'Point') {
      return this.pin ? { type: 'Point', coordinates: lonlat(this.pin.getLatLng()) } : null;
    }
    const coords = this.vertices.map((v) => lonlat(v.getLatLng()));
    if (!coords.length) return null;
    if (this.shape === 'LineString') return { type: 'LineString', coordinates: coords };
    return { type: 'Polygon', coordinates: [[...coords, coords[0]]] };
  }

  anchor() {
    if (this.pin) return this.pin.getLatLng();
    if (!this.vertices.length) return null;
    return L.latLngBounds(this.vertices.map((v) => v.getLatLng())).getCenter();
  }

  // ---- nearest address and possible duplicates -----------------------------------------

  async locationChanged() {
    const at = this.anchor();
    if (!at || !this.active) return;
    this.controller?.abort();
    this.controller = new AbortController();
    const signal = this.controller.signal;
    const where = { lon: at.lng.toFixed(6), lat: at.lat.toFixed(6) };
    try {
      const reverse = await api(`/api/v1/reverse?${new URLSearchParams(where)}`, { signal });
      const found = reverse.features[0];
      this.address = found ? found.properties.label : null;
      $('#f-address', this.form).textContent = found
        ? t('form.nearest_address', { label: found.properties.label })
        : t('form.no_address');
      await this.findDuplicates(where, signal);
    } catch (error) {
      if (!isAbort(error)) $('#f-address', this.form).textContent = '';
    }
  }

  async findDuplicates(where, signal) {
    const box = $('#duplicates', this.form);
    const top = $('#f-category', this.form).value;
    if (this.kind !== 'report' || !this.pin || !top) {
      box.hidden = true;
      return;
    }
    const query = new URLSearchParams({ ...where, category: top, radius_m: '50', limit: '5' });
    const found = await api(`/api/v1/reports/nearby?${query}`, { signal });
    box.hidden = found.features.length === 0;
    $('#duplicates-title', box).textContent = tn('form.duplicates', found.features.length);
    $('#duplicates-list', box).replaceChildren(...found.features.map((f) => {
      const p = f.properties;
      return h('li', { class: 'duplicate' },
        h('div', {},
          h('a', { href: `/c/${p.id}`, target: '_blank', rel: 'noopener', text: p.title }),
          h('p', { class: 'hint', text: `${t(`status.report.${p.status}`)} · ${t('form.distance', { m: formatNumber(Math.round(p.distance_m)) })}` })),
        h('button', {
          type: 'button',
          class: 'button secondary me-too',
          'aria-label': `${t('form.me_too')} : ${p.title}`,
          text: t('form.me_too'),
          onclick: () => this.meToo(p),
        }));
    }));
  }

  async meToo(report) {
    try {
      await api(`/api/v1/reports/${report.id}/vote`, { method: 'PUT', json: { value: 1 } });
    } catch (error) {
      this.showProblem(error);
      return;
    }
    toast(t('form.me_too_done'), { href: `/c/${report.id}`, text: t('form.view') });
    this.close({ reset: true });
  }

  // ---- photos ----------------------------------------------------------------------------

  addFiles(input) {
    const max = this.config.maxPhotos;
    const chosen = Array.from(input.files);
    const room = max - this.files.length;
    for (const file of chosen.slice(0, Math.max(room, 0))) {
      this.files.push({ file, url: URL.createObjectURL(file) });
    }
    this.setError('photos', chosen.length > room ? t('form.too_many_photos', { max }) : '');
    input.value = '';
    this.renderPhotos();
  }

  renderPhotos() {
    const list = $('#photo-previews', this.form);
    list.replaceChildren(...this.files.map((entry, i) => h('li', { class: 'photo-preview' },
      h('img', { src: entry.url, alt: entry.file.name }),
      h('button', {
        type: 'button',
        class: 'remove-photo',
        'aria-label': t('form.remove_photo', { name: entry.file.name }),
        text: '×',
        onclick: () => {
          URL.revokeObjectURL(entry.url);
          this.files.splice(i, 1);
          this.renderPhotos();
          $('#f-photos', this.form).focus();
        },
      }))));
  }

  // ---- submitting ------------------------------------------------------------------------

  async submit() {
    const form = this.form;
    this.clearErrors();
    const properties = {
      title: form.elements.title.value,
      description: form.elements.description.value,
      category: this.category(),
    };
    if (this.address && this.shape === 'Point') properties.address = this.address;
    if (this.consultation) properties.consultation = this.consultation.id;
    const feature = { type: 'Feature', geometry: this.geometry(), properties };
    const body = new FormData();
    body.append('feature', JSON.stringify(feature));
    for (const { file } of this.files) body.append('photos', file, file.name);
    const button = $('#create-submit', form);
    button.disabled = true;
    $('#create-error', form).textContent = t('form.sending');
    const key = newKey();  // the same one if it is kept offline and sent later: one report
    try {
      const created = await api(`/api/v1/${this.kind}s`, { method: 'POST', form: body, headers: { 'Idempotency-Key': key } });
      $('#create-error', form).textContent = '';
      toast(t(`form.created_${this.kind}`), { href: `/c/${created.id}`, text: t('form.view') });
      this.close({ reset: true });
      this.onCreated?.(created);
    } catch (error) {
      if (isNetworkFailure(error)) await this.keepOffline(feature, key);
      else this.showProblem(error);
    } finally {
      button.disabled = false;
    }
  }

  /** No network: the contribution waits on this device (static/js/offline/) and is sent when
   * the network returns; the form closes as after publishing. */
  async keepOffline(feature, key) {
    try {
      await keepDraft({ kind: this.kind, feature, key, photos: this.files.map(({ file }) => file) });
    } catch {  // no storage on this device (a private window): say the network failed
      $('#create-error', this.form).textContent = t('error.network');
      return;
    }
    $('#create-error', this.form).textContent = '';
    this.close({ reset: true });
  }

  showProblem(error) {
    const summary = $('#create-error', this.form);
    if (!(error instanceof ApiError)) {
      summary.textContent = t('error.network');
      return;
    }
    if (error.status === 401) {
      summary.textContent = t('form.sign_in_needed');
      return;
    }
    let first = null;
    const loose = [];
    for (const e of error.errors) {
      const field = fieldOf(e.field);
      if (field) {
        this.setError(field, e.detail, true);
        first ??= field;
      } else {
        loose.push(e.detail);
      }
    }
    summary.textContent = first ? [t('form.errors'), ...loose].join(' ') : (error.detail ?? t('error.generic'));
    this.showFirstError(summary);
  }

  /** Focus the first field in error, in the page's order, and bring all of it into view in
   * the middle of the panel: focus alone scrolls just enough to show the control, which
   * leaves it, or its message, under the sticky "Publish" bar. */
  showFirstError(summary) {
    const box = $('.has-error', this.form);
    if (!box) {
      summary.focus();
      return;
    }
    const field = box.id === 'f-geometry' ? 'geometry' : box.querySelector('[id^="f-"][id$="-error"]')?.id.slice(2, -6);
    const target = field === 'geometry' ? $('#place-center', this.form) : $(`#f-${field}`, this.form);
    (target ?? summary).focus({ preventScroll: true });
    box.scrollIntoView({ block: 'center' });
  }

  setError(field, message, append = false) {
    const el = $(`#f-${field}-error`, this.form);
    if (!el) return;
    el.textContent = append && el.textContent ? `${el.textContent} ${message}` : message;
    const control = field === 'geometry' ? $('#f-geometry', this.form) : $(`#f-${field}`, this.form);
    if (control && control.tagName !== 'FIELDSET') {
      if (message) control.setAttribute('aria-invalid', 'true');
      else control.removeAttribute('aria-invalid');
    }
    el.closest('.field, fieldset')?.classList.toggle('has-error', Boolean(message));
  }

  clearErrors() {
    for (const field of ['geometry', 'category', 'title', 'description', 'photos']) this.setError(field, '');
    $('#create-error', this.form).textContent = '';
  }
}
