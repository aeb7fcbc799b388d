/** A SCIM 2.0 HTTP client as an identity provider runs it: one bearer token, retries, and a transcript to assert on. */

export const SCIM = {
  user: "urn:ietf:params:scim:schemas:core:2.0:User",
  group: "urn:ietf:params:scim:schemas:core:2.0:Group",
  enterprise: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
  list: "urn:ietf:params:scim:api:messages:2.0:ListResponse",
  patch: "urn:ietf:params:scim:api:messages:2.0:PatchOp",
  error: "urn:ietf:params:scim:api:messages:2.0:Error",
} as const;

const MEDIA_TYPE = "application/scim+json";

/** One HTTP exchange (one attempt: a retried request appears once per attempt). Never holds the token. */
export interface Exchange {
  method: string;
  /** Path and query relative to the base URL, exactly as sent (e.g. `/Users?filter=...`). */
  path: string;
  /** The HTTP status, or 0 when no answer came (the connection failed). */
  status: number;
  requestBody?: unknown;
  /** The answer parsed when it is JSON, else its text; absent when empty. */
  responseBody?: unknown;
  /** The answer's Content-Type (Entra expects application/scim+json). */
  responseContentType?: string;
  latencyMs: number;
  /** 1 for the first attempt, 2 for the first retry, and so on. */
  attempt: number;
}

export interface ScimResponse {
  status: number;
  headers: Headers;
  body: any;
  /** This answer's own transcript entry (with concurrent requests, not necessarily the transcript's last). */
  exchange: Exchange;
}

export type IdpErrorCode =
  | "unexpected_status" // the service answered a status the provider does not accept for this request
  | "invalid_list" // a ListResponse whose startIndex, itemsPerPage or totalResults is missing or not an integer
  | "repeated_id" // paging returned the same id twice
  | "start_index_not_echoed" // paging answered another startIndex than the one asked for
  | "short_paging" // paging ran out of resources before totalResults
  | "invalid_resource" // a created resource without an id, or a filter that matched several
  | "not_empty"; // Test Connection's filter, which matches nothing, found something

/** A failure of the service as the provider sees it; `exchange` is the last request when there was one. */
export class IdpError extends Error {
  constructor(
    readonly code: IdpErrorCode,
    message: string,
    readonly exchange?: Exchange,
  ) {
    super(message);
    this.name = "IdpError";
  }
}

export interface ScimClientOptions {
  /** The SCIM base URL as pasted into the provider, e.g. `http://gateway/scim/v2/conn_123`. */
  baseUrl: string;
  token: string;
  userAgent: string;
  /** Retries after the first attempt for 429 and 5xx (default 2). */
  retries?: number;
  /** First back-off in ms, doubled per retry (default 50). */
  backoffMs?: number;
  /** The longest wait before a retry, Retry-After included (default 1000 ms). */
  maxWaitMs?: number;
  /** Replaceable so tests can see the waits without sleeping. */
  sleep?: (ms: number) => Promise<void>;
}

export interface ScimClient {
  request(method: string, path: string, body?: unknown): Promise<ScimResponse>;
  /** Every exchange so far, oldest first; callers may read it and clear it (`transcript.length = 0`). */
  readonly transcript: Exchange[];
}

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function scimClient(options: ScimClientOptions): ScimClient {
  const base = options.baseUrl.replace(/\/+$/, "");
  const retries = options.retries ?? 2;
  const backoffMs = options.backoffMs ?? 50;
  const maxWaitMs = options.maxWaitMs ?? 1000;
  const sleep = options.sleep ?? pause;
  const transcript: Exchange[] = [];

  async function request(method: string, path: string, body?: unknown): Promise<ScimResponse> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${options.token}`,
      accept: MEDIA_TYPE,
      "user-agent": options.userAgent,
    };
    if (body !== undefined) headers["content-type"] = `${MEDIA_TYPE}; charset=utf-8`;
    for (let attempt = 1; ; attempt++) {
      const started = performance.now();
      let response: Response;
      try {
        response = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      } catch (error) {
        transcript.push({ method, path, status: 0, requestBody: structuredClone(body), latencyMs: elapsed(started), attempt });
        throw error;
      }
      const text = await response.text();
      const exchange: Exchange = { method, path, status: response.status, latencyMs: elapsed(started), attempt };
      // A copy, so that a caller reusing its object cannot rewrite history.
      if (body !== undefined) exchange.requestBody = structuredClone(body);
      const parsed = parse(text);
      // A service that echoes the request (a debug endpoint, a careless error) must not leak the token into the transcript.
      const kept = text.includes(options.token) ? parse(text.split(options.token).join("[redacted]")) : parsed;
      if (kept !== undefined) exchange.responseBody = kept;
      const contentType = response.headers.get("content-type");
      if (contentType !== null) exchange.responseContentType = contentType;
      transcript.push(exchange);
      const retryable = response.status === 429 || response.status >= 500;
      if (!retryable || attempt > retries) return { status: response.status, headers: response.headers, body: parsed, exchange };
      // Okta and Entra both retry throttling and server errors with back-off; Retry-After (RFC 9110 §10.2.3) wins when given.
      const asked = retryAfterMs(response.headers.get("retry-after"));
      await sleep(Math.min(maxWaitMs, asked ?? backoffMs * 2 ** (attempt - 1)));
    }
  }

  return { request, transcript };
}

/** Retry-After is either delay-seconds or an HTTP date. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === "") return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function parse(text: string): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

const elapsed = (started: number) => Math.round((performance.now() - started) * 100) / 100;

/** A query string with RFC 3986 percent-encoding: `%20` for spaces, as the providers send, never `+`. */
export function query(params: Record<string, string | number | undefined>): string {
  const parts = Object.entries(params)
    .filter((entry): entry is [string, string | number] => entry[1] !== undefined)
    .map(([key, value]) => `${key}=${encodeURIComponent(String(value))}`);
  return parts.length === 0 ? "" : `?${parts.join("&")}`;
}

/** A SCIM filter comparison value is a JSON string (RFC 7644 §3.4.2.2). */
export const eqFilter = (attribute: string, value: string) => `${attribute} eq ${JSON.stringify(value)}`;

/** Throws unless the answer has one of the accepted statuses. */
export function expectStatus(response: ScimResponse, ...accepted: number[]): ScimResponse {
  if (accepted.includes(response.status)) return response;
  const { method, path } = response.exchange;
  const detail = typeof response.body?.detail === "string" ? `: ${response.body.detail}` : "";
  throw new IdpError(
    "unexpected_status",
    `${method} ${path} answered ${response.status}, expected ${accepted.join(" or ")}${detail}`,
    response.exchange,
  );
}

export interface ListPage {
  totalResults: number;
  startIndex: number;
  itemsPerPage: number;
  Resources: any[];
  exchange: Exchange;
}

type ListCount = "totalResults" | "startIndex" | "itemsPerPage";

/** A 200 ListResponse whose named counts are integers (Okta rejects strings and missing counts when it pages). */
export function expectList(
  response: ScimResponse,
  counts: readonly ListCount[] = ["totalResults", "startIndex", "itemsPerPage"],
): ListPage {
  expectStatus(response, 200);
  const body = response.body;
  const last = response.exchange;
  for (const key of counts) {
    if (!Number.isInteger(body?.[key])) {
      throw new IdpError("invalid_list", `${last.path}: ${key} is ${JSON.stringify(body?.[key])}, not an integer`, last);
    }
  }
  const resources = body.Resources ?? [];
  if (!Array.isArray(resources)) throw new IdpError("invalid_list", `${last.path}: Resources is not an array`, last);
  return {
    totalResults: body.totalResults,
    startIndex: body.startIndex,
    itemsPerPage: body.itemsPerPage,
    Resources: resources,
    exchange: last,
  };
}

/** Runs `work` over `items` with at most `limit` in flight, answering in the items' order. */
export async function inParallel<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  async function lane() {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
  return results;
}

export type ScimResource = Record<string, any> & { id: string };

/** A resource the provider will refer to later must carry an id. */
export function withId(resource: unknown): ScimResource {
  const id = (resource as { id?: unknown } | undefined)?.id;
  if (typeof id !== "string" || id === "")
    throw new IdpError("invalid_resource", `resource without a string id: ${JSON.stringify(resource)}`);
  return resource as ScimResource;
}
