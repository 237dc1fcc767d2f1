// Choosing a category with a thumb: a search box over the whole tree (an ARIA combobox, as
// the APG's "list autocomplete"), which offers the most used first. A sub-category matches
// by its own words and its parent's ("graffiti mur"), accents and case aside. The two
// selects below it stay the form's fields (and the way through the tree by hand): a choice
// here sets them.
import { h } from './lib/dom.js';
import { lang, t, tn } from './lib/i18n.js';

const MOST_USED = 8; // offered before anything is typed
const SHOWN = 30; // at most this many matches listed (the count says how many in all)

/** Lower case, accent-free, punctuation as spaces: what both sides are compared in. */
export function fold(text) {
  return text.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase()
    .replace(/[^0-9a-z]+/g, ' ').trim();
}

const local = (text) => text[lang] ?? text.fr;

export class CategoryPicker {
  constructor(root, { onPick }) {
    this.root = root;
    this.input = root.querySelector('[role="combobox"]');
    this.listbox = root.querySelector('[role="listbox"]');
    this.caption = root.querySelector('.category-options-caption');
    this.status = root.querySelector('[role="status"]');
    this.onPick = onPick;
    this.entries = [];
    this.shown = [];
    this.active = -1;
    this.input.addEventListener('input', () => this.filter());
    this.input.addEventListener('focus', () => {
      // on a phone the box and its list get the panel's height, clear of the "Publish" bar
      this.root.scrollIntoView({ block: 'start' });
      this.filter();
    });
    this.input.addEventListener('keydown', (event) => this.keydown(event));
    this.input.addEventListener('blur', () => setTimeout(() => this.close(), 150));
  }

  /** The categories offered (a tree already filtered for this person), flattened. The most
   * used are sub-categories (and categories without any): a category counts all of its
   * sub-categories' contributions, and would always come first. */
  setTree(nodes, staff) {
    this.entries = [];
    for (const top of nodes) {
      const parent = local(top.short_label);
      this.entries.push({ ...this.entry(top, top.code, '', '', staff), leaf: !top.children.length });
      for (const child of top.children) {
        this.entries.push({ ...this.entry(child, top.code, child.code, parent, staff), leaf: true });
      }
    }
    this.entries.sort((a, b) => b.count - a.count || a.label.localeCompare(b.label));
    // what was typed while the tree loaded (a slow network) is searched now, not lost
    if (this.input.value.trim()) this.filter();
    else this.close();
  }

  entry(node, top, sub, parent, staff) {
    const label = local(node.short_label);
    const description = local(node.description);
    return {
      top,
      sub,
      label,
      parent,
      // the full label when the short one left part of it out
      description: description !== label ? description : '',
      count: node.recent_count,
      agentOnly: staff && node.agent_only,
      words: fold(`${label} ${description} ${parent}`),
    };
  }

  matches(query) {
    const words = fold(query).split(' ').filter(Boolean);
    if (!words.length) return this.entries.filter((e) => e.leaf).slice(0, MOST_USED);
    const found = this.entries.filter((e) => words.every((w) => e.words.includes(w)));
    // the ones whose own short label holds the words first, each group the most used first
    const own = (e) => words.every((w) => fold(e.label).includes(w));
    return [...found.filter(own), ...found.filter((e) => !own(e))];
  }

  filter() {
    const query = this.input.value.trim();
    const found = this.matches(query);
    this.shown = found.slice(0, SHOWN);
    this.active = -1;
    this.input.removeAttribute('aria-activedescendant');
    this.listbox.replaceChildren(...this.shown.map((e, i) => this.option(e, i)));
    // the caption names the list; the status (read once) also says how to move in it
    this.caption.textContent = query ? tn('picker.results', found.length) : t('picker.most_used');
    this.caption.hidden = false;
    this.listbox.hidden = this.shown.length === 0;
    this.input.setAttribute('aria-expanded', String(this.shown.length > 0));
    this.status.textContent = query
      ? (found.length ? tn('picker.results', found.length) : t('picker.none'))
      : tn('picker.most_used_n', this.shown.length);
  }

  option(e, i) {
    return h('li', {
      id: `category-option-${i}`,
      role: 'option',
      class: 'category-option',
      'aria-selected': 'false',
      onmousedown: (event) => event.preventDefault(),
      onclick: () => this.pick(i),
    },
    h('span', { class: 'category-option-label', text: e.label }),
    e.agentOnly ? h('span', { class: 'category-option-tag', text: t('picker.staff_only') }) : null,
    e.parent ? h('span', { class: 'category-option-parent', text: t('picker.in', { parent: e.parent }) }) : null,
    e.description ? h('span', { class: 'category-option-description', text: e.description }) : null);
  }

  keydown(event) {
    if (event.key === 'Escape') {
      if (!this.listbox.hidden) event.preventDefault();
      this.close();
      return;
    }
    if (event.key === 'Enter') {
      // never submit the contribution from here
      event.preventDefault();
      if (!this.listbox.hidden && this.shown.length) this.pick(Math.max(this.active, 0));
      return;
    }
    if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') return;
    event.preventDefault();
    if (this.listbox.hidden) this.filter();
    if (!this.shown.length) return;
    const step = event.key === 'ArrowDown' ? 1 : -1;
    this.active = (this.active + step + this.shown.length) % this.shown.length;
    for (const [i, option] of Array.from(this.listbox.children).entries()) {
      option.setAttribute('aria-selected', String(i === this.active));
      option.classList.toggle('active', i === this.active);
    }
    this.listbox.children[this.active].scrollIntoView({ block: 'nearest' });
    this.input.setAttribute('aria-activedescendant', `category-option-${this.active}`);
  }

  pick(index) {
    const e = this.shown[index];
    if (!e) return;
    this.input.value = e.parent ? `${e.label} (${e.parent})` : e.label;
    this.close();
    this.status.textContent = t('picker.chosen', { label: this.input.value });
    this.onPick({ top: e.top, sub: e.sub });
  }

  close() {
    this.listbox.hidden = true;
    this.caption.hidden = true;
    this.input.setAttribute('aria-expanded', 'false');
    this.input.removeAttribute('aria-activedescendant');
  }
}
