// Benchmark: is the sandbox fast enough never to be a gateway benchmark's bottleneck?
// Runs the sandbox in its own process with a 100,000-user tenant, then drives each vendor's
// 100-record list page with autocannon next to a trivial route, all in one run.
// Usage: npx tsx bench/sandbox.ts [users=100000] [seconds=8]
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";

const users = Number(process.argv[2] ?? 100_000);
const seconds = Number(process.argv[3] ?? 8);
const tsx = fileURLToPath(new URL("../node_modules/.bin/tsx", import.meta.url));
const child = spawn(tsx, [fileURLToPath(new URL("sandbox-server.ts", import.meta.url)), String(users)], {
  stdio: ["ignore", "pipe", "inherit"],
});
const ready = JSON.parse(await new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once("line", resolve)));

const targets = [
  { name: "trivial route (control API)", path: "/_sandbox/faults", headers: {} },
  {
    name: "jostle GET /Users count=100",
    path: "/jostle/scim2/Users?startIndex=50001&count=100",
    headers: { authorization: `Bearer ${ready.keys.big.jostle}` },
  },
  {
    name: "postman GET /Users count=100",
    path: "/postman/scim/v2/Users?startIndex=50001&count=100",
    headers: { authorization: `Bearer ${ready.keys.big.postman}` },
  },
  {
    name: "jumpcloud GET /systemusers limit=100 sort=_id",
    path: "/jumpcloud/api/systemusers?limit=100&skip=50000&sort=_id",
    headers: { "x-api-key": ready.keys.big.jumpcloud },
  },
];

const rows: string[] = [];
let baseline = 0;
for (const target of targets) {
  // One connection: latency of a single request, not of a queue.
  const single = await autocannon({ url: `${ready.url}${target.path}`, headers: target.headers, connections: 1, duration: seconds / 2 });
  const loaded = await autocannon({ url: `${ready.url}${target.path}`, headers: target.headers, connections: 10, duration: seconds / 2 });
  if (baseline === 0) baseline = loaded.requests.average;
  if (single.non2xx || loaded.non2xx || single.errors || loaded.errors) throw new Error(`${target.name}: non-2xx or errors`);
  rows.push(
    `| ${target.name} | ${single.latency.p50} | ${single.latency.p99} | ${Math.round(loaded.requests.average)} | ${(loaded.requests.average / baseline).toFixed(2)} |`,
  );
}
child.kill("SIGTERM");

console.log(
  `Sandbox, ${users.toLocaleString("en")} users in one tenant, all three vendors loaded: RSS ${ready.rss_mb} MB (heap ${ready.heap_mb} MB)\n`,
);
console.log("| request | p50 ms (1 conn) | p99 ms (1 conn) | req/s (10 conns) | ratio to trivial route |");
console.log("|---|---|---|---|---|");
for (const row of rows) console.log(row);
