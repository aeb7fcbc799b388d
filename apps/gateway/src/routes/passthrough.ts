import type { HttpBindings } from "@hono/node-server";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { baseUrlOf, joinUrl } from "@unifold/engine";
import type { Context, MiddlewareHandler } from "hono";
import { z } from "@hono/zod-openapi";
import { ApiError } from "../errors.ts";
import { requireScope } from "../middleware/auth.ts";
import { noIdempotencyKey } from "../middleware/idempotency.ts";
import { commonErrors, upstreamErrors } from "../schemas.ts";
import type { AppEnv } from "../services.ts";
import { reachableConnection } from "../upstream-call.ts";
import { forward, forwardedQuery } from "./forward.ts";

const PREFIX = "/passthrough/";

/**
 * Why a passthrough path could leave the connection's base URL, or undefined when it cannot.
 * Checked on the raw request path, before any URL parser resolves `..` or decodes `%2f`.
 */
export function hostilePath(raw: string): string | undefined {
  if (raw.startsWith("/")) return "the path may not start with / (protocol-relative)";
  if (/%(2f|5c)/i.test(raw) || raw.includes("\\")) return "encoded slashes and backslashes are not allowed";
  if (/^[a-z][a-z0-9+.-]*:/i.test(raw)) return "absolute URLs are not allowed";
  if (raw.includes("@")) return "@ is not allowed in the path";
  for (const segment of raw.split("/")) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      return "the path has invalid percent-encoding";
    }
    if (decoded === "." || decoded === "..") return "dot segments are not allowed";
  }
  return undefined;
}

/** The path after `/passthrough/` exactly as the caller sent it (no query), or undefined for other routes. */
function rawPassthroughPath(c: Context): string | undefined {
  const rawUrl = (c.env as HttpBindings | undefined)?.incoming?.url ?? new URL(c.req.url).pathname;
  // An absolute-form target (`GET http://host/passthrough/…`) is judged by its path, as the router will be.
  const rawPath = (rawUrl.split("?")[0] ?? "").replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, "");
  return rawPath.toLowerCase().startsWith(PREFIX) ? rawPath.slice(PREFIX.length) : undefined;
}

/** Runs before routing: URL parsing would already have resolved `/passthrough/../x` to `/x`. */
export const passthroughGuard: MiddlewareHandler<AppEnv & { Bindings: HttpBindings }> = async (c, next) => {
  const rawPath = rawPassthroughPath(c);
  if (rawPath !== undefined) {
    const problem = hostilePath(rawPath);
    if (problem)
      throw new ApiError("invalid_request", `passthrough path refused: ${problem}`, { details: [{ path: "path", message: problem }] });
  }
  await next();
};

export function registerPassthrough(app: OpenAPIHono<AppEnv>) {
  for (const method of ["get", "post", "put", "patch", "delete"] as const) {
    app.openAPIRegistry.registerPath({
      method,
      path: "/passthrough/{path}",
      tags: ["Passthrough"],
      summary: `${method.toUpperCase()} <base_url>/<path> with the connection's auth injected`,
      request: {
        params: z.object({
          path: z
            .string()
            .openapi({ param: { name: "path", in: "path" }, description: "Under the connection's base URL; may hold slashes" }),
        }),
        query: z.object({ connection_id: z.string() }).passthrough(),
      },
      responses: {
        200: { description: "The upstream's answer: status, body and content headers as they are" },
        ...commonErrors,
        ...upstreamErrors,
      },
    });
  }
  app.on(["GET", "POST", "PUT", "PATCH", "DELETE"], "/passthrough/*", requireScope("api"), noIdempotencyKey, async (c) => {
    const parsed = z.object({ connection_id: z.string().min(1).max(100) }).safeParse({ connection_id: c.req.query("connection_id") });
    if (!parsed.success) throw ApiError.fromZod(parsed.error, "query");
    const reachable = await reachableConnection(c, parsed.data.connection_id);
    const { connection, integration } = reachable;
    const path = rawPassthroughPath(c) ?? "";
    // Belt and braces: the joined URL must still sit under the connection's base URL.
    const base = new URL(baseUrlOf({ integration, config: connection.config }));
    const target = joinUrl(base.toString(), path);
    const basePath = base.pathname.replace(/\/+$/, "");
    if (target.origin !== base.origin || !(target.pathname === basePath || target.pathname.startsWith(`${basePath}/`))) {
      throw new ApiError("invalid_request", "passthrough path refused: it leaves the connection's base URL");
    }
    return forward(c, reachable, path, forwardedQuery(c));
  });
}
