import { createVault, type KeyRing, loadOrCreateLocalKeyRing, openStore, parseKeyRing, type Store, type Vault } from "@unifold/db";
import { fileURLToPath } from "node:url";
import type { Logger } from "pino";
import type { Config } from "./config.ts";

/** What both the server and the admin commands open: the store and the key ring. */
export interface Runtime {
  store: Store;
  ring: KeyRing;
  vault: Vault;
}

// Made by the build beside the bundle (dist/pglite-seed); absent when run from src/, where
// PGlite's own initdb does the first start instead.
const pgliteSeedDir = fileURLToPath(new URL("./pglite-seed", import.meta.url));

export async function openRuntime(config: Config, logger: Logger): Promise<Runtime> {
  const ring = keyRingFor(config, logger);
  const dataDir = config.UNIFOLD_DATA_DIR;
  const store = await openStore({
    databaseUrl: config.DATABASE_URL,
    prepare: config.UNIFOLD_DATABASE_PREPARE,
    dataDir,
    pgliteSeedDir,
    pgliteSharedBuffers: config.UNIFOLD_PGLITE_SHARED_BUFFERS,
  });
  logger.info(
    {
      database: store.kind,
      ...(store.kind === "pglite" && { data_dir: dataDir }),
      ...(store.createdFrom && { created_from: store.createdFrom === "seed" ? "the build's ready-made database" : "initdb" }),
    },
    "store open, migrations applied",
  );
  return { store, ring, vault: createVault(ring) };
}

function keyRingFor(config: Config, logger: Logger): KeyRing {
  if (config.UNIFOLD_ENCRYPTION_KEYS) return parseKeyRing(config.UNIFOLD_ENCRYPTION_KEYS);
  if (config.DATABASE_URL) {
    throw new Error(
      "UNIFOLD_ENCRYPTION_KEYS is required with DATABASE_URL: credentials are encrypted with it. " +
        "Generate one with: node -e \"console.log('k1:'+require('crypto').randomBytes(32).toString('base64'))\"",
    );
  }
  const local = loadOrCreateLocalKeyRing(config.UNIFOLD_DATA_DIR);
  logger.warn(
    { key_file: local.path, created: local.created },
    "UNIFOLD_ENCRYPTION_KEYS is unset: using a key file beside the embedded database. Set UNIFOLD_ENCRYPTION_KEYS in production.",
  );
  return local.ring;
}
