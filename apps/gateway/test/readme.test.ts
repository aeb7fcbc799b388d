import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { root, type RunningDemo, startDemo } from "./demo-process.ts";
const readme = readFileSync(join(root, "README.md"), "utf8");
const run = promisify(execFile);

interface Block {
  line: number;
  lang: "sh" | "ts";
  code: string;
  /** Why it is not run, from a `<!-- not run by readme.test.ts: … -->` line above it. */
  skip?: string;
}

/** Every ```sh and ```ts block of the README, in order, with its indentation removed. */
function blocks(): Block[] {
  const lines = readme.split("\n");
  const found: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(sh|ts)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const indent = open[1]!.length;
    const body: string[] = [];
    let j = i + 1;
    for (; !/^\s*```\s*$/.test(lines[j]!); j++) body.push(lines[j]!.slice(indent));
    let above = i - 1; // the marker line, above any blank lines (Prettier puts one in)
    while (above > 0 && lines[above]!.trim() === "") above--;
    const skip = /<!-- not run by readme\.test\.ts: (.*) -->/.exec(lines[above] ?? "")?.[1];
    found.push({ line: i + 1, lang: open[2] as "sh" | "ts", code: `${body.join("\n")}\n`, ...(skip && { skip }) });
    i = j;
  }
  return found;
}

// A line such as `export UNIFOLD_URL=http://127.0.0.1:8080 KEY=ufk_…` stands for what the demo's
// export line sets (… marks a value to fill in): it is left out, and the demo's line comes first.
const placeholderAssignment = /^\s*(export\s+)?[A-Z_]+=.*…/;

// The README's examples, run in order against `npm run demo`, with the export line it prints.
describe("the README's examples against npm run demo", () => {
  let demo: RunningDemo | undefined;
  let printed = "";
  let exportLine = "";
  const scratch = join(root, "node_modules/.cache/unifold/readme");

  beforeAll(async () => {
    demo = await startDemo();
    printed = demo.printed();
    exportLine = printed.split("\n").find((line) => line.startsWith("export UNIFOLD_URL="))!;
    mkdirSync(scratch, { recursive: true });
  }, 90_000);

  afterAll(async () => {
    rmSync(scratch, { recursive: true, force: true });
    await demo?.stop();
  });

  it("marks every sh and ts block it does not run, with the reason", () => {
    const all = blocks();
    expect(all.filter((block) => !block.skip).length).toBeGreaterThanOrEqual(8);
    expect(all.filter((block) => block.skip).length).toBe((readme.match(/<!-- not run by readme\.test\.ts:/g) ?? []).length);
    for (const block of all.filter((b) => b.skip)) expect(block.skip, `README line ${block.line}`).toMatch(/\w{3}/);
  });

  // Each runnable block is its own test, in README order (later ones may use what earlier ones made).
  for (const block of blocks().filter((b) => !b.skip)) {
    it(`runs the ${block.lang} block at README line ${block.line}`, { timeout: 120_000 }, async () => {
      const code = block.code
        .split("\n")
        .filter((line) => !placeholderAssignment.test(line))
        .join("\n");
      const env = { ...process.env, ...Object.fromEntries([...exportLine.matchAll(/([A-Z_]+)=(\S+)/g)].map((m) => [m[1]!, m[2]!])) };
      if (block.lang === "sh") {
        // curl fails on an HTTP error (the README shows `curl -s`, which would not), and so does every command.
        const script = `set -euo pipefail\ncurl() { command curl -S --fail-with-body "$@"; }\n${exportLine}\n${code}`;
        await run("bash", ["-c", script], { cwd: root, env }).catch((error: { stdout: string; stderr: string }) => {
          throw new Error(`README line ${block.line} failed:\n${code}\nstdout: ${error.stdout}\nstderr: ${error.stderr}`);
        });
      } else {
        const file = join(scratch, `line-${block.line}.mts`);
        writeFileSync(file, code);
        const { stdout } = await run(process.execPath, ["--import", "tsx", file], { cwd: root, env });
        expect(stdout.trim().split("\n").at(-1), code).toMatch(/^[0-9a-f]{24}$/); // the created JumpCloud user's id
      }
    });
  }
});
