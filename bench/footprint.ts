// Footprint: how fast `npm start` answers /health and how much memory it holds, for another
// checkout (the base, e.g. today's main) and this tree, side by side in one run, rounds interleaved.
// Usage: npx tsx bench/footprint.ts [base checkout with node_modules] [rounds=3] [walk-users=100000]
//        (with DATABASE_URL set, Postgres mode is measured too)
// Make the base with: git worktree add /tmp/base <commit> && (cd /tmp/base && npm ci)
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { apiKey, connect, freshDatabase, type GatewayProcess, startSandboxProcess } from "./processes.ts";

const [baseArg, roundsArg = "3", walkArg = "100000"] = process.argv.slice(2);
const rounds = Number(roundsArg);
const walkUsers = Number(walkArg);
const thisTree = fileURLToPath(new URL("..", import.meta.url));
const trees: Record<string, string> = baseArg ? { base: resolve(baseArg), new: thisTree } : { new: thisTree };

interface Started {
  url: string;
  adminKey: string;
  child: ChildProcess;
  ms: number;
}

/** `npm start` in a tree, as a user types it; resolves once /health answers 200. */
async function npmStart(tree: string, env: Record<string, string>): Promise<Started> {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const adminKey = `ufk_${randomBytes(32).toString("base64url")}`;
  const started = performance.now();
  const child = spawn("npm", ["start"], {
    cwd: tree,
    detached: true, // its own process group, so the whole tree (npm, sh, node) can be stopped
    stdio: ["ignore", "ignore", "ignore"],
    // DATABASE_URL is the bench's own server (for Postgres mode): blank unless a run sets it.
    env: {
      ...process.env,
      DATABASE_URL: "",
      PORT: String(port),
      HOST: "127.0.0.1",
      UNIFOLD_ADMIN_KEY: adminKey,
      LOG_LEVEL: "warn",
      ...env,
    },
  });
  const url = `http://127.0.0.1:${port}`;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`npm start in ${tree} exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/health`)).ok) break;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return { url, adminKey, child, ms: performance.now() - started };
}

async function stop(started: Started) {
  const exited = new Promise((r) => started.child.once("exit", r));
  process.kill(-started.child.pid!, "SIGTERM");
  await exited;
  await new Promise((r) => setTimeout(r, 300)); // the group's last members
}

/** Resident MB of the process and all its descendants (npm → sh → node …), and of its largest member. */
function treeRss(rootPid: number): { tree: number; largest: number } {
  const parents = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      /* gone */
    }
  }
  const members = [rootPid];
  for (let i = 0; i < members.length; i++) for (const [pid, ppid] of parents) if (ppid === members[i]) members.push(pid);
  const rss = members.map((pid) => {
    try {
      return Number(readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+)/)?.[1] ?? 0) / 1024;
    } catch {
      return 0;
    }
  });
  return { tree: Math.round(rss.reduce((a, b) => a + b, 0)), largest: Math.round(Math.max(...rss)) };
}

const idle = async (started: Started) => {
  await new Promise((r) => setTimeout(r, 3_000));
  return treeRss(started.child.pid!);
};

// The floor under any `npm start`: npm itself starting and running a script that does nothing,
// and a bare `node` start, timed in this same run.
async function floor(command: string, args: string[]): Promise<number> {
  const started = performance.now();
  await new Promise((resolve, reject) => spawn(command, args, { stdio: "ignore" }).once("exit", resolve).once("error", reject));
  return performance.now() - started;
}
const floorDir = mkdtempSync(join(tmpdir(), "unifold-fp-floor-"));
writeFileSync(join(floorDir, "package.json"), JSON.stringify({ name: "floor", private: true, scripts: { start: "node -e 0" } }));

// A tree that builds on start is built first: the figures are for starting, not for building.
for (const tree of Object.values(trees)) {
  if (existsSync(join(tree, "apps/gateway/build.js"))) execFileSync(process.execPath, ["apps/gateway/build.js"], { cwd: tree });
}

type Row = Record<string, number[]>;
const results: Record<string, Row> = Object.fromEntries(Object.keys(trees).map((name) => [name, {}]));
const record = (name: string, metric: string, value: number) => (results[name]![metric] ??= []).push(value);

const floors: Record<string, number[]> = { "floor: `node -e 0` (ms)": [], "floor: `npm start` of a script that does nothing (ms)": [] };
for (let round = 0; round < rounds; round++) {
  floors["floor: `node -e 0` (ms)"]!.push(await floor(process.execPath, ["-e", "0"]));
  floors["floor: `npm start` of a script that does nothing (ms)"]!.push(await floor("npm", ["start", "--silent", "--prefix", floorDir]));
  const order = round % 2 ? Object.keys(trees).reverse() : Object.keys(trees);
  for (const name of order) {
    const tree = trees[name]!;
    const dataDir = mkdtempSync(join(tmpdir(), "unifold-fp-"));
    const first = await npmStart(tree, { UNIFOLD_DATA_DIR: dataDir });
    const firstIdle = await idle(first);
    record(name, "embedded first start: ms to /health", first.ms);
    record(name, "embedded first start: idle RSS, whole tree (MB)", firstIdle.tree);
    record(name, "embedded first start: idle RSS, gateway process (MB)", firstIdle.largest);
    await stop(first);
    const warm = await npmStart(tree, { UNIFOLD_DATA_DIR: dataDir });
    const warmIdle = await idle(warm);
    record(name, "embedded warm restart: ms to /health", warm.ms);
    record(name, "embedded warm restart: idle RSS, whole tree (MB)", warmIdle.tree);
    await stop(warm);
    rmSync(dataDir, { recursive: true, force: true });
    if (process.env.DATABASE_URL) {
      const database = await freshDatabase(process.env.DATABASE_URL);
      const env = { DATABASE_URL: database.url, UNIFOLD_ENCRYPTION_KEYS: `fp:${randomBytes(32).toString("base64")}` };
      const pg = await npmStart(tree, env);
      const pgIdle = await idle(pg);
      record(name, "Postgres mode: ms to /health", pg.ms);
      record(name, "Postgres mode: idle RSS, whole tree (MB)", pgIdle.tree);
      record(name, "Postgres mode: idle RSS, gateway process (MB)", pgIdle.largest);
      await stop(pg);
      await database.drop();
    }
  }
}

// The walk: every user of a 100,000-user JumpCloud directory through the unified API, once per tree.
if (walkUsers > 0) {
  const sandbox = await startSandboxProcess({ walk: walkUsers });
  for (const [name, tree] of Object.entries(trees)) {
    const dataDir = mkdtempSync(join(tmpdir(), "unifold-fp-"));
    const started = await npmStart(tree, {
      UNIFOLD_DATA_DIR: dataDir,
      UNIFOLD_ALLOW_PRIVATE_UPSTREAMS: "true",
      UNIFOLD_API_KEY_RATE_LIMIT: "0",
      UNIFOLD_ENFORCE_VENDOR_RATE_LIMITS: "false",
    });
    const gateway = { url: started.url, adminKey: started.adminKey } as GatewayProcess;
    const id = await connect(gateway, sandbox, "walk", "jumpcloud");
    const key = await apiKey(gateway);
    let cursor: string | null = null;
    let seen = 0;
    const began = performance.now();
    do {
      const query: string = `connection_id=${id}&limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      const response = await fetch(`${started.url}/unified/user-directory/users?${query}`, { headers: { authorization: `Bearer ${key}` } });
      if (!response.ok) throw new Error(`walk: ${response.status} ${await response.text()}`);
      const page = (await response.json()) as { result: unknown[]; next_cursor: string | null };
      seen += page.result.length;
      cursor = page.next_cursor;
    } while (cursor);
    if (seen !== walkUsers) throw new Error(`walk saw ${seen} users, expected ${walkUsers}`);
    record(name, `walk of ${walkUsers} users: seconds`, (performance.now() - began) / 1000);
    record(name, `walk of ${walkUsers} users: RSS after, whole tree (MB)`, treeRss(started.child.pid!).tree);
    record(name, `walk of ${walkUsers} users: RSS after, gateway process (MB)`, treeRss(started.child.pid!).largest);
    await stop(started);
    rmSync(dataDir, { recursive: true, force: true });
  }
  sandbox.stop();
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const names = Object.keys(trees);
console.log(`\nNode ${process.version}; medians of ${rounds} rounds (the walk: one run each)\n`);
console.log(`| measure | ${names.join(" | ")} |${names.length > 1 ? " new ÷ base |" : ""}`);
console.log(`|---|${names.map(() => "---|").join("")}${names.length > 1 ? "---|" : ""}`);
for (const metric of Object.keys(results[names[0]!]!)) {
  const values = names.map((name) => median(results[name]![metric] ?? [Number.NaN]));
  const ratio = names.length > 1 ? ` ${(values[1]! / values[0]!).toFixed(2)} |` : "";
  console.log(`| ${metric} | ${values.map((v) => (v >= 100 ? Math.round(v) : v.toFixed(1))).join(" | ")} |${ratio}`);
}
for (const [metric, values] of Object.entries(floors)) console.log(`| ${metric} | ${Math.round(median(values))} (same for every tree) |`);
rmSync(floorDir, { recursive: true, force: true });
process.exit(0);
