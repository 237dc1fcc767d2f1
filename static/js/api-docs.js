// /api/v1/docs: Swagger UI on the generated OpenAPI document (served from static/vendor).
/* global SwaggerUIBundle */
const root = document.getElementById("swagger-ui");
SwaggerUIBundle({
  url: root.dataset.spec,
  domNode: root,
  deepLinking: false,  // true nests a link in each operation's button (axe: nested-interactive)
  tryItOutEnabled: false,
  syntaxHighlight: false,  // its themes colour some tokens below 4.5:1 (axe color-contrast)
  // the CSRF header for cookie sessions: taken from the page, as the map's scripts do
  requestInterceptor: (req) => {
    const token = document.querySelector('meta[name="csrf-token"]');
    if (token && req.method !== "GET") req.headers["X-CSRF-Token"] = token.content;
    return req;
  },
});

// Swagger UI leaves its parameter fields without a name (axe: select-name, label): each one
// takes its parameter's, whenever an operation is opened.
function nameFields(scope) {
  for (const row of scope.querySelectorAll('tr[data-param-name]')) {
    const name = `${row.dataset.paramName} (${row.dataset.paramIn})`;
    for (const field of row.querySelectorAll('select, input, textarea')) {
      if (!field.getAttribute('aria-label') && !field.labels?.length) field.setAttribute('aria-label', name);
    }
  }
}
new MutationObserver(() => nameFields(root)).observe(root, { childList: true, subtree: true });
