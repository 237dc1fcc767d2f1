// The filter form: kind, category, status, arrondissement, date range. Options of the other
// kind are disabled when a kind is chosen; every change is applied at once.
import { FILTERS } from './state.js';

export class FilterForm {
  constructor(form, onChange) {
    this.form = form;
    this.onChange = onChange;
    form.addEventListener('change', () => this.changed());
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.changed();
    });
    form.addEventListener('reset', () => setTimeout(() => this.changed(), 0));
  }

  values() {
    const data = new FormData(this.form);
    const values = {};
    for (const name of FILTERS) values[name] = (data.get(name) ?? '').toString();
    return values;
  }

  set(values) {
    for (const name of FILTERS) {
      const value = values[name] ?? '';
      const field = this.form.elements[name];
      if (field instanceof RadioNodeList) {
        for (const radio of field) radio.checked = radio.value === value;
      } else if (field) {
        field.value = value;
        if (field.tagName === 'SELECT' && field.value !== value) field.value = '';
      }
    }
    this.syncKind();
  }

  syncKind() {
    const kind = this.form.elements.kind.value;
    for (const group of this.form.querySelectorAll('optgroup[data-kind]')) {
      const off = Boolean(kind) && group.dataset.kind !== kind;
      group.disabled = off;
      group.hidden = off;
      const select = group.closest('select');
      if (off && select.selectedOptions[0]?.parentElement === group) select.value = '';
    }
  }

  changed() {
    this.syncKind();
    this.onChange(this.values());
  }
}
