import { request } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import {
  connectSandbox,
  type Gateway,
  startGateway,
  startStubUpstream,
  useGatewayWithSandbox,
  submitConnectForm as submit,
} from "./harness.ts";

// The connect page and its sessions under careless and hostile use (issue #26): a double
// click, origins that are not origins, vendors that rate limit, fail, redirect or send a huge
// message, a reconnect with another account's key, a spoofed Host, and a flood of requests.
const fx = useGatewayWithSandbox({
  tenants: { acme: 3, globex: 2 },
  rateLimits: { jumpcloud: 0 },
  gateway: { jobs: true },
  connect: false,
  sql: true,
  timeout: 120_000,
});
afterEach(() => fx.sandbox.world.faults.clear());

const jumpcloud = (baseUrl = fx.sandbox.baseUrl("jumpcloud")) => ({ jumpcloud: { base_url: baseUrl } });

async function session(body: Record<string, unknown>, on: Gateway = fx.gw) {
  const res = await on.call("POST", "/connect/sessions", { body });
  expect(res.status, res.text).toBe(201);
  return res.body as { id: string; token: string; url: string };
}

const attemptsOf = async (token: string) =>
  (await fx.sql`select attempts from connect_sessions where token_hash = encode(sha256(${token}::bytea), 'hex')`)[0]?.attempts;

const resultOf = (res: Response) => new URL(res.headers.get("location") ?? "http://none/").searchParams;

describe("a double submit (#26.3)", () => {
  it("waits for the first check: both answers carry the one true result, never already_used", async () => {
    const s = await session({
      tenant_id: "acme",
      integrations: ["jumpcloud"],
      config: jumpcloud(),
      redirect_url: "http://127.0.0.1:9/back",
    });
    fx.sandbox.fault({ vendor: "jumpcloud", path: "/organizations", kind: "latency", latency_ms: 800, count: 1 });
    const key = { integration: "jumpcloud", "credentials.api_key": fx.sandbox.key("jumpcloud", "acme") };
    const first = submit(s.url, key);
    await new Promise((resolve) => setTimeout(resolve, 200));
    // Meanwhile the page says the link is being checked, and looks again by itself.
    const meanwhile = await (await fetch(s.url)).text();
    expect(meanwhile).toContain("Checking your details");
    expect(meanwhile).toContain('http-equiv="refresh"');
    const second = await submit(s.url, key);
    const [a, b] = [await first, second];
    expect([a.status, b.status]).toEqual([303, 303]);
    expect(resultOf(a).get("outcome")).toBe("created");
    expect(resultOf(b).get("error")).toBeNull();
    expect(resultOf(b).get("connection_id")).toBe(resultOf(a).get("connection_id"));
    // The checking page, looking again after the check, is told that result too.
    const after = await (await fetch(`${s.url}?checked`)).text();
    expect(after).toContain("Connected");
    expect(after).toContain(`connection_id=${resultOf(a).get("connection_id")}`);
  });

  it("after a refused first check the second goes on with its own check: the link is not reported used", async () => {
    const s = await session({
      tenant_id: "acme",
      integrations: ["jumpcloud"],
      config: jumpcloud(),
      redirect_url: "http://127.0.0.1:9/back",
    });
    fx.sandbox.fault({ vendor: "jumpcloud", path: "/organizations", kind: "latency", latency_ms: 600, count: 1 });
    const first = submit(s.url, { integration: "jumpcloud", "credentials.api_key": "wrongwrongwrongwrongwrong1" });
    await new Promise((resolve) => setTimeout(resolve, 150));
    const second = await submit(s.url, { integration: "jumpcloud", "credentials.api_key": fx.sandbox.key("jumpcloud", "acme") });
    const refused = await first;
    expect(refused.status).toBe(200);
    expect(await refused.text()).toContain("refused these details");
    expect(second.status).toBe(303);
    expect(resultOf(second).get("connection_id")).toMatch(/^[0-9a-f-]{36}$/);
    expect(await attemptsOf(s.token)).toBe(1);
  });
});

describe("allowed_origins (#26.4)", () => {
  it.each([
    ["https://*"],
    ["*"],
    ["null"],
    ["https://a.example.com;script-src *"],
    ["https://a.example.com,https://b.example.com"],
    ["https://user@a.example.com"],
    ["https://a.example.com:99999"],
    ["https://a.example.com/"],
    ["https://*.example.com"],
  ])("refuses %s with a 400 naming allowed_origins.1", async (bad) => {
    const res = await fx.gw.call("POST", "/connect/sessions", {
      body: { tenant_id: "acme", allowed_origins: ["https://ok.example.com", bad] },
    });
    expect(res.status, res.text).toBe(400);
    expect(res.body.error.details[0].path).toBe("allowed_origins.1");
  });

  it("an exact origin is written as itself into frame-ancestors", async () => {
    const s = await session({ tenant_id: "acme", allowed_origins: ["https://App.Example.com:8443", "http://[::1]:3000"] });
    const csp = (await fetch(s.url)).headers.get("content-security-policy") ?? "";
    expect(csp).toMatch(/frame-ancestors https:\/\/app\.example\.com:8443 http:\/\/\[::1\]:3000(;|$)/);
  });

  it("an integration listed twice is refused (#26.15a)", async () => {
    const res = await fx.gw.call("POST", "/connect/sessions", { body: { tenant_id: "acme", integrations: ["jumpcloud", "jumpcloud"] } });
    expect(res.status).toBe(400);
    expect(res.body.error.details[0].path).toBe("integrations.1");
  });
});

describe("what a vendor answers (#26.5, #26.7, #26.8, #26.15e)", () => {
  it("only a refusal costs an attempt; rate limiting, failure and redirects each say what happened", async () => {
    const s = await session({ tenant_id: "acme", integrations: ["jumpcloud"], config: jumpcloud() });
    const key = { integration: "jumpcloud", "credentials.api_key": fx.sandbox.key("jumpcloud", "acme") };
    const cases = [
      { fault: { kind: "status" as const, status: 429, retry_after: "0" }, says: "is limiting requests right now" },
      { fault: { kind: "status" as const, status: 503 }, says: "gave no usable answer" },
      { fault: { kind: "redirect" as const }, says: "upstream status 302, which neither accepts nor refuses" },
      { fault: { kind: "malformed" as const }, says: "gave no usable answer" },
    ];
    for (const { fault, says } of cases) {
      fx.sandbox.world.faults.clear();
      fx.sandbox.fault({ vendor: "jumpcloud", path: "/organizations", ratio: 1, ...fault });
      const html = await (await submit(s.url, key)).text();
      expect(html, fault.kind).toContain(says);
      expect(html).not.toContain("refused these details");
      expect(html).not.toContain("attempts left");
    }
    expect(await attemptsOf(s.token)).toBe(0);
    fx.sandbox.world.faults.clear();
    const refused = await (await submit(s.url, { integration: "jumpcloud", "credentials.api_key": "wrongwrongwrongwrongwrong1" })).text();
    expect(refused).toContain("JumpCloud refused these details (status 401)");
    expect(refused).toContain("4 attempts left.");
    expect(await attemptsOf(s.token)).toBe(1);
  });

  it("the admin API answers the same: 429 for rate limiting, 502 naming the status for a redirect", async () => {
    const body = {
      tenant_id: "acme",
      integration: "jumpcloud",
      credentials: { api_key: fx.sandbox.key("jumpcloud", "acme") },
      config: jumpcloud().jumpcloud,
    };
    fx.sandbox.fault({ vendor: "jumpcloud", path: "/organizations", ratio: 1, kind: "status", status: 429, retry_after: "0" });
    const limited = await fx.gw.call("POST", "/connections", { body });
    expect(limited.status).toBe(429);
    fx.sandbox.world.faults.clear();
    fx.sandbox.fault({ vendor: "jumpcloud", path: "/organizations", ratio: 1, kind: "redirect" });
    const redirected = await fx.gw.call("POST", "/connections", { body });
    expect(redirected.status).toBe(502);
    expect(redirected.body.error.message).toContain("upstream status 302");
  });

  it("a huge vendor message is cut to 8 KB, and a key echoed in another letter case is masked", async () => {
    const key = "abcdefghijklmnopqrstuvwxyz123456";
    const vendor = await startStubUpstream((req, res) => {
      res.statusCode = 401;
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ message: `bad key ${key.toUpperCase()} ${"x".repeat(1024 * 1024)}` }));
    });
    try {
      const s = await session({ tenant_id: "acme", integrations: ["jumpcloud"], config: jumpcloud(vendor.url) });
      const res = await submit(s.url, { integration: "jumpcloud", "credentials.api_key": key });
      const html = await res.text();
      expect(html.length).toBeLessThan(40_000);
      expect(html).toContain("x…");
      expect(html.toLowerCase()).not.toContain(key);
      expect(html).toContain("bad key [redacted]");
      const api = await fx.gw.call("POST", "/connections", {
        body: { tenant_id: "acme", integration: "jumpcloud", credentials: { api_key: key }, config: { base_url: vendor.url } },
      });
      expect(api.status).toBe(400);
      expect(api.text.length).toBeLessThan(40_000);
      expect(api.text.toLowerCase()).not.toContain(key);
    } finally {
      await vendor.close();
    }
  });
});

describe("a reconnect with another account's key (#26.10)", () => {
  it("is refused on the page and by the admin API, unless the admin says so on purpose", async () => {
    const { conn } = await connectSandbox(fx.gw, fx.sandbox, "acme", { jumpcloud: "jumpcloud" });
    const id = conn.jumpcloud;
    const s = await session({ tenant_id: "acme", connection_id: id, redirect_url: "http://127.0.0.1:9/" });
    const other = { integration: "jumpcloud", "credentials.api_key": fx.sandbox.key("jumpcloud", "globex") };
    const page = await submit(s.url, other);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("These details open another JumpCloud account than the one connected");
    expect(await attemptsOf(s.token)).toBe(0);
    // The right account's new key is still welcome on the same link.
    const same = await submit(s.url, { integration: "jumpcloud", "credentials.api_key": fx.sandbox.key("jumpcloud", "acme") });
    expect(resultOf(same).get("outcome")).toBe("reconnected");

    const patch = (body: Record<string, unknown>) => fx.gw.call("PATCH", `/connections/${id}`, { body });
    // Another address of the same account (here: the sandbox by name) is the admin's own change.
    const moved = await patch({ config: { base_url: fx.sandbox.baseUrl("jumpcloud").replace("127.0.0.1", "localhost") } });
    expect(moved.status, moved.text).toBe(200);
    const refused = await patch({ credentials: { api_key: fx.sandbox.key("jumpcloud", "globex") } });
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toContain("allow_account_change");
    const users = await fx.gw.call("GET", `/unified/user-directory/users?connection_id=${id}`);
    expect(users.body.result).toHaveLength(3);
    const allowed = await patch({ credentials: { api_key: fx.sandbox.key("jumpcloud", "globex") }, allow_account_change: true });
    expect(allowed.status).toBe(200);
    expect((await fx.gw.call("GET", `/unified/user-directory/users?connection_id=${id}`)).body.result).toHaveLength(2);
  });
});

describe("the result and its check (#26.14)", () => {
  it("hands back the SaaS's state and the session id; GET /connect/sessions/{id} confirms the outcome", async () => {
    const s = await session({
      tenant_id: "globex",
      integrations: ["jumpcloud"],
      config: jumpcloud(),
      redirect_url: "http://127.0.0.1:9/back",
      state: "bound-to-browser-123",
    });
    const before = await fx.gw.call("GET", `/connect/sessions/${s.id}`);
    expect(before.body).toMatchObject({ id: s.id, status: "open", state: "bound-to-browser-123", connection_id: null });
    const res = await submit(s.url, { integration: "jumpcloud", "credentials.api_key": fx.sandbox.key("jumpcloud", "globex") });
    const result = resultOf(res);
    expect(result.get("state")).toBe("bound-to-browser-123");
    expect(result.get("session_id")).toBe(s.id);
    const after = await fx.gw.call("GET", `/connect/sessions/${s.id}`);
    expect(after.body).toMatchObject({ status: "connected", connection_id: result.get("connection_id"), outcome: result.get("outcome") });

    const acmeKey = await fx.gw.call("POST", "/api-keys", { body: { name: "acme only", scope: "api", tenant_id: "acme" } });
    expect((await fx.gw.call("GET", `/connect/sessions/${s.id}`, { key: acmeKey.body.secret })).status).toBe(404);
    expect((await fx.gw.call("GET", "/connect/sessions/not-a-session")).status).toBe(404);
  });
});

/** A request with headers fetch will not send as given (Host). */
function rawPost(url: string, headers: Record<string, string>, body: string) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(url, { method: "POST", headers: { "content-type": "application/json", ...headers } }, (res) => {
      let text = "";
      res.on("data", (chunk) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("links and client addresses (#26.13, #26.15f)", () => {
  it("a spoofed Host does not make the link; behind a trusted proxy, X-Forwarded-Proto/-Host do", async () => {
    const made = await rawPost(
      `${fx.gw.url}/connect/sessions`,
      { authorization: `Bearer ${fx.gw.adminKey}`, host: "evil.example.com" },
      JSON.stringify({ tenant_id: "acme" }),
    );
    expect(made.status).toBe(201);
    expect(JSON.parse(made.body).url).toMatch(new RegExp(`^${fx.gw.url}/connect/ucs_`));

    const proxied = await startGateway({ connect: { trustProxy: true } });
    try {
      const forwarded = await rawPost(
        `${proxied.url}/connect/sessions`,
        { authorization: `Bearer ${proxied.adminKey}`, "x-forwarded-proto": "https", "x-forwarded-host": "connect.example.com" },
        JSON.stringify({ tenant_id: "acme" }),
      );
      expect(JSON.parse(forwarded.body).url).toMatch(/^https:\/\/connect\.example\.com\/connect\/ucs_/);
    } finally {
      await proxied.close();
    }
  });

  it("limits each client address on the page; a made-up X-Forwarded-For does not get round it", async () => {
    const limited = await startGateway({ connectClientLimit: { requests: 3, per_seconds: 60 } });
    try {
      const s = await session({ tenant_id: "acme" }, limited);
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await fetch(s.url, { headers: { "x-forwarded-for": `10.0.0.${i}` } })).status);
      expect(statuses).toEqual([200, 200, 200, 429, 429]);
      const refused = await fetch(s.url);
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("rate_limited");
    } finally {
      await limited.close();
    }
    // Behind a trusted proxy, the address that proxy added (the last) counts, not what the client wrote before it.
    const proxied = await startGateway({ connectClientLimit: { requests: 2, per_seconds: 60 }, connect: { trustProxy: true } });
    try {
      const s = await session({ tenant_id: "acme" }, proxied);
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await fetch(s.url, { headers: { "x-forwarded-for": `1.1.1.${i}, 203.0.113.7` } })).status);
      expect(statuses).toEqual([200, 200, 429]);
      expect((await fetch(s.url, { headers: { "x-forwarded-for": "203.0.113.8" } })).status).toBe(200);
    } finally {
      await proxied.close();
    }
  });
});
