// The map page's state lives in the URL: view (lat, lon, z) and filters. Shareable, and the
// back button walks through filter changes and jumps (map moves only replace the entry).
export const FILTERS = ['kind', 'category', 'status', 'arrondissement', 'since', 'until'];

export function readState(search) {
  const params = new URLSearchParams(search);
  const num = (name) => {
    const value = Number.parseFloat(params.get(name));
    return Number.isFinite(value) ? value : null;
  };
  const filters = {};
  for (const name of FILTERS) filters[name] = params.get(name) ?? '';
  return { lat: num('lat'), lon: num('lon'), z: num('z'), filters };
}

export function writeSearch({ lat, lon, z, filters }) {
  const params = new URLSearchParams();
  if (lat !== null && lon !== null) {
    params.set('lat', lat.toFixed(5));
    params.set('lon', lon.toFixed(5));
    params.set('z', String(z));
  }
  for (const name of FILTERS) if (filters[name]) params.set(name, filters[name]);
  return `?${params.toString()}`;
}

// The page's own status words: none in the URL is the default view, `current` for the API
// (open, and closed lately); `all` is everything, no status filter for the API.
export const DEFAULT_STATUS = 'current';
export const ALL_STATUSES = 'all';

/** The filters as API query parameters (empty ones left out). */
export function filterParams(filters) {
  const params = new URLSearchParams();
  for (const name of FILTERS) if (filters[name]) params.set(name, filters[name]);
  if (!filters.status) params.set('status', DEFAULT_STATUS);
  else if (filters.status === ALL_STATUSES) params.delete('status');
  return params;
}
