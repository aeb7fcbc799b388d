import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningSandbox, startSandbox } from "../src/server.ts";
import { vendorCall } from "./client.ts";
import { vendorSpecs } from "./spec.ts";

/** The next page's URL from an RFC 8288 Link header, or undefined at the end. */
const nextLink = (link: string | null) => /<([^>]+)>;\s*rel="next"/.exec(link ?? "")?.[1];

describe("the Okta simulator follows Okta's management API document and its quirks", () => {
  let sandbox: RunningSandbox;
  const specs = vendorSpecs();
  beforeAll(async () => {
    sandbox = await startSandbox({
      tenants: [
        { name: "acme", users: 450 },
        { name: "globex", users: 12 },
      ],
    });
  });
  afterAll(() => sandbox.close());
  const okta = (method: string, path: string, body?: unknown) => vendorCall(sandbox, "okta", "acme", method, path, { body });
  const errorValid = (body: unknown) => expect(specs.oktaError(body)).toEqual([]);

  it("answers users, a user, groups, members and the org in the document's shapes", async () => {
    const users = await okta("GET", "/api/v1/users?limit=5");
    expect(users.status).toBe(200);
    expect(specs.okta("/api/v1/users", "get", 200, users.body)).toEqual([]);
    expect(specs.okta("/api/v1/users/{id}", "get", 200, (await okta("GET", `/api/v1/users/${users.body[0].id}`)).body)).toEqual([]);
    const groups = await okta("GET", "/api/v1/groups");
    expect(specs.okta("/api/v1/groups", "get", 200, groups.body)).toEqual([]);
    expect(groups.body[0].profile.name).toBe("Everyone");
    expect(groups.body[0].type).toBe("BUILT_IN");
    const members = await okta("GET", `/api/v1/groups/${groups.body[1].id}/users`);
    expect(specs.okta("/api/v1/groups/{groupId}/users", "get", 200, members.body)).toEqual([]);
    expect(specs.okta("/api/v1/groups/{groupId}", "get", 200, (await okta("GET", `/api/v1/groups/${groups.body[1].id}`)).body)).toEqual([]);
    const org = await okta("GET", "/api/v1/org");
    expect(specs.okta("/api/v1/org", "get", 200, org.body)).toEqual([]);
    expect(org.body.subdomain).toBe("acme");
  });

  it("creates, updates, replaces, deactivates and deletes a user as the document says", async () => {
    const created = await okta("POST", "/api/v1/users?activate=true", {
      profile: { firstName: "Ada", lastName: "Byron", email: "ada@acme.example.com", login: "ada@acme.example.com" },
    });
    expect(created.status).toBe(200);
    expect(specs.okta("/api/v1/users", "post", 200, created.body)).toEqual([]);
    // Activated without a password: the user still has to finish activation.
    expect(created.body.status).toBe("PROVISIONED");
    const id = created.body.id as string;
    const updated = await okta("POST", `/api/v1/users/${id}`, { profile: { title: "Countess" } });
    expect(specs.okta("/api/v1/users/{id}", "post", 200, updated.body)).toEqual([]);
    expect(updated.body.profile).toMatchObject({ firstName: "Ada", title: "Countess" });
    const replaced = await okta("PUT", `/api/v1/users/${id}`, {
      profile: { firstName: "Ada", lastName: "Lovelace", email: "ada@acme.example.com", login: "ada@acme.example.com" },
    });
    expect(specs.okta("/api/v1/users/{id}", "put", 200, replaced.body)).toEqual([]);
    expect(replaced.body.profile.title).toBeUndefined();
    const duplicate = await okta("POST", "/api/v1/users", {
      profile: { firstName: "A", lastName: "B", email: "ada@acme.example.com", login: "ADA@acme.example.com" },
    });
    expect(duplicate.status).toBe(400);
    expect(specs.okta("/api/v1/users", "post", 400, duplicate.body)).toEqual([]);
    expect(duplicate.body.errorCauses[0].errorSummary).toMatch(/^login: An object with this field already exists/);

    expect((await okta("POST", `/api/v1/users/${id}/lifecycle/deactivate`)).status).toBe(200);
    expect((await okta("GET", `/api/v1/users/${id}`)).body.status).toBe("DEPROVISIONED");
    // The first DELETE of a live user only deactivates; a deactivated one is deleted by one.
    expect((await okta("DELETE", `/api/v1/users/${id}`)).status).toBe(204);
    const gone = await okta("GET", `/api/v1/users/${id}`);
    expect(gone.status).toBe(404);
    expect(specs.okta("/api/v1/users/{id}", "get", 404, gone.body)).toEqual([]);
    const other = (await okta("GET", "/api/v1/users?limit=1")).body[0].id;
    expect((await okta("DELETE", `/api/v1/users/${other}`)).status).toBe(204);
    expect((await okta("GET", `/api/v1/users/${other}`)).body.status).toBe("DEPROVISIONED");
  });

  it("pages users 200 at most with Link headers, and leaves deactivated users out unless filtered", async () => {
    const all = await vendorCall(
      sandbox,
      "okta",
      "globex",
      "GET",
      `/api/v1/users?filter=${encodeURIComponent('lastUpdated gt "1970-01-01T00:00:00.000Z"')}`,
    );
    const everyone = sandbox.okta.tenant("acme").users.all();
    const listed = everyone.filter((u) => u.status !== "DEPROVISIONED");
    expect(listed.length).toBeLessThan(everyone.length);
    const ids: string[] = [];
    let url: string | undefined = `${sandbox.baseUrl("okta")}/api/v1/users?limit=500`;
    let pages = 0;
    while (url) {
      const res = await fetch(url, { headers: { authorization: `SSWS ${sandbox.key("okta", "acme")}` } });
      const body = (await res.json()) as { id: string }[];
      // A limit over 200 is answered with 200.
      expect(body.length).toBeLessThanOrEqual(200);
      ids.push(...body.map((u) => u.id));
      url = nextLink(res.headers.get("link"));
      pages++;
    }
    expect(pages).toBe(Math.ceil(listed.length / 200));
    expect(ids).toEqual(listed.map((u) => u.id));
    expect(all.body.length).toBe(sandbox.okta.tenant("globex").users.all().length);
  });

  it("filters and searches with Okta's expressions, and refuses what filter does not take", async () => {
    const someone = sandbox.okta.tenant("acme").users.all()[3]!;
    const byLogin = await okta(
      "GET",
      `/api/v1/users?filter=${encodeURIComponent(`profile.login eq "${someone.profile.login.toUpperCase()}"`)}`,
    );
    expect(byLogin.body.map((u: { id: string }) => u.id)).toEqual([someone.id]);
    const staged = await okta("GET", `/api/v1/users?search=${encodeURIComponent('status eq "STAGED" or status eq "DEPROVISIONED"')}`);
    expect(staged.body.length).toBeGreaterThan(0);
    expect(new Set(staged.body.map((u: { status: string }) => u.status))).toEqual(new Set(["STAGED", "DEPROVISIONED"]));
    const refused = await okta("GET", `/api/v1/users?filter=${encodeURIComponent('profile.title sw "Eng"')}`);
    expect(refused.status).toBe(400);
    expect(refused.body.errorSummary).toBe("Invalid search criteria.");
    errorValid(refused.body);
  });

  it("refuses a wrong token in Okta's error shape, and a 429 carries X-Rate-Limit-* but no Retry-After", async () => {
    const refused = await vendorCall(sandbox, "okta", "acme", "GET", "/api/v1/users", { key: "00wrong" });
    expect(refused.status).toBe(401);
    expect(refused.body.errorCode).toBe("E0000011");
    errorValid(refused.body);
    sandbox.world.setRateLimit("okta", 2);
    try {
      const answers = [];
      for (let i = 0; i < 3; i++) answers.push(await okta("GET", "/api/v1/org"));
      expect(answers.map((a) => a.status)).toEqual([200, 200, 429]);
      const limited = answers[2]!;
      expect(limited.headers.get("retry-after")).toBeNull();
      expect(limited.body.errorCode).toBe("E0000047");
      errorValid(limited.body);
      const reset = Number(limited.headers.get("x-rate-limit-reset"));
      // A Unix time in seconds, in the next minute.
      expect(reset).toBeGreaterThan(Date.now() / 1000);
      expect(reset).toBeLessThanOrEqual(Date.now() / 1000 + 61);
      expect(limited.headers.get("x-rate-limit-remaining")).toBe("0");
    } finally {
      sandbox.world.setRateLimit("okta", null);
    }
  });

  it("keeps the Everyone group and its members as they are, and membership writes idempotent", async () => {
    const groups = (await okta("GET", "/api/v1/groups")).body;
    const everyone = groups[0];
    const user = (await okta("GET", "/api/v1/users?limit=1")).body[0];
    expect((await okta("DELETE", `/api/v1/groups/${everyone.id}/users/${user.id}`)).status).toBe(403);
    const created = await okta("POST", "/api/v1/groups", { profile: { name: "Spec check", description: "d" } });
    expect(specs.okta("/api/v1/groups", "post", 200, created.body)).toEqual([]);
    const gid = created.body.id;
    expect((await okta("PUT", `/api/v1/groups/${gid}/users/${user.id}`)).status).toBe(204);
    expect((await okta("PUT", `/api/v1/groups/${gid}/users/${user.id}`)).status).toBe(204);
    expect((await okta("GET", `/api/v1/groups/${gid}/users`)).body.map((u: { id: string }) => u.id)).toEqual([user.id]);
    const renamed = await okta("PUT", `/api/v1/groups/${gid}`, { profile: { name: "Spec check 2" } });
    expect(specs.okta("/api/v1/groups/{groupId}", "put", 200, renamed.body)).toEqual([]);
    expect((await okta("DELETE", `/api/v1/groups/${gid}/users/${user.id}`)).status).toBe(204);
    expect((await okta("DELETE", `/api/v1/groups/${gid}`)).status).toBe(204);
    expect((await okta("GET", `/api/v1/groups/${gid}`)).status).toBe(404);
  });
});
