// /api/v1/docs: Swagger UI on the generated OpenAPI document (served from static/vendor).
/* global SwaggerUIBundle */
const root = document.getElementById("swagger-ui");
SwaggerUIBundle({
  url: root.dataset.spec,
  domNode: root,
  deepLinking: true,
  tryItOutEnabled: false,
  // the CSRF header for cookie sessions: taken from the page, as the map's scripts do
  requestInterceptor: (req) => {
    const token = document.querySelector('meta[name="csrf-token"]');
    if (token && req.method !== "GET") req.headers["X-CSRF-Token"] = token.content;
    return req;
  },
});
