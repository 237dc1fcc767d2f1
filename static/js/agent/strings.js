// The agent pages' own strings, translated by the server in the page (#agent-strings).
import { readJSON } from '../lib/dom.js';

const strings = readJSON('agent-strings');

/** The string `key` with its `{name}` placeholders filled from `params`. */
export function s(key, params = {}) {
  const template = strings[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}
