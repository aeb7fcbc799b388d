import { describe, expect, it } from "vitest";
import { createDirectory } from "../src/directory.ts";
import { createSandbox } from "../src/server.ts";

describe("seeded directories", () => {
  it("gives the same data for the same seed and different data for another", () => {
    const a = createDirectory({ seed: "s1", tenant: "acme", users: 50 });
    const b = createDirectory({ seed: "s1", tenant: "acme", users: 50 });
    const c = createDirectory({ seed: "s2", tenant: "acme", users: 50 });
    expect(b).toEqual(a);
    expect(c.people.map((p) => p.email)).not.toEqual(a.people.map((p) => p.email));
  });

  it("holds realistic people: unique emails, managers hired earlier, a mix of states, groups with members", () => {
    const d = createDirectory({ seed: "s1", tenant: "acme", users: 500 });
    expect(new Set(d.people.map((p) => p.email)).size).toBe(500);
    expect(d.people.every((p) => p.manager === null || p.manager < p.index)).toBe(true);
    const states = new Set(d.people.map((p) => p.state));
    expect(states).toEqual(new Set(["active", "inactive", "staged"]));
    expect(d.people.every((p) => p.title && p.department && p.workPhone && p.address.city)).toBe(true);
    expect(d.teams.length).toBeGreaterThan(3);
    expect(d.teams.every((t) => t.members.length > 0)).toBe(true);
    expect(d.roles.length).toBe(7);
  });

  it("scales from a dozen to 100,000 users per tenant", () => {
    expect(createDirectory({ seed: "s", tenant: "tiny", users: 12 }).people).toHaveLength(12);
    const big = createSandbox({ tenants: [{ name: "big", users: 100_000 }] });
    expect(big.jumpcloud.tenant("big").users.size).toBe(100_000);
    expect(big.jostle.tenant("big").users.size).toBe(100_001); // + the automation user
  });

  it("derives stable API keys, and each key reaches only its own tenant", () => {
    const one = createSandbox({ seed: "k" });
    const two = createSandbox({ seed: "k" });
    expect(one.world.keyFor("postman", "acme")).toBe(two.world.keyFor("postman", "acme"));
    expect(one.world.keyFor("postman", "acme")).not.toBe(one.world.keyFor("postman", "globex"));
    expect(one.world.tenantForKey("postman", one.world.keyFor("postman", "globex"))).toBe("globex");
    expect(one.world.tenantForKey("jostle", one.world.keyFor("postman", "globex"))).toBeUndefined();
  });
});
