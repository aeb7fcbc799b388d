import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { serve } from "@hono/node-server";
import { createVault, generateKeySpec, openStore, parseKeyRing } from "@unifold/db";
import { loadIntegrations, loadPushIntegrations, type RateRule, type UpstreamClientOptions } from "@unifold/engine";
import { type RunningSandbox, startSandbox, type Vendor } from "@unifold/sandbox";
import postgres from "postgres";
import { afterAll, beforeAll } from "vitest";
import { createTestDatabase } from "../../../test-support/database.ts";
import { freePort } from "../../../test-support/free-port.ts";
import { createApp, createServices } from "../src/app.ts";
import { startWorkers } from "../src/jobs/workers.ts";
import { createLogger } from "../src/logger.ts";

export const mappingsDir = fileURLToPath(new URL("../../../mappings", import.meta.url));

export interface CallOptions {
  key?: string | null;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
}

export interface CallResult {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

/** The real gateway on a loopback port, over its own fresh Postgres database. */
export async function startGateway(
  options: {
    mappingsDir?: string;
    upstream?: UpstreamClientOptions;
    apiKeyLimit?: RateRule;
    connectClientLimit?: RateRule;
    scimLimit?: RateRule;
    keySpec?: string;
    idempotencyLeaseMs?: number;
    /** Limits in Redis (a URL), in this Postgres (the default, as a start on a server does), or in memory (false). */
    sharedLimits?: boolean;
    redisUrl?: string;
    /** Start the job queue and workers (syncs, webhooks); retries in seconds, short for tests. */
    jobs?: boolean;
    queue?: Parameters<typeof createServices>[0]["queue"];
    webhookDisableAfterMs?: number;
    webhookNetwork?: Parameters<typeof createServices>[0]["webhookNetwork"];
    connect?: Parameters<typeof createServices>[0]["connect"];
    /** Another instance of that gateway: its database and key ring, as instances behind one load balancer share them. */
    instanceOf?: { databaseUrl: string; keySpec: string };
  } = {},
) {
  const database = options.instanceOf ? { url: options.instanceOf.databaseUrl, drop: async () => {} } : await createTestDatabase();
  const store = await openStore({ databaseUrl: database.url, poolSize: 4 });
  const keySpec = options.keySpec ?? options.instanceOf?.keySpec ?? generateKeySpec("test");
  const ring = parseKeyRing(keySpec);
  const vault = createVault(ring);
  let logText = "";
  const logSink = new Writable({
    write(chunk, _encoding, done) {
      logText += chunk.toString();
      done();
    },
  });
  const services = createServices({
    store,
    ring,
    vault,
    integrations: loadIntegrations(options.mappingsDir ?? mappingsDir),
    pushIntegrations: loadPushIntegrations(options.mappingsDir ?? mappingsDir),
    logger: createLogger("info", logSink),
    // The same read-cache TTL and lease as a default start, so tests see what production does.
    cacheTtlMs: 5_000,
    idempotencyLeaseMs: options.idempotencyLeaseMs ?? 120_000,
    // Production's retry rules with shorter waits, so fault tests stay quick.
    upstream: {
      connectTimeoutMs: 2_000,
      timeoutMs: 5_000,
      retries: 2,
      retryAfterCapMs: 2_000,
      backoffMs: 20,
      // The sandbox and stubs listen on loopback, as the demo's do.
      network: { allowPrivate: true },
      // Most tests make more calls than a vendor's per-minute budget; the pacing test turns it on.
      enforceRateLimits: false,
      ...options.upstream,
    },
    apiKeyLimit: options.apiKeyLimit,
    connectClientLimit: options.connectClientLimit,
    scimLimit: options.scimLimit,
    sharedLimits: options.sharedLimits ?? true,
    redisUrl: options.redisUrl,
    queue: { retryDelaySeconds: 1, retryLimit: 5, ...options.queue },
    webhookDisableAfterMs: options.webhookDisableAfterMs,
    webhookNetwork: options.webhookNetwork,
    connect: options.connect,
  });
  if (options.jobs) await startWorkers(services, { eventRetentionDays: 30, scimLogRetentionDays: 14 });
  const { secret: adminKey } = await services.access.apiKeys.create({ name: "test admin", scope: "admin" });
  const app = createApp(services);
  const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }) as Server;
  if (!server.listening) await once(server, "listening");
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  async function call(method: string, path: string, opts: CallOptions = {}): Promise<CallResult> {
    const headers: Record<string, string> = { ...opts.headers };
    const key = opts.key === undefined ? adminKey : opts.key;
    if (key) headers.authorization = `Bearer ${key}`;
    let body: string | undefined = opts.rawBody;
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers["content-type"] ??= "application/json";
    }
    const response = await fetch(`${url}${path}`, { method, headers, body });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: response.status, headers: response.headers, body: parsed, text };
  }

  return {
    url,
    services,
    adminKey,
    /** The encryption key ring, for tests that check it never leaks. */
    keySpec,
    /** Every route the app registers (method and path pattern), middleware left out. */
    routes: app.routes.filter((r) => r.method !== "ALL").map((r) => ({ method: r.method, path: r.path })),
    call,
    databaseUrl: database.url,
    logs: () => logText,
    async close() {
      await new Promise((resolve) => server.close(resolve));
      await services.platform.upstream.close();
      await services.close();
      await store.close();
      await database.drop();
    },
  };
}

export type Gateway = Awaited<ReturnType<typeof startGateway>>;

/**
 * A connection's events as `GET /events` lists them, once it lists every one written. The log
 * shows an event only when every transaction older than it has ended, and transaction ids are
 * the whole server's: a long transaction of another test file's database holds new events back
 * for a moment. Polls (up to 10 s) until the listing holds as many as the table.
 */
export async function listedEvents(gw: Gateway, connectionId: string) {
  const sql = postgres(gw.databaseUrl, { max: 1, onnotice: () => {}, fetch_types: false });
  try {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const [row] = await sql<{ n: number }[]>`select count(*)::int as n from events where connection_id = ${connectionId}`;
      const page = await gw.call("GET", `/events?connection_id=${connectionId}&limit=500`);
      const events = page.body.result as { type: string; version: number; data: Record<string, any> }[];
      if (events.length >= (row?.n ?? 0) || Date.now() > deadline) return events;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    await sql.end();
  }
}

export { freePort };

/** A tiny loopback HTTP server standing in for an upstream; records what it was sent. */
export async function startStubUpstream(handler: (req: IncomingMessage, res: ServerResponse, body: string) => void) {
  const received: { method: string; url: string; headers: IncomingMessage["headers"]; body: string }[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => {
      body += chunk;
    });
    req.on("end", () => {
      received.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
      handler(req, res, body);
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * Answers 200 to the key "good-key" (in whichever header the integration uses), 401 otherwise.
 * The 200 names an account where each shipped integration's verify call reads one (JumpCloud's
 * organizations list, a SCIM /Me), as a credential check needs.
 */
export function keyCheckingUpstream(goodKey = "good-key") {
  return startStubUpstream((req, res) => {
    const presented = req.headers["x-api-key"] ?? req.headers.authorization?.replace(/^Bearer /, "");
    res.setHeader("content-type", "application/json");
    if (presented === goodKey) {
      res.end(JSON.stringify({ id: "account-1", totalCount: 1, results: [{ _id: "account-1" }] }));
    } else {
      res.statusCode = 401;
      res.end(JSON.stringify({ message: "Unauthorized" }));
    }
  });
}

/** The shipped integrations and the sandbox vendor behind each. */
/** Every integration in mappings/ that names a sandbox simulator (`sandbox:`), by slug. */
const shipped = loadIntegrations(mappingsDir);
export const vendors: Record<string, Vendor> = Object.fromEntries(
  [...shipped.values()].filter((i) => i.sandbox).map((i) => [i.slug, i.sandbox as Vendor]),
);

/** The credentials and config of a connection of `slug` to the sandbox's simulator of `vendor`, as a tenant. */
export function connectionTo(sandbox: RunningSandbox, slug: string, vendor: Vendor, tenant: string) {
  const { key, credentials, config } = sandbox.connectionFor(vendor, tenant);
  return { credentials: credentials ?? credentialsFor(slug, key!), config };
}

/** A sandbox key as an integration's credentials: its one credential field (`api_key`, `api_token`) holds it. */
export function credentialsFor(slug: string, key: string): Record<string, string> {
  const fields = Object.keys(shipped.get(slug)?.credentials ?? { api_key: null });
  if (fields.length !== 1) throw new Error(`${slug} takes ${fields.length} credential fields; give them one by one`);
  return { [fields[0]!]: key };
}
export type Slug = string;

/**
 * Registers one verified connection per integration (slug → sandbox vendor) for a sandbox
 * tenant, plus an `api` key; returns the connection ids by slug and the key's secret.
 */
export async function connectSandbox<S extends string>(
  gw: Gateway,
  sandbox: RunningSandbox,
  tenant: string,
  integrations: Record<S, Vendor> = vendors as Record<S, Vendor>,
): Promise<{ conn: Record<S, string>; apiKey: string }> {
  const conn = {} as Record<S, string>;
  for (const [slug, vendor] of Object.entries(integrations) as [S, Vendor][]) {
    const res = await gw.call("POST", "/connections", {
      body: {
        tenant_id: tenant,
        integration: slug,
        ...connectionTo(sandbox, slug, vendor, tenant),
      },
    });
    if (res.status !== 201) throw new Error(`connecting ${slug}: ${res.status} ${JSON.stringify(res.body)}`);
    conn[slug] = res.body.id;
  }
  const apiKey = (await gw.call("POST", "/api-keys", { body: { name: `backend ${tenant}`, scope: "api" } })).body.secret;
  return { conn, apiKey };
}

/** What {@link useGatewayWithSandbox} sets up; filled in by its beforeAll, so read it inside hooks and tests. */
export interface GatewayWithSandbox<S extends string = string> {
  gw: Gateway;
  sandbox: RunningSandbox;
  /** Connection ids by slug for the first tenant (with `connect`). */
  conn: Record<S, string>;
  /** An `api` key's secret (with `connect`). */
  apiKey: string;
  /** A client on the gateway's own database (with `sql: true`). */
  sql: postgres.Sql;
}

export interface GatewayWithSandboxOptions<S extends string = string> {
  /** The sandbox's tenants, by name, with how many users each. */
  tenants: Record<string, number>;
  /** Sandbox requests per minute per key; by default only Postman's limit is lifted. */
  rateLimits?: Partial<Record<Vendor, number>>;
  /** Options for {@link startGateway}: jobs, connect settings, limits, upstream rules. */
  gateway?: Parameters<typeof startGateway>[0];
  /**
   * Edits a temporary copy of mappings/ before the gateway starts (and serves it); the copy is
   * removed afterwards.
   */
  mappings?: (dir: string) => void;
  /**
   * Registers connections for the first tenant plus an `api` key (`conn`, `apiKey`): every shipped
   * integration (true, the default), the ones given (slug → sandbox vendor), or none (false).
   */
  connect?: boolean | Record<S, Vendor>;
  /** Opens `sql`, a client on the gateway's database. */
  sql?: boolean;
  /** The beforeAll's timeout (options given as a function take the default). */
  timeout?: number;
}

/**
 * The usual fixture of a gateway test file: a gateway and a sandbox, started in a vitest beforeAll
 * and closed in an afterAll that this registers. Options may be a function, read in the beforeAll
 * (for values an earlier hook makes).
 */
export function useGatewayWithSandbox<S extends string = string>(
  options: GatewayWithSandboxOptions<S> | (() => GatewayWithSandboxOptions<S>),
): GatewayWithSandbox<S> {
  const fixture = {} as GatewayWithSandbox<S>;
  let dir: string | undefined;
  beforeAll(
    async () => {
      const o = typeof options === "function" ? options() : options;
      const gateway = { ...o.gateway };
      if (o.mappings) {
        dir = mkdtempSync(join(tmpdir(), "unifold-mappings-"));
        cpSync(mappingsDir, dir, { recursive: true });
        o.mappings(dir);
        gateway.mappingsDir = dir;
      }
      const tenants = Object.entries(o.tenants).map(([name, users]) => ({ name, users }));
      [fixture.gw, fixture.sandbox] = await Promise.all([
        startGateway(gateway),
        startSandbox({ tenants, rateLimits: o.rateLimits ?? { postman: 0 } }),
      ]);
      if (o.connect !== false) {
        const integrations = o.connect === true || o.connect === undefined ? (vendors as Record<S, Vendor>) : o.connect;
        Object.assign(fixture, await connectSandbox(fixture.gw, fixture.sandbox, tenants[0]!.name, integrations));
      }
      if (o.sql) fixture.sql = postgres(fixture.gw.databaseUrl, { max: 1, onnotice: () => {} });
    },
    typeof options === "function" ? undefined : options.timeout,
  );
  afterAll(async () => {
    await fixture.sql?.end();
    await fixture.gw?.close();
    await fixture.sandbox?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return fixture;
}

export interface Running {
  url: string;
  child: ChildProcess;
  stderr: () => string;
  /** What it logged (stdout, at LOG_LEVEL warn unless set). */
  log: () => string;
}

/** The built gateway as `npm start` runs it, in a process of its own on a free port. */
export async function startGatewayProcess(env: Record<string, string>, options: { port?: number } = {}): Promise<Running> {
  const port = options.port ?? (await freePort());
  let stderr = "";
  let log = "";
  const child = spawn(process.execPath, [fileURLToPath(new URL("../start.js", import.meta.url))], {
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      PORT: String(port),
      HOST: "127.0.0.1",
      UNIFOLD_ALLOW_PRIVATE_UPSTREAMS: "true",
      UNIFOLD_API_KEY_RATE_LIMIT: "0",
      UNIFOLD_ENFORCE_VENDOR_RATE_LIMITS: "false",
      LOG_LEVEL: "warn",
      ...env,
    },
  });
  child.stderr!.on("data", (chunk) => (stderr += chunk));
  child.stdout!.on("data", (chunk) => (log += chunk));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the gateway exited: ${stderr}`);
    const up = await fetch(`${url}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) return { url, child, stderr: () => stderr, log: () => log };
    if (Date.now() > deadline) throw new Error(`the gateway did not start: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Posts a connect page's form as a browser would: urlencoded, redirect mode, from the page's own origin. */
export function submitConnectForm(url: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
  return fetch(url, {
    method: "POST",
    redirect: "manual",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      origin: new URL(url).origin,
      "sec-fetch-site": "same-origin",
      ...headers,
    },
    body: new URLSearchParams({ mode: "redirect", ...fields }),
  });
}

/**
 * Every record of a unified list, following its cursors to the end (`limit` a page), for the
 * connection given; remote_data left out. Fails the test on any answer but 200.
 */
export async function walkAll(gw: Gateway, apiKey: string, connectionId: string, path: string, limit = 200): Promise<any[]> {
  const out: any[] = [];
  let cursor: string | null = null;
  do {
    const page = await gw.call(
      "GET",
      `${path}${path.includes("?") ? "&" : "?"}limit=${limit}&remote_data=false&connection_id=${connectionId}${cursor ? `&cursor=${cursor}` : ""}`,
      { key: apiKey },
    );
    if (page.status !== 200) throw new Error(`${path}: ${page.status} ${JSON.stringify(page.body)}`);
    out.push(...page.body.result);
    cursor = page.body.next_cursor;
  } while (cursor);
  return out;
}
