import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Gateway, listedEvents, startGateway } from "./harness.ts";

/*
 * The SCIM 2.0 service identity providers push into, over real HTTP on loopback with a real
 * Postgres: the requests Okta and Microsoft Entra ID send (their providers' documents, summarised in docs/scim.md),
 * RFC 7644's answers, and what the unified side sees of it (the copy and the event log).
 */

let gw: Gateway;
beforeAll(async () => {
  gw = await startGateway();
}, 60_000);
afterAll(() => gw?.close());

const USER = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

interface Pushed {
  id: string;
  baseUrl: string;
  token: string;
}

async function pushConnection(tenant = "acme"): Promise<Pushed> {
  const made = await gw.call("POST", "/connections", { body: { tenant_id: tenant, integration: "scim", name: "Okta" } });
  expect(made.status).toBe(201);
  return { id: made.body.id, baseUrl: made.body.scim.base_url, token: made.body.scim.token };
}

async function scim(to: Pushed, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${to.baseUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${to.token}`,
      ...(body !== undefined && { "content-type": "application/scim+json" }),
      ...headers,
    },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

const filter = (text: string) => `filter=${encodeURIComponent(text)}`;

async function eventsOf(connectionId: string) {
  const listed = await listedEvents(gw, connectionId);
  // The provider's first call announces the connection live; the records' own events follow.
  return listed.filter((e) => e.type !== "connection.activated");
}

describe("a directory that pushes over SCIM", () => {
  it("is listed among the integrations as a directory that pushes", async () => {
    const listed = await gw.call("GET", "/integrations");
    expect(listed.body.result.find((i: { slug: string }) => i.slug === "scim")).toMatchObject({
      direction: "push",
      default_base_url: null,
      credential_fields: [],
      resources: { users: ["list", "get"], groups: ["list", "get"], group_members: ["list", "get"] },
    });
    expect(listed.body.result.find((i: { slug: string }) => i.slug === "jumpcloud").direction).toBe("pull");
  });

  it("answers the SCIM base URL and a token once, and keeps only the token's hash", async () => {
    const made = await gw.call("POST", "/connections", { body: { tenant_id: "acme", integration: "scim" } });
    expect(made.status).toBe(201);
    expect(made.body.scim.base_url).toBe(`${gw.url}/scim/v2/${made.body.id}`);
    expect(made.body.scim.token).toMatch(/^scim_[A-Za-z0-9_-]{40,}$/);
    const again = await gw.call("GET", `/connections/${made.body.id}`);
    expect(again.text).not.toContain(made.body.scim.token);
    const rows = await gw.services.platform.store.db.execute(`select token_hash from scim_tokens where connection_id = '${made.body.id}'`);
    expect(JSON.stringify(rows)).not.toContain(made.body.scim.token);
  });

  it("runs Okta's assign, import, update, deactivate and reactivate, and announces each change once", async () => {
    const okta = await pushConnection();
    const lookup = await scim(okta, "GET", `/Users?${filter('userName eq "jane.doe@acme.example.com"')}&startIndex=1&count=100`);
    expect(lookup.status).toBe(200);
    expect(lookup.headers.get("content-type")).toMatch(/^application\/scim\+json/);
    expect(lookup.body).toEqual({
      schemas: ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
      totalResults: 0,
      startIndex: 1,
      itemsPerPage: 0,
      Resources: [],
    });

    const created = await scim(okta, "POST", "/Users", {
      schemas: [USER],
      userName: "jane.doe@acme.example.com",
      name: { givenName: "Jane", familyName: "Doe" },
      emails: [{ primary: true, value: "jane.doe@acme.example.com", type: "work" }],
      displayName: "Jane Doe",
      locale: "en-US",
      externalId: "00u1abcd",
      groups: [],
      password: "Sup3r-secret!",
      active: true,
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    expect(created.headers.get("location")).toBe(`${okta.baseUrl}/Users/${id}`);
    expect(created.body).toMatchObject({
      userName: "jane.doe@acme.example.com",
      active: true,
      meta: { resourceType: "User", version: 'W/"1"' },
    });
    expect(created.body.password).toBeUndefined();
    expect(created.headers.get("etag")).toBe('W/"1"');

    // Okta may change the case of a login: the lookup and the uniqueness ignore case.
    const found = await scim(okta, "GET", `/Users?${filter('userName eq "JANE.DOE@acme.example.com"')}`);
    expect(found.body.totalResults).toBe(1);
    const clash = await scim(okta, "POST", "/Users", { schemas: [USER], userName: "Jane.Doe@ACME.example.com" });
    expect(clash.status).toBe(409);
    expect(clash.body).toMatchObject({ schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"], scimType: "uniqueness", status: "409" });

    // Catalogue apps: GET, then PUT of the whole resource (left-out attributes are cleared).
    const current = await scim(okta, "GET", `/Users/${id}`);
    const put = await scim(okta, "PUT", `/Users/${id}`, { ...current.body, title: "Engineer", locale: undefined });
    expect(put.status).toBe(200);
    expect(put.body.title).toBe("Engineer");
    expect(put.body.locale).toBeUndefined();
    expect(put.body.meta.version).toBe('W/"2"');

    const off = { schemas: [PATCH_OP], Operations: [{ op: "replace", value: { active: false } }] };
    expect((await scim(okta, "PATCH", `/Users/${id}`, off)).body.active).toBe(false);
    // The same deactivation again changes nothing and announces nothing.
    expect((await scim(okta, "PATCH", `/Users/${id}`, off)).body.meta.version).toBe('W/"3"');
    // A deactivated user stays readable, in SCIM and in the copy.
    expect((await scim(okta, "GET", `/Users/${id}`)).body.active).toBe(false);
    const on = { schemas: [PATCH_OP], Operations: [{ op: "replace", value: { active: true } }] };
    expect((await scim(okta, "PATCH", `/Users/${id}`, on)).body.active).toBe(true);

    const everything = await gw.call("GET", `/events?connection_id=${okta.id}&limit=500`);
    expect(everything.body.result[0]).toMatchObject({ type: "connection.activated", data: { connection_id: okta.id } });
    expect(everything.body.result.filter((e: { type: string }) => e.type === "connection.activated")).toHaveLength(1);
    const types = (await eventsOf(okta.id)).map((e) => `${e.type}@${e.version}`);
    expect(types).toEqual(["user.created@1", "user.updated@2", "user.deactivated@3", "user.reactivated@4"]);
    const updated = (await eventsOf(okta.id)).find((e) => e.type === "user.updated")!;
    expect(updated.data.changed_fields).toEqual(["title", "updated_at"]);

    const copy = await gw.call("GET", `/unified/records/users?connection_id=${okta.id}`);
    expect(copy.body.result).toHaveLength(1);
    expect(copy.body.result[0].data).toMatchObject({
      id,
      username: "jane.doe@acme.example.com",
      first_name: "Jane",
      status: "active",
      title: "Engineer",
    });
  });

  it("runs Entra's create, capitalised Replace ops, string booleans, manager and clearing", async () => {
    const entra = await pushConnection();
    const manager = await scim(entra, "POST", "/Users", { schemas: [USER], userName: "boss@contoso.example", active: true });
    const created = await scim(entra, "POST", "/Users", {
      schemas: [USER, ENTERPRISE],
      externalId: "8f3c9d2e",
      userName: "Test_User_1@contoso.example",
      active: true,
      emails: [{ primary: true, type: "work", value: "Test_User_1@contoso.example" }],
      meta: { resourceType: "User" },
      name: { formatted: "Test User", familyName: "User", givenName: "Test" },
      roles: [],
      [ENTERPRISE]: { department: "Research", employeeNumber: "E-1" },
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    // The matching attribute answers 200 and a ListResponse, never a 404.
    for (const text of [
      'userName eq "test_user_1@contoso.example"',
      'externalId eq "8f3c9d2e"',
      'emails[type eq "work"].value eq "Test_User_1@contoso.example"',
    ]) {
      const found = await scim(entra, "GET", `/Users?${filter(text)}`);
      expect(found.status, text).toBe(200);
      expect(
        found.body.Resources.map((r: { id: string }) => r.id),
        text,
      ).toEqual([id]);
    }
    const patch = (Operations: unknown[]) => scim(entra, "PATCH", `/Users/${id}`, { schemas: [PATCH_OP], Operations });
    let now = await patch([
      { op: "Replace", path: 'emails[type eq "work"].value', value: "renamed@contoso.example" },
      { op: "Replace", path: "name.familyName", value: "Renamed" },
      { op: "Add", path: `${ENTERPRISE}:manager`, value: manager.body.id },
    ]);
    expect(now.status).toBe(200);
    expect(now.body.emails).toEqual([{ primary: true, type: "work", value: "renamed@contoso.example" }]);
    expect(now.body[ENTERPRISE].manager).toEqual({ value: manager.body.id });
    now = await patch([{ op: "Replace", path: "active", value: "False" }]);
    expect(now.body.active).toBe(false);
    now = await patch([
      { op: "Replace", path: `${ENTERPRISE}:department`, value: "" },
      { op: "Replace", path: "name.familyName", value: null },
    ]);
    expect(now.body[ENTERPRISE].department).toBeUndefined();
    expect(now.body.name.familyName).toBeUndefined();

    const copy = await gw.call("GET", `/unified/records/users?connection_id=${entra.id}`);
    const unified = copy.body.result.find((r: { id: string }) => r.id === id).data;
    expect(unified).toMatchObject({
      status: "inactive",
      manager_id: manager.body.id,
      department: null,
      last_name: null,
      employee_number: "E-1",
    });
    const types = (await eventsOf(entra.id)).map((e) => e.type);
    expect(types).toEqual(["user.created", "user.created", "user.updated", "user.deactivated", "user.updated"]);

    expect((await scim(entra, "DELETE", `/Users/${id}`)).status).toBe(204);
    expect((await scim(entra, "GET", `/Users/${id}`)).status).toBe(404);
    expect((await eventsOf(entra.id)).at(-1)?.type).toBe("user.deleted");
  });

  it("keeps groups and their members, Okta's and Entra's ways, with a membership event each", async () => {
    const idp = await pushConnection();
    const users = [];
    for (const name of ["ann", "bob", "cy"])
      users.push((await scim(idp, "POST", "/Users", { schemas: [USER], userName: `${name}@acme.example.com` })).body);
    const group = await scim(idp, "POST", "/Groups", { schemas: [GROUP], displayName: "Engineering", members: [] });
    expect(group.status).toBe(201);
    const gid = group.body.id as string;
    const patch = (Operations: unknown[]) => scim(idp, "PATCH", `/Groups/${gid}`, { schemas: [PATCH_OP], Operations });
    // Okta: one add op with several members; then a removal by filter; then a rename with {id, displayName}.
    await patch([{ op: "add", path: "members", value: users.map((u) => ({ value: u.id, display: u.userName })) }]);
    await patch([{ op: "remove", path: `members[value eq "${users[0].id}"]` }]);
    const renamed = await patch([{ op: "replace", value: { id: gid, displayName: "Engineers" } }]);
    expect(renamed.body.displayName).toBe("Engineers");
    // Entra: members removed by a value array.
    await patch([{ op: "Remove", path: "members", value: [{ value: users[1].id }] }]);
    const now = await scim(idp, "GET", `/Groups/${gid}`);
    expect(now.body.members.map((m: { value: string }) => m.value)).toEqual([users[2].id]);
    const lean = await scim(idp, "GET", `/Groups?excludedAttributes=members&${filter('displayName eq "engineers"')}`);
    expect(lean.body.Resources).toHaveLength(1);
    expect(lean.body.Resources[0].members).toBeUndefined();
    // Group names are unique per directory, ignoring case.
    expect((await scim(idp, "POST", "/Groups", { schemas: [GROUP], displayName: "ENGINEERS" })).body.scimType).toBe("uniqueness");

    const events = (await eventsOf(idp.id)).filter((e) => e.type.startsWith("group"));
    expect(events.map((e) => e.type)).toEqual([
      "group.created",
      "group.updated",
      "group_member.added",
      "group_member.added",
      "group_member.added",
      "group.updated",
      "group_member.removed",
      "group.updated",
      "group.updated",
      "group_member.removed",
    ]);
    const members = await gw.call("GET", `/unified/records/group_members?connection_id=${idp.id}`);
    const live = members.body.result.filter((r: { deleted_at: string | null }) => r.deleted_at === null);
    expect(live.map((r: { data: unknown }) => r.data)).toEqual([{ group_id: gid, user_id: users[2].id, name: "cy@acme.example.com" }]);

    expect((await scim(idp, "DELETE", `/Groups/${gid}`)).status).toBe(204);
    const after = (await eventsOf(idp.id)).slice(-2).map((e) => e.type);
    expect(after.sort()).toEqual(["group.deleted", "group_member.removed"]);
  });

  it("takes a deleted user out of its groups, announcing each membership's end", async () => {
    const idp = await pushConnection();
    const ann = (await scim(idp, "POST", "/Users", { schemas: [USER], userName: "ann@acme.example.com" })).body;
    const bob = (await scim(idp, "POST", "/Users", { schemas: [USER], userName: "bob@acme.example.com" })).body;
    const groups = [];
    for (const displayName of ["One", "Two"])
      groups.push(
        (await scim(idp, "POST", "/Groups", { schemas: [GROUP], displayName, members: [{ value: ann.id }, { value: bob.id }] })).body,
      );
    expect((await scim(idp, "DELETE", `/Users/${ann.id}`)).status).toBe(204);
    for (const group of groups) {
      const now = await scim(idp, "GET", `/Groups/${group.id}`);
      expect(now.body.members).toEqual([{ value: bob.id }]);
    }
    const tail = (await eventsOf(idp.id)).slice(-5);
    expect(tail.map((e) => e.type).sort()).toEqual([
      "group.updated",
      "group.updated",
      "group_member.removed",
      "group_member.removed",
      "user.deleted",
    ]);
    const members = await gw.call("GET", `/unified/records/group_members?connection_id=${idp.id}`);
    const live = members.body.result.filter((r: { deleted_at: string | null }) => r.deleted_at === null);
    expect(live.map((r: { data: { user_id: string } }) => r.data.user_id)).toEqual([bob.id, bob.id]);
  });

  it("announces nothing for a PUT of what is stored, nor for a change the unified model does not hold", async () => {
    const idp = await pushConnection();
    const made = await scim(idp, "POST", "/Users", {
      schemas: [USER],
      userName: "same@acme.example.com",
      name: { givenName: "Same", familyName: "Person" },
    });
    const current = (await scim(idp, "GET", `/Users/${made.body.id}`)).body;
    const put = await scim(idp, "PUT", `/Users/${made.body.id}`, current);
    expect(put.body.meta.version).toBe('W/"1"');
    const locale = await scim(idp, "PATCH", `/Users/${made.body.id}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: "add", path: "locale", value: "de-DE" }],
    });
    expect(locale.body.meta.version).toBe('W/"2"');
    expect((await eventsOf(idp.id)).map((e) => e.type)).toEqual(["user.created"]);
  });

  it("pages with startIndex and count in a stable order, and echoes startIndex", async () => {
    const idp = await pushConnection();
    for (let i = 0; i < 12; i++) await scim(idp, "POST", "/Users", { schemas: [USER], userName: `page${i}@acme.example.com` });
    const seen: string[] = [];
    for (let page = 0; page < 3; page++) {
      const answer = await scim(idp, "GET", `/Users?startIndex=${page * 5 + 1}&count=5`);
      expect(answer.body).toMatchObject({ totalResults: 12, startIndex: page * 5 + 1, itemsPerPage: page < 2 ? 5 : 2 });
      seen.push(...answer.body.Resources.map((r: { userName: string }) => r.userName));
    }
    expect(seen).toEqual(Array.from({ length: 12 }, (_, i) => `page${i}@acme.example.com`));
    const counted = await scim(idp, "GET", "/Users?count=0");
    expect(counted.body).toMatchObject({ totalResults: 12, itemsPerPage: 0, Resources: [] });
  });

  it("logs every request for the admin to debug with: status, scimType, the resource, no query, body or token", async () => {
    const idp = await pushConnection();
    const made = await scim(idp, "POST", "/Users", { schemas: [USER], userName: "logged@acme.example.com" });
    await scim(idp, "POST", "/Users", { schemas: [USER], userName: "LOGGED@acme.example.com" });
    await scim(idp, "GET", `/Users?${filter('userName eq "logged@acme.example.com"')}`);
    await scim(idp, "PATCH", `/Users/${made.body.id}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: "replace", path: "active", value: "maybe" }],
    });
    await scim({ ...idp, token: "scim_wrong" }, "GET", "/Groups");
    const log = await gw.call("GET", `/connections/${idp.id}/scim-requests?limit=10`);
    expect(log.status).toBe(200);
    const rows = log.body.result.map(({ at: _at, latency_ms: _ms, ...row }: Record<string, unknown>) => row);
    expect(rows).toEqual([
      { method: "GET", path: "/Groups", status: 401, scim_type: null, detail: expect.stringMatching(/bearer token/), resource_id: null },
      {
        method: "PATCH",
        path: `/Users/${made.body.id}`,
        status: 400,
        scim_type: "invalidValue",
        detail: expect.any(String),
        resource_id: made.body.id,
      },
      { method: "GET", path: "/Users", status: 200, scim_type: null, detail: null, resource_id: null },
      {
        method: "POST",
        path: "/Users",
        status: 409,
        scim_type: "uniqueness",
        detail: expect.stringMatching(/userName/),
        resource_id: null,
      },
      { method: "POST", path: "/Users", status: 201, scim_type: null, detail: null, resource_id: made.body.id },
    ]);
    expect(log.text).not.toContain(idp.token);
    expect(log.text).not.toContain("logged@acme");
    const next = await gw.call("GET", `/connections/${idp.id}/scim-requests?limit=2`);
    expect(next.body.result).toHaveLength(2);
    const rest = await gw.call("GET", `/connections/${idp.id}/scim-requests?limit=10&cursor=${encodeURIComponent(next.body.next_cursor)}`);
    expect(rest.body.result.map((r: { status: number }) => r.status)).toEqual([200, 409, 201]);
  });

  it("serves its discovery documents, the Group schema included", async () => {
    const idp = await pushConnection();
    const config = await scim(idp, "GET", "/ServiceProviderConfig");
    expect(config.body).toMatchObject({
      patch: { supported: true },
      filter: { supported: true },
      bulk: { supported: false },
      etag: { supported: true },
    });
    const schemas = await scim(idp, "GET", "/Schemas");
    expect(schemas.body.Resources.map((s: { id: string }) => s.id)).toEqual([USER, ENTERPRISE, GROUP]);
    const types = await scim(idp, "GET", "/ResourceTypes");
    expect(types.body.Resources.map((t: { endpoint: string }) => t.endpoint)).toEqual(["/Users", "/Groups"]);
    expect((await scim(idp, "GET", `/Schemas/${GROUP}`)).body.attributes.map((a: { name: string }) => a.name)).toContain("members");
  });
});

describe("a pushed directory through the unified API", () => {
  it("lists users, groups and members from what was pushed, with filters, cursors and remote_data", async () => {
    const idp = await pushConnection();
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const made = await scim(idp, "POST", "/Users", {
        schemas: [USER],
        userName: `u${i}@acme.example.com`,
        emails: [{ value: `U${i}@Mail.example.com`, type: "work", primary: true }],
        active: i !== 3,
      });
      ids.push(made.body.id);
    }
    const group = await scim(idp, "POST", "/Groups", {
      schemas: [GROUP],
      displayName: "Team",
      members: ids.slice(0, 3).map((value) => ({ value })),
    });
    const base = `/unified/user-directory`;
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await gw.call(
        "GET",
        `${base}/users?connection_id=${idp.id}&limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
      );
      expect(page.status).toBe(200);
      seen.push(...page.body.result.map((u: { id: string }) => u.id));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(seen.sort()).toEqual([...ids].sort());
    const inactive = await gw.call("GET", `${base}/users?connection_id=${idp.id}&status=inactive`);
    expect(inactive.body.result.map((u: { id: string }) => u.id)).toEqual([ids[3]]);
    const byEmail = await gw.call("GET", `${base}/users?connection_id=${idp.id}&email=u5@mail.example.com`);
    expect(byEmail.body.result.map((u: { username: string }) => u.username)).toEqual(["u5@acme.example.com"]);
    const byName = await gw.call("GET", `${base}/users?connection_id=${idp.id}&username=U6@ACME.example.com`);
    expect(byName.body.result).toHaveLength(1);
    expect(byName.body.result[0].remote_data).toMatchObject({
      id: ids[6],
      userName: "u6@acme.example.com",
      meta: { resourceType: "User" },
    });
    const one = await gw.call("GET", `${base}/users/${ids[0]}?connection_id=${idp.id}&remote_data=false`);
    expect(one.body).toMatchObject({ id: ids[0], username: "u0@acme.example.com", status: "active" });
    expect(one.body.remote_data).toBeUndefined();
    const groups = await gw.call("GET", `${base}/groups?connection_id=${idp.id}`);
    expect(groups.body.result).toMatchObject([{ id: group.body.id, name: "Team", member_count: 3 }]);
    const members = await gw.call("GET", `${base}/groups/${group.body.id}/members?connection_id=${idp.id}`);
    expect(members.body.result.map((m: { user_id: string }) => m.user_id).sort()).toEqual(ids.slice(0, 3).sort());
    expect(members.body.result[0].remote_data).toHaveProperty("value");
    const unsupported = await gw.call("GET", `${base}/users?connection_id=${idp.id}&updated_after=2026-01-01T00:00:00Z`);
    expect(unsupported.status).toBe(400);
    expect(unsupported.body.error.code).toBe("filter_not_supported");
    expect((await gw.call("GET", `${base}/me?connection_id=${idp.id}`)).status).toBe(404);
    // Another tenant's key sees nothing of it.
    const other = await gw.call("POST", "/api-keys", { body: { name: "globex", scope: "api", tenant_id: "globex" } });
    expect((await gw.call("GET", `${base}/users?connection_id=${idp.id}`, { key: other.body.secret })).status).toBe(404);
  });
});

describe("the SCIM service refuses", () => {
  it("requests past a push connection's budget with a SCIM 429 and Retry-After, leaving other connections alone", async () => {
    const limited = await startGateway({ scimLimit: { requests: 3, per_seconds: 60 } });
    try {
      const make = async () => {
        const made = await limited.call("POST", "/connections", { body: { tenant_id: "acme", integration: "scim" } });
        return { id: made.body.id, baseUrl: made.body.scim.base_url, token: made.body.scim.token } as Pushed;
      };
      const [a, b] = [await make(), await make()];
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await scim(a, "GET", "/Users")).status);
      expect(statuses).toEqual([200, 200, 200, 429]);
      const refused = await scim(a, "GET", "/Users");
      expect(refused.body).toMatchObject({ schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"], status: "429" });
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
      expect((await scim(b, "GET", "/Users")).status).toBe(200);
    } finally {
      await limited.close();
    }
  });

  it("a missing, wrong or other connection's token with a SCIM 401, and a rotated-out one after its overlap", async () => {
    const a = await pushConnection();
    const b = await pushConnection("globex");
    for (const token of ["", "scim_nope", b.token]) {
      const answer = await scim({ ...a, token }, "GET", "/Users");
      expect(answer.status, token).toBe(401);
      expect(answer.body).toMatchObject({ schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"], status: "401" });
    }
    const rotated = await gw.call("POST", `/connections/${a.id}/scim-token`, { body: { overlap_seconds: 0 } });
    expect(rotated.status).toBe(201);
    expect((await scim(a, "GET", "/Users")).status).toBe(401);
    expect((await scim({ ...a, token: rotated.body.token }, "GET", "/Users")).status).toBe(200);
    const overlapping = await gw.call("POST", `/connections/${a.id}/scim-token`, { body: { overlap_seconds: 600 } });
    expect((await scim({ ...a, token: rotated.body.token }, "GET", "/Users")).status).toBe(200);
    expect((await scim({ ...a, token: overlapping.body.token }, "GET", "/Users")).status).toBe(200);
    await gw.call("PATCH", `/connections/${a.id}?verify=false`, { body: { status: "disabled" } });
    expect((await scim({ ...a, token: overlapping.body.token }, "GET", "/Users")).status).toBe(401);
  });

  it("bad filters, bodies and values with a 400 and its scimType, and writes nothing", async () => {
    const idp = await pushConnection();
    const cases: [string, string, unknown, string][] = [
      ["GET", `/Users?${filter("userName eq")}`, undefined, "invalidFilter"],
      ["GET", `/Users?${filter('nickName xx "a"')}`, undefined, "invalidFilter"],
      ["GET", `/Users?${filter('shoeSize eq "44"')}`, undefined, "invalidFilter"],
      ["POST", "/Users", "{not json", "invalidSyntax"],
      ["POST", "/Users", { schemas: [USER] }, "invalidValue"],
      ["POST", "/Users", { schemas: [USER], userName: "x@acme.example.com", shoeSize: 44 }, "invalidSyntax"],
      ["POST", "/Users", { schemas: [USER], userName: "y@acme.example.com", active: "maybe" }, "invalidValue"],
    ];
    for (const [method, path, body, scimType] of cases) {
      const answer = await scim(idp, method, path, body);
      expect(answer.status, `${method} ${path}`).toBe(400);
      expect(answer.body, `${method} ${path}`).toMatchObject({ scimType, status: "400" });
    }
    expect((await scim(idp, "GET", "/Users")).body.totalResults).toBe(0);
    expect(await eventsOf(idp.id)).toEqual([]);
  });

  it("unified writes to a pushed directory with a clear 400: its identity provider owns it", async () => {
    const idp = await pushConnection();
    const write = await gw.call("POST", `/unified/user-directory/users?connection_id=${idp.id}`, {
      body: { username: "x@acme.example.com" },
    });
    expect(write.status).toBe(400);
    expect(write.body.error.message).toMatch(/pushed by its identity provider over SCIM/);
    const proxy = await gw.call("GET", `/proxy/Users?connection_id=${idp.id}`);
    expect(proxy.status).toBe(400);
  });

  it("a PATCH or PUT onto a name another resource holds with a 409 uniqueness, and nothing of it kept", async () => {
    const idp = await pushConnection();
    const ann = await scim(idp, "POST", "/Users", { schemas: [USER], userName: "ann@acme.example.com" });
    const bob = await scim(idp, "POST", "/Users", { schemas: [USER], userName: "bob@acme.example.com", title: "Engineer" });
    const rename = await scim(idp, "PATCH", `/Users/${bob.body.id}`, {
      schemas: [PATCH_OP],
      Operations: [
        { op: "replace", path: "title", value: "Manager" },
        { op: "replace", path: "userName", value: "ANN@acme.example.com" },
      ],
    });
    expect(rename.status).toBe(409);
    expect(rename.body.scimType).toBe("uniqueness");
    const put = await scim(idp, "PUT", `/Users/${bob.body.id}`, { schemas: [USER], userName: "Ann@Acme.example.com", title: "Manager" });
    expect(put.status).toBe(409);
    // Bob is as he was, and only the two creations were announced.
    const after = await scim(idp, "GET", `/Users/${bob.body.id}`);
    expect(after.body).toMatchObject({ userName: "bob@acme.example.com", title: "Engineer", meta: { version: 'W/"1"' } });
    expect((await scim(idp, "GET", `/Users/${ann.body.id}`)).body.meta.version).toBe('W/"1"');
    expect((await eventsOf(idp.id)).map((e) => e.type)).toEqual(["user.created", "user.created"]);
  });

  it("two concurrent creates of one userName with exactly one user and one 409", async () => {
    const idp = await pushConnection();
    const body = { schemas: [USER], userName: "race@acme.example.com" };
    const answers = await Promise.all([
      scim(idp, "POST", "/Users", body),
      scim(idp, "POST", "/Users", { ...body, userName: "RACE@acme.example.com" }),
    ]);
    expect(answers.map((a) => a.status).sort()).toEqual([201, 409]);
    expect((await scim(idp, "GET", "/Users")).body.totalResults).toBe(1);
    expect((await eventsOf(idp.id)).map((e) => e.type)).toEqual(["user.created"]);
  });
});
