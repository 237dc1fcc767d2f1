// The page's strings (translated by the server, see app/web/i18n.py) and locale formatting.
const strings = JSON.parse(document.getElementById('i18n').textContent);

export const lang = document.documentElement.lang === 'en' ? 'en' : 'fr';

const pluralRules = new Intl.PluralRules(lang);
const numberFormat = new Intl.NumberFormat(lang);
const compactFormat = new Intl.NumberFormat(lang, { notation: 'compact', maximumFractionDigits: 1 });
const compactWhole = new Intl.NumberFormat(lang, { notation: 'compact', maximumFractionDigits: 0 });
const dateFormat = new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeZone: 'Europe/Paris' });
const dateTimeFormat = new Intl.DateTimeFormat(lang, {
  dateStyle: 'medium', timeStyle: 'short', timeZone: 'Europe/Paris',
});

export const formatNumber = (n) => numberFormat.format(n);
export const formatCompact = (n) => (n < 10000 ? compactFormat : compactWhole).format(n);
export const formatDate = (iso) => dateFormat.format(new Date(iso));
export const formatDateTime = (iso) => dateTimeFormat.format(new Date(iso));

/** The string `key` with its `{name}` placeholders filled from `params`. */
export function t(key, params = {}) {
  const template = strings[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

/** A counted string: `base_zero` (if defined) for 0, else `base_one` / `base_other` per locale. */
export function tn(base, n, params = {}) {
  let form = pluralRules.select(n);
  if (n === 0 && strings[`${base}_zero`] !== undefined) form = 'zero';
  const key = strings[`${base}_${form}`] !== undefined ? `${base}_${form}` : `${base}_other`;
  return t(key, { n: formatNumber(n), ...params });
}
