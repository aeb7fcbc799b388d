import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectSandbox, startGateway, useGatewayWithSandbox } from "./harness.ts";
import { idsOf, receiver, until, verify } from "./webhook-receiver.ts";

describe("syncs and change webhooks", { timeout: 300_000 }, () => {
  const fx = useGatewayWithSandbox({ tenants: { acme: 2_000 }, gateway: { jobs: true }, connect: false, sql: true });
  let hooks: Awaited<ReturnType<typeof receiver>>;
  let jumpcloud: string;
  let postman: string;
  let apiKey: string;

  beforeAll(async () => {
    hooks = await receiver();
    const connected = await connectSandbox(fx.gw, fx.sandbox, "acme", { jumpcloud: "jumpcloud", "postman-scim": "postman" });
    jumpcloud = connected.conn.jumpcloud;
    postman = connected.conn["postman-scim"];
    apiKey = (await fx.gw.call("POST", "/api-keys", { body: { name: "acme backend", scope: "api", tenant_id: "acme" } })).body.secret;
  }, 60_000);
  afterAll(async () => {
    await hooks?.close();
  });

  const runs = async (syncId: string) => (await fx.gw.call("GET", `/syncs/${syncId}/runs?limit=200`, { key: apiKey })).body.result as any[];
  const finishedRuns = async (syncId: string, count: number) => {
    await until(async () => (await runs(syncId)).filter((r) => r.status !== "running").length >= count);
    return (await runs(syncId)).at(-1);
  };

  it("a 1 % change between runs of a 2,000-user directory gives exactly those events, signed", async () => {
    const endpoint = await fx.gw.call("POST", "/webhook-endpoints", {
      key: apiKey,
      body: { url: hooks.url, events: ["*"], description: "test receiver" },
    });
    expect(endpoint.status).toBe(201);
    expect(endpoint.body.secret).toMatch(/^whsec_/);
    const secret: string = endpoint.body.secret;

    const sync = await fx.gw.call("POST", "/syncs", {
      key: apiKey,
      body: { connection_id: jumpcloud, resources: ["users"], interval: 3_600 },
    });
    expect(sync.status).toBe(201);
    const first = await finishedRuns(sync.body.id, 1);
    expect(first).toMatchObject({ status: "succeeded", counts: { added: 2_000, updated: 0, deleted: 0, unchanged: 0 } });
    await until(() => hooks.unique().size >= 2_001);

    // 1 %: 5 join, 5 change title, 5 are suspended, 5 leave.
    const applied = fx.sandbox.changeUsers("jumpcloud", "acme", { add: 5, update: 5, deactivate: 5, delete: 5 });
    const before = hooks.unique().size;
    expect((await fx.gw.call("POST", `/syncs/${sync.body.id}/run`, { key: apiKey })).status).toBe(202);
    const second = await finishedRuns(sync.body.id, 2);
    expect(second).toMatchObject({ status: "succeeded", counts: { added: 5, updated: 10, deleted: 5, unchanged: 1_985 } });
    await until(() => hooks.unique().size >= before + 21);
    await sleep(300); // nothing more should come
    const fresh = [...hooks.unique().values()].slice(before);
    expect(fresh).toHaveLength(21);
    expect(idsOf(fresh, "user.created")).toEqual([...applied.added].sort());
    expect(idsOf(fresh, "user.updated")).toEqual([...applied.updated].sort());
    expect(idsOf(fresh, "user.deactivated")).toEqual([...applied.deactivated].sort());
    expect(idsOf(fresh, "user.deleted")).toEqual([...applied.deleted].sort());
    expect(idsOf(fresh, "sync.completed")).toHaveLength(1);
    for (const r of fresh.filter((f) => f.event.type === "user.updated")) expect(r.event.data.changed_fields).toEqual(["title"]);
    for (const r of fresh.filter((f) => f.event.type === "user.deactivated")) expect(r.event.data.status).toBe("inactive");
    // A version past the first: a receiver can drop anything older than what it holds.
    for (const r of fresh.filter((f) => f.event.type.startsWith("user.") && f.event.type !== "user.created"))
      expect(r.event.version).toBe(2);

    // Every delivery verifies with the endpoint's secret and with no other.
    for (const r of hooks.received) {
      expect(r.headers["webhook-id"]).toBe(r.event.id);
      expect(verify(secret, r.headers, r.body)).toBe(true);
    }
    const wrong = `whsec_${Buffer.from("not the secret at all, 24b").toString("base64")}`;
    expect(verify(wrong, hooks.received[0]!.headers, hooks.received[0]!.body)).toBe(false);

    // The synced copy answers without the vendor, deletions as tombstones.
    const calls = fx.sandbox.world.requests.length;
    const records: any[] = [];
    for (let cursor: string | null = null; ;) {
      const page = await fx.gw.call(
        "GET",
        `/unified/records/users?connection_id=${jumpcloud}&limit=500${cursor ? `&cursor=${cursor}` : ""}`,
        {
          key: apiKey,
        },
      );
      expect(page.status).toBe(200);
      records.push(...page.body.result);
      cursor = page.body.next_cursor;
      if (!cursor) break;
    }
    expect(fx.sandbox.world.requests.length).toBe(calls);
    expect(records).toHaveLength(2_005);
    expect(
      records
        .filter((r) => r.deleted_at)
        .map((r) => r.id)
        .sort(),
    ).toEqual([...applied.deleted].sort());
  });

  it("the event log pages every event exactly once, from the start or from any cursor", async () => {
    const all: any[] = [];
    const cursors: string[] = [];
    for (let after: string | null = null; ;) {
      const page = await fx.gw.call("GET", `/events?limit=150${after ? `&after=${after}` : ""}`, { key: apiKey });
      expect(page.status).toBe(200);
      all.push(...page.body.result);
      cursors.push(page.body.poll_cursor);
      after = page.body.next_cursor;
      if (!after) break;
    }
    expect(new Set(all.map((e) => e.id)).size).toBe(all.length);
    expect(all.length).toBeGreaterThanOrEqual(2_022);
    // From the third page's cursor: exactly the rest.
    const rest: any[] = [];
    for (let after: string | null = cursors[2]!; after;) {
      const page: any = await fx.gw.call("GET", `/events?limit=500&after=${after}`, { key: apiKey });
      rest.push(...page.body.result);
      after = page.body.next_cursor;
    }
    expect(rest.map((e) => e.id)).toEqual(all.slice(450).map((e) => e.id));
    // Filtered by type, and a poll from the end finds nothing new.
    const deleted = await fx.gw.call("GET", "/events?type=user.deleted", { key: apiKey });
    expect(deleted.body.result.every((e: any) => e.type === "user.deleted")).toBe(true);
    const tail = await fx.gw.call("GET", `/events?after=${cursors.at(-1)}`, { key: apiKey });
    expect(tail.body.result).toEqual([]);
    expect(tail.body.next_cursor).toBeNull();
  });

  it("a run that fails part-way deletes nothing, and says so", async () => {
    const sync = (await fx.gw.call("GET", "/syncs", { key: apiKey })).body.result[0];
    const applied = fx.sandbox.changeUsers("jumpcloud", "acme", { delete: 3 });
    // The first three pages come back, then the vendor fails (500 is not retried).
    fx.sandbox.fault({ vendor: "jumpcloud", kind: "latency", latency_ms: 1, count: 3, path: "/systemusers" });
    fx.sandbox.fault({ vendor: "jumpcloud", kind: "status", status: 500, count: 50, path: "/systemusers" });
    const events = hooks.unique().size;
    await fx.gw.call("POST", `/syncs/${sync.id}/run`, { key: apiKey });
    const failed = await finishedRuns(sync.id, 3);
    fx.sandbox.world.faults.clear();
    expect(failed.status).toBe("failed");
    expect(failed.error).toMatch(/nothing was marked deleted/);
    await until(() => [...hooks.unique().values()].slice(events).some((r) => r.event.type === "sync.failed"));
    expect([...hooks.unique().values()].slice(events).filter((r) => r.event.type === "user.deleted")).toEqual([]);

    // The next complete run finds them gone.
    await fx.gw.call("POST", `/syncs/${sync.id}/run`, { key: apiKey });
    const next = await finishedRuns(sync.id, 4);
    expect(next).toMatchObject({ status: "succeeded", counts: { deleted: 3 } });
    await until(() => [...hooks.unique().values()].slice(events).filter((r) => r.event.type === "user.deleted").length === 3);
    const gone = [...hooks.unique().values()].slice(events).filter((r) => r.event.type === "user.deleted");
    expect(gone.map((r) => r.event.data.id).sort()).toEqual([...applied.deleted].sort());
  });

  it("a receiver that is down for a while gets every event once it is back", async () => {
    const sync = (await fx.gw.call("GET", "/syncs", { key: apiKey })).body.result[0];
    hooks.state.status = 503;
    const applied = fx.sandbox.changeUsers("jumpcloud", "acme", { update: 4 });
    const events = hooks.unique().size;
    await fx.gw.call("POST", `/syncs/${sync.id}/run`, { key: apiKey });
    await finishedRuns(sync.id, 5);
    await sleep(1_500); // a few failed attempts
    const endpoint = (await fx.gw.call("GET", "/webhook-endpoints", { key: apiKey })).body.result[0];
    const attempts: any[] = [];
    for (let cursor: string | null = null; ;) {
      const page: any = await fx.gw.call(
        "GET",
        `/webhook-endpoints/${endpoint.id}/deliveries?limit=200${cursor ? `&cursor=${cursor}` : ""}`,
        {
          key: apiKey,
        },
      );
      attempts.push(...page.body.result);
      cursor = page.body.next_cursor;
      if (!cursor) break;
    }
    expect(attempts.some((d) => d.outcome === "failed" && d.response_status === 503 && d.latency_ms >= 0)).toBe(true);
    hooks.state.status = 200;
    await until(() => [...hooks.unique().values()].slice(events).filter((r) => r.event.type === "user.updated").length === 4, 30_000);
    const updated = [...hooks.unique().values()].slice(events).filter((r) => r.event.type === "user.updated");
    expect(updated.map((r) => r.event.data.id).sort()).toEqual([...applied.updated].sort());
  });

  it("refuses bad input with a 400 naming the field", async () => {
    const bad = async (path: string, body: unknown, field: RegExp) => {
      const res = await fx.gw.call("POST", path, { key: apiKey, body });
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(JSON.stringify(res.body.error)).toMatch(field);
    };
    await bad("/syncs", { connection_id: jumpcloud, resources: ["users"], interval: 30 }, /interval/);
    await bad("/syncs", { connection_id: jumpcloud, resources: ["companies"] }, /resources/);
    // Postman has no roles: named with its index.
    await bad("/syncs", { connection_id: postman, resources: ["users", "roles"] }, /resources\.1/);
    await bad("/webhook-endpoints", { url: "ftp://example.com/hook", events: ["*"] }, /url/);
    await bad("/webhook-endpoints", { url: "https://example.com/hook", events: ["user.exploded"] }, /events/);
    // The SSRF policy of upstream calls: with private addresses refused, a private URL is refused.
    const strict = await startGateway({ upstream: { network: { allowPrivate: false } } });
    const refused = await strict.call("POST", "/webhook-endpoints", {
      body: { url: "http://10.0.0.8/hook", events: ["*"], tenant_id: "acme" },
    });
    await strict.close();
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.body.error)).toMatch(/url/);
    const res = await fx.gw.call("GET", "/events?type=user.exploded", { key: apiKey });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body.error)).toMatch(/type/);
  });

  it("memberships: each added and removed member is one group_member event", async () => {
    const sync = await fx.gw.call("POST", "/syncs", {
      key: apiKey,
      body: { connection_id: jumpcloud, resources: ["group_members"], interval: 3_600 },
    });
    expect(sync.status, sync.text).toBe(201);
    const first = await finishedRuns(sync.body.id, 1);
    expect(first.status).toBe("succeeded");
    const memberships = first.counts.added as number;
    expect(memberships).toBeGreaterThan(0);
    // The log shows a transaction's events once no older transaction on the server is open (a
    // busy server holds them back a moment): the cursor is taken once this run's own is shown.
    let since = "";
    await until(async () => {
      const latest = await fx.gw.call("GET", "/events?type=sync.completed&limit=200", { key: apiKey });
      since = latest.body.poll_cursor as string;
      return latest.body.result.some((e: any) => e.data.run_id === first.id);
    });

    // One member leaves a group and another user joins it, through the gateway's own writes.
    const group = (await fx.gw.call("GET", `/unified/user-directory/groups?connection_id=${jumpcloud}&limit=1`, { key: apiKey })).body
      .result[0];
    const members = (
      await fx.gw.call("GET", `/unified/user-directory/groups/${group.id}/members?connection_id=${jumpcloud}&limit=200`, { key: apiKey })
    ).body.result as { user_id: string }[];
    const leaving = members[0]!.user_id;
    const users = (await fx.gw.call("GET", `/unified/user-directory/users?connection_id=${jumpcloud}&limit=200`, { key: apiKey })).body
      .result as { id: string }[];
    const joining = users.find((u) => !members.some((m) => m.user_id === u.id))!.id;
    const removed = await fx.gw.call("DELETE", `/unified/user-directory/groups/${group.id}/members/${leaving}?connection_id=${jumpcloud}`, {
      key: apiKey,
    });
    expect(removed.status, removed.text).toBe(200);
    const added = await fx.gw.call("POST", `/unified/user-directory/groups/${group.id}/members?connection_id=${jumpcloud}`, {
      key: apiKey,
      body: { user_id: joining },
    });
    expect(added.status, added.text).toBe(201);

    await fx.gw.call("POST", `/syncs/${sync.body.id}/run`, { key: apiKey });
    const second = await finishedRuns(sync.body.id, 2);
    expect(second).toMatchObject({ status: "succeeded", counts: { added: 1, deleted: 1, updated: 0, unchanged: memberships - 1 } });
    const memberEvents = () =>
      fx.gw.call("GET", `/events?after=${since}&type=group_member.added,group_member.removed&limit=200`, { key: apiKey });
    await until(async () => (await memberEvents()).body.result.length >= 2);
    const events = await memberEvents();
    expect(events.body.result.map((e: any) => [e.type, e.data.group_id, e.data.user_id])).toEqual(
      expect.arrayContaining([
        ["group_member.added", group.id, joining],
        ["group_member.removed", group.id, leaving],
      ]),
    );
    expect(events.body.result).toHaveLength(2);
  });

  it("initial_events false: the first run records the copy quietly; later runs announce changes", async () => {
    const since = (await fx.gw.call("GET", "/events?limit=1", { key: apiKey })).body.poll_cursor as string;
    // Another connection of its own, so no other test's sync of it is counted here.
    const own = (await connectSandbox(fx.gw, fx.sandbox, "acme", { "postman-scim": "postman" })).conn["postman-scim"];
    const sync = await fx.gw.call("POST", "/syncs", {
      key: apiKey,
      body: { connection_id: own, resources: ["users"], interval: 3_600, initial_events: false },
    });
    expect(sync.status, sync.text).toBe(201);
    expect(sync.body.initial_events).toBe(false);
    const first = await finishedRuns(sync.body.id, 1);
    expect(first.status).toBe("succeeded");
    expect(first.counts.added).toBeGreaterThan(1_000);
    const quietEvents = () => fx.gw.call("GET", `/events?after=${since}&connection_id=${own}&limit=200`, { key: apiKey });
    await until(async () => (await quietEvents()).body.result.some((e: any) => e.type === "sync.completed"));
    const quiet = await quietEvents();
    expect(quiet.body.result.map((e: any) => e.type)).toEqual(["sync.completed"]);
    const copy = await fx.gw.call("GET", `/unified/records/users?connection_id=${own}&limit=5`, { key: apiKey });
    expect(copy.body.result).toHaveLength(5);

    const applied = fx.sandbox.changeUsers("postman", "acme", { add: 1 });
    await fx.gw.call("POST", `/syncs/${sync.body.id}/run`, { key: apiKey });
    expect(await finishedRuns(sync.body.id, 2)).toMatchObject({ status: "succeeded", counts: { added: 1 } });
    const loudEvents = () => fx.gw.call("GET", `/events?after=${since}&connection_id=${own}&type=user.created&limit=200`, { key: apiKey });
    await until(async () => (await loudEvents()).body.result.length >= applied.added.length);
    const loud = await loudEvents();
    expect(loud.body.result.map((e: any) => e.data.id)).toEqual(applied.added);
  });

  it("a run that changes nothing writes no row of the copy; last_seen_at moves on with each succeeded run", async () => {
    const own = (await connectSandbox(fx.gw, fx.sandbox, "acme", { "postman-scim": "postman" })).conn["postman-scim"];
    const sync = await fx.gw.call("POST", "/syncs", {
      key: apiKey,
      body: { connection_id: own, resources: ["users"], interval: 3_600, initial_events: false },
    });
    const first = await finishedRuns(sync.body.id, 1);
    expect(first.status).toBe("succeeded");
    // A row's xmin is the transaction that last wrote it, its ctid where it lies: a row written
    // again (even to the same values) changes both.
    const rows = async () =>
      (
        await fx.sql!<{ remote_id: string; xmin: string; ctid: string }[]>`
          select remote_id, xmin::text, ctid::text from sync_records where connection_id = ${own} order by remote_id`
      ).map((r) => `${r.remote_id} ${r.xmin} ${r.ctid}`);
    const records = async () => {
      const all: any[] = [];
      for (let cursor: string | null = null; ;) {
        const page = await fx.gw.call("GET", `/unified/records/users?connection_id=${own}&limit=500${cursor ? `&cursor=${cursor}` : ""}`, {
          key: apiKey,
        });
        all.push(...page.body.result);
        cursor = page.body.next_cursor;
        if (!cursor) return all;
      }
    };
    const written = await rows();
    expect(written.length).toBe(first.counts.added);
    // Written by the first run: each when its page was.
    for (const r of await records()) expect(r.last_seen_at >= first.started_at && r.last_seen_at <= first.ended_at).toBe(true);

    await fx.gw.call("POST", `/syncs/${sync.body.id}/run`, { key: apiKey });
    const second = await finishedRuns(sync.body.id, 2);
    expect(second).toMatchObject({ status: "succeeded", counts: { added: 0, updated: 0, deleted: 0, unchanged: written.length } });
    expect(await rows()).toEqual(written);
    // Not written, yet seen: the run that saw them all is when they were last seen.
    expect(new Set((await records()).map((r) => r.last_seen_at))).toEqual(new Set([second.started_at]));

    // One leaves: its tombstone was last seen by the run before the one that missed it.
    const applied = fx.sandbox.changeUsers("postman", "acme", { delete: 1 });
    await fx.gw.call("POST", `/syncs/${sync.body.id}/run`, { key: apiKey });
    const third = await finishedRuns(sync.body.id, 3);
    expect(third).toMatchObject({ status: "succeeded", counts: { deleted: 1, unchanged: written.length - 1 } });
    const after = await records();
    expect(after.filter((r) => r.deleted_at).map((r) => [r.id, r.last_seen_at])).toEqual([[applied.deleted[0], second.started_at]]);
    expect(new Set(after.filter((r) => !r.deleted_at).map((r) => r.last_seen_at))).toEqual(new Set([third.started_at]));
  });
});
