// Okta, Microsoft Entra ID and Google Workspace at 100,000 users (#31), in one run against the sandbox:
//  - a plain unified walk of each directory's users (pages of 200): time and upstream requests;
//  - a sync per directory: the first run (the copy alone, initial_events false), then a 1 %
//    change (a quarter each joiners, title changes, suspensions, leavers) read as a delta
//    (Okta: lastUpdated gt; Entra: the users' delta query) and, after another 1 % change, read
//    by a full walk (the sync's last full walk moved back a day), side by side.
// Usage: DATABASE_URL=postgres://… npx tsx bench/directories.ts [users=100000]
import postgres from "postgres";
import * as here from "./processes.ts";

const users = Number(process.argv[2] ?? 100_000);
if (!process.env.DATABASE_URL) throw new Error("bench/directories.ts needs DATABASE_URL (a Postgres server)");
const sandbox = await here.startSandboxProcess({ big: users });
const gateway = await here.startGatewayProcess({ UNIFOLD_ENFORCE_VENDOR_RATE_LIMITS: "false", LOG_LEVEL: "warn" });
const sql = postgres(gateway.databaseUrl!, { max: 1, onnotice: () => {} });

const call = (method: string, path: string, body?: unknown) => here.adminCall(gateway, method, path, body);
const requests = async (vendor: string) => {
  const list = (await (await fetch(`${sandbox.url}/_sandbox/requests?vendor=${vendor}`)).json()) as unknown[];
  await fetch(`${sandbox.url}/_sandbox/requests`, { method: "DELETE" });
  return list.length;
};
const seconds = (from: number) => (performance.now() - from) / 1000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const directories = [
  { slug: "okta", vendor: "okta", name: "Okta", delta: "lastUpdated gt (changed-since list)" },
  { slug: "microsoft-entra-id", vendor: "entra", name: "Microsoft Entra ID", delta: "/users/delta (delta query)" },
  { slug: "google-workspace", vendor: "google", name: "Google Workspace", delta: "none: every run is a full walk" },
];

const walks: string[] = [];
const syncs: string[] = [];
for (const d of directories) {
  const connection = await here.connectTo(gateway, sandbox, "big", d.slug, d.vendor);
  await requests(d.vendor);
  let started = performance.now();
  let walked = 0;
  for (let cursor: string | null = null; ;) {
    const page: any = await call(
      "GET",
      `/unified/user-directory/users?connection_id=${connection}&limit=200&remote_data=false${cursor ? `&cursor=${cursor}` : ""}`,
    );
    walked += page.result.length;
    cursor = page.next_cursor;
    if (!cursor) break;
  }
  const walk = seconds(started);
  walks.push(`| ${d.name} | ${walked} | ${walk.toFixed(1)} s | ${Math.round(walked / walk)} | ${await requests(d.vendor)} |`);

  const sync = await call("POST", "/syncs", { connection_id: connection, resources: ["users"], interval: 86_400, initial_events: false });
  const finished = async (count: number) => {
    for (;;) {
      const runs = (await call("GET", `/syncs/${sync.id}/runs?limit=200`)).result as any[];
      if (runs.filter((r) => r.status !== "running").length >= count) return runs[count - 1];
      await sleep(100);
    }
  };
  started = performance.now();
  const first = await finished(1);
  const firstSeconds = seconds(started);
  await requests(d.vendor);
  const change = { vendor: d.vendor, tenant: "big", add: users / 400, update: users / 400, deactivate: users / 400, delete: users / 400 };
  const applyChange = () =>
    fetch(`${sandbox.url}/_sandbox/changes`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(change),
    });
  await applyChange();
  started = performance.now();
  await call("POST", `/syncs/${sync.id}/run`);
  const delta = await finished(2);
  const deltaSeconds = seconds(started);
  const deltaRequests = await requests(d.vendor);
  // Another 1 % change, read by a full walk: the last full walk moved back a day.
  await applyChange();
  await sql`update syncs set delta = jsonb_set(delta, '{users,fullAt}', '"2000-01-01T00:00:00.000Z"') where id = ${sync.id}`;
  started = performance.now();
  await call("POST", `/syncs/${sync.id}/run`);
  const full = await finished(3);
  const fullSeconds = seconds(started);
  const fullRequests = await requests(d.vendor);
  if (first.status !== "succeeded" || delta.status !== "succeeded" || full.status !== "succeeded")
    throw new Error(`${d.name}: a run failed: ${JSON.stringify([first, delta, full])}`);
  const counts = (run: any) => `+${run.counts.added} ~${run.counts.updated} −${run.counts.deleted}`;
  syncs.push(
    `| ${d.name} | ${d.delta} | ${firstSeconds.toFixed(1)} s | ${deltaSeconds.toFixed(1)} s, ${deltaRequests} requests, ${counts(delta)} | ${fullSeconds.toFixed(1)} s, ${fullRequests} requests, ${counts(full)} | ${(fullSeconds / deltaSeconds).toFixed(1)}× |`,
  );
}

console.log(`\nDirectories at ${users} users (sandbox, gateway and Postgres on this machine, one run)\n`);
console.log("| directory | users walked | unified walk, pages of 200 | users/s | upstream requests |\n| --- | --- | --- | --- | --- |");
console.log(walks.join("\n"));
console.log(
  "\n| directory | how a sync reads changes | first run (the copy alone) | 1 % changed, read as a delta | 1 % changed, read by a full walk | full ÷ delta |\n| --- | --- | --- | --- | --- | --- |",
);
console.log(syncs.join("\n"));
await sql.end();
await gateway.stop();
sandbox.stop();
process.exit(0);
