import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ENTRA_GROUP_SCHEMA, ENTRA_USER_AGENT, entraClient, type EntraOptions, type EntraUser, IdpError } from "../../src/idp/index.ts";
import { type Responder, startResponder, TOKEN } from "./responder.ts";

const USER = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const MANAGER = `${ENTERPRISE}:manager`;

const ada: EntraUser = {
  userName: "ada@contoso.com",
  externalId: "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
  email: "ada@contoso.com",
  givenName: "Ada",
  familyName: "Lovelace",
};

describe("the Entra client sends Entra's documented requests", () => {
  let responder: Responder;
  beforeAll(async () => {
    responder = await startResponder();
  });
  afterAll(() => responder.close());
  afterEach(() => responder.reset());

  const entra = (options: Partial<EntraOptions> = {}) =>
    entraClient({ baseUrl: responder.baseUrl, token: TOKEN, sleep: async () => {}, ...options });
  const flagged = () => entra({ flag: "aadOptscim062020" });
  const sent = () => responder.requests.map((r) => `${r.method} ${r.path}${r.rawQuery ? `?${r.rawQuery}` : ""}`);
  const operations = () => responder.requests.map((r) => r.body?.Operations);

  describe("users", () => {
    it.each([
      ["userName", "ada@contoso.com"],
      ["externalId", ada.externalId],
      ['emails[type eq "work"].value', "ada@contoso.com"],
    ] as const)("finds a user by %s with an eq filter", async (attribute, value) => {
      const stored = responder.addUser({
        userName: ada.userName,
        externalId: ada.externalId,
        emails: [{ type: "work", value: ada.email }],
      });
      expect((await entra().findUser(attribute, value))?.id).toBe(stored.id);
      expect(responder.requests[0]?.path).toBe("/Users");
      expect(responder.requests[0]?.query.get("filter")).toBe(`${attribute} eq "${value}"`);
      expect([...responder.requests[0]!.query.keys()]).toEqual(["filter"]);
      expect(responder.requests[0]?.headers["user-agent"]).toBe(ENTRA_USER_AGENT);
    });

    it("answers nothing for an empty 200 ListResponse", async () => {
      expect(await entra().findUser("userName", "nobody@contoso.com")).toBeUndefined();
    });

    it("fails on a 404 to a filter query, as Entra does", async () => {
      responder.intercept = () => ({ status: 404, body: { status: "404", detail: "no such user" } });
      await expect(entra().findUser("userName", "nobody@contoso.com")).rejects.toMatchObject({ code: "unexpected_status" });
    });

    it("creates a user with both schemas, meta, roles and the enterprise extension", async () => {
      const created = await entra().createUser({ ...ada, department: "Engineering", employeeNumber: "701984", manager: "u-boss" });
      expect(sent()).toEqual(["POST /Users"]);
      expect(responder.requests[0]?.headers["content-type"]).toMatch(/^application\/scim\+json/);
      expect(responder.requests[0]?.body).toStrictEqual({
        schemas: [USER, ENTERPRISE],
        externalId: ada.externalId,
        userName: "ada@contoso.com",
        active: true,
        emails: [{ primary: true, type: "work", value: "ada@contoso.com" }],
        meta: { resourceType: "User" },
        name: { formatted: "Ada Lovelace", familyName: "Lovelace", givenName: "Ada" },
        roles: [],
        [ENTERPRISE]: { department: "Engineering", employeeNumber: "701984", manager: { value: "u-boss" } },
      });
      expect(created.id).toEqual(expect.any(String));
    });

    it("provisions an absent user: a match query, then a POST", async () => {
      const { action } = await entra().provisionUser(ada);
      expect(action).toBe("created");
      expect(sent()).toEqual(["GET /Users?filter=userName%20eq%20%22ada%40contoso.com%22", "POST /Users"]);
    });

    it("provisions an existing user by PATCHing only what differs, with capitalised Replace ops", async () => {
      const client = entra();
      await client.provisionUser(ada);
      responder.requests.length = 0;
      const { action } = await client.provisionUser({ ...ada, email: "ada.king@contoso.com", familyName: "King", department: "R&D" });
      expect(action).toBe("updated");
      expect(sent().map((s) => s.split("?")[0])).toEqual(["GET /Users", expect.stringMatching(/^PATCH \/Users\//)]);
      expect(responder.requests[1]?.body).toStrictEqual({
        schemas: [PATCH],
        Operations: [
          { op: "Replace", path: 'emails[type eq "work"].value', value: "ada.king@contoso.com" },
          { op: "Replace", path: "name.familyName", value: "King" },
          { op: "Replace", path: "name.formatted", value: "Ada King" },
          { op: "Replace", path: `${ENTERPRISE}:department`, value: "R&D" },
        ],
      });
      const stored = [...responder.users.values()][0];
      expect(stored?.name.familyName).toBe("King");
    });

    it("matches on another attribute when configured to", async () => {
      await entra({ matchingAttribute: "externalId" }).provisionUser(ada);
      expect(responder.requests[0]?.query.get("filter")).toBe(`externalId eq "${ada.externalId}"`);
    });

    it("sends nothing more for a user already in step", async () => {
      const client = entra();
      await client.provisionUser(ada);
      responder.requests.length = 0;
      expect((await client.provisionUser(ada)).action).toBe("unchanged");
      expect(sent()).toHaveLength(1);
    });

    it("adds a manager in the provisioning PATCH, and replaces a different one", async () => {
      const client = entra();
      const { user } = await client.provisionUser(ada);
      await client.provisionUser({ ...ada, manager: "u-boss" });
      await client.provisionUser({ ...ada, manager: "u-new-boss" });
      const patches = responder.requests.filter((r) => r.method === "PATCH").map((r) => r.body.Operations);
      expect(patches).toEqual([[{ op: "Add", path: MANAGER, value: "u-boss" }], [{ op: "Replace", path: MANAGER, value: "u-new-boss" }]]);
      expect(responder.users.get(user.id)?.[ENTERPRISE]?.manager).toEqual({ value: "u-new-boss" });
    });

    it("updates with one Replace op per path by default", async () => {
      const stored = responder.addUser({ userName: "ada@contoso.com" });
      await entra().updateUser(stored.id, { userName: "ada.king@contoso.com", "name.familyName": "King" });
      expect(operations()).toEqual([
        [
          { op: "Replace", path: "userName", value: "ada.king@contoso.com" },
          { op: "Replace", path: "name.familyName", value: "King" },
        ],
      ]);
    });

    it("with aadOptscim062020, updates several attributes in ONE no-path replace keyed by path", async () => {
      const stored = responder.addUser({ userName: "ada@contoso.com" });
      await flagged().updateUser(stored.id, { displayName: "Ada King", "name.givenName": "Ada" });
      expect(responder.requests[0]?.body).toStrictEqual({
        schemas: [PATCH],
        Operations: [{ op: "replace", value: { displayName: "Ada King", "name.givenName": "Ada" } }],
      });
      expect(stored.name.givenName).toBe("Ada");
    });

    it("sets a manager with Add, changes it with Replace, removes it with Replace and an empty value", async () => {
      const stored = responder.addUser({ userName: "ada@contoso.com" });
      const client = entra();
      await client.setManager(stored.id, "u-boss");
      await client.changeManager(stored.id, "u-other");
      await client.removeManager(stored.id);
      expect(operations()).toEqual([
        [{ op: "Add", path: MANAGER, value: "u-boss" }],
        [{ op: "Replace", path: MANAGER, value: "u-other" }],
        [{ op: "Replace", path: MANAGER, value: "" }],
      ]);
      expect(stored[ENTERPRISE]?.manager).toBeUndefined();
    });

    it('clears an attribute with a Replace to "" and to null', async () => {
      const stored = responder.addUser({ userName: "ada@contoso.com", displayName: "Ada", title: "Countess" });
      const client = entra();
      await client.clearAttribute(stored.id, "displayName");
      await client.clearAttribute(stored.id, "title", null);
      expect(operations()).toEqual([[{ op: "Replace", path: "displayName", value: "" }], [{ op: "Replace", path: "title", value: null }]]);
      expect(JSON.stringify(responder.requests[1]?.body)).toContain('"value":null');
      expect(stored).not.toHaveProperty("displayName");
      expect(stored).not.toHaveProperty("title");
    });

    it('disables with the STRING "False" by default', async () => {
      const stored = responder.addUser({ userName: "ada@contoso.com" });
      await entra().disableUser(stored.id);
      expect(responder.requests[0]?.body).toStrictEqual({
        schemas: [PATCH],
        Operations: [{ op: "Replace", path: "active", value: "False" }],
      });
    });

    it("with aadOptscim062020, disables with a lower-case replace and the boolean false", async () => {
      const stored = responder.addUser({ userName: "ada@contoso.com" });
      await flagged().disableUser(stored.id);
      expect(responder.requests[0]?.body).toStrictEqual({
        schemas: [PATCH],
        Operations: [{ op: "replace", path: "active", value: false }],
      });
      expect(stored.active).toBe(false);
    });

    it("turns the flag on from ?aadOptscim062020 on the tenant URL and leaves it off the requests", async () => {
      const stored = responder.addUser({ userName: "ada@contoso.com" });
      await entraClient({ baseUrl: `${responder.baseUrl}?aadOptscim062020`, token: TOKEN }).disableUser(stored.id);
      expect(sent()).toEqual([`PATCH /Users/${stored.id}`]);
      expect(operations()).toEqual([[{ op: "replace", path: "active", value: false }]]);
    });

    it("deletes a user and expects 204", async () => {
      const stored = responder.addUser({ userName: "ada@contoso.com" });
      await entra().deleteUser(stored.id);
      expect(sent()).toEqual([`DELETE /Users/${stored.id}`]);
      await expect(entra().deleteUser(stored.id)).rejects.toBeInstanceOf(IdpError);
    });

    it("provisions users with as many requests in flight as its concurrency", async () => {
      responder.delayMs = 15;
      const users = Array.from({ length: 5 }, (_, i) => ({ ...ada, userName: `u${i}@contoso.com`, externalId: `x${i}` }));
      const results = await entra({ concurrency: 2 }).provisionUsers(users);
      expect(results.map((r) => r.action)).toEqual(Array(5).fill("created"));
      expect(responder.maxInFlight).toBe(2);
    });
  });

  describe("groups", () => {
    it("finds a group by displayName without its members", async () => {
      const stored = responder.addGroup({ displayName: "Sales & Marketing", members: [{ value: "u1" }] });
      const found = await entra().findGroup("Sales & Marketing");
      expect(found?.id).toBe(stored.id);
      expect(found).not.toHaveProperty("members");
      expect(sent()).toEqual(["GET /Groups?excludedAttributes=members&filter=displayName%20eq%20%22Sales%20%26%20Marketing%22"]);
    });

    it("creates a group with Entra's documented body and no members", async () => {
      await entra().createGroup("Engineering", "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159");
      expect(responder.requests[0]?.body).toStrictEqual({
        schemas: [GROUP, ENTRA_GROUP_SCHEMA],
        externalId: "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        displayName: "Engineering",
        meta: { resourceType: "Group" },
      });
    });

    it("renames with a Replace of displayName and accepts 204", async () => {
      const stored = responder.addGroup({ displayName: "Engineering" });
      await expect(entra().renameGroup(stored.id, "Platform")).resolves.toBeUndefined();
      expect(operations()).toEqual([[{ op: "Replace", path: "displayName", value: "Platform" }]]);
      expect(stored.displayName).toBe("Platform");
    });

    it("adds several members at once with $ref null", async () => {
      const stored = responder.addGroup({ displayName: "Engineering" });
      await entra().addMembers(stored.id, ["u1", "u2"]);
      expect(responder.requests[0]?.body).toStrictEqual({
        schemas: [PATCH],
        Operations: [
          {
            op: "Add",
            path: "members",
            value: [
              { $ref: null, value: "u1" },
              { $ref: null, value: "u2" },
            ],
          },
        ],
      });
      expect(stored.members).toHaveLength(2);
    });

    it("removes members with one Remove and a value list by default", async () => {
      const stored = responder.addGroup({ displayName: "Engineering", members: [{ value: "u1" }, { value: "u2" }, { value: "u3" }] });
      await entra().removeMembers(stored.id, ["u1", "u2"]);
      expect(operations()).toEqual([[{ op: "Remove", path: "members", value: [{ value: "u1" }, { value: "u2" }] }]]);
      expect(stored.members).toEqual([{ value: "u3" }]);
    });

    it("with aadOptscim062020, removes each member with a filtered path and no value", async () => {
      const stored = responder.addGroup({ displayName: "Engineering", members: [{ value: "u1" }, { value: "u2" }, { value: "u3" }] });
      await flagged().removeMembers(stored.id, ["u1", "u2"]);
      expect(operations()).toEqual([
        [
          { op: "remove", path: 'members[value eq "u1"]' },
          { op: "remove", path: 'members[value eq "u2"]' },
        ],
      ]);
      expect(stored.members).toEqual([{ value: "u3" }]);
    });

    it("deletes a group and expects 204", async () => {
      const stored = responder.addGroup({ displayName: "Engineering" });
      await entra().deleteGroup(stored.id);
      expect(sent()).toEqual([`DELETE /Groups/${stored.id}`]);
    });
  });

  describe("Test Connection and paging", () => {
    it("tests the connection with a user and a group filter that match nothing", async () => {
      responder.addUser({ userName: "ada@contoso.com" });
      await entra().testConnection();
      expect(responder.requests.map((r) => [r.method, r.path, [...r.query.keys()]])).toEqual([
        ["GET", "/Users", ["filter"]],
        ["GET", "/Groups", ["excludedAttributes", "filter"]],
      ]);
      expect(responder.requests[0]?.query.get("filter")).toMatch(/^userName eq "[0-9a-f-]{36}"$/);
      expect(responder.requests[1]?.query.get("filter")).toMatch(/^displayName eq "[0-9a-f-]{36}"$/);
    });

    it("fails Test Connection when the service refuses the token", async () => {
      const stranger = entraClient({ baseUrl: responder.baseUrl, token: "wrong", sleep: async () => {} });
      await expect(stranger.testConnection()).rejects.toMatchObject({ code: "unexpected_status", message: expect.stringContaining("401") });
    });

    it("fails Test Connection when a filter that matches nothing finds something", async () => {
      responder.intercept = () => ({ status: 200, body: { totalResults: 1, Resources: [{ id: "u1" }] } });
      await expect(entra().testConnection()).rejects.toMatchObject({ code: "not_empty" });
    });

    it("pages users at startIndex=page*size+1 and checks each startIndex is echoed", async () => {
      for (let i = 0; i < 12; i++) responder.addUser({ userName: `u${i}@contoso.com` });
      const users = await entra().pageUsers(5);
      expect(users).toHaveLength(10);
      expect(sent()).toEqual(["GET /Users?startIndex=1&count=5", "GET /Users?startIndex=6&count=5"]);
    });

    it("fails paging when the service does not echo startIndex", async () => {
      for (let i = 0; i < 12; i++) responder.addUser({ userName: `u${i}@contoso.com` });
      responder.intercept = (r) => ({
        status: 200,
        body: { totalResults: 12, startIndex: 1, itemsPerPage: 5, Resources: [{ id: `a${r.query.get("startIndex")}` }] },
      });
      await expect(entra().pageUsers(5)).rejects.toMatchObject({
        code: "start_index_not_echoed",
        message: "asked startIndex 6, answered 1",
      });
    });
  });
});
