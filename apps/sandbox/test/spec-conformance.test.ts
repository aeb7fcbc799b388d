import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningSandbox, startSandbox } from "../src/server.ts";
import { vendorCall } from "./client.ts";
import { vendorSpecs } from "./spec.ts";

describe("sandbox responses validate against the vendors' own specs", () => {
  let sandbox: RunningSandbox;
  const specs = vendorSpecs();
  beforeAll(async () => {
    sandbox = await startSandbox({ tenants: [{ name: "acme", users: 30 }] });
  });
  afterAll(() => sandbox.close());

  const jc = (method: string, path: string, body?: unknown) => vendorCall(sandbox, "jumpcloud", "acme", method, path, { body });
  const pm = (method: string, path: string, body?: unknown) => vendorCall(sandbox, "postman", "acme", method, path, { body });

  it("JumpCloud v1 system users: list, search, get, create, update, delete", async () => {
    const list = await jc("GET", "/systemusers?limit=100");
    expect(specs.jumpcloud(1, "/systemusers", "get", 200, list.body)).toEqual([]);
    const id = list.body.results[3]._id;
    expect(specs.jumpcloud(1, "/systemusers/{id}", "get", 200, (await jc("GET", `/systemusers/${id}`)).body)).toEqual([]);
    const search = await jc("POST", "/search/systemusers", { filter: { and: [{ department: "Engineering" }] }, limit: 5 });
    expect(specs.jumpcloud(1, "/search/systemusers", "post", 200, search.body)).toEqual([]);
    const created = await jc("POST", "/systemusers", { username: "new.person", email: "new.person@acme.example.com", firstname: "New" });
    expect(created.status).toBe(200);
    expect(specs.jumpcloud(1, "/systemusers", "post", 200, created.body)).toEqual([]);
    const updated = await jc("PUT", `/systemusers/${created.body._id}`, { jobTitle: "Analyst", state: "SUSPENDED" });
    expect(specs.jumpcloud(1, "/systemusers/{id}", "put", 200, updated.body)).toEqual([]);
    const deleted = await jc("DELETE", `/systemusers/${created.body._id}`);
    expect(specs.jumpcloud(1, "/systemusers/{id}", "delete", 200, deleted.body)).toEqual([]);
  });

  it("JumpCloud v1 organizations", async () => {
    const list = await jc("GET", "/organizations");
    expect(specs.jumpcloud(1, "/organizations", "get", 200, list.body)).toEqual([]);
    const one = await jc("GET", `/organizations/${list.body.results[0]._id}`);
    expect(specs.jumpcloud(1, "/organizations/{id}", "get", 200, one.body)).toEqual([]);
  });

  it("JumpCloud v2 user groups, members, membership, memberof", async () => {
    const list = await jc("GET", "/v2/usergroups?limit=100");
    expect(list.body.length).toBeGreaterThan(0);
    expect(specs.jumpcloud(2, "/usergroups", "get", 200, list.body)).toEqual([]);
    const group = list.body[0];
    expect(specs.jumpcloud(2, "/usergroups/{id}", "get", 200, (await jc("GET", `/v2/usergroups/${group.id}`)).body)).toEqual([]);
    const members = await jc("GET", `/v2/usergroups/${group.id}/members?limit=100`);
    expect(specs.jumpcloud(2, "/usergroups/{group_id}/members", "get", 200, members.body)).toEqual([]);
    const membership = await jc("GET", `/v2/usergroups/${group.id}/membership?limit=100`);
    expect(specs.jumpcloud(2, "/usergroups/{group_id}/membership", "get", 200, membership.body)).toEqual([]);
    const memberOf = await jc("GET", `/v2/users/${members.body[0].to.id}/memberof`);
    expect(memberOf.body.length).toBeGreaterThan(0);
    expect(specs.jumpcloud(2, "/users/{user_id}/memberof", "get", 200, memberOf.body)).toEqual([]);
    const created = await jc("POST", "/v2/usergroups", { name: "Spec Check", description: "d" });
    expect(created.status).toBe(201);
    expect(specs.jumpcloud(2, "/usergroups", "post", 201, created.body)).toEqual([]);
    const renamed = await jc("PUT", `/v2/usergroups/${created.body.id}`, { name: "Spec Check 2" });
    expect(specs.jumpcloud(2, "/usergroups/{id}", "put", 200, renamed.body)).toEqual([]);
    expect(specs.jumpcloud(2, "/usergroups/{id}", "delete", 200, (await jc("DELETE", `/v2/usergroups/${created.body.id}`)).body)).toEqual(
      [],
    );
  });

  it("JumpCloud v2 MSP organizations", async () => {
    const res = await vendorCall(sandbox, "jumpcloud", "acme", "GET", `/v2/providers/${sandbox.jumpcloud.providerId}/organizations`, {
      key: sandbox.jumpcloud.mspKey,
    });
    expect(res.status).toBe(200);
    expect(specs.jumpcloud(2, "/providers/{provider_id}/organizations", "get", 200, res.body)).toEqual([]);
  });

  it("Postman users: list, get, create, put, patch", async () => {
    const list = await pm("GET", "/Users?count=100");
    expect(specs.postman("/scim/v2/Users", "get", 200, list.body)).toEqual([]);
    const id = list.body.Resources[0].id;
    expect(specs.postman("/scim/v2/Users/{userId}", "get", 200, (await pm("GET", `/Users/${id}`)).body)).toEqual([]);
    const created = await pm("POST", "/Users", {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
      userName: "taylor.lee@acme.example.com",
      name: { givenName: "Taylor", familyName: "Lee" },
      externalId: "1",
      active: true,
    });
    expect(created.status).toBe(201);
    expect(specs.postman("/scim/v2/Users", "post", 201, created.body)).toEqual([]);
    const put = await pm("PUT", `/Users/${created.body.id}`, {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
      name: { givenName: "Tay", familyName: "Lee" },
    });
    expect(specs.postman("/scim/v2/Users/{userId}", "put", 200, put.body)).toEqual([]);
    const patch = await pm("PATCH", `/Users/${created.body.id}`, {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: [{ op: "replace", value: { active: false } }],
    });
    expect(specs.postman("/scim/v2/Users/{userId}", "patch", 200, patch.body)).toEqual([]);
  });

  it("Postman groups, resource types, service provider config and errors", async () => {
    const list = await pm("GET", "/Groups");
    expect(specs.postman("/scim/v2/Groups", "get", 200, list.body)).toEqual([]);
    const group = list.body.Resources[0];
    expect(specs.postman("/scim/v2/Groups/{groupId}", "get", 200, (await pm("GET", `/Groups/${group.id}`)).body)).toEqual([]);
    const created = await pm("POST", "/Groups", {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"],
      displayName: "Spec",
      members: [],
    });
    expect(specs.postman("/scim/v2/Groups", "post", 201, created.body)).toEqual([]);
    const patched = await pm("PATCH", `/Groups/${created.body.id}`, {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: [{ op: "replace", path: "displayName", value: "Spec 2" }],
    });
    expect(specs.postman("/scim/v2/Groups/{groupId}", "patch", 200, patched.body)).toEqual([]);
    expect(specs.postman("/scim/v2/ResourceTypes", "get", 200, (await pm("GET", "/ResourceTypes")).body)).toEqual([]);
    expect(specs.postman("/scim/v2/ServiceProviderConfig", "get", 200, (await pm("GET", "/ServiceProviderConfig")).body)).toEqual([]);
    const missing = await pm("GET", "/Users/0000");
    expect(missing.status).toBe(404);
    expect(specs.postman("/scim/v2/Users/{userId}", "get", 404, missing.body)).toEqual([]);
    const badFilter = await pm("GET", "/Users?filter=title%20eq%20%22x%22");
    expect(specs.postman("/scim/v2/Users", "get", 400, badFilter.body)).toEqual([]);
  });

  it("rejects a shape that breaks the spec (the validator itself can fail)", () => {
    expect(specs.jumpcloud(1, "/systemusers", "get", 200, { totalCount: "many", results: {} })).not.toEqual([]);
    expect(specs.postman("/scim/v2/Users", "get", 200, { totalResults: "x", Resources: 3 })).not.toEqual([]);
    expect(specs.okta("/api/v1/users", "get", 200, [{ id: 7, status: "ASLEEP" }])).not.toEqual([]);
    expect(specs.google("Users", { users: [{ id: 7, suspended: "no" }], nextPageToken: 1 })).not.toEqual([]);
    expect(specs.googleError({ error: { code: "500" } })).not.toEqual([]);
  });
});
