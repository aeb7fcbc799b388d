// The sandbox as its own process for benchmarks: prints one JSON line with its URL, keys and RSS once loaded.
import { startSandbox } from "../apps/sandbox/src/server.ts";

const users = Number(process.argv[2] ?? 100_000);
const sandbox = await startSandbox({ tenants: [{ name: "big", users }], rateLimits: { postman: 0 } });
// Build every vendor's copy of the directory up front, so the memory figure covers all three.
sandbox.jostle.tenant("big");
sandbox.postman.tenant("big");
sandbox.jumpcloud.tenant("big");
globalThis.gc?.();
process.stdout.write(
  `${JSON.stringify({
    url: sandbox.url,
    keys: { jostle: sandbox.key("jostle", "big"), postman: sandbox.key("postman", "big"), jumpcloud: sandbox.key("jumpcloud", "big") },
    rss_mb: Math.round(process.memoryUsage().rss / 1048576),
    heap_mb: Math.round(process.memoryUsage().heapUsed / 1048576),
  })}\n`,
);
process.on("SIGTERM", () => sandbox.close().then(() => process.exit(0)));
