import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../test-support/database.ts";
import { connectSessionStore, openStore, type Store } from "../src/index.ts";

describe("connect sessions' checks", () => {
  let database: TestDatabase;
  let store: Store;

  beforeAll(async () => {
    database = await createTestDatabase();
    store = await openStore({ databaseUrl: database.url });
  });
  afterAll(async () => {
    await store?.close();
    await database?.drop();
  });

  const open = () =>
    connectSessionStore(store.db).create(`ucs_${Math.random().toString(36).slice(2)}`, {
      tenantId: "acme",
      integrations: [],
      config: {},
      connectionId: null,
      redirectUrl: null,
      allowedOrigins: [],
      locale: null,
      theme: {},
      allowDuplicates: false,
      state: null,
      createdBy: null,
      expiresAt: new Date(Date.now() + 60_000),
    });

  it("one check at a time; a check past its lease is taken over, and its late release leaves the new one running", async () => {
    const sessions = connectSessionStore(store.db);
    const session = await open();
    const first = await sessions.begin(session.id, 5, 60);
    expect(first?.checkingSince).toBeInstanceOf(Date);
    expect(await sessions.begin(session.id, 5, 60)).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 20));
    // A lease of 0 s: the first check counts as left behind by a process that died.
    const second = await sessions.begin(session.id, 5, 0);
    expect(second?.checkingSince?.getTime()).toBeGreaterThan(first!.checkingSince!.getTime());
    const late = await sessions.release(session.id, true, first!.checkingSince!);
    expect(late?.checkingSince?.getTime()).toBe(second!.checkingSince!.getTime());
    expect(late?.attempts).toBe(0);
    const own = await sessions.release(session.id, true, second!.checkingSince!);
    expect(own).toMatchObject({ checkingSince: null, attempts: 1 });
  });
});
