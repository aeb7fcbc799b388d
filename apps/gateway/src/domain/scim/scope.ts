import type { Connection, ScimRow } from "@unifold/db";
import type { Caller } from "../caller.ts";
import { Failure } from "../failure.ts";
import type { ScimParts } from "./parts.ts";
import { GROUP_RESOURCE_TYPE, type PushIntegration, ScimProblem, type ScimResourceType, USER_RESOURCE_TYPE } from "@unifold/engine";

/** One request's reach: the connection its token opens, that connection's push integration, and the base URL it was called at. */
export interface ScimScope {
  connection: Connection;
  integration: PushIntegration;
  /** `<public url>/scim/v2/<connection id>`, for `meta.location`. */
  baseUrl: string;
}

export type Endpoint = "Users" | "Groups";
export const resourceTypes: Record<Endpoint, ScimResourceType> = { Users: USER_RESOURCE_TYPE, Groups: GROUP_RESOURCE_TYPE };
/** The stored type of an endpoint's resources, and back. */
export const typeOf = (endpoint: Endpoint): ScimRow["type"] => (endpoint === "Users" ? "User" : "Group");
export const endpointOf = (type: ScimRow["type"]): Endpoint => (type === "User" ? "Users" : "Groups");

/** A connection the caller's API key may see (another tenant's answers as an unknown one). */
export async function visibleConnection(parts: Pick<ScimParts, "connections">, caller: Caller, id: string): Promise<Connection> {
  const connection = await parts.connections.find(id);
  const bound = caller.apiKey.tenantId;
  if (!connection || (bound && connection.tenantId !== bound)) throw new Failure("not_found", `no connection with id ${id}`);
  return connection;
}

/** A request the service refuses without a scimType of RFC 7644's list: 401, 404, 412. */
export class ScimRefusal extends Error {
  constructor(
    readonly status: 401 | 404 | 412 | 429,
    readonly detail: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
  }
}

export const notFound = (endpoint: Endpoint, id: string) => new ScimRefusal(404, `no ${resourceTypes[endpoint].name} with id ${id}`);

/** The unique name of a resource, lower-cased: a User's userName, a Group's displayName (RFC 7643 §4.1.1, and identity providers' rule for groups). */
export function nameKeyOf(endpoint: Endpoint, resource: Record<string, unknown>): string {
  const name = endpoint === "Users" ? resource.userName : resource.displayName;
  if (typeof name !== "string" || name.trim() === "")
    throw new ScimProblem("invalidValue", `a ${resourceTypes[endpoint].name} needs '${endpoint === "Users" ? "userName" : "displayName"}'`);
  return name.toLowerCase();
}
