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

  const open = (expiresAt = new Date(Date.now() + 60_000), token = `ucs_${Math.random().toString(36).slice(2)}`) =>
    connectSessionStore(store.db).create(token, {
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
      expiresAt,
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

  it("a link opens by its token only, which is not stored", async () => {
    const sessions = connectSessionStore(store.db);
    const token = `ucs_${Math.random().toString(36).slice(2)}`;
    const session = await open(undefined, token);
    expect(session.tokenHash).not.toContain(token);
    expect((await sessions.byToken(token))?.id).toBe(session.id);
    expect(await sessions.byToken(`${token}x`)).toBeUndefined();
    expect(await sessions.byToken(session.tokenHash)).toBeUndefined();
    expect((await sessions.get(session.id))?.id).toBe(session.id);
    expect(await sessions.get("not-a-uuid")).toBeUndefined();
  });

  it("single use: once a check made its connection, no submission begins again", async () => {
    const sessions = connectSessionStore(store.db);
    const session = await open();
    const connection = "c0ffee00-0000-4000-8000-000000000001";
    expect(await sessions.begin(session.id, 5, 60)).toBeDefined();
    await sessions.finish(session.id, connection, "created");
    const used = await sessions.get(session.id);
    expect(used).toMatchObject({ checkingSince: null, resultConnectionId: connection, resultOutcome: "created" });
    expect(used?.usedAt).toBeInstanceOf(Date);
    // Not even once the lease of the check is long over.
    expect(await sessions.begin(session.id, 5, 0)).toBeUndefined();
  });

  it("an expired link begins no submission", async () => {
    const sessions = connectSessionStore(store.db);
    const expired = await open(new Date(Date.now() - 1_000));
    expect(await sessions.begin(expired.id, 5, 60)).toBeUndefined();
  });

  it("only a refused check costs an attempt; at the limit no submission begins", async () => {
    const sessions = connectSessionStore(store.db);
    const session = await open();
    const failed = await sessions.begin(session.id, 2, 60);
    // The vendor was down: the link is open again, with every attempt left.
    expect(await sessions.release(session.id, false, failed!.checkingSince!)).toMatchObject({ checkingSince: null, attempts: 0 });
    const refused = await sessions.begin(session.id, 2, 60);
    expect(await sessions.release(session.id, true, refused!.checkingSince!)).toMatchObject({ checkingSince: null, attempts: 1 });
    const again = await sessions.begin(session.id, 2, 60);
    expect(again?.attempts).toBe(1);
    expect(await sessions.release(session.id, true, again!.checkingSince!)).toMatchObject({ attempts: 2 });
    expect(await sessions.begin(session.id, 2, 60)).toBeUndefined();
    // Another link's attempts are its own.
    expect(await sessions.begin((await open()).id, 2, 60)).toBeDefined();
  });

  it("prunes the sessions that expired before the given time, and only those", async () => {
    const sessions = connectSessionStore(store.db);
    const cut = new Date(Date.now() - 10 * 60_000);
    const old = await open(new Date(cut.getTime() - 1_000));
    const recent = await open(new Date(cut.getTime() + 1_000));
    const pruned = await sessions.prune(cut);
    expect(pruned).toBeGreaterThanOrEqual(1);
    expect(await sessions.get(old.id)).toBeUndefined();
    expect((await sessions.get(recent.id))?.id).toBe(recent.id);
    expect(await sessions.prune(cut)).toBe(0);
  });
});
