import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { afterAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../test-support/database.ts";
import { type Running, startGatewayProcess } from "./harness.ts";

/*
 * Several gateway instances on one Postgres, started at once on an empty database: migrations
 * run once (an advisory lock), and exactly one bootstrap admin key is registered between them.
 */
describe("instances starting together on an empty database", () => {
  const running: Running[] = [];
  const databases: TestDatabase[] = [];
  afterAll(async () => {
    for (const r of running) r.child.kill("SIGKILL");
    for (const database of databases) await database.drop();
  });

  const startThree = async (env: Record<string, string>) => {
    const database = await createTestDatabase();
    databases.push(database);
    const common = { DATABASE_URL: database.url, UNIFOLD_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString("base64")}`, ...env };
    const three = await Promise.all([0, 1, 2].map(() => startGatewayProcess(common)));
    running.push(...three);
    const sql = postgres(database.url, { max: 1, onnotice: () => {}, fetch_types: false });
    const admins = await sql<{ count: string }[]>`select count(*) from api_keys where scope = 'admin' and revoked_at is null`;
    const migrations = await sql<{ count: string }[]>`select count(*) from drizzle.__drizzle_migrations`;
    await sql.end();
    return { three, admins: Number(admins[0]!.count), migrations: Number(migrations[0]!.count) };
  };

  it("registers one generated admin key, printed by exactly one instance", async () => {
    const { three, admins, migrations } = await startThree({});
    expect(admins).toBe(1);
    expect(migrations).toBeGreaterThan(0);
    const printed = three.filter((r) => r.stderr().includes("No admin API key existed"));
    expect(printed).toHaveLength(1);
    // The printed key works on every instance.
    const secret = /\n {4}(ufk_\S+)\n/.exec(printed[0]!.stderr())![1]!;
    for (const instance of three) {
      const res = await fetch(`${instance.url}/connections`, { headers: { authorization: `Bearer ${secret}` } });
      expect(res.status).toBe(200);
    }
  });

  it("registers UNIFOLD_ADMIN_KEY once, however many instances are given it", async () => {
    const key = `ufk_${randomBytes(32).toString("base64url")}`;
    const { three, admins } = await startThree({ UNIFOLD_ADMIN_KEY: key });
    expect(admins).toBe(1);
    for (const instance of three) expect(instance.stderr()).not.toContain("No admin API key existed");
  });
});
