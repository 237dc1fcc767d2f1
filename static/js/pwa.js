// Every page: register the service worker (static/js/sw.js), keep the per-account page cache
// to one account, and start the offline outbox (reports and status changes made offline).
import { PAGES_CACHE, currentUser } from './offline/store.js';
import { startOutbox } from './offline/ui.js';

const script = document.querySelector('script[data-pwa-version]');
const user = currentUser();
const LAST_USER = 'cartagora.user';

/** Pages kept for one account are never shown to another: forget them when it changes. */
async function oneAccount() {
  let last = null;
  try {
    last = localStorage.getItem(LAST_USER);
    localStorage.setItem(LAST_USER, user ?? '');
  } catch { /* storage refused: nothing is compared, the sign-out still clears */ }
  if (last && last !== (user ?? '') && 'caches' in window) await caches.delete(PAGES_CACHE);
}

/** Signing out (either form) forgets the account's kept pages before leaving. */
document.addEventListener('submit', (event) => {
  const action = event.target.getAttribute?.('action') ?? '';
  if (!/\/logout$/.test(action)) return;
  navigator.serviceWorker?.controller?.postMessage({ type: 'sign-out' });
  if ('caches' in window) caches.delete(PAGES_CACHE);
  try { localStorage.setItem(LAST_USER, ''); } catch { /* see oneAccount */ }
});

async function register() {
  if (!('serviceWorker' in navigator) || !script) return;
  await oneAccount();
  // the offline page speaks the language of the last page seen
  caches.open('cartagora-meta').then((cache) => cache.put('/__lang', new Response(document.documentElement.lang)));
  try {
    await navigator.serviceWorker.register(`/sw.js?v=${encodeURIComponent(script.dataset.pwaVersion)}`, { scope: '/' });
  } catch {
    // no worker (a private window, an old browser): the site works online as before
  }
}

register();
startOutbox(user);
