import {
  FilterNotSupported,
  type Integration,
  InvalidPosition,
  PacingUnavailable,
  RateLimitedLocally,
  rateLimitHeaders,
  retryAfterOf,
  TokenRefused,
  UpstreamFailure,
  UpstreamShapeError,
  UpstreamStatusError,
} from "@unifold/engine";
import { MappingError } from "@unifold/mapping";
import type { ZodError } from "zod";

/**
 * The contract's error codes (docs/contract.md §2), each with whose failure it is: the caller's
 * (a 4xx at the edge, which maps each code to its status) or the server side's, where a vendor,
 * a dependency or the gateway itself failed (a 5xx).
 */
const errorSides = {
  invalid_request: "caller",
  invalid_cursor: "caller",
  filter_not_supported: "caller",
  unauthorized: "caller",
  forbidden: "caller",
  not_found: "caller",
  resource_not_supported: "caller",
  method_not_allowed: "caller",
  conflict: "caller",
  payload_too_large: "caller",
  unsupported_media_type: "caller",
  rate_limited: "caller",
  internal_error: "server",
  upstream_error: "server",
  upstream_too_large: "server",
  upstream_unauthorized: "server",
  upstream_timeout: "server",
  unavailable: "server",
} as const;

export type ErrorCode = keyof typeof errorSides;

export interface ErrorDetail {
  path: string;
  message: string;
}

export interface UpstreamAnswer {
  status: number;
  body: unknown;
}

/**
 * What went wrong, in the contract's words (`code`, a message, the details): the one error the
 * domain throws. It carries no HTTP status; the edge (errors.ts) gives it one through its table.
 */
export class Failure extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly extra: {
      details?: ErrorDetail[];
      upstream?: UpstreamAnswer;
      /** Response headers that say when to try again (retry-after, ratelimit-*). */
      headers?: Record<string, string>;
      /** The vendor's own words for a refusal (secrets masked), for a page that shows them apart. */
      reason?: string | undefined;
    } = {},
  ) {
    super(message);
    this.name = "Failure";
  }

  /** The same failure about one part of a larger request (a batch's operation): paths under `prefix`, message led by `label`. */
  within(prefix: string, label: string): Failure {
    const details = (this.extra.details ?? [{ path: "", message: this.message }]).map((d) => ({
      path: [prefix, d.path].filter((part) => part !== "").join("."),
      message: d.message,
    }));
    return new Failure(this.code, `${label}: ${this.message}`, { details });
  }

  static fromZod(error: ZodError, where?: string): Failure {
    const details = error.issues.map((issue) => ({
      path: [where, ...issue.path.map(String)].filter(Boolean).join("."),
      message: issue.message,
    }));
    const first = details[0];
    const message = first ? `${first.path || "body"}: ${first.message}` : "the request is invalid";
    return new Failure("invalid_request", message, { details });
  }
}

/** Failures the gateway could not help: a vendor, a dependency or the gateway itself failed. */
export const serverSide: ReadonlySet<ErrorCode> = new Set(
  (Object.keys(errorSides) as ErrorCode[]).filter((code) => errorSides[code] === "server"),
);

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
 * Whether an upstream status says the connection's credentials are wrong: a 401, or a status the
 * integration lists under `verify.refused` (most send 403 for a wrong key too; some only for an
 * account that may not do one thing).
 */
export function rejectsCredentials(integration: Integration, status: number): boolean {
  return status === 401 || integration.verify.refused.includes(status);
}

/**
 * The one table from an upstream's HTTP status to the contract's error code, for reads, writes,
 * batch results and verify alike.
 */
export function codeForUpstreamStatus(integration: Integration, status: number): ErrorCode {
  if (rejectsCredentials(integration, status)) return "upstream_unauthorized";
  // Credentials the vendor accepts but whose account may not do this (a 403 the vendor does not
  // send for a wrong key): the caller's to see, and no reason to stop using the connection.
  if (status === 403) return "forbidden";
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
  forbidden: "does not let the connection's account do this",
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
export function failureOf(integration: Integration, error: unknown, secrets: readonly string[]): unknown {
  const vendor = integration.name;
  if (error instanceof UpstreamStatusError) {
    const { status } = error.response;
    // A quota some vendors answer otherwise than 429 is a rate limit all the same.
    const code = error.throttled ? "rate_limited" : codeForUpstreamStatus(integration, status);
    const upstream = { status, body: upstreamBody(error.response.body, error.response.text, secrets) };
    const said = code === "rate_limited" ? "" : saidBy(error, secrets);
    const retryAfter = retryAfterOf(integration, error.response);
    return new Failure(code, `${vendor} ${phrasing[code]} (upstream status ${status})${said}`, {
      upstream,
      ...(code === "rate_limited" && {
        headers: { ...(retryAfter && { "retry-after": retryAfter }), ...rateLimitHeaders(integration, error.response) },
      }),
    });
  }
  if (error instanceof TokenRefused) {
    // No token request could be made of these values (a key that is no PEM): the caller's to fix.
    if (!error.status) return new Failure("invalid_request", `${vendor}: ${redacted(error.message, secrets)}`);
    const said = error.said ? `: ${upstreamWords(redacted(error.said, secrets))}` : "";
    const body = error.response ? upstreamBody(error.response.body, error.response.text, secrets) : undefined;
    return new Failure(
      "upstream_unauthorized",
      `${vendor}'s token endpoint ${phrasing.upstream_unauthorized} (upstream status ${error.status})${said}`,
      { upstream: { status: error.status, body } },
    );
  }
  if (error instanceof RateLimitedLocally) {
    return new Failure("rate_limited", `${vendor}: ${error.message}; retry in ${error.retryAfterSeconds} s`, {
      headers: { "retry-after": String(error.retryAfterSeconds) },
    });
  }
  if (error instanceof PacingUnavailable) {
    return new Failure("unavailable", `${vendor}: ${error.message}; retry in ${error.retryAfterSeconds} s`, {
      headers: { "retry-after": String(error.retryAfterSeconds) },
    });
  }
  if (error instanceof UpstreamFailure) {
    const code = error.kind === "timeout" ? "upstream_timeout" : error.kind === "too_large" ? "upstream_too_large" : "upstream_error";
    return new Failure(code, `${vendor}: ${error.message}`);
  }
  if (error instanceof InvalidPosition) return new Failure("invalid_cursor", error.message);
  if (error instanceof FilterNotSupported) {
    return new Failure("filter_not_supported", error.message, {
      details: [{ path: error.filter.split("=")[0] ?? "", message: error.filter }],
    });
  }
  if (error instanceof UpstreamShapeError) return new Failure("upstream_error", `${vendor}: ${error.message}`);
  if (error instanceof MappingError) return new Failure("upstream_error", `${vendor}: mapping ${error.message}`);
  return error;
}
