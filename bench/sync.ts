// Syncs (#17), in one run against the sandbox's JumpCloud with a 100,000-user tenant:
//  - the first full sync: time and the gateway's peak RSS, next to a plain unified walk of the
//    same directory through another gateway process (same page size), measured in the same run;
//    and its floor, the copy alone (initial_events: false: no event per record, no delivery);
//  - a re-sync with no change: time, and the events it made (0);
//  - a 1 % change (250 joiners, 250 changed titles, 250 suspended, 250 leavers): its events (1,000);
//  - webhook delivery to a loopback receiver: events/s;
//  - Postgres rows and bytes per synced record.
// Usage: DATABASE_URL=postgres://… npx tsx bench/sync.ts [users=100000]
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import postgres from "postgres";
import * as here from "./processes.ts";

const users = Number(process.argv[2] ?? 100_000);
if (!process.env.DATABASE_URL) throw new Error("bench/sync.ts needs DATABASE_URL (a Postgres server)");
const sandbox = await here.startSandboxProcess({ big: users });
const env = { UNIFOLD_ENFORCE_VENDOR_RATE_LIMITS: "false", LOG_LEVEL: "warn" };

let received = 0;
// When the first and the latest delivery arrived: the delivery rate is taken over that window.
let firstReceipt = 0;
let lastReceipt = 0;
const receiver = createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    received++;
    lastReceipt = performance.now();
    firstReceipt ||= lastReceipt;
    res.writeHead(204).end();
  });
});
await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;

const call = here.adminCall;
const seconds = (from: number) => (performance.now() - from) / 1000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// The plain walk: every page of unified users, 200 at a time, through its own gateway.
const walker = await here.startGatewayProcess(env);
const walkConnection = await here.connect(walker, sandbox, "big", "jumpcloud");
let started = performance.now();
let walked = 0;
for (let cursor: string | null = null; ;) {
  const page: any = await call(
    walker,
    "GET",
    `/unified/user-directory/users?connection_id=${walkConnection}&limit=200${cursor ? `&cursor=${cursor}` : ""}`,
  );
  walked += page.result.length;
  cursor = page.next_cursor;
  if (!cursor) break;
}
const walk = { seconds: seconds(started), rss: here.rssMb(walker.pid, "VmHWM") };
await walker.stop();

// The syncs, through a second gateway.
const gateway = await here.startGatewayProcess(env);
const runs = async (id: string) => (await call(gateway, "GET", `/syncs/${id}/runs?limit=200`)).result as any[];
const waitRuns = async (id: string, count: number) => {
  for (;;) {
    const list = await runs(id);
    if (list.filter((r) => r.status !== "running").length >= count) return list.at(-1);
    await sleep(100);
  }
};

// The copy alone (initial_events false: records, no event per record, no delivery): the floor
// of a first sync, on a connection of its own.
const quietConnection = await here.connect(gateway, sandbox, "big", "jumpcloud");
started = performance.now();
const quietSync = await call(gateway, "POST", "/syncs", {
  connection_id: quietConnection,
  resources: ["users"],
  interval: 86_400,
  initial_events: false,
});
const quietRun = await waitRuns(quietSync.id, 1);
const quiet = { seconds: seconds(started), counts: quietRun.counts };
await call(gateway, "DELETE", `/connections/${quietConnection}`);

// The announced first sync, with an endpoint receiving every event.
const connection = await here.connect(gateway, sandbox, "big", "jumpcloud");
const hook = await call(gateway, "POST", "/webhook-endpoints", { tenant_id: "big", url: hookUrl, events: ["*"] });
started = performance.now();
const sync = await call(gateway, "POST", "/syncs", { connection_id: connection, resources: ["users"], interval: 86_400 });
const first = await waitRuns(sync.id, 1);
const full = { seconds: seconds(started), rss: here.rssMb(gateway.pid, "VmHWM"), counts: first.counts };
// Deliveries of the first run's events: over the window from the first to the last one
// received, and, apart, those still to deliver when the run ended (nothing else running then).
started = performance.now();
const atRunEnd = received;
while (received < users + 1) await sleep(20);
const delivery = {
  events: received,
  seconds: seconds(started),
  rate: received / ((lastReceipt - firstReceipt) / 1000),
  tail: received - atRunEnd,
  tailRate: (received - atRunEnd) / Math.max((lastReceipt - started) / 1000, 0.001),
};

// One connection to the gateway's database for every reading below.
const sql = postgres((await dbUrlOf(gateway))!, { max: 1, onnotice: () => {} });
const countEvents = async () => {
  const [row] = await sql<{ count: string }[]>`select count(*) from events`;
  return Number(row!.count);
};
// Rows the run writes into sync_records: those whose row version (xmin) a transaction that took
// its id after `since` made, an insert or an update (a soft delete is one). Postgres's statistics
// counters are flushed by each backend some seconds after the fact: a reading 2 s after the first
// run still missed its last pages.
const transactionNow = async () => {
  const [row] = await sql<{ xid: string }[]>`select pg_current_xact_id()::text as xid`;
  return BigInt(row!.xid) % 2n ** 32n;
};
const recordWrites = async (since: bigint) => {
  // xmin is a transaction id's low 32 bits, counted server-wide and wrapping around: "after
  // since" is a distance of 1 to 2^31 - 1 ahead of it, modulo 2^32.
  const [row] = await sql<{ n: string }[]>`
    select count(*) as n from sync_records
    where (xmin::text::bigint - ${String(since)}::bigint + 4294967296) % 4294967296 between 1 and 2147483647`;
  return Number(row!.n);
};
let before = await countEvents();
const writesSince = await transactionNow();
started = performance.now();
await call(gateway, "POST", `/syncs/${sync.id}/run`);
const second = await waitRuns(sync.id, 2);
const noChange = {
  seconds: seconds(started),
  events: (await countEvents()) - before - 1,
  counts: second.counts,
  rowsWritten: await recordWrites(writesSince),
};

const changed = users / 100 / 4;
await fetch(`${sandbox.url}/_sandbox/changes`, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ vendor: "jumpcloud", tenant: "big", add: changed, update: changed, deactivate: changed, delete: changed }),
});
before = await countEvents();
const changeSince = await transactionNow();
started = performance.now();
await call(gateway, "POST", `/syncs/${sync.id}/run`);
const third = await waitRuns(sync.id, 3);
const onePercent = {
  seconds: seconds(started),
  events: (await countEvents()) - before - 1,
  counts: third.counts,
  rowsWritten: await recordWrites(changeSince),
};

const [storage] = await sql<{ records: string; record_bytes: string; events: string; event_bytes: string }[]>`
  select (select count(*) from sync_records) as records, pg_total_relation_size('sync_records') as record_bytes,
         (select count(*) from events) as events, pg_total_relation_size('events') as event_bytes`;
// Delivery alone, nothing else running: the first run's user events handed out again (as the
// outbox does after a crash; at least once allows it), set off by an endpoint test event.
// Every event so far delivered first (the three runs' sync.completed, the 1 % change's events).
while (received < users + 1 + 1 + onePercent.events + 1) await sleep(20);
const again = (await sql`update events set dispatched_at = null where type = 'user.created' and version = 1`).count;
const receivedBefore = received;
started = performance.now();
await call(gateway, "POST", `/webhook-endpoints/${hook.id}/test`);
while (received < receivedBefore + again + 1) await sleep(20);
const burst = { events: received - receivedBefore, seconds: (lastReceipt - started) / 1000 };

await sql.end();

console.log(`\nSync bench: JumpCloud sandbox, ${users.toLocaleString("en")} users, pages of 200\n`);
console.log("| measure | value |");
console.log("|---|---|");
console.log(`| plain unified walk (${walked.toLocaleString("en")} users) | ${walk.seconds.toFixed(1)} s, peak RSS ${walk.rss} MB |`);
console.log(
  `| first full sync | ${full.seconds.toFixed(1)} s (${(full.seconds / walk.seconds).toFixed(2)}× the walk), peak RSS ${full.rss} MB, counts ${JSON.stringify(full.counts)} |`,
);
console.log(
  `| first sync with \`initial_events: false\` (the copy, no events) | ${quiet.seconds.toFixed(1)} s (${(quiet.seconds / walk.seconds).toFixed(2)}× the walk), counts ${JSON.stringify(quiet.counts)} |`,
);
console.log(
  `| re-sync, no change | ${noChange.seconds.toFixed(1)} s, ${noChange.events} events, ${noChange.rowsWritten} rows written to sync_records, counts ${JSON.stringify(noChange.counts)} |`,
);
console.log(
  `| 1 % change | ${onePercent.seconds.toFixed(1)} s, ${onePercent.events} events, ${onePercent.rowsWritten} rows written to sync_records, counts ${JSON.stringify(onePercent.counts)} |`,
);
console.log(
  `| webhook delivery (first run's events, loopback receiver) | ${Math.round(delivery.rate)} events/s from the first to the last received (${delivery.events}, the last ${delivery.seconds.toFixed(1)} s after the run ended); the ${delivery.tail} left at the run's end at ${Math.round(delivery.tailRate)} events/s |`,
);
console.log(
  `| webhook delivery alone (the first run's ${again.toLocaleString("en")} user events again, loopback receiver) | ${Math.round(burst.events / burst.seconds)} events/s (${burst.events} in ${burst.seconds.toFixed(1)} s) |`,
);
console.log(
  `| Postgres per synced record | ${(Number(storage!.record_bytes) / Number(storage!.records)).toFixed(0)} bytes in sync_records (1 row), plus ${(Number(storage!.event_bytes) / Number(storage!.events)).toFixed(0)} bytes per event |`,
);
await gateway.stop();
sandbox.stop();
receiver.close();
process.exit(0);

/** The database a bench gateway was given (processes.ts makes one per gateway). */
async function dbUrlOf(g: here.GatewayProcess): Promise<string | undefined> {
  return g.databaseUrl;
}
