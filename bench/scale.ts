// Scale-out figures (#18), all in one run on this machine:
//  1. what a shared limit costs per request: three gateways that differ only in where their limits
//     live (memory, Postgres, Redis), the same unified Postman page through each, alternating
//     request by request over one keep-alive connection (µs resolution), then autocannon;
//  2. throughput of 1, 2 and 3 instances on one Postgres (limits shared), with the load split
//     evenly across them. On two cores shared with the load generator, the sandbox and Postgres,
//     these are correctness figures (the instances work together), not scaling figures.
// Usage: DATABASE_URL=postgres://… [REDIS_URL=redis://…] npx tsx bench/scale.ts [seconds=5]
import { randomBytes } from "node:crypto";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import { Pool } from "undici";
import * as here from "./processes.ts";

const seconds = Number(process.argv[2] ?? 5);
const serverUrl = process.env.DATABASE_URL;
if (!serverUrl) throw new Error("bench/scale.ts needs DATABASE_URL (a Postgres server the instances share)");
const redisUrl = process.env.REDIS_URL;

// Pacing on, with a rule too large to refuse anything: every upstream call pays for its rate
// check, its concurrency slot and the slot's release, as a real Postman connection does.
const mappings = mkdtempSync(join(tmpdir(), "unifold-bench-mappings-"));
cpSync(new URL("../mappings", import.meta.url), mappings, { recursive: true });
const yaml = join(mappings, "postman-scim", "integration.yaml");
writeFileSync(
  yaml,
  readFileSync(yaml, "utf8").replace(
    "rate_limit: { requests: 300, per_seconds: 60 }",
    "rate_limit: { requests: 1000000000, per_seconds: 60 }",
  ),
);
const common = {
  UNIFOLD_MAPPINGS_DIR: mappings,
  UNIFOLD_ENFORCE_VENDOR_RATE_LIMITS: "true",
  UNIFOLD_API_KEY_RATE_LIMIT: "1000000000",
  UNIFOLD_UPSTREAM_CONCURRENCY: "64",
  LOG_LEVEL: "warn",
};

const sandbox = await here.startSandboxProcess({ big: 2_000 });
const path = (connection: string) => `/unified/user-directory/users?connection_id=${connection}&limit=20`;

async function prepared(gateway: here.GatewayProcess) {
  const connection = await here.connect(gateway, sandbox, "big", "postman");
  return { gateway, url: `${gateway.url}${path(connection)}`, headers: { authorization: `Bearer ${await here.apiKey(gateway)}` } };
}

// 1. The cost of a shared limit.
const stores: { name: string; env: Record<string, string> }[] = [
  { name: "in-process (one instance)", env: { UNIFOLD_SHARED_LIMITS: "false" } },
  { name: "Postgres", env: {} },
  ...(redisUrl ? [{ name: "Redis", env: { REDIS_URL: redisUrl } }] : []),
];
const sides = [];
for (const store of stores) sides.push({ ...store, ...(await prepared(await here.startGatewayProcess({ ...common, ...store.env }))) });

const pools = sides.map((s) => new Pool(new URL(s.url).origin, { connections: 1 }));
const samples = sides.map(() => [] as number[]);
for (let round = -300; round < 3_000; round++) {
  for (const [i, side] of sides.entries()) {
    const url = new URL(side.url);
    const start = process.hrtime.bigint();
    const response = await pools[i]!.request({ method: "GET", path: url.pathname + url.search, headers: side.headers });
    await response.body.arrayBuffer();
    if (response.statusCode !== 200) throw new Error(`${side.name}: ${response.statusCode}`);
    if (round >= 0) samples[i]!.push(Number(process.hrtime.bigint() - start) / 1000);
  }
}
await Promise.all(pools.map((p) => p.close()));
const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const throughput: { rps: number[]; cpu: number[] }[] = sides.map(() => ({ rps: [], cpu: [] }));
for (let round = 0; round < 4; round++) {
  for (const [i, side] of (round % 2 ? [...sides.entries()].reverse() : [...sides.entries()]) as [number, (typeof sides)[number]][]) {
    const before = here.cpuSeconds(side.gateway.pid);
    const result = await autocannon({ url: side.url, headers: side.headers, connections: 10, duration: seconds });
    if (result.non2xx || result.errors) throw new Error(`${side.name}: ${result.non2xx} non-2xx, ${result.errors} errors`);
    throughput[i]!.rps.push(result.requests.average);
    throughput[i]!.cpu.push(((here.cpuSeconds(side.gateway.pid) - before) * 1000) / result.requests.total);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const baseline = { p50: p50(samples[0]!), rps: median(throughput[0]!.rps), cpu: median(throughput[0]!.cpu) };
console.log(
  `\nShared limits, one unified Postman page of 20 users (1 upstream call: rate check, slot, release; plus the API-key check):\n`,
);
console.log("| limits kept in | p50 ms (1 conn, alternating) | added p50 ms | req/s (10 conns) | ratio | gateway CPU ms/request |");
console.log("|---|---|---|---|---|---|");
for (const [i, side] of sides.entries()) {
  const [lat, rps, cpu] = [p50(samples[i]!), median(throughput[i]!.rps), median(throughput[i]!.cpu)];
  console.log(
    `| ${side.name} | ${(lat / 1000).toFixed(3)} | ${((lat - baseline.p50) / 1000).toFixed(3)} | ${Math.round(rps)} | ${(rps / baseline.rps).toFixed(2)} | ${cpu.toFixed(3)} |`,
  );
}
await Promise.all(sides.map((s) => s.gateway.stop()));

// 2. One, two and three instances on one database.
const database = await here.freshDatabase(serverUrl);
const shared = {
  ...common,
  DATABASE_URL: database.url,
  UNIFOLD_ADMIN_KEY: `ufk_${randomBytes(32).toString("base64url")}`,
  UNIFOLD_ENCRYPTION_KEYS: `bench:${randomBytes(32).toString("base64")}`,
  ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
};
const instances: here.GatewayProcess[] = [];
for (let i = 0; i < 3; i++) instances.push(await here.startGatewayProcess(shared));
const first = await prepared(instances[0]!);
const connection = new URL(first.url).searchParams.get("connection_id")!;
console.log(
  `\nInstances on one Postgres (limits in ${redisUrl ? "Redis" : "Postgres"}), 12 connections split evenly, ${seconds} s (correctness figures: 2 cores in all):\n`,
);
console.log("| instances | req/s | ratio to 1 | non-2xx |");
console.log("|---|---|---|---|");
// Warm every instance first (JIT, pools), so the 1-instance row is not the cold one.
for (const gateway of instances)
  await autocannon({ url: `${gateway.url}${path(connection)}`, headers: first.headers, connections: 4, duration: 2 });
let one = 0;
for (const count of [1, 2, 3]) {
  const results = await Promise.all(
    instances
      .slice(0, count)
      .map((gateway) =>
        autocannon({ url: `${gateway.url}${path(connection)}`, headers: first.headers, connections: 12 / count, duration: seconds }),
      ),
  );
  const rps = results.reduce((sum, r) => sum + r.requests.average, 0);
  const bad = results.reduce((sum, r) => sum + r.non2xx + r.errors, 0);
  if (count === 1) one = rps;
  console.log(`| ${count} | ${Math.round(rps)} | ${(rps / one).toFixed(2)} | ${bad} |`);
}
await Promise.all(instances.map((g) => g.stop()));
await database.drop();
sandbox.stop();
rmSync(mappings, { recursive: true, force: true });
process.exit(0);
