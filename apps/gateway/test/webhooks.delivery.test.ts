import { randomUUID } from "node:crypto";
import { lookup } from "node:dns/promises";
import { hostname } from "node:os";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createVault, openStore, parseKeyRing, webhookStore } from "@unifold/db";
import { isNonPublicAddress } from "@unifold/engine";
import postgres from "postgres";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../../test-support/free-port.ts";
import { EVENTS_PER_JOB } from "../src/domain/events/emitter.ts";
import { createWebhookDelivery, DeliveryFailed, deliveryError } from "../src/domain/webhooks/delivery.ts";
import { type Gateway, startGateway } from "./harness.ts";
import { until, verify } from "./webhook-receiver.ts";

/** A connection of the test's own to the gateway's database, to read and change its rows. */
const databaseOf = (gw: Gateway) => postgres(gw.databaseUrl, { max: 1, onnotice: () => {}, fetch_types: false });

/** Closes what a describe's beforeAll opened, as far as it got. */
async function closeAll(sql: postgres.Sql | undefined, gw: Gateway | undefined, server: Server | undefined) {
  await sql?.end();
  await gw?.close();
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
}

/*
 * One delivery attempt of one event to one endpoint, as the deliver job makes it (the job queue
 * only calls it again after a DeliveryFailed): the gateway's own services on a real database, a
 * receiver on loopback. What a tenant sees: what was sent and how it was signed, what each
 * attempt recorded, when the endpoint is disabled and why, and that a failed attempt is retried.
 */
const DISABLE_AFTER_HOURS = 2;

interface Received {
  method: string | undefined;
  headers: IncomingMessage["headers"];
  body: string;
  /** The deliveries (by webhook-id) answered before this one arrived. */
  answeredBefore: Set<string>;
}

describe("webhook delivery attempts", { timeout: 60_000 }, () => {
  let gw: Gateway;
  let server: Server;
  let receiverUrl: string;
  let sql: postgres.Sql;
  /** What the receiver answers: a status, or a connection closed without an answer. */
  let answer: number | "hang up" = 200;
  /** Milliseconds the receiver takes before it answers. */
  let delayMs = 0;
  /** A status for one event's deliveries (by webhook-id), over `answer`. */
  const answerFor = new Map<string, number>();
  /** Deliveries the receiver holds unanswered right now, and the most it held at once. */
  let inFlight = 0;
  let mostInFlight = 0;
  const received: Received[] = [];
  const answered: string[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk) => (body += chunk));
      req.on("end", () => {
        const id = String(req.headers["webhook-id"]);
        received.push({ method: req.method, headers: req.headers, body, answeredBefore: new Set(answered) });
        mostInFlight = Math.max(mostInFlight, ++inFlight);
        const status = answerFor.get(id) ?? answer;
        setTimeout(() => {
          inFlight--;
          answered.push(id);
          if (status === "hang up") req.socket.destroy();
          else res.writeHead(status).end("ok");
        }, delayMs);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    receiverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
    // Receivers on loopback, by address only: a name is outside the policy.
    gw = await startGateway({
      webhookDisableAfterMs: DISABLE_AFTER_HOURS * 3_600_000,
      webhookNetwork: { allowPrivate: true, allowedHosts: ["127.0.0.1"] },
    });
    sql = databaseOf(gw);
  }, 60_000);
  afterAll(() => closeAll(sql, gw, server));

  /** A new tenant's endpoint (and a second one of the same tenant, told when the first is disabled). */
  async function endpoint(url = receiverUrl) {
    const tenant = `t-${randomUUID().slice(0, 8)}`;
    const made = await gw.call("POST", "/webhook-endpoints", { body: { url, events: ["*"], tenant_id: tenant } });
    expect(made.status, made.text).toBe(201);
    return { id: made.body.id as string, secret: made.body.secret as string, tenant };
  }
  /** A test event for the endpoint; its delivery is left to the test to make. */
  async function event(endpointId: string) {
    const sent = await gw.call("POST", `/webhook-endpoints/${endpointId}/test`);
    expect(sent.status).toBe(202);
    return sent.body.id as string;
  }
  const deliver = (endpointId: string, eventId: string, attempt = 1) => gw.services.webhooks.deliver({ endpointId, eventId, attempt });
  const deliveries = async (endpointId: string) =>
    (await gw.call("GET", `/webhook-endpoints/${endpointId}/deliveries?limit=100`)).body.result;
  const shown = async (endpointId: string) => (await gw.call("GET", `/webhook-endpoints/${endpointId}`)).body;
  const disabledEvents = async (tenant: string) =>
    (
      await sql<
        { data: Record<string, unknown> }[]
      >`select data from events where tenant_id = ${tenant} and type = 'webhook_endpoint.disabled'`
    ).map((r) => r.data);
  /** The delivery attempt's failure, or undefined when it did not throw. */
  const failureOf = (attempt: Promise<void>) =>
    attempt.then(
      () => undefined,
      (error: unknown) => error,
    );
  const metric = async (line: RegExp) => Number((await gw.call("GET", "/metrics")).text.match(line)?.[1] ?? 0);

  it("sends the event signed with the endpoint's secret, and records a delivered attempt", async () => {
    const hook = await endpoint();
    const eventId = await event(hook.id);
    answer = 200;
    delayMs = 150;
    const delivered = await metric(/^unifold_webhook_deliveries_total\{outcome="delivered"\} (\d+)/m);
    const observed = await metric(/^unifold_webhook_delivery_duration_seconds_sum (\S+)/m);
    const before = received.length;
    const started = Date.now();
    await deliver(hook.id, eventId, 1);
    const tookMs = Date.now() - started;
    delayMs = 0;
    const got = received.slice(before);
    expect(got).toHaveLength(1);
    const { method, headers, body } = got[0]!;
    expect(method).toBe("POST");
    expect(JSON.parse(body)).toMatchObject({ id: eventId, type: "webhook_endpoint.test", data: { endpoint_id: hook.id } });
    expect(headers).toMatchObject({ "content-type": "application/json", "user-agent": "unifold-webhooks", "webhook-id": eventId });
    const stamp = Number(headers["webhook-timestamp"]);
    expect(Number.isInteger(stamp)).toBe(true);
    expect(stamp).toBeGreaterThanOrEqual(Math.floor(started / 1000));
    expect(stamp).toBeLessThanOrEqual(Math.ceil((started + tookMs) / 1000));
    expect(verify(hook.secret, headers, body)).toBe(true);
    // And as a receiver checks it with the Standard Webhooks library (README's example).
    expect(new Webhook(hook.secret).verify(body, headers as Record<string, string>)).toMatchObject({ id: eventId });
    expect(String(headers["webhook-signature"]).split(" ")).toHaveLength(1);
    const [attempt] = await deliveries(hook.id);
    expect(attempt).toMatchObject({ event_id: eventId, attempt: 1, outcome: "delivered", response_status: 200, error: null });
    // The receiver took 150 ms to answer; the attempt took no longer than the whole call.
    expect(attempt.latency_ms).toBeGreaterThanOrEqual(140);
    expect(attempt.latency_ms).toBeLessThanOrEqual(tookMs);
    expect((await shown(hook.id)).failing_since).toBeNull();
    expect(await metric(/^unifold_webhook_deliveries_total\{outcome="delivered"\} (\d+)/m)).toBe(delivered + 1);
    const seconds = (await metric(/^unifold_webhook_delivery_duration_seconds_sum (\S+)/m)) - observed;
    expect(seconds).toBeGreaterThanOrEqual(0.14);
    expect(seconds).toBeLessThanOrEqual(tookMs / 1000);
  });

  it("a receiver answering other than 2xx is a failed attempt, thrown to be retried, and starts the failing streak", async () => {
    const hook = await endpoint();
    const eventId = await event(hook.id);
    for (const status of [500, 404, 301, 503]) {
      answer = status;
      const failed = await failureOf(deliver(hook.id, eventId, 3));
      expect(failed).toBeInstanceOf(DeliveryFailed);
      expect((failed as Error).message).toBe(`delivery to ${receiverUrl} failed: status ${status}`);
    }
    answer = 200;
    const attempts = await deliveries(hook.id);
    expect(attempts.map((a: { outcome: string; response_status: number }) => [a.outcome, a.response_status])).toEqual([
      ["failed", 500],
      ["failed", 404],
      ["failed", 301],
      ["failed", 503],
    ]);
    expect(attempts.every((a: { attempt: number; error: null }) => a.attempt === 3 && a.error === null)).toBe(true);
    const failing = (await shown(hook.id)).failing_since;
    expect(failing).not.toBeNull();
    // Failing for less than the limit: still enabled, still retried.
    expect((await shown(hook.id)).enabled).toBe(true);
    // The next success ends the streak.
    await deliver(hook.id, eventId, 4);
    expect(await shown(hook.id)).toMatchObject({ enabled: true, failing_since: null });
  });

  it("any 2xx is delivered; 299 too, 300 not", async () => {
    const hook = await endpoint();
    const eventId = await event(hook.id);
    for (const status of [201, 204, 299]) {
      answer = status;
      await deliver(hook.id, eventId);
    }
    answer = 300;
    expect(await failureOf(deliver(hook.id, eventId))).toBeInstanceOf(DeliveryFailed);
    answer = 200;
    expect((await deliveries(hook.id)).map((a: { outcome: string }) => a.outcome)).toEqual([
      "delivered",
      "delivered",
      "delivered",
      "failed",
    ]);
  });

  it("410 Gone disables the endpoint at once, without a retry, and tells the tenant's other endpoints", async () => {
    const hook = await endpoint();
    const eventId = await event(hook.id);
    const disabled = await metric(/^unifold_webhook_endpoints_disabled_total (\d+)/m);
    answer = 410;
    expect(await failureOf(deliver(hook.id, eventId))).toBeUndefined();
    answer = 200;
    expect((await deliveries(hook.id)).map((a: { outcome: string; response_status: number }) => [a.outcome, a.response_status])).toEqual([
      ["gone", 410],
    ]);
    expect(await shown(hook.id)).toMatchObject({ enabled: false, disabled_reason: "the endpoint answered 410 Gone" });
    expect(await disabledEvents(hook.tenant)).toEqual([
      { endpoint_id: hook.id, url: receiverUrl, reason: "the endpoint answered 410 Gone" },
    ]);
    expect(await metric(/^unifold_webhook_endpoints_disabled_total (\d+)/m)).toBe(disabled + 1);
    // Disabled: a delivery still queued sends nothing and records nothing (the endpoint is read
    // again at most a second after it changed).
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const before = received.length;
    await deliver(hook.id, eventId, 2);
    expect(received.length).toBe(before);
    expect(await deliveries(hook.id)).toHaveLength(1);
  });

  it("two 410s at once disable the endpoint once, with one event", async () => {
    const hook = await endpoint();
    const eventId = await event(hook.id);
    answer = 410;
    const disabled = await metric(/^unifold_webhook_endpoints_disabled_total (\d+)/m);
    await Promise.all([deliver(hook.id, eventId), deliver(hook.id, eventId)]);
    answer = 200;
    expect(await disabledEvents(hook.tenant)).toHaveLength(1);
    expect(await metric(/^unifold_webhook_endpoints_disabled_total (\d+)/m)).toBe(disabled + 1);
  });

  it(`an endpoint failing for more than ${DISABLE_AFTER_HOURS} h is disabled at its next failure; before that it is retried`, async () => {
    const hook = await endpoint();
    const eventId = await event(hook.id);
    answer = 503;
    expect(await failureOf(deliver(hook.id, eventId))).toBeInstanceOf(DeliveryFailed);
    // Failing since just under the limit: retried.
    const since = async (ms: number) =>
      sql`update webhook_endpoints set failing_since = ${new Date(Date.now() - ms)} where id = ${hook.id}`;
    await since(DISABLE_AFTER_HOURS * 3_600_000 - 60_000);
    expect(await failureOf(deliver(hook.id, eventId))).toBeInstanceOf(DeliveryFailed);
    expect((await shown(hook.id)).enabled).toBe(true);
    await since(DISABLE_AFTER_HOURS * 3_600_000 + 60_000);
    expect(await failureOf(deliver(hook.id, eventId))).toBeUndefined();
    answer = 200;
    const reason = `every delivery failed for more than ${DISABLE_AFTER_HOURS} h`;
    expect(await shown(hook.id)).toMatchObject({ enabled: false, disabled_reason: reason });
    expect(await disabledEvents(hook.tenant)).toEqual([{ endpoint_id: hook.id, url: receiverUrl, reason }]);
    expect((await deliveries(hook.id)).map((a: { outcome: string }) => a.outcome)).toEqual(["failed", "failed", "failed"]);
  });

  it("a receiver that cannot be reached is a failed attempt saying why, never where", async () => {
    const port = await freePort();
    const hook = await endpoint(`http://127.0.0.1:${port}/hooks`);
    const eventId = await event(hook.id);
    const refused = await failureOf(deliver(hook.id, eventId));
    expect(refused).toBeInstanceOf(DeliveryFailed);
    expect((refused as Error).message).toBe(`delivery to http://127.0.0.1:${port}/hooks failed: the connection was refused`);
    const hangsUp = await endpoint();
    const other = await event(hangsUp.id);
    answer = "hang up";
    const closed = await failureOf(deliver(hangsUp.id, other));
    answer = 200;
    expect(closed).toBeInstanceOf(DeliveryFailed);
    const [first] = await deliveries(hook.id);
    const [second] = await deliveries(hangsUp.id);
    expect(first).toMatchObject({ outcome: "failed", response_status: null, error: "the connection was refused" });
    expect(second).toMatchObject({ outcome: "failed", response_status: null });
    expect(["the connection was reset", "the connection failed"]).toContain(second.error);
  });

  it("sends nothing to a receiver the policy no longer allows, and says only that it is not allowed", async () => {
    const hook = await endpoint();
    const eventId = await event(hook.id);
    // Registered when allowed; the policy (or the row) changed since.
    const port = new URL(receiverUrl).port;
    await sql`update webhook_endpoints set url = ${`http://localhost:${port}/hooks`} where id = ${hook.id}`;
    const before = received.length;
    const refused = await failureOf(deliver(hook.id, eventId));
    expect(refused).toBeInstanceOf(DeliveryFailed);
    expect(received.length).toBe(before);
    expect((await deliveries(hook.id))[0]).toMatchObject({ outcome: "failed", response_status: null, error: "destination not allowed" });
  });

  it("checks where a name resolves when it connects: one resolving inside is refused under a strict policy", async (context) => {
    // This machine's own name resolves to a loopback address on most systems (/etc/hosts).
    const name = hostname();
    const addresses = await lookup(name, { all: true }).catch(() => []);
    if (!addresses.length || !addresses.every((a) => isNonPublicAddress(a.address))) {
      context.skip(`${name} does not resolve to loopback or private addresses only here`);
    }
    // The same parts as the gateway's, under a policy that allows no private address.
    const store = await openStore({ databaseUrl: gw.databaseUrl, poolSize: 1 });
    const strict = createWebhookDelivery({
      webhooks: webhookStore(store.db, createVault(parseKeyRing(gw.keySpec))),
      events: gw.services.events,
      metrics: gw.services.platform.metrics,
      network: { allowPrivate: false },
      disableAfterMs: 3_600_000,
    });
    try {
      const hook = await endpoint();
      const eventId = await event(hook.id);
      await sql`update webhook_endpoints set url = ${`http://${name}:${new URL(receiverUrl).port}/hooks`} where id = ${hook.id}`;
      const before = received.length;
      expect(await failureOf(strict.deliver({ endpointId: hook.id, eventId, attempt: 1 }))).toBeInstanceOf(DeliveryFailed);
      expect(received.length).toBe(before);
      const [attempt] = await deliveries(hook.id);
      expect(attempt).toMatchObject({ outcome: "failed", response_status: null, error: "destination not allowed" });
    } finally {
      await strict.close();
      await store.close();
    }
  });

  it("signs with both secrets during a rotation's overlap, and with the new one alone once it ends, from the next delivery on", async () => {
    const hook = await endpoint();
    const eventId = await event(hook.id);
    // A first delivery, so this instance holds the endpoint and its secret.
    await deliver(hook.id, eventId);
    const overlapping = await gw.call("POST", `/webhook-endpoints/${hook.id}/rotate-secret`, { body: { overlap_seconds: 600 } });
    expect(overlapping.status).toBe(200);
    const before = received.length;
    await deliver(hook.id, eventId);
    const during = received[before]!;
    expect(String(during.headers["webhook-signature"]).split(" ")).toHaveLength(2);
    expect(verify(overlapping.body.secret, during.headers, during.body)).toBe(true);
    expect(verify(hook.secret, during.headers, during.body)).toBe(true);
    const ended = await gw.call("POST", `/webhook-endpoints/${hook.id}/rotate-secret`, { body: { overlap_seconds: 0 } });
    await deliver(hook.id, eventId);
    const after = received[before + 1]!;
    expect(String(after.headers["webhook-signature"]).split(" ")).toHaveLength(1);
    expect(verify(ended.body.secret, after.headers, after.body)).toBe(true);
    expect(verify(overlapping.body.secret, after.headers, after.body)).toBe(false);
    expect(verify(hook.secret, after.headers, after.body)).toBe(false);
  });

  it("sends nothing for an endpoint or event that no longer exists, even just after the endpoint was removed", async () => {
    const hook = await endpoint();
    const eventId = await event(hook.id);
    const before = received.length;
    await deliver(hook.id, randomUUID());
    expect((await gw.call("DELETE", `/webhook-endpoints/${hook.id}`)).status).toBe(200);
    await deliver(hook.id, eventId);
    await deliver(randomUUID(), eventId);
    expect(received.length).toBe(before);
  });

  describe("a batch of the deliver job", () => {
    /** Events of the endpoint's tenant, appended in this order (each one's seq after the last's). */
    async function events(tenant: string, list: { type: string; data: Record<string, unknown> }[]) {
      const made = await gw.services.events.emit(
        list.map(({ type, data }, at) => ({ tenantId: tenant, connectionId: null, integration: null, type, version: at + 1, data })),
      );
      return made.map((e) => e.id);
    }

    /** Whether `later` arrived after `earlier` was answered. */
    const answeredBefore = (earlier: string, later: string) =>
      received.find((r) => r.headers["webhook-id"] === later)!.answeredBefore.has(earlier);

    it("sends each record's events one after the other in event order, whatever the batch's order, and other records side by side", async () => {
      const hook = await endpoint();
      const ids = await events(hook.tenant, [
        { type: "user.created", data: { id: "a" } },
        { type: "user.created", data: { id: "b" } },
        { type: "user.updated", data: { id: "a" } },
        { type: "group_member.added", data: { group_id: "g", user_id: "a" } },
        { type: "group_member.added", data: { group_id: "g", user_id: "b" } },
        { type: "user.deleted", data: { id: "b" } },
        { type: "group_member.removed", data: { group_id: "g", user_id: "a" } },
        { type: "user.deleted", data: { id: "a" } },
      ]);
      const [a1, b1, a2, ga1, , b2, ga2, a3] = ids as [string, string, string, string, string, string, string, string];
      answer = 200;
      delayMs = 50;
      mostInFlight = 0;
      const outcome = await gw.services.webhooks.deliverAll(
        [...ids].reverse().map((eventId) => ({ endpointId: hook.id, eventId, attempt: 1 })),
      );
      delayMs = 0;
      expect(outcome).toEqual(ids.map(() => undefined));
      for (const [earlier, later] of [
        [a1, a2],
        [a2, a3],
        [b1, b2],
        [ga1, ga2],
      ] as const) {
        expect(answeredBefore(earlier, later)).toBe(true);
      }
      // Four records, so four at once at most (and more than one: records do not wait for each other).
      expect(mostInFlight).toBe(4);
      expect(await deliveries(hook.id)).toHaveLength(8);
    });

    it("sends an event about no one record after every earlier event of the batch has been answered", async () => {
      const hook = await endpoint();
      const ids = await events(hook.tenant, [
        { type: "user.created", data: { id: "a" } },
        { type: "user.created", data: { id: "b" } },
        { type: "sync.completed", data: { sync_id: "s" } },
        { type: "user.updated", data: { id: "c" } },
      ]);
      answer = 200;
      delayMs = 20;
      const before = received.length;
      await gw.services.webhooks.deliverAll([...ids].reverse().map((eventId) => ({ endpointId: hook.id, eventId, attempt: 1 })));
      delayMs = 0;
      expect(received.length - before).toBe(4);
      expect(answeredBefore(ids[0]!, ids[2]!)).toBe(true);
      expect(answeredBefore(ids[1]!, ids[2]!)).toBe(true);
      // A later record's event does not wait for it.
      expect(answeredBefore(ids[2]!, ids[3]!)).toBe(false);
    });

    it("answers each job's own outcome, records every attempt, and an endpoint that answered one is not failing", async () => {
      const hook = await endpoint();
      const ids = await events(hook.tenant, [
        { type: "user.created", data: { id: "a" } },
        { type: "user.created", data: { id: "b" } },
        { type: "user.created", data: { id: "c" } },
      ]);
      answerFor.set(ids[1]!, 503);
      answer = 200;
      const outcome = await gw.services.webhooks.deliverAll([
        ...ids.map((eventId) => ({ endpointId: hook.id, eventId, attempt: 2 })),
        { endpointId: hook.id, eventId: randomUUID(), attempt: 1 },
      ]);
      answerFor.clear();
      expect(outcome.map((o) => o && [o.constructor, o.message])).toEqual([
        undefined,
        [DeliveryFailed, `delivery to ${receiverUrl} failed: status 503`],
        undefined,
        undefined,
      ]);
      const attempts = await deliveries(hook.id);
      expect(
        attempts
          .map((a: { event_id: string; outcome: string; attempt: number }) => [a.event_id, a.outcome, a.attempt])
          .sort((x: string[], y: string[]) => ids.indexOf(x[0]!) - ids.indexOf(y[0]!)),
      ).toEqual([
        [ids[0], "delivered", 2],
        [ids[1], "failed", 2],
        [ids[2], "delivered", 2],
      ]);
      expect((await shown(hook.id)).failing_since).toBeNull();
      // Every attempt failed: failing since then, and kept so by the next such batch.
      answer = 500;
      await gw.services.webhooks.deliverAll(ids.slice(0, 2).map((eventId) => ({ endpointId: hook.id, eventId, attempt: 3 })));
      const since = (await shown(hook.id)).failing_since;
      expect(since).not.toBeNull();
      await gw.services.webhooks.deliverAll([{ endpointId: hook.id, eventId: ids[2]!, attempt: 3 }]);
      answer = 200;
      expect((await shown(hook.id)).failing_since).toBe(since);
    });
  });
});

/*
 * The deliver job through the real queue and workers: one job per endpoint and batch of events,
 * its failed events queued again as one job for their next attempt, after that attempt's backoff.
 */
describe("the deliver job", { timeout: 60_000 }, () => {
  let gw: Gateway;
  let server: Server;
  let url: string;
  let sql: postgres.Sql;
  /** Statuses a record's next deliveries get (by the event's data.id), before it is answered 200. */
  const failFirst = new Map<string, number[]>();
  /** Every delivery received: its webhook-id and the status it was answered. */
  const arrivals: { id: string; status: number }[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk) => (body += chunk));
      req.on("end", () => {
        const status = failFirst.get(String(JSON.parse(body).data.id))?.shift() ?? 200;
        arrivals.push({ id: String(req.headers["webhook-id"]), status });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
    gw = await startGateway({ jobs: true, queue: { retryDelaySeconds: 1, retryLimit: 2 } });
    sql = databaseOf(gw);
  }, 60_000);
  afterAll(() => closeAll(sql, gw, server));

  /** A new tenant's endpoint, and the records its events will be about (`<tenant>-0`, `-1`, …). */
  async function endpoint(records: number) {
    const tenant = `t-${randomUUID().slice(0, 8)}`;
    const made = await gw.call("POST", "/webhook-endpoints", { body: { url, events: ["user.updated"], tenant_id: tenant } });
    expect(made.status, made.text).toBe(201);
    const ids = Array.from({ length: records }, (_, at) => `${tenant}-${at}`);
    const emit = async () => {
      const rows = ids.map((id) => ({
        tenantId: tenant,
        connectionId: null,
        integration: null,
        type: "user.updated",
        version: 1,
        data: { id },
      }));
      return (await gw.services.events.emit(rows)).map((event) => event.id);
    };
    return { endpointId: made.body.id as string, ids, emit };
  }
  const attemptsOf = async (endpointId: string) =>
    ((await gw.call("GET", `/webhook-endpoints/${endpointId}/deliveries?limit=100`)).body.result as Attempt[]).map(
      ({ event_id, attempt, outcome, created_at }) => ({ event_id, attempt, outcome, created_at }),
    );
  type Attempt = { event_id: string; attempt: number; outcome: string; created_at: string };
  /** The deliver jobs of an endpoint, oldest first: what each carried, and its state. */
  const jobsOf = (endpointId: string) =>
    sql<{ data: { eventIds?: string[]; eventId?: string; attempt?: number }; state: string }[]>`
      select data, state from pgboss.job
      where name = 'webhook-deliver' and data->>'endpointId' = ${endpointId} order by created_on, id`;

  it("queues an endpoint's events as one job, and its failed ones again as one job for their next attempt, after the backoff", async () => {
    const { endpointId, ids, emit } = await endpoint(5);
    failFirst.set(ids[1]!, [503]);
    failFirst.set(ids[3]!, [500]);
    const events = await emit();
    await until(async () => (await attemptsOf(endpointId)).filter((a) => a.outcome === "delivered").length === 5);
    const attempts = await attemptsOf(endpointId);
    const of = (at: number) => attempts.filter((a) => a.event_id === events[at]).map((a) => [a.attempt, a.outcome]);
    for (const at of [0, 2, 4]) expect(of(at)).toEqual([[1, "delivered"]]);
    for (const at of [1, 3])
      expect(of(at)).toEqual([
        [1, "failed"],
        [2, "delivered"],
      ]);
    // The delivered events were sent once; the failed ones twice.
    for (const [at, event] of events.entries()) {
      expect(arrivals.filter((a) => a.id === event).map((a) => a.status)).toEqual(at === 1 ? [503, 200] : at === 3 ? [500, 200] : [200]);
    }
    // Two jobs: the five events, then the two that failed, as their second attempt.
    expect((await jobsOf(endpointId)).map((job) => [job.data.eventIds, job.data.attempt ?? 1, job.state])).toEqual([
      [events, 1, "completed"],
      [[events[1], events[3]], 2, "completed"],
    ]);
    // The second attempt waited for the first's backoff (retryDelaySeconds: 1).
    const first = attempts.find((a) => a.event_id === events[1] && a.attempt === 1)!;
    const second = attempts.find((a) => a.event_id === events[1] && a.attempt === 2)!;
    expect(Date.parse(second.created_at) - Date.parse(first.created_at)).toBeGreaterThanOrEqual(900);
  });

  it("splits an endpoint's events into jobs of EVENTS_PER_JOB, in event order", async () => {
    const { endpointId, emit } = await endpoint(EVENTS_PER_JOB * 2 + 3);
    const events = await emit();
    await until(async () => (await jobsOf(endpointId)).every((job) => job.state === "completed"));
    expect((await jobsOf(endpointId)).map((job) => job.data.eventIds)).toEqual([
      events.slice(0, EVENTS_PER_JOB),
      events.slice(EVENTS_PER_JOB, EVENTS_PER_JOB * 2),
      events.slice(EVENTS_PER_JOB * 2),
    ]);
    for (const event of events) expect(arrivals.some((a) => a.id === event)).toBe(true);
  });

  it("gives an event up after 1 + retryLimit attempts, queuing nothing more", async () => {
    const { endpointId, ids, emit } = await endpoint(2);
    failFirst.set(ids[0]!, [500, 500, 500, 500]);
    const events = await emit();
    await until(async () => (await attemptsOf(endpointId)).length === 4, 30_000);
    // The third attempt's job completes without queuing a fourth (retryLimit: 2).
    await until(async () => (await jobsOf(endpointId)).every((job) => job.state === "completed"), 10_000);
    const jobs = await jobsOf(endpointId);
    expect(jobs.map((job) => [job.data.eventIds, job.data.attempt ?? 1])).toEqual([
      [events, 1],
      [[events[0]], 2],
      [[events[0]], 3],
    ]);
    const attempts = await attemptsOf(endpointId);
    expect(attempts.filter((a) => a.event_id === events[0]).map((a) => [a.attempt, a.outcome])).toEqual([
      [1, "failed"],
      [2, "failed"],
      [3, "failed"],
    ]);
    expect(arrivals.filter((a) => a.id === events[0])).toHaveLength(3);
  });

  it("still delivers a job queued by an earlier version, which named one event", async () => {
    const { endpointId, emit } = await endpoint(1);
    const [event] = await emit();
    await until(async () => (await attemptsOf(endpointId)).length === 1);
    await gw.services.platform.queue.boss.insert([{ name: "webhook-deliver", data: { endpointId, eventId: event } }]);
    await until(async () => (await attemptsOf(endpointId)).length === 2);
    expect((await attemptsOf(endpointId)).map((a) => [a.event_id, a.attempt, a.outcome])).toEqual([
      [event, 1, "delivered"],
      [event, 1, "delivered"],
    ]);
    expect(arrivals.filter((a) => a.id === event)).toHaveLength(2);
  });
});

describe("what a failed attempt says to the tenant", () => {
  /** An error with `code`, wrapped `depth` times as undici and fetch wrap theirs. */
  const failure = (code: unknown, depth = 0): Error => {
    let error: Error = Object.assign(new Error("inner"), { code });
    for (let i = 0; i < depth; i++) error = new Error("outer", { cause: error });
    return error;
  };

  it("names each network failure it knows, wherever it is in the chain of causes (up to five deep)", () => {
    const known: Record<string, string> = {
      ECONNREFUSED: "the connection was refused",
      ECONNRESET: "the connection was reset",
      ENOTFOUND: "the host name was not found",
      EAI_AGAIN: "the host name could not be resolved",
      ETIMEDOUT: "the connection timed out",
      EHOSTUNREACH: "the host is unreachable",
      ENETUNREACH: "the network is unreachable",
      UND_ERR_CONNECT_TIMEOUT: "the connection timed out",
      UND_ERR_HEADERS_TIMEOUT: "no answer in time",
      UND_ERR_BODY_TIMEOUT: "the answer's body did not arrive in time",
      UND_ERR_SOCKET: "the connection failed",
    };
    for (const [code, said] of Object.entries(known)) {
      expect(deliveryError(failure(code)), code).toBe(said);
      expect(deliveryError(failure(code, 4)), code).toBe(said);
      expect(deliveryError(failure(code, 5)), code).toBe("the request failed");
    }
  });

  it("says 'destination not allowed' for a name the lookup refused, whatever else the chain holds", () => {
    expect(deliveryError(failure("EUNIFOLD_BLOCKED"))).toBe("destination not allowed");
    expect(deliveryError(Object.assign(new Error("outer", { cause: failure("EUNIFOLD_BLOCKED", 2) }), { code: "ECONNREFUSED" }))).toBe(
      "destination not allowed",
    );
    expect(deliveryError(failure("EUNIFOLD_BLOCKED", 5))).toBe("the request failed");
  });

  it("says only that the request failed for anything else, never the error's own words", () => {
    for (const other of [failure("EWHATEVER"), failure(42), new Error("connect to 10.0.0.7:443"), "a string", null, undefined]) {
      expect(deliveryError(other)).toBe("the request failed");
    }
  });
});
