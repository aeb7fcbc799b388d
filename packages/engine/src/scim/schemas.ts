/** The attribute characteristics of RFC 7643 §2.2 and §7, as plain data a `/Schemas` endpoint serves as it is. */
export type AttributeType = "string" | "boolean" | "decimal" | "integer" | "dateTime" | "reference" | "binary" | "complex";
export type Mutability = "readOnly" | "readWrite" | "immutable" | "writeOnly";
export type Returned = "always" | "never" | "default" | "request";
export type Uniqueness = "none" | "server" | "global";

export interface AttributeDefinition {
  name: string;
  type: AttributeType;
  multiValued: boolean;
  description: string;
  required: boolean;
  caseExact: boolean;
  mutability: Mutability;
  returned: Returned;
  uniqueness: Uniqueness;
  canonicalValues?: string[];
  referenceTypes?: string[];
  subAttributes?: AttributeDefinition[];
}

export interface SchemaDefinition {
  id: string;
  name: string;
  description: string;
  attributes: AttributeDefinition[];
}

/** A resource type (RFC 7643 §6): its core schema and the extensions a resource may carry. */
export interface ScimResourceType {
  name: string;
  endpoint: string;
  schema: SchemaDefinition;
  extensions: SchemaDefinition[];
}

export const USER_SCHEMA_ID = "urn:ietf:params:scim:schemas:core:2.0:User";
export const ENTERPRISE_USER_SCHEMA_ID = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
export const GROUP_SCHEMA_ID = "urn:ietf:params:scim:schemas:core:2.0:Group";

type Characteristics = Partial<Omit<AttributeDefinition, "name" | "type" | "description">>;

// The RFC's defaults (§2.2): the definitions below state only where an attribute differs.
function attribute(name: string, type: AttributeType, description: string, more: Characteristics = {}): AttributeDefinition {
  return {
    name,
    type,
    multiValued: false,
    description,
    required: false,
    caseExact: false,
    mutability: "readWrite",
    returned: "default",
    uniqueness: "none",
    ...(type === "reference" ? { caseExact: true } : {}),
    ...more,
  };
}

const text = (name: string, description: string, more: Characteristics = {}) => attribute(name, "string", description, more);

/** The value/display/type/primary shape of RFC 7643 §2.4 shared by emails, phoneNumbers, ims, photos, ... */
function multiValued(name: string, description: string, types: string[], value: AttributeDefinition, more: Characteristics = {}) {
  return attribute(name, "complex", description, {
    multiValued: true,
    subAttributes: [
      value,
      text("display", "A human-readable name, primarily used for display purposes.", { mutability: more.mutability ?? "readWrite" }),
      text("type", `A label indicating the attribute's function, e.g. ${types.map((t) => `'${t}'`).join(", ")}.`, {
        canonicalValues: types,
        mutability: more.mutability ?? "readWrite",
      }),
      attribute("primary", "boolean", "Whether this is the preferred value of the attribute.", {
        mutability: more.mutability ?? "readWrite",
      }),
    ],
    ...more,
  });
}

/** id, externalId and meta (RFC 7643 §3.1): part of every resource, listed by no schema. */
export const COMMON_ATTRIBUTES: AttributeDefinition[] = [
  text("id", "A unique identifier for the resource, issued by the service provider.", {
    caseExact: true,
    mutability: "readOnly",
    returned: "always",
    uniqueness: "server",
  }),
  text("externalId", "An identifier for the resource as defined by the provisioning client.", { caseExact: true }),
  attribute("meta", "complex", "Resource metadata, maintained by the service provider.", {
    mutability: "readOnly",
    subAttributes: [
      text("resourceType", "The name of the resource type of the resource.", { caseExact: true, mutability: "readOnly" }),
      attribute("created", "dateTime", "When the resource was added to the service provider.", { mutability: "readOnly" }),
      attribute("lastModified", "dateTime", "When the resource was last changed.", { mutability: "readOnly" }),
      attribute("location", "reference", "The URI of the resource.", { mutability: "readOnly", referenceTypes: ["uri"] }),
      text("version", "The version (ETag) of the resource.", { caseExact: true, mutability: "readOnly" }),
    ],
  }),
];

export const USER_SCHEMA: SchemaDefinition = {
  id: USER_SCHEMA_ID,
  name: "User",
  description: "User Account",
  attributes: [
    text("userName", "Unique identifier for the User, used to authenticate; compared case-insensitively.", {
      required: true,
      uniqueness: "server",
    }),
    attribute("name", "complex", "The components of the user's real name.", {
      subAttributes: [
        text("formatted", "The full name, formatted for display."),
        text("familyName", "The family name of the User."),
        text("givenName", "The given name of the User."),
        text("middleName", "The middle name(s) of the User."),
        text("honorificPrefix", "The honorific prefix(es) of the User, e.g. 'Ms.'."),
        text("honorificSuffix", "The honorific suffix(es) of the User, e.g. 'III'."),
      ],
    }),
    text("displayName", "The name of the User, suitable for display to end-users."),
    text("nickName", "The casual way to address the user."),
    attribute("profileUrl", "reference", "A fully qualified URL of the User's online profile.", { referenceTypes: ["external"] }),
    text("title", "The user's title, such as 'Vice President'."),
    text("userType", "The relationship between the organization and the user, e.g. 'Employee'."),
    text("preferredLanguage", "The User's preferred written or spoken language (RFC 7231 Accept-Language)."),
    text("locale", "The User's default location for localizing items, e.g. 'en-US'."),
    text("timezone", "The User's time zone in the IANA Time Zone database format."),
    attribute("active", "boolean", "The User's administrative status."),
    text("password", "The User's cleartext password, write-only.", { mutability: "writeOnly", returned: "never" }),
    multiValued(
      "emails",
      "Email addresses for the user.",
      ["work", "home", "other"],
      text("value", "Email address for the user, canonicalized per RFC 5321."),
    ),
    multiValued(
      "phoneNumbers",
      "Phone numbers for the User.",
      ["work", "home", "mobile", "fax", "pager", "other"],
      text("value", "Phone number of the User."),
    ),
    multiValued(
      "ims",
      "Instant messaging addresses for the User.",
      ["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"],
      text("value", "Instant messaging address for the User."),
    ),
    multiValued(
      "photos",
      "URLs of photos of the User.",
      ["photo", "thumbnail"],
      attribute("value", "reference", "URL of a photo of the User.", { referenceTypes: ["external"] }),
    ),
    attribute("addresses", "complex", "A physical mailing address for this User.", {
      multiValued: true,
      subAttributes: [
        text("formatted", "The full mailing address, formatted for display."),
        text("streetAddress", "The full street address component."),
        text("locality", "The city or locality component."),
        text("region", "The state or region component."),
        text("postalCode", "The zip code or postal code component."),
        text("country", "The country name component (ISO 3166-1 alpha-2)."),
        text("type", "A label indicating the attribute's function, e.g. 'work' or 'home'.", { canonicalValues: ["work", "home", "other"] }),
        attribute("primary", "boolean", "Whether this is the preferred mailing address."),
      ],
    }),
    attribute("groups", "complex", "The groups the user belongs to, derived from Group membership.", {
      multiValued: true,
      mutability: "readOnly",
      subAttributes: [
        text("value", "The identifier of the User's group.", { mutability: "readOnly" }),
        attribute("$ref", "reference", "The URI of the corresponding 'Group' resource.", {
          referenceTypes: ["User", "Group"],
          mutability: "readOnly",
        }),
        text("display", "A human-readable name, primarily used for display purposes.", { mutability: "readOnly" }),
        text("type", "How the group membership was derived: 'direct' or 'indirect'.", {
          canonicalValues: ["direct", "indirect"],
          mutability: "readOnly",
        }),
      ],
    }),
    multiValued("entitlements", "A list of entitlements for the User.", [], text("value", "The value of an entitlement.")),
    multiValued("roles", "A list of roles for the User.", [], text("value", "The value of a role.")),
    multiValued(
      "x509Certificates",
      "A list of certificates issued to the User.",
      [],
      attribute("value", "binary", "The value of an X.509 certificate.", { caseExact: true }),
    ),
  ],
};

export const ENTERPRISE_USER_SCHEMA: SchemaDefinition = {
  id: ENTERPRISE_USER_SCHEMA_ID,
  name: "EnterpriseUser",
  description: "Enterprise User",
  attributes: [
    text("employeeNumber", "Numeric or alphanumeric identifier assigned to a person by the organization."),
    text("costCenter", "Identifies the name of a cost center."),
    text("organization", "Identifies the name of an organization."),
    text("division", "Identifies the name of a division."),
    text("department", "Identifies the name of a department."),
    attribute("manager", "complex", "The User's manager.", {
      subAttributes: [
        text("value", "The id of the SCIM resource representing the User's manager.", { caseExact: true }),
        attribute("$ref", "reference", "The URI of the SCIM resource representing the User's manager.", { referenceTypes: ["User"] }),
        text("displayName", "The displayName of the User's manager.", { mutability: "readOnly" }),
      ],
    }),
  ],
};

export const GROUP_SCHEMA: SchemaDefinition = {
  id: GROUP_SCHEMA_ID,
  name: "Group",
  description: "Group",
  attributes: [
    text("displayName", "A human-readable name for the Group.", { required: true }),
    attribute("members", "complex", "A list of members of the Group.", {
      multiValued: true,
      subAttributes: [
        text("value", "Identifier of the member of this Group.", { caseExact: true, mutability: "immutable" }),
        attribute("$ref", "reference", "The URI of the corresponding member resource.", {
          referenceTypes: ["User", "Group"],
          mutability: "immutable",
        }),
        text("display", "A human-readable name for the member (some providers send the userName).", { mutability: "immutable" }),
        text("type", "The type of member: 'User' or 'Group'.", { canonicalValues: ["User", "Group"], mutability: "immutable" }),
      ],
    }),
  ],
};

export const USER_RESOURCE_TYPE: ScimResourceType = {
  name: "User",
  endpoint: "/Users",
  schema: USER_SCHEMA,
  extensions: [ENTERPRISE_USER_SCHEMA],
};
export const GROUP_RESOURCE_TYPE: ScimResourceType = { name: "Group", endpoint: "/Groups", schema: GROUP_SCHEMA, extensions: [] };

/** A schema as RFC 7643 §7 / RFC 7644 §4 serve it from `/Schemas/{id}`. */
export function describeSchema(schema: SchemaDefinition, baseUrl = ""): Record<string, unknown> {
  return {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
    ...schema,
    meta: { resourceType: "Schema", location: `${baseUrl}/Schemas/${schema.id}` },
  };
}

const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/** An attribute or sub-attribute by name, found case-insensitively (RFC 7643 §2.1). */
export function findAttribute(attributes: readonly AttributeDefinition[], name: string): AttributeDefinition | undefined {
  return attributes.find((a) => same(a.name, name));
}

/** The schema a URN names, core or extension, found case-insensitively. */
export function findSchema(resourceType: ScimResourceType, urn: string): SchemaDefinition | undefined {
  return [resourceType.schema, ...resourceType.extensions].find((s) => same(s.id, urn));
}

/**
 * The definition an attribute path names, e.g. `userName`, `name.givenName`, `meta.lastModified`,
 * `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value`, `emails[type eq "work"].value`;
 * undefined when unknown.
 * A name with no URN is looked up in the core schema and the common attributes, then in the extensions.
 */
export function lookupAttribute(
  resourceType: ScimResourceType,
  written: string,
): { schema: SchemaDefinition; attribute: AttributeDefinition; subAttribute?: AttributeDefinition } | undefined {
  // Identity providers list attributes flattened like `emails[type eq "work"].value`: the filter does not change the definition.
  const path = written.replace(/\[[^\]]*\]/, "");
  const colon = path.lastIndexOf(":");
  const urn = colon >= 0 ? path.slice(0, colon) : undefined;
  const [name = "", sub, ...rest] = path.slice(colon + 1).split(".");
  if (rest.length > 0) return undefined;
  const found = resolveAttribute(resourceType, urn, name);
  if (!found) return undefined;
  if (sub === undefined) return found;
  const subAttribute = findAttribute(found.attribute.subAttributes ?? [], sub);
  return subAttribute ? { ...found, subAttribute } : undefined;
}

/** Where an attribute lives: core and common attributes at the top, extension ones under their URN. */
export function resolveAttribute(
  resourceType: ScimResourceType,
  urn: string | undefined,
  name: string,
): { schema: SchemaDefinition; attribute: AttributeDefinition } | undefined {
  if (urn !== undefined) {
    const schema = findSchema(resourceType, urn);
    if (!schema) return undefined;
    const attribute =
      findAttribute(schema.attributes, name) ?? (schema === resourceType.schema ? findAttribute(COMMON_ATTRIBUTES, name) : undefined);
    return attribute && { schema, attribute };
  }
  const core = findAttribute(resourceType.schema.attributes, name) ?? findAttribute(COMMON_ATTRIBUTES, name);
  if (core) return { schema: resourceType.schema, attribute: core };
  for (const schema of resourceType.extensions) {
    const attribute = findAttribute(schema.attributes, name);
    if (attribute) return { schema, attribute };
  }
  return undefined;
}
