import { describe, expect, it } from "vitest";
import { connectSandbox, startGateway, useGatewayWithSandbox, submitConnectForm as submit } from "./harness.ts";

// The hosted connect page over plain HTTP: sessions, the form post, single use, attempts,
// de-duplication, reconnect and bad input. The same page in a real browser: connect.browser.test.ts.
const fx = useGatewayWithSandbox({
  tenants: { acme: 5, globex: 3 },
  gateway: { jobs: true },
  connect: false,
  sql: true,
  timeout: 120_000,
});

const jumpcloud = () => ({ jumpcloud: { base_url: fx.sandbox.baseUrl("jumpcloud") } });

async function session(body: Record<string, unknown>, key?: string) {
  const res = await fx.gw.call("POST", "/connect/sessions", { body, key });
  expect(res.status, res.text).toBe(201);
  return res.body as { token: string; url: string; expires_at: string };
}

describe("connect sessions", () => {
  it("open a page that renders the integration's fields from integration.yaml, with strict headers", async () => {
    const s = await session({
      tenant_id: "acme",
      integrations: ["jumpcloud"],
      config: jumpcloud(),
      allowed_origins: ["http://127.0.0.1:9"],
    });
    expect(s.url).toBe(`${fx.gw.url}/connect/${s.token}`);
    expect(Date.parse(s.expires_at) - Date.now()).toBeGreaterThan(29 * 60_000);
    const page = await fetch(s.url, { headers: { "accept-language": "de-DE,de;q=0.9" } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<html lang="de"');
    expect(html).toContain("JumpCloud verbinden");
    // The integration's own words in German too (translations in integration.yaml).
    expect(html).toContain("API-Schlüssel");
    expect(html).toContain("Der API-Schlüssel eines Administrators");
    expect(html).toMatch(/name="credentials.api_key"\s+type="password"/);
    expect(html).toContain('pattern="[A-Za-z0-9_\\-]{20,200}"');
    expect(html).toContain('href="https://jumpcloud.com/support/upcoming-security-changes"');
    // The preset base URL is applied, not shown; org_id (not preset) is asked for.
    expect(html).not.toContain(fx.sandbox.baseUrl("jumpcloud"));
    expect(html).toContain('name="config.org_id"');
    const csp = page.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("frame-ancestors http://127.0.0.1:9");
    expect(csp).toContain("default-src 'none'");
    expect(csp).toMatch(/script-src 'nonce-[^']+'/);
    expect(page.headers.get("x-frame-options")).toBeNull();
    expect(page.headers.get("referrer-policy")).toBe("no-referrer");
    expect(page.headers.get("cache-control")).toBe("no-store");
    // Only the token's hash is stored.
    const [row] = await fx.sql`select token_hash from connect_sessions where token_hash = encode(sha256(${s.token}::bytea), 'hex')`;
    expect(row).toBeDefined();
    expect(JSON.stringify(await fx.sql`select * from connect_sessions`)).not.toContain(s.token);
  });

  it("chooses French from the session's locale, and lists every offered integration", async () => {
    const s = await session({ tenant_id: "acme", locale: "fr" });
    const html = await (await fetch(s.url, { headers: { "accept-language": "de" } })).text();
    expect(html).toContain('<html lang="fr"');
    expect(html).toContain("Choisissez le service à connecter");
    for (const slug of ["jumpcloud", "postman-scim", "jostle-scim"]) expect(html).toContain(`?integration=${slug}`);
    const form = await (await fetch(`${s.url}?integration=postman-scim`)).text();
    expect(form).toContain("Connecter Postman");
  });

  it("applies the session's theme: mode, primary colour (with readable button text) and an inline logo", async () => {
    const logo = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
    const s = await session({
      tenant_id: "acme",
      integrations: ["jumpcloud"],
      theme: { mode: "dark", primary_color: "#f5c518", logo_data_url: logo },
    });
    const html = await (await fetch(s.url)).text();
    expect(html).toContain('data-mode="dark"');
    expect(html).toContain("--primary:#f5c518;--on-primary:#111111");
    expect(html).toContain(`src="${logo}"`);
    // Nothing is fetched from elsewhere: no absolute URL in any src or stylesheet link.
    expect(html).not.toMatch(/<(script|img|link)[^>]+(src|href)="https?:/);
  });

  it("a wrong key is refused inline with the vendor's reason and nothing echoed; a right one redirects with the new connection", async () => {
    const s = await session({
      tenant_id: "acme",
      integrations: ["jumpcloud"],
      config: jumpcloud(),
      redirect_url: "http://127.0.0.1:9/back?state=xyz",
    });
    const wrong = "0123456789abcdef0123456789abcdef01234567";
    const refused = await submit(s.url, { integration: "jumpcloud", "credentials.api_key": wrong });
    expect(refused.status).toBe(200);
    const html = await refused.text();
    expect(html).toContain('role="alert"');
    expect(html).toMatch(/JumpCloud refused these details \(status 401\): .+/);
    expect(html).not.toContain(wrong);
    expect(html).toContain("4 attempts left.");

    const ok = await submit(s.url, { integration: "jumpcloud", "credentials.api_key": fx.sandbox.key("jumpcloud", "acme") });
    expect(ok.status).toBe(303);
    const back = new URL(ok.headers.get("location") ?? "");
    expect(`${back.origin}${back.pathname}`).toBe("http://127.0.0.1:9/back");
    expect(back.searchParams.get("state")).toBe("xyz");
    expect(back.searchParams.get("outcome")).toBe("created");
    const id = back.searchParams.get("connection_id") as string;
    const connection = await fx.gw.call("GET", `/connections/${id}`);
    expect(connection.body).toMatchObject({ tenant_id: "acme", integration: "jumpcloud", status: "active" });
    const users = await fx.gw.call("GET", `/unified/user-directory/users?connection_id=${id}`);
    expect(users.status).toBe(200);
    expect(users.body.result).toHaveLength(5);

    // Single use: the link now only says so.
    const again = await fetch(s.url);
    expect(again.status).toBe(410);
    expect(await again.text()).toContain("This link was already used");
    // The same form again at once (a double click) is told the truth: that success.
    const replay = await submit(s.url, { integration: "jumpcloud", "credentials.api_key": fx.sandbox.key("jumpcloud", "acme") });
    expect(replay.status).toBe(303);
    expect(new URL(replay.headers.get("location") ?? "").searchParams.get("connection_id")).toBe(id);
    // Later, the link only says it was used.
    await fx.sql`update connect_sessions set used_at = now() - interval '1 minute' where token_hash = encode(sha256(${s.token}::bytea), 'hex')`;
    const late = await submit(s.url, { integration: "jumpcloud", "credentials.api_key": fx.sandbox.key("jumpcloud", "acme") });
    expect(late.status).toBe(303);
    expect(new URL(late.headers.get("location") ?? "").searchParams.get("error")).toBe("already_used");

    // The tenant hears of it in the event log.
    const events = await fx.gw.call("GET", "/events?tenant_id=acme&type=connection.created");
    expect(events.body.result.map((e: { data: { id: string } }) => e.data.id)).toContain(id);
  });

  it("linking the same account again answers the existing connection, unless duplicates are allowed", async () => {
    const key = fx.sandbox.key("jumpcloud", "globex");
    const first = await submit(
      (await session({ tenant_id: "globex", integrations: ["jumpcloud"], config: jumpcloud(), redirect_url: "http://127.0.0.1:9/" })).url,
      {
        integration: "jumpcloud",
        "credentials.api_key": key,
      },
    );
    const firstId = new URL(first.headers.get("location") ?? "").searchParams.get("connection_id");
    const second = await submit(
      (await session({ tenant_id: "globex", integrations: ["jumpcloud"], config: jumpcloud(), redirect_url: "http://127.0.0.1:9/" })).url,
      {
        integration: "jumpcloud",
        "credentials.api_key": key,
      },
    );
    const secondResult = new URL(second.headers.get("location") ?? "").searchParams;
    expect(secondResult.get("connection_id")).toBe(firstId);
    expect(secondResult.get("outcome")).toBe("existing");
    const third = await submit(
      (
        await session({
          tenant_id: "globex",
          integrations: ["jumpcloud"],
          config: jumpcloud(),
          redirect_url: "http://127.0.0.1:9/",
          allow_duplicates: true,
        })
      ).url,
      { integration: "jumpcloud", "credentials.api_key": key },
    );
    const thirdResult = new URL(third.headers.get("location") ?? "").searchParams;
    expect(thirdResult.get("outcome")).toBe("created");
    expect(thirdResult.get("connection_id")).not.toBe(firstId);
    // Another tenant linking the same account gets a connection of its own.
    const other = await submit(
      (await session({ tenant_id: "initech", integrations: ["jumpcloud"], config: jumpcloud(), redirect_url: "http://127.0.0.1:9/" })).url,
      {
        integration: "jumpcloud",
        "credentials.api_key": key,
      },
    );
    expect(new URL(other.headers.get("location") ?? "").searchParams.get("outcome")).toBe("created");
  });

  it("a reconnect keeps the id and replaces the stored ciphertext", async () => {
    const id = (await connectSandbox(fx.gw, fx.sandbox, "acme", { "postman-scim": "postman" })).conn["postman-scim"];
    const [before] = await fx.sql`select credentials from connections where id = ${id}`;
    const s = await session({ tenant_id: "acme", connection_id: id, redirect_url: "http://127.0.0.1:9/" });
    const html = await (await fetch(s.url)).text();
    expect(html).toContain("Reconnect Postman");
    expect(html).not.toContain(fx.sandbox.key("postman", "acme"));
    const res = await submit(s.url, { integration: "postman-scim", "credentials.api_key": fx.sandbox.key("postman", "acme") });
    const result = new URL(res.headers.get("location") ?? "").searchParams;
    expect(result.get("connection_id")).toBe(id);
    expect(result.get("outcome")).toBe("reconnected");
    const [after] = await fx.sql`select credentials from connections where id = ${id}`;
    expect(after?.credentials).not.toBe(before?.credentials);
    expect((await fx.gw.call("GET", `/unified/user-directory/users?connection_id=${id}`)).status).toBe(200);
  });

  it("closes after the attempt limit, and an expired link says so", async () => {
    const s = await session({ tenant_id: "acme", integrations: ["jumpcloud"], config: jumpcloud() });
    for (let i = 0; i < 5; i++) {
      const res = await submit(s.url, { integration: "jumpcloud", "credentials.api_key": `wrongwrongwrongwrongwrong${i}` });
      expect(res.status).toBe(200);
      const html = await res.text();
      // The last allowed check says why it failed, and offers no form to try again.
      expect(html.includes("<form"), `attempt ${i + 1}`).toBe(i < 4);
      if (i === 4) expect(html).toContain("This link is closed after too many attempts");
    }
    const closed = await submit(s.url, { integration: "jumpcloud", "credentials.api_key": fx.sandbox.key("jumpcloud", "acme") });
    expect(closed.status).toBe(410);
    expect(await closed.text()).toContain("Too many attempts");

    const expired = await session({ tenant_id: "acme", ttl_seconds: 60 });
    await fx.sql`update connect_sessions set expires_at = now() - interval '1 second' where token_hash = encode(sha256(${expired.token}::bytea), 'hex')`;
    const page = await fetch(expired.url);
    expect(page.status).toBe(410);
    expect(await page.text()).toContain("This link has expired");
    const unknown = await fetch(`${fx.gw.url}/connect/ucs_${"A".repeat(43)}`);
    expect(unknown.status).toBe(404);
  });

  it("a field that breaks its pattern costs no attempt and no vendor call", async () => {
    const s = await session({ tenant_id: "acme", integrations: ["jumpcloud"], config: jumpcloud() });
    const calls = fx.sandbox.world.requests.length;
    const res = await submit(s.url, { integration: "jumpcloud", "credentials.api_key": "has a space in it and more" });
    const html = await res.text();
    expect(html).toContain("API key does not look right");
    expect(html).toContain('aria-invalid="true"');
    expect(fx.sandbox.world.requests.length).toBe(calls);
    const [row] = await fx.sql`select attempts from connect_sessions where token_hash = encode(sha256(${s.token}::bytea), 'hex')`;
    expect(row?.attempts).toBe(0);
  });

  it("refuses a form posted from another site", async () => {
    const s = await session({ tenant_id: "acme", integrations: ["jumpcloud"], config: jumpcloud() });
    const res = await submit(
      s.url,
      { integration: "jumpcloud", "credentials.api_key": fx.sandbox.key("jumpcloud", "acme") },
      {
        origin: "http://evil.example",
        "sec-fetch-site": "cross-site",
      },
    );
    expect(res.status).toBe(403);
    const [row] = await fx.sql`select used_at, attempts from connect_sessions where token_hash = encode(sha256(${s.token}::bytea), 'hex')`;
    expect(row).toMatchObject({ used_at: null, attempts: 0 });
  });

  it("a tenant-bound key opens sessions for its own tenant only", async () => {
    const key = (await fx.gw.call("POST", "/api-keys", { body: { name: "acme backend", scope: "api", tenant_id: "acme" } })).body.secret;
    const own = await fx.gw.call("POST", "/connect/sessions", { key, body: {} });
    expect(own.status).toBe(201);
    expect(own.body.tenant_id).toBe("acme");
    const other = await fx.gw.call("POST", "/connect/sessions", { key, body: { tenant_id: "globex" } });
    expect(other.status).toBe(403);
  });

  it.each([
    [{ tenant_id: "acme", integrations: ["zendesk"] }, "integrations.0"],
    [{ tenant_id: "acme", redirect_url: "javascript:alert(1)" }, "redirect_url"],
    [{ tenant_id: "acme", redirect_url: "ftp://example.com/" }, "redirect_url"],
    [{ tenant_id: "acme", allowed_origins: ["chrome-extension://abc"] }, "allowed_origins.0"],
    [{ tenant_id: "acme", allowed_origins: ["https://app.example.com/path"] }, "allowed_origins.0"],
    [{ tenant_id: "acme", ttl_seconds: 10 }, "ttl_seconds"],
    [{ tenant_id: "acme", ttl_seconds: 90_000 }, "ttl_seconds"],
    [{ tenant_id: "acme", theme: { primary_color: "red" } }, "theme.primary_color"],
    [{ tenant_id: "acme", theme: { logo_data_url: "https://cdn.example.com/logo.png" } }, "theme.logo_data_url"],
    [{ tenant_id: "acme", locale: "xx" }, "locale"],
    [{ tenant_id: "acme", config: { jumpcloud: { region: "eu" } } }, "config.jumpcloud.region"],
    [{ tenant_id: "acme", config: { jumpcloud: { base_url: "not a url" } } }, "config.jumpcloud.base_url"],
    [{ tenant_id: "acme", connection_id: "00000000-0000-4000-8000-000000000000" }, "connection_id"],
    [{}, "tenant_id"],
  ])("refuses %j naming %s", async (body, field) => {
    const res = await fx.gw.call("POST", "/connect/sessions", { body });
    expect(res.status, res.text).toBe(400);
    expect(res.body.error.code).toBe("invalid_request");
    expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(field);
    expect(await fx.sql`select count(*)::int as n from connect_sessions where tenant_id = 'never'`).toEqual([{ n: 0 }]);
  });

  it("keeps the token out of the access log", async () => {
    const s = await session({ tenant_id: "acme" });
    await fetch(s.url);
    expect(fx.gw.logs()).toContain("/connect/ucs_");
    expect(fx.gw.logs()).not.toContain(s.token);
  });
});

describe("behind a proxy (UNIFOLD_PUBLIC_URL)", () => {
  it("links use the public address, and a form posted from it is accepted where Sec-Fetch-Site is not sent", async () => {
    const behind = await startGateway({ connect: { publicUrl: "https://connect.example.com" } });
    try {
      const made = await behind.call("POST", "/connect/sessions", { body: { tenant_id: "acme", integrations: ["jumpcloud"] } });
      expect(made.body.url).toMatch(/^https:\/\/connect\.example\.com\/connect\/ucs_/);
      const local = `${behind.url}${new URL(made.body.url).pathname}`;
      const post = (origin: string) =>
        fetch(local, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded", origin },
          body: new URLSearchParams({ integration: "jumpcloud" }),
        });
      // Accepted (the form comes back asking for the key), where another origin is refused.
      const ours = await post("https://connect.example.com");
      expect(ours.status).toBe(200);
      expect(await ours.text()).toContain("API key is required");
      expect((await post("https://evil.example.com")).status).toBe(403);
    } finally {
      await behind.close();
    }
  });
});
