import { isDeepStrictEqual } from "node:util";
import { type RecordChange, ScimNameTaken, type ScimRow, type ScimTransaction } from "@unifold/db";
import {
  applyPatch,
  normaliseResource,
  presentResource,
  readPatchRequest,
  ScimProblem,
  type UnifiedResource,
  unifyRecords,
} from "@unifold/engine";
import type { Emit } from "../events/index.ts";
import { eventsOfChange, recordHash } from "../events/index.ts";
import type { ScimParts } from "./parts.ts";
import { type Endpoint, endpointOf, nameKeyOf, notFound, resourceTypes, ScimRefusal, type ScimScope, typeOf } from "./scope.ts";

const etagOf = (row: Pick<ScimRow, "version">) => `W/"${row.version}"`;

/** A stored resource as SCIM answers it: its attributes, then id and meta from the row (RFC 7643 §3.1). */
export function present(scope: ScimScope, endpoint: Endpoint, row: ScimRow): Record<string, unknown> {
  const type = resourceTypes[endpoint];
  const { schemas, ...attributes } = row.body;
  return presentResource(
    {
      schemas,
      id: row.id,
      ...attributes,
      meta: {
        resourceType: type.name,
        created: row.createdAt.toISOString(),
        lastModified: row.modifiedAt.toISOString(),
        version: etagOf(row),
        location: `${scope.baseUrl}${type.endpoint}/${row.id}`,
      },
    },
    type,
  );
}

/** What a client sent, as stored: canonical names, no id or meta (the row has them), and never a password. */
function storable(endpoint: Endpoint, body: unknown): Record<string, unknown> {
  const resource = normaliseResource(body, resourceTypes[endpoint]);
  // Unifold provisions no logins: a password Okta sends along is dropped, never kept.
  delete resource.password;
  return resource;
}

const externalIdOf = (resource: Record<string, unknown>) => (typeof resource.externalId === "string" ? resource.externalId : null);

/** A precondition (`If-Match`) the current version does not meet is refused before anything is written. */
function checkVersion(row: ScimRow, ifMatch: string | undefined) {
  if (ifMatch === undefined || ifMatch.trim() === "*") return;
  const wanted = ifMatch.split(",").map((tag) => tag.trim().replace(/^W\//, ""));
  if (!wanted.includes(`"${row.version}"`)) throw new ScimRefusal(412, `the resource is at version ${etagOf(row)}`);
}

export async function createResource(parts: ScimParts, scope: ScimScope, endpoint: Endpoint, body: unknown) {
  const resource = storable(endpoint, body);
  const nameKey = nameKeyOf(endpoint, resource);
  const row = await write(parts, scope, endpoint, async (tx) => {
    const made = await tx.insert({
      connectionId: scope.connection.id,
      type: typeOf(endpoint),
      nameKey,
      externalId: externalIdOf(resource),
      body: resource,
    });
    return { row: made, before: undefined };
  });
  return row!;
}

export async function getResource(parts: ScimParts, scope: ScimScope, endpoint: Endpoint, id: string): Promise<ScimRow> {
  const row = await parts.store.get(scope.connection.id, typeOf(endpoint), id);
  if (!row) throw notFound(endpoint, id);
  return row;
}

/** PUT: the whole resource is replaced; attributes left out are cleared (RFC 7644 §3.5.1). */
export async function replaceResource(parts: ScimParts, scope: ScimScope, endpoint: Endpoint, id: string, body: unknown, ifMatch?: string) {
  const resource = storable(endpoint, body);
  const nameKey = nameKeyOf(endpoint, resource);
  return (await write(parts, scope, endpoint, async (tx) => {
    const before = await lock(tx, scope, endpoint, id);
    checkVersion(before, ifMatch);
    if (sameBody(before.body, resource)) return { row: before, before };
    return { row: await tx.update(id, { nameKey, externalId: externalIdOf(resource), body: resource }), before };
  }))!;
}

/** PATCH (RFC 7644 §3.5.2): all operations or none; one that changes nothing writes nothing and announces nothing. */
export async function patchResource(parts: ScimParts, scope: ScimScope, endpoint: Endpoint, id: string, body: unknown, ifMatch?: string) {
  const operations = readPatchRequest(body);
  return (await write(parts, scope, endpoint, async (tx) => {
    const before = await lock(tx, scope, endpoint, id);
    checkVersion(before, ifMatch);
    // The id takes part so that a path-less value echoing it (Okta's group rename) is no change.
    const patched = applyPatch({ ...before.body, id: before.id }, operations, resourceTypes[endpoint]);
    if (!patched.changed) return { row: before, before };
    const { id: _id, ...resource } = patched.resource;
    delete resource.password;
    const nameKey = nameKeyOf(endpoint, resource);
    return { row: await tx.update(id, { nameKey, externalId: externalIdOf(resource), body: resource }), before };
  }))!;
}

/** DELETE: a deleted user also leaves every group it was a member of (RFC 7643 §4.1.2 derives membership from the group). */
export async function removeResource(parts: ScimParts, scope: ScimScope, endpoint: Endpoint, id: string, ifMatch?: string) {
  await write(parts, scope, endpoint, async (tx) => {
    const before = await lock(tx, scope, endpoint, id);
    checkVersion(before, ifMatch);
    const left: ScimRow[] = [];
    if (endpoint === "Users") {
      for (const group of await tx.groupsWithMember(scope.connection.id, id)) {
        const members = (group.body.members as { value?: unknown }[]).filter((member) => member.value !== id);
        left.push(await tx.update(group.id, { nameKey: group.nameKey, externalId: group.externalId, body: { ...group.body, members } }));
      }
    }
    await tx.remove(id);
    return { row: undefined, before, also: left };
  });
}

async function lock(tx: ScimTransaction, scope: ScimScope, endpoint: Endpoint, id: string): Promise<ScimRow> {
  const row = await tx.lock(scope.connection.id, typeOf(endpoint), id);
  if (!row) throw notFound(endpoint, id);
  return row;
}

// By value: the stored body comes back from jsonb with its keys in another order than the client sent.
const sameBody = (a: Record<string, unknown>, b: Record<string, unknown>) => isDeepStrictEqual(a, b);

/**
 * One write: the SCIM resource, the unified copy mapped from it, and the events of what changed
 * in that copy, all in one transaction (so no change is recorded without its event, nor twice).
 * A name another resource holds is a 409 uniqueness.
 */
async function write(
  parts: ScimParts,
  scope: ScimScope,
  endpoint: Endpoint,
  work: (tx: ScimTransaction) => Promise<{ row: ScimRow | undefined; before: ScimRow | undefined; also?: ScimRow[] }>,
): Promise<ScimRow | undefined> {
  try {
    return await parts.events.publish((emit) =>
      parts.store.transaction(async (tx) => {
        const { row, before, also = [] } = await work(tx);
        if (row !== before) await recordCopy(scope, tx, emit, row ?? before!, row === undefined);
        // Other resources the write changed (the groups a deleted user leaves).
        for (const changed of also) await recordCopy(scope, tx, emit, changed, false);
        return row;
      }),
    );
  } catch (error) {
    if (error instanceof ScimNameTaken) {
      const name = endpoint === "Users" ? "userName" : "displayName";
      throw new ScimProblem(
        "uniqueness",
        `another ${resourceTypes[endpoint].name} of this directory has that ${name} (compared ignoring case)`,
      );
    }
    throw error;
  }
}

/** The unified records a stored resource makes: a user, or a group and one record per member. */
async function unifiedOf(scope: ScimScope, row: ScimRow) {
  const { integration } = scope;
  const map = async (resource: UnifiedResource, mapping: string[], records: unknown[]) =>
    (await unifyRecords(integration, resource, { response_mapping: mapping }, records)).objects;
  const shown = present(scope, endpointOf(row.type), row);
  if (row.type === "User") {
    const [user] = await map("users", integration.resources.users.mapping, [shown]);
    return { own: user, members: [] as Record<string, unknown>[] };
  }
  const [group] = await map("groups", integration.resources.groups.mapping, [shown]);
  const listed = Array.isArray(row.body.members) ? row.body.members : [];
  const members = (await map("group_members", integration.resources.group_members.mapping, listed))
    .filter((member): member is Record<string, unknown> => member !== undefined && typeof member.user_id === "string")
    .map((member) => ({ group_id: row.id, ...member }));
  return { own: group, members };
}

/** Writes the copy of one resource (or its deletion) and emits the events its changes make. */
async function recordCopy(scope: ScimScope, tx: ScimTransaction, emit: Emit, row: ScimRow, deleted: boolean) {
  const connectionId = scope.connection.id;
  const resource = row.type === "User" ? "users" : "groups";
  const changes: { resource: "users" | "groups" | "group_members"; change: RecordChange }[] = [];
  const note = (of: "users" | "groups" | "group_members", list: RecordChange[]) =>
    changes.push(...list.map((change) => ({ resource: of, change })));
  const memberKey = (m: Record<string, unknown>) => `${row.id}/${m.user_id as string}`;
  const { own, members } = deleted ? { own: undefined, members: [] } : await unifiedOf(scope, row);
  if (own) note(resource, await tx.applyCopy(connectionId, resource, [{ remoteId: row.id, hash: recordHash(own), data: own }]));
  else note(resource, await tx.deleteCopy(connectionId, resource, [row.id]));
  if (row.type === "Group") {
    const kept = new Set(members.map(memberKey));
    note(
      "group_members",
      await tx.applyCopy(
        connectionId,
        "group_members",
        members.map((m) => ({ remoteId: memberKey(m), hash: recordHash(m), data: m })),
      ),
    );
    note(
      "group_members",
      await tx.deleteCopy(connectionId, "group_members", await tx.copyIdsUnder(connectionId, "group_members", `${row.id}/`, kept)),
    );
  }
  const rows = changes.flatMap(({ resource: of, change }) =>
    eventsOfChange(of, change).map((event) => ({
      ...event,
      version: change.version,
      tenantId: scope.connection.tenantId,
      connectionId,
      integration: scope.connection.integration,
    })),
  );
  if (rows.length) await emit(tx.db, rows);
}
