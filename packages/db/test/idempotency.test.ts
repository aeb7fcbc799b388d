import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../test-support/database.ts";
import { apiKeyStore, idempotencyStore, openStore, type Store } from "../src/index.ts";

describe("Idempotency-Key claims", () => {
  let database: TestDatabase;
  let store: Store;
  let sql: postgres.Sql;
  let apiKeyId: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    store = await openStore({ databaseUrl: database.url });
    sql = postgres(database.url, { max: 1, onnotice: () => {} });
    apiKeyId = (await apiKeyStore(store.db).create({ name: "caller", scope: "api" })).key.id;
  });
  afterAll(async () => {
    await sql.end();
    await store.close();
    await database.drop();
  });

  const backdate = (key: string, ms: number) =>
    sql`update idempotency_keys set created_at = now() - ${`${ms} milliseconds`}::interval where key = ${key}`;

  it("lets exactly one of many concurrent requests run; the others are told it is still running", async () => {
    const keys = idempotencyStore(store.db, { leaseMs: 60_000 });
    const claims = await Promise.all(Array.from({ length: 8 }, () => keys.claim(apiKeyId, "k-race", "h")));
    expect(claims.filter((c) => c.state === "new")).toHaveLength(1);
    expect(claims.filter((c) => c.state === "in_progress")).toHaveLength(7);
  });

  it("hands a claim whose run never answered to the next request once its lease is over, and to one only", async () => {
    const keys = idempotencyStore(store.db, { leaseMs: 60_000 });
    expect(await keys.claim(apiKeyId, "k-dead", "h")).toEqual({ state: "new" });
    // Inside the lease the run may still be going.
    await backdate("k-dead", 30_000);
    expect(await keys.claim(apiKeyId, "k-dead", "h")).toEqual({ state: "in_progress" });
    // Past it, the run died (a crash, a lost database connection): the key is taken over, once.
    await backdate("k-dead", 61_000);
    const claims = await Promise.all(Array.from({ length: 6 }, () => keys.claim(apiKeyId, "k-dead", "h")));
    expect(claims.filter((c) => c.state === "taken_over")).toHaveLength(1);
    expect(claims.filter((c) => c.state === "in_progress")).toHaveLength(5);
    // The taker's answer is kept and replayed as usual.
    await keys.complete(apiKeyId, "k-dead", 201, { id: "u1" });
    expect(await keys.claim(apiKeyId, "k-dead", "h")).toEqual({ state: "replay", status: 201, body: { id: "u1" } });
    // A different request with a taken-over key is still refused.
    expect(await keys.claim(apiKeyId, "k-dead", "other")).toEqual({ state: "mismatch" });
  });

  it("never takes over a key that has its answer, however old within the day", async () => {
    const keys = idempotencyStore(store.db, { leaseMs: 1_000 });
    await keys.claim(apiKeyId, "k-done", "h");
    await keys.complete(apiKeyId, "k-done", 200, { ok: true });
    await backdate("k-done", 3_600_000);
    expect(await keys.claim(apiKeyId, "k-done", "h")).toEqual({ state: "replay", status: 200, body: { ok: true } });
  });

  it("frees a key whose request failed, so the retry with the same key runs anew", async () => {
    const keys = idempotencyStore(store.db);
    expect(await keys.claim(apiKeyId, "k-retry", "h")).toEqual({ state: "new" });
    await keys.release(apiKeyId, "k-retry");
    expect(await keys.claim(apiKeyId, "k-retry", "h")).toEqual({ state: "new" });
    expect(await keys.claim(apiKeyId, "k-retry", "h")).toEqual({ state: "in_progress" });
  });

  it("keeps one caller's keys apart from another's", async () => {
    const keys = idempotencyStore(store.db);
    const other = (await apiKeyStore(store.db).create({ name: "other caller", scope: "api" })).key.id;
    await keys.claim(apiKeyId, "k-shared", "h");
    await keys.complete(apiKeyId, "k-shared", 201, { id: "mine" });
    expect(await keys.claim(other, "k-shared", "h")).toEqual({ state: "new" });
    await keys.release(other, "k-shared");
    expect(await keys.claim(apiKeyId, "k-shared", "h")).toEqual({ state: "replay", status: 201, body: { id: "mine" } });
  });

  it("forgets a key after 24 hours: the same key then runs a request anew", async () => {
    const keys = idempotencyStore(store.db);
    await keys.claim(apiKeyId, "k-day", "h");
    await keys.complete(apiKeyId, "k-day", 201, { id: "first" });
    await backdate("k-day", 24 * 3_600_000 - 60_000);
    expect(await keys.claim(apiKeyId, "k-day", "h")).toEqual({ state: "replay", status: 201, body: { id: "first" } });
    await backdate("k-day", 24 * 3_600_000 + 60_000);
    // Even another request may use it now.
    expect(await keys.claim(apiKeyId, "k-day", "other")).toEqual({ state: "new" });
  });
});
