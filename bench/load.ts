// Load benchmark: mixed unified and proxy traffic over several tenants while the upstreams fail
// or throttle 5% of calls; then a full walk of a 100,000-user directory through the unified API.
// Usage: npx tsx bench/load.ts [seconds=60] [walk-users=100000]
import autocannon from "autocannon";
import { apiKey as makeApiKey, connect, cpuSeconds, rssMb, startGatewayProcess, startSandboxProcess, type Vendor } from "./processes.ts";

const seconds = Number(process.argv[2] ?? 60);
const walkUsers = Number(process.argv[3] ?? 100_000);
const tenants = { t1: 2_000, t2: 2_000, t3: 2_000, t4: 2_000 };
const vendors: Vendor[] = ["jostle", "postman", "jumpcloud"];
const proxyResource: Record<Vendor, string> = { jostle: "Users", postman: "Users", jumpcloud: "systemusers" };

// ── 1. mixed traffic under faults ────────────────────────────────────────────────────────────
const sandbox = await startSandboxProcess(tenants);
const gateway = await startGatewayProcess({ UNIFOLD_ENFORCE_VENDOR_RATE_LIMITS: "false" });
const key = await makeApiKey(gateway);
const paths: string[] = [];
for (const tenant of Object.keys(tenants)) {
  for (const vendor of vendors) {
    const id = await connect(gateway, sandbox, tenant, vendor);
    paths.push(`/unified/user-directory/users?connection_id=${id}&limit=50`);
    paths.push(`/unified/user-directory/users?connection_id=${id}&limit=20&remote_data=false`);
    paths.push(`/proxy/${proxyResource[vendor]}?connection_id=${id}&limit=50`);
    if (vendor === "jumpcloud") paths.push(`/unified/user-directory/groups?connection_id=${id}&limit=20`);
  }
}
// 5% of upstream calls fail or throttle: 3% answer 503, 2% answer 429 with Retry-After 1.
for (const vendor of vendors) {
  for (const fault of [
    { kind: "status", status: 503, ratio: 0.03 },
    { kind: "status", status: 429, retry_after: "1", ratio: 0.02 },
  ]) {
    await fetch(`${sandbox.url}/_sandbox/faults`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ vendor, ...fault }),
    });
  }
}

const rssStart = rssMb(gateway.pid);
const cpuStart = cpuSeconds(gateway.pid);
const rssSamples: number[] = [];
const sampler = setInterval(() => rssSamples.push(rssMb(gateway.pid)), 5_000);
const result = await autocannon({
  url: gateway.url,
  connections: 16,
  duration: seconds,
  headers: { authorization: `Bearer ${key}` },
  requests: paths.map((path) => ({ method: "GET", path })),
});
clearInterval(sampler);
const rssEnd = rssMb(gateway.pid);
const cores = (cpuSeconds(gateway.pid) - cpuStart) / seconds;
const total = result.requests.total;
const errors = result.non2xx + result.errors + result.timeouts;
const upstream = (await (await fetch(`${sandbox.url}/_sandbox/requests`)).json()) as { status: number }[];
const upstreamFailed = upstream.filter((r) => r.status === 503 || r.status === 429).length;
await gateway.stop();
sandbox.stop();

// ── 2. a 100,000-user directory, walked page by page ─────────────────────────────────────────
const bigSandbox = await startSandboxProcess({ huge: walkUsers });
const walker = await startGatewayProcess({ UNIFOLD_ENFORCE_VENDOR_RATE_LIMITS: "false" });
const walkKey = await makeApiKey(walker);
const walkConnection = await connect(walker, bigSandbox, "huge", "jumpcloud");
const rssBeforeWalk = rssMb(walker.pid);
const started = performance.now();
let cursor: string | null = null;
let walked = 0;
let pages = 0;
do {
  const response = await fetch(
    `${walker.url}/unified/user-directory/users?connection_id=${walkConnection}&limit=200${cursor ? `&cursor=${cursor}` : ""}`,
    { headers: { authorization: `Bearer ${walkKey}` } },
  );
  if (!response.ok) throw new Error(`walk page ${pages}: ${response.status} ${await response.text()}`);
  const page = (await response.json()) as { result: unknown[]; next_cursor: string | null };
  walked += page.result.length;
  pages++;
  cursor = page.next_cursor;
} while (cursor);
const walkSeconds = (performance.now() - started) / 1000;
const walkPeak = rssMb(walker.pid, "VmHWM");
await walker.stop();
bigSandbox.stop();

console.log(
  `Load — ${Object.keys(tenants).length} tenants × 3 vendors (${paths.length} routes: unified users, groups, proxy), 16 connections, ${seconds} s;`,
);
console.log(`upstreams fail 3% (503) and throttle 2% (429, Retry-After 1 s) of calls.\n`);
console.log(
  "| requests | req/s | errors | p50 ms | p99 ms | gateway cores | upstream calls | upstream 503/429 | RSS start → end (MB) | RSS samples (MB) |",
);
console.log("|---|---|---|---|---|---|---|---|---|---|");
console.log(
  `| ${total} | ${Math.round(result.requests.average)} | ${errors} (${((100 * errors) / Math.max(total, 1)).toFixed(2)}%) | ${result.latency.p50} | ${result.latency.p99} | ${cores.toFixed(2)} | ${upstream.length} | ${upstreamFailed} | ${rssStart} → ${rssEnd} | ${rssSamples.join(", ")} |`,
);
console.log(`\nWalk — JumpCloud directory of ${walkUsers.toLocaleString("en")} users, unified users, limit 200:\n`);
console.log("| users returned | pages | wall s | users/s | gateway RSS before (MB) | gateway peak RSS (MB) |");
console.log("|---|---|---|---|---|---|");
console.log(`| ${walked} | ${pages} | ${walkSeconds.toFixed(1)} | ${Math.round(walked / walkSeconds)} | ${rssBeforeWalk} | ${walkPeak} |`);
process.exit(0);
