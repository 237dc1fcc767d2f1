// The planner's dashboard: filters → one query string → map layers, charts and exports.
import { api } from '../lib/api.js';
import { createMap } from '../map/base.js';
import { formatNumber, lang } from '../lib/i18n.js';

const L = window.L;
const Chart = window.Chart;
const config = JSON.parse(document.getElementById('planner-config').textContent);
const S = config.strings;
const form = document.getElementById('planner-filters');
const statusLine = document.getElementById('planner-status');
const legend = document.getElementById('legend');
const info = document.getElementById('info');

const map = createMap('planner-map', config);
map.fitBounds([[48.8156, 2.2242], [48.9022, 2.4699]]);

const layers = {
  hexbins: L.layerGroup(), heat: L.layerGroup(), arrondissement: L.layerGroup(),
  quartier: L.layerGroup(), hotspots: L.layerGroup(),
};
const areaShapes = {};
let months = [];  // first day of every month from the first to the latest with data (time slider)
let hexBreaks = [];
let topCodes = new Set();  // the top categories (the public list page knows only these)

/** The string `key` with its `{name}` placeholders filled from `params`. */
function say(key, params = {}) {  // the page's own strings (S), not lib/i18n.js's t()
  return (S[key] ?? key).replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

const pluralRules = new Intl.PluralRules(lang);
/** A counted string: `base_one` or `base_other`, as the page's language wants for `n`. */
function sayN(base, n) {
  const form = pluralRules.select(n) === 'one' ? 'one' : 'other';
  return say(`${base}_${form}`, { n: formatNumber(n) });
}

const monthFormat = new Intl.DateTimeFormat(lang, { month: 'long', year: 'numeric', timeZone: 'UTC' });
const dayFormat = new Intl.DateTimeFormat(lang, { day: 'numeric', month: 'short', year: '2-digit', timeZone: 'UTC' });
const percentFormat = new Intl.NumberFormat(lang, { style: 'percent', maximumFractionDigits: 1 });
const changeFormat = new Intl.NumberFormat(lang, { style: 'percent', maximumFractionDigits: 1, signDisplay: 'exceptZero' });
const sizeFormat = new Intl.NumberFormat(lang, { style: 'unit', unit: 'kilobyte', maximumFractionDigits: 0 });
const isoDate = (iso) => new Date(`${iso.slice(0, 10)}T00:00:00Z`);

/** Every month's first day from `first` to `last` (YYYY-MM-DD), both included. */
function monthRange(span) {
  if (!span) return [];
  const out = [];
  for (let m = span.first; m <= span.last; m = addMonths(m, 1)) out.push(m);
  return out;
}

/** 1er, 2e… in French; 1st, 2nd… in English (arrondissements are named by their number). */
function ordinal(n) {
  if (lang === 'fr') return n === 1 ? '1er' : `${n}e`;
  const suffix = n % 100 >= 10 && n % 100 <= 20 ? 'th' : ({ 1: 'st', 2: 'nd', 3: 'rd' }[n % 10] ?? 'th');
  return `${n}${suffix}`;
}

/** Cell size (metres between hexagon centres) for the current zoom. */
function cellForZoom(zoom) {
  if (zoom <= 11) return 1000;
  if (zoom === 12) return 500;
  if (zoom === 13) return 300;
  if (zoom === 14) return 200;
  return 100;
}

/** The last day of the month of `iso` (the API's `until` is inclusive). */
function endOfMonth(iso) {
  const [y, m] = iso.split('-').map(Number);
  return new Date(Date.UTC(y, m, 0)).toISOString().slice(0, 10);
}

function addMonths(iso, n) {
  const [y, m] = iso.split('-').map(Number);
  const d = new Date(Date.UTC(y, m - 1 + n, 1));
  return d.toISOString().slice(0, 10);
}

/** The shared filters as a query string (without cell size or level). */
export function filterParams() {
  const p = new URLSearchParams();
  p.set('kind', form.kind.value);
  if (form.category.value) p.set('category', form.category.value);
  if (form.status.value) p.set('status', form.status.value);
  const window_ = form.window.value;
  if (window_ !== 'all' && months.length) {
    const end = months[Number(form.slider.value)];
    p.set('since', addMonths(end, 1 - Number(window_)));
    p.set('until', endOfMonth(end));
  }
  return p;
}

function classOf(value, breaks) {
  let k = 0;
  while (k < breaks.length - 1 && value > breaks[k]) k += 1;
  return Math.min(k, 5);
}

function quantileBreaks(values) {
  const sorted = values.filter((v) => v != null).sort((a, b) => a - b);
  if (!sorted.length) return [];
  const q = (f) => sorted[Math.min(sorted.length - 1, Math.floor(f * sorted.length))];
  return [...new Set([q(0.2), q(0.4), q(0.6), q(0.8), sorted[sorted.length - 1]])];
}

function legendSection(title, ...content) {
  const section = document.createElement('div');
  section.className = 'legend-section';
  const h = document.createElement('h2');
  h.textContent = title;
  section.append(h, ...content);
  legend.append(section);
}

function classList(breaks, format = formatNumber) {
  if (!breaks.length) {  // nothing to colour: say so rather than show a bare title
    const p = document.createElement('p');
    p.className = 'legend-empty';
    p.textContent = S.no_data;
    return p;
  }
  const ul = document.createElement('ul');
  let lower = 0;
  breaks.forEach((b, k) => {
    const li = document.createElement('li');
    const sw = document.createElement('span');
    sw.className = `swatch c${k}`;
    li.append(sw, `${format(lower)} – ${format(b)}`);
    ul.append(li);
    lower = b;
  });
  return ul;
}

/** The legend of the layers that are on, in the order of the "Layers" box. */
function renderLegend(active, hex, areaBreaks) {
  legend.replaceChildren();
  if (active.includes('hexbins') && hex) {
    // a no-break space keeps the unit with its number ("500 m" on one line)
    legendSection(say('legend_hexbins', { size: formatNumber(hex.cell_m) }).replace(/ m$/, '\u00a0m'), classList(hex.breaks));
  }
  if (active.includes('heat')) {
    const bar = document.createElement('div');
    bar.className = 'heat-scale';
    const ramp = document.createElement('span');
    ramp.className = 'heat-ramp';
    const low = document.createElement('span');
    low.textContent = S.legend_heat_low;
    const high = document.createElement('span');
    high.textContent = S.legend_heat_high;
    bar.append(low, ramp, high);
    legendSection(S.legend_heat, bar);
  }
  const level = ['quartier', 'arrondissement'].find((l) => active.includes(l));
  if (level && areaBreaks) {
    const density = form.measure.value !== 'count';
    legendSection(density ? S.legend_areas_density : S.legend_areas_count,
      classList(areaBreaks, density ? (v) => formatNumber(Math.round(v)) : formatNumber));
  }
  if (active.includes('hotspots')) {
    const p = document.createElement('p');
    p.className = 'legend-hotspot';
    const sw = document.createElement('span');
    sw.className = 'swatch hotspot-swatch';
    p.append(sw, S.legend_hotspots);
    legend.append(p);
  }
  if (!legend.childElementCount) {
    const p = document.createElement('p');
    p.textContent = S.legend_none;
    legend.append(p);
  }
}

function showInfo(title, rows, link, actions = []) {
  info.replaceChildren();
  const h = document.createElement('h2');
  h.textContent = title;
  const dl = document.createElement('dl');
  for (const [label, value] of rows) {
    const dt = document.createElement('dt');
    dt.textContent = label;
    const dd = document.createElement('dd');
    dd.textContent = value ?? '–';
    dl.append(dt, dd);
  }
  info.append(h, dl);
  if (link) {
    const a = document.createElement('a');
    a.href = link;
    a.textContent = S.list;
    a.className = 'list-link';
    info.append(a);
  }
  for (const [text, onclick] of actions) {
    const p = document.createElement('p');
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'button secondary small';
    b.textContent = text;
    b.addEventListener('click', onclick);
    p.append(b);
    info.append(p);
  }
}

// A hotspot becomes a consultation on its outline, or a proposal linked to its reports
function hotspotActions(f) {
  if (f.geometry.type !== 'Polygon') return [];
  const polygon = encodeURIComponent(JSON.stringify(f.geometry));
  return [
    [S.open_consultation, () => { location.href = `/consultations/new?polygon=${polygon}`; }],
    [S.create_proposal, async () => {
      const reports = await api(`${f.properties.reports_url}&limit=200`);
      const ids = reports.features.map((r) => r.id).join(',');
      location.href = `/proposals/new?polygon=${polygon}&reports=${ids}`;
    }],
  ];
}

function bboxOf(geometry) {
  const ring = geometry.coordinates[0];
  const xs = ring.map((c) => c[0]);
  const ys = ring.map((c) => c[1]);
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)].map((v) => v.toFixed(6));
}

/** The public list page (/) showing these contributions: the same filters, in the terms of
 * its URL (static/js/state.js: kind, category, status, arrondissement, since, until) and its
 * map view (lat, lon, z) around `bounds`. A subcategory is widened to its top category and a
 * quartier to its map view: that page cannot express them. */
function listUrl(bounds, { arrondissement, since, until } = {}) {
  const f = filterParams();
  const p = new URLSearchParams();
  p.set('kind', f.get('kind'));
  const category = form.category.value;
  if (category) {
    const parent = form.category.selectedOptions[0]?.parentElement?.dataset.top;
    p.set('category', topCodes.has(category) ? category : (parent ?? category));
  }
  // the list page's default is open and recent: the planner's "all statuses" is `all` there
  p.set('status', form.status.value || 'all');
  if (arrondissement) p.set('arrondissement', arrondissement);
  const s = since ?? f.get('since');
  const u = until ?? f.get('until');
  if (s) p.set('since', s);
  if (u) p.set('until', u);
  const b = L.latLngBounds(bounds);
  const center = b.getCenter();
  const z = Math.max(10, Math.min(18, map.getBoundsZoom(b)));
  p.set('lat', center.lat.toFixed(5));
  p.set('lon', center.lng.toFixed(5));
  p.set('z', String(z));
  return `/?${p}`;
}

function ringBounds(geometry) {
  const [w, s, e, n] = bboxOf(geometry).map(Number);
  return [[s, w], [n, e]];
}

async function loadHexbins(params) {
  const cell = cellForZoom(map.getZoom());
  const data = await api(`/api/v1/stats/hexbins?${params}&cell_m=${cell}`);
  hexBreaks = data.breaks;
  layers.hexbins.clearLayers();
  layers.heat.clearLayers();
  L.geoJSON(data, {
    style: (f) => ({ className: `hex hex-c${classOf(f.properties.count, hexBreaks)}` }),
    onEachFeature: (f, layer) => layer.on('click', () => showInfo(
      `${S.hexagon} ${formatNumber(data.cell_m)} m`, [[S.count, formatNumber(f.properties.count)]],
      listUrl(ringBounds(f.geometry)))),
  }).addTo(layers.hexbins);
  const max = hexBreaks[hexBreaks.length - 1] || 1;
  const points = data.features.map((f) => {
    const ring = f.geometry.coordinates[0].slice(0, 6);
    const lon = ring.reduce((s, c) => s + c[0], 0) / 6;
    const lat = ring.reduce((s, c) => s + c[1], 0) / 6;
    return [lat, lon, f.properties.count / max];
  });
  if (L.heatLayer) L.heatLayer(points, { radius: 18, blur: 14, minOpacity: 0.3 }).addTo(layers.heat);
  return data;
}

async function loadAreas(level, params) {
  const measure = form.measure.value;
  if (!areaShapes[level]) areaShapes[level] = await api(`/api/v1/areas?level=${level}`);
  const stats = await api(`/api/v1/stats/areas?${params}&level=${level}`);
  const byCode = Object.fromEntries(stats.areas.map((a) => [a.code, a]));
  const breaks = quantileBreaks(stats.areas.map((a) => a[measure]));
  layers[level].clearLayers();
  L.geoJSON(areaShapes[level], {
    style: (f) => {
      const a = byCode[f.properties.code];
      return { className: `area hex-c${a && a[measure] != null ? classOf(a[measure], breaks) : 0}` };
    },
    onEachFeature: (f, layer) => layer.on('click', () => {
      const a = byCode[f.properties.code];
      showInfo(a.name, [
        [S.count, a.count == null ? S.suppressed : formatNumber(a.count)],
        [S.density, a.density_km2 == null ? null : formatNumber(a.density_km2)],
        [S.share, a.share == null ? null : percentFormat.format(a.share)],
        [S.previous, a.previous_count == null ? null : formatNumber(a.previous_count)],
        [S.change, a.change_pct == null ? null : changeFormat.format(a.change_pct / 100)],
      ], listUrl(layer.getBounds(), level === 'arrondissement' ? { arrondissement: a.code } : {}));
    }),
  }).addTo(layers[level]);
  return breaks;
}

async function loadHotspots(params) {
  layers.hotspots.clearLayers();
  const p = new URLSearchParams(params);
  if (!p.get('since')) {  // hotspots need a window: the last month of the slider
    const end = months[Number(form.slider.value)] ?? months[months.length - 1];
    if (end) { p.set('since', end); p.set('until', endOfMonth(end)); }
  } else if (Number(form.window.value) > 3) {
    p.set('since', addMonths(p.get('until').slice(0, 8) + '01', -2));
  }
  const data = await api(`/api/v1/stats/hotspots?${p}`);
  // the window the hotspots were found in, as the list page's inclusive dates (the echo's
  // `until` is the Paris midnight after the last day)
  const lastDay = isoDate(data.filters.until);
  lastDay.setUTCDate(lastDay.getUTCDate() - 1);
  const window_ = { since: p.get('since') ?? data.filters.since.slice(0, 10),
    until: p.get('until') ?? lastDay.toISOString().slice(0, 10) };
  L.geoJSON(data, {
    style: () => ({ className: 'hotspot' }),
    onEachFeature: (f, layer) => layer.on('click', () => showInfo(
      `${S.hotspot} #${f.properties.rank}`,
      [[S.count, formatNumber(f.properties.count)],
        ...f.properties.top_categories.map((c) => [c.label[lang] ?? c.code, formatNumber(c.count)])],
      listUrl(layer.getBounds(), window_), hotspotActions(f))),
  }).addTo(layers.hotspots);
}

const charts = {};
const chartData = {};  // per chart: its caption, labels, values and the values' column name

// Chart.js draws on a transparent canvas: a white background for the PNG download
const whiteBackground = {
  id: 'whiteBackground',
  beforeDraw(chart) {
    const { ctx, width, height } = chart;
    ctx.save();
    ctx.globalCompositeOperation = 'destination-over';
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, width, height);
    ctx.restore();
  },
};

/** A long label on at most two lines of about `width` characters (Chart.js draws arrays as
 * lines), the rest cut with an ellipsis; the tooltip shows it whole. */
function wrap(text, width = 18) {
  const lines = [''];
  for (const word of text.split(/\s+/)) {
    const line = lines[lines.length - 1];
    if (!line || line.length + 1 + word.length <= width) lines[lines.length - 1] = line ? `${line} ${word}` : word;
    else lines.push(word);
  }
  if (lines.length > 2) {
    lines.length = 2;
    lines[1] = `${lines[1]} …`;
  }
  return lines.map((l) => (l.length > width + 2 ? `${l.slice(0, width)}…` : l));
}

function drawChart(id, type, labels, values, label, { full = labels, ticks = {} } = {}) {
  if (charts[id]) charts[id].destroy();
  delete charts[id];
  const canvas = document.getElementById(id);
  const figure = canvas.closest('figure');
  const caption = figure.querySelector('figcaption').textContent.trim();
  chartData[id] = { caption, labels: full, values, label };
  const empty = !values.some((v) => v != null && v !== 0);
  figure.classList.toggle('is-empty', empty);
  figure.querySelector('.chart-empty').hidden = !empty;
  canvas.hidden = empty;
  for (const button of figure.querySelectorAll('.chart-tools button')) button.disabled = empty;
  if (empty) return;
  const horizontal = id === 'chart-categories';
  charts[id] = new Chart(canvas, {
    type,
    data: { labels, datasets: [{ label, data: values, backgroundColor: '#fe9929', borderColor: '#d95f0e', pointRadius: 0 }] },
    plugins: [whiteBackground],
    options: {
      animation: false, responsive: true, maintainAspectRatio: false, locale: lang,
      indexAxis: horizontal ? 'y' : 'x',
      layout: { padding: { top: 8, right: 12, bottom: 4, left: 4 } },
      scales: {
        x: { ticks: { autoSkip: true, maxRotation: 0, ...(horizontal ? {} : ticks) }, beginAtZero: true },
        y: { ticks: { autoSkip: !horizontal, ...(horizontal ? ticks : {}) }, beginAtZero: true },
      },
      plugins: {
        legend: { display: false },
        tooltip: { callbacks: { title: (items) => full[items[0].dataIndex] } },
      },
    },
  });
  canvas.setAttribute('aria-label', caption);
}

function download(name, href) {
  const a = document.createElement('a');
  a.href = href;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
}

document.querySelectorAll('.chart-tools button').forEach((button) => button.addEventListener('click', () => {
  const id = button.closest('figure').querySelector('canvas').id;
  const name = id.replace('chart-', 'cartagora-');
  if (button.dataset.download === 'png') {
    if (charts[id]) download(`${name}.png`, charts[id].toBase64Image('image/png', 1));
    return;
  }
  const { labels, values, label } = chartData[id];
  const cell = (v) => {
    const text = v == null ? '' : String(v).replace('.', lang === 'fr' ? ',' : '.');
    return /[;"\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  const rows = [[chartData[id].column, label], ...labels.map((l, i) => [l, values[i]])];
  const csv = `\ufeff${rows.map((r) => r.map(cell).join(';')).join('\n')}\n`;
  const url = URL.createObjectURL(new Blob([csv], { type: 'text/csv;charset=utf-8' }));
  download(`${name}.csv`, url);
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}));

async function loadCharts(params) {
  const [trend, byCat, byArr] = await Promise.all([
    api(`/api/v1/stats/timeseries?${params}&interval=week`),
    api(`/api/v1/stats/resolution?${params}&group_by=category`),
    api(`/api/v1/stats/resolution?${params}&group_by=arrondissement`),
  ]);
  const weeks = trend.series.map((p) => dayFormat.format(isoDate(p.period)));
  drawChart('chart-trend', 'line', weeks, trend.series.map((p) => p.count), S.count,
    { full: trend.series.map((p) => p.period.slice(0, 10)), ticks: { maxTicksLimit: 8 } });
  chartData['chart-trend'].column = S.period;
  const top = byCat.groups.filter((g) => g.count).sort((a, b) => b.count - a.count).slice(0, 10);
  const names = top.map((g) => g.label ?? g.code);
  drawChart('chart-categories', 'bar', names.map((n) => wrap(n)), top.map((g) => g.count), S.count,
    { full: names });
  chartData['chart-categories'].column = S.category;
  const arr = byArr.groups.filter((g) => g.resolve_median_h != null).sort((a, b) => Number(a.code) - Number(b.code));
  drawChart('chart-resolution', 'bar', arr.map((g) => ordinal(Number(g.code))), arr.map((g) => g.resolve_median_h),
    S.median_hours, { full: arr.map((g) => g.label ?? ordinal(Number(g.code))) });
  chartData['chart-resolution'].column = S.arrondissement;
  document.getElementById('planner').dataset.total = String(trend.total);
}

// ---- the dashboard's state in the URL (shareable; reloading restores it) --------------------

const DEFAULT_LAYERS = ['hexbins', 'hotspots'];

function activeLayers() {
  return [...form.querySelectorAll('input[name="layer"]:checked')].map((i) => i.value);
}

function writeUrl() {
  const p = new URLSearchParams();
  if (form.kind.value !== 'report') p.set('kind', form.kind.value);
  if (form.category.value) p.set('category', form.category.value);
  if (form.status.value) p.set('status', form.status.value);
  if (form.window.value !== 'all') {
    p.set('window', form.window.value);
    const end = months[Number(form.slider.value)];
    if (end) p.set('end', end.slice(0, 7));
  }
  const active = activeLayers();
  if (active.join(',') !== DEFAULT_LAYERS.join(',')) p.set('layers', active.join(',') || 'none');
  if (form.measure.value !== 'count') p.set('measure', form.measure.value);
  const query = p.toString();
  history.replaceState(history.state, '', `${location.pathname}${query ? `?${query}` : ''}${location.hash}`);
}

const initial = new URLSearchParams(location.search);

function setSelect(select, value) {
  if (value == null) return;
  select.value = value;
  if (select.value !== value) select.selectedIndex = 0;
}

function restoreFromUrl() {
  setSelect(form.kind, initial.get('kind'));
  setSelect(form.status, initial.get('status'));
  setSelect(form.window, initial.get('window'));
  setSelect(form.measure, initial.get('measure'));
  const layersParam = initial.get('layers');
  if (layersParam) {
    const wanted = layersParam.split(',');
    for (const box of form.querySelectorAll('input[name="layer"]')) box.checked = wanted.includes(box.value);
  }
}

// The report opens in a new tab, or downloads, with the current filters.
function setReportLinks(params) {
  document.getElementById('report-open').href = `/planner/report.html?${params}`;
  const download = new URLSearchParams(params);
  download.set('download', '1');
  document.getElementById('report-download').href = `/planner/report.html?${download}`;
}

let generation = 0;
async function refresh() {
  const mine = ++generation;
  const params = filterParams();
  writeUrl();
  setReportLinks(params);
  statusLine.textContent = S.loading;
  const started = performance.now();
  try {
    const active = activeLayers();
    const jobs = [loadHexbins(params), loadCharts(params)];
    const levels = ['arrondissement', 'quartier'].filter((level) => active.includes(level));
    for (const level of levels) jobs.push(loadAreas(level, params));
    if (active.includes('hotspots')) jobs.push(loadHotspots(params));
    const [hex, , ...rest] = await Promise.all(jobs);
    if (mine !== generation) return;
    // the legend describes the finest area level shown (quartiers over arrondissements)
    const areaBreaks = levels.length ? rest[levels.indexOf(levels.includes('quartier') ? 'quartier' : 'arrondissement')] : null;
    renderLegend(active, hex, areaBreaks);
    for (const [name, group] of Object.entries(layers)) {
      if (active.includes(name)) group.addTo(map); else group.remove();
    }
    statusLine.textContent = `${sayN('contributions', hex.total)} · ${Math.round(performance.now() - started)} ms`;
    document.getElementById('planner').dataset.query = params.toString();
  } catch (error) {
    if (mine !== generation) return;
    statusLine.textContent = error.detail ?? S.error;
  }
}

async function initFilters(restoring = false) {
  const tree = await api(`/api/v1/categories?kind=${form.kind.value}`);
  const select = form.category;
  select.length = 1;
  topCodes = new Set();
  for (const top of tree.categories ?? tree) {
    const group = document.createElement('optgroup');
    group.label = top.label[lang] ?? top.code;
    group.dataset.top = top.code;
    topCodes.add(top.code);
    const all = new Option(say('all', { name: top.label[lang] ?? top.code }), top.code);
    group.append(all);
    for (const child of top.children) group.append(new Option(child.label[lang] ?? child.code, child.code));
    select.append(group);
  }
  // the months from the first to the latest with data (asked of the database by the page)
  months = monthRange(config.months[form.kind.value]);
  form.slider.max = String(Math.max(0, months.length - 1));
  form.slider.value = form.slider.max;
  if (restoring) {
    setSelect(select, initial.get('category'));
    const end = initial.get('end');
    const k = end ? months.indexOf(`${end}-01`) : -1;
    if (k >= 0) form.slider.value = String(k);
  }
  form.slider.disabled = form.window.value === 'all' || !months.length;
  updateSliderLabel();
}

function updateSliderLabel() {
  const month = months[Number(form.slider.value)];
  const text = month ? monthFormat.format(isoDate(month)) : '';
  document.getElementById('slider-label').textContent = text;
  form.slider.setAttribute('aria-valuetext', text);
}

form.addEventListener('change', async (event) => {
  if (event.target.name === 'kind') await initFilters();
  form.slider.disabled = form.window.value === 'all' || !months.length;
  updateSliderLabel();
  refresh();
});
form.slider.addEventListener('input', updateSliderLabel);
map.on('zoomend', () => refresh());

// Exports of the current view; long downloads show their progress.
const progress = document.getElementById('export-progress');
const exportStatus = document.getElementById('export-status');
document.querySelectorAll('[data-export]').forEach((button) => button.addEventListener('click', async () => {
  const what = button.dataset.export;
  const params = filterParams();
  const url = {
    'contributions.csv': `/planner/export/contributions.csv?${params}`,
    'contributions.geojson': `/planner/export/contributions.geojson?${params}`,
    'areas.csv': `/planner/export/areas-arrondissement.csv?${params}`,
  }[what];
  progress.hidden = false;
  progress.removeAttribute('value');
  exportStatus.textContent = S.exporting;
  const response = await fetch(url, { credentials: 'same-origin' });
  const total = Number(response.headers.get('X-Total-Count')) || 0;
  const reader = response.body.getReader();
  const chunks = [];
  let lines = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    for (const byte of value) if (byte === 10 || byte === 125) lines += byte === 10 ? 1 : 0;
    if (total) {
      progress.max = total;
      progress.value = Math.min(lines, total);
      exportStatus.textContent = `${formatNumber(Math.min(lines, total))} / ${formatNumber(total)}`;
    }
  }
  const blob = new Blob(chunks, { type: response.headers.get('Content-Type') ?? 'application/octet-stream' });
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = { 'areas.csv': 'areas-arrondissement.csv' }[what] ?? what;
  document.body.append(a);
  a.click();
  a.remove();
  progress.hidden = true;
  exportStatus.textContent = say('done', { size: sizeFormat.format(Math.max(1, blob.size / 1000)) });
}));

restoreFromUrl();
await initFilters(true);
await refresh();
