import { type Integration, statusError, UpstreamStatusError, verifyConnection } from "@unifold/engine";
import { ApiError, apiErrorOf, redacted, upstreamBody } from "../errors.ts";
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

/**
 * Verifies credentials about to be saved: a vendor that rejects them refuses the request.
 * Answers the upstream account they open, when the integration can tell.
 */
export async function verifyOrReject(
  services: Services,
  integration: Integration,
  config: Record<string, unknown>,
  credentials: Record<string, string>,
) {
  const { ok, response, account } = await verifyCredentials(services, integration, config, credentials);
  if (!ok) {
    const secrets = Object.values(credentials);
    const said = (await statusError(integration, response)).upstreamMessage;
    const reason = said === undefined ? undefined : redacted(said, secrets);
    throw new ApiError(
      "invalid_request",
      `${integration.name} rejected the credentials (upstream status ${response.status})${reason ? `: ${reason}` : ""}`,
      { upstream: { status: response.status, body: upstreamBody(response.body, response.text, secrets) }, reason },
    );
  }
  return account;
}
