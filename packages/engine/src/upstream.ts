import { EventEmitter } from "node:events";
import { Agent, type Dispatcher, errors as undiciErrors } from "undici";
import { createTokenCache, readTokenAnswer, type RenderedGrant, renderGrant, type SharedTokens, tokenRequest } from "./access-tokens.ts";
import type { Integration } from "./definition.ts";
import { guardedLookup, hostRefusal, type NetworkPolicy } from "./network-policy.ts";
import { createRateGate, PacingUnavailable, RateLimitedLocally, type SharedPacing } from "./rate-gate.ts";
import { sleep } from "./sleep.ts";
import { render } from "./template.ts";
import { startOf } from "./json-scan.ts";

/** What the gateway knows of one connection when it calls the upstream. */
export interface UpstreamTarget {
  integration: Integration;
  config: Record<string, unknown>;
  /** Decrypted; held only for the duration of the call. */
  credentials: Record<string, string>;
  /** Whose budget the call spends (per-connection pacing); absent for checks before a connection exists. */
  connectionId?: string | undefined;
}

export type QueryValue = string | string[];

export interface UpstreamRequest {
  method: string;
  path: string;
  query?: Record<string, QueryValue | undefined>;
  headers?: Record<string, string>;
  /** A JSON value (serialised here) or raw bytes already encoded by the caller. */
  json?: unknown;
  raw?: { body: Uint8Array | string; contentType?: string | undefined };
  signal?: AbortSignal | undefined;
}

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string>;
  /** The body's bytes as received. */
  bytes: Buffer;
  /** Parsed JSON when the upstream said JSON and it parsed; otherwise undefined. Parsed on first use. */
  readonly body: unknown;
  /** The body as UTF-8 text, decoded on first use. */
  readonly text: string;
}

/** A response whose text and JSON are worked out only when read: the proxy reads neither. */
export function upstreamResponse(status: number, headers: Record<string, string>, bytes: Buffer): UpstreamResponse {
  let text: string | undefined;
  let body: unknown;
  let parsed = false;
  return {
    status,
    headers,
    bytes,
    get text() {
      // A UTF-8 byte-order mark is dropped, as TextDecoder does.
      return (text ??= bytes.toString("utf8", startOf(bytes)));
    },
    get body() {
      if (!parsed) {
        parsed = true;
        body = parseJson(this.text, headers["content-type"]);
      }
      return body;
    },
  };
}

/** The upstream's rate-limit state as `ratelimit-*` headers, where the integration says where it is. */
export function rateLimitHeaders(integration: Integration, response: UpstreamResponse, now = Date.now()): Record<string, string> {
  const names = integration.rate_limit_headers;
  const out: Record<string, string> = {};
  if (!names) return out;
  for (const key of ["limit", "remaining"] as const) {
    const header = names[key];
    const value = header ? response.headers[header.toLowerCase()] : undefined;
    if (value !== undefined) out[`ratelimit-${key}`] = value;
  }
  const reset = resetSeconds(integration, response, now);
  if (reset !== undefined) out["ratelimit-reset"] = String(reset);
  return out;
}

/**
 * Seconds until the vendor's rate-limit window ends, by its reset header: as sent when the
 * vendor counts down, worked out from the clock when it names the Unix time (never negative).
 * Undefined when the vendor sent none, or nothing that reads as a whole number.
 */
function resetSeconds(integration: Integration, response: UpstreamResponse, now: number): number | undefined {
  const names = integration.rate_limit_headers;
  const raw = names?.reset ? response.headers[names.reset.toLowerCase()]?.trim() : undefined;
  if (raw === undefined || !/^\d+$/.test(raw)) return undefined;
  return names?.reset_format === "epoch_seconds" ? Math.max(0, Number(raw) - Math.floor(now / 1000)) : Number(raw);
}

/**
 * How long the upstream asked to be left alone, in seconds, as a `Retry-After` value: its own
 * `Retry-After`, else, on a 429, the end of its rate-limit window from the reset header (some
 * vendors send only that). Undefined when it said neither.
 */
export function retryAfterOf(integration: Integration, response: UpstreamResponse, now = Date.now()): string | undefined {
  const given = response.headers["retry-after"];
  if (given !== undefined) return given;
  if (response.status !== 429) return undefined;
  const reset = resetSeconds(integration, response, now);
  return reset === undefined ? undefined : String(reset);
}

/** The upstream could not be reached, or did not answer in time. */

export class UpstreamFailure extends Error {
  constructor(
    readonly kind: "timeout" | "network" | "too_large",
    message: string,
    /** The socket error code (ECONNREFUSED proves the request never reached the vendor). */
    readonly code?: string,
  ) {
    super(message);
    this.name = "UpstreamFailure";
  }
}

export interface UpstreamClientOptions {
  connectTimeoutMs?: number;
  /** Bound on one whole call: connect, headers and body. */
  timeoutMs?: number;
  /** The largest upstream body read (default 10 MiB); a larger one fails the call as too_large. */
  maxBodyBytes?: number;
  /** Extra attempts for GET and HEAD after a connection error, 502/503/504 or 429. */
  retries?: number;
  /** The longest `Retry-After` worth waiting for; a longer one goes back to the caller. */
  retryAfterCapMs?: number;
  /** First backoff step; each retry doubles it, with full jitter. */
  backoffMs?: number;
  /** Where calls may go; by default public addresses only. */
  network?: NetworkPolicy;
  /** Calls in flight per connection (default 10). */
  maxConcurrencyPerConnection?: number;
  /** Pace each connection within its integration's `rate_limit` (default true). */
  enforceRateLimits?: boolean;
  /** Counters shared with the other instances; without them, pacing is this process's alone. */
  sharedPacing?: SharedPacing | undefined;
  /** Access tokens every instance finds (see access-tokens.ts); without it, each instance gets its own. */
  sharedTokens?: SharedTokens | undefined;
  /** Told about every attempt (for metrics): integration, upstream status or "error", seconds, whether it was a retry. */
  observe?: (attempt: { integration: string; status: number | "error"; seconds: number; retry: boolean }) => void;
}

/** Statuses worth another attempt of an idempotent call. */
const RETRYABLE = new Set([429, 502, 503, 504]);

/**
 * Whether an answer means "slow down": a 429, or a refusal the integration's `errors.throttled`
 * recognises by its body (a quota some vendors answer 403).
 */
export async function isThrottled(integration: Integration, response: UpstreamResponse): Promise<boolean> {
  if (response.status === 429) return true;
  if (!integration.throttledBy || response.status < 400 || response.status >= 500 || response.body === undefined) return false;
  return Boolean(await integration.throttledBy.evaluate(response.body).catch(() => false));
}

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date. */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The connection's base URL: its own `config.base_url`, else the integration's default. */
export function baseUrlOf(target: Pick<UpstreamTarget, "integration" | "config">): string {
  const configured = target.config.base_url;
  return typeof configured === "string" && configured ? configured : target.integration.base_url;
}

/** Whether `url` stays under the base URL: the same origin, and its path or one below it. */
export function isUnderBaseUrl(base: URL, url: URL): boolean {
  const basePath = base.pathname.replace(/\/+$/, "");
  return url.origin === base.origin && (url.pathname === basePath || url.pathname.startsWith(`${basePath}/`));
}

export function joinUrl(baseUrl: string, path: string, query?: Record<string, QueryValue | undefined>): URL {
  const url = new URL(`${baseUrl.replace(/\/+$/, "")}/${path.replace(/^\/+/, "")}`);
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) url.searchParams.append(key, v);
  }
  return url;
}

/** The headers every call carries: the integration's static headers and its rendered auth (with the access token, where it gets one). */
export function authHeaders(target: UpstreamTarget, token?: string): Record<string, string> {
  const context = { credentials: target.credentials, config: target.config, token };
  const headers = lowerCased(target.integration.headers);
  for (const [name, template] of Object.entries(target.integration.auth.headers)) {
    const value = render(template, context);
    if (value !== undefined) headers[name.toLowerCase()] = value;
  }
  return headers;
}

export function createUpstreamClient(options: UpstreamClientOptions = {}) {
  // One keep-alive pool per upstream origin; undici's Agent keys its pools by origin.
  const network = options.network ?? { allowPrivate: false };
  const agent = new Agent({
    connect: { timeout: options.connectTimeoutMs ?? 5_000, lookup: guardedLookup(network) },
    headersTimeout: options.timeoutMs ?? 30_000,
    bodyTimeout: options.timeoutMs ?? 30_000,
    keepAliveTimeout: 10_000,
    connections: 64,
  });

  const timeoutMs = options.timeoutMs ?? 30_000;
  const maxBodyBytes = options.maxBodyBytes ?? 10 * 1024 * 1024;
  const retries = options.retries ?? 2;
  const retryAfterCapMs = options.retryAfterCapMs ?? 5_000;
  const backoffMs = options.backoffMs ?? 100;
  const gate = createRateGate({
    maxConcurrency: options.maxConcurrencyPerConnection ?? 10,
    maxWaitMs: retryAfterCapMs,
    shared: options.sharedPacing,
  });
  const enforceRateLimits = options.enforceRateLimits ?? true;
  const tokens = createTokenCache(fetchToken, undefined, options.sharedTokens);

  /**
   * One token request to the grant's endpoint, as bounded and guarded as any call (exchange);
   * the answer is masked of the grant's values before anything reads it.
   */
  async function fetchToken(rendered: RenderedGrant): Promise<{ token: string; expiresInMs: number }> {
    let url: URL;
    try {
      url = new URL(rendered.url);
    } catch {
      throw new UpstreamFailure("network", "the token endpoint's address is not a URL", "EUNIFOLD_BLOCKED");
    }
    if (!/^https?:$/.test(url.protocol))
      throw new UpstreamFailure("network", `${url.origin} may not be called: not an http(s) URL`, "EUNIFOLD_BLOCKED");
    const { form, headers } = await tokenRequest(rendered);
    const secrets = Object.fromEntries(Object.values(rendered.values).flatMap((v, i) => (typeof v === "string" ? [[i, v]] : [])));
    return readTokenAnswer(await exchange(url, "POST", headers, form.toString(), secrets, 1024 * 1024));
  }

  /**
   * One upstream call. GET and HEAD are retried on connection errors, 502/503/504 and 429, with
   * exponential backoff and full jitter, waiting out `Retry-After` when it is under the cap;
   * writes are never retried here (the write path decides what is safe to resend).
   */
  async function request(target: UpstreamTarget, req: UpstreamRequest): Promise<UpstreamResponse> {
    const idempotent = req.method === "GET" || req.method === "HEAD";
    for (let attempt = 0; ; attempt++) {
      let wait: number | undefined;
      const started = performance.now();
      const observe = (status: number | "error") =>
        options.observe?.({
          integration: target.integration.slug,
          status,
          seconds: (performance.now() - started) / 1000,
          retry: attempt > 0,
        });
      try {
        const response = await once(target, req).catch((error: unknown) => {
          if (!(error instanceof RateLimitedLocally || error instanceof PacingUnavailable)) observe("error");
          throw error;
        });
        observe(response.status);
        if (!idempotent || attempt >= retries || response.status < 400) return response;
        if (!RETRYABLE.has(response.status) && !(await isThrottled(target.integration, response))) return response;
        const after = retryAfterMs(retryAfterOf(target.integration, response));
        if (after !== undefined && after > retryAfterCapMs) return response;
        wait = after;
      } catch (error) {
        const transient = error instanceof UpstreamFailure && error.kind === "network" && error.code !== "EUNIFOLD_BLOCKED";
        if (!idempotent || attempt >= retries || !transient) throw error;
      }
      await sleep(wait ?? Math.random() * backoffMs * 2 ** attempt, req.signal);
    }
  }

  function once(target: UpstreamTarget, req: UpstreamRequest): Promise<UpstreamResponse> {
    const key = target.connectionId ?? `check|${target.integration.slug}|${baseUrlOf(target)}`;
    const rule = enforceRateLimits ? target.integration.rate_limit : undefined;
    // An integration without access tokens goes straight to the call: no extra step per request.
    return gate.run(
      key,
      rule,
      () => (target.integration.auth.token ? sendWithToken(target, req) : sendWith(target, req, undefined)),
      req.signal,
    );
  }

  /**
   * One call with the connection's auth. Where the integration gets access tokens, a 401 answered
   * to a token held from before gets one fresh token and one more try: the vendor ended it early
   * (revoked, rotated keys); a second 401 is the answer.
   */
  async function sendWithToken(target: UpstreamTarget, req: UpstreamRequest): Promise<UpstreamResponse> {
    const rendered = renderGrant(target.integration.auth.token!, target);
    const token = await tokens.get(rendered);
    const response = await sendWith(target, req, token);
    if (response.status !== 401) return response;
    await tokens.forget(rendered, token);
    const fresh = await tokens.get(rendered);
    return fresh === token ? response : sendWith(target, req, fresh);
  }

  async function sendWith(target: UpstreamTarget, req: UpstreamRequest, token: string | undefined): Promise<UpstreamResponse> {
    const url = joinUrl(baseUrlOf(target), req.path, req.query);
    const headers: Record<string, string> = { ...lowerCased(req.headers ?? {}), ...authHeaders(target, token) };
    let body: string | Uint8Array | undefined;
    if (req.json !== undefined) {
      body = JSON.stringify(req.json);
      headers["content-type"] ??= "application/json";
    } else if (req.raw) {
      body = req.raw.body;
      if (req.raw.contentType) headers["content-type"] = req.raw.contentType;
    }
    // A vendor echoing the access token hands it on no more than a credential.
    const secrets = token ? { ...target.credentials, "": token } : target.credentials;
    return exchange(url, req.method, headers, body, secrets, maxBodyBytes, req.signal);
  }

  /**
   * One request and its whole answer, for API calls and token requests alike: under the network
   * policy, bounded in time and size, aborted with the caller, and masked of `secrets`.
   */
  async function exchange(
    url: URL,
    method: string,
    headers: Record<string, string>,
    body: string | Uint8Array | undefined,
    secrets: Record<string, string>,
    maxBytes: number,
    signal?: AbortSignal,
  ): Promise<UpstreamResponse> {
    // Address literals never reach the DNS guard, so names and literals are checked here too.
    const refused = hostRefusal(network, url.hostname);
    if (refused) throw new UpstreamFailure("network", `${url.origin} may not be called: ${refused}`, "EUNIFOLD_BLOCKED");
    // The whole call is bounded; the caller's signal (their disconnect) aborts it too, with its
    // reason. undici takes an EventEmitter as a request's signal (reading its `aborted` and
    // `reason` as an AbortSignal's): one per call costs a fraction of an AbortController (an
    // EventTarget, which undici would listen to through addEventListener too), and the timer is
    // cleared when the call ends (AbortSignal.timeout would keep it for the full timeout after
    // every call).
    const abort: EventEmitter & { aborted?: boolean; reason?: unknown } = new EventEmitter();
    const stop = (reason?: unknown) => {
      abort.aborted = true;
      abort.reason = reason;
      abort.emit("abort");
    };
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, timeoutMs);
    const callerGone = () => stop(signal?.reason);
    if (signal?.aborted) callerGone();
    else signal?.addEventListener("abort", callerGone, { once: true });
    try {
      const response = await agent.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: method as "GET",
        headers,
        body,
        signal: abort,
      });
      const bytes = masked(await boundedBody(response, maxBytes, url), secrets);
      const responseHeaders: Record<string, string> = {};
      for (const [name, value] of Object.entries(response.headers)) {
        if (value !== undefined) responseHeaders[name] = Array.isArray(value) ? value.join(", ") : value;
      }
      return upstreamResponse(response.statusCode, responseHeaders, bytes);
    } catch (error) {
      if (timedOut) throw new UpstreamFailure("timeout", `${url.origin} did not answer within ${timeoutMs} ms`);
      throw asFailure(error, url);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", callerGone);
    }
  }

  return {
    request,
    /** Upstream calls holding or waiting for a connection's slot, over all connections. */
    inFlight: () => gate.inFlight(),
    /** Why a base URL may not be called under the network policy, or undefined when it may. */
    refusal: (baseUrl: string) => hostRefusal(network, new URL(baseUrl).hostname),
    close: () => agent.close(),
  };
}

export type UpstreamClient = ReturnType<typeof createUpstreamClient>;

/**
 * The body with every occurrence of one of the connection's own credential values overwritten
 * by asterisks of the same length, in place: a vendor that echoes the key it was sent (in an
 * error, a record, anything) never hands it on, and every offset into the body stays valid.
 * Values too short to be a credential, or holding JSON's quote or backslash, are left alone.
 */
function masked(bytes: Buffer, credentials: Record<string, string>): Buffer {
  for (const value of Object.values(credentials)) {
    if (value.length < 6 || value.includes('"') || value.includes("\\")) continue;
    const secret = Buffer.from(value);
    for (let at = bytes.indexOf(secret); at >= 0; at = bytes.indexOf(secret, at + secret.length)) bytes.fill(42, at, at + secret.length);
  }
  return bytes;
}

/**
 * The whole body, or an UpstreamFailure "too_large" as soon as it is known to pass `max` bytes
 * (by its content-length, or while it arrives): memory stays bounded whatever a vendor sends.
 */
async function boundedBody(response: Dispatcher.ResponseData, max: number, url: URL): Promise<Buffer> {
  const tooLarge = () => {
    response.body.destroy();
    return new UpstreamFailure("too_large", `${url.origin} answered with a body over ${max} bytes`);
  };
  const declared = Number(response.headers["content-length"]);
  if (declared > max) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) throw tooLarge();
    chunks.push(chunk);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
}

function lowerCased(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

function parseJson(text: string, contentType: string | undefined): unknown {
  if (!text || !contentType || !/json/i.test(contentType)) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function asFailure(error: unknown, url: URL): Error {
  if (error instanceof UpstreamFailure) return error;
  const where = url.origin;
  if (
    error instanceof undiciErrors.HeadersTimeoutError ||
    error instanceof undiciErrors.BodyTimeoutError ||
    error instanceof undiciErrors.ConnectTimeoutError
  ) {
    return new UpstreamFailure("timeout", `${where} did not answer in time`);
  }
  if ((error as Error)?.name === "AbortError") return error as Error;
  const code = (error as { code?: string }).code;
  return new UpstreamFailure("network", `${where} could not be reached (${code ?? (error as Error).message})`, code);
}
