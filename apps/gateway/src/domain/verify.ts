import { type Integration, UpstreamStatusError, verifyConnection } from "@unifold/engine";
import { ApiError, apiErrorOf, upstreamBody } from "../errors.ts";
import type { Services } from "../services.ts";

/**
 * The integration's verify call with these credentials: `ok` when the vendor accepts them. A
 * vendor that fails (5xx) or cannot be reached is an upstream error, not a verdict on the key.
 */
export async function verifyCredentials(
  services: Services,
  integration: Integration,
  config: Record<string, unknown>,
  credentials: Record<string, string>,
) {
  const secrets = Object.values(credentials);
  try {
    const result = await verifyConnection(services.upstream, { integration, config, credentials });
    if (result.response.status >= 500) throw new UpstreamStatusError(result.response, undefined);
    return result;
  } catch (error) {
    throw apiErrorOf(integration, error, secrets);
  }
}

/** Verifies credentials an admin is about to save: a vendor that rejects them refuses the request. */
export async function verifyOrReject(
  services: Services,
  integration: Integration,
  config: Record<string, unknown>,
  credentials: Record<string, string>,
) {
  const { ok, response } = await verifyCredentials(services, integration, config, credentials);
  if (!ok) {
    throw new ApiError("invalid_request", `${integration.name} rejected the credentials (upstream status ${response.status})`, {
      upstream: { status: response.status, body: upstreamBody(response.body, response.text, Object.values(credentials)) },
    });
  }
}
