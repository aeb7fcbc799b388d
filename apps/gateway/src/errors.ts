import type { ErrorCode, Failure } from "./domain/failure.ts";

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
