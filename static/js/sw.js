// Cartagora's service worker. Served at /sw.js by app/web/pwa.py, which puts VERSION (a hash
// of the files below) and SHELL (their URLs, and the offline page in both languages) first.
//
// - The app shell (CSS, modules, Leaflet, icons, the offline page) is kept in a cache named
//   after VERSION: a deploy installs a new worker, which drops the old cache.
// - Pages: network first. The map and the agent's queue and report pages are also kept, per
//   account (they show who is signed in, and an agent's reports), and shown from the cache
//   when the network is gone, marked as a saved copy; any other page offline is the offline
//   page. That cache is emptied on sign-out and when another account uses the browser
//   (static/js/pwa.js).
// - The API: never cached, except the category tree the contribution form needs. Writes go
//   to the network untouched; those made offline wait in IndexedDB (static/js/offline/).
/* global VERSION, SHELL */

const SHELL_CACHE = `cartagora-shell-${VERSION}`;
const PAGES_CACHE = 'cartagora-pages';  // per account: see clearPrivate()
const DATA_CACHE = 'cartagora-data';  // public API reads
const META_CACHE = 'cartagora-meta';  // the last page language (written by pwa.js)
const KEPT = new Set([SHELL_CACHE, PAGES_CACHE, DATA_CACHE, META_CACHE]);
const OFFLINE = '/hors-ligne';
const SAVED_AT = 'X-Cartagora-Saved-At';

/** The pages kept for offline use: the map, the agent's queue and an agent's report page. */
const KEPT_PAGES = [/^\/$/, /^\/agent$/, /^\/agent\/reports\/\d+$/];
const KEPT_DATA = [/^\/api\/v1\/categories$/];

self.addEventListener('install', (event) => {
  // signed-out copies: the shell is the same for everyone
  event.waitUntil(caches.open(SHELL_CACHE)
    .then((cache) => cache.addAll(SHELL.map((url) => new Request(url, { credentials: 'omit' }))))
    .then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(caches.keys()
    .then((names) => Promise.all(names.filter((name) => name.startsWith('cartagora-') && !KEPT.has(name))
      .map((name) => caches.delete(name))))
    .then(() => self.clients.claim()));
});

self.addEventListener('message', (event) => {
  if (event.data?.type === 'sign-out') event.waitUntil(clearPrivate());
});

function clearPrivate() {
  return caches.delete(PAGES_CACHE);
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.method !== 'GET') {
    if (request.mode === 'navigate' && url.pathname === '/logout') event.waitUntil(clearPrivate());
    return;  // writes always go to the network, never to a cache
  }
  if (url.pathname.startsWith('/static/')) {
    event.respondWith(fromShell(request));
  } else if (request.mode === 'navigate') {
    event.respondWith(page(request, url));
  } else if (KEPT_DATA.some((re) => re.test(url.pathname))) {
    event.respondWith(networkFirst(request, DATA_CACHE));
  }
});

async function fromShell(request) {
  const cached = await caches.match(request, { cacheName: SHELL_CACHE, ignoreSearch: true });
  return cached ?? fetch(request);
}

async function networkFirst(request, cacheName) {
  try {
    const response = await fetch(request);
    if (response.ok && response.type === 'basic') {
      const copy = response.clone();
      caches.open(cacheName).then((cache) => cache.put(request, copy));
    }
    return response;
  } catch (error) {
    const cached = await caches.match(request, { cacheName });
    if (cached) return cached;
    throw error;
  }
}

async function page(request, url) {
  const keep = KEPT_PAGES.some((re) => re.test(url.pathname));
  let response;
  try {
    response = await fetch(request);
  } catch {
    const cached = keep ? await caches.match(pageKey(url), { cacheName: PAGES_CACHE }) : null;
    return cached ? savedCopy(cached) : offlinePage();
  }
  // only a page as such (not a redirect to the sign-in page, nor an error)
  if (keep && response.ok && response.type === 'basic' && !response.redirected) {
    await keepPage(pageKey(url), response.clone());
  }
  return response;
}

/** The map's page is the same whatever its query (the view and filters, read by its script). */
const pageKey = (url) => (url.pathname === '/' ? `${url.origin}/` : url.href);

/** Keep a page with the time it was fetched (the banner says how old the copy is). */
async function keepPage(key, response) {
  const headers = new Headers(response.headers);
  headers.set(SAVED_AT, new Date().toISOString());
  const copy = new Response(await response.blob(), { status: response.status, headers });
  const cache = await caches.open(PAGES_CACHE);
  await cache.put(key, copy);
}

/** A kept page, marked for static/js/offline/ui.js, which shows "offline — saved copy". */
async function savedCopy(cached) {
  const at = cached.headers.get(SAVED_AT) ?? '';
  const html = (await cached.text())
    .replace('<head>', `<head>\n  <meta name="cartagora-saved-copy" content="${at.replace(/[^0-9TZ:.-]/g, '')}">`);
  const headers = new Headers(cached.headers);
  headers.delete('Content-Length');
  return new Response(html, { status: 200, headers });
}

async function offlinePage() {
  const meta = await caches.open(META_CACHE);
  const lang = (await (await meta.match('/__lang'))?.text()) === 'en' ? 'en' : 'fr';
  return (await caches.match(`${OFFLINE}?lang=${lang}`, { cacheName: SHELL_CACHE }))
    ?? new Response('Offline / Hors ligne', { status: 503, headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
}
