// The offline page (app/templates/offline.html): try the page again, by hand or as soon as the
// network returns. It is shown at the address of the page that could not load.
const reload = () => location.reload();
document.querySelector('[data-reload]')?.addEventListener('click', reload);
window.addEventListener('online', reload);
