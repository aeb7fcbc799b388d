import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GRAPH_SCOPE } from "../src/entra/index.ts";
import { type RunningSandbox, startSandbox } from "../src/server.ts";
import { vendorSpecs } from "./spec.ts";

describe("the Entra ID simulator follows Microsoft Graph's document and its quirks", () => {
  let sandbox: RunningSandbox;
  const specs = vendorSpecs();
  let token = "";
  beforeAll(async () => {
    sandbox = await startSandbox({
      tenants: [
        { name: "acme", users: 260 },
        { name: "globex", users: 5 },
      ],
    });
  });
  afterAll(() => sandbox.close());
  const app = () => sandbox.entra.appOf("acme");
  const tokenRequest = (form: Record<string, string>, tenantId = app().tenantId, headers: Record<string, string> = {}) =>
    fetch(`${sandbox.baseUrl("entra")}/${tenantId}/oauth2/v2.0/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
      body: new URLSearchParams(form),
    });
  const graph = async (method: string, pathOrUrl: string, body?: unknown) => {
    const res = await fetch(pathOrUrl.startsWith("http") ? pathOrUrl : `${sandbox.baseUrl("entra")}/v1.0${pathOrUrl}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
  };
  const valid = (path: string, method: string, reply: { status: number; body: unknown }) =>
    expect(specs.graph(path, method, reply.status, reply.body)).toEqual([]);

  it("issues client-credentials tokens for the tenant's app, the secret in the body or as Basic, and refuses the rest", async () => {
    const form = { grant_type: "client_credentials", client_id: app().clientId, client_secret: app().clientSecret, scope: GRAPH_SCOPE };
    const ok = await tokenRequest(form);
    expect(ok.status).toBe(200);
    const issued = (await ok.json()) as { access_token: string; expires_in: number; token_type: string };
    expect(issued).toMatchObject({ token_type: "Bearer", expires_in: 3599 });
    token = issued.access_token;
    const basic = Buffer.from(`${app().clientId}:${app().clientSecret}`).toString("base64");
    expect(
      (await tokenRequest({ grant_type: "client_credentials", scope: GRAPH_SCOPE }, undefined, { authorization: `Basic ${basic}` })).status,
    ).toBe(200);
    const wrongSecret = await tokenRequest({ ...form, client_secret: "nope" });
    expect(wrongSecret.status).toBe(401);
    expect(await wrongSecret.json()).toMatchObject({ error: "invalid_client", error_codes: [7000215] });
    // Another tenant's app is not in this directory; a scope without /.default is refused.
    expect((await tokenRequest({ ...form, client_id: sandbox.entra.appOf("globex").clientId })).status).toBe(400);
    expect((await tokenRequest({ ...form, scope: "User.Read.All" })).status).toBe(400);
    expect((await tokenRequest(form, "00000000-0000-0000-0000-000000000000")).status).toBe(400);
    const noToken = await fetch(`${sandbox.baseUrl("entra")}/v1.0/users`);
    expect(noToken.status).toBe(401);
    expect(specs.graph("/users", "get", 401, await noToken.json())).toEqual([]);
  });

  it("pages users by @odata.nextLink within $top 1–999, answers the default properties unless $select names others", async () => {
    const tooBig = await graph("GET", "/users?$top=1000");
    expect(tooBig.status).toBe(400);
    valid("/users", "get", tooBig);
    expect(tooBig.body.error.code).toBe("Request_UnsupportedQuery");
    const first = await graph("GET", "/users");
    valid("/users", "get", first);
    // 100 without $top; only the default set of properties, no accountEnabled.
    expect(first.body.value).toHaveLength(100);
    expect(Object.keys(first.body.value[0]).sort()).toEqual(
      [
        "businessPhones",
        "displayName",
        "givenName",
        "id",
        "jobTitle",
        "mail",
        "mobilePhone",
        "officeLocation",
        "preferredLanguage",
        "surname",
        "userPrincipalName",
      ].sort(),
    );
    const ids: string[] = [];
    let next: string | undefined =
      `${sandbox.baseUrl("entra")}/v1.0/users?$top=120&$select=id,accountEnabled,department&$expand=manager($select=id)`;
    while (next) {
      const page = await graph("GET", next);
      valid("/users", "get", page);
      ids.push(...page.body.value.map((u: { id: string }) => u.id));
      // The link keeps the query: every page has the selected properties.
      expect(Object.keys(page.body.value[0])).toEqual(expect.arrayContaining(["id", "accountEnabled", "department"]));
      next = page.body["@odata.nextLink"];
    }
    expect(ids).toEqual(
      sandbox.entra
        .tenant("acme")
        .users.all()
        .map((u) => u.id),
    );
    const unknown = await graph("GET", "/users?$select=id,favouriteColour");
    expect(unknown.status).toBe(400);
    const expired = await graph("GET", "/users?$skiptoken=not-a-token");
    expect(expired.status).toBe(400);
    expect(expired.body.error.code).toBe("Directory_InvalidSkipToken");
  });

  it("answers a user, groups, members, the organization, and a missing object in the document's shapes", async () => {
    const user = sandbox.entra.tenant("acme").users.all()[4]!;
    valid("/users/{user-id}", "get", await graph("GET", `/users/${user.id}?$select=id,displayName,accountEnabled`));
    const missing = await graph("GET", "/users/00000000-0000-0000-0000-000000000000");
    expect(missing.status).toBe(404);
    valid("/users/{user-id}", "get", missing);
    const groups = await graph("GET", "/groups?$top=3");
    valid("/groups", "get", groups);
    const group = groups.body.value[0];
    valid("/groups/{group-id}", "get", await graph("GET", `/groups/${group.id}`));
    const members = await graph("GET", `/groups/${group.id}/members?$top=5`);
    valid("/groups/{group-id}/members", "get", members);
    expect(members.body.value[0]["@odata.type"]).toBe("#microsoft.graph.user");
    valid(
      "/groups/{group-id}/members",
      "get",
      await graph("GET", `/groups/${group.id}/members/microsoft.graph.user?$select=id,displayName`),
    );
    const organization = await graph("GET", "/organization");
    valid("/organization", "get", organization);
    expect(organization.body.value).toHaveLength(1);
    valid("/organization/{organization-id}", "get", await graph("GET", `/organization/${organization.body.value[0].id}`));
  });

  it("writes as Graph does: 201 with the created object, 204 for PATCH, DELETE and references", async () => {
    const made = await graph("POST", "/groups", {
      displayName: "Night Shift",
      mailEnabled: false,
      mailNickname: "nightshift",
      securityEnabled: true,
    });
    expect(made.status).toBe(201);
    valid("/groups", "post", made);
    const incomplete = await graph("POST", "/groups", { displayName: "No Nickname", mailEnabled: false, securityEnabled: true });
    expect(incomplete.status).toBe(400);
    valid("/groups", "post", incomplete);
    expect((await graph("PATCH", `/groups/${made.body.id}`, { description: "On call" })).status).toBe(204);
    const user = sandbox.entra.tenant("acme").users.all()[7]!;
    const ref = { "@odata.id": `https://graph.microsoft.com/v1.0/directoryObjects/${user.id}` };
    expect((await graph("POST", `/groups/${made.body.id}/members/$ref`, ref)).status).toBe(204);
    const twice = await graph("POST", `/groups/${made.body.id}/members/$ref`, ref);
    expect(twice.status).toBe(400);
    valid("/groups/{group-id}/members/$ref", "post", twice);
    expect((await graph("DELETE", `/groups/${made.body.id}/members/${user.id}/$ref`)).status).toBe(204);
    // A user needs a password to be created.
    const noPassword = await graph("POST", "/users", {
      accountEnabled: true,
      displayName: "Ada",
      mailNickname: "ada",
      userPrincipalName: "ada@acme.example.com",
    });
    expect(noPassword.status).toBe(400);
    valid("/users", "post", noPassword);
    const created = await graph("POST", "/users", {
      accountEnabled: true,
      displayName: "Ada",
      mailNickname: "ada",
      userPrincipalName: "ada@acme.example.com",
      passwordProfile: { forceChangePasswordNextSignIn: true, password: "xWwvJ]6NMw+bWH-d" },
    });
    expect(created.status).toBe(201);
    valid("/users", "post", created);
    expect((await graph("PATCH", `/users/${created.body.id}`, { jobTitle: "Countess", accountEnabled: false })).status).toBe(204);
    expect((await graph("PATCH", `/users/${created.body.id}`, { id: "x" })).status).toBe(400);
    expect((await graph("DELETE", `/users/${created.body.id}`)).status).toBe(204);
    expect((await graph("DELETE", `/groups/${made.body.id}`)).status).toBe(204);
  });

  it("answers delta rounds: everything first, then only what changed, the deleted as @removed, members as members@delta", async () => {
    const state = sandbox.entra.tenant("globex");
    const globex = sandbox.entra.appOf("globex");
    const issued = await tokenRequest(
      { grant_type: "client_credentials", client_id: globex.clientId, client_secret: globex.clientSecret, scope: GRAPH_SCOPE },
      globex.tenantId,
    );
    token = ((await issued.json()) as { access_token: string }).access_token;
    const round = async (url: string) => {
      const value: any[] = [];
      for (let next = url; ;) {
        const page = await graph("GET", next);
        expect(page.status).toBe(200);
        valid(url.includes("/groups/") ? "/groups/microsoft.graph.delta()" : "/users/microsoft.graph.delta()", "get", page);
        value.push(...page.body.value);
        if (page.body["@odata.deltaLink"]) return { value, deltaLink: page.body["@odata.deltaLink"] as string };
        next = page.body["@odata.nextLink"] as string;
      }
    };
    const users = await round(`${sandbox.baseUrl("entra")}/v1.0/users/delta?$select=id,displayName,accountEnabled`);
    expect(users.value.map((u) => u.id)).toEqual(state.users.all().map((u) => u.id));
    const groups = await round(`${sandbox.baseUrl("entra")}/v1.0/groups/delta?$select=displayName,members`);
    const [first] = groups.value;
    expect(first["members@delta"].map((m: { id: string }) => m.id)).toEqual([...state.members.get(first.id)!]);

    const managerOf = new Map(state.users.all().map((u) => [u.id, u.managerId]));
    const applied = sandbox.changeUsers("entra", "globex", { add: 1, update: 1, deactivate: 1, delete: 1 });
    // A deleted manager's reports lose their manager: changed as well.
    const reports = [...managerOf].filter(([, manager]) => manager === applied.deleted[0]).map(([id]) => id);
    const changed = await round(users.deltaLink);
    expect(changed.value.map((u) => u.id).sort()).toEqual(
      [...new Set([...applied.added, ...applied.updated, ...applied.deactivated, ...applied.deleted, ...reports])].sort(),
    );
    expect(changed.value.find((u) => u.id === applied.deleted[0])).toEqual({
      "@odata.type": "#microsoft.graph.user",
      id: applied.deleted[0],
      "@removed": { reason: "changed" },
    });
    expect(changed.value.find((u) => u.id === applied.deactivated[0])).toMatchObject({ accountEnabled: false });
    // Nothing changed since: an empty round, with a new delta link.
    const quiet = await round(changed.deltaLink);
    expect(quiet.value).toEqual([]);
    // A member removed shows in the next groups round as members@delta with @removed.
    const before = groups.value.find((g) => state.members.get(g.id)!.size > 0)!;
    const member = [...state.members.get(before.id)!][0]!;
    expect((await graph("DELETE", `/groups/${before.id}/members/${member}/$ref`)).status).toBe(204);
    const memberRound = await round(groups.deltaLink);
    expect(memberRound.value.find((g) => g.id === before.id)["members@delta"]).toContainEqual({
      "@odata.type": "#microsoft.graph.user",
      id: member,
      "@removed": { reason: "deleted" },
    });
  });

  it("throttles with Retry-After in seconds, in Graph's error body", async () => {
    sandbox.world.setRateLimit("entra", 2);
    try {
      let reply = await graph("GET", "/users?$top=1");
      for (let i = 0; i < 3 && reply.status !== 429; i++) reply = await graph("GET", "/users?$top=1");
      expect(reply.status).toBe(429);
      expect(Number(reply.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(reply.body.error.code).toBe("TooManyRequests");
      valid("/users", "get", reply);
    } finally {
      sandbox.world.setRateLimit("entra", null);
    }
  });
});
