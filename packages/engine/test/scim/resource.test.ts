import { describe, expect, it } from "vitest";
import {
  ENTERPRISE_USER_SCHEMA,
  ENTERPRISE_USER_SCHEMA_ID as ENTERPRISE,
  GROUP_RESOURCE_TYPE,
  GROUP_SCHEMA,
  GROUP_SCHEMA_ID,
  USER_RESOURCE_TYPE,
  USER_SCHEMA,
  USER_SCHEMA_ID,
  describeSchema,
  lookupAttribute,
  normaliseResource,
  presentResource,
  type AttributeDefinition,
  type ScimType,
} from "../../src/index.ts";
import { problemOf } from "./problem-of.ts";

describe("SCIM schemas (RFC 7643 §7)", () => {
  it("serves each schema as a /Schemas resource with every attribute characteristic", () => {
    const served = describeSchema(USER_SCHEMA, "https://gw.example/scim/v2");
    expect(served).toMatchObject({
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
      id: USER_SCHEMA_ID,
      name: "User",
      meta: { resourceType: "Schema", location: `https://gw.example/scim/v2/Schemas/${USER_SCHEMA_ID}` },
    });
    const walk = (attributes: AttributeDefinition[]): AttributeDefinition[] =>
      attributes.flatMap((a) => [a, ...walk(a.subAttributes ?? [])]);
    for (const schema of [USER_SCHEMA, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA])
      for (const attribute of walk(schema.attributes)) {
        expect(Object.keys(attribute)).toEqual(
          expect.arrayContaining([
            "name",
            "type",
            "multiValued",
            "description",
            "required",
            "caseExact",
            "mutability",
            "returned",
            "uniqueness",
          ]),
        );
        expect(attribute.type === "complex").toBe(attribute.subAttributes !== undefined);
      }
    expect(JSON.parse(JSON.stringify(served))).toEqual(served);
  });

  it("states the characteristics Okta and Entra rely on", () => {
    expect(lookupAttribute(USER_RESOURCE_TYPE, "userName")?.attribute).toMatchObject({
      caseExact: false,
      uniqueness: "server",
      required: true,
    });
    expect(lookupAttribute(USER_RESOURCE_TYPE, "active")?.attribute.type).toBe("boolean");
    expect(lookupAttribute(USER_RESOURCE_TYPE, "id")?.attribute).toMatchObject({ mutability: "readOnly", returned: "always" });
    expect(lookupAttribute(USER_RESOURCE_TYPE, "password")?.attribute).toMatchObject({ mutability: "writeOnly", returned: "never" });
    expect(lookupAttribute(GROUP_RESOURCE_TYPE, "members")?.attribute.subAttributes?.map((a) => a.name)).toEqual([
      "value",
      "$ref",
      "display",
      "type",
    ]);
    expect(lookupAttribute(USER_RESOURCE_TYPE, `${ENTERPRISE}:manager`)?.attribute.subAttributes?.map((a) => a.name)).toEqual([
      "value",
      "$ref",
      "displayName",
    ]);
    expect(ENTERPRISE_USER_SCHEMA.attributes.map((a) => a.name)).toEqual([
      "employeeNumber",
      "costCenter",
      "organization",
      "division",
      "department",
      "manager",
    ]);
  });

  it("finds attributes case-insensitively, with or without a URN, and flattened as Entra lists them", () => {
    expect(lookupAttribute(USER_RESOURCE_TYPE, "USERNAME")?.attribute.name).toBe("userName");
    expect(lookupAttribute(USER_RESOURCE_TYPE, "name.GIVENNAME")?.subAttribute?.name).toBe("givenName");
    expect(lookupAttribute(USER_RESOURCE_TYPE, `${USER_SCHEMA_ID}:emails.value`)?.subAttribute?.name).toBe("value");
    expect(lookupAttribute(USER_RESOURCE_TYPE, `${ENTERPRISE.toUpperCase()}:Department`)).toMatchObject({
      schema: { id: ENTERPRISE },
      attribute: { name: "department" },
    });
    expect(lookupAttribute(USER_RESOURCE_TYPE, 'emails[type eq "work"].value')?.subAttribute?.name).toBe("value");
    expect(lookupAttribute(USER_RESOURCE_TYPE, "meta.lastModified")?.subAttribute?.type).toBe("dateTime");
    expect(lookupAttribute(USER_RESOURCE_TYPE, "favouriteColour")).toBeUndefined();
    expect(lookupAttribute(USER_RESOURCE_TYPE, "name.nickname")).toBeUndefined();
    expect(lookupAttribute(GROUP_RESOURCE_TYPE, "userName")).toBeUndefined();
  });
});

describe("normalising a POST or PUT body", () => {
  it("takes Okta's create-user body, dropping the readOnly groups", () => {
    const body = {
      schemas: [USER_SCHEMA_ID],
      userName: "jane@example.com",
      name: { givenName: "Jane", familyName: "Doe" },
      emails: [{ primary: true, value: "jane@example.com", type: "work" }],
      displayName: "Jane Doe",
      locale: "en-US",
      externalId: "00u1",
      groups: [],
      password: "t1meMa$heen",
      active: true,
    };
    const { groups: _groups, ...kept } = body;
    expect(normaliseResource(body, USER_RESOURCE_TYPE)).toEqual(kept);
  });

  it("takes Entra's create-user body: readOnly meta and empty roles dropped, enterprise data kept under its URN", () => {
    const body = {
      schemas: [USER_SCHEMA_ID, ENTERPRISE],
      externalId: "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
      userName: "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
      active: "True",
      emails: [{ primary: true, type: "work", value: "Test_User_fd0ea19b@testuser.com" }],
      meta: { resourceType: "User" },
      name: { formatted: "givenName familyName", familyName: "familyName", givenName: "givenName" },
      roles: [],
      [ENTERPRISE]: { department: "Tours", manager: "m1" },
    };
    expect(normaliseResource(body, USER_RESOURCE_TYPE)).toEqual({
      schemas: [USER_SCHEMA_ID, ENTERPRISE],
      externalId: body.externalId,
      userName: body.userName,
      active: true,
      emails: body.emails,
      name: body.name,
      [ENTERPRISE]: { department: "Tours", manager: { value: "m1" } },
    });
  });

  it("writes attribute names in the schema's case and drops unassigned values", () => {
    expect(
      normaliseResource(
        { USERNAME: "j", DisplayName: "", Name: { GivenName: "J", familyName: null }, Emails: [], id: "mine" },
        USER_RESOURCE_TYPE,
      ),
    ).toEqual({
      schemas: [USER_SCHEMA_ID],
      userName: "j",
      name: { givenName: "J" },
    });
  });

  it("keeps an extension it does not know as sent, listed in schemas, so a provider's custom attributes never block a user", () => {
    const custom = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User";
    const normalised = normaliseResource(
      { schemas: [USER_SCHEMA_ID, custom], userName: "j", [custom]: { costCenter: "42", Badge: { id: 7 } } },
      USER_RESOURCE_TYPE,
    );
    expect(normalised).toEqual({ schemas: [USER_SCHEMA_ID, custom], userName: "j", [custom]: { costCenter: "42", Badge: { id: 7 } } });
    // An unknown attribute of the core schema is still refused: it is a typo or a wrong schema.
    expect(problemOf(() => normaliseResource({ userName: "j", costCenter: "42" }, USER_RESOURCE_TYPE))).toBe("invalidSyntax");
  });

  it("takes the manager as Microsoft's tutorial writes it, a one-element list, and refuses two", () => {
    const one = normaliseResource({ userName: "j", [ENTERPRISE]: { manager: [{ value: "m-1" }] } }, USER_RESOURCE_TYPE);
    expect(one[ENTERPRISE]).toEqual({ manager: { value: "m-1" } });
    const two = () =>
      normaliseResource({ userName: "j", [ENTERPRISE]: { manager: [{ value: "m-1" }, { value: "m-2" }] } }, USER_RESOURCE_TYPE);
    expect(problemOf(two)).toBe("invalidValue");
  });

  it("takes a group with no members (Okta and Entra create groups empty)", () => {
    expect(normaliseResource({ schemas: [GROUP_SCHEMA_ID], displayName: "Sales", members: [] }, GROUP_RESOURCE_TYPE)).toEqual({
      schemas: [GROUP_SCHEMA_ID],
      displayName: "Sales",
    });
  });

  it.each<[string, ScimType, unknown]>([
    ["a body that is not an object", "invalidSyntax", []],
    ["an unknown attribute", "invalidSyntax", { userName: "j", favouriteColour: "blue" }],
    ["an extension that is not an object", "invalidSyntax", { userName: "j", [ENTERPRISE]: "x" }],
    ["a missing userName", "invalidValue", { displayName: "J" }],
    ["an empty userName", "invalidValue", { userName: "" }],
    ["a boolean that is not one", "invalidValue", { userName: "j", active: "yes" }],
    ["a number for a string", "invalidValue", { userName: 5 }],
    ["an unknown sub-attribute", "invalidValue", { userName: "j", name: { nick: "x" } }],
  ])("refuses %s as %s", (_what, scimType, body) => {
    expect(problemOf(() => normaliseResource(body, USER_RESOURCE_TYPE))).toBe(scimType);
  });

  it("leaves the password out of what a client sees", () => {
    expect(presentResource({ userName: "j", password: "secret" }, USER_RESOURCE_TYPE)).toEqual({ userName: "j" });
  });
});
