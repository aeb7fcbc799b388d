import type { RunningSandbox } from "@unifold/sandbox";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { closeAll, type Gateway, type Slug, startStubUpstream, startWithSandbox } from "./harness.ts";

describe("resilience: timeouts, retries and Retry-After", () => {
  let gw: Gateway;
  let sandbox: RunningSandbox;
  let conn: Record<Slug, string>;
  let apiKey: string;

  beforeAll(async () => {
    ({ gw, sandbox, conn, apiKey } = await startWithSandbox({ users: 10, gateway: { upstream: { timeoutMs: 1_000 } } }));
  });
  afterEach(() => sandbox.world.faults.clear());
  afterAll(() => closeAll(gw, sandbox));

  const users = (slug: Slug) => gw.call("GET", `/unified/user-directory/users?connection_id=${conn[slug]}&limit=5`, { key: apiKey });
  const attemptsDuring = async <T>(work: () => Promise<T>): Promise<[T, number]> => {
    const before = sandbox.world.requests.length;
    const result = await work();
    return [result, sandbox.world.requests.length - before];
  };

  for (const [kind, spec] of [
    ["502", { kind: "status", status: 502 }],
    ["503", { kind: "status", status: 503 }],
    ["504", { kind: "status", status: 504 }],
    ["a reset connection", { kind: "reset" }],
  ] as const) {
    it(`retries a read after ${kind} and succeeds`, async () => {
      sandbox.fault({ vendor: "jumpcloud", count: 2, ...spec });
      const [res, attempts] = await attemptsDuring(() => users("jumpcloud"));
      expect(res.status).toBe(200);
      expect(res.body.result).toHaveLength(5);
      expect(attempts).toBe(3);
    });
  }

  it("does not retry a 500 (not a transient status) and says so", async () => {
    sandbox.fault({ vendor: "jostle", kind: "status", status: 500, count: 1 });
    const [res, attempts] = await attemptsDuring(() => users("jostle-scim"));
    expect(res.status).toBe(502);
    expect(attempts).toBe(1);
  });

  it("waits out a short Retry-After on a 429, then succeeds", async () => {
    sandbox.fault({ vendor: "postman", kind: "status", status: 429, retry_after: "1", count: 1 });
    const started = performance.now();
    const [res, attempts] = await attemptsDuring(() => users("postman-scim"));
    expect(res.status).toBe(200);
    expect(attempts).toBe(2);
    expect(performance.now() - started).toBeGreaterThanOrEqual(950);
  });

  it("answers a Retry-After over the cap at once as rate_limited, passing retry-after on", async () => {
    sandbox.fault({ vendor: "postman", kind: "status", status: 429, retry_after: "120", count: 1 });
    const started = performance.now();
    const [res, attempts] = await attemptsDuring(() => users("postman-scim"));
    expect(res.status).toBe(429);
    expect(res.body.error.code).toBe("rate_limited");
    expect(res.headers.get("retry-after")).toBe("120");
    expect(attempts).toBe(1);
    expect(performance.now() - started).toBeLessThan(500);
  });

  it("answers malformed and truncated upstream bodies with a clear 502, nothing half-mapped", async () => {
    sandbox.fault({ vendor: "jostle", kind: "malformed", count: 1 });
    const malformed = await users("jostle-scim");
    expect(malformed.status).toBe(502);
    expect(malformed.body.error.message).toMatch(/not valid JSON/);
    expect(malformed.body.result).toBeUndefined();
    sandbox.fault({ vendor: "jumpcloud", kind: "truncate", count: 3 });
    const truncated = await users("jumpcloud");
    expect(truncated.status).toBe(502);
    expect(truncated.body.error.code).toBe("upstream_error");
  });

  it("answers a malformed page on the proxy, whose records are spliced unparsed, with the same 502", async () => {
    sandbox.fault({ vendor: "jostle", kind: "malformed", count: 1 });
    const proxied = await gw.call("GET", `/proxy/Users?connection_id=${conn["jostle-scim"]}&limit=5`, { key: apiKey });
    expect(proxied.status).toBe(502);
    expect(proxied.body.error.message).toMatch(/not valid JSON/);
    // And the next, well-formed page is valid JSON whose records are the vendor's, byte for byte.
    const ok = await gw.call("GET", `/proxy/Users?connection_id=${conn["jostle-scim"]}&limit=5`, { key: apiKey });
    expect(ok.status).toBe(200);
    expect(ok.body.result).toHaveLength(5);
    const direct = await fetch(`${sandbox.baseUrl("jostle")}/Users?startIndex=1&count=6`, {
      headers: { authorization: `Bearer ${sandbox.key("jostle", "acme")}` },
    });
    const spliced = ok.text.slice('{"result":['.length, ok.text.indexOf('],"next_cursor"'));
    expect(spliced.length).toBeGreaterThan(100);
    expect(await direct.text()).toContain(spliced);
  });

  it("gives up on a stalled upstream within the timeout: 504 upstream_timeout", async () => {
    sandbox.fault({ vendor: "jumpcloud", kind: "stall", stall_ms: 10_000, count: 1 });
    const started = performance.now();
    const res = await users("jumpcloud");
    expect(res.status).toBe(504);
    expect(res.body.error.code).toBe("upstream_timeout");
    expect(performance.now() - started).toBeLessThan(2_500);
  });

  it("aborts the upstream call when the caller disconnects", async () => {
    let upstreamClosed = false;
    const stub = await startStubUpstream((req) => {
      // Never answers; notes when the gateway hangs up.
      req.socket.on("close", () => {
        upstreamClosed = true;
      });
    });
    try {
      const created = await gw.call("POST", "/connections?verify=false", {
        body: { tenant_id: "acme", integration: "jumpcloud", credentials: { api_key: "k" }, config: { base_url: stub.url } },
      });
      const controller = new AbortController();
      const pending = fetch(`${gw.url}/unified/user-directory/users?connection_id=${created.body.id}`, {
        headers: { authorization: `Bearer ${apiKey}` },
        signal: controller.signal,
      }).catch(() => "aborted");
      while (stub.received.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      controller.abort();
      expect(await pending).toBe("aborted");
      const deadline = Date.now() + 500;
      while (!upstreamClosed && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      // Well before the gateway's own 1 s timeout would have closed it.
      expect(upstreamClosed).toBe(true);
      expect(stub.received).toHaveLength(1);
    } finally {
      await stub.close();
    }
  });

  it("answers a 502, not a user with no id, when a SCIM server answers GET /Users/{id} with a ListResponse", async () => {
    const stub = await startStubUpstream((_req, res) => {
      res.setHeader("content-type", "application/scim+json");
      res.end(
        JSON.stringify({
          schemas: ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
          totalResults: 1,
          Resources: [{ id: "u1", userName: "u1@acme.example.com" }],
        }),
      );
    });
    try {
      const created = await gw.call("POST", "/connections?verify=false", {
        body: { tenant_id: "acme", integration: "jostle-scim", credentials: { api_key: "k" }, config: { base_url: stub.url } },
      });
      const res = await gw.call("GET", `/unified/user-directory/users/u1?connection_id=${created.body.id}`, { key: apiKey });
      expect(res.status).toBe(502);
      expect(res.body.error.code).toBe("upstream_error");
      expect(res.body.error.message).toMatch(/jostle-scim answered a users record the unified model cannot serve: no valid id/);
    } finally {
      await stub.close();
    }
  });
});
