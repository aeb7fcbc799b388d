import { afterEach, describe, expect, it } from "vitest";
import { type Slug, startStubUpstream, useGatewayWithSandbox } from "./harness.ts";

describe("resilience: timeouts, retries and Retry-After", () => {
  const fx = useGatewayWithSandbox({ tenants: { acme: 10 }, gateway: { upstream: { timeoutMs: 1_000 } } });
  afterEach(() => fx.sandbox.world.faults.clear());

  const users = (slug: Slug) =>
    fx.gw.call("GET", `/unified/user-directory/users?connection_id=${fx.conn[slug]}&limit=5`, { key: fx.apiKey });
  const attemptsDuring = async <T>(work: () => Promise<T>): Promise<[T, number]> => {
    const before = fx.sandbox.world.requests.length;
    const result = await work();
    return [result, fx.sandbox.world.requests.length - before];
  };

  for (const [kind, spec] of [
    ["502", { kind: "status", status: 502 }],
    ["503", { kind: "status", status: 503 }],
    ["504", { kind: "status", status: 504 }],
    ["a reset connection", { kind: "reset" }],
  ] as const) {
    it(`retries a read after ${kind} and succeeds`, async () => {
      fx.sandbox.fault({ vendor: "jumpcloud", count: 2, ...spec });
      const [res, attempts] = await attemptsDuring(() => users("jumpcloud"));
      expect(res.status).toBe(200);
      expect(res.body.result).toHaveLength(5);
      expect(attempts).toBe(3);
    });
  }

  it("does not retry a 500 (not a transient status) and says so", async () => {
    fx.sandbox.fault({ vendor: "jostle", kind: "status", status: 500, count: 1 });
    const [res, attempts] = await attemptsDuring(() => users("jostle-scim"));
    expect(res.status).toBe(502);
    expect(attempts).toBe(1);
  });

  it("waits out a short Retry-After on a 429, then succeeds", async () => {
    fx.sandbox.fault({ vendor: "postman", kind: "status", status: 429, retry_after: "1", count: 1 });
    const started = performance.now();
    const [res, attempts] = await attemptsDuring(() => users("postman-scim"));
    expect(res.status).toBe(200);
    expect(attempts).toBe(2);
    expect(performance.now() - started).toBeGreaterThanOrEqual(950);
  });

  it("answers a Retry-After over the cap at once as rate_limited, passing retry-after on", async () => {
    fx.sandbox.fault({ vendor: "postman", kind: "status", status: 429, retry_after: "120", count: 1 });
    const started = performance.now();
    const [res, attempts] = await attemptsDuring(() => users("postman-scim"));
    expect(res.status).toBe(429);
    expect(res.body.error.code).toBe("rate_limited");
    expect(res.headers.get("retry-after")).toBe("120");
    expect(attempts).toBe(1);
    expect(performance.now() - started).toBeLessThan(500);
  });

  it("answers malformed and truncated upstream bodies with a clear 502, nothing half-mapped", async () => {
    fx.sandbox.fault({ vendor: "jostle", kind: "malformed", count: 1 });
    const malformed = await users("jostle-scim");
    expect(malformed.status).toBe(502);
    expect(malformed.body.error.message).toMatch(/not valid JSON/);
    expect(malformed.body.result).toBeUndefined();
    fx.sandbox.fault({ vendor: "jumpcloud", kind: "truncate", count: 3 });
    const truncated = await users("jumpcloud");
    expect(truncated.status).toBe(502);
    expect(truncated.body.error.code).toBe("upstream_error");
  });

  it("answers a malformed page on the proxy, whose records are spliced unparsed, with the same 502", async () => {
    fx.sandbox.fault({ vendor: "jostle", kind: "malformed", count: 1 });
    const proxied = await fx.gw.call("GET", `/proxy/Users?connection_id=${fx.conn["jostle-scim"]}&limit=5`, { key: fx.apiKey });
    expect(proxied.status).toBe(502);
    expect(proxied.body.error.message).toMatch(/not valid JSON/);
    // And the next, well-formed page is valid JSON whose records are the vendor's, byte for byte.
    const ok = await fx.gw.call("GET", `/proxy/Users?connection_id=${fx.conn["jostle-scim"]}&limit=5`, { key: fx.apiKey });
    expect(ok.status).toBe(200);
    expect(ok.body.result).toHaveLength(5);
    const direct = await fetch(`${fx.sandbox.baseUrl("jostle")}/Users?startIndex=1&count=6`, {
      headers: { authorization: `Bearer ${fx.sandbox.key("jostle", "acme")}` },
    });
    const spliced = ok.text.slice('{"result":['.length, ok.text.indexOf('],"next_cursor"'));
    expect(spliced.length).toBeGreaterThan(100);
    expect(await direct.text()).toContain(spliced);
  });

  it("gives up on a stalled upstream within the timeout: 504 upstream_timeout", async () => {
    fx.sandbox.fault({ vendor: "jumpcloud", kind: "stall", stall_ms: 10_000, count: 1 });
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
      const created = await fx.gw.call("POST", "/connections?verify=false", {
        body: { tenant_id: "acme", integration: "jumpcloud", credentials: { api_key: "k" }, config: { base_url: stub.url } },
      });
      const controller = new AbortController();
      const pending = fetch(`${fx.gw.url}/unified/user-directory/users?connection_id=${created.body.id}`, {
        headers: { authorization: `Bearer ${fx.apiKey}` },
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
      const created = await fx.gw.call("POST", "/connections?verify=false", {
        body: { tenant_id: "acme", integration: "jostle-scim", credentials: { api_key: "k" }, config: { base_url: stub.url } },
      });
      const res = await fx.gw.call("GET", `/unified/user-directory/users/u1?connection_id=${created.body.id}`, { key: fx.apiKey });
      expect(res.status).toBe(502);
      expect(res.body.error.code).toBe("upstream_error");
      expect(res.body.error.message).toMatch(/jostle-scim answered a users record the unified model cannot serve: no valid id/);
    } finally {
      await stub.close();
    }
  });

  it("answers an upstream body over the cap (10 MiB by default) with 502 upstream_too_large, declared or streamed", async () => {
    const size = 11 * 1024 * 1024;
    const stub = await startStubUpstream((req, res) => {
      res.setHeader("content-type", "application/json");
      if (req.url?.includes("declared")) res.setHeader("content-length", String(size));
      // A page of users that never ends within the cap: '{"results":[' then padding records.
      res.write('{"totalCount":1,"results":[');
      const chunk = Buffer.alloc(64 * 1024, " ");
      let sent = 0;
      const pump = () => {
        while (sent < size - 64 * 1024) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once("drain", pump);
        }
        res.end("]}");
      };
      pump();
      res.on("error", () => {});
    });
    try {
      const created = await fx.gw.call("POST", "/connections?verify=false", {
        body: { tenant_id: "acme", integration: "jumpcloud", credentials: { api_key: "k" }, config: { base_url: stub.url } },
      });
      for (const path of ["/proxy/systemusers", "/unified/user-directory/users", "/passthrough/declared"]) {
        const res = await fx.gw.call("GET", `${path}?connection_id=${created.body.id}`, { key: fx.apiKey });
        expect(res.status, path).toBe(502);
        expect(res.body.error.code, path).toBe("upstream_too_large");
        expect(res.body.error.message).toMatch(/answered with a body over 10485760 bytes/);
      }
    } finally {
      await stub.close();
    }
  });

  it("never answers 200 with invalid JSON: bad escapes, raw control characters and invalid UTF-8 in a page are a 502", async () => {
    const pages: Record<string, Buffer> = {
      escape: Buffer.from('{"totalCount":1,"results":[{"_id":"a1","username":"bad \\x escape"}]}'),
      newline: Buffer.from('{"totalCount":1,"results":[{"_id":"a1","username":"raw\nnewline"}]}'),
      utf8: Buffer.concat([
        Buffer.from('{"totalCount":1,"results":[{"_id":"a1","username":"bad '),
        Buffer.from([0xc3, 0x28]),
        Buffer.from('"}]}'),
      ]),
      unicode: Buffer.from('{"totalCount":1,"results":[{"_id":"a1","username":"short \\u12"}]}'),
    };
    const stub = await startStubUpstream((req, res) => {
      const kind = new URL(req.url ?? "/", "http://stub").pathname.split("/")[1]!;
      res.setHeader("content-type", "application/json");
      res.end(pages[kind] ?? Buffer.from('{"totalCount":0,"results":[]}'));
    });
    try {
      for (const kind of Object.keys(pages)) {
        const created = await fx.gw.call("POST", "/connections?verify=false", {
          body: { tenant_id: "acme", integration: "jumpcloud", credentials: { api_key: "k" }, config: { base_url: `${stub.url}/${kind}` } },
        });
        for (const path of ["/proxy/systemusers", "/unified/user-directory/users"]) {
          const res = await fx.gw.call("GET", `${path}?connection_id=${created.body.id}`, { key: fx.apiKey });
          expect(res.status, `${kind} ${path}: ${res.text}`).toBe(502);
          expect(res.body.error.code).toBe("upstream_error");
        }
      }
    } finally {
      await stub.close();
    }
  });

  it("gets every slot back after a storm of callers who give up on a slow upstream: normal traffic then sees no 429", async () => {
    fx.sandbox.fault({ vendor: "jumpcloud", kind: "latency", latency_ms: 3_000, ratio: 1, method: "GET" });
    const url = `${fx.gw.url}/unified/user-directory/users?connection_id=${fx.conn.jumpcloud}&limit=5`;
    // More callers than the connection's 10 slots, each giving up after 400 ms, in flight or still waiting.
    const storm = Array.from({ length: 25 }, () =>
      fetch(url, { headers: { authorization: `Bearer ${fx.apiKey}` }, signal: AbortSignal.timeout(400) }).then(
        (res) => res.status,
        () => "gave up",
      ),
    );
    expect(new Set(await Promise.all(storm))).toEqual(new Set(["gave up"]));
    fx.sandbox.world.faults.clear();
    const after = await Promise.all(Array.from({ length: 20 }, () => users("jumpcloud")));
    expect(after.map((res) => res.status)).toEqual(Array(20).fill(200));
  });

  describe("upstreams that page wrongly", () => {
    const scimUser = (i: number) => ({ id: `u${i}`, userName: `user${i}@acme.example.com`, active: true });
    /** A SCIM server standing in for Jostle, answering /Users with what `page` says for a startIndex. */
    async function scimStub(page: (startIndex: number, count: number) => { total: number; records: object[] }) {
      return startStubUpstream((req, res) => {
        const url = new URL(req.url ?? "/", "http://stub");
        const startIndex = Number(url.searchParams.get("startIndex") ?? 1);
        const count = Number(url.searchParams.get("count") ?? 100);
        const { total, records } = page(startIndex, count);
        res.setHeader("content-type", "application/scim+json");
        res.end(
          JSON.stringify({ schemas: ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], totalResults: total, Resources: records }),
        );
      });
    }
    async function walk(stubUrl: string, limit: number, path = "/unified/user-directory/users") {
      const created = await fx.gw.call("POST", "/connections?verify=false", {
        body: { tenant_id: "acme", integration: "jostle-scim", credentials: { api_key: "k" }, config: { base_url: stubUrl } },
      });
      const pages: { status: number; body: any }[] = [];
      let cursor: string | null = null;
      do {
        const res = await fx.gw.call(
          "GET",
          `${path}?connection_id=${created.body.id}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
          {
            key: fx.apiKey,
          },
        );
        pages.push(res);
        cursor = res.status === 200 ? res.body.next_cursor : null;
      } while (cursor && pages.length < 50);
      return pages;
    }

    it("ends every walk through the sandbox when its totals lie, and answers a 502 when it ignores the page position", async () => {
      const walkAll = async (slug: Slug, limit: number) => {
        const pages: { status: number; body: any }[] = [];
        let cursor: string | null = null;
        do {
          const res = await fx.gw.call(
            "GET",
            `/unified/user-directory/users?connection_id=${fx.conn[slug]}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
            { key: fx.apiKey },
          );
          pages.push(res);
          cursor = res.status === 200 ? res.body.next_cursor : null;
        } while (cursor && pages.length < 50);
        return pages;
      };
      for (const vendor of ["jumpcloud", "postman"] as const) {
        const slug: Slug = vendor === "jumpcloud" ? "jumpcloud" : "postman-scim";
        fx.sandbox.fault({ vendor, kind: "lying_total", total: 1000, ratio: 1, method: "GET" });
        const pages = await walkAll(slug, 4);
        fx.sandbox.world.faults.clear();
        expect(pages.at(-1)!.body.next_cursor, vendor).toBeNull();
        const ids = pages.flatMap((p) => p.body.result.map((u: { id: string }) => u.id));
        expect(new Set(ids).size, vendor).toBe(ids.length);
        expect(ids.length, vendor).toBe(
          vendor === "jumpcloud" ? fx.sandbox.jumpcloud.tenant("acme").users.size : fx.sandbox.postman.tenant("acme").users.size,
        );
      }
      fx.sandbox.fault({ vendor: "jumpcloud", kind: "ignore_paging", ratio: 1, method: "GET" });
      const pages = await walkAll("jumpcloud", 4);
      fx.sandbox.world.faults.clear();
      expect(pages.at(-1)!.status).toBe(502);
      expect(pages.at(-1)!.body.error.message).toMatch(
        /^JumpCloud: the upstream answered position \d+ with records it had already answered/,
      );
    });

    for (const path of ["/unified/user-directory/users", "/proxy/Users"]) {
      it(`ends a walk of ${path} at the first empty page when the upstream's total lies`, async () => {
        // Claims 1,000 users, holds 10.
        const stub = await scimStub((startIndex, count) => ({
          total: 1000,
          records: Array.from({ length: Math.max(0, Math.min(count, 11 - startIndex)) }, (_, i) => scimUser(startIndex + i)),
        }));
        try {
          for (const limit of [1, 4, 50]) {
            const pages = await walk(stub.url, limit, path);
            expect(pages.every((p) => p.status === 200)).toBe(true);
            expect(pages.at(-1)!.body.next_cursor).toBeNull();
            expect(pages.flatMap((p) => p.body.result.map((r: { id: string }) => r.id))).toEqual(
              Array.from({ length: 10 }, (_, i) => `u${i + 1}`),
            );
            // At most the one empty page that ends the walk.
            expect(pages.filter((p) => p.body.result.length === 0).length).toBeLessThanOrEqual(1);
          }
        } finally {
          await stub.close();
        }
      });

      it(`answers ${path} with a 502 naming the integration when the upstream ignores the page position`, async () => {
        // The same 30 users whatever startIndex asks for.
        const stub = await scimStub(() => ({ total: 1000, records: Array.from({ length: 30 }, (_, i) => scimUser(i + 1)) }));
        try {
          for (const limit of [7, 50]) {
            const pages = await walk(stub.url, limit, path);
            const last = pages.at(-1)!;
            expect(last.status, `limit ${limit}`).toBe(502);
            expect(last.body.error.code).toBe("upstream_error");
            expect(last.body.error.message).toMatch(/^Jostle: the upstream answered position \d+ with records it had already answered/);
            // No record was served twice before the walk stopped.
            const ids = pages.filter((p) => p.status === 200).flatMap((p) => p.body.result.map((r: { id: string }) => r.id));
            expect(new Set(ids).size).toBe(ids.length);
          }
        } finally {
          await stub.close();
        }
      });
    }
  });
});
