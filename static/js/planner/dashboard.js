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
let months = [];  // first day of every month with data, for the time slider
let hexBreaks = [];

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

function renderLegend(title, breaks) {
  legend.replaceChildren();
  const h = document.createElement('h2');
  h.textContent = title;
  const ul = document.createElement('ul');
  let lower = 0;
  breaks.forEach((b, k) => {
    const li = document.createElement('li');
    const sw = document.createElement('span');
    sw.className = `swatch c${k}`;
    li.append(sw, `${formatNumber(lower)} – ${formatNumber(b)}`);
    ul.append(li);
    lower = b;
  });
  legend.append(h, ul);
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
    a.target = '_blank';
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

function listUrl(extra) {
  const p = filterParams();
  const kind = p.get('kind');
  p.delete('kind');
  for (const [k, v] of Object.entries(extra)) p.set(k, v);
  return `/api/v1/${kind}s?${p}`;
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
      `${S.hexagon} ${data.cell_m} m`, [[S.count, formatNumber(f.properties.count)]],
      listUrl({ bbox: bboxOf(f.geometry).join(',') }))),
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
        [S.density, a.density_km2],
        [S.share, a.share == null ? null : `${(a.share * 100).toFixed(1)} %`],
        [S.previous, a.previous_count],
        [S.change, a.change_pct == null ? null : `${a.change_pct > 0 ? '+' : ''}${a.change_pct} %`],
      ], listUrl({ [level]: a.code }));
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
  L.geoJSON(data, {
    style: () => ({ className: 'hotspot' }),
    onEachFeature: (f, layer) => layer.on('click', () => showInfo(
      `${S.hotspot} #${f.properties.rank}`,
      [[S.count, formatNumber(f.properties.count)],
        ...f.properties.top_categories.map((c) => [c.label[lang] ?? c.code, formatNumber(c.count)])],
      f.properties.reports_url, hotspotActions(f))),
  }).addTo(layers.hotspots);
}

const charts = {};
function drawChart(id, type, labels, values, label) {
  if (charts[id]) charts[id].destroy();
  charts[id] = new Chart(document.getElementById(id), {
    type,
    data: { labels, datasets: [{ label, data: values, backgroundColor: '#fe9929', borderColor: '#d95f0e', pointRadius: 0 }] },
    options: { animation: false, responsive: true, maintainAspectRatio: false,
      indexAxis: id === 'chart-categories' ? 'y' : 'x', plugins: { legend: { display: false } } },
  });
}

async function loadCharts(params) {
  const [trend, byCat, byArr] = await Promise.all([
    api(`/api/v1/stats/timeseries?${params}&interval=week`),
    api(`/api/v1/stats/resolution?${params}&group_by=category`),
    api(`/api/v1/stats/resolution?${params}&group_by=arrondissement`),
  ]);
  drawChart('chart-trend', 'line', trend.series.map((p) => p.period), trend.series.map((p) => p.count), S.count);
  const top = byCat.groups.filter((g) => g.count).sort((a, b) => b.count - a.count).slice(0, 10);
  drawChart('chart-categories', 'bar', top.map((g) => g.label ?? g.code), top.map((g) => g.count), S.count);
  drawChart('chart-resolution', 'bar', byArr.groups.map((g) => String(g.code)),
    byArr.groups.map((g) => g.resolve_median_h), S.hours);
  document.getElementById('planner').dataset.total = String(trend.total);
}

let generation = 0;
async function refresh() {
  const mine = ++generation;
  const params = filterParams();
  statusLine.textContent = S.loading;
  const started = performance.now();
  try {
    const active = [...form.querySelectorAll('input[name="layer"]:checked')].map((i) => i.value);
    const jobs = [loadHexbins(params), loadCharts(params)];
    for (const level of ['arrondissement', 'quartier']) if (active.includes(level)) jobs.push(loadAreas(level, params));
    if (active.includes('hotspots')) jobs.push(loadHotspots(params));
    const [hex, , ...rest] = await Promise.all(jobs);
    if (mine !== generation) return;
    const areaLevel = ['quartier', 'arrondissement'].find((l) => active.includes(l));
    if (areaLevel && !active.includes('hexbins')) {
      renderLegend(`${S.areas} (${form.measure.value === 'count' ? S.count : S.density})`, rest[0] || []);
    } else {
      renderLegend(`${S.hexagon} ${hex.cell_m} m`, hex.breaks);
    }
    for (const [name, group] of Object.entries(layers)) {
      if (active.includes(name)) group.addTo(map); else group.remove();
    }
    statusLine.textContent = `${formatNumber(hex.total)} ${S.contributions} · ${Math.round(performance.now() - started)} ms`;
    document.getElementById('planner').dataset.query = params.toString();
  } catch (error) {
    statusLine.textContent = error.detail ?? String(error);
  }
}

async function initFilters() {
  const tree = await api(`/api/v1/categories?kind=${form.kind.value}`);
  const select = form.category;
  select.length = 1;
  for (const top of tree.categories ?? tree) {
    const group = document.createElement('optgroup');
    group.label = top.label[lang] ?? top.code;
    const all = new Option(`${top.label[lang] ?? top.code} (${S.all})`, top.code);
    group.append(all);
    for (const child of top.children) group.append(new Option(child.label[lang] ?? child.code, child.code));
    select.append(group);
  }
  const series = await api(`/api/v1/stats/timeseries?kind=${form.kind.value}&interval=month`);
  months = series.series.map((p) => p.period);
  form.slider.max = String(Math.max(0, months.length - 1));
  form.slider.value = form.slider.max;
  form.slider.disabled = form.window.value === 'all';
  updateSliderLabel();
}

function updateSliderLabel() {
  document.getElementById('slider-label').textContent = months[Number(form.slider.value)]?.slice(0, 7) ?? '';
}

form.addEventListener('change', async (event) => {
  if (event.target.name === 'kind') await initFilters();
  form.slider.disabled = form.window.value === 'all';
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
    'areas.csv': `/api/v1/stats/areas?${params}&level=arrondissement&format=csv`,
    'report.html': `/planner/report.html?${params}`,
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
  a.download = what.startsWith('report') ? 'cartagora-report.html' : what;
  document.body.append(a);
  a.click();
  a.remove();
  progress.hidden = true;
  exportStatus.textContent = `${S.done} (${formatNumber(blob.size)} B)`;
}));

await initFilters();
await refresh();
