import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createUpstreamClient,
  type Integration,
  loadIntegrations,
  rateLimitHeaders,
  retryAfterOf,
  upstreamResponse,
} from "../src/index.ts";

const integrations = loadIntegrations(fileURLToPath(new URL("../../../mappings", import.meta.url)));
/** Okta sends its reset as a Unix time; Postman as seconds from now. */
const epoch = integrations.get("okta")!;
const delta = integrations.get("postman-scim")!;
const now = Date.UTC(2026, 11, 3, 12, 0, 0);
const answer = (status: number, headers: Record<string, string>) => upstreamResponse(status, headers, Buffer.alloc(0));

describe("a vendor's rate-limit headers, in the contract's terms", () => {
  it("passes the reset on as seconds from now, whichever way the vendor counts", () => {
    const okta = answer(200, {
      "x-rate-limit-limit": "600",
      "x-rate-limit-remaining": "12",
      "x-rate-limit-reset": String(now / 1000 + 42),
    });
    expect(rateLimitHeaders(epoch, okta, now)).toEqual({ "ratelimit-limit": "600", "ratelimit-remaining": "12", "ratelimit-reset": "42" });
    const postman = answer(200, { "ratelimit-limit": "300", "ratelimit-remaining": "0", "ratelimit-reset": "42" });
    expect(rateLimitHeaders(delta, postman, now)).toEqual({
      "ratelimit-limit": "300",
      "ratelimit-remaining": "0",
      "ratelimit-reset": "42",
    });
    // A window that ended already is 0, never negative; a reset that is no number is left out.
    expect(rateLimitHeaders(epoch, answer(200, { "x-rate-limit-reset": String(now / 1000 - 5) }), now)).toEqual({ "ratelimit-reset": "0" });
    expect(rateLimitHeaders(epoch, answer(200, { "x-rate-limit-reset": "soon" }), now)).toEqual({});
    expect(rateLimitHeaders(epoch, answer(200, {}), now)).toEqual({});
  });

  it("takes a 429's Retry-After as sent, else the end of the vendor's window; nothing for other statuses", () => {
    const reset = { "x-rate-limit-reset": String(now / 1000 + 30) };
    expect(retryAfterOf(epoch, answer(429, reset), now)).toBe("30");
    expect(retryAfterOf(epoch, answer(429, { ...reset, "retry-after": "3" }), now)).toBe("3");
    expect(retryAfterOf(epoch, answer(503, reset), now)).toBeUndefined();
    expect(retryAfterOf(epoch, answer(429, {}), now)).toBeUndefined();
    expect(retryAfterOf(delta, answer(429, { "ratelimit-reset": "7" }), now)).toBe("7");
  });
});

describe("a 429 with only a reset time, over HTTP", () => {
  let server: Server;
  let base: string;
  let seen = 0;
  let resetIn = 0;
  beforeAll(async () => {
    server = createServer((_req, res) => {
      seen++;
      // The first ask of each round is refused until the window ends, as Okta refuses.
      if (seen === 1) {
        res.writeHead(429, { "content-type": "application/json", "x-rate-limit-reset": String(Math.ceil(Date.now() / 1000) + resetIn) });
        res.end('{"errorCode":"E0000047"}');
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{}");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const target = (integration: Integration) => ({ integration, config: { base_url: base }, credentials: { api_token: "x" } });

  it("goes back to the caller at once when the window ends past the wait cap", async () => {
    seen = 0;
    resetIn = 30;
    const client = createUpstreamClient({ network: { allowPrivate: true }, retryAfterCapMs: 5_000, enforceRateLimits: false });
    try {
      const response = await client.request(target(epoch), { method: "GET", path: "/api/v1/users" });
      expect(response.status).toBe(429);
      expect(seen).toBe(1);
    } finally {
      await client.close();
    }
  });

  it("waits the window out and asks again when it ends within the cap", async () => {
    seen = 0;
    resetIn = 1;
    const client = createUpstreamClient({ network: { allowPrivate: true }, retryAfterCapMs: 5_000, enforceRateLimits: false });
    try {
      const response = await client.request(target(epoch), { method: "GET", path: "/api/v1/users" });
      expect(response.status).toBe(200);
      expect(seen).toBe(2);
    } finally {
      await client.close();
    }
  });
});
