// Benchmark: what the gateway adds on top of the upstream, measured side by side in one run.
// The sandbox, the gateway and a bare Node relay (relay.ts: the floor under any Node proxy) each
// run in their own process on loopback; this process drives them.
//  1. latency: one connection, requests sent one at a time, alternating direct ↔ relay ↔ through the
//     gateway (µs resolution, so a fraction of a millisecond shows);
//  2. throughput: autocannon, 10 connections: direct, relay, proxy and unified list pages of 100 users,
//     with the gateway's CPU time read from /proc to give records/s per core;
//  3. mapping alone: each users mapping over 10,000 sandbox records next to a hand-written
//     function that produces the same output (checked equal first); best of five each, a quick
//     look: bench/mapping.ts measures it in interleaved rounds, with median and spread;
//  4. what a unified page costs beyond a proxy page, part by part, in this process: parsing the
//     records, mapping them, serialising the unified page — next to the gateway's measured CPU
//     per proxy request, which bounds the unified ÷ proxy ratio from above.
// Usage: npx tsx bench/gateway.ts [seconds-per-throughput-run=5]
// The gateway uses DATABASE_URL when set (a Postgres server), else an embedded database in a temp dir.
import { isDeepStrictEqual } from "node:util";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { Pool } from "undici";
import { rawListEnvelope, withRemoteBytes } from "../apps/gateway/src/http/envelope.ts";
import { conformerFor, loadIntegrations, parseRecord } from "../packages/engine/src/index.ts";
import { scanList } from "../packages/engine/src/json-scan.ts";
import { mapRecords } from "../packages/mapping/src/index.ts";
import { handWritten } from "./hand-written-mappings.ts";
import {
  apiKey as makeApiKey,
  basePaths,
  connect,
  cpuSeconds,
  rssMb,
  sandboxHeaders,
  sandboxUsers,
  startGatewayProcess,
  startRelayProcess,
  startSandboxProcess,
  type Vendor,
} from "./processes.ts";

const seconds = Number(process.argv[2] ?? 5);
const USERS = 10_000;
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

// ── processes ────────────────────────────────────────────────────────────────────────────────
const sandboxProcess = await startSandboxProcess({ big: USERS });
const sandbox = { url: sandboxProcess.url };
const gatewayProcess = await startGatewayProcess(
  {
    // The sandbox's own Postman limit is off too: this measures the gateway, not the pacing.
    UNIFOLD_ENFORCE_VENDOR_RATE_LIMITS: "false",
    UNIFOLD_UPSTREAM_CONCURRENCY: "64",
  },
  process.env.BENCH_PROFILE_DIR ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : [],
);
const gateway = gatewayProcess.url;
const relay = await startRelayProcess(sandbox.url);

const vendors = {
  jostle: { slug: "jostle-scim", base: basePaths.jostle, direct: "/Users?startIndex=5001&count=100", proxy: "Users" },
  postman: { slug: "postman-scim", base: basePaths.postman, direct: "/Users?startIndex=5001&count=100", proxy: "Users" },
  jumpcloud: { slug: "jumpcloud", base: basePaths.jumpcloud, direct: "/systemusers?limit=100&skip=5000&sort=_id", proxy: "systemusers" },
} satisfies Record<Vendor, unknown>;
const directHeaders = (vendor: Vendor) => sandboxHeaders(sandboxProcess, "big", vendor);

const apiKey = await makeApiKey(gatewayProcess);
const apiHeaders = { authorization: `Bearer ${apiKey}` };
const connectionIds = {} as Record<Vendor, string>;
for (const vendor of Object.keys(vendors) as Vendor[]) connectionIds[vendor] = await connect(gatewayProcess, sandboxProcess, "big", vendor);

// A page from deep in the list, so the upstream does the same work either way.
const cursorAt = async (path: string, vendor: Vendor) => {
  // Walk to record 5,001 with the gateway's own cursors: 25 pages of 200.
  let cursor: string | null = null;
  for (let i = 0; i < 25; i++) {
    const page = (await get(`${path}?connection_id=${connectionIds[vendor]}&limit=200${cursor ? `&cursor=${cursor}` : ""}`)) as {
      next_cursor: string | null;
    };
    cursor = page.next_cursor;
  }
  return cursor!;
};
const routes = {} as Record<Vendor, { direct: string; relay: string; proxy: string; unified: string }>;
for (const vendor of Object.keys(vendors) as Vendor[]) {
  const v = vendors[vendor];
  const proxyCursor = await cursorAt(`/proxy/${v.proxy}`, vendor);
  const unifiedCursor = await cursorAt("/unified/user-directory/users", vendor);
  routes[vendor] = {
    direct: `${sandbox.url}${v.base}${v.direct}`,
    relay: `${relay.url}${v.base}${v.direct}`,
    proxy: `${gateway}/proxy/${v.proxy}?connection_id=${connectionIds[vendor]}&limit=100&cursor=${proxyCursor}`,
    unified: `${gateway}/unified/user-directory/users?connection_id=${connectionIds[vendor]}&limit=100&cursor=${unifiedCursor}`,
  };
}

// The raw records for the mapping run, fetched now while no load runs.
const recordsFor = {} as Record<Vendor, unknown[]>;
for (const vendor of Object.keys(vendors) as Vendor[]) recordsFor[vendor] = await sandboxUsers(sandboxProcess, "big", vendor, 10_000);

// ── 1. latency ───────────────────────────────────────────────────────────────────────────────
const latencyRows: string[] = [];
for (const vendor of Object.keys(vendors) as Vendor[]) {
  const r = routes[vendor];
  const samples = await alternate(
    [
      { url: r.direct, headers: directHeaders(vendor) },
      { url: r.relay, headers: directHeaders(vendor) },
      { url: r.proxy, headers: apiHeaders },
      { url: r.unified, headers: apiHeaders },
    ],
    2000,
  );
  const [direct, bare, proxy, unified] = samples.map((s) => percentiles(s));
  latencyRows.push(
    `| ${vendor} | ${ms(direct!.p50)} | ${ms(bare!.p50 - direct!.p50)} | ${ms(proxy!.p50)} | **${ms(proxy!.p50 - direct!.p50)}** | ${ms(proxy!.p50 - bare!.p50)} | ${ms(proxy!.p99)} | ${ms(unified!.p50)} | ${ms(unified!.p50 - direct!.p50)} | ${ms(unified!.p99)} |`,
  );
}

// ── 2. throughput ────────────────────────────────────────────────────────────────────────────
const throughputRows: string[] = [];
const proxyCpuMs = {} as Record<Vendor, number>;
const unifiedCpuMs = {} as Record<Vendor, number>;
for (const vendor of Object.keys(vendors) as Vendor[]) {
  const r = routes[vendor];
  const direct = await load(r.direct, directHeaders(vendor));
  const bare = await load(r.relay, directHeaders(vendor));
  const proxy = await load(r.proxy, apiHeaders);
  const unified = await load(r.unified, apiHeaders);
  proxyCpuMs[vendor] = proxy.cpuMs;
  unifiedCpuMs[vendor] = unified.cpuMs;
  throughputRows.push(
    `| ${vendor} | ${direct.rps} | ${bare.rps} (${(bare.rps / direct.rps).toFixed(2)}) | ${proxy.rps} | **${(proxy.rps / direct.rps).toFixed(2)}** | ${unified.rps} | **${(unified.rps / proxy.rps).toFixed(2)}** | ${proxy.cpuMs.toFixed(3)} | ${unified.cpuMs.toFixed(3)} | ${unified.cores.toFixed(2)} | ${Math.round((unified.rps * 100) / unified.cores)} |`,
  );
}
const gatewayPeak = rssMb(gatewayProcess.pid, "VmHWM");

// ── 3. mapping alone ─────────────────────────────────────────────────────────────────────────
const integrations = loadIntegrations(here("../mappings"));
const mappingRows: string[] = [];
for (const vendor of Object.keys(vendors) as Vendor[]) {
  const records = recordsFor[vendor];
  const mapping = integrations.get(vendors[vendor].slug)!.mappings.get("users.jsonata")!;
  const expected = await mapRecords(mapping, records);
  const byHand: (record: unknown) => unknown = handWritten[vendor];
  const handOut = records.map(byHand);
  for (const [i, out] of handOut.entries()) {
    if (!isDeepStrictEqual(JSON.parse(JSON.stringify(out)), JSON.parse(JSON.stringify(expected[i])))) {
      throw new Error(`${vendor}: hand-written mapping differs at record ${i}: ${JSON.stringify(out)} vs ${JSON.stringify(expected[i])}`);
    }
  }
  const jsonataRate = rate(() => mapRecords(mapping, records), records.length);
  const handRate = rate(() => Promise.resolve(records.map(byHand)), records.length);
  const [j, h] = [await jsonataRate, await handRate];
  mappingRows.push(`| ${vendor} | ${Math.round(j)} | ${Math.round(h)} | ${(j / h).toFixed(3)} | ${(1e6 / j).toFixed(1)} µs |`);
}

// ── 4. a unified page's own work, part by part ───────────────────────────────────────────────
// The proxy validates a page by scanning it and copies the records' bytes. A unified page does
// that too, then parses each record from its bytes, maps it, and serialises the mapped fields
// with the record's bytes spliced in as remote_data, through the gateway's own parseRecord,
// withRemoteBytes and rawListEnvelope. Timed here on one 100-record upstream page; added to
// the gateway's measured CPU per proxy request, parsing and serialising alone bound the best
// unified ÷ proxy ratio a gateway could reach on this machine, even if mapping cost nothing.
const partRows: string[] = [];
for (const vendor of Object.keys(vendors) as Vendor[]) {
  const pageBytes = await upstreamPage(vendor);
  const property = vendor === "jumpcloud" ? "results" : "Resources";
  const mapping = integrations.get(vendors[vendor].slug)!.mappings.get("users.jsonata")!;
  const { spans } = scanList(pageBytes, property)!;
  const recordBytes = Array.from({ length: spans.length / 2 }, (_, i) => pageBytes.subarray(spans[2 * i], spans[2 * i + 1]));
  const parseRecords = () => recordBytes.map((bytes) => parseRecord(bytes));
  const records = parseRecords();
  const mapped = (await mapRecords(mapping, records)) as Record<string, unknown>[];
  const serialise = () => {
    const objects = withRemoteBytes(mapped, recordBytes);
    return rawListEnvelope(objects, objects.length, "x".repeat(120));
  };
  const byHand: (record: unknown) => unknown = handWritten[vendor];
  // µs per run: 100 runs timed together, best of five.
  const us = async (work: () => unknown) =>
    1e6 /
    (await rate(async () => {
      for (let i = 0; i < 100; i++) await work();
    }, 100));
  const scan = await us(() => scanList(pageBytes, property));
  const parse = await us(parseRecords);
  const mapJsonata = await us(() => mapRecords(mapping, records));
  const mapHand = await us(() => records.map(byHand));
  const output = await us(serialise);
  // The unified model's check of every mapped record (conform.ts), as the gateway runs it.
  const conform = conformerFor(integrations.get(vendors[vendor].slug)!, "users");
  const modelCheck = await us(() => mapped.map(conform));
  const proxyUs = proxyCpuMs[vendor] * 1000;
  // Mapping left out altogether: what is left is work any unified read must do.
  const bound = proxyUs / (proxyUs + parse + output);
  const r = (x: number) => Math.round(x);
  partRows.push(
    `| ${vendor} | ${r(pageBytes.length / 1024)} KB | ${r(proxyUs)} | ${r(scan)} | ${r(parse)} | ${r(mapJsonata)} | ${r(mapHand)} | ${r(modelCheck)} (${((100 * modelCheck) / (unifiedCpuMs[vendor] * 1000)).toFixed(1)} % of a unified request's CPU) | ${r(output)} | ${bound.toFixed(2)} |`,
  );
}

await gatewayProcess.stop();
sandboxProcess.stop();

console.log(
  `Gateway bench — database: ${process.env.DATABASE_URL ? "Postgres server" : "embedded (PGlite)"}; sandbox tenant of ${USERS} users; 100-record pages from record 5,001.\n`,
);
console.log("Latency, 1 connection, 2,000 requests each, alternating (ms):\n");
console.log(
  "| vendor | direct p50 | bare Node relay added p50 | proxy p50 | proxy added p50 | proxy added over the relay | proxy p99 | unified p50 | unified added p50 | unified p99 |",
);
console.log("|---|---|---|---|---|---|---|---|---|---|");
latencyRows.forEach((row) => console.log(row));
console.log(`\nThroughput, 10 connections, ${seconds} s each (req/s):\n`);
console.log(
  "| vendor | direct | bare Node relay (÷ direct) | proxy | proxy ÷ direct | unified | unified ÷ proxy | gateway CPU ms per proxy request | gateway CPU ms per unified request | gateway cores used (unified) | mapped records/s per core |",
);
console.log("|---|---|---|---|---|---|---|---|---|---|---|");
throughputRows.forEach((row) => console.log(row));
console.log(`\nGateway peak RSS: ${gatewayPeak} MB\n`);
console.log("Users mapping alone over 10,000 records (records/s):\n");
console.log("| vendor | JSONata mapping | hand-written | ratio | JSONata per record |");
console.log("|---|---|---|---|---|");
mappingRows.forEach((row) => console.log(row));
console.log("\nA unified page's own work on one 100-record upstream page, in this process (µs, best of five runs of 100):\n");
console.log(
  "| vendor | upstream page | gateway CPU per proxy request | its scan | parsing the records | JSONata mapping, 100 records | hand-written mapping | model check, 100 records | the unified page, remote_data spliced | best unified ÷ proxy if mapping cost nothing |",
);
console.log("|---|---|---|---|---|---|---|---|---|---|");
partRows.forEach((row) => console.log(row));
process.exit(0);

async function get(path: string): Promise<unknown> {
  const response = await fetch(`${gateway}${path}`, { headers: apiHeaders });
  if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

/** Sends the targets' requests in turn over one keep-alive connection each; returns µs samples per target. */
async function alternate(targets: { url: string; headers: Record<string, string> }[], rounds: number): Promise<number[][]> {
  const pools = targets.map((t) => new Pool(new URL(t.url).origin, { connections: 1 }));
  const samples = targets.map(() => [] as number[]);
  for (let round = -200; round < rounds; round++) {
    for (const [i, target] of targets.entries()) {
      const url = new URL(target.url);
      const start = process.hrtime.bigint();
      const response = await pools[i]!.request({ method: "GET", path: url.pathname + url.search, headers: target.headers });
      await response.body.arrayBuffer();
      const took = Number(process.hrtime.bigint() - start) / 1000;
      if (response.statusCode !== 200) throw new Error(`${target.url}: ${response.statusCode}`);
      if (round >= 0) samples[i]!.push(took); // the first 200 rounds warm up the JIT and the pools
    }
  }
  await Promise.all(pools.map((p) => p.close()));
  return samples;
}

function percentiles(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: sorted[Math.floor(sorted.length * 0.5)]!, p99: sorted[Math.floor(sorted.length * 0.99)]! };
}

function ms(us: number) {
  return (us / 1000).toFixed(3);
}

/** autocannon for `seconds`, with the gateway's CPU time over the run. */
async function load(url: string, headers: Record<string, string>) {
  const before = cpuSeconds(gatewayProcess.pid);
  const result = await autocannon({ url, headers, connections: 10, duration: seconds });
  const cpu = cpuSeconds(gatewayProcess.pid) - before;
  if (result.non2xx || result.errors) throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return { rps: Math.round(result.requests.average), cores: cpu / seconds, cpuMs: (cpu * 1000) / result.requests.total };
}

/** One 100-record upstream page from record 5,001, as the sandbox sends it (what the proxy and unified rows read). */
async function upstreamPage(vendor: Vendor): Promise<Buffer> {
  const response = await fetch(routes[vendor].direct, { headers: directHeaders(vendor) });
  return Buffer.from(await response.arrayBuffer());
}

/** Records per second of `work` over `count` records: best of five runs after one warm-up. */
async function rate(work: () => Promise<unknown>, count: number): Promise<number> {
  await work();
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const start = process.hrtime.bigint();
    await work();
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e9);
  }
  return count / best;
}
