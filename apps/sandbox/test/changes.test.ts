import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningSandbox, startSandbox } from "../src/server.ts";
import { vendorCall } from "./client.ts";

// POST /_sandbox/changes: each simulator's directory changes the way the real one would show it.
let sandbox: RunningSandbox;
beforeAll(async () => {
  sandbox = await startSandbox({ tenants: [{ name: "acme", users: 40 }], rateLimits: { postman: 0 } });
});
afterAll(() => sandbox?.close());

const scimUsers = async (vendor: "jostle" | "postman") =>
  (await vendorCall(sandbox, vendor, "acme", "GET", "/Users?count=100")).body.Resources as {
    id: string;
    active: boolean;
    name?: { familyName?: string };
  }[];

describe("directory changes over time", () => {
  it.each(["jostle", "postman"] as const)("%s: adds, renames, deactivates and deletes exactly the users it names", async (vendor) => {
    const before = await scimUsers(vendor);
    const res = await fetch(`${sandbox.url}/_sandbox/changes`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ vendor, tenant: "acme", add: 2, update: 2, deactivate: 2, delete: 2 }),
    });
    expect(res.status).toBe(200);
    const applied = (await res.json()) as Record<"added" | "updated" | "deactivated" | "deleted", string[]>;
    const after = await scimUsers(vendor);
    const byId = new Map(after.map((u) => [u.id, u]));
    expect(after).toHaveLength(before.length);
    for (const id of applied.added) expect(byId.get(id)?.active).toBe(true);
    for (const id of applied.deleted) expect(byId.has(id)).toBe(false);
    for (const id of applied.deactivated) expect(byId.get(id)?.active).toBe(false);
    for (const id of applied.updated) expect(byId.get(id)?.name?.familyName).toMatch(/-Lee$/);
    if (vendor === "jostle") {
      // The automation user behind the key is never touched: /Me still answers.
      expect((await vendorCall(sandbox, "jostle", "acme", "GET", "/Me")).status).toBe(200);
    }
  });

  it("jumpcloud: suspends and removes users, and a removed user leaves its groups", async () => {
    const applied = sandbox.changeUsers("jumpcloud", "acme", { add: 1, update: 1, deactivate: 1, delete: 1 });
    const users = (await vendorCall(sandbox, "jumpcloud", "acme", "GET", "/systemusers?limit=100")).body.results as {
      _id: string;
      state: string;
    }[];
    expect(users.find((u) => u._id === applied.deactivated[0])?.state).toBe("SUSPENDED");
    expect(users.some((u) => u._id === applied.deleted[0])).toBe(false);
    for (const [, members] of sandbox.jumpcloud.tenant("acme").members) expect(members.has(applied.deleted[0]!)).toBe(false);
  });
});
