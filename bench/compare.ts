// Same-run A/B: the gateway of another checkout (the base) against this tree's, on one sandbox,
// autocannon runs interleaved base/new/new/base… so both see the same machine state. On a
// machine whose speed drifts between runs, this is how a change of a few percent shows.
// Each side runs as two gateway processes, started in the order base, new, new, base: on this
// two-core machine a process's start slot alone moved its CPU per request by ~10 % (an A/A run
// of one tree against itself), so each side gets one early and one late slot.
// Usage: npx tsx bench/compare.ts <base checkout with node_modules> [seconds=3] [rounds=6]
//        [vendors=jostle,postman,jumpcloud] [kinds=proxy,unified] [extra query, e.g. &remote_data=false]
// Make the base with: cp -a . /tmp/base && git -C /tmp/base checkout <commit>
import { resolve } from "node:path";
import autocannon from "autocannon";
import * as here from "./processes.ts";

const [baseDir, seconds = "3", rounds = "6", vendorList = "jostle,postman,jumpcloud", kindList = "proxy,unified", extra = ""] =
  process.argv.slice(2);
if (!baseDir) throw new Error("usage: npx tsx bench/compare.ts <base checkout> [seconds] [rounds] [vendors] [kinds] [extra query]");
const base = (await import(resolve(baseDir, "bench/processes.ts"))) as typeof here;

// Pacing off by default (Postman's 300 calls a minute would refuse the load); both settings, and
// any other UNIFOLD_* variable such as UNIFOLD_SHARED_LIMITS, may be given in the environment.
const env = {
  UNIFOLD_ENFORCE_VENDOR_RATE_LIMITS: process.env.UNIFOLD_ENFORCE_VENDOR_RATE_LIMITS ?? "false",
  UNIFOLD_UPSTREAM_CONCURRENCY: process.env.UNIFOLD_UPSTREAM_CONCURRENCY ?? "64",
};
const sandbox = await here.startSandboxProcess({ big: 10_000 });
const start = { base: base.startGatewayProcess, new: here.startGatewayProcess };
const vendors = vendorList.split(",") as here.Vendor[];
type Side = "base" | "new";
const gateways: { side: Side; gateway: here.GatewayProcess; key: string; connections: Record<string, string> }[] = [];
for (const side of ["base", "new", "new", "base"] as const) {
  const gateway = await start[side](env);
  const connections: Record<string, string> = {};
  for (const vendor of vendors) connections[vendor] = await here.connect(gateway, sandbox, "big", vendor);
  gateways.push({ side, gateway, key: await here.apiKey(gateway), connections });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`| vendor | route | base req/s | new req/s | ratio | base CPU ms/request | new CPU ms/request | ratio |`);
console.log("|---|---|---|---|---|---|---|---|");
for (const vendor of vendors) {
  for (const kind of kindList.split(",")) {
    const path = kind === "proxy" ? `/proxy/${vendor === "jumpcloud" ? "systemusers" : "Users"}` : "/unified/user-directory/users";
    const runs = { base: [] as [number, number][], new: [] as [number, number][] };
    for (let round = 0; round < Number(rounds); round++) {
      for (const { side, gateway, key, connections } of round % 2 ? [...gateways].reverse() : gateways) {
        const url = `${gateway.url}${path}?connection_id=${connections[vendor]}&limit=100${extra}`;
        const headers = { authorization: `Bearer ${key}` };
        if (round === 0) await autocannon({ url, headers, connections: 10, duration: 1 }); // warm-up
        const before = here.cpuSeconds(gateway.pid);
        const result = await autocannon({ url, headers, connections: 10, duration: Number(seconds) });
        if (result.non2xx || result.errors) throw new Error(`${side} ${url}: ${result.non2xx} non-2xx, ${result.errors} errors`);
        runs[side].push([result.requests.average, ((here.cpuSeconds(gateway.pid) - before) * 1000) / result.requests.total]);
      }
    }
    const [baseRps, newRps] = [median(runs.base.map((r) => r[0])), median(runs.new.map((r) => r[0]))];
    const [baseCpu, newCpu] = [median(runs.base.map((r) => r[1])), median(runs.new.map((r) => r[1]))];
    console.log(
      `| ${vendor} | ${kind} | ${Math.round(baseRps)} | ${Math.round(newRps)} | ${(newRps / baseRps).toFixed(2)} | ${baseCpu.toFixed(3)} | ${newCpu.toFixed(3)} | ${(newCpu / baseCpu).toFixed(2)} |`,
    );
  }
}
await Promise.all(gateways.map(({ gateway }) => gateway.stop()));
sandbox.stop();
process.exit(0);
