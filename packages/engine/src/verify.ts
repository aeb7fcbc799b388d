import { TokenRefused } from "./access-tokens.ts";
import { UpstreamShapeError } from "./calls.ts";
import { render } from "./template.ts";
import type { UpstreamClient, UpstreamResponse, UpstreamTarget } from "./upstream.ts";

/**
 * Makes the integration's one cheap verify call. `ok` when it answers 2xx with what its mapping
 * reads: a JSON object or list and, where the definition names one, the upstream account the
 * credentials open (`account`). A 2xx with anything else (a web page at a wrong base URL, an
 * empty body) is no verdict on the credentials: it is thrown as an UpstreamShapeError.
 */
export async function verifyConnection(
  client: UpstreamClient,
  target: UpstreamTarget,
): Promise<{ ok: boolean; refused: boolean; response: UpstreamResponse; account?: string | undefined }> {
  const { verify } = target.integration;
  const context = { credentials: target.credentials, config: target.config };
  const query = Object.fromEntries(Object.entries(verify.query).map(([k, v]) => [k, render(v, context)]));
  let response: UpstreamResponse;
  try {
    response = await client.request(target, { method: verify.method, path: verify.path, query });
  } catch (error) {
    // A token endpoint that refuses the credentials is a verdict on them, as a 401 would be.
    if (error instanceof TokenRefused && error.response) return { ok: false, refused: true, response: error.response };
    throw error;
  }
  if (response.status < 200 || response.status >= 300) return { ok: false, refused: verify.refused.includes(response.status), response };
  const body = response.body;
  if (body === null || typeof body !== "object") {
    const type = response.headers["content-type"] || "no content type";
    throw new UpstreamShapeError(
      `the credential check answered ${response.status} with ${type}, not the JSON it expects (upstream status ${response.status}); is the base URL right?`,
    );
  }
  const accountOf = target.integration.accountOf;
  if (!accountOf) return { ok: true, refused: false, response };
  const account = await accountOf.evaluate(body, { config: target.config }).catch(() => undefined);
  const identity = typeof account === "string" || typeof account === "number" ? String(account) : "";
  if (!identity) {
    throw new UpstreamShapeError(
      `the credential check answered ${response.status} without the account it names (upstream status ${response.status}); is the base URL right?`,
    );
  }
  return { ok: true, refused: false, response, account: identity };
}
