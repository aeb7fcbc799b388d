import { describeSchema, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA } from "@unifold/engine";
import { LIST_SCHEMA, MAX_RESULTS } from "./list.ts";
import { resourceTypes, ScimRefusal } from "./scope.ts";

/** What the service supports (RFC 7643 §5), as identity providers read it before provisioning. */
export function serviceProviderConfig(baseUrl: string) {
  return {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
    documentationUri: "https://github.com/unifold/unifold/blob/main/docs/scim.md",
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: MAX_RESULTS },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: true },
    authenticationSchemes: [
      {
        type: "oauthbearertoken",
        name: "Bearer token",
        description: "The token shown once when the connection was created (POST /connections/{id}/scim-token issues another).",
        primary: true,
      },
    ],
    meta: { resourceType: "ServiceProviderConfig", location: `${baseUrl}/ServiceProviderConfig` },
  };
}

function resourceType(endpoint: "Users" | "Groups", baseUrl: string) {
  const type = resourceTypes[endpoint];
  return {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
    id: type.name,
    name: type.name,
    endpoint: type.endpoint,
    schema: type.schema.id,
    schemaExtensions: type.extensions.map((schema) => ({ schema: schema.id, required: false })),
    meta: { resourceType: "ResourceType", location: `${baseUrl}/ResourceTypes/${type.name}` },
  };
}

const list = (resources: unknown[]) => ({
  schemas: [LIST_SCHEMA],
  totalResults: resources.length,
  startIndex: 1,
  itemsPerPage: resources.length,
  Resources: resources,
});

/** `/ResourceTypes` and `/ResourceTypes/{name}`. */
export function resourceTypesOf(baseUrl: string, name?: string) {
  const all = (["Users", "Groups"] as const).map((endpoint) => resourceType(endpoint, baseUrl));
  if (name === undefined) return list(all);
  const found = all.find((type) => type.id.toLowerCase() === name.toLowerCase());
  if (!found) throw new ScimRefusal(404, `no resource type ${name}`);
  return found;
}

/** `/Schemas` and `/Schemas/{urn}`: User, the enterprise extension and Group. */
export function schemasOf(baseUrl: string, id?: string) {
  const all = [USER_SCHEMA, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA].map((schema) => describeSchema(schema, baseUrl));
  if (id === undefined) return list(all);
  const found = all.find((schema) => String(schema.id).toLowerCase() === id.toLowerCase());
  if (!found) throw new ScimRefusal(404, `no schema ${id}`);
  return found;
}
