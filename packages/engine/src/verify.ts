import { render } from "./template.ts";
import type { UpstreamClient, UpstreamResponse, UpstreamTarget } from "./upstream.ts";

/**
 * Makes the integration's one cheap verify call; 2xx means the credentials work. `account` is the
 * upstream account they open, when the definition says how to read it from the answer.
 */
export async function verifyConnection(
  client: UpstreamClient,
  target: UpstreamTarget,
): Promise<{ ok: boolean; response: UpstreamResponse; account?: string | undefined }> {
  const { verify } = target.integration;
  const context = { credentials: target.credentials, config: target.config };
  const query = Object.fromEntries(Object.entries(verify.query).map(([k, v]) => [k, render(v, context)]));
  const response = await client.request(target, { method: verify.method, path: verify.path, query });
  const ok = response.status >= 200 && response.status < 300;
  const account = ok ? await target.integration.accountOf?.evaluate(response.body, { config: target.config }) : undefined;
  const identity = typeof account === "string" || typeof account === "number" ? String(account) : undefined;
  return { ok, response, account: identity || undefined };
}
