import { Agent, errors as undiciErrors } from "undici";
import type { Integration } from "./definition.ts";
import { render } from "./template.ts";

/** What the gateway knows of one connection when it calls the upstream. */
export interface UpstreamTarget {
  integration: Integration;
  config: Record<string, unknown>;
  /** Decrypted; held only for the duration of the call. */
  credentials: Record<string, string>;
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
  /** Parsed JSON when the upstream said JSON and it parsed; otherwise undefined. */
  body: unknown;
  /** The body as received. */
  text: string;
}

/** The upstream could not be reached, or did not answer in time. */
export class UpstreamFailure extends Error {
  constructor(
    readonly kind: "timeout" | "network",
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
  /** Bound on waiting for the headers and for each body chunk. */
  timeoutMs?: number;
}

/** The connection's base URL: its own `config.base_url`, else the integration's default. */
export function baseUrlOf(target: Pick<UpstreamTarget, "integration" | "config">): string {
  const configured = target.config.base_url;
  return typeof configured === "string" && configured ? configured : target.integration.base_url;
}

export function joinUrl(baseUrl: string, path: string, query?: Record<string, QueryValue | undefined>): URL {
  const url = new URL(`${baseUrl.replace(/\/+$/, "")}/${path.replace(/^\/+/, "")}`);
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) url.searchParams.append(key, v);
  }
  return url;
}

/** The headers every call carries: the integration's static headers and its rendered auth. */
export function authHeaders(target: UpstreamTarget): Record<string, string> {
  const context = { credentials: target.credentials, config: target.config };
  const headers = lowerCased(target.integration.headers);
  for (const [name, template] of Object.entries(target.integration.auth.headers)) {
    const value = render(template, context);
    if (value !== undefined) headers[name.toLowerCase()] = value;
  }
  return headers;
}

export function createUpstreamClient(options: UpstreamClientOptions = {}) {
  // One keep-alive pool per upstream origin; undici's Agent keys its pools by origin.
  const agent = new Agent({
    connect: { timeout: options.connectTimeoutMs ?? 5_000 },
    headersTimeout: options.timeoutMs ?? 30_000,
    bodyTimeout: options.timeoutMs ?? 30_000,
    keepAliveTimeout: 10_000,
    connections: 64,
  });

  async function request(target: UpstreamTarget, req: UpstreamRequest): Promise<UpstreamResponse> {
    const url = joinUrl(baseUrlOf(target), req.path, req.query);
    const headers: Record<string, string> = { ...lowerCased(req.headers ?? {}), ...authHeaders(target) };
    let body: string | Uint8Array | undefined;
    if (req.json !== undefined) {
      body = JSON.stringify(req.json);
      headers["content-type"] ??= "application/json";
    } else if (req.raw) {
      body = req.raw.body;
      if (req.raw.contentType) headers["content-type"] = req.raw.contentType;
    }
    try {
      const response = await agent.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: req.method as "GET",
        headers,
        body,
        signal: req.signal,
      });
      const text = await response.body.text();
      const responseHeaders: Record<string, string> = {};
      for (const [name, value] of Object.entries(response.headers)) {
        if (value !== undefined) responseHeaders[name] = Array.isArray(value) ? value.join(", ") : value;
      }
      return { status: response.statusCode, headers: responseHeaders, body: parseJson(text, responseHeaders["content-type"]), text };
    } catch (error) {
      throw asFailure(error, url);
    }
  }

  return { request, close: () => agent.close() };
}

export type UpstreamClient = ReturnType<typeof createUpstreamClient>;

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
