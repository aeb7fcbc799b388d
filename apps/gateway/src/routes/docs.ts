import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../http/env.ts";

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
  let document: unknown;
  app.get("/openapi.json", (c) => {
    // Built on first request, once every route is registered; the routes never change after.
    document ??= withOperationIds(
      app.getOpenAPI31Document({
        openapi: "3.1.0",
        info: {
          title: "Unifold",
          version: "1",
          description: "Self-hosted unified user-directory gateway: one REST API over every integration in its mappings folder.",
        },
        // Relative: the document describes whichever gateway serves it.
        servers: [{ url: "/", description: "This gateway" }],
        security: [{ apiKey: [] }],
      }),
    );
    return c.json(document);
  });
  app.get("/docs", (c) => c.html(page));
  app.get("/docs/scalar.js", (c) =>
    c.body(scalar(), 200, { "content-type": "text/javascript; charset=utf-8", "cache-control": "public, max-age=86400" }),
  );
}

// Operations named for the SDK and for readers: `listUsers`, `getHrisEmployee`, `verifyConnection`.
const named: Record<string, string> = {
  "get /health": "getHealth",
  "get /metrics": "getMetrics",
  "get /unified/user-directory/me": "getMe",
  "post /unified/user-directory/groups/{id}/members": "addGroupMember",
  "delete /unified/user-directory/groups/{id}/members/{user_id}": "removeGroupMember",
  "get /proxy/{resource}": "listProxyRecords",
  "get /proxy/{resource}/{id}": "getProxyRecord",
};
const actions = new Set(["verify", "rotate", "batch"]);
const verbs: Record<string, string> = { post: "create", patch: "update", put: "replace", delete: "delete" };
const pascal = (word: string) => word.replace(/(^|-)(\w)/g, (_, __, c: string) => c.toUpperCase());
// "hris" is a prefix, not a plural.
const singular = (word: string) => (word === "hris" ? word : word.replace(/ies$/, "y").replace(/s$/, ""));

/** A readable operationId for every operation that has none, from its method and path. */
export function operationIdOf(method: string, path: string): string {
  const explicit = named[`${method} ${path}`];
  if (explicit) return explicit;
  const segments = path
    .replace(/^\/unified(\/user-directory)?/, "")
    .split("/")
    .filter(Boolean);
  const words = segments.filter((s) => !s.startsWith("{"));
  const last = words.at(-1) ?? "";
  const byId = segments.at(-1)?.startsWith("{") ?? false;
  if (path.startsWith("/passthrough")) return `${method}Passthrough`;
  if (path.startsWith("/proxy")) return `${method}ProxyRecord`;
  const ofOne = segments.some((s) => s.startsWith("{"));
  if (actions.has(last))
    return `${last}${words
      .slice(0, -1)
      .map((w) => pascal(ofOne ? singular(w) : w))
      .join("")}`;
  const verb = method === "get" ? (byId ? "get" : "list") : (verbs[method] ?? method);
  const nouns = words.map((w, i) => (i < words.length - 1 || verb !== "list" ? singular(w) : w));
  return `${verb}${nouns.map(pascal).join("")}`;
}

function withOperationIds<T>(document: T): T {
  const paths = (document as { paths: Record<string, Record<string, { operationId?: string }>> }).paths;
  for (const [path, operations] of Object.entries(paths)) {
    for (const [method, operation] of Object.entries(operations)) operation.operationId ??= operationIdOf(method, path);
  }
  return document;
}
