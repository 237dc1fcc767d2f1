// Links and forms that come back to "this page" (language switch, sign in, sign out) learn the
// page's current URL when used: the map keeps its view and filters in the URL as it changes.
function here() {
  return location.pathname + location.search;
}

document.addEventListener('click', (event) => {
  const link = event.target.closest?.('a[data-next]');
  if (!link) return;
  const url = new URL(link.href, location.href);
  url.searchParams.set('next', here());
  link.href = url.pathname + url.search;
});

document.addEventListener('submit', (event) => {
  const field = event.target.querySelector?.('input[name="next"][data-next]');
  if (field) field.value = here();
});
