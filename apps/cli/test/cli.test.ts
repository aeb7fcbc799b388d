import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { connectionStore, createVault, generateKeySpec, parseKeyRing } from "@unifold/db";
import { describe, expect, it } from "vitest";
import { freePort, useGatewayWithSandbox } from "../../gateway/test/harness.ts";
import { run } from "../src/cli.ts";

const currentKey = generateKeySpec("k2");
const oldKey = generateKeySpec("k1");

// A ring mid-rotation: k2 encrypts, k1 still decrypts.
const fx = useGatewayWithSandbox({ tenants: { acme: 3 }, gateway: { keySpec: `${currentKey},${oldKey}`, jobs: true }, connect: false });

/** One CLI invocation in this process, against the test gateway over loopback HTTP. */
async function cli(argv: string[], options: { stdin?: string; env?: Record<string, string | undefined> } = {}) {
  let out = "";
  let err = "";
  const code = await run(argv, {
    env: { UNIFOLD_URL: fx.gw.url, UNIFOLD_API_KEY: fx.gw.adminKey, ...options.env },
    out: (text) => (out += text),
    err: (text) => (err += text),
    stdin: async () => options.stdin ?? "",
  });
  return { code, out, err };
}

describe("unifold connections", () => {
  it("registers a connection with the credential read from stdin, then lists, verifies and deletes it", async () => {
    const secret = fx.sandbox.key("jumpcloud", "acme");
    const created = await cli(
      [
        "connections",
        "create",
        "--tenant",
        "acme",
        "--integration",
        "jumpcloud",
        "--name",
        "Acme JumpCloud",
        "--credential",
        "api_key=-",
        "--config",
        `base_url=${fx.sandbox.baseUrl("jumpcloud")}`,
        "--json",
      ],
      { stdin: `${secret}\n` },
    );
    expect(created.code, created.err).toBe(0);
    const connection = JSON.parse(created.out);
    expect(connection).toMatchObject({ tenant_id: "acme", integration: "jumpcloud", name: "Acme JumpCloud", status: "active" });
    // Verified upstream with the stdin value (the sandbox refuses any other key), and never echoed.
    expect(connection.last_verified_at).not.toBeNull();
    expect(created.out + created.err).not.toContain(secret);

    const listed = await cli(["connections", "list", "--tenant", "acme"]);
    expect(listed.code).toBe(0);
    const [heading, ...rows] = listed.out.trimEnd().split("\n");
    expect(heading?.split(/\s{2,}/)).toEqual(["ID", "TENANT", "INTEGRATION", "NAME", "STATUS", "LAST VERIFIED"]);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatch(new RegExp(`^${connection.id}\\s+acme\\s+jumpcloud\\s+Acme JumpCloud\\s+active\\s+\\d{4}-`));

    const verified = await cli(["connections", "verify", connection.id]);
    expect(verified.code).toBe(0);
    expect(verified.out).toMatch(/^status:\s+active$/m);
    expect(verified.out).toContain(`base_url=${fx.sandbox.baseUrl("jumpcloud")}`);

    const deleted = await cli(["connections", "delete", connection.id]);
    expect(deleted).toMatchObject({ code: 0, out: `deleted connection ${connection.id}\n` });
    expect((await fx.gw.call("GET", `/connections/${connection.id}`)).status).toBe(404);
  });

  it("lists every connection across pages, filtered by tenant", async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 205; i++) {
      const res = await fx.gw.call("POST", "/connections?verify=false", {
        body: { tenant_id: "bulk", integration: "postman-scim", credentials: { api_key: `key-${i}` } },
      });
      ids.add(res.body.id);
    }
    await fx.gw.call("POST", "/connections?verify=false", {
      body: { tenant_id: "other", integration: "jumpcloud", credentials: { api_key: "x" } },
    });

    const listed = await cli(["connections", "list", "--tenant", "bulk", "--json"]);
    expect(listed.code).toBe(0);
    const rows: { id: string; tenant_id: string }[] = JSON.parse(listed.out);
    expect(rows).toHaveLength(205);
    expect(new Set(rows.map((row) => row.id))).toEqual(ids);

    const table = await cli(["connections", "list", "--tenant", "bulk", "--integration", "postman-scim"]);
    expect(table.out.trimEnd().split("\n")).toHaveLength(206);
  });
});

describe("unifold api-keys", () => {
  it("makes a tenant-bound key that works, shows its secret once, and revokes it", async () => {
    const created = await cli(["api-keys", "create", "--name", "backend", "--scope", "api", "--tenant", "acme"]);
    expect(created.code).toBe(0);
    const secret = /^secret:\s+(ufk_\S+)$/m.exec(created.out)?.[1];
    expect(secret).toMatch(/^ufk_[A-Za-z0-9_-]{43}$/);
    expect(created.err).toContain("shown this once");
    const id = /^id:\s+(\S+)$/m.exec(created.out)?.[1] as string;
    expect((await fx.gw.call("GET", "/integrations", { key: secret })).status).toBe(200);

    const listed = await cli(["api-keys", "list", "--json"]);
    const key = JSON.parse(listed.out).find((row: { id: string }) => row.id === id);
    expect(key).toMatchObject({ name: "backend", scope: "api", tenant_id: "acme", revoked_at: null });
    expect(listed.out).not.toContain(secret);

    const revoked = await cli(["api-keys", "revoke", id]);
    expect(revoked).toMatchObject({ code: 0, out: `revoked API key ${id} (backend)\n` });
    expect((await fx.gw.call("GET", "/integrations", { key: secret })).status).toBe(401);
  });
});

describe("unifold encryption-keys", () => {
  it("re-seals credentials sealed with the old key under the current one, and reports a key missing from the ring", async () => {
    // Rows as an earlier deployment left them: one under k1 (still in the ring), one under k0 (dropped from it).
    const db = fx.gw.services.platform.store.db;
    const underOld = await connectionStore(db, createVault(parseKeyRing(oldKey))).create({
      tenantId: "rotation",
      integration: "jumpcloud",
      config: { base_url: fx.sandbox.baseUrl("jumpcloud") },
      credentials: { api_key: fx.sandbox.key("jumpcloud", "acme") },
    });
    await connectionStore(db, createVault(parseKeyRing(generateKeySpec("k0")))).create({
      tenantId: "rotation",
      integration: "jumpcloud",
      config: {},
      credentials: { api_key: "lost" },
    });

    const before = JSON.parse((await cli(["encryption-keys", "list", "--json"])).out);
    expect(before.current_key_id).toBe("k2");
    const usage = (ring: { keys: { id: string; in_ring: boolean; connections: number }[] }): Record<string, [boolean, number]> =>
      Object.fromEntries(ring.keys.map((key) => [key.id, [key.in_ring, key.connections]]));
    const sealedWithK2 = usage(before).k2?.[1] ?? 0;
    expect(usage(before)).toMatchObject({ k1: [true, 1], k0: [false, 1] });

    const rotated = await cli(["encryption-keys", "rotate"]);
    expect(rotated.code).toBe(0);
    expect(rotated.out).toMatch(/^re-sealed 1 connection\(s\) with key k2$/m);
    expect(rotated.out).toMatch(new RegExp(`^k2\\s+yes\\s+yes\\s+${sealedWithK2 + 1}$`, "m"));
    expect(rotated.out).toMatch(/^k1\s+-\s+yes\s+0$/m);
    expect(rotated.out).toMatch(/^k0\s+-\s+MISSING\s+1$/m);

    const after = JSON.parse((await cli(["encryption-keys", "list", "--json"])).out);
    expect(usage(after).k1).toEqual([true, 0]);
    // The re-sealed credentials still open: the upstream accepts them.
    const verified = await cli(["connections", "verify", underOld.id, "--json"]);
    expect(JSON.parse(verified.out).status).toBe("active");
    expect((await cli(["encryption-keys", "rotate", "--json"])).out).toContain('"rotated": 0');
  });
});

describe("unifold and a directory that pushes", () => {
  it("registers a SCIM connection (base URL and token shown once), rotates its token and shows its request log", async () => {
    const created = await cli(["connections", "create", "--tenant", "acme", "--integration", "scim", "--name", "Okta"]);
    expect(created.code).toBe(0);
    const baseUrl = /scim base URL\s+(\S+)/.exec(created.out)?.[1];
    const token = /scim token\s+(\S+)/.exec(created.out)?.[1];
    expect(baseUrl).toMatch(/\/scim\/v2\/[0-9a-f-]{36}$/);
    const id = baseUrl!.split("/").at(-1)!;
    expect(created.err).toContain("shown this once");
    expect((await fetch(`${baseUrl}/Users`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);

    const rotated = await cli(["connections", "scim-token", id, "--json"]);
    const fresh = JSON.parse(rotated.out).token as string;
    expect((await fetch(`${baseUrl}/Users`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
    expect((await fetch(`${baseUrl}/Groups`, { headers: { authorization: `Bearer ${fresh}` } })).status).toBe(200);

    const log = await cli(["connections", "scim-log", id]);
    const [heading, ...rows] = log.out.trimEnd().split("\n");
    expect(heading?.split(/\s{2,}/)).toEqual(["AT", "METHOD", "PATH", "STATUS", "SCIM TYPE", "RESOURCE", "MS", "DETAIL"]);
    expect(rows.map((row) => row.split(/\s{2,}/).slice(1, 4))).toEqual([
      ["GET", "/Groups", "200"],
      ["GET", "/Users", "401"],
      ["GET", "/Users", "200"],
    ]);
  });
});

describe("unifold errors and exit codes", () => {
  it("prints the gateway's error and exits 1", async () => {
    const missing = await cli(["connections", "get", "00000000-0000-4000-8000-000000000000"]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/^unifold: 404 not_found: /);

    const invalid = await cli(["api-keys", "create", "--name", "x", "--scope", "admin", "--tenant", "acme", "--json"]);
    expect(invalid.code).toBe(1);
    expect(JSON.parse(invalid.err).error).toMatchObject({ code: "invalid_request", details: [{ path: "tenant_id" }] });

    const refused = await cli(["connections", "list"], { env: { UNIFOLD_API_KEY: "ufk_" + "A".repeat(43) } });
    expect(refused).toMatchObject({ code: 1, out: "" });
    expect(refused.err).toContain("401 unauthorized");
  });

  it("exits 2 on a wrong command line, before any request", async () => {
    expect((await cli(["connections", "explode"])).code).toBe(2);
    expect((await cli(["connections", "get"])).err).toContain("expected <id>");
    expect((await cli(["connections", "create", "--tenant", "acme"])).err).toContain("--integration is required");
    expect((await cli(["connections", "create", "--tenant", "a", "--integration", "jumpcloud", "--credential", "novalue"])).code).toBe(2);
    expect((await cli(["connections", "list", "--colour"])).code).toBe(2);
    expect((await cli(["connections", "list"], { env: { UNIFOLD_API_KEY: undefined } })).err).toContain("no API key");
    const help = await cli(["--help"]);
    expect(help.code).toBe(0);
    expect(help.out).toContain("encryption-keys rotate");
  });

  it("says it cannot reach a gateway that is not there", async () => {
    const port = await freePort();
    const closed = await cli(["connections", "list"], { env: { UNIFOLD_URL: `http://127.0.0.1:${port}` } });
    expect(closed.code).toBe(1);
    expect(closed.err).toContain(`cannot reach the gateway at http://127.0.0.1:${port} (ECONNREFUSED)`);
  });
});

describe("the unifold command", () => {
  it("runs from the workspace's node_modules/.bin", async () => {
    const bin = fileURLToPath(new URL("../../../node_modules/.bin/unifold", import.meta.url));
    const { stdout } = await promisify(execFile)(bin, ["integrations", "list"], {
      env: { ...process.env, UNIFOLD_URL: fx.gw.url, UNIFOLD_API_KEY: fx.gw.adminKey },
    });
    expect(stdout.split("\n").map((line) => line.split(/\s+/)[0])).toEqual(
      expect.arrayContaining(["SLUG", "jostle-scim", "jumpcloud", "postman-scim"]),
    );
  });
});

describe("unifold syncs and webhooks", () => {
  it("registers an endpoint (secret shown once), starts a sync, and shows its runs and the deliveries", async () => {
    const connection = (
      await cli(
        [
          "connections",
          "create",
          "--tenant",
          "acme",
          "--integration",
          "jumpcloud",
          "--credential",
          "api_key=-",
          "--config",
          `base_url=${fx.sandbox.baseUrl("jumpcloud")}`,
          "--json",
        ],
        { stdin: fx.sandbox.key("jumpcloud", "acme") },
      )
    ).out;
    const connectionId = JSON.parse(connection).id as string;
    const hook = await cli([
      "webhooks",
      "create",
      "http://127.0.0.1:9/unused",
      "--tenant",
      "acme",
      "--events",
      "user.created,user.deleted",
      "--json",
    ]);
    expect(hook.code, hook.err).toBe(0);
    const endpoint = JSON.parse(hook.out);
    expect(endpoint.secret).toMatch(/^whsec_/);
    expect((await cli(["webhooks", "list"])).out).toContain(endpoint.id);
    const wrong = await cli(["webhooks", "create", "http://127.0.0.1:9/x", "--tenant", "acme", "--events", "user.exploded"]);
    expect(wrong.code).toBe(1);
    expect(wrong.err).toMatch(/events/);

    const sync = await cli(["syncs", "create", connectionId, "--resources", "users", "--interval", "600", "--json"]);
    expect(sync.code, sync.err).toBe(0);
    const syncId = JSON.parse(sync.out).id as string;
    let runs = "";
    for (let i = 0; i < 100 && !runs.includes("succeeded"); i++) {
      runs = (await cli(["syncs", "runs", syncId])).out;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(runs).toMatch(/succeeded .*added 3/);
    expect((await cli(["syncs", "list"])).out).toContain(syncId);
    expect((await cli(["syncs", "pause", syncId])).out).toContain("paused");
    const rotated = await cli(["webhooks", "rotate-secret", endpoint.id, "--json"]);
    expect(JSON.parse(rotated.out).secret).not.toBe(endpoint.secret);
    const retired = await cli(["webhooks", "rotate-secret", endpoint.id, "--overlap", "0"]);
    const stops = /the old secret stops signing at (\S+)/.exec(retired.out)?.[1];
    expect(Date.parse(stops ?? "")).toBeLessThanOrEqual(Date.now());
    expect((await cli(["webhooks", "deliveries", endpoint.id])).code).toBe(0);
    expect((await cli(["webhooks", "delete", endpoint.id])).out).toContain("deleted");
    expect((await cli(["syncs", "delete", syncId])).out).toContain("deleted");
  });
});

describe("unifold connect-link", () => {
  it("prints a single-use link to the connect page, with presets; bad input names the field", async () => {
    const made = await cli([
      "connect-link",
      "--tenant",
      "acme",
      "--integrations",
      "jumpcloud",
      "--config",
      `jumpcloud.base_url=${fx.sandbox.baseUrl("jumpcloud")}`,
      "--locale",
      "fr",
    ]);
    expect(made.code, made.err).toBe(0);
    const url = made.out.trim();
    expect(url).toMatch(new RegExp(`^${fx.gw.url}/connect/ucs_[\\w-]{43}$`));
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("Connecter JumpCloud");
    const wrong = await cli(["connect-link", "--tenant", "acme", "--redirect-url", "javascript:alert(1)"]);
    expect(wrong.code).toBe(1);
    expect(wrong.err).toMatch(/redirect_url/);
  });
});
