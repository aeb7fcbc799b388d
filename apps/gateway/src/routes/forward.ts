import type { QueryValue } from "@unifold/engine";
import type { Context } from "hono";
import type { AppEnv } from "../services.ts";
import { type Reachable, rateLimitHeaders, withUpstream } from "../upstream-call.ts";

// Content headers an upstream answer keeps on its way back; hop-by-hop and cookies never pass.
const KEPT = ["content-type", "content-language", "location", "etag", "retry-after", "x-total-count"];

/**
 * Sends the caller's request 1-to-1 to the upstream with the connection's auth injected, and
 * returns the upstream's status, body and content headers as they are. Only the body and its
 * content-type travel from the caller: never its Authorization, Cookie or hop-by-hop headers.
 */
export async function forward(
  c: Context<AppEnv>,
  reachable: Reachable,
  path: string,
  query: Record<string, QueryValue | undefined>,
): Promise<Response> {
  const method = c.req.method;
  const hasBody = method !== "GET" && method !== "HEAD" && method !== "DELETE";
  const raw = hasBody ? new Uint8Array(await c.req.arrayBuffer()) : undefined;
  const { integration } = reachable;
  const response = await withUpstream(c, reachable, (target) =>
    c.get("services").upstream.request(target, {
      method,
      path,
      query,
      ...(raw && raw.length > 0 && { raw: { body: raw, contentType: c.req.header("content-type") } }),
      signal: c.req.raw.signal,
    }),
  );
  const headers = new Headers(rateLimitHeaders(integration, response));
  for (const name of KEPT) if (response.headers[name] !== undefined) headers.set(name, response.headers[name] as string);
  const empty = response.status === 204 || response.status === 304 || method === "HEAD";
  // The upstream's bytes as they came: nothing decoded, nothing re-encoded.
  return new Response(empty ? null : response.bytes, { status: response.status, headers });
}

/** The caller's query without `connection_id`, keeping repeated parameters. */
export function forwardedQuery(c: Context<AppEnv>, drop: string[] = []): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, values] of Object.entries(c.req.queries())) {
    if (name === "connection_id" || drop.includes(name)) continue;
    out[name] = values;
  }
  return out;
}
