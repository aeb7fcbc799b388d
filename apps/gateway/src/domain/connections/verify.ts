import { type Integration, isThrottled, statusError, type UpstreamClient, UpstreamStatusError, verifyConnection } from "@unifold/engine";
import { Failure, failureOf, redacted, upstreamBody, upstreamWords } from "../failure.ts";

/**
 * The integration's verify call with these credentials: `ok` when the vendor accepts them,
 * `refused` when it says they are wrong (401/403, or the integration's `verify.refused`). Any
 * other answer is no verdict on the credentials and is thrown as the upstream error it is: a
 * 429 (rate limited), a 5xx or no answer (the vendor failed), anything else (an odd status, a
 * redirect, a page that is not the API: most often a wrong base URL).
 */
export async function verifyCredentials(
  upstream: UpstreamClient,
  integration: Integration,
  config: Record<string, unknown>,
  credentials: Record<string, string>,
) {
  const secrets = Object.values(credentials);
  try {
    const result = await verifyConnection(upstream, { integration, config, credentials });
    const { status } = result.response;
    if (result.ok || result.refused) return result;
    const throttled = await isThrottled(integration, result.response);
    if (throttled || status >= 500) throw new UpstreamStatusError(result.response, undefined, [], throttled);
    throw new Failure(
      "upstream_error",
      `${integration.name} answered the credential check with upstream status ${status}, which neither accepts nor refuses credentials; is the base URL right?`,
      { upstream: { status, body: upstreamBody(result.response.body, result.response.text, secrets) } },
    );
  } catch (error) {
    throw failureOf(integration, error, secrets);
  }
}

/**
 * Verifies credentials about to be saved: a vendor that rejects them refuses the request.
 * Answers the upstream account they open, when the integration can tell.
 */
export async function verifyOrReject(
  upstream: UpstreamClient,
  integration: Integration,
  config: Record<string, unknown>,
  credentials: Record<string, string>,
) {
  const { ok, response, account } = await verifyCredentials(upstream, integration, config, credentials);
  if (!ok) {
    const secrets = Object.values(credentials);
    const said = (await statusError(integration, response)).upstreamMessage;
    const reason = said === undefined ? undefined : upstreamWords(redacted(said, secrets));
    throw new Failure(
      "invalid_request",
      `${integration.name} rejected the credentials (upstream status ${response.status})${reason ? `: ${reason}` : ""}`,
      { upstream: { status: response.status, body: upstreamBody(response.body, response.text, secrets) }, reason },
    );
  }
  return account;
}
