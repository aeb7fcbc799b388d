import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useGatewayWithSandbox, walkAll } from "./harness.ts";
import { idsOf, receiver, until } from "./webhook-receiver.ts";

/*
 * Okta, added by files alone (mappings/okta/): what its API does differently from the other
 * directories, end to end through the gateway and the simulator.
 */
describe("Okta by files: reads, writes, syncs and its rate-limit headers", { timeout: 120_000 }, () => {
  const fx = useGatewayWithSandbox({ tenants: { acme: 450 }, gateway: { jobs: true }, connect: { okta: "okta" }, sql: true });
  let hooks: Awaited<ReturnType<typeof receiver>>;
  beforeAll(async () => {
    hooks = await receiver();
  });
  afterAll(() => hooks?.close());
  const okta = () => fx.sandbox.okta.tenant("acme");
  const call = (method: string, path: string, body?: unknown) =>
    fx.gw.call(method, `${path}${path.includes("?") ? "&" : "?"}connection_id=${fx.conn.okta}`, { key: fx.apiKey, body });
  const walk = (path: string, limit?: number) => walkAll(fx.gw, fx.apiKey, fx.conn.okta, path, limit);

  it("lists every user, deactivated ones included, with Okta's statuses in the model's terms", async () => {
    const users = await walk("/unified/user-directory/users");
    const all = okta().users.all();
    // Okta leaves DEPROVISIONED users out of an unfiltered list; the integration's filter keeps them.
    expect(all.some((u) => u.status === "DEPROVISIONED")).toBe(true);
    expect(users.map((u) => u.id)).toEqual(all.map((u) => u.id));
    const expected: Record<string, string> = {
      ACTIVE: "active",
      LOCKED_OUT: "active",
      PASSWORD_EXPIRED: "active",
      STAGED: "invited",
      SUSPENDED: "inactive",
      DEPROVISIONED: "inactive",
    };
    const seen = new Set<string>();
    for (const [i, user] of users.entries()) {
      seen.add(all[i]!.status);
      expect(user.status, all[i]!.status).toBe(expected[all[i]!.status]);
    }
    expect([...seen].sort()).toEqual(Object.keys(expected).sort());
    const inactive = await call("GET", "/unified/user-directory/users?status=inactive&limit=200&remote_data=false");
    expect(inactive.body.result.map((u: { id: string }) => u.id).sort()).toEqual(
      all
        .filter((u) => u.status === "SUSPENDED" || u.status === "DEPROVISIONED")
        .map((u) => u.id)
        .sort(),
    );
    const someone = all[7]!;
    const byEmail = await call("GET", `/unified/user-directory/users?email=${encodeURIComponent(someone.profile.email)}`);
    expect(byEmail.body.result.map((u: { id: string }) => u.id)).toEqual([someone.id]);
  });

  it("lists the org the token opens as the one organization", async () => {
    const organizations = await walk("/unified/user-directory/organizations");
    expect(organizations).toHaveLength(1);
    expect(organizations[0]).toMatchObject({ id: okta().org.id, name: okta().org.companyName });
  });

  it("lists groups (Everyone included) and walks a group's members", async () => {
    const groups = await walk("/unified/user-directory/groups");
    expect(groups.map((g) => g.name)).toEqual(
      okta()
        .groups.all()
        .map((g) => g.profile.name),
    );
    const everyone = groups[0];
    expect(everyone.name).toBe("Everyone");
    const members = await walk(`/unified/user-directory/groups/${everyone.id}/members`);
    expect(members).toHaveLength(okta().users.all().length);
    expect(members[0]).toMatchObject({ user_id: okta().users.all()[0]!.id, name: expect.any(String) });
  });

  it("creates, updates, deactivates and deletes a user, and refuses what Okta cannot do by name", async () => {
    const created = await call("POST", "/unified/user-directory/users", {
      username: "ada@acme.example.com",
      first_name: "Ada",
      last_name: "Lovelace",
      emails: [{ email: "ada@acme.example.com", is_primary: true }],
      phones: [{ number: "+1-555-0101", type: "mobile" }],
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({
      username: "ada@acme.example.com",
      status: "invited",
      phones: [{ number: "+1-555-0101", type: "mobile" }],
    });
    const id = created.body.id as string;

    const updated = await call("PATCH", `/unified/user-directory/users/${id}`, { title: "Analyst", phones: [] });
    expect(updated.status, JSON.stringify(updated.body)).toBe(200);
    expect(updated.body).toMatchObject({ title: "Analyst", phones: [], first_name: "Ada" });
    expect(okta().users.get(id)!.profile.mobilePhone).toBeUndefined();

    const deactivated = await call("PATCH", `/unified/user-directory/users/${id}`, { status: "inactive" });
    expect(deactivated.body.status).toBe("inactive");
    expect(okta().users.get(id)!.status).toBe("DEPROVISIONED");
    const reactivate = await call("PATCH", `/unified/user-directory/users/${id}`, { status: "active" });
    expect(reactivate.status).toBe(400);
    expect(reactivate.body.error.message).toMatch(/activation email/);

    const twoAddresses = await call("POST", "/unified/user-directory/users", {
      username: "bob@acme.example.com",
      first_name: "Bob",
      last_name: "B",
      emails: [{ email: "bob@acme.example.com" }],
      addresses: [{ city: "Berlin" }, { city: "Paris" }],
    });
    expect(twoAddresses.status).toBe(400);
    expect(twoAddresses.body.error.message).toMatch(/one address/);

    const taken = await call("POST", "/unified/user-directory/users", {
      username: "ADA@acme.example.com",
      first_name: "A",
      last_name: "L",
      emails: [{ email: "ada2@acme.example.com" }],
    });
    expect(taken.status).toBeGreaterThanOrEqual(400);
    expect(taken.status).toBeLessThan(500);
    expect(taken.body.error.message).toMatch(/login: An object with this field already exists/);

    // Deactivated already: the first DELETE deletes, the second finds nobody, which is done.
    const deleted = await call("DELETE", `/unified/user-directory/users/${id}`);
    expect(deleted.body).toEqual({ id, outcome: "deleted" });
    expect(okta().users.get(id)).toBeUndefined();
    // A live user takes both: the first deactivates, the second deletes.
    const live = okta()
      .users.all()
      .find((u) => u.status === "ACTIVE")!;
    expect((await call("DELETE", `/unified/user-directory/users/${live.id}`)).body).toEqual({ id: live.id, outcome: "deleted" });
    expect(okta().users.get(live.id)).toBeUndefined();
    expect((await call("DELETE", `/unified/user-directory/users/${live.id}`)).status).toBe(404);
  });

  it("creates and renames a group, adds and removes a member, and deletes it", async () => {
    const group = await call("POST", "/unified/user-directory/groups", { name: "Readers", description: "They read" });
    expect(group.status, JSON.stringify(group.body)).toBe(201);
    const user = okta().users.all()[3]!;
    const added = await call("POST", `/unified/user-directory/groups/${group.body.id}/members`, { user_id: user.id });
    expect(added.status, JSON.stringify(added.body)).toBeLessThan(300);
    expect([...okta().members.get(group.body.id)!]).toEqual([user.id]);
    const renamed = await call("PATCH", `/unified/user-directory/groups/${group.body.id}`, { name: "Writers" });
    expect(renamed.body).toMatchObject({ name: "Writers", description: null });
    const nameless = await call("PATCH", `/unified/user-directory/groups/${group.body.id}`, { description: "x" });
    expect(nameless.status).toBe(400);
    expect((await call("DELETE", `/unified/user-directory/groups/${group.body.id}/members/${user.id}`)).status).toBeLessThan(300);
    expect(okta().members.get(group.body.id)!.size).toBe(0);
    expect((await call("DELETE", `/unified/user-directory/groups/${group.body.id}`)).status).toBe(200);
    // The built-in Everyone group is Okta's own: a 403 the caller sees as one, naming Okta, and
    // the connection stays usable (Okta's 403 is not a wrong token).
    const everyone = okta().everyoneId;
    const refused = await call("DELETE", `/unified/user-directory/groups/${everyone}`);
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatchObject({ code: "forbidden", upstream: { status: 403 } });
    expect(refused.body.error.message).toMatch(/^Okta does not let the connection's account do this \(upstream status 403\)/);
    expect((await fx.gw.call("GET", `/connections/${fx.conn.okta}`)).body.status).toBe("active");
    expect((await call("GET", "/unified/user-directory/groups?limit=1")).status).toBe(200);
  });

  it("passes X-Rate-Limit-* on as ratelimit-*, the reset in seconds from now, and a 429 with a retry-after from it", async () => {
    const ok = await call("GET", "/unified/user-directory/users?limit=1");
    expect(ok.headers.get("ratelimit-limit")).toBeNull(); // the simulator sends them only while limiting
    fx.sandbox.world.setRateLimit("okta", 3);
    try {
      const answers = [];
      for (let i = 0; i < 4; i++) answers.push(await call("GET", "/unified/user-directory/users?limit=1"));
      expect(answers[0]!.headers.get("ratelimit-limit")).toBe("3");
      const reset = Number(answers[0]!.headers.get("ratelimit-reset"));
      // Seconds until the window ends, not Okta's Unix time.
      expect(reset).toBeGreaterThan(0);
      expect(reset).toBeLessThanOrEqual(60);
      const limited = answers[3]!;
      expect(limited.status).toBe(429);
      expect(limited.body.error.code).toBe("rate_limited");
      // Okta sends no Retry-After: the gateway's comes from the reset (too far to wait out here).
      const retryAfter = Number(limited.headers.get("retry-after"));
      expect(retryAfter).toBeGreaterThan(5);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(limited.headers.get("ratelimit-remaining")).toBe("0");
    } finally {
      fx.sandbox.world.setRateLimit("okta", null);
    }
  });

  it("a sync reads only the users changed since its last run, and a full walk finds those deleted outright", async () => {
    const endpoint = await fx.gw.call("POST", "/webhook-endpoints", {
      key: fx.apiKey,
      body: { url: hooks.url, tenant_id: "acme", events: ["user.created", "user.updated", "user.deactivated", "user.deleted"] },
    });
    expect(endpoint.status, JSON.stringify(endpoint.body)).toBe(201);
    const sync = await fx.gw.call("POST", "/syncs", {
      key: fx.apiKey,
      body: { connection_id: fx.conn.okta, resources: ["users"], interval: 3_600 },
    });
    expect(sync.status).toBe(201);
    const runs = async () => (await fx.gw.call("GET", `/syncs/${sync.body.id}/runs`, { key: fx.apiKey })).body.result as any[];
    await until(async () => (await runs()).some((r) => r.status !== "running"));
    expect((await runs())[0]).toMatchObject({ status: "succeeded", counts: { added: okta().users.all().length } });
    await until(() => hooks.unique().size >= okta().users.all().length);

    const applied = fx.sandbox.changeUsers("okta", "acme", { add: 2, update: 2, deactivate: 2, delete: 2 });
    const before = hooks.unique().size;
    fx.sandbox.world.requests.length = 0;
    await fx.gw.call("POST", `/syncs/${sync.body.id}/run`, { key: fx.apiKey });
    await until(async () => (await runs()).filter((r) => r.status !== "running").length === 2);
    // Only what changed since the first run's start (less a margin), by Okta's own filter.
    expect((await runs())[1]).toMatchObject({
      status: "succeeded",
      counts: { added: 2, updated: 4, deleted: 0, unchanged: 0, delta_reads: 1 },
    });
    const asked = fx.sandbox.world.requests.filter((r) => r.vendor === "okta" && r.path === "/okta/api/v1/users");
    expect(asked).toHaveLength(1);
    await until(() => hooks.unique().size >= before + 6);
    const delta = [...hooks.unique().values()].slice(before);
    expect(idsOf(delta, "user.created")).toEqual([...applied.added].sort());
    expect(idsOf(delta, "user.updated")).toEqual([...applied.updated].sort());
    expect(idsOf(delta, "user.deactivated")).toEqual([...applied.deactivated].sort());
    // A user deleted outright is not in a changed-since list: the next full walk announces it.
    expect(delta).toHaveLength(6);
    await fx.sql`update syncs set delta = jsonb_set(delta, '{users,fullAt}', '"2000-01-01T00:00:00.000Z"') where id = ${sync.body.id}`;
    await fx.gw.call("POST", `/syncs/${sync.body.id}/run`, { key: fx.apiKey });
    await until(async () => (await runs()).filter((r) => r.status !== "running").length === 3);
    expect((await runs())[2]).toMatchObject({ status: "succeeded", counts: { added: 0, updated: 0, deleted: 2, full_walks: 1 } });
    await until(() => hooks.unique().size >= before + 8);
    const full = [...hooks.unique().values()].slice(before + 6);
    expect(idsOf(full, "user.deleted")).toEqual([...applied.deleted].sort());
    expect(full).toHaveLength(2);
  });
});
