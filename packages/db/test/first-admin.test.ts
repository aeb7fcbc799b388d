import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../test-support/database.ts";
import { apiKeyStore, openStore, type Store } from "../src/index.ts";

describe("the first admin key", () => {
  let database: TestDatabase;
  const stores: Store[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    // Eight instances' worth of pools on one empty database.
    for (let i = 0; i < 8; i++) stores.push(await openStore({ databaseUrl: database.url, poolSize: 2 }));
  });
  afterAll(async () => {
    for (const store of stores) await store.close();
    await database.drop();
  });

  it("is registered once when every instance tries at the same moment, and never again while it lives", async () => {
    const made = await Promise.all(stores.map((store) => apiKeyStore(store.db).createFirstAdmin({ name: "bootstrap admin" })));
    expect(made.filter(Boolean)).toHaveLength(1);
    const keys = apiKeyStore(stores[0]!.db);
    expect(await keys.createFirstAdmin({ name: "again" })).toBeUndefined();
    // Once it is revoked, the next start registers a new one.
    await keys.revoke(made.find(Boolean)!.key.id);
    expect(await keys.createFirstAdmin({ name: "after revoke" })).toMatchObject({ key: { scope: "admin", name: "after revoke" } });
  });
});
