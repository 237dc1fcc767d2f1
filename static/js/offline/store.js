// What waits on this device to be sent: reports and proposals prepared offline ("drafts", with
// their photos as Blobs) and agents' status changes ("transitions"), in IndexedDB. Each record
// belongs to the account that made it and carries the Idempotency-Key it is always sent with,
// so that sending it twice (a lost answer, two tabs) still makes one report or one change.
import { ApiError } from '../lib/api.js';

export const PAGES_CACHE = 'cartagora-pages';  // static/js/sw.js keeps per-account pages there

const DB_NAME = 'cartagora-offline';
const STORES = ['drafts', 'transitions'];

/** The signed-in account's id as the page says it (base.html), or null when signed out. */
export function currentUser() {
  const value = document.querySelector('script[data-pwa-version]')?.dataset.user;
  return value ? value : null;
}

/** A new Idempotency-Key: random, also where crypto.randomUUID is missing (plain HTTP). */
export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** fetch() failed before any answer: offline, or the connection dropped. */
export function isNetworkFailure(error) {
  return error instanceof TypeError || (navigator.onLine === false && !(error instanceof ApiError));
}

let opened = null;

function open() {
  opened ??= new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => {
      for (const name of STORES) {
        if (!request.result.objectStoreNames.contains(name)) {
          request.result.createObjectStore(name, { keyPath: 'id', autoIncrement: true });
        }
      }
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  return opened;
}

async function run(store, mode, work) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(store, mode);
    const request = work(tx.objectStore(store));
    tx.oncomplete = () => resolve(request?.result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

/** Add a record (`store`: 'drafts' or 'transitions'); resolves to its id. */
export const add = (store, record) => run(store, 'readwrite', (s) => s.add({ ...record, createdAt: new Date().toISOString() }));
export const put = (store, record) => run(store, 'readwrite', (s) => s.put(record));
export const get = (store, id) => run(store, 'readonly', (s) => s.get(id));
export const remove = (store, id) => run(store, 'readwrite', (s) => s.delete(id));

/** This account's records of `store`, oldest first. */
export async function mine(store, user) {
  const all = await run(store, 'readonly', (s) => s.getAll());
  return (all ?? []).filter((record) => record.user === user);
}
