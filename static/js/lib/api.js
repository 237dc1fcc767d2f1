// The JSON API from the pages: session cookie + CSRF header, answers in the page's language.
import { lang } from './i18n.js';

const csrfToken = document.querySelector('meta[name="csrf-token"]')?.content ?? '';

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.detail ?? `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = body?.code ?? null;
    this.detail = body?.detail ?? null;
    this.errors = body?.errors ?? [];
  }
}

/** fetch() a JSON endpoint; throws ApiError on a problem document, TypeError when offline. */
export async function api(url, { method = 'GET', json, form, signal, headers: extra = {} } = {}) {
  const headers = {
    ...extra,  // e.g. an Idempotency-Key (static/js/offline/)
    Accept: 'application/geo+json, application/json, application/problem+json',
    'Accept-Language': lang,
  };
  let body;
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form;
  }
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrfToken;
  const response = await fetch(url, { method, headers, body, signal, credentials: 'same-origin' });
  if (response.status === 204) return null;
  const type = response.headers.get('Content-Type') ?? '';
  const data = type.includes('json') ? await response.json() : null;
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export const isAbort = (error) => error?.name === 'AbortError';
