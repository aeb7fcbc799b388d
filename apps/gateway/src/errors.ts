import { ScimProblem } from "@unifold/engine";
import { Failure, type ErrorCode } from "./domain/failure.ts";
import { ScimRefusal } from "./domain/scim/index.ts";

/** The one table from the contract's error codes to HTTP statuses. */
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
} as const satisfies Record<ErrorCode, number>;

/** A failure as the contract's error body, with its status. */
export function errorResponse(failure: Failure, requestId: string) {
  const status = errorStatus[failure.code];
  return {
    status,
    body: {
      error: {
        code: failure.code,
        message: failure.message,
        status,
        request_id: requestId,
        ...(failure.extra.details && { details: failure.extra.details }),
        ...(failure.extra.upstream && { upstream: failure.extra.upstream }),
      },
    },
  };
}

const SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error";

/**
 * Anything a SCIM request ends in, as RFC 7644 §3.12 shapes it: `status` a string, a `scimType`
 * where the RFC names one. Undefined for an error the edge must log (answered as a 500).
 */
export function scimErrorResponse(
  error: unknown,
): { status: number; body: Record<string, unknown>; headers?: Record<string, string> } | undefined {
  const body = (status: number, detail: string, scimType?: string) => ({
    status,
    body: { schemas: [SCIM_ERROR], ...(scimType && { scimType }), detail, status: String(status) },
  });
  if (error instanceof ScimProblem) return body(error.status, error.detail, error.scimType);
  if (error instanceof ScimRefusal) return { ...body(error.status, error.detail), headers: error.headers };
  // A body that is no JSON at all (hono's parser throws a SyntaxError).
  if (error instanceof SyntaxError) return body(400, "the request body is not valid JSON", "invalidSyntax");
  if (error instanceof Failure) {
    const status = errorStatus[error.code];
    const shown = body(status, error.message, error.code === "invalid_request" ? "invalidValue" : undefined);
    return { ...shown, headers: error.extra.headers };
  }
  return undefined;
}
