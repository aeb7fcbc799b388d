import type { HttpBindings } from "@hono/node-server";
import type { Context, MiddlewareHandler } from "hono";
import { Failure } from "../domain/failure.ts";
import type { AppEnv } from "../http/env.ts";

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
export function rawPassthroughPath(c: Context): string | undefined {
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
      throw new Failure("invalid_request", `passthrough path refused: ${problem}`, { details: [{ path: "path", message: problem }] });
  }
  await next();
};
