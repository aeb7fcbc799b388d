// The users mappings of mappings/*/users.jsonata written by hand in TypeScript, as the yardstick
// the benchmark measures JSONata against. bench/gateway.ts checks both give the same output first.

const joinNames = (...parts: unknown[]) => parts.filter((p) => typeof p === "string").join(" ");
const status = (active: unknown) => (active === true ? "active" : active === false ? "inactive" : null);
const address = (a: any) => ({
  type: a.type,
  street: a.streetAddress,
  city: a.locality,
  region: a.region,
  postal_code: a.postalCode,
  country: a.country,
});
const list = (value: unknown): any[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

const ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const JOSTLE = "urn:ietf:params:scim:schemas:extension:jostle:2.0:User";

export const handWritten = {
  jostle: (r: any) => ({
    id: r.id,
    external_id: r.externalId,
    username: r.userName,
    name: r.name?.formatted ? r.name.formatted : joinNames(r.name?.givenName, r.name?.familyName),
    first_name: r.name?.givenName,
    last_name: r.name?.familyName,
    title: r.title,
    emails: list(r.emails).map((e) => ({ email: e.value, type: e.type, is_primary: e.primary === true })),
    phones: list(r.phoneNumbers).map((p) => ({ number: p.value, extension: null, type: p.type })),
    status: status(r.active),
    department: r[ENTERPRISE]?.department,
    manager_id: r[ENTERPRISE]?.manager?.value,
    employee_number: r[JOSTLE]?.employeeID,
    addresses: list(r.addresses).map(address),
    created_at: r.meta?.created,
    updated_at: r.meta?.lastModified,
  }),

  postman: (r: any) => ({
    id: r.id,
    external_id: r.externalId,
    username: r.userName,
    name: r.name?.givenName !== undefined || r.name?.familyName !== undefined ? joinNames(r.name?.givenName, r.name?.familyName) : null,
    first_name: r.name?.givenName,
    last_name: r.name?.familyName,
    emails:
      r.emails !== undefined
        ? list(r.emails).map((e) => ({ email: e.value, type: e.type, is_primary: e.primary === true }))
        : r.userName
          ? [{ email: r.userName, type: "work", is_primary: true }]
          : [],
    phones: list(r.phoneNumbers).map((p) => ({ number: p.value, extension: null, type: p.type })),
    status: status(r.active),
    created_at: r.meta?.created,
    updated_at: r.meta?.lastModified,
  }),

  jumpcloud: (r: any) => ({
    id: r._id,
    external_id: r.externalId,
    username: r.username,
    name: r.displayname ? r.displayname : joinNames(r.firstname, r.lastname),
    first_name: r.firstname,
    last_name: r.lastname,
    title: r.jobTitle,
    emails: [
      ...(r.email ? [{ email: r.email, type: "work", is_primary: true }] : []),
      ...(r.alternateEmail ? [{ email: r.alternateEmail, type: "alternate", is_primary: false }] : []),
    ],
    phones: list(r.phoneNumbers).map((p) => ({ number: p.number, extension: null, type: p.type })),
    status:
      r.state === "ACTIVATED"
        ? r.suspended === true
          ? "inactive"
          : "active"
        : r.state === "SUSPENDED"
          ? "inactive"
          : r.state === "STAGED"
            ? "invited"
            : r.state,
    department: r.department,
    manager_id: r.manager,
    employee_number: r.employeeIdentifier,
    addresses: list(r.addresses).map(address),
    organizations: r.organization ? [{ id: r.organization, name: null }] : [],
    is_2fa_enabled:
      r.mfa?.configured !== undefined || r.totp_enabled !== undefined ? r.mfa?.configured === true || r.totp_enabled === true : null,
    created_at: r.created,
  }),
};
