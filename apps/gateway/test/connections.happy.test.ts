import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Gateway, keyCheckingUpstream, startGateway } from "./harness.ts";

describe("connections: happy paths", () => {
  let gw: Gateway;
  let upstream: Awaited<ReturnType<typeof keyCheckingUpstream>>;

  beforeAll(async () => {
    gw = await startGateway();
    upstream = await keyCheckingUpstream();
  });
  afterAll(async () => {
    await upstream.close();
    await gw.close();
  });

  const create = (tenant: string, integration = "jumpcloud", extra: Record<string, unknown> = {}) =>
    gw.call("POST", "/connections", {
      body: { tenant_id: tenant, integration, credentials: { api_key: "good-key" }, config: { base_url: upstream.url }, ...extra },
    });

  it("registers a connection after one verify call, injecting auth the way the integration says", async () => {
    const before = upstream.received.length;
    const res = await create("acme", "jumpcloud", { name: "Acme JumpCloud", config: { base_url: upstream.url, org_id: "org-7" } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      tenant_id: "acme",
      integration: "jumpcloud",
      name: "Acme JumpCloud",
      status: "active",
      config: { base_url: upstream.url, org_id: "org-7" },
    });
    expect(res.body.last_verified_at).toEqual(expect.any(String));
    expect(res.body).not.toHaveProperty("credentials");
    const call = upstream.received[before];
    expect(call).toMatchObject({ method: "GET", url: "/organizations?limit=1" });
    expect(call?.headers["x-api-key"]).toBe("good-key");
    expect(call?.headers["x-org-id"]).toBe("org-7");
  });

  it("leaves x-org-id out when a JumpCloud connection has no org_id", async () => {
    const before = upstream.received.length;
    expect((await create("solo")).status).toBe(201);
    expect(upstream.received[before]?.headers).not.toHaveProperty("x-org-id");
  });

  it("sends SCIM integrations' keys as a Bearer token to their verify path", async () => {
    const before = upstream.received.length;
    expect((await create("acme", "jostle-scim")).status).toBe(201);
    expect((await create("acme", "postman-scim")).status).toBe(201);
    expect(upstream.received[before]).toMatchObject({ url: "/Me", headers: { authorization: "Bearer good-key" } });
    expect(upstream.received[before + 1]).toMatchObject({ url: "/Users?count=1", headers: { authorization: "Bearer good-key" } });
  });

  it("fills config with the vendor's default base URL when none is given", async () => {
    const res = await gw.call("POST", "/connections?verify=false", {
      body: { tenant_id: "dflt", integration: "postman-scim", credentials: { api_key: "k" } },
    });
    expect(res.status).toBe(201);
    expect(res.body.config.base_url).toBe("https://api.getpostman.com/scim/v2/");
    expect(res.body.last_verified_at).toBeNull();
  });

  it("gets, renames, re-keys and deletes a connection", async () => {
    const { body: created } = await create("crud");
    expect((await gw.call("GET", `/connections/${created.id}`)).body).toEqual(created);

    const renamed = await gw.call("PATCH", `/connections/${created.id}`, { body: { name: "Renamed" } });
    expect(renamed.status).toBe(200);
    expect(renamed.body.name).toBe("Renamed");

    const rejected = await gw.call("PATCH", `/connections/${created.id}`, { body: { credentials: { api_key: "bad-key" } } });
    expect(rejected.status).toBe(400);
    expect(rejected.body.error.upstream).toEqual({ status: 401, body: { message: "Unauthorized" } });
    expect(await gw.services.connections.credentials(created.id)).toEqual({ api_key: "good-key" });

    const rekeyed = await gw.call("PATCH", `/connections/${created.id}?verify=false`, { body: { credentials: { api_key: "new-key" } } });
    expect(rekeyed.status).toBe(200);
    expect(await gw.services.connections.credentials(created.id)).toEqual({ api_key: "new-key" });

    const deleted = await gw.call("DELETE", `/connections/${created.id}`);
    expect(deleted.body).toEqual({ id: created.id, outcome: "deleted" });
    expect((await gw.call("GET", `/connections/${created.id}`)).status).toBe(404);
  });

  it("marks a connection needs_reauth when the upstream rejects its key, and active again once it accepts it", async () => {
    const { body: created } = await gw.call("POST", "/connections?verify=false", {
      body: { tenant_id: "reauth", integration: "jumpcloud", credentials: { api_key: "stale-key" }, config: { base_url: upstream.url } },
    });
    const failed = await gw.call("POST", `/connections/${created.id}/verify`);
    expect(failed.status).toBe(200);
    expect(failed.body.status).toBe("needs_reauth");
    await gw.call("PATCH", `/connections/${created.id}?verify=false`, { body: { credentials: { api_key: "good-key" } } });
    const ok = await gw.call("POST", `/connections/${created.id}/verify`);
    expect(ok.body.status).toBe("active");
    expect(ok.body.last_verified_at).not.toBeNull();
  });

  it("lists connections filtered by tenant, integration and status, page by page", async () => {
    for (let i = 0; i < 5; i++) await create("pager");
    await create("pager", "postman-scim");
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = `tenant_id=pager&integration=jumpcloud&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      const res = await gw.call("GET", `/connections?${query}`);
      expect(res.status).toBe(200);
      expect(res.body.result.length).toBeLessThanOrEqual(2);
      expect(res.body.result_count).toBe(res.body.result.length);
      for (const c of res.body.result) {
        expect(c).toMatchObject({ tenant_id: "pager", integration: "jumpcloud" });
        seen.push(c.id);
      }
      cursor = res.body.next_cursor;
      pages++;
    } while (cursor);
    expect(seen).toHaveLength(5);
    expect(new Set(seen).size).toBe(5);
    expect(pages).toBe(3);

    const needsReauth = await gw.call("GET", "/connections?status=needs_reauth");
    expect(needsReauth.body.result.every((c: { status: string }) => c.status === "needs_reauth")).toBe(true);
  });

  it("lists the loaded integrations with their fields", async () => {
    const res = await gw.call("GET", "/integrations");
    expect(res.status).toBe(200);
    const jumpcloud = res.body.result.find((i: { slug: string }) => i.slug === "jumpcloud");
    expect(jumpcloud).toMatchObject({
      name: "JumpCloud",
      default_base_url: "https://console.jumpcloud.com/api",
      credential_fields: [
        {
          name: "api_key",
          required: true,
          help_url: expect.stringMatching(/^https:\/\/jumpcloud\.com\//),
          pattern: "[A-Za-z0-9_\\-]{20,200}",
        },
      ],
      config_fields: [{ name: "org_id", required: false, pattern: "[0-9a-f]{24}", placeholder: "5a4bff7ab17d0c9f63bcd277" }],
      resources: {
        users: ["list", "get", "create", "update", "delete"],
        organizations: ["list", "get"],
        group_members: ["list", "create", "delete"],
      },
      proxy_resources: expect.arrayContaining(["systemusers", "usergroups"]),
    });
    const jostle = res.body.result.find((i: { slug: string }) => i.slug === "jostle-scim");
    expect(Object.keys(jostle.resources).sort()).toEqual(["me", "users"]);
    expect(res.body.result.map((i: { slug: string }) => i.slug).sort()).toEqual([
      "google-workspace",
      "jostle-scim",
      "jumpcloud",
      "microsoft-entra-id",
      "okta",
      "postman-scim",
      "scim",
    ]);
    // Okta's address is the connection's own: a required config field, with no usable default.
    const okta = res.body.result.find((i: { slug: string }) => i.slug === "okta");
    expect(okta).toMatchObject({
      credential_fields: [{ name: "api_token", required: true }],
      config_fields: [{ name: "base_url", required: true, placeholder: "https://acme.okta.com" }],
      // `delta`: a sync reads only what changed since its last run.
      resources: {
        users: ["list", "get", "create", "update", "delete", "delta"],
        groups: ["list", "get", "create", "update", "delete", "delta"],
        organizations: ["list"],
      },
    });
  });
});
