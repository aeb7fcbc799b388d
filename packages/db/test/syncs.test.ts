import { randomUUID } from "node:crypto";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../test-support/database.ts";
import {
  connectionStore,
  createVault,
  generateKeySpec,
  openStore,
  parseKeyRing,
  type RecordChange,
  type SeenRecord,
  type Store,
  syncStore,
} from "../src/index.ts";

/*
 * The synced copy as runs write it: a change is recorded once, and only what a run did not see
 * is marked deleted, once, when the run sweeps after its walk.
 */
describe("the synced copy across runs", () => {
  let database: TestDatabase;
  let store: Store;
  let connectionId: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    store = await openStore({ databaseUrl: database.url });
    const connections = connectionStore(store.db, createVault(parseKeyRing(generateKeySpec("a"))));
    connectionId = (await connections.create({ tenantId: "acme", integration: "jumpcloud", config: {}, credentials: { api_key: "k" } })).id;
  });
  afterAll(async () => {
    await store?.close();
    await database?.drop();
  });

  const seen = (remoteId: string, hash: string): SeenRecord => ({ remoteId, hash, data: { id: remoteId, hash } });
  /** One run: its pages in order, then the sweep; answers every change it announced. */
  const run = async (resource: string, pages: SeenRecord[][]) => {
    const syncs = syncStore(store.db);
    const key = { connectionId, resource, runId: randomUUID() };
    const announced: RecordChange[] = [];
    const onChanges = async (_tx: unknown, changes: RecordChange[]) => void announced.push(...changes);
    for (const page of pages) await syncs.applyPage(key, page, onChanges);
    await syncs.sweepDeleted(key, new Set(pages.flat().map((r) => r.remoteId)), onChanges);
    return announced.map((c) => [c.kind, c.remoteId, c.version]);
  };

  it("announces each change once, and deletes only what a whole run did not see", async () => {
    expect(await run("users", [[seen("a", "1"), seen("b", "1")], [seen("c", "1")]])).toEqual([
      ["created", "a", 1],
      ["created", "b", 1],
      ["created", "c", 1],
    ]);
    // Nothing changed: nothing announced, nothing deleted (a seen on the first page is not swept).
    expect(await run("users", [[seen("a", "1")], [seen("b", "1"), seen("c", "1")]])).toEqual([]);
    expect(await run("users", [[seen("a", "1"), seen("b", "2"), seen("c", "1")]])).toEqual([["updated", "b", 2]]);
    // c is gone upstream: deleted at the sweep, and only once.
    expect(await run("users", [[seen("a", "1")], [seen("b", "2")]])).toEqual([["deleted", "c", 2]]);
    expect(await run("users", [[seen("a", "1"), seen("b", "2")]])).toEqual([]);
    // Back again: created anew, after its tombstone's version.
    expect(await run("users", [[seen("a", "1"), seen("b", "2"), seen("c", "1")]])).toEqual([["created", "c", 3]]);
    const copy = await syncStore(store.db).records({ connectionId, resource: "users", limit: 10 });
    expect(copy.rows.map((r) => [r.remoteId, r.version, r.deletedAt === null])).toEqual(
      expect.arrayContaining([
        ["a", 1, true],
        ["b", 2, true],
        ["c", 3, true],
      ]),
    );
  });

  it("a run of one resource deletes nothing of another", async () => {
    expect(await run("groups", [[seen("g1", "1")]])).toEqual([["created", "g1", 1]]);
    expect(await run("users", [[seen("a", "1"), seen("b", "2"), seen("c", "1")]])).toEqual([]);
    const groups = await syncStore(store.db).live({ connectionId, resource: "groups", limit: 10 });
    expect(groups.rows.map((r) => r.remoteId)).toEqual(["g1"]);
  });

  it("a run that changes nothing writes no row, and a changed page writes only what changed", async () => {
    const sql = postgres(database.url, { max: 1, onnotice: () => {} });
    try {
      // A row's xmin is the transaction that last wrote it, its ctid where it lies: both move when
      // it is written again, even to the same values (or locked, for xmin's companion xmax).
      const rows = async () =>
        Object.fromEntries(
          (
            await sql<{ remote_id: string; at: string }[]>`
              select remote_id, xmin::text || ' ' || ctid::text || ' ' || xmax::text as at from sync_records
              where connection_id = ${connectionId} and resource = 'roles' order by remote_id`
          ).map((r) => [r.remote_id, r.at]),
        );
      expect(await run("roles", [[seen("r1", "1"), seen("r2", "1")], [seen("r3", "1")]])).toHaveLength(3);
      const written = await rows();
      expect(await run("roles", [[seen("r1", "1"), seen("r2", "1")], [seen("r3", "1")]])).toEqual([]);
      expect(await rows()).toEqual(written);
      expect(await run("roles", [[seen("r1", "1"), seen("r2", "2")], [seen("r3", "1")]])).toEqual([["updated", "r2", 2]]);
      const after = await rows();
      expect(after.r1).toBe(written.r1);
      expect(after.r3).toBe(written.r3);
      expect(after.r2).not.toBe(written.r2);
    } finally {
      await sql.end();
    }
  });
});
