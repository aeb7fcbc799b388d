import { randomUUID } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import { type RecordChange, ScimNameTaken, type ScimRow, type ScimTransaction, type SeenRecord } from "@unifold/db";
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
  // Unifold provisions no logins: a password an identity provider sends along is dropped, never kept.
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

/**
 * POST: the resource is made here, id and times included, so that it, its copy and its events go
 * to the database together (one round trip inside the transaction). A name another resource
 * holds makes the insert fail, and the whole transaction with it.
 */
export async function createResource(parts: ScimParts, scope: ScimScope, endpoint: Endpoint, body: unknown) {
  const resource = storable(endpoint, body);
  const now = new Date();
  const row: ScimRow = {
    id: randomUUID(),
    connectionId: scope.connection.id,
    type: typeOf(endpoint),
    nameKey: nameKeyOf(endpoint, resource),
    externalId: externalIdOf(resource),
    body: resource,
    version: 1,
    createdAt: now,
    modifiedAt: now,
  };
  await write(parts, scope, endpoint, async (tx) => ({ row, before: undefined, writing: tx.insert(row) }));
  return row;
}

export async function getResource(parts: ScimParts, scope: ScimScope, endpoint: Endpoint, id: string): Promise<ScimRow> {
  const row = await parts.store.get(scope.connection.id, typeOf(endpoint), id);
  if (!row) throw notFound(endpoint, id);
  return row;
}

/**
 * PUT: the whole resource is replaced; attributes left out are cleared (RFC 7644 §3.5.1). A PUT
 * of what is stored already (a provider's re-push) is answered from one read, with no
 * transaction: it is as if it came just before any write racing it.
 */
export async function replaceResource(parts: ScimParts, scope: ScimScope, endpoint: Endpoint, id: string, body: unknown, ifMatch?: string) {
  const resource = storable(endpoint, body);
  const nameKey = nameKeyOf(endpoint, resource);
  const current = await getResource(parts, scope, endpoint, id);
  checkVersion(current, ifMatch);
  if (sameBody(current.body, resource)) return current;
  return (await write(parts, scope, endpoint, async (tx) => {
    const before = await lock(tx, scope, endpoint, id);
    checkVersion(before, ifMatch);
    if (sameBody(before.body, resource)) return { row: before, before };
    return { row: await tx.update(id, { nameKey, externalId: externalIdOf(resource), body: resource }), before };
  }))!;
}

/**
 * PATCH (RFC 7644 §3.5.2): all operations or none; one that changes nothing writes nothing and
 * announces nothing, and is answered from one read with no transaction (like an unchanged PUT).
 */
export async function patchResource(parts: ScimParts, scope: ScimScope, endpoint: Endpoint, id: string, body: unknown, ifMatch?: string) {
  const operations = readPatchRequest(body);
  // The id takes part so that a path-less value echoing it (one provider's group rename, docs/scim.md) is no change.
  const patch = (row: ScimRow) => applyPatch({ ...row.body, id: row.id }, operations, resourceTypes[endpoint]);
  const current = await getResource(parts, scope, endpoint, id);
  checkVersion(current, ifMatch);
  if (!patch(current).changed) return current;
  return (await write(parts, scope, endpoint, async (tx) => {
    const before = await lock(tx, scope, endpoint, id);
    checkVersion(before, ifMatch);
    const patched = patch(before);
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
    const left: { row: ScimRow; before: ScimRow }[] = [];
    if (endpoint === "Users") {
      for (const group of await tx.groupsWithMember(scope.connection.id, id)) {
        const members = (group.body.members as { value?: unknown }[]).filter((member) => member.value !== id);
        const row = await tx.update(group.id, { nameKey: group.nameKey, externalId: group.externalId, body: { ...group.body, members } });
        left.push({ row, before: group });
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
  work: (tx: ScimTransaction) => Promise<{
    row: ScimRow | undefined;
    before: ScimRow | undefined;
    also?: { row: ScimRow; before: ScimRow }[];
    /** The resource's own write, still under way: sent together with its copy and events. */
    writing?: Promise<unknown>;
  }>,
): Promise<ScimRow | undefined> {
  try {
    return await parts.events.publish((emit) =>
      parts.store.transaction(async (tx) => {
        const { row, before, also = [], writing } = await work(tx);
        const how = row === undefined ? "deleted" : before ? "changed" : "created";
        // Both settle before the transaction ends: a copy written after a failed insert (a name
        // taken) would otherwise reach the database after the rollback, outside the transaction.
        const settled = await Promise.allSettled([writing, row !== before && recordCopy(scope, tx, emit, row ?? before!, how, before)]);
        for (const outcome of settled) if (outcome.status === "rejected") throw outcome.reason;
        // Other resources the write changed (the groups a deleted user leaves).
        for (const changed of also) await recordCopy(scope, tx, emit, changed.row, "changed", changed.before);
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

/**
 * Writes the copy of one resource (or its deletion) and emits the events its changes make. A
 * resource just created has nothing in the copy yet: nothing is read or compared, every record is
 * created at version 1, and the copy and its events are sent together with the resource itself.
 */
async function recordCopy(
  scope: ScimScope,
  tx: ScimTransaction,
  emit: Emit,
  row: ScimRow,
  how: "created" | "changed" | "deleted",
  before?: ScimRow,
) {
  const connectionId = scope.connection.id;
  const resource = row.type === "User" ? "users" : "groups";
  const memberKey = (m: Record<string, unknown>) => `${row.id}/${m.user_id as string}`;
  const { own, members } = how === "deleted" ? { own: undefined, members: [] } : await unifiedOf(scope, row);
  const copies: { resource: "users" | "groups" | "group_members"; records: SeenRecord[] }[] = [];
  if (own) copies.push({ resource, records: [{ remoteId: row.id, hash: recordHash(own), data: own }] });
  if (row.type === "Group")
    copies.push({ resource: "group_members", records: members.map((m) => ({ remoteId: memberKey(m), hash: recordHash(m), data: m })) });
  const changes: { resource: "users" | "groups" | "group_members"; change: RecordChange }[] = [];
  const note = (of: "users" | "groups" | "group_members", list: RecordChange[]) =>
    changes.push(...list.map((change) => ({ resource: of, change })));
  const writes: Promise<unknown>[] = [];
  if (how === "created") {
    for (const copy of copies) {
      note(
        copy.resource,
        copy.records.map((r) => ({ kind: "created", remoteId: r.remoteId, version: 1, data: r.data })),
      );
      writes.push(tx.applyCopy(connectionId, copy.resource, copy.records, true));
    }
  } else {
    // The memberships the copy holds are those the group listed before this write (the copy is
    // written from the group in the same transaction as every change to it): read from the row,
    // not by scanning the connection's copy for the group's keys.
    const kept = new Set(members.map(memberKey));
    const listed = row.type === "Group" && before ? (await unifiedOf(scope, before)).members.map(memberKey) : [];
    const gone = listed.filter((key) => !kept.has(key));
    // Independent writes, sent together; what each answers is noted in a fixed order.
    const done = await Promise.all([
      ...copies.map((copy) => tx.applyCopy(connectionId, copy.resource, copy.records)),
      own ? [] : tx.deleteCopy(connectionId, resource, [row.id]),
      gone.length ? tx.deleteCopy(connectionId, "group_members", gone) : [],
    ]);
    copies.forEach((copy, i) => note(copy.resource, done[i]!));
    note(resource, done[copies.length]!);
    note("group_members", done[copies.length + 1]!);
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
  if (rows.length) writes.push(emit(tx.db, rows));
  await Promise.all(writes);
}
