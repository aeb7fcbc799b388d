import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, useGatewayWithSandbox, walkAll } from "./harness.ts";
import { idsOf, receiver, until } from "./webhook-receiver.ts";

/*
 * Microsoft Entra ID, added by files alone (mappings/microsoft-entra-id/): an app's client
 * credentials at the identity platform, Graph lists paged by @odata.nextLink with $select and
 * the manager expanded, writes answered 204 and read back, members added by reference.
 */
describe("Microsoft Entra ID by files: client credentials, next links in the body, references", { timeout: 120_000 }, () => {
  const fx = useGatewayWithSandbox({ tenants: { acme: 640 }, gateway: { jobs: true }, connect: { "microsoft-entra-id": "entra" } });
  const entra = () => fx.sandbox.entra.tenant("acme");
  const call = (method: string, path: string, body?: unknown) =>
    fx.gw.call(method, `${path}${path.includes("?") ? "&" : "?"}connection_id=${fx.conn["microsoft-entra-id"]}`, { key: fx.apiKey, body });
  const walk = (path: string, limit?: number) => walkAll(fx.gw, fx.apiKey, fx.conn["microsoft-entra-id"], path, limit);

  it("walks every user once across next links, with the selected properties, the manager and the status", async () => {
    const users = await walk("/unified/user-directory/users", 150);
    const all = entra().users.all();
    expect(users.map((u) => u.id)).toEqual(all.map((u) => u.id));
    for (const [i, user] of users.entries()) {
      const graph = all[i]!;
      expect(user).toMatchObject({
        username: graph.userPrincipalName,
        name: graph.displayName,
        department: graph.department,
        employee_number: graph.employeeId,
        manager_id: graph.managerId,
        status: !graph.accountEnabled ? "inactive" : graph.externalUserState === "PendingAcceptance" ? "invited" : "active",
      });
      expect(user.emails[0]).toEqual({ email: graph.mail, type: "work", is_primary: true });
      expect(user.addresses[0].city).toBe(graph.city);
    }
    expect(new Set(users.map((u) => u.status))).toEqual(new Set(["active", "inactive", "invited"]));
    // 150 a page asked of a vendor whose default is 100: the first request says $top, the links keep it.
    const asked = fx.sandbox.world.requests.filter((r) => r.vendor === "entra" && r.path.endsWith("/v1.0/users"));
    expect(asked.length).toBeGreaterThanOrEqual(3);

    const someone = all[9]!;
    const byEmail = await call("GET", `/unified/user-directory/users?email=${encodeURIComponent(someone.mail!)}`);
    expect(byEmail.body.result.map((u: { id: string }) => u.id)).toEqual([someone.id]);
    const inactive = await walk("/unified/user-directory/users?status=inactive");
    expect(inactive.map((u) => u.id)).toEqual(all.filter((u) => !u.accountEnabled).map((u) => u.id));
    expect((await call("GET", "/unified/user-directory/users?status=invited")).body.error.code).toBe("filter_not_supported");
  });

  it("lists groups, their user members, and the tenant as the one organization", async () => {
    const groups = await walk("/unified/user-directory/groups");
    expect(groups.map((g) => g.name)).toEqual(
      entra()
        .groups.all()
        .map((g) => g.displayName),
    );
    const big = entra().groups.all()[0]!;
    const members = await walk(`/unified/user-directory/groups/${big.id}/members`, 40);
    expect(members.map((m) => m.user_id)).toEqual([...entra().members.get(big.id)!]);
    const organizations = await call("GET", "/unified/user-directory/organizations");
    expect(organizations.body.result).toMatchObject([{ id: entra().tenantId, name: entra().company }]);
  });

  it("updates a user (a 204 read back), moves their manager, blocks them, manages groups and members, deletes", async () => {
    const [user, manager] = entra()
      .users.all()
      .filter((u) => u.accountEnabled && u.userType === "Member");
    const updated = await call("PATCH", `/unified/user-directory/users/${user!.id}`, {
      title: "Analyst",
      first_name: "Ada",
      manager_id: manager!.id,
      status: "inactive",
    });
    expect(updated.status, JSON.stringify(updated.body)).toBe(200);
    expect(updated.body).toMatchObject({ title: "Analyst", first_name: "Ada", manager_id: manager!.id, status: "inactive" });
    expect(entra().users.get(user!.id)).toMatchObject({ jobTitle: "Analyst", accountEnabled: false, managerId: manager!.id });
    expect((await call("PATCH", `/unified/user-directory/users/${user!.id}`, { status: "invited" })).status).toBe(400);

    const made = await call("POST", "/unified/user-directory/groups", { name: "Night Shift (EU)", description: "On call" });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    expect(entra().groups.get(made.body.id)).toMatchObject({
      displayName: "Night Shift (EU)",
      mailNickname: "NightShiftEU",
      securityEnabled: true,
    });
    const renamed = await call("PATCH", `/unified/user-directory/groups/${made.body.id}`, { name: "Night Shift" });
    expect(renamed.body).toMatchObject({ id: made.body.id, name: "Night Shift", description: "On call" });
    expect((await call("POST", `/unified/user-directory/groups/${made.body.id}/members`, { user_id: user!.id })).status).toBeLessThan(300);
    expect(entra().members.get(made.body.id)!.has(user!.id)).toBe(true);
    // Graph refuses a member added twice with a 400 of its own.
    const again = await call("POST", `/unified/user-directory/groups/${made.body.id}/members`, { user_id: user!.id });
    expect(again.status).toBe(400);
    expect(again.body.error.message).toMatch(/already exist/);
    expect((await call("DELETE", `/unified/user-directory/groups/${made.body.id}/members/${user!.id}`)).status).toBeLessThan(300);
    expect(entra().members.get(made.body.id)!.size).toBe(0);
    expect((await call("DELETE", `/unified/user-directory/groups/${made.body.id}`)).body).toEqual({ id: made.body.id, outcome: "deleted" });

    expect((await call("DELETE", `/unified/user-directory/users/${user!.id}`)).body).toEqual({ id: user!.id, outcome: "deleted" });
    expect(entra().users.get(user!.id)).toBeUndefined();
    // Graph requires a password for a new user, which the model does not carry: no create.
    expect((await call("POST", "/unified/user-directory/users", { username: "new@acme.example.com" })).status).toBe(405);
  });

  it("refuses a wrong secret and an unknown app at the token endpoint, naming the vendor", async () => {
    const { credentials, config } = fx.sandbox.connectionFor("entra", "acme");
    const connect = (creds: Record<string, string>) =>
      fx.gw.call("POST", "/connections", { body: { tenant_id: "acme", integration: "microsoft-entra-id", credentials: creds, config } });
    const wrongSecret = await connect({ ...credentials!, client_secret: "abc8Q~not-the-secret-at-all-0000000000" });
    expect(wrongSecret.status).toBe(400);
    expect(wrongSecret.body.error.message).toMatch(/^Microsoft Entra ID rejected the credentials \(upstream status 401\)/);
    expect(JSON.stringify(wrongSecret.body)).not.toContain("not-the-secret");
    const unknownApp = await connect({ ...credentials!, client_id: "00000000-0000-0000-0000-000000000000" });
    expect(unknownApp.status).toBe(400);
  });

  it("shares its access token between instances: one token request serves both, and a revoked one is renewed once", async () => {
    const other = await startGateway({ instanceOf: fx.gw });
    try {
      const tokenRequests = () => fx.sandbox.world.requests.filter((r) => r.vendor === "entra" && r.path.endsWith("/oauth2/v2.0/token"));
      const read = (gw: typeof fx.gw) =>
        gw.call("GET", `/unified/user-directory/users?limit=1&connection_id=${fx.conn["microsoft-entra-id"]}`, { key: fx.apiKey });
      fx.sandbox.world.requests.length = 0;
      // The first instance holds a token from the tests before: the second reads with it.
      expect((await read(fx.gw)).status).toBe(200);
      expect((await read(other)).status).toBe(200);
      expect(tokenRequests()).toHaveLength(0);
      // Entra ends every token early: the instance told first gets a new one, the other finds it.
      fx.sandbox.entra.revokeTokens();
      expect((await read(other)).status).toBe(200);
      expect((await read(fx.gw)).status).toBe(200);
      expect(tokenRequests()).toHaveLength(1);
      // Sealed at rest: the stored row holds no token in plain text.
      expect(JSON.stringify(await other.services.platform.store.db.execute("select * from access_tokens"))).not.toMatch(/eyJ0eXAi/);
    } finally {
      await other.close();
    }
  });

  describe("syncs by delta query", () => {
    let hooks: Awaited<ReturnType<typeof receiver>>;
    beforeAll(async () => {
      hooks = await receiver();
    });
    afterAll(() => hooks?.close());

    it("a run after the first reads only the delta, announcing exactly what changed, the deleted included", async () => {
      const endpoint = await fx.gw.call("POST", "/webhook-endpoints", {
        key: fx.apiKey,
        body: {
          url: hooks.url,
          tenant_id: "acme",
          events: ["user.created", "user.updated", "user.deactivated", "user.deleted", "group.created", "group.updated", "group.deleted"],
        },
      });
      expect(endpoint.status, JSON.stringify(endpoint.body)).toBe(201);
      const sync = await fx.gw.call("POST", "/syncs", {
        key: fx.apiKey,
        body: { connection_id: fx.conn["microsoft-entra-id"], resources: ["users", "groups"], interval: 3_600 },
      });
      expect(sync.status, JSON.stringify(sync.body)).toBe(201);
      expect(sync.body.full_interval).toBe(86_400);
      const runs = async () => (await fx.gw.call("GET", `/syncs/${sync.body.id}/runs`, { key: fx.apiKey })).body.result as any[];
      const finished = async (count: number) => {
        await until(async () => (await runs()).filter((r) => r.status !== "running").length >= count);
        return (await runs())[count - 1];
      };
      const everyone = entra().users.all().length + entra().groups.all().length;
      // The first run is a delta round without a link: every record, and the link of the next round.
      expect(await finished(1)).toMatchObject({ status: "succeeded", counts: { added: everyone, full_walks: 2, delta_reads: 0 } });
      await until(() => hooks.unique().size >= everyone);

      const managerOf = new Map(
        entra()
          .users.all()
          .map((u) => [u.id, u.managerId]),
      );
      const applied = fx.sandbox.changeUsers("entra", "acme", { add: 2, update: 2, deactivate: 2, delete: 2 });
      // The deleted users' reports lost their manager: changed too, as Graph's delta shows them (a
      // deactivated one is both deactivated and updated).
      const reports = [...managerOf]
        .filter(([id, manager]) => applied.deleted.includes(manager!) && !applied.deleted.includes(id))
        .map(([id]) => id);
      const orphaned = reports.filter((id) => !applied.updated.includes(id));
      const changedAlone = orphaned.filter((id) => !applied.deactivated.includes(id));
      const before = hooks.unique().size;
      fx.sandbox.world.requests.length = 0;
      await fx.gw.call("POST", `/syncs/${sync.body.id}/run`, { key: fx.apiKey });
      // Two users left groups as they were deleted: those groups are in the groups' delta, unchanged in the model.
      expect(await finished(2)).toMatchObject({
        status: "succeeded",
        counts: { added: 2, updated: 4 + changedAlone.length, deleted: 2, delta_reads: 2, full_walks: 0 },
      });
      // One page of each delta, and nothing else.
      const asked = fx.sandbox.world.requests.filter((r) => r.vendor === "entra").map((r) => r.path);
      expect(asked.sort()).toEqual(["/entra/v1.0/groups/delta", "/entra/v1.0/users/delta"]);
      await until(() => hooks.unique().size >= before + 8 + orphaned.length);
      const fresh = [...hooks.unique().values()].slice(before);
      expect(idsOf(fresh, "user.created")).toEqual([...applied.added].sort());
      expect(idsOf(fresh, "user.updated")).toEqual([...applied.updated, ...orphaned].sort());
      expect(idsOf(fresh, "user.deactivated")).toEqual([...applied.deactivated].sort());
      expect(idsOf(fresh, "user.deleted")).toEqual([...applied.deleted].sort());
      expect(fresh).toHaveLength(8 + orphaned.length);

      // A delta link the vendor no longer honours (410 Gone): that resource is walked in full instead.
      fx.sandbox.fault({ vendor: "entra", kind: "status", status: 410, path: "/users/delta", count: 1 });
      // Someone who manages no one: the full walk finds exactly one change.
      const gone = entra()
        .users.all()
        .find(
          (u) =>
            !entra()
              .users.all()
              .some((r) => r.managerId === u.id),
        )!;
      entra().deleteUser(gone.id);
      await fx.gw.call("POST", `/syncs/${sync.body.id}/run`, { key: fx.apiKey });
      expect(await finished(3)).toMatchObject({
        status: "succeeded",
        counts: { added: 0, updated: 0, deleted: 1, full_walks: 1, delta_reads: 1 },
      });
      await until(() => hooks.unique().size >= before + 9 + orphaned.length);
      expect([...hooks.unique().values()].at(-1)!.event).toMatchObject({ type: "user.deleted", data: { id: gone.id } });
    });
  });
});
