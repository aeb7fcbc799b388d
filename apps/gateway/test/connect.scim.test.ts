import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Gateway, startGateway, submitConnectForm as submit } from "./harness.ts";

// The hosted connect page offering a directory that pushes (SCIM), over plain HTTP on loopback
// with a real Postgres: the connection and its token made once, the provider's first call awaited,
// what a session that does not allow it sees, and a double submit. In Chromium: connect.browser.test.ts.
let gw: Gateway;
let sql: postgres.Sql;
beforeAll(async () => {
  gw = await startGateway();
  sql = postgres(gw.databaseUrl, { max: 1, onnotice: () => {} });
}, 60_000);
afterAll(async () => {
  await sql?.end();
  await gw?.close();
});

async function session(body: Record<string, unknown>) {
  const res = await gw.call("POST", "/connect/sessions", { body });
  expect(res.status, res.text).toBe(201);
  return res.body as { id: string; token: string; url: string };
}

/** The base URL and token the page shows once, read from its two read-only fields. */
function shown(html: string) {
  const value = (id: string) => html.match(new RegExp(`id="${id}"[^>]*value="([^"]*)"`))?.[1];
  return { baseUrl: value("scim-base-url"), token: value("scim-token") };
}

const scimConnections = async (tenant: string) =>
  (await sql`select count(*)::int as n from connections where tenant_id = ${tenant} and integration = 'scim'`)[0]?.n as number;

describe("the connect page offers a directory that pushes (SCIM)", () => {
  it("choosing SCIM makes the connection and shows its base URL and token once; the page waits for the provider's first call, then says connected", async () => {
    const s = await session({ tenant_id: "acme", redirect_url: "http://127.0.0.1:9/back?from=saas", state: "st-1" });
    const choose = await (await fetch(s.url)).text();
    expect(choose).toContain('href="?integration=scim"');
    expect(choose).toContain("Okta, Microsoft Entra ID, OneLogin, JumpCloud");

    const intro = await fetch(`${s.url}?integration=scim`);
    expect(intro.status).toBe(200);
    const introHtml = await intro.text();
    expect(introHtml).toContain("Connect SCIM");
    expect(introHtml).toContain('name="integration" value="scim"');
    expect(introHtml).toContain("Create the connection");
    expect(await scimConnections("acme")).toBe(0);

    // The post that makes it answers the page itself (no redirect: the token must be seen).
    const made = await submit(s.url, { integration: "scim" });
    expect(made.status).toBe(200);
    expect(made.headers.get("cache-control")).toBe("no-store");
    const html = await made.text();
    const { baseUrl, token } = shown(html);
    expect(baseUrl).toMatch(new RegExp(`^${gw.url}/scim/v2/[0-9a-f-]{36}$`));
    expect(token).toMatch(/^scim_[A-Za-z0-9_-]{43}$/);
    const connectionId = (baseUrl as string).split("/").at(-1) as string;
    for (const words of ["Okta", "Microsoft Entra ID", "SCIM connector base URL", "Tenant URL", "Secret Token", "userName", "Assignments"])
      expect(html).toContain(words);
    expect(html).toContain('data-copy="scim-token"');
    expect(html).toContain('data-copy="scim-base-url"');
    expect(await scimConnections("acme")).toBe(1);
    // The token is stored nowhere in plain: not in the session row, not in the token table.
    expect(JSON.stringify(await sql`select * from connect_sessions`)).not.toContain(token);
    expect(JSON.stringify(await sql`select * from scim_tokens`)).not.toContain(token);

    // Reloaded: no token, the waiting state; the SaaS hears "waiting" with the connection id.
    const reload = await fetch(s.url);
    expect(reload.status).toBe(200);
    const waiting = await reload.text();
    expect(waiting).toContain("Waiting for the first request");
    expect(waiting).toContain("data-reload-after");
    expect(waiting).not.toContain(token);
    expect(waiting).not.toContain("scim-token");
    // Still waiting, a redirect-mode page stays (it has nothing to hand back yet).
    expect((await fetch(`${s.url}?mode=redirect&polled`, { redirect: "manual" })).status).toBe(200);
    const before = await gw.call("GET", `/connect/sessions/${s.id}`);
    expect(before.body).toMatchObject({ status: "waiting", connection_id: connectionId, outcome: "created" });

    // The identity provider's first authenticated call: the token works on <base_url>/Users.
    const users = await fetch(`${baseUrl}/Users`, { headers: { authorization: `Bearer ${token}` } });
    expect(users.status).toBe(200);
    expect(((await users.json()) as { totalResults: number }).totalResults).toBe(0);

    const after = await fetch(s.url);
    expect(after.status).toBe(200);
    const connected = await after.text();
    expect(connected).toContain('<h1 id="title" tabindex="-1">Connected</h1>');
    expect(connected).toContain("the connection is live");
    expect(connected).not.toContain(token);
    // Like a form's success: the continue link carries the result to redirect_url.
    const link = connected.match(/<a class="button" href="([^"]+)"/)?.[1]?.replaceAll("&amp;", "&") as string;
    const result = new URL(link).searchParams;
    expect(result.get("from")).toBe("saas");
    expect(result.get("connection_id")).toBe(connectionId);
    expect(result.get("outcome")).toBe("created");
    expect(result.get("state")).toBe("st-1");
    expect(result.get("session_id")).toBe(s.id);
    // The waiting page, polling in redirect mode, now goes straight back with that result.
    const back = await fetch(`${s.url}?mode=redirect&polled`, { redirect: "manual" });
    expect(back.status).toBe(303);
    expect(back.headers.get("location")).toBe(link);
    // In a popup it stays, to hand the result to its opener.
    expect((await fetch(`${s.url}?mode=popup&polled`, { redirect: "manual" })).status).toBe(200);
    const status = await gw.call("GET", `/connect/sessions/${s.id}`);
    expect(status.body).toMatchObject({ status: "connected", connection_id: connectionId, outcome: "created", state: "st-1" });

    // The same form posted again is told the result, never the token again.
    const replay = await submit(s.url, { integration: "scim" });
    expect(replay.status).toBe(303);
    expect(new URL(replay.headers.get("location") ?? "").searchParams.get("connection_id")).toBe(connectionId);
    expect(await scimConnections("acme")).toBe(1);

    const events = await gw.call("GET", `/events?connection_id=${connectionId}`);
    expect(events.body.result.map((e: { type: string }) => e.type).sort()).toEqual(["connection.activated", "connection.created"]);
  });

  it("a session limited to other integrations, or a reconnect of a pulled connection, does not offer SCIM", async () => {
    const limited = await session({ tenant_id: "globex", integrations: ["jumpcloud"] });
    const form = await (await fetch(`${limited.url}?integration=scim`)).text();
    expect(form).toContain("Connect JumpCloud");
    expect(form).not.toContain('value="scim"');
    // Posted anyway: nothing is made; the page offers what the session allows.
    const posted = await submit(limited.url, { integration: "scim" });
    expect(posted.status).toBe(200);
    const html = await posted.text();
    expect(html).not.toContain("scim-token");
    expect(html).not.toContain('?integration=scim"');
    expect(await scimConnections("globex")).toBe(0);

    const two = await session({ tenant_id: "globex", integrations: ["jumpcloud", "postman-scim"] });
    const choose = await (await fetch(two.url)).text();
    expect(choose).toContain('?integration=postman-scim"');
    expect(choose).not.toContain('?integration=scim"');

    const pulled = await gw.call("POST", "/connections?verify=false", {
      body: { tenant_id: "globex", integration: "jumpcloud", credentials: { api_key: "a".repeat(40) } },
    });
    expect(pulled.status, pulled.text).toBe(201);
    const reconnect = await session({ tenant_id: "globex", connection_id: pulled.body.id });
    expect(await (await fetch(`${reconnect.url}?integration=scim`)).text()).toContain("Reconnect JumpCloud");
    expect((await (await submit(reconnect.url, { integration: "scim" })).text()).includes("scim-token")).toBe(false);
    expect(await scimConnections("globex")).toBe(0);

    // A push connection has nothing to reconnect with, and takes no preset config.
    const push = await gw.call("POST", "/connections", { body: { tenant_id: "globex", integration: "scim" } });
    for (const [body, path] of [
      [{ tenant_id: "globex", connection_id: push.body.id }, "connection_id"],
      [{ tenant_id: "globex", config: { scim: { base_url: "https://x.example" } } }, "config.scim"],
    ] as const) {
      const res = await gw.call("POST", "/connect/sessions", { body });
      expect(res.status, res.text).toBe(400);
      expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
    }
  });

  it("a double submit makes one connection; the second answer shows no token; a cross-site post makes none", async () => {
    const s = await session({ tenant_id: "initech", integrations: ["scim"], locale: "de" });
    // One integration: its page opens at once, in the session's language.
    const intro = await (await fetch(s.url)).text();
    expect(intro).toContain("SCIM verbinden");
    expect(intro).toContain("Verbindung anlegen");
    // Posted from another site: refused, nothing made.
    const forged = await submit(s.url, { integration: "scim" }, { origin: "http://evil.example", "sec-fetch-site": "cross-site" });
    expect(forged.status).toBe(403);
    expect(await scimConnections("initech")).toBe(0);
    const answers = await Promise.all([submit(s.url, { integration: "scim" }), submit(s.url, { integration: "scim" })]);
    const pages = await Promise.all(answers.map((a) => a.text()));
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    const withToken = pages.filter((p) => shown(p).token !== undefined);
    expect(withToken).toHaveLength(1);
    expect(withToken[0]).toContain("Bereitstellung im Identitätsanbieter einrichten");
    const other = pages.find((p) => shown(p).token === undefined) as string;
    expect(other).toContain("Warten auf die erste Anfrage");
    expect(await scimConnections("initech")).toBe(1);
  });
});
