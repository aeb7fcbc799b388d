import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningSandbox, startSandbox } from "../src/server.ts";
import { vendorCall } from "./client.ts";

describe("JumpCloud simulator", () => {
  let sandbox: RunningSandbox;
  const call = (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
    vendorCall(sandbox, "jumpcloud", "acme", method, path, { body, headers });
  beforeAll(async () => {
    sandbox = await startSandbox({
      tenants: [
        { name: "acme", users: 50 },
        { name: "globex", users: 12 },
      ],
    });
  });
  afterAll(() => sandbox.close());

  it("answers a missing or wrong x-api-key with 401", async () => {
    for (const key of [null, "nope"]) {
      const res = await vendorCall(sandbox, "jumpcloud", "acme", "GET", "/systemusers", { key });
      expect(res.status).toBe(401);
      expect(res.body.message).toBe("Unauthorized");
    }
  });

  it("makes MSP keys choose an organization with x-org-id: missing 401, malformed 400, unknown 404", async () => {
    const msp = sandbox.jumpcloud.mspKey;
    const missing = await vendorCall(sandbox, "jumpcloud", "acme", "GET", "/systemusers", { key: msp });
    expect(missing.status).toBe(401);
    expect(missing.body.message).toBe("Unauthorized: no organization selected");
    expect(
      (await vendorCall(sandbox, "jumpcloud", "acme", "GET", "/systemusers", { key: msp, headers: { "x-org-id": "zzz" } })).status,
    ).toBe(400);
    expect(
      (await vendorCall(sandbox, "jumpcloud", "acme", "GET", "/systemusers", { key: msp, headers: { "x-org-id": "0".repeat(24) } })).status,
    ).toBe(404);
    const globexOrg = sandbox.jumpcloud.tenant("globex").organization._id;
    const scoped = await vendorCall(sandbox, "jumpcloud", "acme", "GET", "/systemusers", { key: msp, headers: { "x-org-id": globexOrg } });
    expect(scoped.body.totalCount).toBe(12);
    const orgs = await vendorCall(sandbox, "jumpcloud", "acme", "GET", "/organizations", { key: msp });
    expect(orgs.body.totalCount).toBe(2);
  });

  it("lists v1 users as {totalCount, results} with _id, limit default 10 and max 100", async () => {
    const first = await call("GET", "/systemusers");
    expect(first.body.totalCount).toBe(50);
    expect(first.body.results).toHaveLength(10);
    expect(first.body.results[0]._id).toMatch(/^[0-9a-f]{24}$/);
    expect(first.body.results[0]).not.toHaveProperty("id");
    expect((await call("GET", "/systemusers?limit=100")).body.results).toHaveLength(50);
    const over = await call("GET", "/systemusers?limit=101");
    expect(over.status).toBe(400);
    expect(over.body).toMatchObject({ code: 400, message: expect.stringContaining("limit") });
  });

  it("sorts by space-separated fields, projects fields, and filters with $eq-style clauses ANDed", async () => {
    const sorted = (await call("GET", "/systemusers?limit=100&sort=-username")).body.results.map((u: { username: string }) => u.username);
    expect(sorted).toEqual([...sorted].sort().reverse());
    const projected = (await call("GET", `/systemusers?limit=1&fields=${encodeURIComponent("email username")}`)).body.results[0];
    expect(Object.keys(projected).sort()).toEqual(["_id", "email", "username"]);
    const engineers = await call("GET", "/systemusers?limit=100&filter=department:$eq:Engineering&filter=state:$eq:ACTIVATED");
    expect(engineers.body.results.length).toBeGreaterThan(0);
    expect(
      engineers.body.results.every((u: { department: string; state: string }) => u.department === "Engineering" && u.state === "ACTIVATED"),
    ).toBe(true);
    expect((await call("GET", "/systemusers?filter=department:eq:Engineering")).status).toBe(400);
  });

  it("creates, partially updates, suspends and deletes a system user", async () => {
    expect((await call("POST", "/systemusers", { username: "only.name" })).status).toBe(400);
    const created = await call("POST", "/systemusers", { username: "jc.new", email: "jc.new@acme.example.com", firstname: "Jo" });
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({ state: "ACTIVATED", activated: true, suspended: false });
    expect((await call("POST", "/systemusers", { username: "jc.new", email: "other@acme.example.com" })).status).toBe(409);
    const updated = await call("PUT", `/systemusers/${created.body._id}`, { jobTitle: "Analyst" });
    expect(updated.body).toMatchObject({ jobTitle: "Analyst", firstname: "Jo", email: "jc.new@acme.example.com" });
    expect((await call("PUT", `/systemusers/${created.body._id}`, { state: "STAGED" })).status).toBe(400);
    const suspended = await call("PUT", `/systemusers/${created.body._id}`, { state: "SUSPENDED" });
    expect(suspended.body).toMatchObject({ state: "SUSPENDED", suspended: true });
    const deleted = await call("DELETE", `/systemusers/${created.body._id}`);
    expect(deleted.body._id).toBe(created.body._id);
    expect((await call("GET", `/systemusers/${created.body._id}`)).status).toBe(404);
  });

  it("activates a STAGED user", async () => {
    const staged = await call("POST", "/systemusers", { username: "jc.staged", email: "jc.staged@acme.example.com", state: "STAGED" });
    expect(staged.body.state).toBe("STAGED");
    expect((await call("POST", `/systemusers/${staged.body._id}/state/activate`)).status).toBe(200);
    expect((await call("GET", `/systemusers/${staged.body._id}`)).body.state).toBe("ACTIVATED");
  });

  it("lists v2 groups as bare arrays with id, x-total-count, comma-separated sort and eq-style filters", async () => {
    const res = await call("GET", "/v2/usergroups?limit=100&sort=-name");
    expect(Array.isArray(res.body)).toBe(true);
    expect(Number(res.headers.get("x-total-count"))).toBe(res.body.length);
    expect(res.body[0]).toHaveProperty("id");
    expect(res.body[0]).not.toHaveProperty("_id");
    const names = res.body.map((g: { name: string }) => g.name);
    expect(names).toEqual([...names].sort().reverse());
    const one = await call("GET", `/v2/usergroups?filter=${encodeURIComponent(`name:eq:${names[0]}`)}`);
    expect(one.body).toHaveLength(1);
    expect((await call("GET", "/v2/usergroups?filter=name:$eq:x")).status).toBe(400);
    expect((await call("GET", "/v2/usergroups?limit=500")).status).toBe(400);
  });

  it("adds and removes group members with {op,type,id} and reports membership both ways", async () => {
    const group = await call("POST", "/v2/usergroups", { name: "Door Access" });
    expect(group.status).toBe(201);
    expect(group.body.type).toBe("user_group");
    const user = (await call("GET", "/systemusers?limit=1")).body.results[0];
    expect((await call("POST", `/v2/usergroups/${group.body.id}/members`, { op: "add", type: "user", id: user._id })).status).toBe(204);
    expect((await call("POST", `/v2/usergroups/${group.body.id}/members`, { op: "add", type: "user", id: user._id })).status).toBe(409);
    const members = await call("GET", `/v2/usergroups/${group.body.id}/members`);
    expect(members.body).toEqual([{ to: { id: user._id, type: "user" }, attributes: {} }]);
    const memberOf = await call("GET", `/v2/users/${user._id}/memberof?limit=100`);
    expect(memberOf.body.map((g: { id: string }) => g.id)).toContain(group.body.id);
    expect((await call("POST", `/v2/usergroups/${group.body.id}/members`, { op: "remove", type: "user", id: user._id })).status).toBe(204);
    expect((await call("GET", `/v2/usergroups/${group.body.id}/members`)).body).toEqual([]);
  });

  it("serves organizations and roles", async () => {
    const orgs = await call("GET", "/organizations");
    expect(orgs.body).toMatchObject({
      totalCount: 1,
      results: [{ _id: expect.stringMatching(/^[0-9a-f]{24}$/), displayName: "Acme Inc." }],
    });
    const roles = await call("GET", "/v2/roles?limit=100");
    expect(roles.body.map((r: { name: string }) => r.name)).toContain("Help Desk");
    expect((await call("GET", `/v2/roles/${roles.body[0].id}`)).body).toEqual(roles.body[0]);
  });

  it("applies a configured rate limit with Retry-After in seconds", async () => {
    const limited = await startSandbox({ tenants: [{ name: "acme", users: 12 }], rateLimits: { jumpcloud: 3 } });
    try {
      for (let i = 0; i < 3; i++) expect((await vendorCall(limited, "jumpcloud", "acme", "GET", "/organizations")).status).toBe(200);
      const over = await vendorCall(limited, "jumpcloud", "acme", "GET", "/organizations");
      expect(over.status).toBe(429);
      expect(Number(over.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(over.body.code).toBe(429);
    } finally {
      await limited.close();
    }
  });
});
