// The SCIM service under an identity provider's initial push (#29), in one run:
//  - `concurrency` clients POST `users` Okta-shaped users, then `groups` groups the way Okta
//    pushes a group (POST the group empty, then one PATCH adding its `members` members);
//  - then a re-push: a PUT of every user with the body it was created with, which the service
//    treats as no change (the goal is 0 events);
//  - per phase: requests/s, latency (p50, p99, max, measured by the client around each request),
//    errors (non-2xx or failed requests), events written (rows of the events table for the
//    connection, counted in SQL), and the CPU each process spent per request: the gateway
//    (/proc/<pid>/stat), this client (process.cpuUsage) and the Postgres backends serving the
//    gateway's database (/proc/<backend pid>/stat of every backend of that database);
//  - the gateway's peak RSS (VmHWM) and the Postgres bytes per user (the sizes of scim_resources,
//    sync_records and events, indexes and TOAST included, after the user phase, divided by the
//    users: the database is this run's own and holds only this connection).
// Requests are sent with node:http over keep-alive sockets, one per client, so the client costs
// as little as a Node client can; the sandbox's Okta client would add a userName lookup before
// each create (its `assignUser`), which is Okta's sequence but not the create being measured.
// Usage: DATABASE_URL=postgres://… npx tsx bench/scim-push.ts [users=100000] [groups=2000] [members=50] [concurrency=8]
// (TEST_DATABASE_URL is used when set; SCIM_BENCH_NODE_ARGS are passed to the gateway's node.)
import { Agent, request } from "node:http";
import { readFileSync } from "node:fs";
import postgres from "postgres";
import * as here from "./processes.ts";

const users = Number(process.argv[2] ?? 100_000);
const groups = Number(process.argv[3] ?? 2_000);
const membersPerGroup = Math.min(Number(process.argv[4] ?? 50), users);
const concurrency = Number(process.argv[5] ?? 8);
const serverUrl = process.env.TEST_DATABASE_URL || process.env.DATABASE_URL;
if (!serverUrl) throw new Error("bench/scim-push.ts needs DATABASE_URL or TEST_DATABASE_URL (a Postgres server)");
// processes.ts gives the gateway a fresh database on the server named by DATABASE_URL.
process.env.DATABASE_URL = serverUrl;

const USER = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

// SCIM_BENCH_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") go to the gateway's node, to profile it.
const nodeArgs = (process.env.SCIM_BENCH_NODE_ARGS ?? "").split(" ").filter(Boolean);
// The per-connection SCIM limit (30,000 a minute by default) is off: the re-push runs faster than
// that, and a 429 measures the limit, not the service (SCIM_BENCH_RATE_LIMIT sets one).
const gateway = await here.startGatewayProcess(
  { LOG_LEVEL: "warn", UNIFOLD_SCIM_RATE_LIMIT: process.env.SCIM_BENCH_RATE_LIMIT ?? "0" },
  nodeArgs,
);
const made = await fetch(`${gateway.url}/connections`, {
  method: "POST",
  headers: { authorization: `Bearer ${gateway.adminKey}`, "content-type": "application/json" },
  body: JSON.stringify({ tenant_id: "bench", integration: "scim", name: "Okta" }),
});
if (made.status !== 201) throw new Error(`POST /connections: ${made.status} ${await made.text()}`);
const connection = (await made.json()) as { id: string; scim: { base_url: string; token: string } };
const base = new URL(connection.scim.base_url);
const sql = postgres(gateway.databaseUrl!, { max: 1, onnotice: () => {} });

// One keep-alive socket per client.
const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
interface Answer {
  status: number;
  body: string;
}
function send(method: string, path: string, body?: unknown): Promise<Answer> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: base.hostname,
        port: base.port,
        method,
        path: `${base.pathname}${path}`,
        headers: {
          authorization: `Bearer ${connection.scim.token}`,
          "user-agent": "Okta SCIM Client 1.0.0",
          ...(payload !== undefined && { "content-type": "application/scim+json", "content-length": Buffer.byteLength(payload) }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

/** The body Okta sends when it assigns a user (developer.okta.com, SCIM 2.0: create user), without a password. */
const oktaUser = (i: number) => ({
  schemas: [USER],
  userName: `user${i}@acme.example.com`,
  name: { givenName: `Given${i}`, familyName: `Family${i}` },
  emails: [{ primary: true, value: `user${i}@acme.example.com`, type: "work" }],
  displayName: `Given${i} Family${i}`,
  locale: "en-US",
  externalId: `00u${i.toString(36).padStart(8, "0")}`,
  groups: [],
  active: true,
});

/** Postgres CPU seconds of every backend of the gateway's database (their pids can come and go; read them each time). */
async function postgresCpuSeconds(): Promise<Map<number, number>> {
  const rows = await sql<
    { pid: number }[]
  >`select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`;
  const seconds = new Map<number, number>();
  for (const { pid } of rows) {
    try {
      seconds.set(pid, here.cpuSeconds(pid));
    } catch {
      /* ended meanwhile */
    }
  }
  return seconds;
}
const postgresDelta = (before: Map<number, number>, after: Map<number, number>) =>
  [...after].reduce((sum, [pid, s]) => sum + s - (before.get(pid) ?? 0), 0);

const lastSeq = async () =>
  Number((await sql<{ seq: string }[]>`select coalesce(max(seq), 0) as seq from events where connection_id = ${connection.id}`)[0]!.seq);
/** The events of the connection written after `seq`, by type. */
const eventsAfter = async (seq: number) =>
  new Map(
    (
      await sql<{ type: string; count: string }[]>`
        select type, count(*) from events where connection_id = ${connection.id} and seq > ${seq} group by type order by type`
    ).map((row) => [row.type, Number(row.count)]),
  );

interface Phase {
  name: string;
  requests: number;
  seconds: number;
  latencies: Float64Array;
  errors: number;
  statuses: Map<number | string, number>;
  events: number;
  eventTypes: Map<string, number>;
  gatewayCpu: number;
  clientCpu: number;
  postgresCpu: number;
}
const firstErrors: string[] = [];

/** Runs `count` requests over `concurrency` clients, each taking the next index; times each request. */
async function phase(
  name: string,
  count: number,
  one: (i: number) => Promise<Answer>,
  ok: (answer: Answer, i: number) => boolean,
): Promise<Phase> {
  const latencies = new Float64Array(count);
  const statuses = new Map<number | string, number>();
  let next = 0;
  let errors = 0;
  const seqBefore = await lastSeq();
  const pgBefore = await postgresCpuSeconds();
  const gatewayBefore = here.cpuSeconds(gateway.pid);
  const clientBefore = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < count; i = next++) {
        const from = performance.now();
        let answer: Answer | undefined;
        try {
          answer = await one(i);
        } catch (error) {
          answer = undefined;
          statuses.set(String(error), (statuses.get(String(error)) ?? 0) + 1);
          if (firstErrors.length < 5) firstErrors.push(`${name} #${i}: ${String(error)}`);
        }
        latencies[i] = performance.now() - from;
        if (answer) statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        if (!answer || !ok(answer, i)) {
          errors++;
          if (answer && firstErrors.length < 5) firstErrors.push(`${name} #${i}: ${answer.status} ${answer.body.slice(0, 300)}`);
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const client = process.cpuUsage(clientBefore);
  const gatewayCpu = here.cpuSeconds(gateway.pid) - gatewayBefore;
  const postgresCpu = postgresDelta(pgBefore, await postgresCpuSeconds());
  const eventTypes = await eventsAfter(seqBefore);
  const events = [...eventTypes.values()].reduce((sum, n) => sum + n, 0);
  return {
    name,
    requests: count,
    seconds,
    latencies,
    errors,
    statuses,
    events,
    eventTypes,
    gatewayCpu,
    clientCpu: (client.user + client.system) / 1e6,
    postgresCpu,
  };
}

// Users: POST every user.
const userIds: string[] = new Array(users);
const usersPhase = await phase(
  `POST /Users (${users.toLocaleString("en")} users)`,
  users,
  (i) => send("POST", "/Users", oktaUser(i)),
  (answer, i) => {
    if (answer.status !== 201) return false;
    userIds[i] = (JSON.parse(answer.body) as { id: string }).id;
    return true;
  },
);
const peakAfterUsers = here.rssMb(gateway.pid, "VmHWM");
const [storage] = await sql<{ resources: string; records: string; events: string }[]>`
  select pg_total_relation_size('scim_resources') as resources, pg_total_relation_size('sync_records') as records,
         pg_total_relation_size('events') as events`;
const bytes = { resources: Number(storage!.resources), records: Number(storage!.records), events: Number(storage!.events) };

// Groups, as Okta pushes them: the group created empty, then one PATCH adding its members.
const groupIds: string[] = new Array(groups);
const groupsPhase = await phase(
  `POST /Groups (${groups.toLocaleString("en")} groups, empty)`,
  groups,
  (g) => send("POST", "/Groups", { schemas: [GROUP], displayName: `Group ${g}`, members: [] }),
  (answer, g) => {
    if (answer.status !== 201) return false;
    groupIds[g] = (JSON.parse(answer.body) as { id: string }).id;
    return true;
  },
);
const memberOf = (g: number) =>
  Array.from({ length: membersPerGroup }, (_, k) => {
    const u = (g * membersPerGroup + k) % users;
    return { value: userIds[u], display: `user${u}@acme.example.com` };
  });
const membersPhase = await phase(
  `PATCH /Groups/{id} add ${membersPerGroup} members`,
  groups,
  (g) =>
    groupIds[g] === undefined
      ? Promise.reject(new Error("group not created"))
      : send("PATCH", `/Groups/${groupIds[g]}`, { schemas: [PATCH_OP], Operations: [{ op: "add", path: "members", value: memberOf(g) }] }),
  (answer) => answer.status === 200 || answer.status === 204,
);

// The re-push: every user PUT with the body it was created with.
const repushPhase = await phase(
  `PUT /Users/{id} (re-push, no change)`,
  users,
  (i) => (userIds[i] === undefined ? Promise.reject(new Error("user not created")) : send("PUT", `/Users/${userIds[i]}`, oktaUser(i))),
  (answer) => answer.status === 200,
);
const peak = here.rssMb(gateway.pid, "VmHWM");
// What the re-push's events (if any) say changed.
const repushChanges = await sql<{ fields: string; count: string }[]>`
  select coalesce(data->>'changed_fields', '(none)') as fields, count(*) from events
  where connection_id = ${connection.id} and type = 'user.updated'
    and seq > (select max(seq) from events where connection_id = ${connection.id} and type <> 'user.updated')
  group by 1 order by 2 desc limit 5`;
const [counts] = await sql<{ memberships: string }[]>`
  select count(*) as memberships from sync_records where connection_id = ${connection.id} and resource = 'group_members' and deleted_at is null`;

const ms = (value: number) => value.toFixed(1);
function quantile(sorted: Float64Array, q: number) {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

console.log(
  `\nSCIM push bench: ${users.toLocaleString("en")} users, ${groups.toLocaleString("en")} groups of ${membersPerGroup} members, ${concurrency} concurrent clients, Postgres server (${readFileSync("/proc/cpuinfo", "utf8").match(/^processor/gm)?.length ?? "?"} cores shared by this client, the gateway and Postgres)\n`,
);
console.log(
  "| phase | requests | seconds | req/s | p50 ms | p99 ms | max ms | errors | events written | gateway CPU ms/req | Postgres CPU ms/req | client CPU ms/req |",
);
console.log("|---|---|---|---|---|---|---|---|---|---|---|---|");
for (const p of [usersPhase, groupsPhase, membersPhase, repushPhase].filter((p) => p.requests > 0)) {
  const sorted = p.latencies.slice().sort();
  console.log(
    `| ${p.name} | ${p.requests} | ${p.seconds.toFixed(1)} | ${Math.round(p.requests / p.seconds)} | ${ms(quantile(sorted, 0.5))} | ${ms(quantile(sorted, 0.99))} | ${ms(sorted.at(-1) ?? 0)} | ${p.errors} | ${p.events} | ${((p.gatewayCpu * 1000) / p.requests).toFixed(2)} | ${((p.postgresCpu * 1000) / p.requests).toFixed(2)} | ${((p.clientCpu * 1000) / p.requests).toFixed(2)} |`,
  );
}
const perUser = (n: number) => Math.round(n / users);
const phases = [usersPhase, groupsPhase, membersPhase, repushPhase].filter((p) => p.requests > 0);
console.log(`\nStatuses: ${phases.map((p) => `${p.name}: ${JSON.stringify(Object.fromEntries(p.statuses))}`).join("; ")}`);
console.log(`Events by type: ${phases.map((p) => `${p.name}: ${JSON.stringify(Object.fromEntries(p.eventTypes))}`).join("; ")}`);
if (firstErrors.length) console.log(`First errors:\n${firstErrors.map((e) => `  ${e}`).join("\n")}`);
if (repushPhase.events)
  console.log(`Re-push user.updated events by changed_fields: ${repushChanges.map((r) => `${r.fields} × ${r.count}`).join(", ")}`);
console.log(`Live memberships in the copy: ${counts!.memberships} (expected ${groups * membersPerGroup})`);
console.log(`Gateway peak RSS: ${peakAfterUsers} MB after the users, ${peak} MB over the run`);
console.log(
  `Postgres bytes per user (table sizes with indexes and TOAST after the user phase ÷ users): ${perUser(bytes.resources + bytes.records + bytes.events)} (scim_resources ${perUser(bytes.resources)}, sync_records ${perUser(bytes.records)}, events ${perUser(bytes.events)})`,
);

await sql.end();
agent.destroy();
await gateway.stop();
process.exit(0);
