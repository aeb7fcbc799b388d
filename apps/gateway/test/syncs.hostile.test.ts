import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runFailure } from "../src/domain/syncs/index.ts";
import { loggable } from "../src/logger.ts";
import { connectSandbox, useGatewayWithSandbox } from "./harness.ts";
import { receiver, until } from "./webhook-receiver.ts";

/** Careless and hostile use of syncs, the event log and the records API (issue: hostile and careless use). */
describe("syncs, the event log and the records API under careless use", { timeout: 300_000 }, () => {
  const fx = useGatewayWithSandbox({ tenants: { acme: 300 }, gateway: { jobs: true }, connect: false });
  let hooks: Awaited<ReturnType<typeof receiver>>;
  let apiKey: string;

  beforeAll(async () => {
    hooks = await receiver();
    apiKey = (await fx.gw.call("POST", "/api-keys", { body: { name: "acme backend", scope: "api", tenant_id: "acme" } })).body.secret;
    expect((await fx.gw.call("POST", "/webhook-endpoints", { key: apiKey, body: { url: hooks.url, events: ["*"] } })).status).toBe(201);
  }, 60_000);
  afterAll(async () => {
    await hooks?.close();
  });

  const connect = async (slug: "jumpcloud" | "postman-scim" = "jumpcloud") =>
    (await connectSandbox(fx.gw, fx.sandbox, "acme", { [slug]: slug === "jumpcloud" ? "jumpcloud" : "postman" })).conn[slug] as string;
  const runs = async (syncId: string) => (await fx.gw.call("GET", `/syncs/${syncId}/runs?limit=200`, { key: apiKey })).body.result as any[];
  const finishedRuns = async (syncId: string, count: number) => {
    await until(async () => (await runs(syncId)).filter((r) => r.status !== "running").length >= count);
    return (await runs(syncId)).at(-1);
  };
  const startSync = async (connection: string, resources = ["users"]) => {
    const sync = await fx.gw.call("POST", "/syncs", { key: apiKey, body: { connection_id: connection, resources, interval: 3_600 } });
    expect(sync.status, sync.text).toBe(201);
    return sync.body.id as string;
  };
  const eventsOf = async (connection: string) => {
    const all: any[] = [];
    for (let after: string | null = null; ;) {
      const page: any = await fx.gw.call("GET", `/events?connection_id=${connection}&limit=500${after ? `&after=${after}` : ""}`, {
        key: apiKey,
      });
      expect(page.status).toBe(200);
      all.push(...page.body.result);
      after = page.body.next_cursor;
      if (!after) return all;
    }
  };
  /**
   * The connection's events once `shown` holds of them: the log shows a transaction's events once
   * no older transaction on the server is open, which on a busy server takes a moment.
   */
  const eventsWhen = async (connection: string, shown: (events: any[]) => boolean) => {
    let events: any[] = [];
    await until(async () => shown((events = await eventsOf(connection))));
    return events;
  };
  const records = async (connection: string) => {
    const page = await fx.gw.call("GET", `/unified/records/users?connection_id=${connection}&limit=500`, { key: apiKey });
    return page;
  };

  it("a vendor value holding U+0000 or half a surrogate pair is off-model: answered as null, and the run succeeds", async () => {
    const connection = await connect();
    const syncId = await startSync(connection);
    expect(await finishedRuns(syncId, 1)).toMatchObject({ status: "succeeded" });

    // JSON allows both; Postgres refuses U+0000 in jsonb, and a lone surrogate is not Unicode.
    const applied = fx.sandbox.changeUsers("jumpcloud", "acme", { update: 3, suffix: " \u0000 \ud800" });
    await fx.gw.call("POST", `/syncs/${syncId}/run`, { key: apiKey });
    const second = await finishedRuns(syncId, 2);
    expect(second).toMatchObject({ status: "succeeded", counts: { updated: 3 }, error: null });

    const copy = (await records(connection)).body.result as any[];
    for (const id of applied.updated) expect(copy.find((r) => r.id === id)?.data.title).toBeNull();
    // Read live, the same values are null too, and counted.
    const live = await fx.gw.call("GET", `/unified/user-directory/users/${applied.updated[0]}?connection_id=${connection}`, {
      key: apiKey,
    });
    expect(live.status).toBe(200);
    expect(live.body.title).toBeNull();
    expect(live.body.remote_data.jobTitle).toContain("\u0000");
    const metrics = (await fx.gw.call("GET", "/metrics")).text;
    expect(metrics).toMatch(/unifold_off_model_values_total\{integration="jumpcloud",resource="users",field="title"\} [1-9]/);
    const isUpdate = (e: any) => e.type === "user.updated";
    const updated = (await eventsWhen(connection, (all) => all.filter(isUpdate).length >= 3)).filter(isUpdate);
    expect(updated.map((e) => e.data.id).sort()).toEqual([...applied.updated].sort());
    for (const event of updated) expect(event.data.changed_fields).toEqual(["title"]);
  });

  it("a failed run records the gateway's own code and words: the vendor's status, never its body or any SQL", async () => {
    const connection = await connect();
    const syncId = await startSync(connection);
    await finishedRuns(syncId, 1);
    fx.sandbox.fault({ vendor: "jumpcloud", kind: "status", status: 500, count: 50, path: "/systemusers" });
    await fx.gw.call("POST", `/syncs/${syncId}/run`, { key: apiKey });
    const failed = await finishedRuns(syncId, 2);
    fx.sandbox.world.faults.clear();
    expect(failed.status).toBe("failed");
    expect(failed.error).toBe("upstream_error: JumpCloud answered 500 (the walk did not finish, so nothing was marked deleted)");
    const event = (await eventsWhen(connection, (all) => all.some((e) => e.type === "sync.failed"))).find((e) => e.type === "sync.failed");
    expect(event.data.error).toEqual({ code: "upstream_error", message: "JumpCloud answered 500" });
  });

  it("an internal failure is described without the statement, its parameters or any record value", async () => {
    // A real driver error of the kind a run met (jsonb refusing U+0000), carrying its statement and parameters.
    const error = await fx.gw.services.platform.store.db
      .execute(sql`select ${JSON.stringify({ email: "ada@example.com", name: "A\u0000da" })}::jsonb`)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(String((error as Error).message)).toContain("ada@example.com");
    const failure = runFailure(error, "JumpCloud");
    expect(failure.code).toBe("internal_error");
    expect(JSON.stringify(failure)).not.toMatch(/ada@example\.com|select|jsonb/i);
    // The log keeps its kind and the server's code, not the statement.
    expect(loggable(error)).toMatchObject({ sqlstate: expect.stringMatching(/^[0-9A-Z]{5}$/) });
    expect(JSON.stringify(loggable(error))).not.toMatch(/ada@example\.com|select/i);
  });

  it("deleting a connection while its sync runs erases its copy and record events, and announces connection.deleted", async () => {
    const connection = await connect();
    const syncId = await startSync(connection);
    await finishedRuns(syncId, 1);
    const before = await eventsWhen(connection, (all) => all.some((e) => e.type === "sync.completed"));
    expect(before.filter((e) => e.type === "user.created").length).toBe(300);
    // A second, slow run: every page waits, and the connection goes while it walks.
    fx.sandbox.changeUsers("jumpcloud", "acme", { update: 20 });
    fx.sandbox.fault({ vendor: "jumpcloud", kind: "latency", latency_ms: 1_500, count: 20, path: "/systemusers" });
    await fx.gw.call("POST", `/syncs/${syncId}/run`, { key: apiKey });
    await until(async () => (await runs(syncId)).length >= 2);
    const removed = await fx.gw.call("DELETE", `/connections/${connection}`);
    expect(removed.status, removed.text).toBe(200);
    await until(() => fx.gw.logs().includes("sync run stopped: the sync or its connection was deleted"));
    fx.sandbox.world.faults.clear();

    const after = await eventsWhen(connection, (all) => all.some((e) => e.type === "connection.deleted"));
    expect(after.filter((e) => /^(user|group|group_member)\./.test(e.type))).toEqual([]);
    const deleted = after.filter((e) => e.type === "connection.deleted");
    expect(deleted).toHaveLength(1);
    expect(deleted[0].data).toMatchObject({ connection_id: connection, erased: { records: 300 } });
    expect(deleted[0].data.erased.events).toBeGreaterThanOrEqual(300);
    expect(after.filter((e) => e.type === "sync.failed")).toEqual([]);
    await until(() => [...hooks.unique().values()].some((r) => r.event.type === "connection.deleted"));
    expect((await records(connection)).status).toBe(404);
    const rows = await fx.gw.services.platform.store.db.execute(
      sql`select count(*)::int as n from sync_records where connection_id = ${connection}`,
    );
    expect(JSON.stringify(rows)).toMatch(/"n":0/);
    expect(fx.gw.logs()).not.toMatch(/insert into|params:/i);
  });

  it("a second sync of a resource a sync of the connection already copies is refused, even when both are asked at once", async () => {
    const connection = await connect();
    const [a, b] = await Promise.all(
      ["users", "users"].map((resource) =>
        fx.gw.call("POST", "/syncs", { key: apiKey, body: { connection_id: connection, resources: [resource], interval: 3_600 } }),
      ),
    );
    expect([a!.status, b!.status].sort()).toEqual([201, 409]);
    const refused = await fx.gw.call("POST", "/syncs", {
      key: apiKey,
      body: { connection_id: connection, resources: ["groups", "users"], interval: 3_600 },
    });
    expect(refused.status).toBe(409);
    expect(refused.body.error.details).toEqual([{ path: "resources.1", message: expect.stringContaining("already copies users") }]);
    // Another resource of the same connection is its own copy.
    expect(
      (await fx.gw.call("POST", "/syncs", { key: apiKey, body: { connection_id: connection, resources: ["groups"], interval: 3_600 } }))
        .status,
    ).toBe(201);
  });

  it("a time outside years 0001 to 9999 is a 400 naming the parameter, on every route that takes one", async () => {
    const connection = await connect("postman-scim");
    for (const value of ["0000-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00", "9999-12-31T23:30:00-01:00"]) {
      const copy = await fx.gw.call(
        "GET",
        `/unified/records/users?connection_id=${connection}&modified_after=${encodeURIComponent(value)}`,
        {
          key: apiKey,
        },
      );
      expect(copy.status, `${value}: ${copy.text}`).toBe(400);
      expect(copy.body.error.details[0].path).toBe("query.modified_after");
      const live = await fx.gw.call(
        "GET",
        `/unified/user-directory/users?connection_id=${connection}&updated_after=${encodeURIComponent(value)}`,
        { key: apiKey },
      );
      expect(live.status, `${value}: ${live.text}`).toBe(400);
      expect(live.body.error.details[0].path).toBe("query.updated_after");
    }
    const earliest = await fx.gw.call("GET", `/unified/records/users?connection_id=${connection}&modified_after=0001-01-01T00:00:00Z`, {
      key: apiKey,
    });
    expect(earliest.status, earliest.text).toBe(200);
  });

  it("the event log refuses another tenant's name with a 403; an unbound key is told it must name one", async () => {
    const other = await fx.gw.call("GET", "/events?tenant_id=globex", { key: apiKey });
    expect(other.status).toBe(403);
    expect(other.body.error.code).toBe("forbidden");
    expect((await fx.gw.call("GET", "/events?tenant_id=acme", { key: apiKey })).status).toBe(200);

    const unbound = (await fx.gw.call("POST", "/api-keys", { body: { name: "all tenants", scope: "api" } })).body.secret;
    const missing = await fx.gw.call("POST", "/webhook-endpoints", { key: unbound, body: { url: hooks.url, events: ["*"] } });
    expect(missing.status).toBe(400);
    expect(missing.body.error.message).toBe("tenant_id: required, because this API key is not bound to a tenant");
  });
});
