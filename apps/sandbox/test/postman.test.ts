import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningSandbox, startSandbox } from "../src/server.ts";
import { vendorCall } from "./client.ts";

describe("Postman simulator", () => {
  let sandbox: RunningSandbox;
  const call = (method: string, path: string, body?: unknown) => vendorCall(sandbox, "postman", "acme", method, path, { body });
  beforeAll(async () => {
    sandbox = await startSandbox({ tenants: [{ name: "acme", users: 40 }] });
  });
  afterAll(() => sandbox.close());

  const createUser = (userName: string, extra: Record<string, unknown> = {}) =>
    call("POST", "/Users", {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
      userName,
      name: { givenName: "Al", familyName: "Bo" },
      active: true,
      ...extra,
    });

  it("takes the key with or without the Bearer prefix", async () => {
    const key = sandbox.key("postman", "acme");
    for (const authorization of [`Bearer ${key}`, key]) {
      expect((await vendorCall(sandbox, "postman", "acme", "GET", "/Users?count=1", { headers: { authorization } })).status).toBe(200);
    }
    expect((await vendorCall(sandbox, "postman", "acme", "GET", "/Users", { key: "PMAK-nope" })).status).toBe(401);
  });

  it("issues 48-hex-character ids and filters users by case-sensitive userName and by active", async () => {
    const all = (await call("GET", "/Users?count=100")).body.Resources;
    expect(all[0].id).toMatch(/^[0-9a-f]{48}$/);
    const exact = await call("GET", `/Users?filter=${encodeURIComponent(`userName eq "${all[0].userName}"`)}`);
    expect(exact.body.totalResults).toBe(1);
    const wrongCase = await call("GET", `/Users?filter=${encodeURIComponent(`userName eq "${all[0].userName.toUpperCase()}"`)}`);
    expect(wrongCase.body.totalResults).toBe(0);
    const inactive = await call("GET", `/Users?filter=${encodeURIComponent("active eq false")}&count=100`);
    expect(inactive.body.Resources.length).toBeGreaterThan(0);
    expect(inactive.body.Resources.every((u: { active: boolean }) => !u.active)).toBe(true);
    for (const filter of ['name.givenName eq "Al"', 'userName sw "a"']) {
      expect((await call("GET", `/Users?filter=${encodeURIComponent(filter)}`)).body.scimType).toBe("invalidFilter");
    }
    expect((await call("GET", "/Users?startIndex=0")).status).toBe(400);
  });

  it("has no DELETE for users", async () => {
    const { body } = await createUser("no.delete@acme.example.com");
    expect((await call("DELETE", `/Users/${body.id}`)).status).toBe(404);
    expect((await call("GET", `/Users/${body.id}`)).status).toBe(200);
  });

  it("updates only first and last name on PUT, and reactivates on active false→true", async () => {
    const { body } = await createUser("put.only@acme.example.com", { externalId: "x1" });
    await call("PATCH", `/Users/${body.id}`, { Operations: [{ op: "replace", value: { active: false } }] });
    const put = await call("PUT", `/Users/${body.id}`, {
      userName: "changed@acme.example.com",
      name: { givenName: "New", familyName: "Name" },
      active: true,
      externalId: "x2",
    });
    expect(put.body).toMatchObject({
      userName: "put.only@acme.example.com",
      name: { givenName: "New", familyName: "Name" },
      active: true,
      externalId: "x1",
    });
  });

  it("accepts exactly its two PATCH shapes and refuses every other", async () => {
    const { body } = await createUser("two.shapes@acme.example.com");
    const active = await call("PATCH", `/Users/${body.id}`, { Operations: [{ op: "replace", value: { active: false } }] });
    expect(active.body.active).toBe(false);
    const renamed = await call("PATCH", `/Users/${body.id}`, {
      Operations: [{ op: "Replace", path: "userName", value: "renamed@acme.example.com" }],
    });
    expect(renamed.body.userName).toBe("renamed@acme.example.com");
    for (const op of [
      { op: "replace", path: "name.givenName", value: "X" },
      { op: "add", value: { active: true } },
      { op: "replace", value: { active: true, title: "x" } },
      { op: "replace", path: "active", value: true },
    ]) {
      const res = await call("PATCH", `/Users/${body.id}`, { Operations: [op] });
      expect(res.status).toBe(400);
      expect(res.body.schemas).toEqual(["urn:ietf:params:scim:api:messages:2.0:Error"]);
    }
  });

  it("refuses a duplicate userName with 409", async () => {
    await createUser("dupe@acme.example.com");
    expect((await createUser("dupe@acme.example.com")).status).toBe(409);
  });

  it("renames groups and adds and removes members, answering PATCH without members", async () => {
    const users = (await call("GET", "/Users?count=3")).body.Resources;
    const group = await call("POST", "/Groups", { displayName: "Reviewers", members: [{ value: users[0].id }] });
    expect(group.status).toBe(201);
    const patched = await call("PATCH", `/Groups/${group.body.id}`, {
      Operations: [
        { op: "replace", value: { displayName: "Code Reviewers" } },
        { op: "add", path: "members", value: [{ value: users[1].id }, { value: users[2].id }] },
        { op: "remove", path: "members", value: [{ value: users[0].id }] },
      ],
    });
    expect(patched.status).toBe(200);
    expect(patched.body).not.toHaveProperty("members");
    // The published document's value is an object: a path with a bare string is refused.
    const stringValue = await call("PATCH", `/Groups/${group.body.id}`, {
      Operations: [{ op: "replace", path: "displayName", value: "X" }],
    });
    expect(stringValue.status).toBe(400);
    const stored = await call("GET", `/Groups/${group.body.id}`);
    expect(stored.body.displayName).toBe("Code Reviewers");
    expect(stored.body.members.map((m: { value: string }) => m.value).sort()).toEqual([users[1].id, users[2].id].sort());
    const byName = await call("GET", `/Groups?filter=${encodeURIComponent('displayName eq "Code Reviewers"')}`);
    expect(byName.body.totalResults).toBe(1);
  });

  it("deactivates, never deletes, users who were on the team only through a deleted group", async () => {
    const group = await call("POST", "/Groups", { displayName: "Contractors" });
    const viaGroup = await createUser("via.group@acme.example.com", { groups: [group.body.id] });
    const direct = await createUser("direct@acme.example.com");
    await call("PATCH", `/Groups/${group.body.id}`, { Operations: [{ op: "add", path: "members", value: [{ value: direct.body.id }] }] });
    expect((await call("DELETE", `/Groups/${group.body.id}`)).status).toBe(204);
    expect((await call("GET", `/Users/${viaGroup.body.id}`)).body.active).toBe(false);
    expect((await call("GET", `/Users/${direct.body.id}`)).body.active).toBe(true);
    expect((await call("GET", `/Groups/${group.body.id}`)).status).toBe(404);
  });

  it("answers /ResourceTypes with a bare array and has no /Bulk, /Me or /Schemas", async () => {
    const types = await call("GET", "/ResourceTypes");
    expect(Array.isArray(types.body)).toBe(true);
    for (const path of ["/Bulk", "/Me", "/Schemas", "/Users/.search"]) {
      expect(
        (
          await call(
            path === "/Bulk" || path === "/Users/.search" ? "POST" : "GET",
            path,
            path === "/Bulk" ? { Operations: [] } : undefined,
          )
        ).status,
      ).toBe(404);
    }
  });

  it("limits each key to 300 requests a minute with its headers and legacy 429 body", async () => {
    const limited = await startSandbox({
      tenants: [
        { name: "acme", users: 12 },
        { name: "globex", users: 12 },
      ],
    });
    try {
      let last = await vendorCall(limited, "postman", "acme", "GET", "/ServiceProviderConfig");
      expect(last.headers.get("ratelimit-limit")).toBe("300");
      expect(last.headers.get("x-ratelimit-remaining")).toBe("299");
      for (let i = 1; i < 300; i++) last = await vendorCall(limited, "postman", "acme", "GET", "/ServiceProviderConfig");
      expect(last.status).toBe(200);
      const over = await vendorCall(limited, "postman", "acme", "GET", "/ServiceProviderConfig");
      expect(over.status).toBe(429);
      expect(over.headers.get("ratelimit-remaining")).toBe("0");
      expect(Number(over.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(over.body.error).toMatchObject({
        name: "rateLimitError",
        message: expect.stringMatching(/^Rate Limit exceeded\. Please retry at \d+$/),
      });
      // Another key has its own budget.
      expect((await vendorCall(limited, "postman", "globex", "GET", "/ServiceProviderConfig")).status).toBe(200);
    } finally {
      await limited.close();
    }
  });
});
