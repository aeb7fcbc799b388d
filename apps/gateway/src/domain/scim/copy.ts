import { z } from "zod";
import type { Caller } from "../caller.ts";
import { openCursor } from "../cursor.ts";
import { Failure } from "../failure.ts";
import type { ScimParts } from "./parts.ts";
import { present } from "./resources.ts";
import { endpointOf, type ScimScope, visibleConnection } from "./scope.ts";

/*
 * A pushed directory read through the unified API: answered from the copy its provider's pushes
 * made (no vendor to call), in the same shapes, filters and cursors as a pulled one.
 */

/** What a unified list asks (the unified module's ListInput). */
export interface CopyListInput {
  connectionId: string;
  resource: string;
  parentId?: string | undefined;
  filters: Partial<Record<string, string>>;
  limit: number;
  cursor?: string | undefined;
}

const FILTERS: Record<string, readonly string[]> = { users: ["status", "username", "email"], groups: [], group_members: [] };
const position = z.object({ a: z.string() });

async function scopeFor(parts: ScimParts, caller: Caller, id: string): Promise<ScimScope> {
  const connection = await visibleConnection(parts, caller, id);
  const integration = parts.integrations.get(connection.integration);
  if (!integration) throw new Failure("not_found", `no connection with id ${id}`);
  if (connection.status === "disabled") throw new Failure("forbidden", `connection ${id} is disabled`);
  // Resource URLs relative to the gateway: the caller may reach it at another address than the provider does.
  return { connection, integration, baseUrl: `/scim/v2/${connection.id}` };
}

function checkResource(scope: ScimScope, resource: string, filters: Partial<Record<string, string>>) {
  const supported = FILTERS[resource];
  if (!supported)
    throw new Failure(
      "resource_not_supported",
      `${scope.integration.name} directories push users, groups and group members, not ${resource}`,
    );
  for (const name of Object.keys(filters)) {
    if (!supported.includes(name))
      throw new Failure(
        "filter_not_supported",
        `${scope.integration.name} (${scope.integration.slug}) cannot filter ${resource.replace("_", " ")} by ${name}`,
        {
          details: [{ path: name, message: supported.length ? `supported: ${supported.join(", ")}` : "no filters are supported here" }],
        },
      );
  }
}

/** What was pushed, as `remote_data` carries it: the SCIM resource (a membership: its element of the group's members). */
async function remoteOf(parts: ScimParts, scope: ScimScope, resource: string, ids: string[]): Promise<Map<string, unknown>> {
  const remote = new Map<string, unknown>();
  const type = resource === "users" ? "User" : "Group";
  const groupIds = resource === "group_members" ? [...new Set(ids.map((id) => id.split("/")[0]!))] : ids;
  for (const row of await parts.store.byIds(scope.connection.id, type, groupIds)) {
    if (resource !== "group_members") remote.set(row.id, present(scope, endpointOf(row.type), row));
    else
      for (const member of Array.isArray(row.body.members) ? (row.body.members as { value?: unknown }[]) : [])
        remote.set(`${row.id}/${String(member.value)}`, member);
  }
  return remote;
}

export async function listCopy(parts: ScimParts, caller: Caller, input: CopyListInput) {
  const scope = await scopeFor(parts, caller, input.connectionId);
  const filters = Object.fromEntries(Object.entries(input.filters).filter(([, v]) => v !== undefined)) as Record<string, string>;
  checkResource(scope, input.resource, filters);
  if (input.resource === "group_members" && input.parentId === undefined)
    throw new Failure("invalid_request", "a group's members are listed under that group");
  const binding = `pushed|${scope.connection.id}|${input.resource}|${input.parentId ?? ""}|${JSON.stringify(filters)}`;
  const opened = position.safeParse(await openCursor(parts.cursors, binding, input.cursor));
  if (input.cursor !== undefined && !opened.success) throw new Failure("invalid_cursor", "the cursor does not belong to this list");
  const page = await parts.copy.live({
    connectionId: scope.connection.id,
    resource: input.resource,
    prefix: input.parentId === undefined ? undefined : `${input.parentId}/`,
    ...filters,
    after: opened.success ? opened.data.a : undefined,
    limit: input.limit,
  });
  const remote = await remoteOf(
    parts,
    scope,
    input.resource,
    page.rows.map((row) => row.remoteId),
  );
  const last = page.rows.at(-1);
  return {
    // A membership's copy carries its group's id; the unified member has only the user's.
    objects: page.rows.map((row) => withoutGroup(input.resource, row.data)),
    bytes: page.rows.map((row) => Buffer.from(JSON.stringify(remote.get(row.remoteId) ?? null))),
    next_cursor: page.more && last ? await parts.cursors.seal(binding, { a: last.remoteId }) : null,
    rateLimit: {} as Record<string, string>,
  };
}

export async function getCopy(
  parts: ScimParts,
  caller: Caller,
  input: { connectionId: string; resource: string; id?: string | undefined; withRemote: boolean },
) {
  const scope = await scopeFor(parts, caller, input.connectionId);
  checkResource(scope, input.resource, {});
  if (input.id === undefined)
    throw new Failure("resource_not_supported", `${scope.integration.name} directories have no ${input.resource}`);
  const [row] = (await parts.copy.live({ connectionId: scope.connection.id, resource: input.resource, ids: [input.id], limit: 1 })).rows;
  if (!row) throw new Failure("not_found", `${scope.integration.name} has no such ${input.resource}`);
  const object: Record<string, unknown> = { ...withoutGroup(input.resource, row.data) };
  if (input.withRemote) object.remote_data = (await remoteOf(parts, scope, input.resource, [row.remoteId])).get(row.remoteId) ?? null;
  return { object, rateLimit: {} as Record<string, string> };
}

function withoutGroup(resource: string, data: Record<string, unknown>): Record<string, unknown> {
  if (resource !== "group_members") return data;
  const { group_id: _group, ...member } = data;
  return member;
}
