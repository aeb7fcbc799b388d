import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../services.ts";

// The reference page's script ships with the gateway, so /docs works with no internet. The
// package does not export its browser bundle, so it is found beside the package's entry point.
const entry = createRequire(import.meta.url).resolve("@scalar/api-reference");
const packageRoot = entry.slice(0, entry.lastIndexOf("/@scalar/api-reference/") + "/@scalar/api-reference/".length);
// Read on first request and kept as bytes: as a string it is 8.6 MB of an idle gateway's heap.
let scalarScript: Uint8Array<ArrayBuffer> | undefined;
const scalar = () => (scalarScript ??= new Uint8Array(readFileSync(join(packageRoot, "dist/browser/standalone.js"))));

const page = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Unifold API reference</title>
  </head>
  <body>
    <div id="app"></div>
    <script src="/docs/scalar.js"></script>
    <script>
      // No web fonts, hosted proxy, AI agent, MCP generator or deploy toolbar: nothing leaves this gateway.
      Scalar.createApiReference("#app", {
        url: "/openapi.json",
        withDefaultFonts: false,
        hideClientButton: true,
        showDeveloperTools: "never",
        agent: { disabled: true },
        mcp: { disabled: true },
      });
    </script>
  </body>
</html>
`;

/** `GET /openapi.json` (OpenAPI 3.1 from the same zod schemas that validate requests) and `GET /docs`. */
export function registerDocs(app: OpenAPIHono<AppEnv>) {
  app.openAPIRegistry.registerComponent("securitySchemes", "apiKey", {
    type: "http",
    scheme: "bearer",
    description: "An API key: `ufk_` followed by 43 base64url characters.",
  });
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "Unifold",
      version: "1",
      description: "Self-hosted unified user-directory gateway: one REST API over Jostle, Postman and JumpCloud.",
    },
    security: [{ apiKey: [] }],
  });
  app.get("/docs", (c) => c.html(page));
  app.get("/docs/scalar.js", (c) =>
    c.body(scalar(), 200, { "content-type": "text/javascript; charset=utf-8", "cache-control": "public, max-age=86400" }),
  );
}
