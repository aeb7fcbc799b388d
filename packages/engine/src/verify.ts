import { render } from "./template.ts";
import type { UpstreamClient, UpstreamResponse, UpstreamTarget } from "./upstream.ts";

/** Makes the integration's one cheap verify call; 2xx means the credentials work. */
export async function verifyConnection(
  client: UpstreamClient,
  target: UpstreamTarget,
): Promise<{ ok: boolean; response: UpstreamResponse }> {
  const { verify } = target.integration;
  const context = { credentials: target.credentials, config: target.config };
  const query = Object.fromEntries(Object.entries(verify.query).map(([k, v]) => [k, render(v, context)]));
  const response = await client.request(target, { method: verify.method, path: verify.path, query });
  return { ok: response.status >= 200 && response.status < 300, response };
}
