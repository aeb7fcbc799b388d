// Build step (`node dist/pglite-seed.js <dir>`): an embedded database with initdb and every
// migration done, which the gateway copies into an empty data directory on its first start.
import { mkdtempSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore } from "@unifold/db";
import { createLogger } from "./logger.ts";
import { createQueue } from "./jobs/queue.ts";

const target = process.argv[2];
if (!target) throw new Error("usage: pglite-seed <target dir>");
const work = mkdtempSync(join(tmpdir(), "unifold-seed-"));
try {
  const store = await openStore({ dataDir: work });
  // pg-boss's schema too (~0.5 s of a first start otherwise); the queues themselves are made at
  // start, with the settings of that gateway's configuration.
  const { boss } = createQueue(store, createLogger("silent"));
  await boss.start();
  await boss.stop({ graceful: false, wait: true });
  await store.close();
  rmSync(target, { recursive: true, force: true });
  renameSync(join(work, "pgdata"), target);
} finally {
  rmSync(work, { recursive: true, force: true });
}
