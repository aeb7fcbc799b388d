import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { inputsHash, isStale, writeInputsHash } from "../ensure-built.js";

const root = fileURLToPath(new URL("../../..", import.meta.url));

/** A copy of what dist/ is made from (sources and lock file), with stand-ins for dist's outputs. */
function copyTree(): { top: string; gateway: string } {
  const top = mkdtempSync(join(tmpdir(), "unifold-stale-"));
  for (const path of [
    "apps/gateway/src",
    "apps/gateway/build.js",
    "packages/db/src",
    "packages/engine/src",
    "packages/mapping/src",
    "drizzle",
    "package-lock.json",
  ])
    cpSync(join(root, path), join(top, path), { recursive: true });
  const gateway = join(top, "apps/gateway");
  for (const output of ["dist/main.js", "dist/rotate-keys.js", "dist/pglite-seed/PG_VERSION"]) {
    mkdirSync(dirname(join(gateway, output)), { recursive: true });
    writeFileSync(join(gateway, output), "");
  }
  return { top, gateway };
}

describe("when `npm start` rebuilds the gateway", () => {
  const made: string[] = [];
  afterAll(() => {
    for (const dir of made) rmSync(dir, { recursive: true, force: true });
  });

  it("does not rebuild after a no-op `npm install` rewrites package-lock.json with the same bytes", () => {
    const { top, gateway } = copyTree();
    made.push(top);
    expect(isStale(gateway)).toBe(true); // built, but no record of what from
    writeInputsHash(inputsHash(gateway), gateway);
    expect(isStale(gateway)).toBe(false);
    const lock = join(top, "package-lock.json");
    writeFileSync(lock, readFileSync(lock)); // what `npm install` does when it answers "up to date"
    const later = new Date(Date.now() + 60_000);
    utimesSync(lock, later, later);
    utimesSync(join(gateway, "src/main.ts"), later, later);
    expect(isStale(gateway)).toBe(false);
  });

  it("rebuilds when a source, the lock file or an output changes", () => {
    const { top, gateway } = copyTree();
    made.push(top);
    writeInputsHash(inputsHash(gateway), gateway);
    const main = join(gateway, "src/main.ts");
    const source = readFileSync(main, "utf8");
    writeFileSync(main, `${source}\n// edited\n`);
    expect(isStale(gateway)).toBe(true);
    writeFileSync(main, source);
    expect(isStale(gateway)).toBe(false);
    const lock = join(top, "package-lock.json");
    writeFileSync(lock, readFileSync(lock, "utf8").replace('"lockfileVersion": 3', '"lockfileVersion": 3 '));
    expect(isStale(gateway)).toBe(true);
    cpSync(join(root, "package-lock.json"), lock);
    writeFileSync(join(gateway, "src/new-file.ts"), "export {};\n");
    expect(isStale(gateway)).toBe(true);
    rmSync(join(gateway, "src/new-file.ts"));
    expect(isStale(gateway)).toBe(false);
    rmSync(join(gateway, "dist/rotate-keys.js"));
    expect(isStale(gateway)).toBe(true);
  });

  it("hashes the real tree in well under 200 ms, and the tree's own dist/ is current", () => {
    const started = performance.now();
    inputsHash();
    expect(performance.now() - started).toBeLessThan(200);
    // The global set-up built it; touching the lock file changes nothing.
    const lock = join(root, "package-lock.json");
    const { atime, mtime } = statSync(lock);
    utimesSync(lock, new Date(), new Date());
    try {
      expect(isStale()).toBe(false);
    } finally {
      utimesSync(lock, atime, mtime);
    }
  });
});
