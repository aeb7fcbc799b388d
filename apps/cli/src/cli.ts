import { parseArgs, type ParseArgsConfig } from "node:util";
import { type components, createUnifoldClient, UnifoldError } from "@unifold/sdk";
import { type Column, record, table } from "./format.ts";

type Client = ReturnType<typeof createUnifoldClient>;
type Connection = components["schemas"]["Connection"];
type ApiKey = components["schemas"]["ApiKey"];
type Integration = components["schemas"]["Integration"];
type KeyRing = components["schemas"]["KeyRing"];
type Sync = components["schemas"]["Sync"];
type SyncRun = components["schemas"]["SyncRun"];
type Endpoint = components["schemas"]["WebhookEndpoint"];
type Delivery = components["schemas"]["WebhookDelivery"];
type CreateEndpoint = components["schemas"]["CreateWebhookEndpoint"];
type CreateConnectSession = components["schemas"]["CreateConnectSession"];
type CreateSync = components["schemas"]["CreateSync"];

/** What a run reads from and writes to; `main.ts` passes the process's own. */
export interface Io {
  env: Record<string, string | undefined>;
  out: (text: string) => void;
  err: (text: string) => void;
  /** All of standard input, for a credential given as `-` (so it stays out of shell history). */
  stdin: () => Promise<string>;
}

/** A command's answer: `json` is printed with --json, `text` otherwise. */
interface Output {
  json: unknown;
  text: string;
  /** A line for the terminal only (stderr), e.g. that a secret is shown once. */
  notice?: string;
}

type Options = Record<string, string | boolean | string[] | undefined>;

interface Command {
  usage: string;
  summary: string;
  options?: ParseArgsConfig["options"];
  /** Names of the positional arguments the command takes, in order. */
  args?: string[];
  run(client: Client, options: Options, args: string[], io: Io): Promise<Output>;
}

class UsageError extends Error {}

const globalOptions = {
  url: { type: "string" },
  key: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} satisfies ParseArgsConfig["options"];

const connectionColumns: Column<Connection>[] = [
  { heading: "ID", cell: (c) => c.id },
  { heading: "TENANT", cell: (c) => c.tenant_id },
  { heading: "INTEGRATION", cell: (c) => c.integration },
  { heading: "NAME", cell: (c) => c.name },
  { heading: "STATUS", cell: (c) => c.status },
  { heading: "LAST VERIFIED", cell: (c) => c.last_verified_at },
];
const connectionFields = ["id", "tenant_id", "integration", "name", "status", "config", "created_at", "updated_at", "last_verified_at"];

const apiKeyColumns: Column<ApiKey>[] = [
  { heading: "ID", cell: (k) => k.id },
  { heading: "NAME", cell: (k) => k.name },
  { heading: "SCOPE", cell: (k) => k.scope },
  { heading: "TENANT", cell: (k) => k.tenant_id },
  { heading: "PREFIX", cell: (k) => k.prefix },
  { heading: "CREATED", cell: (k) => k.created_at },
  { heading: "REVOKED", cell: (k) => k.revoked_at },
];

const keyRingColumns: Column<KeyRing["keys"][number]>[] = [
  { heading: "KEY", cell: (k) => k.id },
  { heading: "CURRENT", cell: (k) => (k.current ? "yes" : "") },
  { heading: "IN RING", cell: (k) => (k.in_ring ? "yes" : "MISSING") },
  { heading: "CONNECTIONS", cell: (k) => k.connections },
];

const integrationColumns: Column<Integration>[] = [
  { heading: "SLUG", cell: (i) => i.slug },
  { heading: "NAME", cell: (i) => i.name },
  { heading: "CREDENTIALS", cell: (i) => i.credential_fields.map((f) => f.name) },
  { heading: "CONFIG", cell: (i) => ["base_url", ...i.config_fields.map((f) => f.name)] },
  { heading: "RESOURCES", cell: (i) => Object.keys(i.resources) },
];

const syncColumns: Column<Sync>[] = [
  { heading: "ID", cell: (s) => s.id },
  { heading: "TENANT", cell: (s) => s.tenant_id },
  { heading: "CONNECTION", cell: (s) => s.connection_id },
  { heading: "RESOURCES", cell: (s) => s.resources },
  { heading: "INTERVAL", cell: (s) => `${s.interval}s` },
  { heading: "STATUS", cell: (s) => s.status },
  { heading: "NEXT RUN", cell: (s) => s.next_run_at },
];
const runColumns: Column<SyncRun>[] = [
  { heading: "ID", cell: (r) => r.id },
  { heading: "STATUS", cell: (r) => r.status },
  { heading: "STARTED", cell: (r) => r.started_at },
  { heading: "ENDED", cell: (r) => r.ended_at },
  { heading: "COUNTS", cell: (r) => Object.entries(r.counts).map(([k, v]) => `${k} ${v}`) },
  { heading: "ERROR", cell: (r) => r.error },
];
const endpointColumns: Column<Endpoint>[] = [
  { heading: "ID", cell: (e) => e.id },
  { heading: "TENANT", cell: (e) => e.tenant_id },
  { heading: "URL", cell: (e) => e.url },
  { heading: "EVENTS", cell: (e) => e.events },
  { heading: "ENABLED", cell: (e) => (e.enabled ? "yes" : `no: ${e.disabled_reason ?? "by hand"}`) },
];
const deliveryColumns: Column<Delivery>[] = [
  { heading: "ID", cell: (d) => d.id },
  { heading: "EVENT", cell: (d) => d.event_id },
  { heading: "ATTEMPT", cell: (d) => d.attempt },
  { heading: "OUTCOME", cell: (d) => d.outcome },
  { heading: "STATUS", cell: (d) => d.response_status },
  { heading: "MS", cell: (d) => d.latency_ms },
  { heading: "AT", cell: (d) => d.created_at },
];
type ScimRequest = components["schemas"]["ScimRequest"];
const scimRequestColumns: Column<ScimRequest>[] = [
  { heading: "AT", cell: (r) => r.at },
  { heading: "METHOD", cell: (r) => r.method },
  { heading: "PATH", cell: (r) => r.path },
  { heading: "STATUS", cell: (r) => r.status },
  { heading: "SCIM TYPE", cell: (r) => r.scim_type },
  { heading: "RESOURCE", cell: (r) => r.resource_id },
  { heading: "MS", cell: (r) => r.latency_ms },
  { heading: "DETAIL", cell: (r) => r.detail },
];
const byId = (id: string | undefined) => ({ params: { path: { id: id as string } } });

const commands: Record<string, Command> = {
  "integrations list": {
    usage: "integrations list",
    summary: "the integrations the gateway loaded from mappings/",
    async run(client) {
      const { result } = await must(client.GET("/integrations"));
      return { json: result, text: table(result, integrationColumns) };
    },
  },

  "connections list": {
    usage: "connections list [--tenant T] [--integration SLUG] [--status active|needs_reauth|disabled]",
    summary: "every connection (all pages), optionally filtered",
    options: { tenant: { type: "string" }, integration: { type: "string" }, status: { type: "string" } },
    async run(client, options) {
      const query = {
        limit: 200,
        ...(options.tenant && { tenant_id: String(options.tenant) }),
        ...(options.integration && { integration: String(options.integration) }),
        ...(options.status && { status: String(options.status) as Connection["status"] }),
      };
      const rows: Connection[] = [];
      for await (const connection of client.paginate("/connections", { query })) rows.push(connection);
      return { json: rows, text: table(rows, connectionColumns) };
    },
  },

  "connections get": {
    usage: "connections get <id>",
    summary: "one connection",
    args: ["id"],
    async run(client, _options, [id]) {
      const connection = await must(client.GET("/connections/{id}", { params: { path: { id: id as string } } }));
      return { json: connection, text: record(connection, connectionFields) };
    },
  },

  "connections create": {
    usage:
      "connections create --tenant T --integration SLUG --credential NAME=VALUE… [--config NAME=VALUE…] [--name N] [--no-verify]\n" +
      "      (a credential's VALUE may be - to read it from standard input, keeping it out of shell history)",
    summary: "register a connection; checked with one upstream call unless --no-verify",
    options: {
      tenant: { type: "string" },
      integration: { type: "string" },
      name: { type: "string" },
      credential: { type: "string", multiple: true },
      config: { type: "string", multiple: true },
      "no-verify": { type: "boolean" },
    },
    async run(client, options, _args, io) {
      const tenant = required(options, "tenant");
      const integration = required(options, "integration");
      // A directory that pushes (integration scim) takes none: the gateway answers its SCIM base URL and token instead.
      const credentials = await assignments(options.credential, "--credential", io);
      const config = await assignments(options.config, "--config", io);
      const connection = await must(
        client.POST("/connections", {
          params: { query: { verify: options["no-verify"] ? "false" : "true" } },
          body: {
            tenant_id: tenant,
            integration,
            ...(Object.keys(credentials).length > 0 && { credentials }),
            ...(Object.keys(config).length > 0 && { config }),
            ...(typeof options.name === "string" && { name: options.name }),
          },
        }),
      );
      if (!connection.scim) return { json: connection, text: record(connection, connectionFields) };
      return {
        json: connection,
        text:
          record(connection, connectionFields) + `scim base URL  ${connection.scim.base_url}\nscim token     ${connection.scim.token}\n`,
        notice: "The SCIM token is shown this once: paste it and the base URL into the identity provider.",
      };
    },
  },

  "connections scim-token": {
    usage: "connections scim-token <id> [--overlap SECONDS]",
    summary: "a new SCIM token for a directory that pushes; older ones keep working during the overlap (default 0)",
    args: ["id"],
    options: { overlap: { type: "string" } },
    async run(client, options, [id]) {
      const answer = await must(
        client.POST("/connections/{id}/scim-token", {
          ...byId(id),
          body: options.overlap === undefined ? {} : { overlap_seconds: Number(options.overlap) },
        }),
      );
      return {
        json: answer,
        text: `token ${answer.token}
the tokens it replaces stop at ${answer.previous_valid_until}
`,
        notice: "The token is shown this once: paste it into the identity provider.",
      };
    },
  },

  "connections scim-log": {
    usage: "connections scim-log <id> [--limit N]",
    summary: "the SCIM requests a pushing directory's identity provider made, newest first",
    args: ["id"],
    options: { limit: { type: "string" } },
    async run(client, options, [id]) {
      const page = await must(
        client.GET("/connections/{id}/scim-requests", {
          params: { path: { id: id as string }, query: { limit: Number(options.limit ?? 50) } },
        }),
      );
      const rows = page.result;
      return { json: rows, text: table(rows, scimRequestColumns) };
    },
  },

  "connections verify": {
    usage: "connections verify <id>",
    summary: "check the credentials against the upstream; sets status active or needs_reauth",
    args: ["id"],
    async run(client, _options, [id]) {
      const connection = await must(client.POST("/connections/{id}/verify", { params: { path: { id: id as string } } }));
      return { json: connection, text: record(connection, connectionFields) };
    },
  },

  "connections delete": {
    usage: "connections delete <id>",
    summary: "remove a connection and its credentials",
    args: ["id"],
    async run(client, _options, [id]) {
      const deleted = await must(client.DELETE("/connections/{id}", { params: { path: { id: id as string } } }));
      return { json: deleted, text: `deleted connection ${deleted.id}\n` };
    },
  },

  "api-keys list": {
    usage: "api-keys list",
    summary: "every API key (never their secrets)",
    async run(client) {
      const rows: ApiKey[] = [];
      for await (const key of client.paginate("/api-keys", { query: { limit: 200 } })) rows.push(key);
      return { json: rows, text: table(rows, apiKeyColumns) };
    },
  },

  "api-keys create": {
    usage: "api-keys create --name N --scope api|admin [--tenant T]",
    summary: "make a key; its secret is printed this once",
    options: { name: { type: "string" }, scope: { type: "string" }, tenant: { type: "string" } },
    async run(client, options) {
      const name = required(options, "name");
      const scope = required(options, "scope");
      if (scope !== "api" && scope !== "admin") throw new UsageError("--scope is api or admin");
      const created = await must(
        client.POST("/api-keys", { body: { name, scope, ...(typeof options.tenant === "string" && { tenant_id: options.tenant }) } }),
      );
      return {
        json: created,
        text: record(created, ["id", "name", "scope", "tenant_id", "prefix", "created_at", "secret"]),
        notice: "The secret is shown this once; only its hash is stored.",
      };
    },
  },

  "api-keys revoke": {
    usage: "api-keys revoke <id>",
    summary: "revoke a key; it answers 401 from then on",
    args: ["id"],
    async run(client, _options, [id]) {
      const key = await must(client.DELETE("/api-keys/{id}", { params: { path: { id: id as string } } }));
      return { json: key, text: `revoked API key ${key.id} (${key.name})\n` };
    },
  },

  "syncs list": {
    usage: "syncs list",
    summary: "every sync (all pages)",
    async run(client) {
      const rows: Sync[] = [];
      for await (const sync of client.paginate("/syncs", { query: { limit: 200 } })) rows.push(sync);
      return { json: rows, text: table(rows, syncColumns) };
    },
  },

  "syncs create": {
    usage:
      "syncs create <connection_id> [--resources users,groups,group_members] [--interval SECONDS] [--full-interval SECONDS] [--quiet-start]",
    summary:
      "keep a copy of a connection's resources; the first run starts at once (--quiet-start: without an event per record; --full-interval: seconds between full walks where the integration reads only changes, 86400 by default)",
    args: ["connection_id"],
    options: {
      resources: { type: "string" },
      interval: { type: "string" },
      "full-interval": { type: "string" },
      "quiet-start": { type: "boolean" },
    },
    async run(client, options, [connectionId]) {
      // The gateway names a resource the integration cannot list in its 400.
      const resources = String(options.resources ?? "users").split(",") as CreateSync["resources"];
      const sync = await must(
        client.POST("/syncs", {
          body: {
            connection_id: connectionId as string,
            resources,
            interval: Number(options.interval ?? 3_600),
            initial_events: options["quiet-start"] !== true,
            full_interval: Number(options["full-interval"] ?? 86_400),
          },
        }),
      );
      return { json: sync, text: table([sync], syncColumns) };
    },
  },

  "syncs run": {
    usage: "syncs run <id>",
    summary: "run a sync now (a run already queued is not doubled)",
    args: ["id"],
    async run(client, _options, [id]) {
      const answer = await must(client.POST("/syncs/{id}/run", byId(id)));
      return { json: answer, text: answer.queued ? `queued a run of sync ${id}\n` : `a run of sync ${id} is already queued\n` };
    },
  },

  "syncs runs": {
    usage: "syncs runs <id>",
    summary: "a sync's runs: status, counts, error",
    args: ["id"],
    async run(client, _options, [id]) {
      const rows: SyncRun[] = [];
      for await (const run of client.paginate("/syncs/{id}/runs", { path: { id: id as string }, query: { limit: 200 } })) rows.push(run);
      return { json: rows, text: table(rows, runColumns) };
    },
  },

  "syncs pause": {
    usage: "syncs pause <id>",
    summary: "no more runs until resumed",
    args: ["id"],
    async run(client, _options, [id]) {
      const sync = await must(client.POST("/syncs/{id}/pause", byId(id)));
      return { json: sync, text: table([sync], syncColumns) };
    },
  },

  "syncs resume": {
    usage: "syncs resume <id>",
    summary: "resume a paused sync",
    args: ["id"],
    async run(client, _options, [id]) {
      const sync = await must(client.POST("/syncs/{id}/resume", byId(id)));
      return { json: sync, text: table([sync], syncColumns) };
    },
  },

  "syncs delete": {
    usage: "syncs delete <id>",
    summary: "delete a sync",
    args: ["id"],
    async run(client, _options, [id]) {
      const deleted = await must(client.DELETE("/syncs/{id}", byId(id)));
      return { json: deleted, text: `deleted sync ${deleted.id}\n` };
    },
  },

  "webhooks list": {
    usage: "webhooks list",
    summary: "every webhook endpoint",
    async run(client) {
      const rows: Endpoint[] = [];
      for await (const endpoint of client.paginate("/webhook-endpoints", { query: { limit: 200 } })) rows.push(endpoint);
      return { json: rows, text: table(rows, endpointColumns) };
    },
  },

  "webhooks create": {
    usage: "webhooks create <url> [--events user.created,user.deleted|*] [--tenant T] [--description D]",
    summary: "register an endpoint; its signing secret is printed this once",
    args: ["url"],
    options: { events: { type: "string" }, tenant: { type: "string" }, description: { type: "string" } },
    async run(client, options, [url]) {
      // The gateway names an unknown event type in its 400.
      const events = String(options.events ?? "*").split(",") as NonNullable<CreateEndpoint["events"]>;
      const created = await must(
        client.POST("/webhook-endpoints", {
          body: {
            url: url as string,
            events,
            ...(typeof options.tenant === "string" && { tenant_id: options.tenant }),
            ...(typeof options.description === "string" && { description: options.description }),
          },
        }),
      );
      return {
        json: created,
        text: record(created, ["id", "tenant_id", "url", "events", "enabled", "secret"]),
        notice: "The secret is shown this once: verify each delivery's webhook-signature with it.",
      };
    },
  },

  "webhooks rotate-secret": {
    usage: "webhooks rotate-secret <id> [--overlap SECONDS]",
    summary: "a new signing secret; the old one also signs during the overlap (default 24 h, 0 retires it at once)",
    args: ["id"],
    options: { overlap: { type: "string" } },
    async run(client, options, [id]) {
      const answer = await must(
        client.POST("/webhook-endpoints/{id}/rotate-secret", {
          ...byId(id),
          body: options.overlap === undefined ? {} : { overlap_seconds: Number(options.overlap) },
        }),
      );
      return {
        json: answer,
        text: `secret ${answer.secret}\nthe old secret stops signing at ${answer.previous_secret_expires_at}\n`,
        notice: "The new secret is shown this once.",
      };
    },
  },

  "webhooks test": {
    usage: "webhooks test <id>",
    summary: "send a signed webhook_endpoint.test event",
    args: ["id"],
    async run(client, _options, [id]) {
      const event = await must(client.POST("/webhook-endpoints/{id}/test", byId(id)));
      return { json: event, text: `queued test event ${event.id}\n` };
    },
  },

  "webhooks deliveries": {
    usage: "webhooks deliveries <id>",
    summary: "every delivery attempt to an endpoint",
    args: ["id"],
    async run(client, _options, [id]) {
      const rows: Delivery[] = [];
      for await (const delivery of client.paginate("/webhook-endpoints/{id}/deliveries", {
        path: { id: id as string },
        query: { limit: 200 },
      }))
        rows.push(delivery);
      return { json: rows, text: table(rows, deliveryColumns) };
    },
  },

  "webhooks delete": {
    usage: "webhooks delete <id>",
    summary: "delete an endpoint",
    args: ["id"],
    async run(client, _options, [id]) {
      const deleted = await must(client.DELETE("/webhook-endpoints/{id}", byId(id)));
      return { json: deleted, text: `deleted webhook endpoint ${deleted.id}\n` };
    },
  },

  "connect-link": {
    usage:
      "connect-link --tenant T [--integrations jumpcloud,postman-scim] [--config slug.field=value …] [--reconnect CONNECTION_ID] [--redirect-url URL] [--state VALUE] [--origins URL,URL] [--locale en|de|fr] [--ttl SECONDS]",
    summary: "a single-use link to the hosted page where a customer connects their own account",
    options: {
      tenant: { type: "string" },
      integrations: { type: "string" },
      config: { type: "string", multiple: true },
      reconnect: { type: "string" },
      "redirect-url": { type: "string" },
      state: { type: "string" },
      origins: { type: "string" },
      locale: { type: "string" },
      ttl: { type: "string" },
    },
    async run(client, options) {
      const list = (value: unknown) => (typeof value === "string" ? value.split(",").filter(Boolean) : undefined);
      const config: Record<string, Record<string, string>> = {};
      for (const pair of (options.config as string[] | undefined) ?? []) {
        const match = /^([^.=]+)\.([^=]+)=(.*)$/s.exec(pair);
        if (!match) throw new UsageError(`--config takes slug.field=value, not "${pair}"`);
        const [, slug, field, value] = match as unknown as [string, string, string, string];
        (config[slug] ??= {})[field] = value;
      }
      const body: CreateConnectSession = {
        ...(typeof options.tenant === "string" && { tenant_id: options.tenant }),
        ...(list(options.integrations) && { integrations: list(options.integrations) }),
        ...(Object.keys(config).length && { config }),
        ...(typeof options.reconnect === "string" && { connection_id: options.reconnect }),
        ...(typeof options["redirect-url"] === "string" && { redirect_url: options["redirect-url"] }),
        ...(typeof options.state === "string" && { state: options.state }),
        ...(list(options.origins) && { allowed_origins: list(options.origins) }),
        ...(typeof options.locale === "string" && { locale: options.locale as CreateConnectSession["locale"] }),
        ...(options.ttl !== undefined && { ttl_seconds: Number(options.ttl) }),
      };
      const session = await must(client.POST("/connect/sessions", { body }));
      return {
        json: session,
        text: `${session.url}\n`,
        notice: `Send this link to the customer; it works once, until ${session.expires_at}.`,
      };
    },
  },

  "encryption-keys list": {
    usage: "encryption-keys list",
    summary: "the key ring's ids and how many connections each seals",
    async run(client) {
      const ring = await must(client.GET("/encryption-keys"));
      return { json: ring, text: table(ring.keys, keyRingColumns) };
    },
  },

  "encryption-keys rotate": {
    usage: "encryption-keys rotate",
    summary: "re-seal every credential with the current key (the first of UNIFOLD_ENCRYPTION_KEYS)",
    async run(client) {
      const rotation = await must(client.POST("/encryption-keys/rotate"));
      const stale = rotation.keys.filter((key) => !key.current && key.connections > 0);
      return {
        json: rotation,
        text:
          `re-sealed ${rotation.rotated} connection(s) with key ${rotation.current_key_id}\n` +
          table(rotation.keys, keyRingColumns) +
          (stale.length === 0 ? "No connection needs an older key now; it can be dropped from UNIFOLD_ENCRYPTION_KEYS.\n" : ""),
      };
    },
  },
};

/**
 * Runs one CLI invocation and answers its exit code: 0 done, 1 the gateway refused or could
 * not be reached, 2 the command line is wrong.
 */
export async function run(argv: string[], io: Io): Promise<number> {
  const [group, action] = argv;
  // Most commands are "<noun> <verb>"; a few (connect-link) are one word.
  const single = group ? commands[group] : undefined;
  const command = single ?? (group && action ? commands[`${group} ${action}`] : undefined);
  const words = single ? 1 : 2;
  if (!command) {
    if (group === "--help" || group === "-h" || group === "help") {
      io.out(help());
      return 0;
    }
    io.err((group ? `unifold: unknown command "${argv.slice(0, 2).join(" ")}"\n\n` : "") + help());
    return 2;
  }
  let options: Options;
  let args: string[];
  try {
    const parsed = parseArgs({
      args: argv.slice(words),
      options: { ...globalOptions, ...command.options },
      allowPositionals: true,
      strict: true,
    });
    options = parsed.values;
    args = parsed.positionals;
    if (options.help) {
      io.out(`usage: unifold ${command.usage}\n\n${command.summary}\n`);
      return 0;
    }
    const expected = command.args ?? [];
    if (args.length !== expected.length) {
      throw new UsageError(
        expected.length ? `expected ${expected.map((name) => `<${name}>`).join(" ")}` : `unexpected argument ${args[0]}`,
      );
    }
  } catch (error) {
    io.err(`unifold: ${(error as Error).message}\nusage: unifold ${command.usage}\n`);
    return 2;
  }

  const baseUrl = (typeof options.url === "string" && options.url) || io.env.UNIFOLD_URL || `http://localhost:${io.env.PORT || 8080}`;
  const apiKey = (typeof options.key === "string" && options.key) || io.env.UNIFOLD_API_KEY;
  if (!apiKey) {
    io.err("unifold: no API key: set UNIFOLD_API_KEY to an admin key (or pass --key)\n");
    return 2;
  }
  const client = createUnifoldClient({ baseUrl, apiKey });
  try {
    const output = await command.run(client, options, args, io);
    if (options.json) {
      io.out(JSON.stringify(output.json, null, 2) + "\n");
    } else {
      io.out(output.text);
      if (output.notice) io.err(output.notice + "\n");
    }
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`unifold: ${error.message}\nusage: unifold ${command.usage}\n`);
      return 2;
    }
    if (error instanceof UnifoldError) {
      io.err(options.json ? JSON.stringify(error.body, null, 2) + "\n" : describe(error));
      return 1;
    }
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const reason = cause?.code ?? cause?.message;
    io.err(`unifold: cannot reach the gateway at ${baseUrl}${reason ? ` (${reason})` : ""}: ${(error as Error).message}\n`);
    return 1;
  }
}

function help(): string {
  const lines = Object.values(commands).map((command) => `  ${command.usage.split("\n")[0]}\n      ${command.summary}`);
  return [
    "usage: unifold <command> [options]",
    "",
    "The Unifold admin API from a terminal. Tables by default; --json prints the API's JSON for scripts.",
    "",
    "Commands:",
    ...lines,
    "",
    "Options for every command:",
    "  --url URL   the gateway (default: $UNIFOLD_URL, else http://localhost:$PORT or 8080)",
    "  --key KEY   an admin API key (default: $UNIFOLD_API_KEY; prefer the variable, argv is visible to other users)",
    "  --json      print JSON instead of a table",
    "",
  ].join("\n");
}

/** The SDK's `{data, error}` answer as the data, or the gateway's error as a `UnifoldError`. */
async function must<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call;
  if (error !== undefined || data === undefined) throw new UnifoldError(response.status, error);
  return data;
}

function required(options: Options, name: string): string {
  const value = options[name];
  if (typeof value !== "string" || value === "") throw new UsageError(`--${name} is required`);
  return value;
}

/** `NAME=VALUE` pairs as an object; a VALUE of `-` is read from standard input (once). */
async function assignments(values: Options[string], flag: string, io: Io): Promise<Record<string, string>> {
  const pairs: Record<string, string> = {};
  let stdinUsed = false;
  for (const pair of Array.isArray(values) ? values : []) {
    const at = pair.indexOf("=");
    if (at <= 0) throw new UsageError(`${flag} takes NAME=VALUE, got "${pair.slice(0, 40)}"`);
    let value = pair.slice(at + 1);
    if (value === "-") {
      if (stdinUsed) throw new UsageError("only one value can be read from standard input");
      stdinUsed = true;
      value = (await io.stdin()).replace(/\r?\n$/, "");
    }
    pairs[pair.slice(0, at)] = value;
  }
  return pairs;
}

function describe(error: UnifoldError): string {
  const body = (error.body ?? {}) as {
    error?: { code?: string; message?: string; details?: { path?: string; message?: string }[]; upstream?: { status?: number } };
  };
  const lines = [`unifold: ${error.status} ${body.error?.code ?? "error"}: ${body.error?.message ?? "the gateway refused the request"}`];
  for (const detail of body.error?.details ?? []) lines.push(`  ${detail.path ?? ""}: ${detail.message ?? ""}`);
  if (body.error?.upstream?.status) lines.push(`  upstream answered ${body.error.upstream.status}`);
  return lines.join("\n") + "\n";
}
