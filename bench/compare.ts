// Same-run A/B: the gateway of another checkout (the base) against this tree's, on one sandbox,
// autocannon runs interleaved base/new/new/base… so both see the same machine state. On a
// machine whose speed drifts between runs, this is how a change of a few percent shows.
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

const env = { UNIFOLD_ENFORCE_VENDOR_RATE_LIMITS: "false", UNIFOLD_UPSTREAM_CONCURRENCY: "64" };
const sandbox = await here.startSandboxProcess({ big: 10_000 });
const gateways = { base: await base.startGatewayProcess(env), new: await here.startGatewayProcess(env) };
const vendors = vendorList.split(",") as here.Vendor[];
const setup = {} as Record<keyof typeof gateways, { key: string; connections: Record<string, string> }>;
for (const name of ["base", "new"] as const) {
  const connections: Record<string, string> = {};
  for (const vendor of vendors) connections[vendor] = await here.connect(gateways[name], sandbox, "big", vendor);
  setup[name] = { key: await here.apiKey(gateways[name]), connections };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`| vendor | route | base req/s | new req/s | ratio | base CPU ms/request | new CPU ms/request | ratio |`);
console.log("|---|---|---|---|---|---|---|---|");
for (const vendor of vendors) {
  for (const kind of kindList.split(",")) {
    const path = kind === "proxy" ? `/proxy/${vendor === "jumpcloud" ? "systemusers" : "Users"}` : "/unified/user-directory/users";
    const runs = { base: [] as [number, number][], new: [] as [number, number][] };
    for (let round = 0; round < Number(rounds); round++) {
      for (const name of round % 2 ? (["new", "base"] as const) : (["base", "new"] as const)) {
        const gateway = gateways[name];
        const url = `${gateway.url}${path}?connection_id=${setup[name].connections[vendor]}&limit=100${extra}`;
        const headers = { authorization: `Bearer ${setup[name].key}` };
        if (round === 0) await autocannon({ url, headers, connections: 10, duration: 1 }); // warm-up
        const before = here.cpuSeconds(gateway.pid);
        const result = await autocannon({ url, headers, connections: 10, duration: Number(seconds) });
        if (result.non2xx || result.errors) throw new Error(`${name} ${url}: ${result.non2xx} non-2xx, ${result.errors} errors`);
        runs[name].push([result.requests.average, ((here.cpuSeconds(gateway.pid) - before) * 1000) / result.requests.total]);
      }
    }
    const [baseRps, newRps] = [median(runs.base.map((r) => r[0])), median(runs.new.map((r) => r[0]))];
    const [baseCpu, newCpu] = [median(runs.base.map((r) => r[1])), median(runs.new.map((r) => r[1]))];
    console.log(
      `| ${vendor} | ${kind} | ${Math.round(baseRps)} | ${Math.round(newRps)} | ${(newRps / baseRps).toFixed(2)} | ${baseCpu.toFixed(3)} | ${newCpu.toFixed(3)} | ${(newCpu / baseCpu).toFixed(2)} |`,
    );
  }
}
await Promise.all([gateways.base.stop(), gateways.new.stop()]);
sandbox.stop();
process.exit(0);
