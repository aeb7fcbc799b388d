import { lookup } from "node:dns/promises";
import { hostname } from "node:os";
import { isNonPublicAddress } from "@unifold/engine";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Gateway, startGateway } from "./harness.ts";
import { receiver, until, verify } from "./webhook-receiver.ts";

describe("webhook endpoints under careless and hostile use", { timeout: 120_000 }, () => {
  let gw: Gateway;
  let hooks: Awaited<ReturnType<typeof receiver>>;
  let apiKey: string;

  beforeAll(async () => {
    [gw, hooks] = await Promise.all([startGateway({ jobs: true }), receiver()]);
    apiKey = (await gw.call("POST", "/api-keys", { body: { name: "acme backend", scope: "api", tenant_id: "acme" } })).body.secret;
  }, 60_000);
  afterAll(async () => {
    await gw?.close();
    await hooks?.close();
  });

  /** Registers an endpoint for tenant acme: with its key on the shared gateway, with the admin key on another. */
  const register = (url = hooks.url, gateway = gw) =>
    gateway === gw
      ? gw.call("POST", "/webhook-endpoints", { key: apiKey, body: { url, events: ["*"] } })
      : gateway.call("POST", "/webhook-endpoints", { body: { url, events: ["*"], tenant_id: "acme" } });
  const testEvent = async (id: string) => {
    const sent = await gw.call("POST", `/webhook-endpoints/${id}/test`, { key: apiKey });
    expect(sent.status).toBe(202);
    await until(() => hooks.received.some((r) => r.event.id === sent.body.id));
    return hooks.received.find((r) => r.event.id === sent.body.id)!;
  };

  it("rotating with overlap_seconds 0 in the body retires the old secret at once, and says so", async () => {
    const made = await register();
    const old: string = made.body.secret;
    const before = Date.now();
    const rotated = await gw.call("POST", `/webhook-endpoints/${made.body.id}/rotate-secret`, {
      key: apiKey,
      body: { overlap_seconds: 0 },
    });
    expect(rotated.status, rotated.text).toBe(200);
    const expires = Date.parse(rotated.body.previous_secret_expires_at);
    expect(expires).toBeGreaterThanOrEqual(before - 1);
    expect(expires).toBeLessThanOrEqual(Date.now());
    const delivery = await testEvent(made.body.id);
    expect(verify(rotated.body.secret, delivery.headers, delivery.body)).toBe(true);
    expect(verify(old, delivery.headers, delivery.body)).toBe(false);
    expect(String(delivery.headers["webhook-signature"]).split(" ")).toHaveLength(1);
  });

  it("an overlap keeps both secrets signing until the time it answers; no body means 24 hours", async () => {
    const made = await register();
    const first = await gw.call("POST", `/webhook-endpoints/${made.body.id}/rotate-secret`, {
      key: apiKey,
      body: { overlap_seconds: 600 },
    });
    expect(Date.parse(first.body.previous_secret_expires_at) - Date.now()).toBeGreaterThan(590_000);
    const delivery = await testEvent(made.body.id);
    expect(verify(first.body.secret, delivery.headers, delivery.body)).toBe(true);
    expect(verify(made.body.secret, delivery.headers, delivery.body)).toBe(true);

    const bare = await gw.call("POST", `/webhook-endpoints/${made.body.id}/rotate-secret`, { key: apiKey });
    expect(bare.status, bare.text).toBe(200);
    expect(Date.parse(bare.body.previous_secret_expires_at) - Date.now()).toBeGreaterThan(86_390_000);
    // Older clients put it in the query; it still counts.
    const queried = await gw.call("POST", `/webhook-endpoints/${made.body.id}/rotate-secret?overlap_seconds=0`, { key: apiKey });
    expect(Date.parse(queried.body.previous_secret_expires_at)).toBeLessThanOrEqual(Date.now());
  });

  it("refuses an unknown field, a bad overlap, and two different overlaps", async () => {
    const made = await register();
    const rotate = (body: unknown, query = "") =>
      gw.call("POST", `/webhook-endpoints/${made.body.id}/rotate-secret${query}`, { key: apiKey, body });
    for (const [body, query, path] of [
      [{ overlap: 0 }, "", "overlap"],
      [{ overlap_seconds: -1 }, "", "overlap_seconds"],
      [{ overlap_seconds: "0" }, "", "overlap_seconds"],
      [{ overlap_seconds: 8 * 86_400 }, "", "overlap_seconds"],
      [{ overlap_seconds: 0 }, "?overlap_seconds=60", "overlap_seconds"],
    ] as const) {
      const res = await rotate(body, query);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(JSON.stringify(res.body.error)).toContain(path);
    }
    // Nothing changed: the endpoint's first secret still signs alone.
    const delivery = await testEvent(made.body.id);
    expect(verify(made.body.secret, delivery.headers, delivery.body)).toBe(true);
    expect(String(delivery.headers["webhook-signature"]).split(" ")).toHaveLength(1);
  });

  it("refuses a URL carrying a user name or password", async () => {
    for (const url of [`http://user:pass@127.0.0.1:1/hooks`, `https://token@example.com/hooks`]) {
      const res = await register(url);
      expect(res.status).toBe(400);
      expect(res.body.error.details).toEqual([{ path: "url", message: expect.stringContaining("user name or password") }]);
      expect(res.text).not.toContain("pass@");
    }
  });

  it("holds receivers to UNIFOLD_UPSTREAM_ALLOWED_HOSTS, or to a list of their own", async () => {
    const listed = await startGateway({ upstream: { network: { allowPrivate: true, allowedHosts: ["127.0.0.1"] } } });
    const own = await startGateway({ webhookNetwork: { allowPrivate: true, allowedHosts: ["*.example.com"] } });
    try {
      expect((await register(hooks.url, listed)).status).toBe(201);
      const refused = await register("https://hooks.example.com/in", listed);
      expect(refused.status).toBe(400);
      expect(refused.body.error.message).toContain("not in");
      expect((await register("https://hooks.example.com/in", own)).status).toBe(201);
      expect((await register(hooks.url, own)).status).toBe(400);
    } finally {
      await listed.close();
      await own.close();
    }
  });

  it("a delivery to a name that resolves inside records 'destination not allowed', never the address", async (context) => {
    // This machine's own name resolves to a loopback address on most systems (/etc/hosts).
    const name = hostname();
    const addresses = await lookup(name, { all: true }).catch(() => []);
    if (!addresses.length || !addresses.every((a) => isNonPublicAddress(a.address))) {
      context.skip(`${name} does not resolve to loopback or private addresses only here`);
    }
    const strict = await startGateway({ jobs: true, upstream: { network: { allowPrivate: false } } });
    try {
      const made = await register(`http://${name}:${new URL(hooks.url).port}/hooks`, strict);
      expect(made.status, made.text).toBe(201);
      expect((await strict.call("POST", `/webhook-endpoints/${made.body.id}/test`)).status).toBe(202);
      let attempts: any[] = [];
      await until(async () => {
        attempts = (await strict.call("GET", `/webhook-endpoints/${made.body.id}/deliveries`)).body.result;
        return attempts.length > 0;
      });
      expect(attempts[0]).toMatchObject({ outcome: "failed", response_status: null, error: "destination not allowed" });
      for (const { address } of addresses) expect(JSON.stringify(attempts)).not.toContain(address);
    } finally {
      await strict.close();
    }
  });
});
