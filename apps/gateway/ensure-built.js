// Whether dist/ is missing or older than anything it is made from; if so, builds it (build.js).
// Used by `npm start` and by the test set-up, so both always run the gateway as it is now.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** @param {string} path */
const at = (path) => fileURLToPath(new URL(path, import.meta.url));
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

/** @param {string} path @returns {number} */
function newest(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...readdirSync(path).map((name) => newest(`${path}/${name}`)));
}

/** @returns {boolean} */
export function isStale() {
  if (!outputs.every((output) => existsSync(at(output)))) return true;
  const built = Math.min(...outputs.map((output) => statSync(at(output)).mtimeMs));
  return built < Math.max(...sources.map((source) => newest(at(source))));
}

/** Builds when stale; throws when the build fails (its output went to stderr). */
export function ensureBuilt() {
  if (!isStale()) return;
  process.stderr.write("unifold: building the gateway (dist/ is missing or older than its sources)…\n");
  const { status } = spawnSync(process.execPath, [at("build.js")], { stdio: ["ignore", "inherit", "inherit"] });
  if (status !== 0) throw new Error("the build failed (see above)");
}
