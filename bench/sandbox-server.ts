// The sandbox as its own process for benchmarks: prints one JSON line with its URL, keys and RSS once loaded.
// Usage: sandbox-server.ts <users> (one tenant "big") | sandbox-server.ts '{"t1": 2000, "t2": 2000}'
import { startSandbox } from "../apps/sandbox/src/server.ts";

const arg = process.argv[2] ?? "100000";
const tenants: Record<string, number> = arg.startsWith("{") ? JSON.parse(arg) : { big: Number(arg) };
const sandbox = await startSandbox({
  tenants: Object.entries(tenants).map(([name, users]) => ({ name, users })),
  rateLimits: { postman: 0 },
});
// Build every vendor's copy of each directory up front, so the memory figure covers all three.
for (const name of Object.keys(tenants)) {
  sandbox.jostle.tenant(name);
  sandbox.postman.tenant(name);
  sandbox.jumpcloud.tenant(name);
}
globalThis.gc?.();
// What a connection to each simulator takes, for the vendors signed in otherwise than by one key.
const connections = Object.fromEntries(
  Object.keys(tenants).map((name) => [
    name,
    Object.fromEntries((["okta", "entra", "google"] as const).map((vendor) => [vendor, sandbox.connectionFor(vendor, name)])),
  ]),
);
const keys = Object.fromEntries(
  Object.keys(tenants).map((name) => [
    name,
    { jostle: sandbox.key("jostle", name), postman: sandbox.key("postman", name), jumpcloud: sandbox.key("jumpcloud", name) },
  ]),
);
process.stdout.write(
  `${JSON.stringify({
    url: sandbox.url,
    keys,
    connections,
    rss_mb: Math.round(process.memoryUsage().rss / 1048576),
    heap_mb: Math.round(process.memoryUsage().heapUsed / 1048576),
  })}\n`,
);
process.on("SIGTERM", () => sandbox.close().then(() => process.exit(0)));
