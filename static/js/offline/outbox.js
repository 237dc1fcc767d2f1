// Keeping and sending what was made offline. A record is sent with its own Idempotency-Key,
// every time: if an earlier try reached the server but its answer was lost, the server answers
// the first result again and creates nothing (app/api/idempotency.py). A record leaves the
// device only when the server has it; one the server refuses (a 4xx problem) stays, with the
// problem, until the person fixes or deletes it.
import { api, ApiError } from '../lib/api.js';
import { add, currentUser, get, isNetworkFailure, mine, newKey, put, remove } from './store.js';

export const CHANGED = 'cartagora:outbox';

/** Tell the page (static/js/offline/ui.js) what happened: {type, store, record, result?}. */
function notify(detail) {
  window.dispatchEvent(new CustomEvent(CHANGED, { detail }));
}

/** Keep a report or proposal prepared offline: `kind`, the GeoJSON `feature`, its photos
 * (Files) and the Idempotency-Key of the try that failed (a new one if none). */
export async function keepDraft({ kind, feature, photos, key = null }) {
  const record = {
    user: currentUser(), kind, feature, key: key ?? newKey(), state: 'waiting', error: null,
    photos: photos.map((file) => ({ name: file.name, type: file.type, blob: file })),
  };
  record.id = await add('drafts', record);
  notify({ type: 'kept', store: 'drafts', record });
  return record;
}

/** Keep an agent's status change made offline: the report, the change as the API takes it
 * (`data`), an optional photo, and the label of the new status for the pending notice. */
export async function keepTransition({ report, data, photo = null, label, key = null }) {
  const record = {
    user: currentUser(), report, data, label, key: key ?? newKey(), state: 'waiting', error: null,
    photo: photo ? { name: photo.name, type: photo.type, blob: photo } : null,
  };
  record.id = await add('transitions', record);
  notify({ type: 'kept', store: 'transitions', record });
  return record;
}

function draftRequest(draft) {
  const body = new FormData();
  body.append('feature', JSON.stringify(draft.feature));
  for (const photo of draft.photos) body.append('photos', photo.blob, photo.name);
  return [`/api/v1/${draft.kind}s`, { form: body }];
}

function transitionRequest(change) {
  const url = `/api/v1/reports/${change.report}/transitions`;
  if (!change.photo) return [url, { json: change.data }];
  const body = new FormData();
  body.append('transition', JSON.stringify(change.data));
  body.append('photo', change.photo.blob, change.photo.name);
  return [url, { form: body }];
}

const REQUESTS = { drafts: draftRequest, transitions: transitionRequest };

/** Worth trying again later by itself: no answer, signed out, busy or a server error. */
const retryable = (status) => status === 401 || status === 408 || status === 429 || status >= 500;

class Offline extends Error {}

/** Send one record; false when the network is still gone (stop there). */
async function send(store, record) {
  const [url, options] = REQUESTS[store](record);
  let result;
  try {
    result = await api(url, { method: 'POST', ...options, headers: { 'Idempotency-Key': record.key } });
  } catch (error) {
    if (isNetworkFailure(error)) throw new Offline();
    if (!(error instanceof ApiError)) throw error;
    const current = await get(store, record.id);
    if (!current) return;  // deleted meanwhile
    const problem = { status: error.status, code: error.code, detail: error.detail, errors: error.errors };
    const updated = { ...current, state: retryable(error.status) ? 'waiting' : 'refused', error: problem };
    await put(store, updated);
    notify({ type: updated.state, store, record: updated });
    if (error.status === 401) throw new Offline();  // signed out: nothing else will pass
    return;
  }
  await remove(store, record.id);
  notify({ type: 'sent', store, record, result });
}

async function sendAll(user) {
  try {
    for (const store of ['drafts', 'transitions']) {
      for (const record of await mine(store, user)) {
        if (record.state === 'waiting') await send(store, record);
      }
    }
  } catch (error) {
    if (!(error instanceof Offline)) throw error;
  }
}

/** Send this account's waiting records, one sender at a time across the browser's tabs (the
 * key makes a second sender harmless anyway). */
export async function sendPending(user = currentUser()) {
  if (!user || !('indexedDB' in window)) return;
  if (navigator.locks) await navigator.locks.request('cartagora-outbox', () => sendAll(user));
  else await sendAll(user);
}

/** A refused record, fixed (`changes` merged in, e.g. a new title) or as it is: try again. */
export async function retry(store, id, changes = {}) {
  const record = await get(store, id);
  if (!record) return;
  await put(store, { ...record, ...changes, state: 'waiting', error: null });
  notify({ type: 'retry', store, record });
  await sendPending(record.user);
}

export async function discard(store, id) {
  await remove(store, id);
  notify({ type: 'deleted', store, record: { id } });
}
