import { randomBytes } from "node:crypto";
import { oktaClient } from "@unifold/sandbox/idp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../test-support/database.ts";
import { type Running, startGatewayProcess } from "./harness.ts";

/*
 * kill -9 mid-push: an Okta-like client assigns 150 people, 8 at a time; the gateway process is
 * killed outright part-way, started again on the same database, and the client assigns them
 * all again (Okta's retry: a lookup by userName, then a create of whoever is missing). Every
 * user then exists once, in SCIM and in the copy, with exactly one user.created event.
 */
const COUNT = 150;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("kill -9 of the gateway mid-push", { timeout: 120_000 }, () => {
  let database: TestDatabase;
  const adminKey = `ufk_${randomBytes(32).toString("base64url")}`;
  const running: Running[] = [];
  let env: Record<string, string>;

  beforeAll(async () => {
    database = await createTestDatabase();
    env = {
      UNIFOLD_ADMIN_KEY: adminKey,
      UNIFOLD_ENCRYPTION_KEYS: `crash:${randomBytes(32).toString("base64")}`,
      DATABASE_URL: database.url,
    };
  });
  afterAll(async () => {
    for (const r of running) r.child.kill("SIGKILL");
    await database?.drop();
  });

  it("loses no user and announces none twice", async () => {
    const first = await startGatewayProcess(env);
    running.push(first);
    const admin = (url: string, method: string, path: string, body?: unknown) =>
      fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${adminKey}`, ...(body !== undefined && { "content-type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      }).then(async (res) => ({ status: res.status, body: (await res.json()) as any }));
    const made = await admin(first.url, "POST", "/connections", { tenant_id: "acme", integration: "scim" });
    expect(made.status).toBe(201);
    const { id } = made.body;
    const token = made.body.scim.token as string;
    const profiles = Array.from({ length: COUNT }, (_, i) => ({
      userName: `crash${i}@acme.example.com`,
      givenName: "Crash",
      familyName: String(i),
      email: `crash${i}@acme.example.com`,
    }));

    const before = oktaClient({ baseUrl: `${first.url}/scim/v2/${id}`, token, concurrency: 8, retries: 0 });
    const pushing = before.assignUsers(profiles).catch((error: unknown) => error);
    // Killed once some users are in, and others are mid-transaction.
    for (let i = 0; i < 200 && before.transcript.filter((e) => e.status === 201).length < 30; i++) await sleep(10);
    first.child.kill("SIGKILL");
    expect(await pushing).toBeInstanceOf(Error);
    const createdBefore = before.transcript.filter((e) => e.status === 201).length;
    expect(createdBefore).toBeGreaterThan(0);
    expect(createdBefore).toBeLessThan(COUNT);

    const second = await startGatewayProcess(env);
    running.push(second);
    const after = oktaClient({ baseUrl: `${second.url}/scim/v2/${id}`, token, concurrency: 8 });
    const assigned = await after.assignUsers(profiles);
    expect(new Set(assigned.map((a) => a.user.id)).size).toBe(COUNT);
    expect((await after.importUsers()).length).toBe(COUNT);

    const events: { type: string; data: { id?: string } }[] = [];
    let cursor = "";
    for (;;) {
      const page = await admin(second.url, "GET", `/events?connection_id=${id}&type=user.created&limit=500${cursor}`);
      events.push(...page.body.result);
      if (!page.body.next_cursor) break;
      cursor = `&after=${encodeURIComponent(page.body.next_cursor)}`;
    }
    const announced = events.map((e) => e.data.id);
    expect(announced).toHaveLength(COUNT);
    expect(new Set(announced).size).toBe(COUNT);
    const copy = await admin(second.url, "GET", `/unified/records/users?connection_id=${id}&limit=500`);
    expect(copy.body.result.filter((r: { deleted_at: string | null }) => r.deleted_at === null)).toHaveLength(COUNT);
  });
});
