import type { Integration } from "./definition.ts";
import { render } from "./template.ts";
import { isThrottled, type QueryValue, type UpstreamClient, type UpstreamResponse, type UpstreamTarget } from "./upstream.ts";

/** The upstream answered, but not with success. Carries what the caller needs to report it. */
export class UpstreamStatusError extends Error {
  constructor(
    readonly response: UpstreamResponse,
    readonly upstreamMessage: string | undefined,
    /** Earlier calls of the same write that had already taken effect. */
    readonly applied: string[] = [],
    /** The upstream asked to slow down (a 429, or what `errors.throttled` recognises). */
    readonly throttled = response.status === 429,
  ) {
    super(`upstream status ${response.status}${upstreamMessage ? `: ${upstreamMessage}` : ""}`);
    this.name = "UpstreamStatusError";
  }
}

/** The upstream answered 2xx with something that is not the promised shape (bad JSON, missing records). */
export class UpstreamShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UpstreamShapeError";
  }
}

/** Fills `{{id}}`-style placeholders in a path, each value URL-encoded as one segment. */
export function renderPath(template: string, params: Record<string, string>): string {
  const path = render(template, params, encodeURIComponent);
  if (path === undefined) throw new Error(`path ${template} needs ${Object.keys(params).join(", ") || "parameters"}`);
  return path;
}

/** One upstream call that must succeed: a non-2xx answer is thrown as an UpstreamStatusError. */
export async function call(
  client: UpstreamClient,
  target: UpstreamTarget,
  method: string,
  path: string,
  query: Record<string, QueryValue | undefined>,
  signal?: AbortSignal,
) {
  const response = await client.request(target, { method, path, query, signal });
  if (response.status < 200 || response.status >= 300) throw await statusError(target.integration, response);
  return response;
}

export async function statusError(integration: Integration, response: UpstreamResponse): Promise<UpstreamStatusError> {
  let message: string | undefined;
  if (integration.errorMessage && response.body !== undefined) {
    const value = await integration.errorMessage.evaluate(response.body).catch(() => undefined);
    if (typeof value === "string") message = value;
  }
  return new UpstreamStatusError(response, message, [], await isThrottled(integration, response));
}

/** The parsed body; a body that did not parse is the upstream's fault, not an empty answer. */
export function bodyOf(response: UpstreamResponse): unknown {
  if (response.body === undefined && response.text.length > 0)
    throw new UpstreamShapeError("the upstream answered with a body that is not valid JSON");
  return response.body;
}
