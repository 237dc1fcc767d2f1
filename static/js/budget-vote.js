// The ballot page (app/templates/budget/vote.html), a progressive enhancement: the page votes
// without it. A refused ballot's error summary takes the focus; a knapsack ballot says, as the
// resident ticks projects, what they add up to against the envelope (a polite live region),
// in the page's own sentence: the script only changes the amount and shows the warning.

const summary = document.getElementById('error-summary');
if (summary) {
  // after the load: the browser's own scroll to the form's #section would take focus back
  const focus = () => summary.focus();
  if (document.readyState === 'complete') focus();
  else window.addEventListener('load', focus, { once: true });
}

const lang = document.documentElement.lang || 'fr';
const whole = new Intl.NumberFormat(lang, { maximumFractionDigits: 0 });

for (const total of document.querySelectorAll('.running-total')) {
  const form = total.closest('form');
  const amount = Number(total.dataset.amountCents);
  const value = total.querySelector('.total-value');
  const over = total.querySelector('[data-over]');
  if (!form || !value || !over) continue;
  const update = () => {
    let cents = 0;
    for (const box of form.querySelectorAll('input[type="checkbox"][name="project"]:checked')) {
      cents += Number(box.dataset.costCents) || 0;
    }
    value.textContent = `${whole.format(Math.round(cents / 100))}\u00a0€`;
    over.hidden = cents <= amount;
    form.classList.toggle('is-over', cents > amount);
  };
  form.addEventListener('change', (event) => {
    if (event.target.matches('input[type="checkbox"][name="project"]')) update();
  });
}
