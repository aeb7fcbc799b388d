import { createVault, generateKeySpec, parseKeyRing } from "@unifold/db";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Gateway, keyCheckingUpstream, startGateway, startStubUpstream } from "./harness.ts";

describe("API keys and access", () => {
  let gw: Gateway;
  let upstream: Awaited<ReturnType<typeof keyCheckingUpstream>>;

  beforeAll(async () => {
    gw = await startGateway();
    upstream = await keyCheckingUpstream("very-secret-upstream-key");
  });
  afterAll(async () => {
    await upstream.close();
    await gw.close();
  });

  it("answers no key, a malformed key and an unknown key with 401", async () => {
    for (const key of [null, "ufk_short", `ufk_${"A".repeat(43)}`]) {
      const res = await gw.call("GET", "/connections", { key });
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe("unauthorized");
    }
  });

  it("shows a new key's secret once and never lists it", async () => {
    const created = await gw.call("POST", "/api-keys", { body: { name: "backend", scope: "api" } });
    expect(created.status).toBe(201);
    expect(created.body.secret).toMatch(/^ufk_[A-Za-z0-9_-]{43}$/);
    expect(created.body.prefix).toBe(created.body.secret.slice(0, 8));
    const listed = await gw.call("GET", "/api-keys?limit=200");
    expect(listed.text).not.toContain(created.body.secret);
    expect(listed.body.result.some((k: { id: string }) => k.id === created.body.id)).toBe(true);
  });

  it("forbids an api-scope key on admin routes with 403, but lets it read /integrations", async () => {
    const { body } = await gw.call("POST", "/api-keys", { body: { name: "backend", scope: "api" } });
    for (const [method, path] of [
      ["GET", "/connections"],
      ["POST", "/api-keys"],
      ["GET", "/api-keys"],
    ] as const) {
      const res = await gw.call(method, path, { key: body.secret, body: method === "POST" ? { name: "x", scope: "admin" } : undefined });
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe("forbidden");
    }
    expect((await gw.call("GET", "/integrations", { key: body.secret })).status).toBe(200);
  });

  it("stops accepting a key as soon as it is revoked", async () => {
    const { body } = await gw.call("POST", "/api-keys", { body: { name: "temp", scope: "admin" } });
    expect((await gw.call("GET", "/connections", { key: body.secret })).status).toBe(200);
    const revoked = await gw.call("DELETE", `/api-keys/${body.id}`);
    expect(revoked.body.revoked_at).toEqual(expect.any(String));
    const res = await gw.call("GET", "/connections", { key: body.secret });
    expect(res.status).toBe(401);
  });

  it("refuses a revoked key from the next request on, even while other requests with it are in flight", async () => {
    for (let round = 0; round < 5; round++) {
      const { id, secret } = (await gw.call("POST", "/api-keys", { body: { name: `busy ${round}`, scope: "api" } })).body;
      let hammering = true;
      const hammer = (async () => {
        while (hammering) await gw.call("GET", "/integrations", { key: secret });
      })();
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect((await gw.call("DELETE", `/api-keys/${id}`)).status).toBe(200);
      const after = await Promise.all(Array.from({ length: 20 }, () => gw.call("GET", "/integrations", { key: secret })));
      hammering = false;
      await hammer;
      expect(after.map((res) => res.status)).toEqual(Array(20).fill(401));
    }
  });

  it("refuses a tenant binding on an admin key", async () => {
    const res = await gw.call("POST", "/api-keys", { body: { name: "x", scope: "admin", tenant_id: "acme" } });
    expect(res.status).toBe(400);
    expect(res.body.error.details[0].path).toBe("tenant_id");
  });

  it("echoes a caller's x-request-id and makes one otherwise, on success and error alike", async () => {
    const echoed = await gw.call("GET", "/health", { headers: { "x-request-id": "trace-123" } });
    expect(echoed.headers.get("x-request-id")).toBe("trace-123");
    const made = await gw.call("GET", "/nowhere");
    expect(made.headers.get("x-request-id")).toMatch(/^req_/);
    expect(made.body.error.request_id).toBe(made.headers.get("x-request-id"));
  });

  it("never returns or logs credentials or API key secrets", async () => {
    const created = await gw.call("POST", "/connections", {
      body: {
        tenant_id: "acme",
        integration: "jumpcloud",
        credentials: { api_key: "very-secret-upstream-key" },
        config: { base_url: upstream.url },
      },
    });
    expect(created.status).toBe(201);
    const bodies = [
      created.text,
      (await gw.call("GET", `/connections/${created.body.id}`)).text,
      (await gw.call("GET", "/connections")).text,
      (await gw.call("POST", `/connections/${created.body.id}/verify`)).text,
      (
        await gw.call("POST", "/connections", {
          body: {
            tenant_id: "a",
            integration: "jumpcloud",
            credentials: { api_key: "very-secret-wrong" },
            config: { base_url: upstream.url },
          },
        })
      ).text,
    ];
    for (const text of bodies) {
      expect(text).not.toContain("very-secret");
    }
    expect(gw.logs()).toContain('"path":"/connections"');
    expect(gw.logs()).not.toContain("very-secret");
    expect(gw.logs()).not.toContain(gw.adminKey);
  });
});

describe("an upstream that echoes the credential it was sent", () => {
  it("never hands it on: bodies relayed, error bodies and messages shown, logged or stored have it masked", async () => {
    const gw = await startGateway();
    const secret = "echoed-secret-key-123";
    // Answers every call with an error that quotes the key, as some vendors' 4xx bodies do.
    const echo = await startStubUpstream((req, res) => {
      const key = String(req.headers["x-api-key"] ?? req.headers.authorization ?? "");
      res.setHeader("content-type", "application/json");
      // The credential check reads the organization the key opens.
      if (req.url?.startsWith("/organizations")) return void res.end(JSON.stringify({ totalCount: 1, results: [{ _id: "org-1" }] }));
      res.statusCode = req.url?.startsWith("/echo") ? 200 : 400;
      res.end(JSON.stringify({ message: `bad request for key ${key}`, detail: { key, [key]: "as a key too" } }));
    });
    try {
      const created = await gw.call("POST", "/connections", {
        body: { tenant_id: "acme", integration: "jumpcloud", credentials: { api_key: secret }, config: { base_url: echo.url } },
      });
      expect(created.status).toBe(201);
      const apiKey = (await gw.call("POST", "/api-keys", { body: { name: "echo", scope: "api" } })).body.secret;
      const answers = [
        await gw.call("GET", `/unified/user-directory/users?connection_id=${created.body.id}`, { key: apiKey }),
        await gw.call("GET", `/proxy/systemusers?connection_id=${created.body.id}`, { key: apiKey }),
        await gw.call("POST", `/unified/user-directory/users?connection_id=${created.body.id}`, {
          key: apiKey,
          body: { username: "x", first_name: "X", last_name: "Y", emails: [{ email: "x@acme.example.com" }] },
          headers: { "idempotency-key": "echo-1" },
        }),
      ];
      const stars = "*".repeat(secret.length);
      for (const answer of answers) {
        expect(answer.status).toBeGreaterThanOrEqual(400);
        expect(answer.text).not.toContain(secret);
        expect(answer.text).toContain(stars);
      }
      // A successful answer relayed byte for byte is masked the same way, and stays valid JSON.
      const relayed = await gw.call("GET", `/passthrough/echo?connection_id=${created.body.id}`, { key: apiKey });
      expect(relayed.status).toBe(200);
      expect(relayed.text).not.toContain(secret);
      expect(relayed.body).toEqual({ message: `bad request for key ${stars}`, detail: { key: stars, [stars]: "as a key too" } });
      // The stored answer to the idempotent POST, replayed, is the masked one.
      const replay = await gw.call("POST", `/unified/user-directory/users?connection_id=${created.body.id}`, {
        key: apiKey,
        body: { username: "x", first_name: "X", last_name: "Y", emails: [{ email: "x@acme.example.com" }] },
        headers: { "idempotency-key": "echo-1" },
      });
      expect(replay.text).not.toContain(secret);
      expect(gw.logs()).not.toContain(secret);
    } finally {
      await echo.close();
      await gw.close();
    }
  });
});

describe("an instance whose key ring lacks the key a connection was sealed with", () => {
  it("answers 503 unavailable naming the key and the fix, not a 500", async () => {
    const gw = await startGateway();
    try {
      const created = await gw.call("POST", "/connections?verify=false", {
        body: { tenant_id: "acme", integration: "jumpcloud", credentials: { api_key: "k-123456" } },
      });
      // Another instance, with a newer ring, re-sealed the credentials under a key this one has not got.
      const newer = createVault(parseKeyRing(generateKeySpec("newer")));
      const sql = postgres(gw.databaseUrl, { max: 1, onnotice: () => {} });
      await sql`update connections set credentials = ${await newer.seal(created.body.id, { api_key: "k-123456" })}, credentials_kid = ${newer.currentKid} where id = ${created.body.id}`;
      await sql.end();
      const apiKey = (await gw.call("POST", "/api-keys", { body: { name: "ring", scope: "api" } })).body.secret;
      const res = await gw.call("GET", `/proxy/systemusers?connection_id=${created.body.id}`, { key: apiKey });
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe("unavailable");
      expect(res.body.error.message).toMatch(/sealed with key "newer.*UNIFOLD_ENCRYPTION_KEYS/);
    } finally {
      await gw.close();
    }
  });
});

describe("health", () => {
  it("answers 200 with db ok, then 503 once the database is gone", async () => {
    const gw = await startGateway();
    const up = await gw.call("GET", "/health", { key: null });
    expect(up.status).toBe(200);
    expect(up.body).toEqual({ status: "ok", db: "ok" });
    await gw.services.platform.store.close();
    const down = await gw.call("GET", "/health", { key: null });
    expect(down.status).toBe(503);
    expect(down.body.db).toBe("down");
    await gw.close().catch(() => {});
  });
});
