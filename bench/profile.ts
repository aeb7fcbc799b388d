// Where a gateway request's CPU time and allocations go, part by part (#30, goal 1).
// The sandbox and the built gateway (`apps/gateway/start.js`, access log on) each in their own
// process, with the gateway's limits where its database puts them (Postgres: shared; embedded:
// in process). For each vendor and route: autocannon at 10 connections, first unprofiled (the
// gateway's CPU per request from /proc), then profiled (`profile-preload.mjs`: V8's CPU profiler
// at 100 µs and its sampling heap profiler, counting objects already collected). Each sample is
// put under the part of the code it ran in, found through the bundle's source map; a V8 builtin
// (JSON.parse, a Buffer method) or a Node-internal function counts for the part that called it.
// A part's CPU per request is its share of the profiled samples times the unprofiled CPU per
// request; allocations are the sampled bytes over the profiled requests.
// With a base checkout (as bench/compare.ts takes), its gateway is profiled the same way first, and
// each column is shown for both: where a request's time went then and where it goes now.
// Usage: [DATABASE_URL=…] npx tsx bench/profile.ts [seconds=5] [vendors=jostle,postman,jumpcloud] [kinds=proxy,unified] [base checkout]
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { SourceMap } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import * as bench from "./processes.ts";

const [seconds = "5", vendorList = "jostle,postman,jumpcloud", kindList = "proxy,unified", baseDir] = process.argv.slice(2);
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const out = mkdtempSync(join(tmpdir(), "unifold-profile-"));

/** The parts, matched in order against a frame's source (its file in the repository, or node:…). */
const PARTS: [RegExp, string][] = [
  [/^\(garbage collector\)$/, "garbage collection"],
  [/^\(program\)$/, "V8 and native code outside JavaScript"],
  [/node_modules\/undici\//, "upstream HTTP client (undici)"],
  [/node_modules\/@hono\/node-server\/|^node:_http_|^node:http$/, "HTTP server (node:http, @hono/node-server)"],
  [/node_modules\/hono\//, "routing and middleware (hono)"],
  [/node_modules\/(postgres|drizzle-orm)\/|^packages\/db\//, "database: queries and driver"],
  [/node_modules\/(pino|sonic-boom|thread-stream|fast-redact|on-exit-leak-free)\/|apps\/gateway\/src\/(access-log|logger)/, "logging"],
  [/node_modules\/prom-client\/|apps\/gateway\/src\/metrics/, "metrics"],
  [/node_modules\/rate-limiter-flexible\/|apps\/gateway\/src\/limits|packages\/engine\/src\/rate-gate/, "limits and pacing"],
  [/packages\/engine\/src\/json-scan/, "page scan"],
  [/packages\/engine\/src\/cursor/, "cursors (seal and open)"],
  [/packages\/mapping\/|node_modules\/jsonata\//, "mapping (compiled JSONata)"],
  [/packages\/engine\/src\/conform/, "model check"],
  [/node_modules\/zod\//, "validation (zod)"],
  [/packages\/engine\/src\/(pagination|reads|views|records)/, "pagination and reading lists"],
  [/packages\/engine\/src\/(upstream|network-policy|mask|access-tokens|auth)/, "upstream call (auth, deadline, masking)"],
  [/node_modules\/jose\/|vault|credentials/, "credentials"],
  [/apps\/gateway\/src\/http\/envelope/, "answer envelope"],
  [/^apps\/gateway\/src\//, "gateway: routes, middleware, domain"],
  [/^packages\/engine\/src\//, "engine: other"],
  [/node_modules\//, "other libraries"],
];
const JSON_BUILTIN = "JSON.parse and JSON.stringify (V8)";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
const bundle = here("../apps/gateway/dist/main.js");
const sourceMap = new SourceMap(JSON.parse(readFileSync(`${bundle}.map`, "utf8")));
const bundleUrl = new URL(`file://${bundle}`).href;

/** The repository-relative file (or node:…, or a V8 pseudo-frame) a frame ran in; "" for a builtin. */
function sourceOf(frame: CallFrame): string {
  if (frame.url === bundleUrl) {
    const entry = sourceMap.findEntry(frame.lineNumber, frame.columnNumber) as { originalSource?: string };
    const file = entry.originalSource ?? "";
    const at = file.lastIndexOf("node_modules/");
    if (at >= 0) return file.slice(at);
    // The bundle's own sources are named from dist/: ../src/… is the gateway's, ../../../packages/… a package's.
    return file.replace(/^(file:\/\/)?.*?\/(apps|packages)\//, "$2/").replace(/^(\.\.\/)?src\//, "apps/gateway/src/");
  }
  if (!frame.url && frame.functionName.startsWith("(")) return frame.functionName;
  if (!frame.url) return "";
  const at = frame.url.lastIndexOf("node_modules/");
  return at >= 0 ? frame.url.slice(at) : frame.url.replace(/^file:\/\/.*?\/(apps|packages)\//, "$1/");
}

/** The part a frame counts for: its own, else (a builtin, Node's internals) its caller's. */
function partOf(frame: CallFrame, parent: string | undefined): string {
  const source = sourceOf(frame);
  if (!source && (frame.functionName === "parse" || frame.functionName === "stringify")) return JSON_BUILTIN;
  const own = source && PARTS.find(([pattern]) => pattern.test(source))?.[1];
  if (own) return own;
  if (parent && parent !== "(root)") return parent;
  return source.startsWith("node:") ? "Node core: sockets, streams, timers" : "other";
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
/** Self CPU samples by part, (idle) left out. */
function cpuByPart(file: string): Map<string, number> {
  const profile = JSON.parse(readFileSync(file, "utf8")) as { nodes: ProfileNode[]; samples: number[] };
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const part = new Map<number, string>();
  const assign = (node: ProfileNode, parent: string | undefined) => {
    const mine = node.callFrame.functionName === "(root)" ? "(root)" : partOf(node.callFrame, parent);
    part.set(node.id, mine);
    for (const child of node.children ?? []) assign(byId.get(child)!, mine);
  };
  assign(profile.nodes[0]!, undefined);
  const counts = new Map<string, number>();
  const functions = new Map<string, number>();
  for (const sample of profile.samples) {
    const node = byId.get(sample)!;
    if (node.callFrame.functionName === "(idle)") continue;
    const name = part.get(sample)!;
    counts.set(name, (counts.get(name) ?? 0) + 1);
    if (process.env.PROFILE_TOP?.split(";").includes(name)) {
      const fn = `[${name}] ${node.callFrame.functionName || "(anonymous)"} ${sourceOf(node.callFrame) || "(builtin)"}`;
      functions.set(fn, (functions.get(fn) ?? 0) + 1);
    }
  }
  // PROFILE_TOP=<part>[;<part>…]: those parts' busiest functions, to see what to change.
  if (functions.size) {
    const all = profile.samples.length;
    console.error(`\n${file}: ${process.env.PROFILE_TOP}, share of all samples`);
    for (const [fn, n] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, 40))
      console.error(`  ${((n / all) * 100).toFixed(2)} %  ${fn}`);
  }
  return counts;
}

interface HeapNode {
  callFrame: CallFrame;
  selfSize: number;
  children: HeapNode[];
}
/** Sampled bytes allocated by part. */
function bytesByPart(file: string): Map<string, number> {
  const { head } = JSON.parse(readFileSync(file, "utf8")) as { head: HeapNode };
  const bytes = new Map<string, number>();
  const walk = (node: HeapNode, parent: string | undefined) => {
    const mine = node.callFrame.functionName === "(root)" ? "(root)" : partOf(node.callFrame, parent);
    if (node.selfSize) bytes.set(mine, (bytes.get(mine) ?? 0) + node.selfSize);
    for (const child of node.children) walk(child, mine);
  };
  walk(head, undefined);
  return bytes;
}

// ── the run ──────────────────────────────────────────────────────────────────────────────────
interface Column {
  name: string;
  cpuMsPerRequest: number;
  cpu: Map<string, number>;
  bytes: Map<string, number>;
  requests: number;
}
const columns: Column[] = [];
const sandbox = await bench.startSandboxProcess({ big: 10_000 });
const sides: [string, typeof bench][] = baseDir
  ? [
      ["base", (await import(resolve(baseDir, "bench/processes.ts"))) as typeof bench],
      ["new", bench],
    ]
  : [["", bench]];
const vendors = vendorList.split(",") as bench.Vendor[];
const kinds = kindList.split(",");
const profiled: Record<string, Column> = {};
for (const [side, start] of sides) {
  const gateway = await start.startGatewayProcess(
    { UNIFOLD_ENFORCE_VENDOR_RATE_LIMITS: "false", UNIFOLD_UPSTREAM_CONCURRENCY: "64", PROFILE_OUT: join(out, `${side}window`) },
    ["--import", here("profile-preload.mjs")],
  );
  const key = await bench.apiKey(gateway);
  let windows = 0; // as the preload counts them, in this gateway
  const connections = {} as Record<bench.Vendor, string>;
  for (const vendor of vendors) connections[vendor] = await bench.connect(gateway, sandbox, "big", vendor);
  for (const vendor of vendors) {
    for (const kind of kinds) {
      const path = kind === "proxy" ? `/proxy/${vendor === "jumpcloud" ? "systemusers" : "Users"}` : "/unified/user-directory/users";
      const url = `${gateway.url}${path}?connection_id=${connections[vendor]}&limit=100`;
      const load = async () => {
        const result = await autocannon({ url, headers: { authorization: `Bearer ${key}` }, connections: 10, duration: Number(seconds) });
        if (result.non2xx || result.errors) throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors`);
        return result.requests.total;
      };
      await load(); // warm-up
      const before = bench.cpuSeconds(gateway.pid);
      const plain = await load();
      const cpuMsPerRequest = ((bench.cpuSeconds(gateway.pid) - before) * 1000) / plain;
      process.kill(gateway.pid, "SIGUSR2");
      await new Promise((resolve) => setTimeout(resolve, 200));
      const requests = await load();
      process.kill(gateway.pid, "SIGUSR2");
      const window = join(out, `${side}window-${++windows}`);
      while (!existsSync(`${window}.done`)) await new Promise((resolve) => setTimeout(resolve, 50));
      const name = `${vendor} ${kind}${side && ` (${side})`}`;
      profiled[name] = {
        name,
        cpuMsPerRequest,
        cpu: cpuByPart(`${window}.cpuprofile`),
        bytes: bytesByPart(`${window}.heapprofile`),
        requests,
      };
    }
  }
  await gateway.stop();
}
sandbox.stop();
if (process.env.PROFILE_KEEP) console.error(`profiles kept in ${out}`);
else rmSync(out, { recursive: true, force: true });
for (const vendor of vendors)
  for (const kind of kinds) for (const [side] of sides) columns.push(profiled[`${vendor} ${kind}${side && ` (${side})`}`]!);

// ── the tables ───────────────────────────────────────────────────────────────────────────────
const sum = (values: Iterable<number>) => [...values].reduce((a, b) => a + b, 0);
const print = (title: string, cell: (column: Column, part: string) => number, total: (column: Column) => string, unit: string) => {
  const parts = new Set(columns.flatMap((column) => [...column.cpu.keys(), ...column.bytes.keys()]));
  const weight = (part: string) => sum(columns.map((column) => cell(column, part)));
  const rows = [...parts].filter((part) => weight(part) > 0).sort((a, b) => weight(b) - weight(a));
  console.log(`\n${title}\n`);
  console.log(`| part | ${columns.map((column) => column.name).join(" | ")} |`);
  console.log(`|---|${columns.map(() => "---").join("|")}|`);
  for (const part of rows)
    console.log(`| ${part} | ${columns.map((column) => cell(column, part).toFixed(unit === "µs" ? 0 : 1)).join(" | ")} |`);
  console.log(`| **all** | ${columns.map(total).join(" | ")} |`);
};
const database = process.env.DATABASE_URL ? "Postgres server, limits shared in Postgres" : "embedded database, limits in process";
console.log(`Profile — ${database}; sandbox tenant of 10,000 users; 100-record pages; ${seconds} s per window, 10 connections.`);
print(
  "Gateway CPU per request, by part (µs; the share of the profiled samples × the unprofiled CPU per request from /proc):",
  (column, part) => ((column.cpu.get(part) ?? 0) / sum(column.cpu.values())) * column.cpuMsPerRequest * 1000,
  (column) => `**${Math.round(column.cpuMsPerRequest * 1000)}**`,
  "µs",
);
print(
  "Bytes allocated per request, by part (KB; V8's sampling heap profiler, collected objects counted):",
  (column, part) => (column.bytes.get(part) ?? 0) / column.requests / 1024,
  (column) => `**${(sum(column.bytes.values()) / column.requests / 1024).toFixed(1)}**`,
  "KB",
);
process.exit(0);
