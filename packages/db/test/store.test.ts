import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql as sql_ } from "drizzle-orm";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../test-support/database.ts";
import {
  apiKeyStore,
  CONNECT_TIMEOUT_SECONDS,
  connectionStore,
  connectTimeout,
  createVault,
  generateKeySpec,
  isConnectionLost,
  openStore,
  parseKeyRing,
  rotateCredentials,
  type Store,
} from "../src/index.ts";

const keyA = generateKeySpec("a");
const keyB = generateKeySpec("b");

describe("store on a Postgres server", () => {
  let database: TestDatabase;
  let store: Store;
  let sql: postgres.Sql;

  beforeAll(async () => {
    database = await createTestDatabase();
    store = await openStore({ databaseUrl: database.url });
    sql = postgres(database.url, { max: 1 });
  });
  afterAll(async () => {
    await sql.end();
    await store.close();
    await database.drop();
  });

  it("prepares statements but plans each for its values, so a plan made on an empty table is never reused on a full one", async () => {
    const setting = (await store.db.execute(sql_`select current_setting('plan_cache_mode') as mode`)) as unknown as { mode: string }[];
    expect(setting[0]?.mode).toBe("force_custom_plan");
    const unprepared = await openStore({ databaseUrl: database.url, prepare: false });
    const theirs = (await unprepared.db.execute(sql_`select current_setting('plan_cache_mode') as mode`)) as unknown as { mode: string }[];
    expect(theirs[0]?.mode).toBe("auto");
    await unprepared.close();
  });

  it("stores no plaintext secret in any column", async () => {
    const connections = connectionStore(store.db, createVault(parseKeyRing(keyA)));
    const created = await connections.create({
      tenantId: "acme",
      integration: "jumpcloud",
      config: { org_id: "o1" },
      credentials: { api_key: "plain-text-canary-4711" },
    });
    const rows = await sql`select * from connections where id = ${created.id}`;
    expect(JSON.stringify(rows)).not.toContain("plain-text-canary-4711");
    expect(rows[0]?.credentials_kid).toBe("a");
    expect(await connections.credentials(created.id)).toEqual({ api_key: "plain-text-canary-4711" });
  });

  it("stores only a SHA-256 hash of API key secrets", async () => {
    const keys = apiKeyStore(store.db);
    const { key, secret } = await keys.create({ name: "backend", scope: "api" });
    expect(secret).toMatch(/^ufk_[A-Za-z0-9_-]{43}$/);
    const dump = JSON.stringify(await sql`select * from api_keys where id = ${key.id}`);
    expect(dump).not.toContain(secret);
    expect(dump).toContain(key.prefix);
    expect((await keys.authenticate(secret))?.id).toBe(key.id);
    await keys.revoke(key.id);
    expect(await keys.authenticate(secret)).toBeUndefined();
  });

  it("rotates every credential to the current key, and old rows still decrypt mid-rotation", async () => {
    const before = connectionStore(store.db, createVault(parseKeyRing(keyA)));
    const ids: string[] = [];
    for (let i = 0; i < 25; i++) {
      ids.push((await before.create({ tenantId: "rot", integration: "jumpcloud", config: {}, credentials: { api_key: `key-${i}` } })).id);
    }
    const ring = createVault(parseKeyRing(`${keyB},${keyA}`));
    const after = connectionStore(store.db, ring);
    let checkedMidway = false;
    const result = await rotateCredentials(store.db, ring, {
      batchSize: 10,
      onBatch: () => {
        checkedMidway = true;
      },
    });
    expect(checkedMidway).toBe(true);
    expect(result.rotated).toBeGreaterThanOrEqual(25);
    const [{ left }] = (await sql`select count(*)::int as left from connections where credentials_kid <> 'b'`) as unknown as [
      { left: number },
    ];
    expect(left).toBe(0);
    for (const [i, id] of ids.entries()) expect(await after.credentials(id)).toEqual({ api_key: `key-${i}` });
    // The old key alone can no longer read them: they really were re-encrypted.
    await expect(before.credentials(ids[0] as string)).rejects.toMatchObject({ code: "unknown_key" });
    // Re-running finds nothing left to do.
    expect((await rotateCredentials(store.db, ring)).rotated).toBe(0);
  });

  it("reads rows sealed with an older key while a rotation is half done", async () => {
    const old = connectionStore(store.db, createVault(parseKeyRing(keyA)));
    const { id } = await old.create({ tenantId: "mid", integration: "jumpcloud", config: {}, credentials: { api_key: "still-old" } });
    const ring = connectionStore(store.db, createVault(parseKeyRing(`${keyB},${keyA}`)));
    expect(await ring.credentials(id)).toEqual({ api_key: "still-old" });
  });

  it("changes nothing when the migrations are applied a second time", async () => {
    const schemaOf = () =>
      sql`select table_name, column_name, data_type from information_schema.columns where table_schema = 'public' order by 1, 2`;
    const before = await schemaOf();
    const journal = await sql`select count(*)::int as n from drizzle.__drizzle_migrations`;
    const again = await openStore({ databaseUrl: database.url });
    await again.close();
    expect(await schemaOf()).toEqual(before);
    expect(await sql`select count(*)::int as n from drizzle.__drizzle_migrations`).toEqual(journal);
  });

  it("lets concurrent starts race on the migrations safely", async () => {
    const fresh = await createTestDatabase();
    const stores = await Promise.all([1, 2, 3].map(() => openStore({ databaseUrl: fresh.url })));
    await Promise.all(stores.map((s) => s.close()));
    const check = postgres(fresh.url, { max: 1 });
    const [{ n }] = (await check`select count(*)::int as n from drizzle.__drizzle_migrations`) as unknown as [{ n: number }];
    await check.end();
    await fresh.drop();
    expect(n).toBeGreaterThan(0);
  });
});

describe("the time a new connection to a Postgres server may take", () => {
  it("is the gateway's own unless the URL or PGCONNECT_TIMEOUT sets it", () => {
    expect(connectTimeout("postgres://db/unifold", {})).toEqual({ connect_timeout: CONNECT_TIMEOUT_SECONDS });
    expect(CONNECT_TIMEOUT_SECONDS).toBeLessThan(30); // postgres.js's own 30 s is what a cut start-up waited
    expect(connectTimeout("postgres://db/unifold?connect_timeout=3", {})).toEqual({});
    expect(connectTimeout("postgres://db/unifold?sslmode=require&connect_timeout=3", {})).toEqual({});
    expect(connectTimeout("postgres://db/unifold", { PGCONNECT_TIMEOUT: "3" })).toEqual({});
  });
});

describe("a lost database connection", () => {
  const wrapped = (cause: object) => Object.assign(new Error("Failed query: select 1"), { cause });
  it("is told from a statement's own failure, through drizzle's wrapping", () => {
    for (const code of ["CONNECT_TIMEOUT", "CONNECTION_CLOSED", "CONNECTION_DESTROYED", "ECONNREFUSED", "57P01", "57P03", "08006"]) {
      expect(isConnectionLost(wrapped({ code })), code).toBe(true);
      expect(isConnectionLost(Object.assign(new Error(code), { code })), code).toBe(true);
    }
    for (const code of ["23505", "40001", "57014", "42P01", "UND_ERR_SOCKET"])
      expect(isConnectionLost(wrapped({ code })), code).toBe(false);
    for (const error of [new Error("no code"), undefined, null, "CONNECTION_CLOSED", { code: 8006 }])
      expect(isConnectionLost(error)).toBe(false);
  });

  it("is told on a real server: a connection whose backend was terminated", async () => {
    const database = await createTestDatabase();
    const victim = postgres(database.url, { max: 1, onnotice: () => {} });
    const admin = postgres(database.url, { max: 1, onnotice: () => {} });
    try {
      const [row] = await victim<{ pid: number }[]>`select pg_backend_pid() as pid`;
      const pid = row!.pid;
      const sleeping = victim`select pg_sleep(5)`.then(
        () => undefined,
        (error: unknown) => error,
      );
      await new Promise((resolve) => setTimeout(resolve, 100));
      await admin`select pg_terminate_backend(${pid})`;
      expect(isConnectionLost(await sleeping)).toBe(true);
      expect(isConnectionLost(await admin`select 1 from no_such_table`.catch((error: unknown) => error))).toBe(false);
    } finally {
      await victim.end({ timeout: 1 }); // its connection is gone: nothing to wait for
      await admin.end();
      await database.drop();
    }
  });
});

describe("embedded store (PGlite)", () => {
  it("keeps connections across a restart of the data directory", async () => {
    const dir = mkdtempSync(join(tmpdir(), "unifold-pglite-"));
    try {
      const vault = createVault(parseKeyRing(keyA));
      const first = await openStore({ dataDir: dir });
      const { id } = await connectionStore(first.db, vault).create({
        tenantId: "acme",
        integration: "postman-scim",
        config: {},
        credentials: { api_key: "embedded" },
      });
      await first.close();
      const second = await openStore({ dataDir: dir });
      const connections = connectionStore(second.db, vault);
      expect((await connections.get(id))?.tenantId).toBe("acme");
      expect(await connections.credentials(id)).toEqual({ api_key: "embedded" });
      await second.ping();
      await second.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
