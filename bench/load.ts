// Load benchmark: mixed unified and proxy traffic over several tenants on 64 connections while
// the upstreams fail 5% of calls, clients abort and idempotent writes go on; then the gateway's
// own 5xx, lost or doubled writes and upstream slots still held are counted. Then a full walk of
// a 100,000-user directory through the unified API.
// Usage: npx tsx bench/load.ts [seconds=60] [walk-users=100000]
import autocannon from "autocannon";
import { apiKey as makeApiKey, connect, cpuSeconds, rssMb, startGatewayProcess, startSandboxProcess, type Vendor } from "./processes.ts";

const seconds = Number(process.argv[2] ?? 60);
const walkUsers = Number(process.argv[3] ?? 100_000);
const tenants = { t1: 2_000, t2: 2_000, t3: 2_000, t4: 2_000 };
const readTenants = Object.keys(tenants);
const vendors: Vendor[] = ["jostle", "postman", "jumpcloud"];
const proxyResource: Record<Vendor, string> = { jostle: "Users", postman: "Users", jumpcloud: "systemusers" };

// ── 1. mixed traffic under faults, with client aborts and idempotent writes ─────────────────
const sandbox = await startSandboxProcess({ ...tenants, w1: 50 });
const gateway = await startGatewayProcess({ UNIFOLD_ENFORCE_VENDOR_RATE_LIMITS: "false" });
const key = await makeApiKey(gateway);
process.stderr.write("load: gateway and sandbox up\n");
const paths: string[] = [];
const writeTargets: { vendor: Vendor; id: string }[] = [];
for (const tenant of readTenants) {
  for (const vendor of vendors) {
    const id = await connect(gateway, sandbox, tenant, vendor);
    paths.push(`/unified/user-directory/users?connection_id=${id}&limit=50`);
    paths.push(`/unified/user-directory/users?connection_id=${id}&limit=20&remote_data=false`);
    paths.push(`/proxy/${proxyResource[vendor]}?connection_id=${id}&limit=50`);
    if (vendor === "jumpcloud") paths.push(`/unified/user-directory/groups?connection_id=${id}&limit=20`);
  }
}
// The writers have a tenant of their own, so what they see is the faults, not the read load's
// use of the same connections' slots and of Postman's 300 calls a minute.
for (const vendor of ["postman", "jumpcloud"] as const) writeTargets.push({ vendor, id: await connect(gateway, sandbox, "w1", vendor) });
// 5% of upstream calls fail: 2% answer 503, 1% 429 with Retry-After 1, 1% reset the connection,
// and 1% are carried out with the answer lost.
const faults = [
  { kind: "status", status: 503, ratio: 0.02 },
  { kind: "status", status: 429, retry_after: "1", ratio: 0.01 },
  { kind: "reset", ratio: 0.01 },
  { kind: "lost", ratio: 0.01 },
];
const sandboxControl = (method: string, path: string, body?: unknown) =>
  fetch(`${sandbox.url}/_sandbox${path}`, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
for (const vendor of vendors) for (const fault of faults) await sandboxControl("POST", "/faults", { vendor, ...fault });
process.stderr.write("load: faults on\n");

const auth = { authorization: `Bearer ${key}` };
/** 5xx answers by error code: 502/504 name an upstream; anything else (500, 503) is the gateway's own. */
const fivexx = new Map<string, number>();
const classify = (status: number, body: string) => {
  if (status < 500) return;
  let code = "unparsable";
  try {
    code = (JSON.parse(body) as { error: { code: string } }).error.code;
  } catch {
    // counted as unparsable: an answer that is not the contract's error shape
  }
  fivexx.set(`${status} ${code}`, (fivexx.get(`${status} ${code}`) ?? 0) + 1);
};
const gatewayMade = () => [...fivexx].filter(([what]) => !/^(502|504) upstream_/.test(what)).reduce((sum, [, n]) => sum + n, 0);

// Clients that give up after 1–30 ms, eight at a time, all through the run.
let running = true;
let aborted = 0;
const aborters = Array.from({ length: 8 }, async () => {
  while (running) {
    const path = paths[Math.floor(Math.random() * paths.length)]!;
    try {
      const res = await fetch(`${gateway.url}${path}`, { headers: auth, signal: AbortSignal.timeout(1 + Math.floor(Math.random() * 30)) });
      classify(res.status, await res.text());
    } catch {
      aborted++;
    }
  }
});

// Idempotent creates, four at a time, each replayed with its key until it has its final answer.
const created = new Map<string, { vendor: Vendor; connection: string; id: string }>();
let writeFailures = 0;
let next = 0;
const writers = Array.from({ length: 4 }, async () => {
  while (running) {
    const n = next++;
    const target = writeTargets[n % writeTargets.length]!;
    const username = `load-${n}@w1.example.com`;
    const deadline = Date.now() + 60_000;
    for (;;) {
      const res = await fetch(`${gateway.url}/unified/user-directory/users?connection_id=${target.id}&remote_data=false`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json", "idempotency-key": `load-${n}` },
        // Postman takes no emails; JumpCloud needs one.
        body: JSON.stringify({
          username,
          first_name: "Load",
          last_name: String(n),
          ...(target.vendor === "jumpcloud" && { emails: [{ email: username }] }),
        }),
      }).catch(() => undefined);
      const text = res ? await res.text() : "";
      if (res) classify(res.status, text);
      if (res?.status === 201) {
        created.set(username, { vendor: target.vendor, connection: target.id, id: (JSON.parse(text) as { id: string }).id });
        break;
      }
      const retry = !res || res.status >= 500 || res.status === 429 || /still running/.test(text);
      if (!retry || Date.now() > deadline) {
        if (writeFailures++ < 3) process.stderr.write(`load: a write given up: ${res?.status} ${text.slice(0, 300)}\n`);
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
});

process.stderr.write(`load: ${paths.length} routes ready; ${seconds} s of traffic\n`);
const rssStart = rssMb(gateway.pid);
const cpuStart = cpuSeconds(gateway.pid);
const rssSamples: number[] = [];
const sampler = setInterval(() => rssSamples.push(rssMb(gateway.pid)), 2_000);
const result = await autocannon({
  url: gateway.url,
  connections: 64,
  duration: seconds,
  headers: auth,
  requests: paths.map((path) => ({ method: "GET", path, onResponse: (status: number, body: string) => classify(status, body) })),
});
running = false;
process.stderr.write("load: traffic stopped; waiting for the aborting clients and the writers\n");
await Promise.all([...aborters, ...writers]);
process.stderr.write("load: counting what was written\n");
clearInterval(sampler);
const rssEnd = rssMb(gateway.pid);
const cores = (cpuSeconds(gateway.pid) - cpuStart) / seconds;
const total = result.requests.total;
const errors = result.non2xx + result.errors + result.timeouts;
const upstream = (await (await fetch(`${sandbox.url}/_sandbox/requests`)).json()) as { status: number }[];
const upstreamFailed = upstream.filter((r) => r.status === 503 || r.status === 429 || r.status === 0).length;

// Afterwards, with the faults cleared: every slot is back, and every write landed exactly once.
await sandboxControl("DELETE", "/faults");
await new Promise((resolve) => setTimeout(resolve, 1_000));
const metrics = await (await fetch(`${gateway.url}/metrics`, { headers: { authorization: `Bearer ${gateway.adminKey}` } })).text();
const slots = (state: string) =>
  Number(new RegExp(`unifold_upstream_calls_in_flight\\{state="${state}"\\} (\\d+)`).exec(metrics)?.[1] ?? NaN);
const usernames = new Map<string, number>();
for (const target of writeTargets) {
  let cursor: string | null = null;
  do {
    const page = (await (
      await fetch(
        `${gateway.url}/unified/user-directory/users?connection_id=${target.id}&limit=200&remote_data=false${cursor ? `&cursor=${cursor}` : ""}`,
        { headers: auth },
      )
    ).json()) as { result: { username: string }[]; next_cursor: string | null };
    for (const user of page.result)
      if (user.username?.startsWith("load-")) usernames.set(user.username, (usernames.get(user.username) ?? 0) + 1);
    cursor = page.next_cursor;
  } while (cursor);
}
const duplicated = [...usernames.values()].filter((n) => n > 1).length;
const lost = [...created.keys()].filter((username) => !usernames.has(username)).length;
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
  `Load — ${Object.keys(tenants).length} tenants × 3 vendors (${paths.length} routes: unified users, groups, proxy), 64 connections, ${seconds} s,`,
);
console.log(
  `plus 8 clients that abort after 1–30 ms and 4 idempotent writers; upstreams fail 5% of calls (503, 429, reset, lost answer).\n`,
);
console.log(
  "| requests | req/s | non-2xx | p50 ms | p99 ms | gateway cores | upstream calls | upstream faults | RSS start → end (MB) | RSS band (MB) |",
);
console.log("|---|---|---|---|---|---|---|---|---|---|");
console.log(
  `| ${total} | ${Math.round(result.requests.average)} | ${errors} (${((100 * errors) / Math.max(total, 1)).toFixed(2)}%) | ${result.latency.p50} | ${result.latency.p99} | ${cores.toFixed(2)} | ${upstream.length} | ${upstreamFailed} | ${rssStart} → ${rssEnd} | ${Math.min(...rssSamples)}–${Math.max(...rssSamples)} |`,
);
console.log(
  "\n| gateway-made 5xx (target 0) | 5xx naming an upstream | aborted requests | writes | lost writes (target 0) | duplicated writes (target 0) | writes given up | slots in use after (target 0) |",
);
console.log("|---|---|---|---|---|---|---|---|");
const upstreamNamed = [...fivexx].filter(([what]) => /^(502|504) upstream_/.test(what)).map(([what, n]) => `${n} ${what}`);
console.log(
  `| ${gatewayMade()} | ${upstreamNamed.join(", ") || 0} | ${aborted} | ${created.size} | ${lost} | ${duplicated} | ${writeFailures} | ${slots("active")} active, ${slots("waiting")} waiting |`,
);
console.log(`\nWalk — JumpCloud directory of ${walkUsers.toLocaleString("en")} users, unified users, limit 200:\n`);
console.log("| users returned | pages | wall s | users/s | gateway RSS before (MB) | gateway peak RSS (MB) |");
console.log("|---|---|---|---|---|---|");
console.log(`| ${walked} | ${pages} | ${walkSeconds.toFixed(1)} | ${Math.round(walked / walkSeconds)} | ${rssBeforeWalk} | ${walkPeak} |`);
process.exit(0);
