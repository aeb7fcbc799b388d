// Whether dist/ is missing or was built from other sources than the ones here; if so, builds it
// (build.js). Used by `npm start`, the root `prepare` script and the test set-up, so all of them
// run the gateway as it is now. Staleness is decided by content, not modification times: a no-op
// `npm install` rewrites package-lock.json with the same bytes and must not cause a rebuild.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
/** What dist/ is made from, relative to the gateway's folder. */
const sources = [
  "src",
  "build.js",
  "../../packages/db/src",
  "../../packages/engine/src",
  "../../packages/mapping/src",
  "../../drizzle",
  "../../package-lock.json",
];
const outputs = ["dist/main.js", "dist/rotate-keys.js", "dist/pglite-seed/PG_VERSION"];
/** The hash of the sources dist/ was built from, written after a successful build. */
export const hashFile = "dist/inputs.sha256";

/** @param {string} path @param {string[]} into @returns {string[]} every file under path, or path itself */
function files(path, into = []) {
  if (!existsSync(path)) return into;
  const entries = (() => {
    try {
      return readdirSync(path, { withFileTypes: true });
    } catch {
      return null; // a file
    }
  })();
  if (!entries) into.push(path);
  else for (const entry of entries) files(join(path, entry.name), into);
  return into;
}

/**
 * sha256 over the sorted list of source files, each path followed by its content (~20 ms here).
 * @param {string} [gatewayDir] the gateway's folder; a test points it at a copy
 * @returns {string}
 */
export function inputsHash(gatewayDir = here) {
  const hash = createHash("sha256");
  const all = sources.flatMap((source) => files(join(gatewayDir, source))).map((path) => relative(gatewayDir, path));
  for (const path of all.sort()) {
    hash.update(`${path}\0`);
    hash.update(readFileSync(join(gatewayDir, path)));
    hash.update("\0");
  }
  return hash.digest("hex");
}

/** @param {string} [gatewayDir] @returns {boolean} */
export function isStale(gatewayDir = here) {
  if (!outputs.every((output) => existsSync(join(gatewayDir, output)))) return true;
  const hashPath = join(gatewayDir, hashFile);
  if (!existsSync(hashPath)) return true;
  return readFileSync(hashPath, "utf8").trim() !== inputsHash(gatewayDir);
}

/** Records that dist/ now matches these sources; build.js calls it with the hash taken before it built. */
export function writeInputsHash(hash = inputsHash(), gatewayDir = here) {
  writeFileSync(join(gatewayDir, hashFile), `${hash}\n`);
}

/** Builds when stale; throws when the build fails (its output went to stderr). */
export function ensureBuilt() {
  if (!isStale()) return;
  const started = Date.now();
  process.stderr.write("unifold: building the gateway first (dist/ is missing or its sources changed; 3-30 s, once)…\n");
  const { status } = spawnSync(process.execPath, [join(here, "build.js")], { stdio: ["ignore", "inherit", "inherit"] });
  if (status !== 0) throw new Error("the build failed (see above)");
  process.stderr.write(`unifold: built in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}

// `node ensure-built.js` (the root `prepare` script): build now if needed, so the first start is quick.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    ensureBuilt();
  } catch (error) {
    process.stderr.write(`unifold: ${/** @type {Error} */ (error).message}\n`);
    process.exit(1);
  }
}
