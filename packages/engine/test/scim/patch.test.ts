import { describe, expect, it } from "vitest";
import {
  ENTERPRISE_USER_SCHEMA_ID as ENTERPRISE,
  GROUP_RESOURCE_TYPE,
  GROUP_SCHEMA_ID,
  PATCH_OP_SCHEMA_ID,
  USER_RESOURCE_TYPE,
  USER_SCHEMA_ID,
  ScimProblem,
  applyPatch,
  readPatchRequest,
  type ScimResource,
  type ScimType,
} from "../../src/index.ts";
import { problemOf } from "./problem-of.ts";

const bjensen = (): ScimResource => ({
  schemas: [USER_SCHEMA_ID],
  id: "2819c223-7f76-453a-919d-413861904646",
  externalId: "bjensen",
  userName: "bjensen",
  name: { familyName: "Jensen", givenName: "Barbara" },
  displayName: "Babs Jensen",
  active: true,
  emails: [
    { value: "bjensen@example.com", type: "work", primary: true },
    { value: "babs@jensen.org", type: "home" },
  ],
  addresses: [{ type: "work", streetAddress: "100 Universal City Plaza", locality: "Hollywood", region: "CA", primary: true }],
  meta: { resourceType: "User", created: "2010-01-23T04:56:22Z", lastModified: "2011-05-13T04:42:34Z" },
});

const tourGuides = (): ScimResource => ({
  schemas: [GROUP_SCHEMA_ID],
  id: "e9e30dba-f08f-4109-8486-d5c6a331660a",
  displayName: "Tour Guides",
  members: [
    {
      value: "2819c223-7f76-453a-919d-413861904646",
      $ref: "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646",
      display: "Babs Jensen",
    },
    {
      value: "902c246b-6245-4190-8e05-00816be7344a",
      $ref: "https://example.com/v2/Users/902c246b-6245-4190-8e05-00816be7344a",
      display: "Mandy Pepperidge",
    },
  ],
  meta: { resourceType: "Group" },
});

const patchUser = (resource: ScimResource, ...operations: unknown[]) => applyPatch(resource, operations, USER_RESOURCE_TYPE);
const patchGroup = (resource: ScimResource, ...operations: unknown[]) => applyPatch(resource, operations, GROUP_RESOURCE_TYPE);
const memberIds = (group: ScimResource) => ((group.members as { value: string }[] | undefined) ?? []).map((m) => m.value);

describe("SCIM PATCH, RFC 7644 §3.5.2.1 add", () => {
  it("adds a member to a group", () => {
    const { resource, changed } = patchGroup(tourGuides(), {
      op: "add",
      path: "members",
      value: [{ display: "Babs Jensen", $ref: "https://example.com/v2/Users/2819c223", value: "2819c223" }],
    });
    expect(changed).toBe(true);
    expect(memberIds(resource)).toEqual(["2819c223-7f76-453a-919d-413861904646", "902c246b-6245-4190-8e05-00816be7344a", "2819c223"]);
  });

  it("adds attributes with no path, writing each in the schema's case", () => {
    const { resource } = patchUser(bjensen(), {
      op: "add",
      value: {
        emails: [
          { value: "babs@jensen.org", type: "home" },
          { value: "b@other.org", type: "other" },
        ],
        nickname: "Babs",
      },
    });
    expect(resource.nickName).toBe("Babs");
    expect(resource).not.toHaveProperty("nickname");
    // babs@jensen.org (home) is already there: merged, not duplicated.
    expect(resource.emails).toEqual([
      { value: "bjensen@example.com", type: "work", primary: true },
      { value: "babs@jensen.org", type: "home" },
      { value: "b@other.org", type: "other" },
    ]);
  });

  it("adds a value to an existing single-valued attribute by replacing it", () => {
    expect(patchUser(bjensen(), { op: "add", path: "displayName", value: "Barbara" }).resource.displayName).toBe("Barbara");
  });
});

describe("SCIM PATCH, RFC 7644 §3.5.2.2 remove", () => {
  it("removes one member by a value filter", () => {
    const { resource } = patchGroup(tourGuides(), { op: "remove", path: 'members[value eq "2819c223-7f76-453a-919d-413861904646"]' });
    expect(memberIds(resource)).toEqual(["902c246b-6245-4190-8e05-00816be7344a"]);
  });

  it("removes all members, leaving the attribute unassigned", () => {
    const { resource } = patchGroup(tourGuides(), { op: "remove", path: "members" });
    expect(resource).not.toHaveProperty("members");
  });

  it("removes with a complex filter", () => {
    const { resource } = patchUser(bjensen(), { op: "remove", path: 'emails[type eq "work" and value ew "example.com"]' });
    expect(resource.emails).toEqual([{ value: "babs@jensen.org", type: "home" }]);
  });

  it("replaces a member by a remove and an add in one request", () => {
    const { resource } = patchGroup(
      tourGuides(),
      { op: "remove", path: 'members[value eq "2819c223-7f76-453a-919d-413861904646"]' },
      { op: "add", path: "members", value: [{ display: "James Smith", value: "08e1d05d-121c-4561-8b96-473d93df9210" }] },
    );
    expect(memberIds(resource)).toEqual(["902c246b-6245-4190-8e05-00816be7344a", "08e1d05d-121c-4561-8b96-473d93df9210"]);
  });

  it("removes a sub-attribute and drops a complex attribute left empty", () => {
    const once = patchUser(bjensen(), { op: "remove", path: "name.givenName" }).resource;
    expect(once.name).toEqual({ familyName: "Jensen" });
    expect(patchUser(once, { op: "remove", path: "name.familyName" }).resource).not.toHaveProperty("name");
  });

  it("removing an attribute that is not there changes nothing", () => {
    expect(patchUser(bjensen(), { op: "remove", path: "title" }).changed).toBe(false);
    expect(patchGroup(tourGuides(), { op: "remove", path: 'members[value eq "nobody"]' }).changed).toBe(false);
  });
});

describe("SCIM PATCH, RFC 7644 §3.5.2.3 replace", () => {
  it("replaces all members", () => {
    const { resource } = patchGroup(tourGuides(), {
      op: "replace",
      path: "members",
      value: [
        { display: "Babs Jensen", value: "2819c223" },
        { display: "James Smith", value: "08e1d05d" },
      ],
    });
    expect(resource.members).toEqual([
      { display: "Babs Jensen", value: "2819c223" },
      { display: "James Smith", value: "08e1d05d" },
    ]);
  });

  it("replaces the elements a filter selects", () => {
    const address = {
      type: "work",
      streetAddress: "911 Universal City Plaza",
      locality: "Hollywood",
      region: "CA",
      postalCode: "91608",
      country: "US",
      formatted: "911 Universal City Plaza\nHollywood, CA 91608 US",
      primary: true,
    };
    const { resource } = patchUser(bjensen(), { op: "replace", path: 'addresses[type eq "work"]', value: address });
    expect(resource.addresses).toEqual([address]);
  });

  it("replaces one sub-attribute of the elements a filter selects", () => {
    const { resource } = patchUser(bjensen(), {
      op: "replace",
      path: 'addresses[type eq "work"].streetAddress',
      value: "1010 Broadway Ave",
    });
    expect(resource.addresses).toEqual([
      { type: "work", streetAddress: "1010 Broadway Ave", locality: "Hollywood", region: "CA", primary: true },
    ]);
  });

  it("replaces attributes with no path", () => {
    const emails = [
      { value: "bjensen@example.com", type: "work", primary: true },
      { value: "babs@jensen.org", type: "home" },
    ];
    const { resource } = patchUser(bjensen(), { op: "replace", value: { emails, nickname: "Babs" } });
    expect(resource.emails).toEqual(emails);
    expect(resource.nickName).toBe("Babs");
  });

  it("replaces the given sub-attributes of a complex attribute and keeps the others", () => {
    const { resource } = patchUser(bjensen(), { op: "replace", path: "name", value: { givenName: "Babs" } });
    expect(resource.name).toEqual({ familyName: "Jensen", givenName: "Babs" });
  });

  it("makes the element just set primary the only primary one", () => {
    const { resource } = patchUser(bjensen(), {
      op: "add",
      path: "emails",
      value: [{ value: "new@example.com", type: "other", primary: true }],
    });
    expect((resource.emails as { primary?: boolean }[]).map((e) => e.primary)).toEqual([false, undefined, true]);
  });

  it("answers noTarget when a filter without a sub-attribute selects nothing", () => {
    expect(problemOf(() => patchUser(bjensen(), { op: "replace", path: 'addresses[type eq "home"]', value: { locality: "x" } }))).toBe(
      "noTarget",
    );
  });
});

describe("what Okta sends", () => {
  it("deactivates and reactivates with a path-less replace", () => {
    const off = patchUser(bjensen(), { op: "replace", value: { active: false } });
    expect(off).toMatchObject({ changed: true, resource: { active: false } });
    expect(patchUser(off.resource, { op: "replace", value: { active: true } }).resource.active).toBe(true);
  });

  it("renames a group with a path-less value carrying the group's own id", () => {
    const group = tourGuides();
    const { resource } = patchGroup(group, { op: "replace", value: { id: group.id, displayName: "Tour Guides (EU)" } });
    expect(resource).toMatchObject({ id: group.id, displayName: "Tour Guides (EU)" });
  });

  it("removes and adds members in one PATCH", () => {
    const body = {
      schemas: [PATCH_OP_SCHEMA_ID],
      Operations: [
        { op: "remove", path: 'members[value eq "902c246b-6245-4190-8e05-00816be7344a"]' },
        {
          op: "add",
          path: "members",
          value: [
            { value: "u3", display: "carol@example.com" },
            { value: "u4", display: "dave@example.com" },
          ],
        },
      ],
    };
    const { resource } = patchGroup(tourGuides(), ...readPatchRequest(body));
    expect(memberIds(resource)).toEqual(["2819c223-7f76-453a-919d-413861904646", "u3", "u4"]);
  });

  it("pushes the full member list with a replace", () => {
    const { resource } = patchGroup(tourGuides(), { op: "replace", path: "members", value: [{ value: "u9", display: "z@example.com" }] });
    expect(resource.members).toEqual([{ value: "u9", display: "z@example.com" }]);
  });
});

describe("what Microsoft Entra sends", () => {
  it("reads capitalised op names", () => {
    expect(patchUser(bjensen(), { op: "Replace", path: "userName", value: "babs" }).resource.userName).toBe("babs");
    expect(patchUser(bjensen(), { op: "Add", path: "title", value: "Guide" }).resource.title).toBe("Guide");
    expect(patchUser(bjensen(), { op: "Remove", path: "title" }).changed).toBe(false);
  });

  it("replaces a work email, a family name and a userName by path", () => {
    const { resource } = patchUser(
      bjensen(),
      { op: "Replace", path: 'emails[type eq "work"].value', value: "barbara@example.com" },
      { op: "Replace", path: "name.familyName", value: "Jensen-Smith" },
      { op: "Replace", path: "userName", value: "barbara@example.com" },
    );
    expect(resource).toMatchObject({ userName: "barbara@example.com", name: { familyName: "Jensen-Smith", givenName: "Barbara" } });
    expect(resource.emails).toEqual([
      { value: "barbara@example.com", type: "work", primary: true },
      { value: "babs@jensen.org", type: "home" },
    ]);
  });

  it("creates the work email when the user has none (as Microsoft's SCIMReferenceCode does)", () => {
    const user = { ...bjensen(), emails: [{ value: "babs@jensen.org", type: "home" }] };
    const { resource } = patchUser(user, { op: "Replace", path: 'emails[type eq "work"].value', value: "babs@example.com" });
    expect(resource.emails).toEqual([
      { value: "babs@jensen.org", type: "home" },
      { type: "work", value: "babs@example.com" },
    ]);
    const none = { ...bjensen(), emails: undefined };
    expect(patchUser(none, { op: "Replace", path: 'emails[type eq "work"].value', value: "b@x.com" }).resource.emails).toEqual([
      { type: "work", value: "b@x.com" },
    ]);
  });

  it('disables a user with the string "False" (default job) and with false (aadOptscim062020)', () => {
    expect(patchUser(bjensen(), { op: "Replace", path: "active", value: "False" }).resource.active).toBe(false);
    expect(patchUser(bjensen(), { op: "replace", path: "active", value: false }).resource.active).toBe(false);
    expect(patchUser({ ...bjensen(), active: false }, { op: "Replace", path: "active", value: "True" }).resource.active).toBe(true);
  });

  it('keeps "True" as a string for an attribute that is not boolean', () => {
    expect(patchUser(bjensen(), { op: "Replace", path: "title", value: "True" }).resource.title).toBe("True");
  });

  it("replaces several attributes with one path-less value whose keys are paths", () => {
    const { resource } = patchUser(bjensen(), {
      op: "replace",
      value: { displayName: "Babs J", "name.givenName": "Babs", "NAME.familyName": "J", [`${ENTERPRISE}:department`]: "Tours" },
    });
    expect(resource).toMatchObject({
      displayName: "Babs J",
      name: { givenName: "Babs", familyName: "J" },
      [ENTERPRISE]: { department: "Tours" },
    });
    expect(resource.schemas).toEqual([USER_SCHEMA_ID, ENTERPRISE]);
  });

  it("accepts a path-less value keyed by the enterprise extension URN", () => {
    const { resource } = patchUser(bjensen(), { op: "add", value: { [ENTERPRISE]: { employeeNumber: "701984", department: "Tours" } } });
    expect(resource[ENTERPRISE]).toEqual({ employeeNumber: "701984", department: "Tours" });
  });

  it("sets the manager with Add, changes it with Replace, and removes it with Replace and an empty value", () => {
    const managerPath = `${ENTERPRISE}:manager`;
    const set = patchUser(bjensen(), { op: "Add", path: managerPath, value: "26118915-6090-4610-87e4-49d8ca9f808d" }).resource;
    expect(set[ENTERPRISE]).toEqual({ manager: { value: "26118915-6090-4610-87e4-49d8ca9f808d" } });
    expect(set.schemas).toEqual([USER_SCHEMA_ID, ENTERPRISE]);
    const changed = patchUser(set, { op: "Replace", path: managerPath, value: { value: "m2" } }).resource;
    expect(changed[ENTERPRISE]).toEqual({ manager: { value: "m2" } });
    const cleared = patchUser(changed, { op: "Replace", path: managerPath, value: "" }).resource;
    expect(cleared).not.toHaveProperty(ENTERPRISE);
    expect(cleared.schemas).toEqual([USER_SCHEMA_ID]);
    expect(patchUser(changed, { op: "Replace", path: managerPath, value: { value: "" } }).resource).not.toHaveProperty(ENTERPRISE);
    // The manager as a one-element list, as one provider's tutorial sends it: of null or "", it clears.
    for (const op of ["Add", "Replace"]) {
      for (const empty of [null, ""]) {
        const patched = patchUser(changed, { op, path: managerPath, value: [empty] });
        expect(patched.resource, `${op} [${JSON.stringify(empty)}]`).not.toHaveProperty(ENTERPRISE);
        expect(patched.changed).toBe(true);
      }
    }
    expect(patchUser(changed, { op: "Add", path: managerPath, value: [{ value: "m3" }] }).resource[ENTERPRISE]).toEqual({
      manager: { value: "m3" },
    });
  });

  it('clears an attribute with "" and with null alike', () => {
    for (const value of ["", null]) {
      const { resource, changed } = patchUser(
        bjensen(),
        { op: "Replace", path: "displayName", value },
        { op: "Replace", path: "name.givenName", value },
      );
      expect(changed).toBe(true);
      expect(resource).not.toHaveProperty("displayName");
      expect(resource.name).toEqual({ familyName: "Jensen" });
    }
    const noWork = patchUser(bjensen(), { op: "Replace", path: 'emails[type eq "work"].value', value: "" }).resource;
    expect(noWork.emails).toEqual([{ value: "babs@jensen.org", type: "home" }]);
  });

  it("renames a group and adds members (with a null $ref), several at once", () => {
    const { resource } = patchGroup(
      tourGuides(),
      { op: "Replace", path: "displayName", value: "Guides" },
      {
        op: "Add",
        path: "members",
        value: [
          { $ref: null, value: "u1" },
          { $ref: null, value: "u2" },
        ],
      },
    );
    expect(resource.displayName).toBe("Guides");
    expect(resource.members).toEqual([...(tourGuides().members as unknown[]), { value: "u1" }, { value: "u2" }]);
  });

  it("adding a member twice is not a duplicate", () => {
    const group = tourGuides();
    const { resource, changed } = patchGroup(group, {
      op: "Add",
      path: "members",
      value: [{ $ref: null, value: "2819c223-7f76-453a-919d-413861904646" }],
    });
    expect(changed).toBe(false);
    expect(resource.members).toEqual(group.members);
  });

  it("removes members by a value array (default job) and by a filter (aadOptscim062020)", () => {
    const byValue = patchGroup(tourGuides(), { op: "Remove", path: "members", value: [{ value: "902c246b-6245-4190-8e05-00816be7344a" }] });
    expect(memberIds(byValue.resource)).toEqual(["2819c223-7f76-453a-919d-413861904646"]);
    const byFilter = patchGroup(tourGuides(), { op: "remove", path: 'members[value eq "902c246b-6245-4190-8e05-00816be7344a"]' });
    expect(byFilter.resource).toEqual(byValue.resource);
    const both = patchGroup(tourGuides(), {
      op: "Remove",
      path: "members",
      value: [{ value: "902c246b-6245-4190-8e05-00816be7344a" }, { value: "2819c223-7f76-453a-919d-413861904646" }],
    });
    expect(both.resource).not.toHaveProperty("members");
  });
});

describe("a schema extension the service does not know (Entra's custom extension)", () => {
  const custom = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User";
  it("sets, changes and clears its attributes by path, keeping schemas in step", () => {
    let { resource } = patchUser(bjensen(), { op: "Add", path: `${custom}:costCenter`, value: "42" });
    expect(resource[custom]).toEqual({ costCenter: "42" });
    expect(resource.schemas).toContain(custom);
    ({ resource } = patchUser(resource, { op: "Replace", path: `${custom}:badge.id`, value: 7 }));
    expect(resource[custom]).toEqual({ costCenter: "42", badge: { id: 7 } });
    ({ resource } = patchUser(
      resource,
      { op: "Replace", path: `${custom}:costCenter`, value: "" },
      { op: "remove", path: `${custom}:badge` },
    ));
    expect(resource[custom]).toBeUndefined();
    expect(resource.schemas).not.toContain(custom);
  });

  it("takes it path-less, as an attribute key or as the whole extension object", () => {
    const { resource } = patchUser(bjensen(), { op: "replace", value: { [`${custom}:costCenter`]: "7", displayName: "Babs" } });
    expect(resource).toMatchObject({ displayName: "Babs", [custom]: { costCenter: "7" } });
    const merged = patchUser(resource, { op: "add", value: { [custom]: { division: "R&D" } } }).resource;
    expect(merged[custom]).toEqual({ costCenter: "7", division: "R&D" });
  });

  it("still refuses an unknown attribute of a known schema, and a filter into the unknown one", () => {
    expect(problemOf(() => patchUser(bjensen(), { op: "add", path: "shoeSize", value: 44 }))).toBe("invalidPath");
    expect(problemOf(() => patchUser(bjensen(), { op: "add", path: `${custom}:tags[value eq "x"].value`, value: "y" }))).not.toBe(
      "no problem",
    );
  });
});

describe("PATCH bookkeeping", () => {
  it("does not mutate the resource it is given", () => {
    const user = bjensen();
    const before = structuredClone(user);
    patchUser(user, { op: "replace", path: "name.givenName", value: "x" }, { op: "remove", path: 'emails[type eq "home"]' });
    expect(user).toEqual(before);
  });

  it("reports no change when the result equals the input", () => {
    expect(
      patchUser(
        bjensen(),
        { op: "replace", path: "userName", value: "bjensen" },
        { op: "replace", value: { active: "True" } },
        { op: "add", path: "emails", value: { value: "babs@jensen.org", type: "home" } },
      ),
    ).toMatchObject({ changed: false });
    expect(patchUser(bjensen(), { op: "replace", path: "title", value: "x" }, { op: "remove", path: "title" }).changed).toBe(false);
  });

  it("writes the schema's canonical attribute case whatever case the path uses", () => {
    const { resource } = patchUser(
      bjensen(),
      { op: "replace", path: "USERNAME", value: "b" },
      { op: "add", path: "NAME.GIVENNAME", value: "B" },
    );
    expect(resource.userName).toBe("b");
    expect(resource.name).toEqual({ familyName: "Jensen", givenName: "B" });
    expect(Object.keys(resource).filter((k) => k.toLowerCase() === "username")).toEqual(["userName"]);
  });

  it("reads a PatchOp body, refusing one without the PatchOp schema", () => {
    expect(readPatchRequest({ schemas: [PATCH_OP_SCHEMA_ID], Operations: [{ op: "Replace", path: "active", value: "False" }] })).toEqual([
      { op: "replace", path: "active", value: "False" },
    ]);
    expect(problemOf(() => readPatchRequest({ Operations: [] }))).toBe("invalidSyntax");
    expect(problemOf(() => readPatchRequest({ schemas: [PATCH_OP_SCHEMA_ID], Operations: [] }))).toBe("invalidSyntax");
    expect(problemOf(() => readPatchRequest([]))).toBe("invalidSyntax");
  });

  it("removing an absent extension attribute changes nothing, not even schemas", () => {
    const { schemas: _schemas, ...withoutSchemas } = bjensen();
    expect(patchUser(withoutSchemas, { op: "remove", path: `${ENTERPRISE}:manager` }).changed).toBe(false);
    expect(patchUser(bjensen(), { op: "replace", path: `${ENTERPRISE}:department`, value: "" }).changed).toBe(false);
  });

  it("applies all operations or none", () => {
    const user = bjensen();
    expect(problemOf(() => patchUser(user, { op: "replace", path: "title", value: "x" }, { op: "replace", path: "id", value: "y" }))).toBe(
      "mutability",
    );
    expect(user).toEqual(bjensen());
  });
});

describe("PATCH refusals", () => {
  it.each<[string, ScimType, unknown[]]>([
    ["an unknown attribute", "invalidPath", [{ op: "replace", path: "favouriteColour", value: "x" }]],
    ["an unknown attribute in a path-less value", "invalidPath", [{ op: "replace", value: { favouriteColour: "x" } }]],
    ["an unknown sub-attribute", "invalidPath", [{ op: "replace", path: "name.nickname", value: "x" }]],
    ["a sub-attribute of a simple attribute", "invalidPath", [{ op: "replace", path: "userName.first", value: "x" }]],
    ["a filter on a single-valued attribute", "invalidPath", [{ op: "replace", path: 'name[givenName eq "x"]', value: {} }]],
    ["a filter on an unknown sub-attribute", "invalidPath", [{ op: "remove", path: 'emails[kind eq "work"]' }]],
    ["an unknown sub-attribute after a filter", "invalidPath", [{ op: "replace", path: 'emails[type eq "work"].address', value: "x" }]],
    [
      "a filter comparing a boolean with gt, even with no element to try",
      "invalidPath",
      [{ op: "remove", path: "phoneNumbers[primary gt 1]" }],
    ],
    ["a malformed path", "invalidPath", [{ op: "replace", path: "emails[type eq", value: "x" }]],
    ["a path that is not a string", "invalidPath", [{ op: "replace", path: 7, value: "x" }]],
    ["a remove without a path", "noTarget", [{ op: "remove" }]],
    [
      "a replace whose filter selects nothing and describes no element",
      "noTarget",
      [{ op: "replace", path: 'emails[value co "nothing"].display', value: "x" }],
    ],
    ["a sub-attribute of every element when there are none", "noTarget", [{ op: "replace", path: "phoneNumbers.type", value: "work" }]],
    ["a readOnly attribute", "mutability", [{ op: "replace", path: "id", value: "x" }]],
    ["meta", "mutability", [{ op: "replace", path: "meta.lastModified", value: "2020-01-01T00:00:00Z" }]],
    ["groups (derived from Group membership)", "mutability", [{ op: "add", path: "groups", value: [{ value: "g" }] }]],
    ["a changed id in a path-less value", "mutability", [{ op: "replace", value: { id: "other" } }]],
    ["a readOnly sub-attribute", "mutability", [{ op: "replace", path: `${ENTERPRISE}:manager.displayName`, value: "x" }]],
    ["removing the required userName", "mutability", [{ op: "remove", path: "userName" }]],
    ["clearing the required userName", "mutability", [{ op: "replace", path: "userName", value: "" }]],
    ["a boolean that is not one", "invalidValue", [{ op: "replace", path: "active", value: "yes" }]],
    ["a number for a string", "invalidValue", [{ op: "replace", path: "displayName", value: 42 }]],
    ["a number for a complex attribute", "invalidValue", [{ op: "replace", path: "name", value: 42 }]],
    ["an unknown sub-attribute in a value", "invalidValue", [{ op: "add", path: "emails", value: [{ value: "a@b", kind: "work" }] }]],
    ["a path-less value that is not an object", "invalidValue", [{ op: "replace", value: "x" }]],
    ["an unknown op", "invalidSyntax", [{ op: "merge", path: "title", value: "x" }]],
    ["an add without a value", "invalidSyntax", [{ op: "add", path: "title" }]],
    ["an operation that is not an object", "invalidSyntax", ["replace"]],
    ["no operations", "invalidSyntax", []],
  ])("refuses %s as %s", (_what, scimType, operations) => {
    expect(problemOf(() => patchUser(bjensen(), ...operations))).toBe(scimType);
  });

  it.each<[string, ScimType, unknown[]]>([
    [
      "changing an immutable member value",
      "mutability",
      [{ op: "replace", path: 'members[value eq "902c246b-6245-4190-8e05-00816be7344a"].value', value: "x" }],
    ],
    ["clearing the required displayName", "mutability", [{ op: "replace", path: "displayName", value: null }]],
    ["a filter comparing gt with true", "invalidPath", [{ op: "remove", path: "members[value gt true]" }]],
  ])("refuses, on a group, %s as %s", (_what, scimType, operations) => {
    expect(problemOf(() => patchGroup(tourGuides(), ...operations))).toBe(scimType);
  });

  it("gives every problem a status: 409 for uniqueness, 400 otherwise", () => {
    expect(new ScimProblem("uniqueness", "userName taken").status).toBe(409);
    expect(new ScimProblem("tooMany", "too many").status).toBe(400);
  });
});

const detailOf = (run: () => unknown): string => {
  try {
    run();
    return "no problem";
  } catch (error) {
    if (error instanceof ScimProblem) return `${error.scimType}: ${error.detail}`;
    throw error;
  }
};
const CUSTOM = "urn:example:custom:2.0:User";

describe("what a client is told about a PATCH it cannot apply", () => {
  const body = (...operations: unknown[]) => ({ schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], Operations: operations });

  it.each<[string, unknown, string]>([
    ["a body that is no object", [], "invalidSyntax: a PATCH body must be a PatchOp JSON object"],
    [
      "no PatchOp schema",
      { schemas: ["urn:other"], Operations: [] },
      "invalidSyntax: a PATCH body's schemas must list urn:ietf:params:scim:api:messages:2.0:PatchOp",
    ],
    [
      "a schema that is no string",
      { schemas: [42], Operations: [] },
      "invalidSyntax: a PATCH body's schemas must list urn:ietf:params:scim:api:messages:2.0:PatchOp",
    ],
    ["no operations", body(), "invalidSyntax: a PATCH needs a non-empty 'Operations' array"],
    [
      "an operation that is no object",
      body({ op: "add", path: "title", value: "x" }, "add"),
      "invalidSyntax: operation 2 is not an object",
    ],
    [
      "an unknown op",
      body({ op: "add", path: "title", value: "x" }, { op: "move" }),
      `invalidSyntax: operation 2: 'op' must be add, remove or replace, not "move"`,
    ],
    [
      "a path that is no string",
      body({ op: "add", path: "title", value: "x" }, { op: "add", path: 1, value: "x" }),
      "invalidPath: operation 2: 'path' must be a string",
    ],
    [
      "no value",
      body({ op: "add", path: "title", value: "x" }, { op: "replace", path: "title" }),
      "invalidSyntax: operation 2: 'replace' needs a 'value'",
    ],
  ])("%s", (_, request, detail) => {
    expect(detailOf(() => readPatchRequest(request))).toBe(detail);
  });

  it("reads the PatchOp schema in any case, among others, and a null path as none", () => {
    expect(
      readPatchRequest({ schemas: ["urn:other", PATCH_OP_SCHEMA_ID.toUpperCase()], Operations: [{ op: "Remove", path: "title" }] }),
    ).toStrictEqual([{ op: "remove", path: "title" }]);
    expect(readPatchRequest(body({ op: "replace", path: null, value: { title: "x" } }))).toStrictEqual([
      { op: "replace", value: { title: "x" } },
    ]);
    expect(patchUser(bjensen(), { op: "replace", path: null, value: { title: "Boss" } }).resource.title).toBe("Boss");
  });

  it.each<[string, unknown[], string]>([
    ["an unknown attribute", [{ op: "replace", path: "bogus", value: "x" }], "invalidPath: 'bogus' names no attribute of User"],
    [
      "an unknown sub-attribute",
      [{ op: "replace", path: "name.bogus", value: "x" }],
      "invalidPath: 'name' has no sub-attribute 'bogus' (in 'name.bogus')",
    ],
    [
      "a value filter on a single value",
      [{ op: "replace", path: 'name[givenName eq "x"]', value: "x" }],
      "invalidPath: a value filter [ ] applies to a multi-valued complex attribute, not 'name'",
    ],
    [
      "a bad comparison in a filter",
      [{ op: "remove", path: "emails[primary gt true]" }],
      "invalidPath: 'gt' cannot compare with true at position 19 of 'emails[primary gt true]'",
    ],
    ["a readOnly attribute", [{ op: "replace", path: "id", value: "x" }], "mutability: 'id' is readOnly"],
    [
      "a required attribute emptied",
      [{ op: "remove", path: "userName" }],
      "mutability: 'userName' is required: it cannot be removed or emptied",
    ],
    [
      "a filter with .sub that describes nothing to create",
      [{ op: "replace", path: 'emails[type eq "a" or type eq "b"].value', value: "x" }],
      `noTarget: 'emails[type eq "a" or type eq "b"].value' matches no element, and its filter does not describe one to create`,
    ],
    [
      "a null in the filter",
      [{ op: "replace", path: "emails[type eq null].value", value: "x" }],
      `noTarget: 'emails[type eq null].value' matches no element, and its filter does not describe one to create`,
    ],
    [
      "a replace through a filter that selects nothing",
      [{ op: "replace", path: 'emails[type eq "other"]', value: { value: "x" } }],
      `noTarget: 'emails[type eq "other"]' matches no element`,
    ],
    [
      "a sub-attribute of every element when there are none",
      [{ op: "replace", path: "phoneNumbers.type", value: "work" }],
      "noTarget: 'phoneNumbers.type' has no element to set",
    ],
    ["a remove without a path", [{ op: "remove" }], "noTarget: a remove operation needs a path"],
    [
      "a path-less value that is no object",
      [{ op: "replace", value: "x" }],
      "invalidValue: a path-less 'replace' takes an object of attributes",
    ],
    [
      "a whole extension set to a non-object",
      [{ op: "replace", path: ENTERPRISE, value: "x" }],
      `invalidValue: '${ENTERPRISE}' takes an object of that extension's attributes`,
    ],
    [
      "a sub-attribute after a whole extension",
      [{ op: "replace", path: `${ENTERPRISE}.employeeNumber`, value: "1" }],
      `invalidPath: '${ENTERPRISE}.employeeNumber' names no attribute of User`,
    ],
    [
      "a filter on a whole extension",
      [{ op: "replace", path: `${ENTERPRISE}[value eq "x"]`, value: "1" }],
      `invalidPath: '${ENTERPRISE}[value eq "x"]' names no attribute of User`,
    ],
    [
      "a URN with nothing after it",
      [{ op: "replace", path: "urn:x", value: "1" }],
      "invalidPath: 'urn:x' is not an attribute path: only a schema URN may precede ':'",
    ],
    [
      "a URN with an empty part",
      [{ op: "replace", path: "urn::x", value: "1" }],
      "invalidPath: 'urn::x' is not an attribute path: only a schema URN may precede ':'",
    ],
    [
      "a key that only contains a URN",
      [{ op: "replace", value: { "xurn:a:b:c": 1 } }],
      "invalidPath: 'xurn:a:b:c' is not an attribute path: only a schema URN may precede ':'",
    ],
  ])("%s", (_, operations, detail) => {
    expect(detailOf(() => patchUser(bjensen(), ...operations))).toBe(detail);
  });
});

describe("PATCH, more of what clients send", () => {
  const emails = (user: ScimResource) => user.emails as Record<string, unknown>[];

  it("adds through a value filter that selects nothing by creating the element the filter describes; replace does not", () => {
    const added = patchUser(bjensen(), {
      op: "add",
      path: 'emails[type eq "other" and primary eq false]',
      value: { value: "o@example.com" },
    }).resource;
    expect(emails(added)[2]).toEqual({ type: "other", primary: false, value: "o@example.com" });
    const created = patchUser(bjensen(), {
      op: "replace",
      path: 'emails[type eq "other" and primary eq true].value',
      value: "o@example.com",
    }).resource;
    expect(emails(created).map((e) => [e.value, e.primary])).toEqual([
      ["bjensen@example.com", false],
      ["babs@jensen.org", undefined],
      ["o@example.com", true],
    ]);
  });

  it("merges into the elements a filter selects on add, and replaces them whole on replace", () => {
    const merged = patchUser(bjensen(), { op: "add", path: 'emails[type eq "home"]', value: { display: "Home" } }).resource;
    expect(emails(merged)[1]).toEqual({ value: "babs@jensen.org", type: "home", display: "Home" });
    const replaced = patchUser(bjensen(), {
      op: "replace",
      path: 'emails[type eq "home"]',
      value: { value: "new@jensen.org", primary: true },
    }).resource;
    expect(emails(replaced)).toEqual([
      { value: "bjensen@example.com", type: "work", primary: false },
      { value: "new@jensen.org", primary: true },
    ]);
  });

  it("removes or clears one sub-attribute of the selected elements and keeps the elements", () => {
    const user = patchUser(bjensen(), { op: "remove", path: 'emails[type eq "work"].primary' }).resource;
    expect(emails(user)).toEqual([
      { value: "bjensen@example.com", type: "work" },
      { value: "babs@jensen.org", type: "home" },
    ]);
    const cleared = patchUser(bjensen(), { op: "replace", path: 'emails[type eq "home"].type', value: "" }).resource;
    expect(emails(cleared)[1]).toEqual({ value: "babs@jensen.org" });
  });

  it("sets, clears and removes a sub-attribute of every element when there is no filter", () => {
    expect(emails(patchUser(bjensen(), { op: "replace", path: "emails.display", value: "B" }).resource).map((e) => e.display)).toEqual([
      "B",
      "B",
    ]);
    expect(emails(patchUser(bjensen(), { op: "remove", path: "emails.type" }).resource).map((e) => e.type)).toEqual([undefined, undefined]);
    const user = { ...bjensen(), emails: [{ value: "a@example.com", type: "work" }, { value: "b@example.com" }] };
    // An element left with nothing is dropped.
    expect(patchUser(user, { op: "remove", path: "emails.value" }).resource.emails).toEqual([{ type: "work" }]);
    // With no elements: a remove or a clear changes nothing, a set has nothing to set.
    const { emails: _, ...none } = bjensen();
    expect(patchUser(none, { op: "remove", path: "emails.type" }).changed).toBe(false);
    expect(patchUser(none, { op: "replace", path: "emails.type", value: "" }).changed).toBe(false);
  });

  it("makes an email added as primary the only primary one, merging one it already has", () => {
    const user = patchUser(bjensen(), { op: "add", path: "emails", value: [{ value: "babs@jensen.org", primary: true }] }).resource;
    expect(emails(user)).toEqual([
      { value: "bjensen@example.com", type: "work", primary: false },
      { value: "babs@jensen.org", type: "home", primary: true },
    ]);
    const first = patchUser(bjensen(), { op: "add", path: "emails", value: [{ value: "bjensen@example.com", display: "Work" }] }).resource;
    expect(emails(first)).toEqual([
      { value: "bjensen@example.com", type: "work", primary: true, display: "Work" },
      { value: "babs@jensen.org", type: "home" },
    ]);
    // Stored as a single object rather than a list (resources are kept as sent): still added to.
    const single = { ...bjensen(), emails: { value: "a@example.com" } };
    expect(patchUser(single, { op: "add", path: "emails", value: [{ value: "b@example.com" }] }).resource.emails).toEqual([
      { value: "a@example.com" },
      { value: "b@example.com" },
    ]);
  });

  it("removes a whole multi-valued attribute when the remove's value is null", () => {
    expect(patchGroup(tourGuides(), { op: "remove", path: "members", value: null }).resource.members).toBeUndefined();
  });

  it("treats a blank path as none, and skips schemas in a path-less value in any case", () => {
    expect(patchUser(bjensen(), { op: "replace", path: " ", value: { title: "Boss" } }).resource.title).toBe("Boss");
    expect(patchUser(bjensen(), { op: "replace", path: "", value: { title: "Boss" } }).resource.title).toBe("Boss");
    const echoed = patchUser(bjensen(), {
      op: "replace",
      value: { Schemas: [USER_SCHEMA_ID], schemas: [USER_SCHEMA_ID], title: "Boss" },
    }).resource;
    expect(echoed.title).toBe("Boss");
    expect(echoed.schemas).toEqual([USER_SCHEMA_ID]);
  });

  it("removes the enterprise extension whole, and leaves schemas alone when only core attributes change", () => {
    const user = { ...bjensen(), schemas: [USER_SCHEMA_ID, ENTERPRISE], [ENTERPRISE]: { employeeNumber: "1" } };
    const removed = patchUser(user, { op: "remove", path: ENTERPRISE }).resource;
    expect(removed[ENTERPRISE]).toBeUndefined();
    expect(removed.schemas).toEqual([USER_SCHEMA_ID]);
    expect(patchUser(user, { op: "remove", path: ENTERPRISE, value: { employeeNumber: "1" } }).resource[ENTERPRISE]).toBeUndefined();
    // schemas as the client left them (here listing an extension with no attributes) are kept on a core change.
    const listed = { ...bjensen(), schemas: [USER_SCHEMA_ID, ENTERPRISE] };
    expect(patchUser(listed, { op: "replace", path: "title", value: "Boss" }).resource.schemas).toEqual([USER_SCHEMA_ID, ENTERPRISE]);
    expect(patchUser(listed, { op: "replace", value: { title: "Boss" } }).resource.schemas).toEqual([USER_SCHEMA_ID, ENTERPRISE]);
  });
});

describe("an unknown extension, in more detail", () => {
  it("writes into the extension the resource already has, however the path spells its URN", () => {
    const user = { ...bjensen(), schemas: [USER_SCHEMA_ID, CUSTOM], [CUSTOM]: { costCenter: "1" } };
    const patched = patchUser(user, { op: "replace", path: `${CUSTOM.toUpperCase()}:region`, value: "EU" }).resource;
    expect(patched[CUSTOM]).toEqual({ costCenter: "1", region: "EU" });
    expect(Object.keys(patched).filter((key) => key.toLowerCase() === CUSTOM.toLowerCase())).toEqual([CUSTOM]);
    expect(patched.schemas).toEqual([USER_SCHEMA_ID, CUSTOM]);
    expect(patchUser(user, { op: "replace", path: `${CUSTOM}:costCenter`, value: null }).resource[CUSTOM]).toBeUndefined();
  });

  it("sets, keeps and clears one sub-attribute of its complex attribute", () => {
    const user = { ...bjensen(), schemas: [USER_SCHEMA_ID, CUSTOM], [CUSTOM]: { sponsor: { value: "a", display: "A" } } };
    expect(patchUser(user, { op: "replace", path: `${CUSTOM}:sponsor.value`, value: "b" }).resource[CUSTOM]).toEqual({
      sponsor: { value: "b", display: "A" },
    });
    expect(patchUser(user, { op: "remove", path: `${CUSTOM}:sponsor.value` }).resource[CUSTOM]).toEqual({ sponsor: { display: "A" } });
    const gone = patchUser(
      { ...user, [CUSTOM]: { sponsor: { value: "a" }, costCenter: "1" } },
      { op: "remove", path: `${CUSTOM}:sponsor.value` },
    );
    expect(gone.resource[CUSTOM]).toEqual({ costCenter: "1" });
  });

  it("adds the whole extension object under its own URN, and removes it whole", () => {
    const added = patchUser(bjensen(), { op: "add", value: { [CUSTOM]: { costCenter: "1" } } }).resource;
    expect(added[CUSTOM]).toEqual({ costCenter: "1" });
    expect(added.schemas).toEqual([USER_SCHEMA_ID, CUSTOM]);
    const removed = patchUser(added, { op: "remove", path: CUSTOM, value: { costCenter: "1" } }).resource;
    expect(removed[CUSTOM]).toBeUndefined();
    expect(removed.schemas).toEqual([USER_SCHEMA_ID]);
  });

  it("keeps schemas in step: listed once, dropping a URN with nothing left, keeping the known ones", () => {
    const user = {
      ...bjensen(),
      schemas: [USER_SCHEMA_ID, ENTERPRISE, "urn:example:gone:2.0:User", CUSTOM],
      [CUSTOM]: { costCenter: "1" },
    };
    expect(patchUser(user, { op: "replace", path: `${CUSTOM}:costCenter`, value: "2" }).resource.schemas).toEqual([
      USER_SCHEMA_ID,
      ENTERPRISE,
      CUSTOM,
    ]);
    const unlisted = { ...bjensen(), schemas: undefined };
    expect(patchUser(unlisted, { op: "replace", path: `${CUSTOM}:costCenter`, value: "2" }).resource.schemas).toEqual([
      USER_SCHEMA_ID,
      CUSTOM,
    ]);
  });
});
