import type { FaultSpec, Vendor } from "@unifold/sandbox";
import postgres from "postgres";
import { describe, expect, it } from "vitest";
import { type CallResult, useGatewayWithSandbox, vendors } from "./harness.ts";

/*
 * The fault suite: upstreams that lie, and a database whose connections are killed mid-write.
 * Every walk ends, every answer is valid JSON (a page or the contract's error with a request
 * id), and nothing is written twice or left stuck. Counts and durations are bounded.
 */

/** An answer is a page, or the contract's error: always JSON, always with a request id on errors. */
function expectCleanAnswer(res: CallResult, what: string) {
  expect(() => JSON.parse(res.text), `${what}: not JSON: ${res.text.slice(0, 200)}`).not.toThrow();
  if (res.status >= 200 && res.status < 300) return;
  expect(res.status, what).toBeGreaterThanOrEqual(400);
  expect(res.body.error, what).toMatchObject({ code: expect.any(String), message: expect.any(String), request_id: expect.any(String) });
}

describe("lying upstreams: every walk ends, every answer is valid JSON or a clean error", () => {
  const fx = useGatewayWithSandbox({ tenants: { acme: 40 } });

  const lies: Omit<FaultSpec, "vendor">[] = [
    { kind: "lying_total", total: 100_000 },
    { kind: "lying_total", total: 0 },
    { kind: "ignore_paging" },
    { kind: "invalid_escape" },
    { kind: "invalid_utf8" },
    { kind: "oversize", size_bytes: 11 * 1024 * 1024 },
    { kind: "redirect", location: "http://127.0.0.1:9/steal" },
    { kind: "malformed" },
    { kind: "truncate" },
  ];

  /** Walks a list page by page, at most `bound` pages; answers every page seen. */
  async function walk(path: string, bound = 20) {
    const pages: CallResult[] = [];
    let cursor: string | null = null;
    do {
      const res = await fx.gw.call("GET", `${path}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, { key: fx.apiKey });
      pages.push(res);
      cursor = res.status === 200 ? res.body.next_cursor : null;
    } while (cursor && pages.length < bound);
    return { pages, ended: cursor === null };
  }

  for (const [slug, vendor] of Object.entries(vendors) as [string, Vendor][]) {
    for (const lie of lies) {
      const name = `${lie.kind}${lie.total !== undefined ? ` (${lie.total})` : ""}`;
      it(`${slug}, ${name}: the unified and proxy walks end with valid JSON and no record twice`, async () => {
        const proxy = { jumpcloud: "systemusers", okta: "users", google: "users", entra: "users" }[vendor as string] ?? "Users";
        for (const path of [
          `/unified/user-directory/users?connection_id=${fx.conn[slug]}&limit=7`,
          `/proxy/${proxy}?connection_id=${fx.conn[slug]}&limit=7`,
        ]) {
          fx.sandbox.world.faults.clear();
          fx.sandbox.fault({ vendor, method: "GET", ratio: 1, ...lie });
          const { pages, ended } = await walk(path);
          fx.sandbox.world.faults.clear();
          expect(ended, `${path}: the walk did not end in 20 pages`).toBe(true);
          for (const page of pages) expectCleanAnswer(page, `${slug} ${name} ${path}`);
          const records = pages.filter((p) => p.status === 200).flatMap((p) => p.body.result as Record<string, unknown>[]);
          const ids = records.map((r) => String(r.id ?? r._id));
          expect(new Set(ids).size, `${path}: a record was answered twice`).toBe(ids.length);
          // A body past the cap is refused by name, and a redirect is never followed.
          if (lie.kind === "oversize") expect(pages.at(-1)!.body.error.code).toBe("upstream_too_large");
          if (lie.kind === "redirect") expect(pages.at(-1)!.body.error.message).toMatch(/upstream status 302/);
        }
      });
    }
  }
});

// Its replays wait out leases and a pool that reconnects; beside the rest of the suite on two cores that took over 30 s.
describe("database connections killed mid-write", { timeout: 90_000 }, () => {
  const fx = useGatewayWithSandbox({ tenants: { acme: 5 }, gateway: { idempotencyLeaseMs: 1_500 } });

  it("leaves no key stuck, no user twice, and no error without a request id", async () => {
    const admin = postgres(fx.gw.databaseUrl, { max: 1, onnotice: () => {}, fetch_types: false });
    const create = (i: number) =>
      fx.gw.call("POST", `/unified/user-directory/users?connection_id=${fx.conn["postman-scim"]}&remote_data=false`, {
        key: fx.apiKey,
        headers: { "idempotency-key": `killed-${i}` },
        body: { username: `killed-${i}@acme.example.com`, first_name: "Killed", last_name: String(i) },
      });
    const count = 40;
    // Writes in flight while every other connection to the gateway's database is terminated, three times.
    let killing = true;
    const killer = (async () => {
      for (let round = 0; round < 3 && killing; round++) {
        await new Promise((resolve) => setTimeout(resolve, 40));
        await admin`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`;
      }
    })();
    const first = await Promise.all(Array.from({ length: count }, (_, i) => create(i).catch(() => undefined)));
    killing = false;
    await killer;
    await admin.end();
    for (const res of first) if (res) expectCleanAnswer(res, "during the kills");
    // A lost connection is the database's failure, not a bug: 503 unavailable, which the caller may retry.
    for (const res of first) if (res && res.status >= 500) expect(res.body.error.code, res.text).toBe("unavailable");
    expect(fx.gw.logs()).not.toContain('"msg":"unhandled error"');

    // Replayed with the same keys until each has its final answer: no key may stay "still running" past its lease.
    const deadline = Date.now() + 20_000;
    const finals: CallResult[] = [];
    for (let i = 0; i < count; i++) {
      let res = await create(i);
      while ((res.status === 409 || res.status >= 500) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        res = await create(i);
      }
      expectCleanAnswer(res, `replay ${i}`);
      expect(res.status, `killed-${i}: ${res.text}`).toBe(201);
      finals.push(res);
    }
    const users = fx.sandbox.postman.tenant("acme").users.all();
    for (let i = 0; i < count; i++) {
      const made = users.filter((u) => u.userName === `killed-${i}@acme.example.com`);
      expect(made, `killed-${i}`).toHaveLength(1);
      expect(finals[i]!.body.id).toBe(made[0]!.id);
    }
  });
});
