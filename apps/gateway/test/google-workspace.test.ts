import { describe, expect, it } from "vitest";
import { useGatewayWithSandbox, walkAll } from "./harness.ts";

/*
 * Google Workspace, added by files alone (mappings/google-workspace/): a service account's
 * JWT-bearer grant for a delegated administrator, pageToken lists with Google's maxResults
 * bounds, organizational units as organizations, and what Google's API does not allow.
 */
describe("Google Workspace by files: a delegated service account, token pages, org units", { timeout: 120_000 }, () => {
  const fx = useGatewayWithSandbox({ tenants: { acme: 640 }, connect: { "google-workspace": "google" } });
  const google = () => fx.sandbox.google.tenant("acme");
  const call = (method: string, path: string, body?: unknown) =>
    fx.gw.call(method, `${path}${path.includes("?") ? "&" : "?"}connection_id=${fx.conn["google-workspace"]}`, { key: fx.apiKey, body });
  const walk = (path: string, limit?: number) => walkAll(fx.gw, fx.apiKey, fx.conn["google-workspace"], path, limit);

  it("walks every user once, in Google's email order, with suspended users inactive", async () => {
    const users = await walk("/unified/user-directory/users");
    const all = [...google().users.all()].sort((a, b) => (a.primaryEmail < b.primaryEmail ? -1 : 1));
    expect(users.map((u) => u.id)).toEqual(all.map((u) => u.id));
    for (const [i, user] of users.entries()) {
      expect(user.status).toBe(all[i]!.suspended ? "inactive" : all[i]!.agreedToTerms ? "active" : "invited");
      // Google's "never signed in" is the epoch: no time.
      if (all[i]!.lastLoginTime.startsWith("1970")) expect(user.last_login_at).toBeNull();
    }
    const inactive = await walk("/unified/user-directory/users?status=inactive");
    expect(inactive.map((u) => u.id)).toEqual(all.filter((u) => u.suspended).map((u) => u.id));
    expect(inactive.length).toBeGreaterThan(0);
    const someone = all[9]!;
    const byEmail = await call("GET", `/unified/user-directory/users?email=${encodeURIComponent(someone.primaryEmail)}`);
    expect(byEmail.body.result.map((u: { id: string }) => u.id)).toEqual([someone.id]);
    const invited = await call("GET", "/unified/user-directory/users?status=invited");
    expect(invited.status).toBe(400);
    expect(invited.body.error.code).toBe("filter_not_supported");
  });

  it("lists groups and their user members (nested groups are not members), and org units as organizations", async () => {
    const groups = await walk("/unified/user-directory/groups");
    expect(groups.map((g) => g.name)).toEqual(
      google()
        .groups.all()
        .map((g) => g.name),
    );
    const big = google().groups.all()[0]!;
    const members = await walk(`/unified/user-directory/groups/${big.id}/members`, 50);
    expect(members.map((m) => m.user_id)).toEqual([...google().members.get(big.id)!]);
    const organizations = await call("GET", "/unified/user-directory/organizations");
    expect(organizations.status).toBe(200);
    expect(organizations.body.result.map((o: { id: string; name: string }) => [o.id, o.name])).toEqual(
      google().orgUnits.map((u) => [u.orgUnitId, u.name]),
    );
  });

  it("suspends and renames a user, adds and removes a group member, deletes a user; create is not offered", async () => {
    const user = google()
      .users.all()
      .find((u) => !u.suspended && !u.isAdmin)!;
    const updated = await call("PATCH", `/unified/user-directory/users/${user.id}`, {
      status: "inactive",
      title: "Analyst",
      first_name: "Ada",
    });
    expect(updated.status, JSON.stringify(updated.body)).toBe(200);
    expect(updated.body).toMatchObject({ status: "inactive", title: "Analyst", first_name: "Ada", last_name: user.name.familyName });
    expect(google().users.get(user.id)!.suspended).toBe(true);
    const invited = await call("PATCH", `/unified/user-directory/users/${user.id}`, { status: "invited" });
    expect(invited.status).toBe(400);

    const group = google().groups.all()[1]!;
    const outsider = google()
      .users.all()
      .find((u) => !google().members.get(group.id)!.has(u.id))!;
    expect((await call("POST", `/unified/user-directory/groups/${group.id}/members`, { user_id: outsider.id })).status).toBeLessThan(300);
    expect(google().members.get(group.id)!.has(outsider.id)).toBe(true);
    expect((await call("DELETE", `/unified/user-directory/groups/${group.id}/members/${outsider.id}`)).status).toBeLessThan(300);
    expect(google().members.get(group.id)!.has(outsider.id)).toBe(false);

    expect((await call("DELETE", `/unified/user-directory/users/${user.id}`)).body).toEqual({ id: user.id, outcome: "deleted" });
    expect(google().users.get(user.id)).toBeUndefined();
    const create = await call("POST", "/unified/user-directory/users", { username: "new@acme.example.com" });
    // Google requires a password for a new user, which the model does not carry: no create.
    expect(create.status).toBe(405);
    expect(create.body.error.code).toBe("method_not_allowed");
  });

  it("answers Google's passed quota (403 userRateLimitExceeded) as rate_limited, retried first, and keeps the connection usable", async () => {
    fx.sandbox.world.setRateLimit("google", 3);
    try {
      fx.sandbox.world.requests.length = 0;
      let answer = await call("GET", "/unified/user-directory/groups?limit=1");
      for (let i = 0; i < 5 && answer.status === 200; i++) answer = await call("GET", "/unified/user-directory/groups?limit=1");
      expect(answer.status, JSON.stringify(answer.body)).toBe(429);
      expect(answer.body.error).toMatchObject({ code: "rate_limited" });
      expect(answer.body.error.message).toMatch(/^Google Workspace is rate limiting this connection \(upstream status 403\)/);
      // A throttled read is retried before it is answered: more than one upstream 403 per refused call.
      const refused = fx.sandbox.world.requests.filter((r) => r.vendor === "google" && r.status === 403);
      expect(refused.length).toBeGreaterThan(1);
      // A quota says nothing about the credentials: the connection stays usable.
      const connection = await fx.gw.call("GET", `/connections/${fx.conn["google-workspace"]}`);
      expect(connection.body.status).toBe("active");
    } finally {
      fx.sandbox.world.setRateLimit("google", null);
    }
  });

  it("refuses a service account that may not act for the administrator given, and one the token endpoint does not know", async () => {
    const account = fx.sandbox.google.serviceAccount("acme");
    const connect = (credentials: Record<string, string>, admin_email: string) =>
      fx.gw.call("POST", "/connections", {
        body: {
          tenant_id: "acme",
          integration: "google-workspace",
          credentials,
          config: { ...fx.sandbox.connectionFor("google", "acme").config, admin_email },
        },
      });
    const notDelegated = await connect(
      { client_email: account.clientEmail, private_key: account.privateKey },
      "someone.else@acme.example.com",
    );
    expect(notDelegated.status).toBe(400);
    expect(notDelegated.body.error.message).toMatch(/^Google Workspace rejected the credentials \(upstream status 401\)/);
    const otherKey = fx.sandbox.google.serviceAccount("acme").privateKey;
    const wrongKey = await connect({ client_email: "nobody@elsewhere.iam.gserviceaccount.com", private_key: otherKey }, account.subject);
    expect(wrongKey.status).toBe(400);
    expect(wrongKey.body.error.message).toMatch(/upstream status 401/);
  });
});
