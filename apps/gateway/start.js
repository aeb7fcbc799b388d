// `npm start`: builds dist/ when it is missing or stale, then runs the built gateway in this same
// process, so a signal reaches the server with nothing in between. `start.js rotate-keys` runs
// the key-rotation command the same way.
import { ensureBuilt } from "./ensure-built.js";

try {
  ensureBuilt();
} catch (error) {
  process.stderr.write(`unifold: cannot start: ${error.message}\n`);
  process.exit(1);
}
await import(process.argv[2] === "rotate-keys" ? "./dist/rotate-keys.js" : "./dist/main.js");
