import { describe, expect, it } from "vitest";
import { type Slug, useGatewayWithSandbox } from "./harness.ts";

describe("unified writes over the sandbox", () => {
  const fx = useGatewayWithSandbox({ tenants: { acme: 20 } });

  const call = (method: string, path: string, slug: Slug, body?: unknown, headers?: Record<string, string>) =>
    fx.gw.call(method, `/unified/user-directory/${path}${path.includes("?") ? "&" : "?"}connection_id=${fx.conn[slug]}`, {
      key: fx.apiKey,
      body,
      headers,
    });
  /** The upstream calls the sandbox saw while `work` ran: method and path. */
  const upstreamCallsDuring = async (work: () => Promise<unknown>) => {
    const before = fx.sandbox.world.requests.length;
    await work();
    return fx.sandbox.world.requests.slice(before).map((r) => `${r.method} ${r.path}`);
  };

  it("Jostle: create → get → update → deactivate → reactivate → delete, the stored record checked after each step", async () => {
    const stored = (id: string) => fx.sandbox.jostle.tenant("acme").users.get(id);
    const created = await call("POST", "users", "jostle-scim", {
      username: "nina.olsen@acme.example.com",
      first_name: "Nina",
      last_name: "Olsen",
      title: "Engineer",
      emails: [
        { email: "nina.olsen@acme.example.com", type: "work", is_primary: true },
        { email: "nina@mail.example.net", type: "other", is_primary: false },
      ],
      phones: [
        { number: "+1-555-0101", type: "work" },
        { number: "+1-555-0102", type: "mobile" },
      ],
      addresses: [{ type: "work", city: "Oslo" }],
      department: "Platform",
      employee_number: "E777",
    });
    expect(created.status).toBe(201);
    // The model's type values go to Jostle in its own terms, and come back as the model's.
    expect(stored(created.body.id)).toMatchObject({
      emails: [{ type: "work" }, { type: "alternate1" }],
      phoneNumbers: [{ type: "workofficephone" }, { type: "workmobilephone" }],
      addresses: [{ type: "address1", locality: "Oslo" }],
    });
    expect(created.body).toMatchObject({
      emails: [{ type: "work" }, { type: "other" }],
      phones: [{ type: "work" }, { type: "mobile" }],
      addresses: [{ type: "work", city: "Oslo" }],
    });
    const id = created.body.id;
    expect(created.body).toMatchObject({
      username: "nina.olsen@acme.example.com",
      first_name: "Nina",
      status: "active",
      department: "Platform",
    });
    expect(stored(id)).toMatchObject({
      userName: "nina.olsen@acme.example.com",
      name: { givenName: "Nina", familyName: "Olsen" },
      title: "Engineer",
      active: true,
      "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": { department: "Platform" },
      "urn:ietf:params:scim:schemas:extension:jostle:2.0:User": { employeeID: "E777" },
    });

    const got = await call("GET", `users/${id}`, "jostle-scim");
    expect(got.body).toMatchObject({ id, username: "nina.olsen@acme.example.com", employee_number: "E777" });

    // Only the changed attributes travel, in one SCIM PATCH.
    let updated: Awaited<ReturnType<typeof call>> | undefined;
    const calls = await upstreamCallsDuring(async () => {
      updated = await call("PATCH", `users/${id}`, "jostle-scim", { title: "Staff Engineer", department: "Core" });
    });
    expect(calls).toEqual([`PATCH /jostle/scim2/Users/${id}`]);
    expect(updated!.status).toBe(200);
    expect(updated!.body).toMatchObject({ title: "Staff Engineer", department: "Core", first_name: "Nina" });
    expect(stored(id)).toMatchObject({ title: "Staff Engineer", name: { givenName: "Nina", familyName: "Olsen" } });

    expect((await call("PATCH", `users/${id}`, "jostle-scim", { status: "inactive" })).body.status).toBe("inactive");
    expect(stored(id)?.active).toBe(false);
    expect((await call("PATCH", `users/${id}`, "jostle-scim", { status: "active" })).body.status).toBe("active");
    expect(stored(id)?.active).toBe(true);

    // Deleting an active user: the gateway deactivates, then deletes — two calls, in that order.
    let deleted: Awaited<ReturnType<typeof call>> | undefined;
    const deleteCalls = await upstreamCallsDuring(async () => {
      deleted = await call("DELETE", `users/${id}`, "jostle-scim");
    });
    expect(deleted!.status).toBe(200);
    expect(deleted!.body).toEqual({ id, outcome: "deleted" });
    expect(deleteCalls).toEqual([`PATCH /jostle/scim2/Users/${id}`, `DELETE /jostle/scim2/Users/${id}`]);
    expect(stored(id)).toBeUndefined();
    expect((await call("GET", `users/${id}`, "jostle-scim")).status).toBe(404);
  });

  it("Postman: names via PUT, status and username via its PATCH shapes; delete deactivates", async () => {
    const stored = (id: string) => fx.sandbox.postman.tenant("acme").users.get(id);
    const created = await call("POST", "users", "postman-scim", {
      username: "omar.haddad@acme.example.com",
      first_name: "Omar",
      last_name: "Haddad",
      external_id: "E901",
    });
    expect(created.status).toBe(201);
    const id = created.body.id;
    expect(created.body).toMatchObject({ username: "omar.haddad@acme.example.com", external_id: "E901", status: "active" });
    expect(stored(id)).toMatchObject({
      userName: "omar.haddad@acme.example.com",
      name: { givenName: "Omar", familyName: "Haddad" },
      active: true,
    });
    expect((await call("GET", `users/${id}`, "postman-scim")).body.first_name).toBe("Omar");

    const nameCalls = await upstreamCallsDuring(() => call("PATCH", `users/${id}`, "postman-scim", { last_name: "Haddad-Ali" }));
    expect(nameCalls).toEqual([`PUT /postman/scim/v2/Users/${id}`]);
    expect(stored(id)?.name).toEqual({ givenName: "Omar", familyName: "Haddad-Ali" });

    const both = await upstreamCallsDuring(() =>
      call("PATCH", `users/${id}`, "postman-scim", { username: "omar.h@acme.example.com", status: "inactive" }),
    );
    expect(both).toEqual([`PATCH /postman/scim/v2/Users/${id}`]);
    expect(stored(id)).toMatchObject({ userName: "omar.h@acme.example.com", active: false });

    const reactivated = await call("PATCH", `users/${id}`, "postman-scim", { status: "active" });
    expect(reactivated.body.status).toBe("active");
    expect(stored(id)?.active).toBe(true);

    const deleted = await call("DELETE", `users/${id}`, "postman-scim");
    expect(deleted.status).toBe(200);
    expect(deleted.body).toEqual({ id, outcome: "deactivated" });
    expect(stored(id)).toMatchObject({ active: false });
  });

  it("JumpCloud: PUT with the changed fields only; status maps to state; delete deletes", async () => {
    const stored = (id: string) => fx.sandbox.jumpcloud.tenant("acme").users.get(id);
    const created = await call("POST", "users", "jumpcloud", {
      username: "li.wei",
      first_name: "Li",
      last_name: "Wei",
      emails: [
        { email: "li.wei@acme.example.com", is_primary: true },
        { email: "li.wei@home.example.net", is_primary: false },
      ],
      title: "Analyst",
      phones: [{ number: "+1-555-0100", type: "work" }],
    });
    expect(created.status).toBe(201);
    const id = created.body.id;
    expect(created.body).toMatchObject({ username: "li.wei", status: "active", title: "Analyst" });
    expect(stored(id)).toMatchObject({
      username: "li.wei",
      email: "li.wei@acme.example.com",
      alternateEmail: "li.wei@home.example.net",
      jobTitle: "Analyst",
      state: "ACTIVATED",
    });

    const updateCalls = await upstreamCallsDuring(() => call("PATCH", `users/${id}`, "jumpcloud", { title: "Lead Analyst" }));
    expect(updateCalls).toEqual([`PUT /jumpcloud/api/systemusers/${id}`]);
    expect(stored(id)).toMatchObject({ jobTitle: "Lead Analyst", firstname: "Li", email: "li.wei@acme.example.com" });

    expect((await call("PATCH", `users/${id}`, "jumpcloud", { status: "inactive" })).body.status).toBe("inactive");
    expect(stored(id)).toMatchObject({ state: "SUSPENDED", suspended: true });
    expect((await call("PATCH", `users/${id}`, "jumpcloud", { status: "active" })).body.status).toBe("active");
    expect(stored(id)).toMatchObject({ state: "ACTIVATED", suspended: false });

    const deleted = await call("DELETE", `users/${id}`, "jumpcloud");
    expect(deleted.body).toEqual({ id, outcome: "deleted" });
    expect(stored(id)).toBeUndefined();
  });

  for (const slug of ["postman-scim", "jumpcloud"] as const) {
    it(`${slug}: groups are created, renamed, given and relieved of members, and deleted`, async () => {
      const users = (await call("GET", "users?limit=2&remote_data=false", slug)).body.result as { id: string }[];
      const created = await call("POST", "groups", slug, { name: `Ops ${slug}` });
      expect(created.status).toBe(201);
      const groupId = created.body.id;
      expect(created.body.name).toBe(`Ops ${slug}`);

      const renamed = await call("PATCH", `groups/${groupId}`, slug, { name: `Operations ${slug}` });
      expect(renamed.status).toBe(200);
      expect(renamed.body.name).toBe(`Operations ${slug}`);
      expect((await call("GET", `groups/${groupId}`, slug)).body.name).toBe(`Operations ${slug}`);

      for (const user of users) {
        const added = await call("POST", `groups/${groupId}/members`, slug, { user_id: user.id });
        expect(added.status).toBe(201);
      }
      const members = async () =>
        ((await call("GET", `groups/${groupId}/members`, slug)).body.result as { user_id: string }[]).map((m) => m.user_id).sort();
      expect(await members()).toEqual(users.map((u) => u.id).sort());

      const removed = await call("DELETE", `groups/${groupId}/members/${users[0]!.id}`, slug);
      expect(removed.body).toEqual({ user_id: users[0]!.id, group_id: groupId });
      expect(await members()).toEqual([users[1]!.id]);

      const deleted = await call("DELETE", `groups/${groupId}`, slug);
      expect(deleted.body).toEqual({ id: groupId, outcome: "deleted" });
      expect((await call("GET", `groups/${groupId}`, slug)).status).toBe(404);
    });
  }

  it("a repeated POST with the same Idempotency-Key creates one user and replays the first answer", async () => {
    const body = { username: "kai.berg@acme.example.com", first_name: "Kai", last_name: "Berg" };
    const key = { "idempotency-key": "create-kai-1" };
    const before = fx.sandbox.postman.tenant("acme").users.all().length;
    const first = await call("POST", "users", "postman-scim", body, key);
    const second = await call("POST", "users", "postman-scim", body, key);
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.body).toEqual(first.body);
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    expect(fx.sandbox.postman.tenant("acme").users.all().length).toBe(before + 1);

    const reused = await call("POST", "users", "postman-scim", { ...body, first_name: "Kay" }, key);
    expect(reused.status).toBe(400);
    expect(reused.body.error.message).toMatch(/Idempotency-Key/);
    // Without a key, the same body is a second request: the vendor reports the duplicate as a conflict.
    const duplicate = await call("POST", "users", "postman-scim", body);
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.error.code).toBe("conflict");
    expect(duplicate.body.error.upstream.status).toBe(409);
  });
});
