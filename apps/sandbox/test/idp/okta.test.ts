import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { IdpError, OKTA_USER_AGENT, oktaClient, type OktaProfile } from "../../src/idp/index.ts";
import { type Responder, startResponder, TOKEN } from "./responder.ts";

const USER = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

const jane: OktaProfile = {
  userName: "jane@example.com",
  givenName: "Jane",
  familyName: "Doe",
  email: "jane@example.com",
  displayName: "Jane Doe",
  locale: "en-US",
  externalId: "00u1abcd",
};

describe("the Okta client sends Okta's documented requests", () => {
  let responder: Responder;
  beforeAll(async () => {
    responder = await startResponder();
  });
  afterAll(() => responder.close());
  afterEach(() => responder.reset());

  const okta = (options: { pageSize?: number; concurrency?: number } = {}) =>
    oktaClient({ baseUrl: responder.baseUrl, token: TOKEN, sleep: async () => {}, ...options });
  const sent = () => responder.requests.map((r) => `${r.method} ${r.path}${r.rawQuery ? `?${r.rawQuery}` : ""}`);

  it("assigns a new user: a userName lookup, then a POST in Okta's body shape", async () => {
    const { user, created } = await okta().assignUser({ ...jane, password: "hunter2!" });
    expect(created).toBe(true);
    expect(user.id).toEqual(expect.any(String));
    expect(sent()).toEqual(["GET /Users?filter=userName%20eq%20%22jane%40example.com%22&startIndex=1&count=100", "POST /Users"]);
    expect(responder.requests[0]?.query.get("filter")).toBe('userName eq "jane@example.com"');
    expect(responder.requests[1]?.body).toStrictEqual({
      schemas: [USER],
      userName: "jane@example.com",
      name: { givenName: "Jane", familyName: "Doe" },
      emails: [{ primary: true, value: "jane@example.com", type: "work" }],
      displayName: "Jane Doe",
      locale: "en-US",
      externalId: "00u1abcd",
      groups: [],
      password: "hunter2!",
      active: true,
    });
    for (const request of responder.requests) {
      expect(request.headers.authorization).toBe(`Bearer ${TOKEN}`);
      expect(request.headers["user-agent"]).toBe(OKTA_USER_AGENT);
    }
    expect(responder.requests[1]?.headers["content-type"]).toMatch(/^application\/scim\+json/);
  });

  it("sends no password key when the profile has none", async () => {
    await okta().assignUser(jane);
    expect(responder.requests[1]?.body).not.toHaveProperty("password");
  });

  it("answers a user found by the lookup without creating it", async () => {
    const existing = responder.addUser({ userName: "Jane@Example.com" });
    const { user, created } = await okta().assignUser(jane);
    expect(created).toBe(false);
    expect(user.id).toBe(existing.id);
    expect(sent()).toHaveLength(1);
  });

  it("tolerates a 404 SCIM error from the lookup as 'no such user'", async () => {
    responder.intercept = (r) =>
      r.method === "GET" ? { status: 404, body: { schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"], status: "404" } } : undefined;
    const { created } = await okta().assignUser(jane);
    expect(created).toBe(true);
  });

  it("on a 409 from the POST, looks the user up again and answers the one created meanwhile", async () => {
    let raced = false;
    responder.intercept = (r) => {
      if (r.method === "POST" && !raced) {
        raced = true;
        responder.addUser({ userName: "jane@example.com", id: "u-racer" });
        return { status: 409, body: { schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"], status: "409", scimType: "uniqueness" } };
      }
      return undefined;
    };
    const { user, created } = await okta().assignUser(jane);
    expect(created).toBe(false);
    expect(user.id).toBe("u-racer");
    expect(sent().map((s) => s.split("?")[0])).toEqual(["GET /Users", "POST /Users", "GET /Users"]);
  });

  it("fails clearly when a 409 is not followed by a user the lookup finds", async () => {
    responder.intercept = (r) => (r.method === "POST" ? { status: 409, body: { detail: "exists" } } : undefined);
    await expect(okta().assignUser(jane)).rejects.toMatchObject({
      code: "unexpected_status",
      message: "POST /Users answered 409, expected 201: exists",
    });
  });

  it("assigns users with as many requests in flight as its concurrency", async () => {
    responder.delayMs = 15;
    const profiles = Array.from({ length: 6 }, (_, i) => ({ ...jane, userName: `user${i}@example.com`, email: `user${i}@example.com` }));
    const results = await okta({ concurrency: 3 }).assignUsers(profiles);
    expect(results.map((r) => r.user.userName)).toEqual(profiles.map((p) => p.userName));
    expect(responder.maxInFlight).toBe(3);
    expect(responder.users.size).toBe(6);
  });

  it("imports users page by page from startIndex 1 until totalResults", async () => {
    for (let i = 0; i < 5; i++) responder.addUser({ userName: `user${i}@example.com` });
    const users = await okta({ pageSize: 2 }).importUsers();
    expect(users).toHaveLength(5);
    expect(sent()).toEqual(["GET /Users?startIndex=1&count=2", "GET /Users?startIndex=3&count=2", "GET /Users?startIndex=5&count=2"]);
  });

  it("asks for pages of 100 by default and stops after one page when everything came", async () => {
    for (let i = 0; i < 3; i++) responder.addUser({ userName: `user${i}@example.com` });
    expect(await okta().importUsers()).toHaveLength(3);
    expect(sent()).toEqual(["GET /Users?startIndex=1&count=100"]);
  });

  it("imports groups the same way", async () => {
    const client = okta({ pageSize: 1 });
    await client.pushGroup("Engineering");
    await client.pushGroup("Sales");
    responder.requests.length = 0;
    expect((await client.importGroups()).map((g) => g.displayName)).toEqual(["Engineering", "Sales"]);
    expect(sent()).toEqual(["GET /Groups?startIndex=1&count=1", "GET /Groups?startIndex=2&count=1"]);
  });

  it("detects an id repeated across pages", async () => {
    responder.intercept = (r) => ({
      status: 200,
      body: {
        schemas: ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        totalResults: 4,
        startIndex: Number(r.query.get("startIndex")),
        itemsPerPage: 2,
        Resources: [{ id: "a" }, { id: r.query.get("startIndex") === "1" ? "b" : "a" }],
      },
    });
    const failure = await okta({ pageSize: 2 })
      .importUsers()
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(IdpError);
    expect(failure).toMatchObject({ code: "repeated_id", message: "Users: id a came again at startIndex 3" });
  });

  it("rejects counts that are not integers", async () => {
    responder.intercept = () => ({ status: 200, body: { totalResults: "1", startIndex: 1, itemsPerPage: 1, Resources: [{ id: "a" }] } });
    await expect(okta().importUsers()).rejects.toMatchObject({ code: "invalid_list", message: expect.stringContaining("totalResults") });
  });

  it("stops with an error when a page comes back empty before totalResults", async () => {
    responder.intercept = (r) => ({
      status: 200,
      body: { totalResults: 3, startIndex: Number(r.query.get("startIndex")), itemsPerPage: 0, Resources: [] },
    });
    await expect(okta().importUsers()).rejects.toMatchObject({ code: "short_paging" });
    expect(responder.requests).toHaveLength(1);
  });

  it("updates a user by reading it and PUTting the whole resource back with the changes", async () => {
    const existing = responder.addUser({
      userName: "jane@example.com",
      name: { givenName: "Jane", familyName: "Doe" },
      title: "Engineer",
      locale: "en-US",
    });
    const updated = await okta().updateUser(existing.id, { name: { givenName: "Jane", familyName: "Smith" }, title: null });
    expect(sent()).toEqual([`GET /Users/${existing.id}`, `PUT /Users/${existing.id}`]);
    expect(responder.requests[1]?.body).toStrictEqual({
      schemas: [USER],
      id: existing.id,
      active: true,
      userName: "jane@example.com",
      name: { givenName: "Jane", familyName: "Smith" },
      locale: "en-US",
    });
    expect(updated.name.familyName).toBe("Smith");
  });

  it("deactivates and reactivates with a no-path, lower-case replace and never DELETEs", async () => {
    const existing = responder.addUser({ userName: "jane@example.com" });
    const client = okta();
    expect((await client.deactivateUser(existing.id))?.active).toBe(false);
    expect((await client.reactivateUser(existing.id))?.active).toBe(true);
    expect(sent()).toEqual([`PATCH /Users/${existing.id}`, `PATCH /Users/${existing.id}`]);
    expect(responder.requests[0]?.body).toStrictEqual({ schemas: [PATCH], Operations: [{ op: "replace", value: { active: false } }] });
    expect(responder.requests[1]?.body).toStrictEqual({ schemas: [PATCH], Operations: [{ op: "replace", value: { active: true } }] });
    expect(responder.requests.some((r) => r.method === "DELETE")).toBe(false);
  });

  it("accepts a 204 to a deactivation", async () => {
    responder.intercept = () => ({ status: 204 });
    await expect(okta().deactivateUser("u9")).resolves.toBeUndefined();
  });

  it("pushes a group: POST with empty members, then one PATCH adding them", async () => {
    const group = await okta().pushGroup("Engineering", [
      { id: "u1", userName: "jane@example.com" },
      { id: "u2", userName: "john@example.com" },
    ]);
    expect(sent()).toEqual(["POST /Groups", `PATCH /Groups/${group.id}`]);
    expect(responder.requests[0]?.body).toStrictEqual({ schemas: [GROUP], displayName: "Engineering", members: [] });
    expect(responder.requests[1]?.body).toStrictEqual({
      schemas: [PATCH],
      Operations: [
        {
          op: "add",
          path: "members",
          value: [
            { value: "u1", display: "jane@example.com" },
            { value: "u2", display: "john@example.com" },
          ],
        },
      ],
    });
    expect(responder.groups.get(group.id)?.members).toHaveLength(2);
  });

  it("pushes a group without members with the POST alone", async () => {
    await okta().pushGroup("Empty");
    expect(sent()).toEqual(["POST /Groups"]);
  });

  it("renames a group with a no-path replace carrying id and displayName", async () => {
    const group = responder.addGroup({ displayName: "Engineering" });
    await okta().renameGroup(group.id, "Platform");
    expect(responder.requests.map((r) => r.body)).toStrictEqual([
      { schemas: [PATCH], Operations: [{ op: "replace", value: { id: group.id, displayName: "Platform" } }] },
    ]);
    expect(group.displayName).toBe("Platform");
  });

  it("changes membership in ONE PATCH: a filtered remove per leaver, then one add", async () => {
    const client = okta();
    const group = await client.pushGroup("Engineering", [
      { id: "u1", userName: "a@example.com" },
      { id: "u2", userName: "b@example.com" },
    ]);
    responder.requests.length = 0;
    await client.updateMembers(group.id, { remove: ["u1", "u2"], add: [{ id: "u3", userName: "c@example.com" }] });
    expect(sent()).toEqual([`PATCH /Groups/${group.id}`]);
    expect(responder.requests[0]?.body).toStrictEqual({
      schemas: [PATCH],
      Operations: [
        { op: "remove", path: 'members[value eq "u1"]' },
        { op: "remove", path: 'members[value eq "u2"]' },
        { op: "add", path: "members", value: [{ value: "u3", display: "c@example.com" }] },
      ],
    });
    expect(responder.groups.get(group.id)?.members).toEqual([{ value: "u3", display: "c@example.com" }]);
  });

  it("pushes the full member list with one replace", async () => {
    const group = responder.addGroup({ displayName: "Engineering", members: [{ value: "u0" }] });
    await okta().replaceMembers(group.id, [{ id: "u1", userName: "a@example.com" }]);
    expect(group.members).toEqual([{ value: "u1", display: "a@example.com" }]);
    expect(responder.requests[0]?.body).toStrictEqual({
      schemas: [PATCH],
      Operations: [{ op: "replace", path: "members", value: [{ value: "u1", display: "a@example.com" }] }],
    });
  });

  it("deletes an unlinked push group and expects 204", async () => {
    const client = okta();
    const group = await client.pushGroup("Gone");
    await client.deleteGroup(group.id);
    expect(sent().at(-1)).toBe(`DELETE /Groups/${group.id}`);
    expect(responder.groups.size).toBe(0);
  });
});
