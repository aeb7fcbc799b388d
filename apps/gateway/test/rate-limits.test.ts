import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { connectSandbox, type Slug, useGatewayWithSandbox } from "./harness.ts";

describe("pacing: per-connection upstream budgets and per-API-key limits", () => {
  const fx = useGatewayWithSandbox({
    tenants: { acme: 5, globex: 5 },
    gateway: { upstream: { enforceRateLimits: true, retryAfterCapMs: 1_000 }, apiKeyLimit: { requests: 8, per_seconds: 60 } },
    connect: false,
    // Postman's published 300/min, shrunk to 4/min so the test can spend it.
    mappings: (dir) => {
      const yaml = join(dir, "postman-scim", "integration.yaml");
      writeFileSync(
        yaml,
        readFileSync(yaml, "utf8").replace(
          "rate_limit: { requests: 300, per_seconds: 60 }",
          "rate_limit: { requests: 4, per_seconds: 60 }",
        ),
      );
    },
  });
  let acme: { conn: Record<Slug, string>; apiKey: string };
  let globex: { conn: Record<Slug, string>; apiKey: string };

  beforeAll(async () => {
    acme = await connectSandbox(fx.gw, fx.sandbox, "acme", { "postman-scim": "postman" } as Record<Slug, "postman">);
    globex = await connectSandbox(fx.gw, fx.sandbox, "globex", { "postman-scim": "postman" } as Record<Slug, "postman">);
  });

  const users = (who: typeof acme) =>
    fx.gw.call("GET", `/unified/user-directory/users?connection_id=${who.conn["postman-scim"]}&limit=5`, { key: who.apiKey });

  it("keeps a connection within the vendor's rate: past its budget the caller gets 429 at once, and other tenants are unaffected", async () => {
    const postmanCalls = () => fx.sandbox.world.requests.filter((r) => r.vendor === "postman" && r.tenant === "acme").length;
    const before = postmanCalls();
    for (let i = 0; i < 4; i++) expect((await users(acme)).status).toBe(200);
    const started = performance.now();
    const limited = await users(acme);
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe("rate_limited");
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(performance.now() - started).toBeLessThan(1_500);
    expect(postmanCalls() - before).toBe(4);
    // Another tenant's connection has its own budget.
    expect((await users(globex)).status).toBe(200);
  });

  it("limits requests per API key with a 429 carrying retry-after and ratelimit headers", async () => {
    const key = (await fx.gw.call("POST", "/api-keys", { body: { name: "limited", scope: "api" } })).body.secret;
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof users>> | undefined;
    for (let i = 0; i < 12; i++) {
      last = await fx.gw.call("GET", "/integrations", { key });
      statuses.push(last.status);
    }
    expect(statuses).toEqual([...Array(8).fill(200), ...Array(4).fill(429)]);
    expect(last!.body.error.code).toBe("rate_limited");
    expect(last!.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(last!.headers.get("ratelimit-limit")).toBe("8");
    expect(last!.headers.get("ratelimit-remaining")).toBe("0");
    // The admin key is its own budget.
    expect((await fx.gw.call("GET", "/integrations")).status).toBe(200);
  });
});
