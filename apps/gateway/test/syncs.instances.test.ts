import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { type RunningSandbox, startSandbox } from "@unifold/sandbox";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../test-support/database.ts";
import { type Running, startGatewayProcess } from "./harness.ts";
import { receiver, until } from "./webhook-receiver.ts";

/*
 * Syncs and deliveries across gateway processes on one Postgres, started as `npm start` does:
 * a sync's runs never overlap, and kill -9 during a run or during delivery loses no change.
 */
describe("syncs across instances and crashes", { timeout: 400_000 }, () => {
  let database: TestDatabase;
  let sandbox: RunningSandbox;
  let hooks: Awaited<ReturnType<typeof receiver>>;
  const running: Running[] = [];
  const adminKey = `ufk_${randomBytes(32).toString("base64url")}`;
  const env = (): Record<string, string> => ({
    DATABASE_URL: database.url,
    UNIFOLD_ENCRYPTION_KEYS: keys,
    UNIFOLD_ADMIN_KEY: adminKey,
    // A dead instance's jobs are taken over within seconds here (minutes by default).
    UNIFOLD_SYNC_RUN_TIMEOUT_S: "5",
    UNIFOLD_WEBHOOK_TIMEOUT_S: "5",
    UNIFOLD_JOB_CHECK_INTERVAL_S: "1",
    UNIFOLD_WEBHOOK_RETRY_DELAY_S: "1",
  });
  const keys = `k1:${randomBytes(32).toString("base64")}`;
  const start = async () => {
    const instance = await startGatewayProcess(env());
    running.push(instance);
    return instance;
  };
  const call = async (instance: Running, method: string, path: string, body?: unknown) => {
    const res = await fetch(`${instance.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${adminKey}`, ...(body !== undefined && { "content-type": "application/json" }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  const allEvents = async (instance: Running) => {
    const events: any[] = [];
    for (let after: string | null = null; ;) {
      const page: any = await call(instance, "GET", `/events?tenant_id=acme&limit=500${after ? `&after=${after}` : ""}`);
      events.push(...page.body.result);
      after = page.body.next_cursor;
      if (!after) return events;
    }
  };

  beforeAll(async () => {
    database = await createTestDatabase();
    [sandbox, hooks] = await Promise.all([startSandbox({ tenants: [{ name: "acme", users: 1_500 }] }), receiver()]);
  });
  afterAll(async () => {
    for (const r of running) r.child.kill("SIGKILL");
    await sandbox?.close();
    await hooks?.close();
    await database?.drop();
  });

  it("kill -9 during a sync and during delivery: after restarts, every change is delivered at least once", async () => {
    let a = await start();
    const connection = await call(a, "POST", "/connections", {
      tenant_id: "acme",
      integration: "jumpcloud",
      credentials: { api_key: sandbox.key("jumpcloud", "acme") },
      config: { base_url: sandbox.baseUrl("jumpcloud") },
    });
    expect(connection.status).toBe(201);
    expect((await call(a, "POST", "/webhook-endpoints", { tenant_id: "acme", url: hooks.url, events: ["*"] })).status).toBe(201);

    // Pages come slowly, so the run is surely mid-walk when its instance is killed.
    sandbox.fault({ vendor: "jumpcloud", kind: "latency", latency_ms: 100, count: 1_000, path: "/systemusers" });
    const pages = () => sandbox.world.requests.filter((r) => r.vendor === "jumpcloud" && r.path.endsWith("/systemusers")).length;
    const sync = await call(a, "POST", "/syncs", { connection_id: connection.body.id, resources: ["users"], interval: 3_600 });
    expect(sync.status).toBe(201);
    await until(() => pages() >= 3, 150_000);
    a.child.kill("SIGKILL");
    await new Promise((resolve) => a.child.once("exit", resolve));
    sandbox.world.faults.clear();

    // Another instance takes the run over once its job has timed out, and finishes the walk.
    const b = await start();
    await until(
      async () => (await call(b, "GET", `/syncs/${sync.body.id}/runs`)).body.result.some((r: any) => r.status === "succeeded"),
      150_000,
    );
    const runs = (await call(b, "GET", `/syncs/${sync.body.id}/runs`)).body.result;
    expect(runs[0]).toMatchObject({ status: "failed" });
    expect(runs.at(-1)).toMatchObject({ status: "succeeded", counts: { deleted: 0 } });

    // Kill the instance while it delivers; a third one delivers the rest.
    await until(() => hooks.unique().size >= 150, 150_000);
    b.child.kill("SIGKILL");
    await new Promise((resolve) => b.child.once("exit", resolve));
    a = await start();
    const events = await allEvents(a);
    const created = events.filter((e) => e.type === "user.created");
    // Each user announced once, whichever instance recorded it.
    expect(new Set(created.map((e) => e.data.id)).size).toBe(1_500);
    expect(created).toHaveLength(1_500);
    await until(() => events.every((e) => hooks.unique().has(e.id)), 150_000);
    expect(events.filter((e) => e.type === "sync.completed")).toHaveLength(1);
    console.info(
      `  ${events.length} events, ${hooks.received.length} deliveries received (${hooks.received.length - hooks.unique().size} repeats)`,
    );
  });

  it("two instances asked at once run a sync once at a time", async () => {
    const [a, b] = [running.at(-1)!, await start()];
    const sync = (await call(a, "GET", "/syncs")).body.result[0];
    await until(
      async () => (await call(a, "GET", `/syncs/${sync.id}/runs`)).body.result.every((r: any) => r.status !== "running"),
      150_000,
    );
    const asked = await Promise.all(
      Array.from({ length: 10 }, (_, i) => call(i % 2 ? a : b, "POST", `/syncs/${sync.id}/run`).then((r) => r.body.queued as boolean)),
    );
    expect(asked.filter(Boolean).length).toBeGreaterThanOrEqual(1);
    await sleep(500);
    await until(
      async () => (await call(a, "GET", `/syncs/${sync.id}/runs`)).body.result.every((r: any) => r.status !== "running"),
      150_000,
    );
    const runs = (await call(b, "GET", `/syncs/${sync.id}/runs?limit=200`)).body.result as any[];
    // No two runs overlap in time.
    const spans = runs.map((r) => [Date.parse(r.started_at), Date.parse(r.ended_at)] as const).sort((x, y) => x[0] - y[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1]);
  });
});
