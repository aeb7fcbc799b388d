import { entraClient, oktaClient } from "@unifold/sandbox/idp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Gateway, listedEvents, startGateway } from "./harness.ts";

/*
 * The identity providers' own request sequences (apps/sandbox/src/idp, from Okta's and
 * Microsoft's documents) replayed end to end against the SCIM service, concurrently as they send
 * them: what each provider set up must be what the unified side holds, each change announced once.
 */

let gw: Gateway;
beforeAll(async () => {
  gw = await startGateway();
}, 60_000);
afterAll(() => gw?.close());

async function pushConnection(name: string) {
  const made = await gw.call("POST", "/connections", { body: { tenant_id: "acme", integration: "scim", name } });
  expect(made.status).toBe(201);
  return { id: made.body.id as string, baseUrl: made.body.scim.base_url as string, token: made.body.scim.token as string };
}

async function copyOf(connectionId: string, resource: string) {
  const page = await gw.call("GET", `/unified/records/${resource}?connection_id=${connectionId}&limit=500`);
  return (page.body.result as { id: string; deleted_at: string | null; data: Record<string, unknown> }[]).filter(
    (r) => r.deleted_at === null,
  );
}

async function eventsOf(connectionId: string) {
  const listed = await listedEvents(gw, connectionId);
  return listed.filter((e) => e.type !== "connection.activated");
}

/** Each record's events carry versions 1, 2, 3… in order: nothing announced twice, nothing skipped. */
function expectVersionsInOrder(events: { type: string; version: number; data: Record<string, any> }[]) {
  const byRecord = new Map<string, number[]>();
  for (const event of events) {
    const key = event.type.startsWith("group_member.")
      ? `m:${event.data.group_id}/${event.data.user_id}`
      : `${event.type.split(".")[0]}:${event.data.id}`;
    byRecord.set(key, [...(byRecord.get(key) ?? []), event.version]);
  }
  for (const [key, versions] of byRecord) {
    const distinct = [...new Set(versions)];
    expect(distinct, key).toEqual(distinct.map((_, i) => distinct[0]! + i));
  }
}

describe("Okta's provisioning, replayed", () => {
  it("assigns people at once, imports them, updates, deactivates, reactivates and pushes groups", async () => {
    const to = await pushConnection("Okta");
    const okta = oktaClient({ baseUrl: to.baseUrl, token: to.token, pageSize: 7, concurrency: 6 });
    const profiles = Array.from({ length: 20 }, (_, i) => ({
      userName: `person${i}@acme.example.com`,
      givenName: `Person`,
      familyName: `Number${i}`,
      email: `person${i}@acme.example.com`,
      externalId: `00u${i}`,
      password: "N0t-kept!",
    }));
    // The same person assigned twice at once (Okta retries): one user, the second finds it.
    const assigned = await okta.assignUsers([...profiles, profiles[0]!]);
    expect(assigned.filter((a) => a.created)).toHaveLength(20);
    const imported = await okta.importUsers();
    expect(imported.map((u) => u.userName).sort()).toEqual(profiles.map((p) => p.userName).sort());
    const [first, second, third] = assigned.map((a) => a.user);

    await okta.updateUser(first!.id, { title: "Engineer" });
    await okta.deactivateUser(second!.id);
    await okta.reactivateUser(second!.id);
    await okta.deactivateUser(third!.id);

    const group = await okta.pushGroup(
      "Engineering",
      assigned.slice(0, 5).map((a) => ({ id: a.user.id, userName: a.user.userName as string })),
    );
    await okta.renameGroup(group.id, "Engineers");
    await okta.updateMembers(group.id, { remove: [first!.id], add: [{ id: assigned[6]!.user.id, userName: "person6@acme.example.com" }] });
    expect((await okta.importGroups()).map((g) => g.displayName)).toEqual(["Engineers"]);

    const users = await copyOf(to.id, "users");
    expect(users).toHaveLength(20);
    expect(users.find((u) => u.id === first!.id)?.data.title).toBe("Engineer");
    expect(users.find((u) => u.id === second!.id)?.data.status).toBe("active");
    expect(users.find((u) => u.id === third!.id)?.data.status).toBe("inactive");
    const members = await copyOf(to.id, "group_members");
    expect(members.map((m) => m.data.user_id).sort()).toEqual([...assigned.slice(1, 5), assigned[6]!].map((a) => a.user.id).sort());

    const events = await eventsOf(to.id);
    const count = (type: string) => events.filter((e) => e.type === type).length;
    expect([count("user.created"), count("user.deactivated"), count("user.reactivated"), count("group.created")]).toEqual([20, 2, 1, 1]);
    expect([count("group_member.added"), count("group_member.removed")]).toEqual([6, 1]);
    expectVersionsInOrder(events);
    expect(JSON.stringify(events)).not.toContain("N0t-kept!");
    expect(okta.transcript.every((exchange) => exchange.status < 500)).toBe(true);

    await okta.deleteGroup(group.id);
    expect(await copyOf(to.id, "group_members")).toEqual([]);
  });
});

for (const flag of [undefined, "aadOptscim062020"] as const) {
  describe(`Microsoft Entra ID's provisioning${flag ? ` with ${flag}` : ""}, replayed`, () => {
    it("tests the connection, provisions with managers, updates, clears, disables, deletes and keeps groups", async () => {
      const to = await pushConnection("Entra");
      const entra = entraClient({ baseUrl: to.baseUrl, token: to.token, concurrency: 4, ...(flag && { flag }) });
      await entra.testConnection();
      const boss = await entra.createUser({
        userName: "boss@contoso.example",
        externalId: "e-boss",
        email: "boss@contoso.example",
        givenName: "Big",
        familyName: "Boss",
      });
      const people = Array.from({ length: 10 }, (_, i) => ({
        userName: `user${i}@contoso.example`,
        externalId: `e-${i}`,
        email: `user${i}@contoso.example`,
        givenName: "User",
        familyName: `Number${i}`,
        department: "Research",
        employeeNumber: `E-${i}`,
        manager: boss.id,
      }));
      const provisioned = await entra.provisionUsers(people);
      expect(provisioned.map((p) => p.action)).toEqual(people.map(() => "created"));
      // The next cycle finds every user by its matching attribute and has nothing to change.
      expect((await entra.provisionUsers(people)).map((p) => p.action)).toEqual(people.map(() => "unchanged"));
      const [a, b, c] = provisioned.map((p) => p.user);

      await entra.updateUser(a!.id, { "name.familyName": "Renamed", 'emails[type eq "work"].value': "renamed@contoso.example" });
      await entra.removeManager(a!.id);
      await entra.clearAttribute(a!.id, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", null);
      await entra.disableUser(b!.id);
      await entra.deleteUser(c!.id);

      const group = await entra.createGroup("Research");
      await entra.addMembers(group.id, [a!.id, b!.id, boss.id]);
      await entra.removeMembers(group.id, [b!.id, boss.id]);
      await entra.renameGroup(group.id, "Research & Development");
      expect((await entra.findGroup("research & development"))?.id).toBe(group.id);
      expect(await entra.pageUsers(5, 2)).toHaveLength(10);

      const users = await copyOf(to.id, "users");
      expect(users).toHaveLength(10);
      expect(users.find((u) => u.id === a!.id)?.data).toMatchObject({
        last_name: "Renamed",
        emails: [{ email: "renamed@contoso.example", type: "work", is_primary: true }],
        manager_id: null,
        department: null,
        employee_number: "E-0",
      });
      expect(users.find((u) => u.id === b!.id)?.data.status).toBe("inactive");
      expect(users.find((u) => u.id === c!.id)).toBeUndefined();
      expect((await copyOf(to.id, "group_members")).map((m) => m.data.user_id)).toEqual([a!.id]);
      expect((await copyOf(to.id, "groups")).map((g) => g.data.name)).toEqual(["Research & Development"]);

      const events = await eventsOf(to.id);
      expectVersionsInOrder(events);
      const count = (type: string) => events.filter((e) => e.type === type).length;
      expect([
        count("user.created"),
        count("user.deactivated"),
        count("user.deleted"),
        count("group_member.added"),
        count("group_member.removed"),
      ]).toEqual([11, 1, 1, 3, 2]);
      expect(entra.transcript.every((exchange) => exchange.status < 500)).toBe(true);
    });
  });
}
