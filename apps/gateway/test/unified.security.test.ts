import { cpSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { get as httpGet } from "node:http";
import { User } from "@unifold/engine";
import { beforeAll, describe, expect, it } from "vitest";
import { useGatewayWithSandbox } from "./harness.ts";

const modelFields = Object.keys(User.shape)
  .filter((key) => key !== "remote_data")
  .sort();

describe("unified API: isolation, bad input and upstream failures", () => {
  const ids: Record<string, string> = {};
  const keys: Record<string, string> = {};
  const fx = useGatewayWithSandbox({
    tenants: { acme: 20, globex: 12 },
    connect: false,
    // A copy of mappings/ plus one extra integration that exists only as files in a temp folder.
    mappings: (dir) => {
      cpSync(join(dir, "postman-scim"), join(dir, "acme-scim"), { recursive: true });
      writeFileSync(
        join(dir, "acme-scim", "users.jsonata"),
        '{ "id": id, "username": userName, "status": active ? "active" : "inactive", "source": "acme-scim" }',
      );
      // Drops some records and claims remote_data for itself.
      cpSync(join(dir, "postman-scim"), join(dir, "odd-scim"), { recursive: true });
      writeFileSync(
        join(dir, "odd-scim", "users.jsonata"),
        '$substring(id, 0, 1) < "8" ? null : { "id": id, "remote_data": "the mapping\'s own" }',
      );
      // Maps vendor values the model refuses: an unknown status, a time that is no time, a typeless email.
      cpSync(join(dir, "postman-scim"), join(dir, "offmodel-scim"), { recursive: true });
      writeFileSync(
        join(dir, "offmodel-scim", "users.jsonata"),
        '{ "id": id, "username": userName, "status": "on holiday", "created_at": "elit", "emails": [{ "email": userName, "type": "pigeon" }] }',
      );
      // Maps records the model cannot serve: no id.
      cpSync(join(dir, "postman-scim"), join(dir, "idless-scim"), { recursive: true });
      writeFileSync(join(dir, "idless-scim", "users.jsonata"), '{ "username": userName }');
      cpSync(join(dir, "jumpcloud"), join(dir, "broken-jc"), { recursive: true });
      writeFileSync(
        join(dir, "broken-jc", "organizations.jsonata"),
        '{ "id": _id, "name": $error("organization " & _id & " cannot be mapped") }',
      );
    },
  });

  beforeAll(async () => {
    const register = async (
      name: string,
      tenant: string,
      integration: string,
      vendor: "jostle" | "postman" | "jumpcloud",
      key?: string,
    ) => {
      const res = await fx.gw.call("POST", "/connections", {
        body: {
          tenant_id: tenant,
          integration,
          credentials: { api_key: key ?? fx.sandbox.key(vendor, tenant) },
          config: { base_url: fx.sandbox.baseUrl(vendor) },
        },
      });
      expect(res.status).toBe(201);
      ids[name] = res.body.id;
    };
    await register("acmeJc", "acme", "jumpcloud", "jumpcloud");
    await register("globexJc", "globex", "jumpcloud", "jumpcloud");
    await register("acmePm", "acme", "postman-scim", "postman");
    await register("acmeJostle", "acme", "jostle-scim", "jostle");
    await register("extra", "acme", "acme-scim", "postman");
    await register("odd", "acme", "odd-scim", "postman");
    await register("idless", "acme", "idless-scim", "postman");
    await register("offModel", "acme", "offmodel-scim", "postman");
    await register("broken", "acme", "broken-jc", "jumpcloud");
    for (const [name, tenant] of [
      ["acme", "acme"],
      ["globex", "globex"],
    ] as const) {
      keys[name] = (await fx.gw.call("POST", "/api-keys", { body: { name, scope: "api", tenant_id: tenant } })).body.secret;
    }
    keys.server = (await fx.gw.call("POST", "/api-keys", { body: { name: "server", scope: "api" } })).body.secret;
  });

  const users = (connection: string, key: string, query = "") =>
    fx.gw.call("GET", `/unified/user-directory/users?connection_id=${connection}${query}`, { key });

  it("serves an integration that exists only as files in the mappings folder, in the unified model's shape", async () => {
    const res = await users(ids.extra!, keys.acme!, "&limit=3&remote_data=false");
    expect(res.status).toBe(200);
    expect(res.body.result).toHaveLength(3);
    expect(res.body.result[0]).toMatchObject({ id: expect.any(String), username: expect.any(String), status: expect.any(String) });
    // Every field of the model is there, and the mapping's own off-model field is not.
    expect(Object.keys(res.body.result[0]).sort()).toEqual(modelFields);
  });

  it("keeps remote_data with its own record when a mapping drops records or names remote_data itself", async () => {
    const res = await users(ids.odd!, keys.acme!, "&limit=20");
    expect(res.status).toBe(200);
    const upstream = await fx.gw.call("GET", `/passthrough/Users?startIndex=1&count=20&connection_id=${ids.odd}`, { key: keys.acme! });
    const kept = (upstream.body.Resources as { id: string; active: boolean }[]).filter((r) => r.id[0]! >= "8");
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThan(20);
    expect(res.body.result.map((r: { id: string; remote_data: unknown }) => [r.id, r.remote_data])).toEqual(kept.map((r) => [r.id, r]));
    expect(res.body.result_count).toBe(kept.length);
    // One remote_data per object: the mapping's own is replaced, not repeated beside it.
    expect(res.text.split('"remote_data":').length - 1).toBe(kept.length);
    // remote_data is the raw upstream object or nothing: a mapping cannot write its own.
    const without = await users(ids.odd!, keys.acme!, "&limit=20&remote_data=false");
    expect(without.body.result.map((r: object) => "remote_data" in r)).toEqual(kept.map(() => false));
  });

  it("answers off-model vendor values as null, counts them by field in /metrics and logs the record ids, never the values", async () => {
    const res = await users(ids.offModel!, keys.acme!, "&limit=2&remote_data=false");
    expect(res.status).toBe(200);
    for (const user of res.body.result) {
      expect(user).toMatchObject({ status: null, created_at: null, emails: [{ email: user.username, type: null, is_primary: null }] });
    }
    const metrics = (await fx.gw.call("GET", "/metrics")).text;
    for (const field of ["status", "created_at", "emails[].type"]) {
      expect(metrics).toContain(`unifold_off_model_values_total{integration="offmodel-scim",resource="users",field="${field}"} 2`);
    }
    const logged = fx.gw
      .logs()
      .split("\n")
      .filter((line) => line.includes("outside the unified model"));
    expect(logged).toHaveLength(1);
    const entry = JSON.parse(logged[0]!);
    expect(entry.off_model).toContainEqual({ field: "status", record_id: res.body.result[0].id });
    expect(logged[0]).not.toMatch(/on holiday|elit|pigeon/);
  });

  it("answers a 502 naming the integration and resource when a mapped record has no id, never a 200 with it", async () => {
    const upstream = await fx.gw.call("GET", `/passthrough/Users?startIndex=1&count=1&connection_id=${ids.idless}`, { key: keys.acme! });
    const id = upstream.body.Resources[0].id as string;
    for (const path of ["/unified/user-directory/users", `/unified/user-directory/users/${id}`]) {
      const res = await fx.gw.call("GET", `${path}?connection_id=${ids.idless}`, { key: keys.acme! });
      expect(res.status, path).toBe(502);
      expect(res.body.error.code).toBe("upstream_error");
      expect(res.body.error.message).toMatch(/idless-scim answered a users record the unified model cannot serve: no valid id/);
    }
  });

  it("never lets a tenant-bound api key reach another tenant's connection, answering as for an unknown id", async () => {
    const foreign = await users(ids.acmeJc!, keys.globex!);
    const unknown = await users("5b1b7a5e-7c1d-4a43-9a55-8b8f1f0b2c3d", keys.globex!);
    expect(foreign.status).toBe(404);
    expect(foreign.body.error.code).toBe("not_found");
    expect(foreign.body.error.message.replace(ids.acmeJc!, "X")).toBe(
      unknown.body.error.message.replace("5b1b7a5e-7c1d-4a43-9a55-8b8f1f0b2c3d", "X"),
    );
    expect((await users(ids.globexJc!, keys.globex!)).status).toBe(200);
    for (const path of [`/proxy/systemusers?connection_id=${ids.acmeJc}`, `/passthrough/organizations?connection_id=${ids.acmeJc}`]) {
      expect((await fx.gw.call("GET", path, { key: keys.globex! })).status).toBe(404);
    }
    expect((await users(ids.acmeJc!, keys.server!)).status).toBe(200);
  });

  it("requires connection_id and refuses unknown query parameters", async () => {
    expect((await fx.gw.call("GET", "/unified/user-directory/users", { key: keys.server! })).body.error.code).toBe("invalid_request");
    const res = await users(ids.acmeJc!, keys.server!, "&colour=blue");
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("invalid_request");
  });

  it("answers forged, truncated and foreign cursors with invalid_cursor", async () => {
    const first = await users(ids.acmeJc!, keys.server!, "&limit=2");
    const cursor: string = first.body.next_cursor;
    const cases = [
      [ids.acmeJc!, "garbage"],
      [ids.acmeJc!, cursor.slice(0, -3)],
      [ids.globexJc!, cursor],
    ] as const;
    for (const [connection, token] of cases) {
      const res = await users(connection, keys.server!, `&limit=2&cursor=${encodeURIComponent(token)}`);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe("invalid_cursor");
    }
    const otherFilter = await users(ids.acmeJc!, keys.server!, `&limit=2&status=active&cursor=${encodeURIComponent(cursor)}`);
    expect(otherFilter.body.error.code).toBe("invalid_cursor");
    const otherResource = await fx.gw.call(
      "GET",
      `/unified/hris/employees?connection_id=${ids.acmeJc}&limit=2&cursor=${encodeURIComponent(cursor)}`,
      { key: keys.server! },
    );
    expect(otherResource.body.error.code).toBe("invalid_cursor");
  });

  it.each([
    ["acmeJostle", "&email=a@b.c", "email"],
    ["acmeJostle", "&status=active", "status"],
    ["acmePm", "&email=a@b.c", "email"],
    ["acmePm", "&status=invited", "status"],
    ["acmeJc", "&updated_after=2024-01-01T00:00:00Z", "updated_after"],
  ])(
    "refuses filters the upstream cannot apply (%s %s) with filter_not_supported naming filter and integration",
    async (name, query, filter) => {
      const res = await users(ids[name]!, keys.server!, query);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe("filter_not_supported");
      expect(res.body.error.message).toContain(filter);
      expect(res.body.error.message).toMatch(/jostle-scim|postman-scim|jumpcloud/);
    },
  );

  it("answers a resource the integration lacks with resource_not_supported naming both", async () => {
    for (const [name, path] of [
      ["acmeJostle", "/unified/user-directory/groups"],
      ["acmePm", "/unified/user-directory/me"],
      ["acmeJc", "/unified/user-directory/me"],
      ["acmePm", "/unified/hris/employees"],
    ] as const) {
      const res = await fx.gw.call("GET", `${path}?connection_id=${ids[name]}`, { key: keys.server! });
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe("resource_not_supported");
    }
    const proxy = await fx.gw.call("GET", `/proxy/Groups?connection_id=${ids.acmeJostle}`, { key: keys.server! });
    expect(proxy.body.error.code).toBe("resource_not_supported");
  });

  it("refuses an Idempotency-Key on proxy and passthrough calls, which keep no answers, sending nothing", async () => {
    const before = fx.sandbox.world.requests.length;
    for (const path of [`/passthrough/systemusers?connection_id=${ids.acmeJc}`, `/proxy/systemusers/x?connection_id=${ids.acmeJc}`]) {
      const res = await fx.gw.call("POST", path, { key: keys.server!, body: { username: "k" }, headers: { "idempotency-key": "abc" } });
      expect(res.status, path).toBe(400);
      expect(res.body.error.details[0].path).toBe("idempotency-key");
    }
    expect(fx.sandbox.world.requests.length).toBe(before);
  });

  it("gives every answer an x-request-id, proxy and passthrough answers included", async () => {
    const raw = fx.sandbox.jumpcloud.tenant("acme").users.all()[0]!;
    for (const path of [
      `/proxy/systemusers/${raw._id}?connection_id=${ids.acmeJc}`,
      `/proxy/systemusers?connection_id=${ids.acmeJc}`,
      `/passthrough/systemusers/${raw._id}?connection_id=${ids.acmeJc}`,
      `/passthrough/nosuchthing?connection_id=${ids.acmeJc}`,
    ]) {
      const res = await fetch(`${fx.gw.url}${path}`, { headers: { authorization: `Bearer ${keys.server}`, "x-request-id": "trace-42" } });
      expect(res.headers.get("x-request-id"), path).toBe("trace-42");
    }
  });

  it("names no proxy resource with Object.prototype's names, and sends nothing upstream for them", async () => {
    const before = fx.sandbox.world.requests.length;
    for (const name of ["__proto__", "constructor", "hasOwnProperty", "toString"]) {
      for (const path of [`/proxy/${name}`, `/proxy/${name}/abc`]) {
        const res = await fx.gw.call("GET", `${path}?connection_id=${ids.acmeJc}`, { key: keys.server! });
        expect(res.status, path).toBe(404);
        expect(res.body.error.code, path).toBe("resource_not_supported");
      }
    }
    expect(fx.sandbox.world.requests.length).toBe(before);
  });

  it.each([
    ["..", "/passthrough/../connections"],
    ["nested ..", "/passthrough/v2/../../../etc/passwd"],
    ["%2e%2e", "/passthrough/%2e%2e/%2e%2e/admin"],
    ["%2f", "/passthrough/v2%2f..%2fadmin"],
    ["//host", "/passthrough//evil.example.com/x"],
    ["http://", "/passthrough/http://evil.example.com/x"],
    ["@host", "/passthrough/@evil.example.com/x"],
    ["encoded backslash", "/passthrough/..%5c..%5cx"],
    // An absolute-form request target (RFC 9112 §3.2.2) must not slip past the guard.
    ["absolute-form ..", "http://127.0.0.1/passthrough/../connections"],
    ["absolute-form %2e%2e", "http://gateway.example:80/passthrough/%2e%2e/api-keys"],
  ])("refuses the hostile passthrough path %s with 400", async (_, path) => {
    const before = fx.sandbox.world.requests.length;
    // node:http puts the path on the wire exactly as written; fetch and undici normalise dot segments first.
    const res = await rawGet(`${fx.gw.url}`, `${path}?connection_id=${ids.acmeJc}`, { authorization: `Bearer ${keys.server}` });
    const body = JSON.parse(res.text);
    expect(res.status).toBe(400);
    expect(body.error.code).toBe("invalid_request");
    expect(fx.sandbox.world.requests.length).toBe(before);
  });

  it("reports a mapping that throws as a 502 naming the integration and the mapping file, never a half page", async () => {
    const res = await fx.gw.call("GET", `/unified/user-directory/organizations?connection_id=${ids.broken}`, { key: keys.server! });
    expect(res.status).toBe(502);
    expect(res.body.error.code).toBe("upstream_error");
    expect(res.body.error.message).toMatch(/organizations\.jsonata/);
    expect(res.body.error.message).toContain("JumpCloud");
  });

  it("reports malformed upstream JSON as a 502", async () => {
    fx.sandbox.fault({ vendor: "jumpcloud", tenant: "acme", kind: "malformed", count: 1 });
    const res = await users(ids.acmeJc!, keys.server!);
    expect(res.status).toBe(502);
    expect(res.body.error.message).toMatch(/not valid JSON/);
  });

  it("passes an upstream 5xx on as upstream_error with the upstream's status and body, once retries are spent", async () => {
    fx.sandbox.fault({ vendor: "postman", tenant: "acme", kind: "status", status: 503, count: 3 });
    const before = fx.sandbox.world.requests.length;
    const res = await users(ids.acmePm!, keys.server!);
    expect(fx.sandbox.world.requests.length - before).toBe(3);
    expect(res.status).toBe(502);
    expect(res.body.error).toMatchObject({ code: "upstream_error", upstream: { status: 503 } });
    expect(res.body.error.message).toContain("upstream status 503");
  });

  it("marks a connection needs_reauth on an upstream 401, then fails fast without calling the upstream", async () => {
    const res = await fx.gw.call("POST", "/connections?verify=false", {
      body: {
        tenant_id: "acme",
        integration: "jumpcloud",
        credentials: { api_key: "revoked-key" },
        config: { base_url: fx.sandbox.baseUrl("jumpcloud") },
      },
    });
    const first = await users(res.body.id, keys.server!);
    expect(first.status).toBe(502);
    expect(first.body.error).toMatchObject({ code: "upstream_unauthorized", upstream: { status: 401 } });
    expect((await fx.gw.call("GET", `/connections/${res.body.id}`)).body.status).toBe("needs_reauth");
    const before = fx.sandbox.world.requests.length;
    const again = await users(res.body.id, keys.server!);
    expect(again.body.error.code).toBe("upstream_unauthorized");
    expect(fx.sandbox.world.requests.length).toBe(before);
  });

  it("answers an unknown upstream id with 404 not_found", async () => {
    const res = await fx.gw.call("GET", `/unified/user-directory/users/${"0".repeat(24)}?connection_id=${ids.acmeJc}`, {
      key: keys.server!,
    });
    expect(res.status).toBe(404);
    expect(res.body.error.upstream.status).toBe(404);
  });
});

function rawGet(origin: string, path: string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  const { hostname, port } = new URL(origin);
  return new Promise((resolve, reject) => {
    httpGet({ hostname, port, path, headers }, (res) => {
      let text = "";
      res.on("data", (chunk) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    }).on("error", reject);
  });
}
