import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../test-support/database.ts";
import { eventStore, openStore, type Store } from "../src/index.ts";

describe("the event log", () => {
  let database: TestDatabase;
  let store: Store;
  let sql: postgres.Sql;
  const events = () => eventStore(store.db);

  beforeAll(async () => {
    database = await createTestDatabase();
    store = await openStore({ databaseUrl: database.url });
    sql = postgres(database.url, { max: 1, onnotice: () => {} });
    // Both tenants have an enabled endpoint: their events are written pending, to be dispatched.
    for (const tenant of ["acme", "globex"])
      await sql`insert into webhook_endpoints (tenant_id, url, events, secret, secret_kid) values (${tenant}, 'https://example.com/hook', '["*"]', 'sealed', 'k1')`;
    // 600 events for two tenants, interleaved, written by concurrent transactions.
    await Promise.all(
      Array.from({ length: 12 }, (_, batch) =>
        store.db.transaction((tx) =>
          events().append(
            tx as never,
            Array.from({ length: 50 }, (_, i) => ({
              tenantId: (batch + i) % 3 ? "acme" : "globex",
              connectionId: null,
              integration: null,
              type: i % 5 ? "user.updated" : "user.deleted",
              version: 1,
              data: { n: batch * 50 + i },
            })),
          ),
        ),
      ),
    );
  });
  afterAll(async () => {
    await sql.end();
    await store.close();
    await database.drop();
  });

  it("pages a tenant's events exactly once, in order, from the start or from any point, whatever the page size", async () => {
    const everything = (await events().list({ tenantId: "acme", limit: 10_000 })).rows;
    expect(everything.length).toBe(400);
    expect(everything.every((e) => e.tenantId === "acme")).toBe(true);
    for (const size of [1, 7, 64, 399, 400, 401]) {
      for (const start of [0, 1, 137, 399]) {
        const seen: number[] = [];
        let after = start === 0 ? undefined : everything[start - 1]!.seq;
        for (;;) {
          const page = await events().list({ tenantId: "acme", afterSeq: after, limit: size });
          seen.push(...page.rows.map((e) => e.seq));
          if (!page.more) break;
          after = page.rows.at(-1)!.seq;
        }
        expect(seen).toEqual(everything.slice(start).map((e) => e.seq));
      }
    }
    const deletions = (await events().list({ tenantId: "acme", types: ["user.deleted"], limit: 10_000 })).rows;
    expect(deletions.length).toBeGreaterThan(0);
    expect(deletions.every((e) => e.type === "user.deleted")).toBe(true);
  });

  it("honours retention: events older than it are dropped, newer ones stay", async () => {
    await sql`update events set created_at = now() - interval '31 days' where (data->>'n')::int < 100`;
    const dropped = await events().prune(new Date(Date.now() - 30 * 86_400_000));
    expect(dropped).toBe(100);
    const left = (await events().list({ limit: 10_000 })).rows;
    expect(left).toHaveLength(500);
    expect(left.every((e) => (e.data.n as number) >= 100)).toBe(true);
  });

  it("dispatches each event once, however many dispatchers run at once; a failed dispatch leaves them for the next", async () => {
    await expect(
      events().dispatch(
        async () => {
          throw new Error("the queue is down");
        },
        { lock: true },
      ),
    ).rejects.toThrow("the queue is down");
    const handed: number[] = [];
    await Promise.all(
      Array.from({ length: 4 }, () =>
        events().dispatch(
          async (rows) => {
            handed.push(...rows.map((r) => r.seq));
          },
          { lock: true, batchSize: 50 },
        ),
      ),
    );
    expect(handed).toHaveLength(500);
    expect(new Set(handed).size).toBe(500);
    expect(await events().dispatch(async () => {}, { lock: true })).toBe(0);
  });

  it("stops a dispatch when there is no more room, leaving the rest pending, oldest first, for the next", async () => {
    const appended = await store.db.transaction((tx) =>
      events().append(
        tx as never,
        Array.from({ length: 5 }, (_, n) => ({
          tenantId: "acme",
          connectionId: null,
          integration: null,
          type: "user.created",
          version: 1,
          data: { n },
        })),
      ),
    );
    const seqs = appended.map((e) => e.seq);
    const handed: number[][] = [];
    let batches = 0;
    const queue = async (rows: { seq: number }[]) => void handed.push(rows.map((r) => r.seq));
    expect(await events().dispatch(queue, { lock: true, batchSize: 2, room: async () => batches++ < 1 })).toBe(2);
    expect(await events().dispatch(queue, { lock: true, batchSize: 2, room: async () => false })).toBe(0);
    expect(await events().dispatch(queue, { lock: true, batchSize: 2, room: async () => true })).toBe(3);
    expect(handed).toEqual([seqs.slice(0, 2), seqs.slice(2, 4), seqs.slice(4)]);
  });

  it("writes an event that no enabled endpoint of its tenant can take as dispatched already; a test event stays pending", async () => {
    await sql`update webhook_endpoints set enabled = false where tenant_id = 'globex'`;
    const appended = await store.db.transaction((tx) =>
      events().append(tx as never, [
        { tenantId: "initech", connectionId: null, integration: null, type: "user.created", version: 1, data: {} },
        { tenantId: "globex", connectionId: null, integration: null, type: "user.created", version: 1, data: {} },
        { tenantId: "acme", connectionId: null, integration: null, type: "user.created", version: 1, data: {} },
        { tenantId: "globex", connectionId: null, integration: null, type: "webhook_endpoint.test", version: null, data: {} },
      ]),
    );
    expect(appended.map((e) => [e.tenantId, e.type, e.pending])).toEqual([
      ["initech", "user.created", false],
      ["globex", "user.created", false],
      ["acme", "user.created", true],
      ["globex", "webhook_endpoint.test", true],
    ]);
    const handed: string[] = [];
    await events().dispatch(async (rows) => void handed.push(...rows.map((r) => `${r.tenantId} ${r.type}`)), { lock: true });
    expect(handed).toEqual(["acme user.created", "globex webhook_endpoint.test"]);
    // Still in the log, which every reader pages whatever the deliveries.
    expect((await events().list({ tenantId: "initech", limit: 10 })).rows).toHaveLength(1);
  });
});
