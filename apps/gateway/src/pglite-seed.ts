// Build step (`node dist/pglite-seed.js <dir>`): an embedded database with initdb and every
// migration done, which the gateway copies into an empty data directory on its first start.
import { mkdtempSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore } from "@unifold/db";

const target = process.argv[2];
if (!target) throw new Error("usage: pglite-seed <target dir>");
const work = mkdtempSync(join(tmpdir(), "unifold-seed-"));
try {
  const store = await openStore({ dataDir: work });
  await store.close();
  rmSync(target, { recursive: true, force: true });
  renameSync(join(work, "pgdata"), target);
} finally {
  rmSync(work, { recursive: true, force: true });
}
