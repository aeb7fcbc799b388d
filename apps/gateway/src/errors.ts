import {
  type Integration,
  InvalidPosition,
  PacingUnavailable,
  RateLimitedLocally,
  rateLimitHeaders,
  UpstreamFailure,
  UpstreamShapeError,
  UpstreamStatusError,
} from "@unifold/engine";
import { MappingError } from "@unifold/mapping";
import type { ZodError } from "zod";

export const errorStatus = {
  invalid_request: 400,
  invalid_cursor: 400,
  filter_not_supported: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  resource_not_supported: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal_error: 500,
  upstream_error: 502,
  upstream_too_large: 502,
  upstream_unauthorized: 502,
  upstream_timeout: 504,
  unavailable: 503,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof errorStatus;

export interface ErrorDetail {
  path: string;
  message: string;
}

export interface UpstreamAnswer {
  status: number;
  body: unknown;
}

/** The one error value routes throw; `toBody` renders the contract's error shape. */
export class ApiError extends Error {
  readonly status: (typeof errorStatus)[ErrorCode];
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly extra: {
      details?: ErrorDetail[];
      upstream?: UpstreamAnswer;
      headers?: Record<string, string>;
      /** The vendor's own words for a refusal (secrets masked), for a page that shows them apart. */
      reason?: string | undefined;
    } = {},
  ) {
    super(message);
    this.name = "ApiError";
    this.status = errorStatus[code];
  }

  static fromZod(error: ZodError, where?: string): ApiError {
    const details = error.issues.map((issue) => ({
      path: [where, ...issue.path.map(String)].filter(Boolean).join("."),
      message: issue.message,
    }));
    const first = details[0];
    const message = first ? `${first.path || "body"}: ${first.message}` : "the request is invalid";
    return new ApiError("invalid_request", message, { details });
  }

  toBody(requestId: string) {
    return {
      error: {
        code: this.code,
        message: this.message,
        status: this.status,
        request_id: requestId,
        ...(this.extra.details && { details: this.extra.details }),
        ...(this.extra.upstream && { upstream: this.extra.upstream }),
      },
    };
  }
}

/**
 * What the log may keep of an unexpected error. A database error is named by its kind and the
 * server's code, table and constraint only: the driver's message carries the statement and every
 * parameter (people's names and emails). Anything else keeps its message and stack.
 */
export function loggable(error: unknown): Record<string, unknown> {
  const cause = (error as { cause?: unknown } | null)?.cause;
  const database = [error, cause].find(
    (e): e is { code: string; table_name?: unknown; constraint_name?: unknown } =>
      typeof (e as { code?: unknown } | null)?.code === "string" && /^[0-9A-Z]{5}$/.test((e as { code: string }).code),
  );
  const query = typeof (error as { query?: unknown } | null)?.query === "string";
  if (!database && !query) {
    const e = error instanceof Error ? error : new Error(String(error));
    return { name: e.name, message: e.message, stack: e.stack };
  }
  return {
    name: error instanceof Error ? error.name : typeof error,
    ...(database && { sqlstate: database.code }),
    ...(typeof database?.table_name === "string" && { table: database.table_name }),
    ...(typeof database?.constraint_name === "string" && { constraint: database.constraint_name }),
  };
}

const UPSTREAM_BODY_LIMIT = 8 * 1024;

/** The upstream's body for an error's `upstream` field: parsed JSON, else text, cut to 8 KB. */
export function upstreamBody(parsed: unknown, text: string, secrets: readonly string[] = []): unknown {
  if (parsed !== undefined && text.length <= UPSTREAM_BODY_LIMIT) return redacted(parsed, secrets);
  // Masked before it is cut: a cut through a key would leave part of it unmasked.
  return upstreamWords(redacted(text, secrets));
}

/** A vendor's own message, cut to the same 8 KB as a body: it is shown in errors and on the connect page. */
export const upstreamWords = (text: string) => (text.length <= UPSTREAM_BODY_LIMIT ? text : `${text.slice(0, UPSTREAM_BODY_LIMIT)}…`);

/**
 * `value` with every occurrence of the connection's own credential values masked, in every
 * string it holds: a vendor that echoes the key it was sent in an error must not hand it on.
 */
export function redacted<T>(value: T, secrets: readonly string[]): T {
  // Values too short to be a credential would mask ordinary words.
  const masks = secrets.filter((secret) => secret.length >= 6).sort((a, b) => b.length - a.length);
  if (masks.length === 0) return value;
  // In any letter case: a vendor may echo a key upper-cased or lower-cased.
  const pattern = new RegExp(masks.map((secret) => secret.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|"), "gi");
  const walk = (v: unknown): unknown => {
    if (typeof v === "string") return v.replace(pattern, "[redacted]");
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, inner]) => [walk(k) as string, walk(inner)]));
    return v;
  };
  return walk(value) as T;
}

/**
 * The one table from an upstream's HTTP status to the contract's error code, for reads, writes,
 * batch results and verify alike.
 */
export function codeForUpstreamStatus(status: number): ErrorCode {
  if (status === 401 || status === 403) return "upstream_unauthorized";
  if (status === 404) return "not_found";
  if (status === 409) return "conflict";
  if (status === 429) return "rate_limited";
  if (status >= 400 && status < 500) return "invalid_request";
  return "upstream_error";
}

/** What the upstream said went wrong, for an error message: `: <message>`, or nothing. */
function saidBy(error: UpstreamStatusError, secrets: readonly string[]): string {
  const applied = error.applied.length ? ` (already done before this failed: ${error.applied.join(", ")})` : "";
  return `${error.upstreamMessage ? `: ${upstreamWords(redacted(error.upstreamMessage, secrets))}` : ""}${redacted(applied, secrets)}`;
}

const phrasing: Partial<Record<ErrorCode, string>> = {
  upstream_unauthorized: "rejected the connection's credentials",
  not_found: "has no such record",
  conflict: "reported a conflict",
  rate_limited: "is rate limiting this connection",
  invalid_request: "refused the request",
  upstream_error: "failed",
};

/**
 * Any failure of upstream work as the contract's error, naming the vendor and the upstream
 * status, with the connection's credential values masked wherever the vendor echoed them.
 * Errors that are not upstream failures come back as they are.
 */
export function apiErrorOf(integration: Integration, error: unknown, secrets: readonly string[]): unknown {
  const vendor = integration.name;
  if (error instanceof UpstreamStatusError) {
    const { status } = error.response;
    const code = codeForUpstreamStatus(status);
    const upstream = { status, body: upstreamBody(error.response.body, error.response.text, secrets) };
    const said = code === "rate_limited" ? "" : saidBy(error, secrets);
    const retryAfter = error.response.headers["retry-after"];
    return new ApiError(code, `${vendor} ${phrasing[code]} (upstream status ${status})${said}`, {
      upstream,
      ...(code === "rate_limited" && {
        headers: { ...(retryAfter && { "retry-after": retryAfter }), ...rateLimitHeaders(integration, error.response) },
      }),
    });
  }
  if (error instanceof RateLimitedLocally) {
    return new ApiError("rate_limited", `${vendor}: ${error.message}; retry in ${error.retryAfterSeconds} s`, {
      headers: { "retry-after": String(error.retryAfterSeconds) },
    });
  }
  if (error instanceof PacingUnavailable) {
    return new ApiError("unavailable", `${vendor}: ${error.message}; retry in ${error.retryAfterSeconds} s`, {
      headers: { "retry-after": String(error.retryAfterSeconds) },
    });
  }
  if (error instanceof UpstreamFailure) {
    const code = error.kind === "timeout" ? "upstream_timeout" : error.kind === "too_large" ? "upstream_too_large" : "upstream_error";
    return new ApiError(code, `${vendor}: ${error.message}`);
  }
  if (error instanceof InvalidPosition) return new ApiError("invalid_cursor", error.message);
  if (error instanceof UpstreamShapeError) return new ApiError("upstream_error", `${vendor}: ${error.message}`);
  if (error instanceof MappingError) return new ApiError("upstream_error", `${vendor}: mapping ${error.message}`);
  return error;
}
