// `npm run bench:compare -- <ref> [seconds] [rounds] [vendors] [kinds] [extra query]`: the
// regression guard. Checks <ref> (a commit, branch or tag; main's previous commit, say) out in a
// temporary worktree, installs and builds it there, builds this tree, then runs bench/compare.ts
// (the same-run A/B, interleaved) with the ref as the base and prints its table: req/s and CPU
// ms per request, new ÷ base, for every vendor's proxy and unified routes. Runs the gateways on the
// Postgres of DATABASE_URL when set (a database of its own each), else on embedded databases.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const [ref, ...rest] = process.argv.slice(2);
if (!ref) throw new Error("usage: npm run bench:compare -- <ref> [seconds=3] [rounds=6] [vendors] [kinds] [extra query]");
const root = resolve(import.meta.dirname, "..");
const run = (command: string, args: string[], cwd: string) => execFileSync(command, args, { cwd, stdio: "inherit" });

const commit = execFileSync("git", ["rev-parse", "--verify", `${ref}^{commit}`], { cwd: root, encoding: "utf8" }).trim();
const base = join(mkdtempSync(join(tmpdir(), "unifold-base-")), "tree");
console.error(`base: ${ref} (${commit.slice(0, 7)}) in ${base}`);
run("git", ["worktree", "add", "--detach", base, commit], root);
try {
  run("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"], base);
  // A ref from before the gateway was bundled (a8081bd, say) runs its TypeScript through tsx.
  if (existsSync(join(base, "apps/gateway/build.js"))) run("node", ["apps/gateway/build.js"], base);
  run("node", ["apps/gateway/build.js"], root);
  run("npx", ["tsx", "bench/compare.ts", base, ...rest], root);
} finally {
  run("git", ["worktree", "remove", "--force", base], root);
  rmSync(resolve(base, ".."), { recursive: true, force: true });
}
