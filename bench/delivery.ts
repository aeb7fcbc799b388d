// Webhook delivery (#30, goal 5), same-run A/B: a base checkout's gateway and this tree's, each
// on a fresh Postgres database with one endpoint on a shared loopback receiver, deliver the same
// N user events, in interleaved rounds (base, new, new, base, …), nothing else running. A round
// hands every event out again (its outbox row made undispatched, as after a crash; at least once
// allows it) and is timed from the call that sets it off to the last event received.
// Each event is about its own record, unless `records` is given: then `records` records share
// the events in turn, so a record's events follow one another closely (order per record matters).
// Usage: DATABASE_URL=postgres://… npx tsx bench/delivery.ts <base checkout> [events=20000] [rounds=4] [records]
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import postgres from "postgres";
import * as here from "./processes.ts";

const [baseDir, eventCount = "20000", roundCount = "4", recordCount] = process.argv.slice(2);
if (!baseDir || !process.env.DATABASE_URL) {
  throw new Error("usage: DATABASE_URL=postgres://… npx tsx bench/delivery.ts <base checkout> [events] [rounds] [records]");
}
const events = Number(eventCount);
const records = Number(recordCount ?? events);
const base = (await import(resolve(baseDir, "bench/processes.ts"))) as typeof here;

// Per side: events received, and, per record, the versions in the order they arrived.
const received = { base: 0, new: 0 };
const lastReceipt = { base: 0, new: 0 };
const outOfOrder = { base: 0, new: 0 };
const latest = { base: new Map<string, number>(), new: new Map<string, number>() };
const receiver = createServer((req, res) => {
  const side = req.url === "/base" ? "base" : "new";
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    const event = JSON.parse(Buffer.concat(chunks).toString()) as { type: string; data: { id?: string }; version?: number };
    if (event.type === "user.updated") {
      const seen = latest[side].get(event.data.id!) ?? 0;
      if (event.version! < seen) outOfOrder[side]++;
      latest[side].set(event.data.id!, event.version!);
    }
    received[side]++;
    lastReceipt[side] = performance.now();
    res.writeHead(204).end();
  });
});
await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
const hookBase = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;

type Side = "base" | "new";
const env = { LOG_LEVEL: "warn" };
const sides: { side: Side; gateway: here.GatewayProcess; sql: postgres.Sql; endpoint: string }[] = [];
for (const side of ["base", "new"] as const) {
  const gateway = await (side === "base" ? base : here).startGatewayProcess(env);
  const endpoint = await here.adminCall(gateway, "POST", "/webhook-endpoints", {
    tenant_id: "bench",
    url: `${hookBase}/${side}`,
    events: ["*"],
  });
  const sql = postgres(gateway.databaseUrl!, { max: 1, onnotice: () => {} });
  // A unified user much like a sync's, its version counting up per record.
  await sql`
    insert into events (id, tenant_id, type, version, data, dispatched_at)
    select 'evt_bench_' || i, 'bench', 'user.updated', 1 + i / ${records}::int,
           jsonb_build_object(
             'id', 'usr_' || (i % ${records}::int), 'remote_id', 'r' || (i % ${records}::int),
             'email', 'person' || (i % ${records}::int) || '@example.com', 'first_name', 'Person', 'last_name', 'Number ' || i,
             'display_name', 'Person Number ' || i, 'username', 'person' || i, 'status', 'active', 'title', 'Engineer',
             'department', 'Platform', 'manager_id', null, 'phones', jsonb_build_array(jsonb_build_object('value', '+15550100', 'type', 'work')),
             'emails', jsonb_build_array(jsonb_build_object('value', 'person' || i || '@example.com', 'type', 'work', 'primary', true)),
             'groups', jsonb_build_array(), 'created_at', '2026-01-01T00:00:00Z', 'updated_at', '2026-06-01T00:00:00Z',
             'last_login_at', null, 'remote_data', null),
           now()
    from generate_series(0, ${events - 1}::int) as i`;
  sides.push({ side, gateway, sql, endpoint: endpoint.id });
}

const runs = { base: [] as [number, number][], new: [] as [number, number][] };
for (let round = 0; round < Number(roundCount); round++) {
  for (const { side, gateway, sql, endpoint } of round % 2 ? [...sides].reverse() : sides) {
    await sql`update events set dispatched_at = null where type = 'user.updated'`;
    latest[side].clear();
    const before = received[side];
    const cpu = here.cpuSeconds(gateway.pid);
    const started = performance.now();
    await here.adminCall(gateway, "POST", `/webhook-endpoints/${endpoint}/test`);
    while (received[side] < before + events + 1) await new Promise((resolve) => setTimeout(resolve, 10));
    const seconds = (lastReceipt[side] - started) / 1000;
    runs[side].push([events / seconds, ((here.cpuSeconds(gateway.pid) - cpu) * 1000) / events]);
    console.error(`round ${round} ${side}: ${Math.round(events / seconds)} events/s`);
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const [baseRate, newRate] = [median(runs.base.map((r) => r[0])), median(runs.new.map((r) => r[0]))];
const [baseCpu, newCpu] = [median(runs.base.map((r) => r[1])), median(runs.new.map((r) => r[1]))];
console.log(
  `\n${events.toLocaleString("en")} events about ${records.toLocaleString("en")} records, ${roundCount} rounds a side, medians\n`,
);
console.log("| side | events/s | gateway CPU ms per event | arrived before an earlier version of their record |");
console.log("|---|---|---|---|");
console.log(`| base | ${Math.round(baseRate)} | ${baseCpu.toFixed(3)} | ${outOfOrder.base} |`);
console.log(`| new | ${Math.round(newRate)} | ${newCpu.toFixed(3)} | ${outOfOrder.new} |`);
console.log(`| new ÷ base | ${(newRate / baseRate).toFixed(2)} | ${(newCpu / baseCpu).toFixed(2)} | |`);

for (const { gateway, sql } of sides) {
  await sql.end();
  await gateway.stop();
}
receiver.close();
process.exit(0);
