// The users mappings (mappings/*/users.jsonata, compiled) against hand-written TypeScript that
// gives the same output (hand-written-mappings.ts; checked equal, after the timing), in this process, on
// 10,000 records of each vendor from the sandbox (#30, goal 4). Measured so that one noisy
// moment cannot decide it: after a warm-up, `rounds` rounds each time both sides over all the
// records, in alternating order (JSONata first in even rounds, hand-written first in odd ones);
// the table gives each side's median per record, the median of the rounds' ratios and their
// spread (lowest–highest). Then V8's CPU profiler over the compiled mappings shows what they
// spend per record, by function.
// With a base checkout, that checkout's compiler runs as a third side on the same records.
// Usage: npx tsx bench/mapping.ts [rounds=31] [base checkout]
import { Session } from "node:inspector/promises";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual } from "node:util";
import { loadIntegrations } from "../packages/engine/src/index.ts";
import jsonata from "jsonata";
import { compileToFunction, INTERPRETER, type Mapping, mapRecords } from "../packages/mapping/src/index.ts";
import { handWritten } from "./hand-written-mappings.ts";
import { sandboxUsers, slugs, startSandboxProcess, type Vendor } from "./processes.ts";

const rounds = Number(process.argv[2] ?? 31);
const baseCheckout = process.argv[3];
const RECORDS = 10_000;
const vendors = Object.keys(slugs) as Vendor[];

const sandbox = await startSandboxProcess({ big: RECORDS });
const recordsFor = {} as Record<Vendor, unknown[]>;
for (const vendor of vendors) recordsFor[vendor] = await sandboxUsers(sandbox, "big", vendor, RECORDS);
sandbox.stop();

const integrations = loadIntegrations(fileURLToPath(new URL("../mappings", import.meta.url)));
const sourceOf = (vendor: Vendor) => fileURLToPath(new URL(`../mappings/${slugs[vendor]}/users.jsonata`, import.meta.url));
const mappingOf = (vendor: Vendor) => integrations.get(slugs[vendor])!.mappings.get("users.jsonata")!;
/** µs per record of one pass of `work` over the records. */
const time = (work: () => unknown) => {
  const start = process.hrtime.bigint();
  work();
  return Number(process.hrtime.bigint() - start) / 1000 / RECORDS;
};
let sink: unknown;
/** A pass over the records, one at a time, each output dropped at the next (as the gateway keeps only a page's). */
const passOf = (map: (record: unknown) => unknown) => (records: unknown[]) => {
  for (const record of records) sink = map(record);
  if (sink === INTERPRETER || sink === undefined) throw new Error("a record went to the interpreter, or gave nothing");
};
/** Another side must give the mapping's output (as JSON) for every record, or its time means nothing. */
async function checkEqual(vendor: Vendor, mapping: Mapping, other: (record: unknown) => unknown, records: unknown[]) {
  const expected = await mapRecords(mapping, records);
  for (const [i, out] of records.map(other).entries()) {
    if (!isDeepStrictEqual(JSON.parse(JSON.stringify(out)), JSON.parse(JSON.stringify(expected[i])))) {
      throw new Error(
        `${vendor}: ${other.name || "a side"} differs at record ${i}: ${JSON.stringify(out)} vs ${JSON.stringify(expected[i])}`,
      );
    }
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const f = (x: number) => x.toFixed(2);

// With a base checkout, its compiler maps the same records too: a same-run A/B of the compiler.
const baseCompile = baseCheckout
  ? ((await import(resolve(baseCheckout, "packages/mapping/src/compile.ts"))) as { compileToFunction: typeof compileToFunction })
      .compileToFunction
  : undefined;

console.log(
  `Users mapping over ${RECORDS.toLocaleString("en")} records, ${rounds} interleaved rounds after 5 warm-up rounds (µs per record):\n`,
);
const baseColumns = baseCompile ? ` base's compiler, median | this ÷ base speed, median of rounds (lowest–highest) |` : "";
console.log(
  `| vendor | JSONata, median | hand-written, median | JSONata ÷ hand-written speed, median of rounds | lowest–highest round |${baseColumns}`,
);
console.log(`|---|---|---|---|---|${baseCompile ? "---|---|" : ""}`);
for (const vendor of vendors) {
  const records = recordsFor[vendor];
  const mapping = mappingOf(vendor);
  const byHand: (record: unknown) => unknown = handWritten[vendor];
  const passes: Record<string, (records: unknown[]) => void> = { jsonata: passOf((record) => mapping.quick(record)), hand: passOf(byHand) };
  const baseFunction = baseCompile?.(jsonata(readFileSync(sourceOf(vendor), "utf8")).ast());
  if (baseFunction) passes.base = passOf(baseFunction);
  const sides = Object.keys(passes);
  for (let i = 0; i < 5; i++) for (const side of sides) time(() => passes[side]!(records));
  const took: Record<string, number[]> = Object.fromEntries(sides.map((side) => [side, []]));
  for (let round = 0; round < rounds; round++) {
    // Each side first in turn.
    const order = [...sides.slice(round % sides.length), ...sides.slice(0, round % sides.length)];
    for (const side of order) took[side]!.push(time(() => passes[side]!(records)));
  }
  // Checked after timing: run first, the check (10,000 records through JSON and back) left both
  // sides 5–10× slower for the rest of the process, hand-written most.
  await checkEqual(vendor, mapping, byHand, records);
  if (baseFunction) await checkEqual(vendor, mapping, baseFunction, records);
  /** Per round, the speed of the compiled mapping as a share of another side's: its median, and its range. */
  const against = (side: string) => {
    const ratios = took[side]!.map((t, round) => t / took.jsonata![round]!);
    return { median: `**${f(median(ratios))}**`, range: `${f(Math.min(...ratios))}–${f(Math.max(...ratios))}` };
  };
  const [hand, base] = [against("hand"), baseFunction && against("base")];
  const baseCells = base ? ` ${f(median(took.base!))} | ${base.median} (${base.range}) |` : "";
  console.log(`| ${vendor} | ${f(median(took.jsonata!))} | ${f(median(took.hand!))} | ${hand.median} | ${hand.range} |${baseCells}`);
}

// ── what the compiled code spends per record ─────────────────────────────────────────────────
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
const session = new Session();
session.connect();
await session.post("Profiler.enable");
await session.post("Profiler.setSamplingInterval", { interval: 50 });
for (const vendor of vendors) {
  const records = recordsFor[vendor];
  const mapping = mappingOf(vendor);
  const pass = passOf((record) => mapping.quick(record));
  const passes = 10;
  await session.post("Profiler.start");
  const start = process.hrtime.bigint();
  for (let i = 0; i < passes; i++) pass(records);
  const perRecord = Number(process.hrtime.bigint() - start) / 1000 / (passes * RECORDS);
  const { profile } = (await session.post("Profiler.stop")) as { profile: { nodes: ProfileNode[] } };
  const byFunction = new Map<string, number>();
  let all = 0;
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (!hits || node.callFrame.functionName === "(idle)" || node.callFrame.functionName === "(program)") continue;
    all += hits;
    const file = node.callFrame.url.replace(/^.*\/(packages|bench|node_modules)\//, "$1/");
    // A compiled mapping is made with new Function: no file.
    const where = file || (node.callFrame.functionName === "mapping" ? "the compiled mapping, generated" : "V8");
    const name = `${node.callFrame.functionName || "(anonymous)"} (${where})`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + hits);
  }
  console.log(`\n${vendor}: ${perRecord.toFixed(2)} µs per record while profiled; where it goes (share of samples, µs per record):\n`);
  console.log("| function | share | µs per record |");
  console.log("|---|---|---|");
  for (const [name, hits] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, 8)) {
    console.log(`| ${name} | ${((100 * hits) / all).toFixed(1)} % | ${((perRecord * hits) / all).toFixed(2)} |`);
  }
}
session.disconnect();
process.exit(0);
