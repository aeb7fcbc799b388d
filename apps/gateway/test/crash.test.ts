import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RunningSandbox, startSandbox } from "@unifold/sandbox";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../test-support/database.ts";
import { type Running, startGatewayProcess } from "./harness.ts";

/*
 * kill -9 mid-batch: 200 idempotent creates against a vendor that resets, loses answers and
 * fails; the gateway process is killed outright part-way, started again on the same store,
 * and every request is replayed with its key. Every user then exists exactly once and every
 * key ends with the user it made: none is stuck past its lease. On the embedded database and
 * on a Postgres server.
 */
const COUNT = 200;
const LEASE_MS = 1_500;
const leased = { UNIFOLD_IDEMPOTENCY_LEASE_MS: String(LEASE_MS) };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const variant of ["the embedded database", "a Postgres server"] as const) {
  describe(`kill -9 mid-batch, on ${variant}`, { timeout: 120_000 }, () => {
    let sandbox: RunningSandbox;
    let database: TestDatabase | undefined;
    const dataDir = mkdtempSync(join(tmpdir(), "unifold-crash-"));
    const adminKey = `ufk_${randomBytes(32).toString("base64url")}`;
    const env: Record<string, string> = {
      UNIFOLD_ADMIN_KEY: adminKey,
      UNIFOLD_DATA_DIR: dataDir,
      UNIFOLD_ENCRYPTION_KEYS: `crash:${randomBytes(32).toString("base64")}`,
      DATABASE_URL: "",
    };
    const running: Running[] = [];

    beforeAll(async () => {
      sandbox = await startSandbox({ tenants: [{ name: "acme", users: 3 }], rateLimits: { postman: 0 } });
      if (variant === "a Postgres server") {
        database = await createTestDatabase();
        env.DATABASE_URL = database.url;
      }
    });
    afterAll(async () => {
      for (const r of running) r.child.kill("SIGKILL");
      await sandbox?.close();
      await database?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it("leaves every user created exactly once and no key stuck", async () => {
      const first = await startGatewayProcess({ ...leased, ...env });
      running.push(first);
      const post = async (url: string, path: string, body: unknown, headers: Record<string, string> = {}) => {
        const res = await fetch(`${url}${path}`, {
          method: "POST",
          headers: { authorization: `Bearer ${headers.key ?? adminKey}`, "content-type": "application/json", ...headers },
          body: JSON.stringify(body),
        });
        return { status: res.status, body: (await res.json()) as any };
      };
      const connection = await post(first.url, "/connections", {
        tenant_id: "acme",
        integration: "postman-scim",
        credentials: { api_key: sandbox.key("postman", "acme") },
        config: { base_url: sandbox.baseUrl("postman") },
      });
      expect(connection.status).toBe(201);
      const apiKey = (await post(first.url, "/api-keys", { name: "crash", scope: "api" })).body.secret as string;
      const create = (url: string, i: number) =>
        post(
          url,
          `/unified/user-directory/users?connection_id=${connection.body.id}&remote_data=false`,
          { username: `crash-${i}@acme.example.com`, first_name: "Crash", last_name: String(i) },
          { key: apiKey, "idempotency-key": `crash-${i}` },
        );

      // The vendor resets connections, loses answers after acting, and fails, each on about 5 % of creates.
      for (const kind of ["reset", "lost"] as const) sandbox.fault({ vendor: "postman", method: "POST", kind, ratio: 0.05 });
      sandbox.fault({ vendor: "postman", method: "POST", kind: "status", status: 503, ratio: 0.05 });

      // Eight at a time until 60 have answered, then kill -9 with the rest in flight.
      let answered = 0;
      let next = 0;
      const firstRun = async () => {
        while (next < COUNT && first.child.exitCode === null && first.child.signalCode === null) {
          const i = next++;
          await create(first.url, i).catch(() => undefined);
          if (++answered === 60) first.child.kill("SIGKILL");
        }
      };
      await Promise.all(Array.from({ length: 8 }, firstRun));
      expect(first.child.signalCode ?? "").toBe("SIGKILL");

      // Started again on the same store: every request replayed with its own key until it has its final answer.
      const second = await startGatewayProcess({ ...leased, ...env });
      running.push(second);
      const finals: { status: number; body: any }[] = new Array(COUNT);
      let cursor = 0;
      const deadline = Date.now() + 90_000;
      const replay = async () => {
        while (cursor < COUNT) {
          const i = cursor++;
          let res = await create(second.url, i);
          // "Still running" lasts at most the lease; 5xx and 429 are never kept, so they are retried.
          while (
            (res.status >= 500 || res.status === 429 || /still running/.test(res.body?.error?.message ?? "")) &&
            Date.now() < deadline
          ) {
            await sleep(res.status === 409 ? 250 : 50);
            res = await create(second.url, i);
          }
          finals[i] = res;
        }
      };
      await Promise.all(Array.from({ length: 8 }, replay));
      sandbox.world.faults.clear();

      const users = sandbox.postman.tenant("acme").users.all();
      for (let i = 0; i < COUNT; i++) {
        expect(finals[i]!.status, `crash-${i}: ${JSON.stringify(finals[i]!.body)}`).toBe(201);
        const made = users.filter((u) => u.userName === `crash-${i}@acme.example.com`);
        expect(made, `crash-${i}`).toHaveLength(1);
        expect(finals[i]!.body.id).toBe(made[0]!.id);
      }
      expect(second.stderr()).not.toMatch(/unhandled error/);
    });
  });
}
