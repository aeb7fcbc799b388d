import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { entraClient, oktaClient, type ScimResource } from "../../src/idp/index.ts";
import { type Responder, startResponder, TOKEN } from "./responder.ts";

/** Whole provider sequences read back from the client's own transcript, as a service's test would assert them. */
describe("a provider's lifecycle read from its transcript", () => {
  let responder: Responder;
  beforeAll(async () => {
    responder = await startResponder();
  });
  afterAll(() => responder.close());

  const lines = (transcript: { method: string; path: string; status: number }[]) =>
    transcript.map((e) => `${e.method} ${e.path.split("?")[0]} ${e.status}`.replace(/\/[ug]\d+/, "/{id}"));

  it("Okta assigns, updates, deactivates, pushes a group, moves members and unlinks it", async () => {
    const okta = oktaClient({ baseUrl: responder.baseUrl, token: TOKEN });
    const { user: jane } = await okta.assignUser({
      userName: "jane@okta.test",
      givenName: "Jane",
      familyName: "Doe",
      email: "jane@okta.test",
    });
    const { user: john } = await okta.assignUser({
      userName: "john@okta.test",
      givenName: "John",
      familyName: "Roe",
      email: "john@okta.test",
    });
    await okta.updateUser(jane.id, { title: "Engineer" });
    await okta.deactivateUser(john.id);
    const group = await okta.pushGroup("Okta Engineering", [{ id: jane.id, userName: jane.userName }]);
    await okta.updateMembers(group.id, { remove: [jane.id], add: [{ id: john.id, userName: john.userName }] });
    await okta.deleteGroup(group.id);
    expect(lines(okta.transcript)).toEqual([
      "GET /Users 200",
      "POST /Users 201",
      "GET /Users 200",
      "POST /Users 201",
      "GET /Users/{id} 200",
      "PUT /Users/{id} 200",
      "PATCH /Users/{id} 200",
      "POST /Groups 201",
      "PATCH /Groups/{id} 204",
      "PATCH /Groups/{id} 204",
      "DELETE /Groups/{id} 204",
    ]);
    expect(JSON.stringify(okta.transcript)).not.toContain(TOKEN);
  });

  it("Entra tests the connection, provisions, groups, disables and deletes", async () => {
    const entra = entraClient({ baseUrl: responder.baseUrl, token: TOKEN, flag: "aadOptscim062020" });
    await entra.testConnection();
    const provisioned = await entra.provisionUsers([
      { userName: "ada@entra.test", externalId: "e-ada", email: "ada@entra.test", givenName: "Ada", familyName: "Lovelace" },
      { userName: "bob@entra.test", externalId: "e-bob", email: "bob@entra.test", givenName: "Bob", familyName: "Kahn" },
    ]);
    const [ada, bob] = provisioned.map((p) => p.user) as [ScimResource, ScimResource];
    const group = await entra.createGroup("Entra Engineering");
    await entra.addMembers(group.id, [ada.id, bob.id]);
    await entra.removeMembers(group.id, [bob.id]);
    await entra.disableUser(bob.id);
    await entra.deleteUser(bob.id);
    expect(responder.groups.get(group.id)?.members).toEqual([{ $ref: null, value: ada.id }]);
    expect(lines(entra.transcript)).toEqual([
      "GET /Users 200",
      "GET /Groups 200",
      "GET /Users 200",
      "GET /Users 200",
      "POST /Users 201",
      "POST /Users 201",
      "POST /Groups 201",
      "PATCH /Groups/{id} 204",
      "PATCH /Groups/{id} 204",
      "PATCH /Users/{id} 200",
      "DELETE /Users/{id} 204",
    ]);
  });
});
