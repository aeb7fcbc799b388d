// `npm run demo`: the sandbox and the gateway (embedded database) together, one connection per
// integration registered, and curl lines ready to paste. Ctrl-C stops both.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, openSync, rmSync, statSync } from "node:fs";
import { createServer as createHttpServer, type Server } from "node:http";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Webhook } from "standardwebhooks";
import { oktaClient } from "../apps/sandbox/src/idp/index.ts";
import { startSandbox, type Vendor } from "../apps/sandbox/src/server.ts";
import { loadIntegrations } from "../packages/engine/src/index.ts";

const port = Number(process.env.PORT ?? 8080);
const sandboxPort = Number(process.env.SANDBOX_PORT ?? 4010);
const webhookPort = Number(process.env.DEMO_WEBHOOK_PORT ?? 4011);
const gatewayUrl = `http://127.0.0.1:${port}`;

function cannotStart(why: string): never {
  process.stderr.write(`unifold demo: cannot start: ${why}\n`);
  process.exit(1);
}
// Checked before anything starts, so a gateway already on that port is never mistaken for ours.
const ensureFree = (candidate: number, variable: string) =>
  new Promise<void>((resolve) => {
    const probe = createServer()
      .once("error", () => cannotStart(`port ${candidate} is in use (set ${variable})`))
      .listen(candidate, "127.0.0.1", () => probe.close(() => resolve()));
  });
await ensureFree(port, "PORT");
await ensureFree(webhookPort, "DEMO_WEBHOOK_PORT");
const sandbox = await startSandbox({ port: sandboxPort }).catch((error: NodeJS.ErrnoException) =>
  cannotStart(error.code === "EADDRINUSE" ? `port ${sandboxPort} is in use (set SANDBOX_PORT)` : error.message),
);
const adminKey = `ufk_${randomBytes(32).toString("base64url")}`;
const dataDir = mkdtempSync(join(tmpdir(), "unifold-demo-"));
// In the clone (.unifold/logs, beside `npm start`'s database), kept after the demo ends so a 500 it
// showed can still be looked up; an empty one is removed.
const logDir = fileURLToPath(new URL("../.unifold/logs/", import.meta.url));
mkdirSync(logDir, { recursive: true });
const logPath = join(logDir, `demo-gateway-${new Date().toISOString().replace(/[:.]/g, "-")}.log`);
const log = openSync(logPath, "a");
// The demo always runs on its own embedded database, even where DATABASE_URL points at a server.
const { DATABASE_URL: _server, UNIFOLD_ENCRYPTION_KEYS: _keys, ...inherited } = process.env;
// The built gateway, as `npm start` runs it (built first when dist/ is missing or stale).
const gateway = spawn(process.execPath, [fileURLToPath(new URL("../apps/gateway/start.js", import.meta.url))], {
  stdio: ["ignore", log, log],
  env: {
    ...inherited,
    PORT: String(port),
    HOST: "127.0.0.1",
    // A fresh data dir of its own, so the demo never touches `npm start`'s database.
    UNIFOLD_DATA_DIR: dataDir,
    UNIFOLD_ADMIN_KEY: adminKey,
    // The sandbox listens on loopback, which a production gateway refuses.
    UNIFOLD_ALLOW_PRIVATE_UPSTREAMS: "true",
    LOG_LEVEL: process.env.LOG_LEVEL ?? "info",
  },
});
/** The demo's webhook receiver and its verifier, once they exist. */
const webhooks: { receiver?: Server; verifier?: Webhook } = {};
// Ctrl-C reaches the gateway too (same process group); whichever ends first, everything is cleaned up.
let stopping = false;
const shutdown = async (code: number) => {
  if (stopping) return;
  stopping = true;
  if (gateway.exitCode === null && gateway.signalCode === null) {
    gateway.kill("SIGTERM");
    await new Promise((resolve) => gateway.once("exit", resolve));
  }
  await sandbox.close();
  webhooks.receiver?.close();
  rmSync(dataDir, { recursive: true, force: true });
  if (statSync(logPath).size === 0) rmSync(logPath);
  process.exit(code);
};
process.on("SIGINT", () => void shutdown(0));
process.on("SIGTERM", () => void shutdown(0));
gateway.once("exit", (code) => void shutdown(code ?? 0));

for (let i = 0; ; i++) {
  try {
    if ((await fetch(`${gatewayUrl}/health`)).ok) break;
  } catch {
    if (i > 600) cannotStart(`the gateway did not answer in 60 s (its log: ${logPath})`);
  }
  await new Promise((resolve) => setTimeout(resolve, 100));
}

const admin = async (path: string, body: unknown) => {
  const res = await fetch(`${gatewayUrl}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (res.status !== 201) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as { id: string; secret: string };
};
// Every integration in mappings/ whose vendor has a simulator in the sandbox (`sandbox:` in its integration.yaml).
const integrations = loadIntegrations(fileURLToPath(new URL("../mappings", import.meta.url)));
const vendors = Object.fromEntries([...integrations.values()].filter((i) => i.sandbox).map((i) => [i.slug, i.sandbox as Vendor]));
/** A connection to the sandbox's simulator: its key in the integration's one credential field, or a service account's credentials. */
function connectionTo(slug: string, vendor: Vendor) {
  const { key, credentials, config } = sandbox.connectionFor(vendor, "acme");
  return { credentials: credentials ?? { [Object.keys(integrations.get(slug)!.credentials)[0]!]: key! }, config };
}
const ids: Record<string, string> = {};
for (const [slug, vendor] of Object.entries(vendors)) {
  ids[slug] = (
    await admin("/connections", {
      tenant_id: "acme",
      integration: slug,
      name: `Acme ${slug}`,
      ...connectionTo(slug, vendor as Vendor),
    })
  ).id;
}
const apiKey = (await admin("/api-keys", { name: "demo backend", scope: "api", tenant_id: "acme" })).secret;

// Syncs and webhooks: a receiver here that checks each delivery's signature and prints it. The
// endpoint is registered once the first run has copied the directory, so what it prints are changes.
const sync = await admin("/syncs", { connection_id: ids.jumpcloud, resources: ["users"], interval: 3_600 });
for (let i = 0; i < 300; i++) {
  const runs = (await (
    await fetch(`${gatewayUrl}/syncs/${sync.id}/runs`, { headers: { authorization: `Bearer ${adminKey}` } })
  ).json()) as {
    result: { status: string }[];
  };
  if (runs.result.some((run) => run.status !== "running")) break;
  await new Promise((resolve) => setTimeout(resolve, 100));
}
const receiver = createHttpServer((req, res) => {
  let body = "";
  req.on("data", (chunk) => (body += chunk));
  req.on("end", () => {
    try {
      const event = webhooks.verifier!.verify(body, req.headers as Record<string, string>) as {
        id: string;
        type: string;
        data: { id?: string; username?: string };
      };
      console.log(`webhook: ${event.type} ${event.data.username ?? event.data.id ?? ""} (${event.id}, signature verified)`);
      res.writeHead(204).end();
    } catch (error) {
      console.log(`webhook: a delivery failed verification: ${(error as Error).message}`);
      res.writeHead(400).end();
    }
  });
});
webhooks.receiver = receiver;
await new Promise<void>((resolve, reject) => receiver.once("error", reject).listen(webhookPort, "127.0.0.1", resolve)).catch(async () => {
  process.stderr.write(`unifold demo: cannot start: port ${webhookPort} is in use (set DEMO_WEBHOOK_PORT)\n`);
  await shutdown(1);
});
const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
webhooks.verifier = new Webhook((await admin("/webhook-endpoints", { tenant_id: "acme", url: receiverUrl, events: ["*"] })).secret);

// A directory that pushes: a simulated Okta provisions acme's people into the SCIM service of a
// `scim` connection, and the receiver above prints each signed event it makes.
const pushed = (await admin("/connections", { tenant_id: "acme", integration: "scim", name: "Acme Okta" })) as unknown as {
  id: string;
  scim: { base_url: string; token: string };
};
const okta = oktaClient({ baseUrl: pushed.scim.base_url, token: pushed.scim.token });
const people = ["ada", "grace", "linus"].map((name) => ({
  userName: `${name}@acme.example.com`,
  givenName: name[0]!.toUpperCase() + name.slice(1),
  familyName: "Okta",
  email: `${name}@acme.example.com`,
}));
const assigned = await okta.assignUsers(people);
await okta.pushGroup(
  "Engineering",
  assigned.map(({ user }) => ({ id: user.id, userName: String(user.userName) })),
);
await okta.deactivateUser(assigned[2]!.user.id);

// The end of the event log so far (the first run's copy): the events line printed below starts
// there, so it shows the change made next, not the oldest events.
let eventsCursor = "";
for (;;) {
  const page = (await (
    await fetch(`${gatewayUrl}/events?limit=500${eventsCursor && `&after=${encodeURIComponent(eventsCursor)}`}`, {
      headers: { authorization: `Bearer ${apiKey}` },
    })
  ).json()) as { next_cursor: string | null; poll_cursor: string };
  eventsCursor = page.poll_cursor;
  if (!page.next_cursor) break;
}

// The hosted connect page: a single-use link a second customer, globex, follows to connect its own directory.
const connectLink = (await admin("/connect/sessions", {
  tenant_id: "globex",
  integrations: Object.keys(vendors),
  // The sandbox stands in for each vendor: its addresses (and a token endpoint's) are preset, so
  // the page asks only for the key (Google: the service account's address and key).
  config: Object.fromEntries(
    Object.entries(vendors).map(([slug, vendor]) => {
      const { base_url, token_url } = sandbox.connectionFor(vendor as Vendor, "globex").config;
      return [slug, token_url ? { base_url, token_url } : { base_url }];
    }),
  ),
  ttl_seconds: 86_400,
})) as unknown as { url: string };

const auth = `-H "authorization: Bearer ${apiKey}"`;
const sandboxKey = sandbox.key("jumpcloud", "acme");
console.log(`
Unifold demo: gateway ${gatewayUrl} (embedded database), sandbox ${sandbox.url}
Reference: ${gatewayUrl}/docs        Admin key: ${adminKey}
Gateway log: ${logPath}

API key (tenant acme): ${apiKey}
Connections: ${Object.entries(ids)
  .map(([slug, id]) => `${slug} ${id}`)
  .join(", ")}, scim ${pushed.id} (pushed)

For the admin CLI and the README's examples, in any terminal (the admin key; CONN is acme's JumpCloud):
export UNIFOLD_URL=${gatewayUrl} UNIFOLD_API_KEY=${adminKey} KEY=${adminKey} CONN=${ids.jumpcloud} JUMPCLOUD_KEY=${sandboxKey} JUMPCLOUD_BASE_URL=${sandbox.baseUrl("jumpcloud")}
npx unifold connections list

${Object.values(ids)
  .map((id) => `curl -s "${gatewayUrl}/unified/user-directory/users?connection_id=${id}&limit=3&remote_data=false" ${auth}`)
  .join("\n")}
curl -s "${gatewayUrl}/unified/hris/employees?connection_id=${ids.jumpcloud}&limit=2&remote_data=false" ${auth}
curl -s "${gatewayUrl}/unified/user-directory/groups?connection_id=${ids["postman-scim"]}&limit=3" ${auth}
curl -s "${gatewayUrl}/proxy/systemusers?connection_id=${ids.jumpcloud}&limit=2" ${auth}
curl -s -X POST "${gatewayUrl}/unified/user-directory/users?connection_id=${ids["jostle-scim"]}" ${auth} -H 'content-type: application/json' \\
  -d '{"username":"ada@acme.example.com","first_name":"Ada","last_name":"Lovelace"}'

Keep your copy in sync: change the sandbox's directory, run the sync, and watch the webhooks here.
curl -s -X POST "${sandbox.url}/_sandbox/changes" -H 'content-type: application/json' -d '{"vendor":"jumpcloud","tenant":"acme","add":1,"update":1,"deactivate":1,"delete":1}'
curl -s -X POST "${gatewayUrl}/syncs/${sync.id}/run" ${auth}
curl -s "${gatewayUrl}/events?after=${encodeURIComponent(eventsCursor)}&limit=10" ${auth}

A directory that pushes: a simulated Okta provisioned three people and a group into acme's SCIM connection
(the webhooks above); point any SCIM client at it the same way. Its base URL and token (shown once):
${pushed.scim.base_url}
${pushed.scim.token}
curl -s "${gatewayUrl}/unified/user-directory/users?connection_id=${pushed.id}&limit=3&remote_data=false" ${auth}
curl -s "${gatewayUrl}/connections/${pushed.id}/scim-requests?limit=5" -H "authorization: Bearer ${adminKey}"

Let customers connect: open this single-use link in a browser, choose JumpCloud and paste globex's sandbox key.
${connectLink.url}
JumpCloud key of globex: ${sandbox.key("jumpcloud", "globex")}
A new link (after the export line above): npx unifold connect-link --tenant globex --config jumpcloud.base_url=${sandbox.baseUrl("jumpcloud")}

Ctrl-C stops the gateway and the sandbox.
`);
