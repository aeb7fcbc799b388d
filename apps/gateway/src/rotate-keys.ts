import { rotateCredentials } from "@unifold/db";
import { readConfig } from "./config.ts";
import { createLogger } from "./logger.ts";
import { openRuntime } from "./runtime.ts";

// `npm run rotate-keys`: re-encrypt every stored credential with the first key of UNIFOLD_ENCRYPTION_KEYS.
// Safe while the gateway serves, and safe to re-run; keep the old key in the ring until it reports 0 left.
async function main() {
  const config = readConfig();
  const logger = createLogger(config.LOG_LEVEL);
  const { store, vault } = await openRuntime(config, logger);
  try {
    const { rotated } = await rotateCredentials(store.db, vault, {
      batchSize: 100,
      onBatch: (done) => logger.info({ rotated: done }, "batch re-encrypted"),
    });
    logger.info(
      { rotated, key: vault.currentKid },
      `rotation complete: ${rotated} connection(s) now sealed with key "${vault.currentKid}"`,
    );
  } finally {
    await store.close();
  }
}

main().catch((error: Error) => {
  process.stderr.write(`unifold rotate-keys: ${error.message}\n`);
  process.exit(1);
});
