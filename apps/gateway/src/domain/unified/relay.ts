import { baseUrlOf, type Integration, isUnderBaseUrl, joinUrl, type QueryValue, rateLimitHeaders, readRawList } from "@unifold/engine";
import { Failure } from "../failure.ts";
import { openCursor, sealCursor } from "../cursor.ts";
import type { Deps } from "../caller.ts";
import { type Reachable, reachConnection, type UnifiedParts, withUpstream } from "./parts.ts";

// Content headers an upstream answer keeps on its way back; hop-by-hop and cookies never pass.
const KEPT = ["content-type", "content-language", "location", "etag", "retry-after", "x-total-count"];

/** A call relayed as the caller sent it: only its body and content type travel, never its own headers. */
export interface RelayRequest {
  method: string;
  query: Record<string, QueryValue | undefined>;
  body?: Uint8Array | undefined;
  contentType?: string | undefined;
}

/** The upstream's answer as it came: status, content headers (and its rate-limit state), bytes. */
export interface Relayed {
  status: number;
  headers: Record<string, string>;
  body: Buffer | null;
}

/** Sends one call 1-to-1 to the upstream with the connection's auth injected. */
async function relay(deps: Deps<UnifiedParts>, reachable: Reachable, path: string, req: RelayRequest): Promise<Relayed> {
  const { integration } = reachable;
  const response = await withUpstream(deps, reachable, (target) =>
    deps.parts.upstream.request(target, {
      method: req.method,
      path,
      query: req.query,
      ...(req.body && req.body.length > 0 && { raw: { body: req.body, contentType: req.contentType } }),
      signal: deps.caller.signal,
    }),
  );
  const headers = rateLimitHeaders(integration, response);
  for (const name of KEPT) if (response.headers[name] !== undefined) headers[name] = response.headers[name] as string;
  const empty = response.status === 204 || response.status === 304 || req.method === "HEAD";
  return { status: response.status, headers, body: empty ? null : response.bytes };
}

function proxyResourceOf(integration: Integration, name: string) {
  // Own keys only: `__proto__`, `constructor` or `hasOwnProperty` name no proxy resource.
  const proxy = Object.hasOwn(integration.proxy, name) ? integration.proxy[name] : undefined;
  if (!proxy) {
    const known = Object.keys(integration.proxy).join(", ") || "none";
    throw new Failure(
      "resource_not_supported",
      `${integration.name} (${integration.slug}) has no proxy resource "${name}"; it has ${known}`,
    );
  }
  return proxy;
}

export interface ProxyListInput {
  connectionId: string;
  resource: string;
  /** The vendor's own query parameters, passed on. */
  query: Record<string, string[]>;
  limit: number;
  cursor?: string | undefined;
}

/** A page of a vendor resource, its records' bytes unchanged, under the gateway's own cursors. */
export async function listProxy(deps: Deps<UnifiedParts>, input: ProxyListInput) {
  const { parts, caller } = deps;
  const reachable = await reachConnection(deps, input.connectionId);
  const { connection, integration } = reachable;
  const proxy = proxyResourceOf(integration, input.resource);
  const binding = `${connection.id}|proxy|${input.resource}|${JSON.stringify(input.query)}`;
  const position = await openCursor(parts.cursors, binding, input.cursor);
  const page = await withUpstream(deps, reachable, (target) =>
    readRawList(parts.upstream, target, {
      path: proxy.path,
      query: input.query,
      pagination: proxy.pagination ? integration.pagination[proxy.pagination] : undefined,
      records: proxy.records,
      position,
      limit: input.limit,
      signal: caller.signal,
    }),
  );
  return {
    parts: page.parts,
    count: page.count,
    next_cursor: await sealCursor(parts.cursors, binding, page.next),
    rateLimit: rateLimitHeaders(integration, page.last),
  };
}

/** One vendor record under `/proxy/{resource}/{id}`, relayed as sent. */
export async function relayProxyRecord(deps: Deps<UnifiedParts>, connectionId: string, resource: string, id: string, req: RelayRequest) {
  const reachable = await reachConnection(deps, connectionId);
  const proxy = proxyResourceOf(reachable.integration, resource);
  return relay(deps, reachable, `${proxy.path}/${encodeURIComponent(id)}`, req);
}

/**
 * Any call under the connection's base URL. `path` is the caller's raw path, already refused when
 * it could leave the base URL (see the passthrough guard); the joined URL is checked once more.
 */
export async function relayPassthrough(deps: Deps<UnifiedParts>, connectionId: string, path: string, req: RelayRequest) {
  const reachable = await reachConnection(deps, connectionId);
  const base = new URL(baseUrlOf({ integration: reachable.integration, config: reachable.connection.config }));
  if (!isUnderBaseUrl(base, joinUrl(base.toString(), path))) {
    throw new Failure("invalid_request", "passthrough path refused: it leaves the connection's base URL");
  }
  return relay(deps, reachable, path, req);
}
