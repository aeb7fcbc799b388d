import type { Context } from "hono";
import type { Relayed, RelayRequest } from "../domain/unified/index.ts";
import type { AppEnv } from "./env.ts";

/** The caller's query without `connection_id` (and `drop`), keeping repeated parameters: the vendor's own. */
export function vendorQuery(c: Context<AppEnv>, drop: string[] = []): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, values] of Object.entries(c.req.queries())) {
    if (name === "connection_id" || drop.includes(name)) continue;
    out[name] = values;
  }
  return out;
}

/** What a proxy or passthrough call relays: method, the vendor's query, and the body with its content type. */
export async function relayRequestOf(c: Context<AppEnv>): Promise<RelayRequest> {
  const method = c.req.method;
  const hasBody = method !== "GET" && method !== "HEAD" && method !== "DELETE";
  return {
    method,
    query: vendorQuery(c),
    body: hasBody ? new Uint8Array(await c.req.arrayBuffer()) : undefined,
    contentType: c.req.header("content-type"),
  };
}

/** The upstream's answer as it came: nothing decoded, nothing re-encoded. */
export function relayedResponse(relayed: Relayed): Response {
  return new Response(relayed.body, { status: relayed.status, headers: relayed.headers });
}
