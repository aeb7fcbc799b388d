// `npm run mutation [module…]`: Stryker over the core modules, each with only the tests that
// exercise it, so a run stays short; fails when any module scores under 85 %. An equivalent
// mutant is marked in place (`// Stryker disable next-line <mutator>: reason`), never by
// lowering the threshold. Figures: README, "How we know the tests work".
// `npm run mutation -- --changed <ref>`: only the modules whose source file or listed tests
// differ from <ref> (`git diff --name-only <ref>`); what CI runs against the previous main.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { PartialStrykerOptions } from "@stryker-mutator/api/core";
import { Stryker } from "@stryker-mutator/core";

const BREAK = 85;
/** Stryker's test workers: MUTATION_CONCURRENCY, else 2 (one per core on the 2-core CI machine). */
const concurrency = Number(process.env.MUTATION_CONCURRENCY ?? 2);
if (!Number.isInteger(concurrency) || concurrency < 1) {
  console.error(`MUTATION_CONCURRENCY must be a whole number of workers, 1 or more (got ${process.env.MUTATION_CONCURRENCY})`);
  process.exit(2);
}

/**
 * A sync run's tests against the sandbox's vendors and the test database, after the module's own.
 * Not syncs.instances.test.ts: its gateways are child processes, where no mutant is switched on.
 */
const syncTests = (own: string[]) => [...own, "apps/gateway/test/syncs.test.ts", "apps/gateway/test/syncs.hostile.test.ts"];

/**
 * The list walk (walk.ts), its views of an answer's records (views.ts) and the styles' schema
 * (styles.ts), against an upstream on loopback with no gateway; the gateway's walk of the same
 * styles (apps/gateway/test/pagination-styles.test.ts) would cost a gateway start per mutant.
 */
const PAGINATION_TESTS = ["packages/engine/test/pagination.test.ts", "packages/engine/test/reads.test.ts"];

/** Each module and the tests that exercise it; `database` when they need the test database. */
const modules: { file: string; tests: string[]; database?: boolean }[] = [
  {
    file: "packages/engine/src/rate-gate.ts",
    tests: ["packages/engine/test/rate-gate.test.ts", "apps/gateway/test/shared-pacing.test.ts"],
    database: true,
  },
  { file: "packages/engine/src/cursor.ts", tests: ["packages/engine/test/cursor.test.ts"] },
  { file: "packages/engine/src/json-scan.ts", tests: ["packages/engine/test/json-scan.test.ts"] },
  { file: "packages/engine/src/network-policy.ts", tests: ["packages/engine/test/network-policy.test.ts"] },
  { file: "packages/mapping/src/compile.ts", tests: ["packages/mapping/test/compile.test.ts"] },
  { file: "packages/db/src/idempotency.ts", tests: ["packages/db/test/idempotency.test.ts"], database: true },
  {
    file: "packages/engine/src/scim/filter.ts",
    tests: ["packages/engine/test/scim/filter.test.ts", "packages/engine/test/scim/patch.test.ts"],
  },
  {
    file: "packages/engine/src/scim/patch.ts",
    tests: ["packages/engine/test/scim/patch.test.ts", "packages/engine/test/scim/patch.property.test.ts"],
  },
  // A sync run's change detection, split out of the store and the run so it can be mutated on its
  // own: which change a seen record makes to the copy (record-changes), and its hash and events.
  {
    file: "packages/db/src/record-changes.ts",
    tests: syncTests(["packages/db/test/record-changes.test.ts", "packages/db/test/syncs.test.ts"]),
    database: true,
  },
  { file: "apps/gateway/src/domain/events/changes.ts", tests: syncTests(["apps/gateway/test/change-events.test.ts"]), database: true },
  // When a connect link may be used (single use, attempts, expiry, the origins that may frame it and
  // where its form may go), split out of the page's flow; and the statements that take it once.
  {
    file: "apps/gateway/src/domain/connect/rules.ts",
    tests: ["apps/gateway/test/connect.rules.test.ts", "apps/gateway/test/connect.test.ts", "apps/gateway/test/connect.hostile.test.ts"],
    database: true,
  },
  { file: "packages/db/src/connect.ts", tests: ["packages/db/test/connect.test.ts"], database: true },
  { file: "packages/engine/src/pagination/walk.ts", tests: PAGINATION_TESTS },
  { file: "packages/engine/src/pagination/views.ts", tests: PAGINATION_TESTS },
  { file: "packages/engine/src/pagination/styles.ts", tests: PAGINATION_TESTS },
  {
    file: "apps/gateway/src/limits.ts",
    tests: ["apps/gateway/test/limits.test.ts", "apps/gateway/test/limits.lease.test.ts", "apps/gateway/test/shared-pacing.test.ts"],
    database: true,
  },
  {
    file: "apps/gateway/src/domain/webhooks/delivery.ts",
    tests: ["apps/gateway/test/webhooks.delivery.test.ts"],
    database: true,
  },
  // The signing-secret rules (a rotation's overlap, which secrets sign when), split from their
  // storage in packages/db/src/webhooks.ts so they can be mutated without a database.
  { file: "packages/db/src/webhook-secrets.ts", tests: ["packages/db/test/webhook-secrets.test.ts"] },
];

const args = process.argv.slice(2);
const changedAt = args.indexOf("--changed");
let ref: string | undefined;
if (changedAt >= 0) {
  ref = args[changedAt + 1];
  if (!ref || ref.startsWith("-")) {
    console.error("usage: npm run mutation -- --changed <git ref> [module…]");
    process.exit(2);
  }
  args.splice(changedAt, 2);
}
const only = args;
let chosen = only.length ? modules.filter((m) => only.some((name) => m.file.includes(name))) : modules;
if (ref !== undefined) {
  const root = fileURLToPath(new URL("..", import.meta.url));
  // Against the working tree, so a change not yet committed counts too.
  const differ = new Set(
    execFileSync("git", ["diff", "--name-only", ref, "--"], { cwd: root, encoding: "utf8" }).split("\n").filter(Boolean),
  );
  chosen = chosen.filter((m) => [m.file, ...m.tests].some((file) => differ.has(file)));
  if (!chosen.length) {
    console.log(`mutation: none of the listed modules or their tests differ from ${ref}; nothing to mutate`);
    process.exit(0);
  }
  console.log(`mutation: differ from ${ref}: ${chosen.map((m) => m.file).join(", ")}`);
}

const scores: { file: string; score: number; killed: number; survived: number; total: number }[] = [];
for (const module of chosen) {
  process.env.UNIFOLD_MUTATION_TESTS = JSON.stringify({ tests: module.tests, database: Boolean(module.database) });
  const options: PartialStrykerOptions = {
    mutate: [module.file],
    testRunner: "vitest",
    plugins: ["@stryker-mutator/vitest-runner"],
    vitest: { configFile: "scripts/vitest.mutation.config.ts", related: false },
    coverageAnalysis: "perTest",
    reporters: ["clear-text", "progress"],
    thresholds: { high: 90, low: BREAK, break: null },
    concurrency,
    timeoutMS: 10_000,
    ignorePatterns: ["apps/gateway/dist", "**/node_modules", ".stryker-tmp", "packages/sdk/dist"],
    cleanTempDir: "always",
  };
  const results = await new Stryker(options).runMutationTest();
  // Import-time crashes surface as a failing test file: killed. Compile and runtime errors of a
  // mutant that cannot run at all are left out of the score, as Stryker itself does.
  const counted = results.filter((r) => !["CompileError", "RuntimeError", "Ignored"].includes(r.status));
  const killed = counted.filter((r) => r.status === "Killed" || r.status === "Timeout").length;
  const survived = counted.filter((r) => r.status === "Survived" || r.status === "NoCoverage");
  scores.push({
    file: module.file,
    score: (100 * killed) / Math.max(counted.length, 1),
    killed,
    survived: survived.length,
    total: counted.length,
  });
}

console.log("\n| module | mutants | killed | survived | score |\n|---|---|---|---|---|");
for (const s of scores) console.log(`| \`${s.file}\` | ${s.total} | ${s.killed} | ${s.survived} | ${s.score.toFixed(1)} % |`);
const below = scores.filter((s) => s.score < BREAK);
if (below.length) {
  console.error(`\nunder ${BREAK} %: ${below.map((s) => s.file).join(", ")}`);
  process.exit(1);
}
