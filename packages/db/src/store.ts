import { cpSync, existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { sql } from "drizzle-orm";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import { type Change, type ChangeListener, listenForChanges } from "./changes.ts";
import * as schema from "./schema.ts";

export type Database = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface Store {
  db: Database;
  kind: "postgres" | "pglite";
  /** The server's URL (postgres), for a library that opens its own pool (the job queue). */
  url?: string;
  /** The embedded database itself (pglite), for a library that takes a PGlite client. */
  pglite?: PGlite;
  /** For an embedded database made by this open: whether it was copied from the seed or made by PGlite's initdb. */
  createdFrom?: "seed" | "initdb";
  /**
   * On a Postgres server, hears what other instances changed (see changes.ts). Absent on the
   * embedded database, which one process owns.
   */
  listenForChanges?: (handlers: { onChange: (change: Change) => void; onGap: () => void }) => ChangeListener;
  /**
   * Runs `work` while holding a cluster-wide lock named `name` (Postgres: an advisory lock held by
   * a transaction), so instances starting together do one thing one at a time. The embedded
   * database has one process: it just runs.
   */
  exclusive<T>(name: string, work: () => Promise<T>): Promise<T>;
  /** Throws when the database does not answer. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface StoreOptions {
  /** A Postgres server; when absent the embedded PGlite in `dataDir` is used. */
  databaseUrl?: string | undefined;
  dataDir?: string | undefined;
  /** Connections in the postgres.js pool. */
  poolSize?: number;
  /** Prepared statements on a Postgres server (default true; see `preparing`). */
  prepare?: boolean;
  /**
   * A PGlite data directory made beforehand (initdb and migrations done), copied into an empty
   * `dataDir` on first start: a copy takes ~0.1 s where PGlite's own initdb takes ~6 s and
   * a second WebAssembly instance (~500 MB) on the way.
   */
  pgliteSeedDir?: string | undefined;
  /** PGlite's shared_buffers; Postgres' default of 128MB is most of an idle gateway's memory. */
  pgliteSharedBuffers?: string;
}

export const migrationsFolder = fileURLToPath(new URL("../../../drizzle", import.meta.url));

/** Opens the store and applies pending migrations (idempotent on both drivers). */
export async function openStore(options: StoreOptions): Promise<Store> {
  if (options.databaseUrl) return openPostgres(options.databaseUrl, options.poolSize ?? 10, options.prepare ?? true);
  if (!options.dataDir) throw new Error("openStore needs either databaseUrl or dataDir");
  return openPglite(options.dataDir, options.pgliteSeedDir, options.pgliteSharedBuffers ?? "4MB");
}

/**
 * The schema has no array columns, so postgres.js need not fetch the server's array types on
 * each new connection; and that fetch's promise is dropped by postgres.js (porsager/postgres
 * #1192, #1223): a connection killed while it runs (a failover, pg_terminate_backend) would
 * crash the process with an unhandled rejection. apps/gateway/test/faults.test.ts kills them.
 */
const clientOptions = { onnotice: () => {}, fetch_types: false } as const;

/**
 * Seconds a new connection may take to be ready, unless the URL (`?connect_timeout=`) or
 * PGCONNECT_TIMEOUT says otherwise. postgres.js waits 30 s by default, and a connection whose
 * start-up the server cut short (its backend terminated as it started) waited all of that: the
 * request behind it hung 30 s before its 500 (faults.test.ts, "killed mid-write", 1 run in 15).
 */
export const CONNECT_TIMEOUT_SECONDS = 10;
export const connectTimeout = (url: string, env: NodeJS.ProcessEnv = process.env): { connect_timeout?: number } =>
  /[?&]connect_timeout=/.test(url) || env.PGCONNECT_TIMEOUT ? {} : { connect_timeout: CONNECT_TIMEOUT_SECONDS };

/** postgres.js's own codes for a connection that failed, was refused, or went away. */
const CONNECTION_CODES = new Set([
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
]);

/**
 * Whether an error (or what it wraps: drizzle puts the driver's error in `cause`) is the database
 * connection lost or never made, rather than a statement's own failure: SQLSTATE class 08, a
 * server shutting down or starting (57P01–57P03), or postgres.js's connection codes.
 */
export function isConnectionLost(error: unknown): boolean {
  for (let e = error, depth = 0; depth < 4 && typeof e === "object" && e !== null; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && (CONNECTION_CODES.has(code) || /^08[0-9A-Z]{3}$/.test(code) || /^57P0[123]$/.test(code))) return true;
  }
  return false;
}

/**
 * The client drizzle is given, with every statement prepared. drizzle runs its query builders
 * unnamed (`prepare: false`), and postgres.js sends an unnamed statement that has parameters as
 * two round trips (Parse/Describe for the parameter types, then Bind/Execute), which Postgres
 * parses and plans each time. Prepared, a statement is described once per connection and then
 * takes one round trip. postgres.js keeps them per connection (by text) and re-prepares one a
 * migration invalidated. A pooler in transaction mode (PgBouncer < 1.21) cannot keep them:
 * UNIFOLD_DATABASE_PREPARE=false turns this off.
 */
export function preparing(client: postgres.Sql): postgres.Sql {
  const wrap = <T extends object>(target: T): T =>
    new Proxy(target, {
      get(on, key, receiver) {
        const value = Reflect.get(on, key, receiver) as unknown;
        if (typeof value !== "function") return value;
        if (key === "unsafe")
          return (query: string, params?: unknown[], options?: object) =>
            (value as postgres.Sql["unsafe"]).call(on, query, params as never, { ...options, prepare: true });
        // A transaction's and a savepoint's own client prepare too.
        if (key === "begin" || key === "savepoint")
          return (...args: unknown[]) => {
            const work = args.pop() as (sql: object) => unknown;
            return (value as (...a: unknown[]) => unknown).call(on, ...args, (inner: object) => work(wrap(inner)));
          };
        return value;
      },
    });
  return wrap(client);
}

async function openPostgres(url: string, poolSize: number, prepare: boolean): Promise<Store> {
  await migrateWithLock(url);
  const client = postgres(url, {
    max: poolSize,
    ...clientOptions,
    ...connectTimeout(url),
    // A prepared statement is still planned for its values each time, as an unnamed one was: a
    // generic plan made while a table was empty (a new connection's first group write) put
    // `remote_id = ANY(…)` in a filter, and each group write then read every membership of the
    // connection (96 ms at 30,000; bench/README.md, "SCIM push"). Only the round trip is saved.
    ...(prepare && { connection: { plan_cache_mode: "force_custom_plan" } }),
  });
  const db = drizzlePostgres(prepare ? preparing(client) : client, { schema }) as unknown as Database;
  return {
    db,
    kind: "postgres",
    url,
    listenForChanges: (handlers) => listenForChanges(client, handlers),
    exclusive: (name, work) =>
      client.begin(async (tx) => {
        await tx`select pg_advisory_xact_lock(hashtext(${name}))`;
        return work();
      }) as Promise<never>,
    ping: async () => {
      await client`select 1`;
    },
    close: () => client.end({ timeout: 5 }),
  };
}

// Several gateways may start at once against one server: an advisory lock on a single
// dedicated connection lets exactly one apply the migrations while the others wait.
async function migrateWithLock(url: string): Promise<void> {
  const client = postgres(url, { max: 1, ...clientOptions, ...connectTimeout(url) });
  try {
    await client`select pg_advisory_lock(hashtext('unifold:migrations'))`;
    await migratePostgres(drizzlePostgres(client), { migrationsFolder });
    await client`select pg_advisory_unlock(hashtext('unifold:migrations'))`;
  } finally {
    await client.end({ timeout: 5 });
  }
}

async function openPglite(dataDir: string, seedDir: string | undefined, sharedBuffers: string): Promise<Store> {
  mkdirSync(dataDir, { recursive: true });
  const pgdata = `${dataDir}/pgdata`;
  const fresh = !existsSync(`${pgdata}/PG_VERSION`);
  const seeded = fresh && seedDir !== undefined && existsSync(`${seedDir}/PG_VERSION`);
  if (seeded) {
    // Copied beside and renamed into place, so an interrupted copy never looks like a database.
    const partial = `${pgdata}.seeding`;
    rmSync(partial, { recursive: true, force: true });
    cpSync(seedDir, partial, { recursive: true });
    rmSync(pgdata, { recursive: true, force: true });
    renameSync(partial, pgdata);
  }
  const client = new PGlite(pgdata, { startParams: [...PGlite.defaultStartParams, "-c", `shared_buffers=${sharedBuffers}`] });
  const db = drizzlePglite(client, { schema });
  await migratePglite(db, { migrationsFolder });
  return {
    db: db as unknown as Database,
    kind: "pglite",
    pglite: client,
    exclusive: (_name, work) => work(),
    ...(fresh && { createdFrom: seeded ? "seed" : "initdb" }),
    ping: async () => {
      await db.execute(sql`select 1`);
    },
    close: () => client.close(),
  };
}
