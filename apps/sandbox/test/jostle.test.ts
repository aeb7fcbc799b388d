import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningSandbox, startSandbox } from "../src/server.ts";
import { vendorCall } from "./client.ts";

describe("Jostle simulator", () => {
  let sandbox: RunningSandbox;
  const call = (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
    vendorCall(sandbox, "jostle", "acme", method, path, { body, headers });
  beforeAll(async () => {
    sandbox = await startSandbox({
      tenants: [
        { name: "acme", users: 40 },
        { name: "globex", users: 12 },
      ],
    });
  });
  afterAll(() => sandbox.close());

  const newUser = (userName: string, active = true) => ({
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
    userName,
    name: { givenName: "Nia", familyName: "Long" },
    active,
  });

  it("answers a missing or wrong key with 401 in the SCIM error shape", async () => {
    for (const key of [null, "wrong"]) {
      const res = await vendorCall(sandbox, "jostle", "acme", "GET", "/Users", { key });
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"], status: "401" });
    }
  });

  it("pages without a filter, capping count at 100", async () => {
    const res = await call("GET", "/Users?startIndex=11&count=500");
    expect(res.body).toMatchObject({ totalResults: 41, startIndex: 11, itemsPerPage: 31 });
    expect(res.body.Resources).toHaveLength(31);
  });

  it("filters only on userName eq, case-insensitively, and never pages a filtered list", async () => {
    const target = (await call("GET", "/Users?count=5")).body.Resources[4];
    const res = await call(
      "GET",
      `/Users?filter=${encodeURIComponent(`userName eq "${target.userName.toUpperCase()}"`)}&startIndex=3&count=1`,
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ totalResults: 1, startIndex: 1 });
    expect(res.body.Resources[0].id).toBe(target.id);
    for (const filter of ['title eq "CEO"', 'userName co "a"', `userName eq "${target.userName}" and active eq true`, "not a filter"]) {
      const bad = await call("GET", `/Users?filter=${encodeURIComponent(filter)}`);
      expect(bad.status).toBe(400);
      expect(bad.body).toMatchObject({ status: "400", scimType: "invalidFilter" });
    }
  });

  it("searches with POST /Users/.search under the same rules", async () => {
    const res = await call("POST", "/Users/.search", {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
      startIndex: 1,
      count: 3,
    });
    expect(res.body.Resources).toHaveLength(3);
    const bad = await call("POST", "/Users/.search", { filter: 'displayName eq "x"' });
    expect(bad.body.scimType).toBe("invalidFilter");
  });

  it("creates with the minimum body, refuses a duplicate userName with 409 uniqueness, and requires the minimum", async () => {
    const created = await call("POST", "/Users", newUser("nia.long@acme.example.com"));
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ userName: "nia.long@acme.example.com", active: true, meta: { resourceType: "User" } });
    const again = await call("POST", "/Users", newUser("NIA.LONG@acme.example.com"));
    expect(again.status).toBe(409);
    expect(again.body.scimType).toBe("uniqueness");
    const partial = await call("POST", "/Users", { userName: "x@acme.example.com", active: true });
    expect(partial.status).toBe(400);
  });

  it("clears omitted attributes on PUT", async () => {
    const created = await call("POST", "/Users", { ...newUser("put.me@acme.example.com"), title: "Engineer", nickName: "Pm" });
    const replaced = await call("PUT", `/Users/${created.body.id}`, newUser("put.me@acme.example.com"));
    expect(replaced.status).toBe(200);
    expect(replaced.body.title).toBeUndefined();
    expect(replaced.body.nickName).toBeUndefined();
    expect(replaced.body.meta.created).toBe(created.body.meta.created);
  });

  it("applies PatchOps with op names in any case, including Entra's string booleans", async () => {
    const created = await call("POST", "/Users", newUser("patch.me@acme.example.com"));
    const patched = await call("PATCH", `/Users/${created.body.id}`, {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: [
        { op: "Replace", path: "title", value: "Lead" },
        { op: "REPLACE", path: "name.familyName", value: "Short" },
        { op: "Replace", path: "active", value: "False" },
      ],
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ title: "Lead", name: { familyName: "Short" }, active: false });
    expect(patched.body["urn:ietf:params:scim:schemas:extension:jostle:2.0:User"].userState).toBe("Disabled");
  });

  it("refuses to delete an active user, and deletes it once deactivated", async () => {
    const created = await call("POST", "/Users", newUser("delete.me@acme.example.com"));
    const refused = await call("DELETE", `/Users/${created.body.id}`);
    expect(refused.status).toBe(400);
    expect(refused.body.detail).toMatch(/must be deactivated/);
    await call("PATCH", `/Users/${created.body.id}`, { Operations: [{ op: "replace", path: "active", value: false }] });
    expect((await call("DELETE", `/Users/${created.body.id}`)).status).toBe(204);
    expect((await call("GET", `/Users/${created.body.id}`)).body).toMatchObject({ status: "404", detail: "User not found" });
  });

  it("runs mixed /Bulk operations and rejects more than 50 operations or 20 MB with 413 tooMany", async () => {
    const ops = [
      { method: "POST", path: "/Users", bulkId: "a", data: newUser("bulk.a@acme.example.com") },
      { method: "POST", path: "/Users", bulkId: "b", data: newUser("bulk.b@acme.example.com", false) },
      { method: "DELETE", path: "/Users/does-not-exist" },
    ];
    const res = await call("POST", "/Bulk", { schemas: ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], Operations: ops });
    expect(res.status).toBe(200);
    expect(res.body.Operations.map((o: { status: string }) => o.status)).toEqual(["201", "201", "404"]);
    expect(res.body.Operations[0].location).toMatch(/^\/Users\//);

    const tooMany = Array.from({ length: 51 }, (_, i) => ({ method: "POST", path: "/Users", data: newUser(`many${i}@acme.example.com`) }));
    const over = await call("POST", "/Bulk", { schemas: ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], Operations: tooMany });
    expect(over.status).toBe(413);
    expect(over.body.scimType).toBe("tooMany");
    const huge = await call("POST", "/Bulk", {
      Operations: [{ method: "POST", path: "/Users", data: { ...newUser("big@acme.example.com"), title: "x".repeat(21 * 1024 * 1024) } }],
    });
    expect(huge.status).toBe(413);
    expect((await call("GET", `/Users?filter=${encodeURIComponent('userName eq "many0@acme.example.com"')}`)).body.totalResults).toBe(0);
  });

  it("answers /Me with the automation user that owns the key", async () => {
    const me = await call("GET", "/Me");
    expect(me.body.userName).toBe("automation@acme.example.com");
    const other = await vendorCall(sandbox, "jostle", "globex", "GET", "/Me");
    expect(other.body.userName).toBe("automation@globex.example.com");
  });

  it("serves discovery: User only, bulk limits, the Jostle extension schema", async () => {
    const types = await call("GET", "/ResourceTypes");
    expect(types.body.Resources.map((r: { id: string }) => r.id)).toEqual(["User"]);
    const config = await call("GET", "/ServiceProviderConfig");
    expect(config.body.bulk).toMatchObject({ supported: true, maxOperations: 50, maxPayloadSize: 20 * 1024 * 1024 });
    expect(config.body.sort.supported).toBe(false);
    expect((await call("GET", "/Schemas/urn:ietf:params:scim:schemas:extension:jostle:2.0:User")).status).toBe(200);
    expect((await call("GET", "/Groups")).status).toBe(404);
  });

  it("keeps each tenant's directory to itself", async () => {
    const acme = (await call("GET", "/Users?count=100")).body.Resources.map((u: { id: string }) => u.id);
    const globex = (await vendorCall(sandbox, "jostle", "globex", "GET", "/Users?count=100")).body.Resources.map(
      (u: { id: string }) => u.id,
    );
    expect(acme.filter((id: string) => globex.includes(id))).toEqual([]);
    expect((await vendorCall(sandbox, "jostle", "globex", "GET", `/Users/${acme[0]}`)).status).toBe(404);
  });
});
