// The benchmarks' moving parts: the sandbox and the gateway, each in its own process on loopback.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import postgres from "postgres";

export type Vendor = "jostle" | "postman" | "jumpcloud";
export const slugs: Record<Vendor, string> = { jostle: "jostle-scim", postman: "postman-scim", jumpcloud: "jumpcloud" };
export const basePaths: Record<Vendor, string> = { jostle: "/jostle/scim2", postman: "/postman/scim/v2", jumpcloud: "/jumpcloud/api" };

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
// `node --import tsx` (not the tsx binary, which forks) so the pid is the process doing the work.
const tsxArgs = ["--import", "tsx"];
const children: ChildProcess[] = [];
process.on("exit", () => children.forEach((child) => child.kill("SIGTERM")));

export interface SandboxProcess {
  url: string;
  /** API keys by tenant, then vendor. */
  keys: Record<string, Record<Vendor, string>>;
  /** By tenant, then vendor: what a connection to Okta, Entra ID and Google takes (`sandbox.connectionFor`). */
  connections: Record<string, Record<string, { key?: string; credentials?: Record<string, string>; config: Record<string, string> }>>;
  pid: number;
  stop(): void;
}

/** The sandbox with the given tenants (name → users), every vendor's copy built up front. */
export async function startSandboxProcess(tenants: Record<string, number>): Promise<SandboxProcess> {
  const child = spawn(process.execPath, [...tsxArgs, here("sandbox-server.ts"), JSON.stringify(tenants)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  const ready = JSON.parse(await firstLine(child.stdout!)) as Pick<SandboxProcess, "url" | "keys" | "connections">;
  return { ...ready, pid: child.pid!, stop: () => child.kill("SIGTERM") };
}

/** The headers a vendor's simulator takes for a tenant's key, as a client calling it directly sends them. */
export function sandboxHeaders(sandbox: Pick<SandboxProcess, "keys">, tenant: string, vendor: Vendor): Record<string, string> {
  const key = sandbox.keys[tenant]![vendor];
  return vendor === "jumpcloud" ? { "x-api-key": key } : { authorization: `Bearer ${key}` };
}

/** A tenant's first `count` raw user objects of a vendor, fetched straight from the sandbox in pages of 100. */
export async function sandboxUsers(sandbox: SandboxProcess, tenant: string, vendor: Vendor, count: number): Promise<unknown[]> {
  const out: unknown[] = [];
  const base = `${sandbox.url}${basePaths[vendor]}`;
  for (let offset = 0; offset < count; offset += 100) {
    const url =
      vendor === "jumpcloud" ? `${base}/systemusers?limit=100&skip=${offset}&sort=_id` : `${base}/Users?startIndex=${offset + 1}&count=100`;
    const body = (await (await fetch(url, { headers: sandboxHeaders(sandbox, tenant, vendor) })).json()) as {
      results?: unknown[];
      Resources?: unknown[];
    };
    out.push(...(body.results ?? body.Resources ?? []));
  }
  return out;
}

/** `relay.ts`: a bare Node HTTP hop in front of `origin`, the floor under the gateway's proxy. */
export async function startRelayProcess(origin: string): Promise<{ url: string; pid: number }> {
  const child = spawn(process.execPath, [...tsxArgs, here("relay.ts"), origin], { stdio: ["ignore", "pipe", "inherit"] });
  children.push(child);
  const { url } = JSON.parse(await firstLine(child.stdout!)) as { url: string };
  return { url, pid: child.pid! };
}

export interface GatewayProcess {
  url: string;
  adminKey: string;
  pid: number;
  /** Its Postgres database, when it has one. */
  databaseUrl?: string | undefined;
  /** Stops the gateway and drops what it stored. */
  stop(): Promise<void>;
}

/**
 * The real gateway, built, as `npm start` runs it (`apps/gateway/start.js`), on a free port, access log on (to /dev/null).
 * With DATABASE_URL it gets a database of its own on that server, dropped at the end; else an
 * embedded one in a temp dir.
 */
export async function startGatewayProcess(env: Record<string, string> = {}, nodeArgs: string[] = []): Promise<GatewayProcess> {
  const port = await freePort();
  // Instances meant to act as one share a database, admin key and key ring, given in `env`.
  const adminKey = env.UNIFOLD_ADMIN_KEY ?? `ufk_${randomBytes(32).toString("base64url")}`;
  const dataDir = mkdtempSync(join(tmpdir(), "unifold-bench-"));
  const database = process.env.DATABASE_URL && !env.DATABASE_URL ? await freshDatabase(process.env.DATABASE_URL) : undefined;
  const child = spawn(process.execPath, [...nodeArgs, here("../apps/gateway/start.js")], {
    stdio: ["ignore", "ignore", "inherit"],
    env: {
      ...process.env,
      PORT: String(port),
      HOST: "127.0.0.1",
      UNIFOLD_ADMIN_KEY: adminKey,
      UNIFOLD_DATA_DIR: dataDir,
      DATABASE_URL: database?.url ?? "",
      UNIFOLD_ENCRYPTION_KEYS: `bench:${randomBytes(32).toString("base64")}`,
      // The sandbox listens on loopback.
      UNIFOLD_ALLOW_PRIVATE_UPSTREAMS: "true",
      // One API key drives all the load: the per-key limit would measure itself.
      UNIFOLD_API_KEY_RATE_LIMIT: "0",
      ...env,
    },
  });
  children.push(child);
  const url = `http://127.0.0.1:${port}`;
  await waitForHealth(url);
  return {
    url,
    adminKey,
    pid: child.pid!,
    databaseUrl: env.DATABASE_URL ?? database?.url,
    async stop() {
      child.kill("SIGTERM");
      await new Promise((resolve) => child.once("exit", resolve));
      await database?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Registers a connection to the sandbox for a tenant and vendor; returns its id. */
export async function connect(gateway: GatewayProcess, sandbox: SandboxProcess, tenant: string, vendor: Vendor): Promise<string> {
  const created = await adminPost(gateway, "/connections", {
    tenant_id: tenant,
    integration: slugs[vendor],
    credentials: { api_key: sandbox.keys[tenant]![vendor] },
    config: { base_url: `${sandbox.url}${basePaths[vendor]}` },
  });
  return (created as { id: string }).id;
}

/** One call of the gateway's API with its admin key; a status of 300 or more throws, naming it. */
export async function adminCall(gateway: GatewayProcess, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${gateway.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${gateway.adminKey}`, ...(body !== undefined && { "content-type": "application/json" }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

/** Registers a connection of integration `slug` to the sandbox's simulator `vendor` (Okta, Entra ID, Google) for a tenant. */
export async function connectTo(
  gateway: GatewayProcess,
  sandbox: SandboxProcess,
  tenant: string,
  slug: string,
  vendor: string,
): Promise<string> {
  const { key, credentials, config } = sandbox.connections[tenant]![vendor]!;
  const created = await adminPost(gateway, "/connections", {
    tenant_id: tenant,
    integration: slug,
    credentials: credentials ?? { api_token: key },
    config,
  });
  return (created as { id: string }).id;
}

export async function apiKey(gateway: GatewayProcess): Promise<string> {
  return ((await adminPost(gateway, "/api-keys", { name: "bench", scope: "api" })) as { secret: string }).secret;
}

async function adminPost(gateway: GatewayProcess, path: string, body: unknown): Promise<unknown> {
  const response = await fetch(`${gateway.url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${gateway.adminKey}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (response.status !== 201) throw new Error(`POST ${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

/** utime + stime of a process, in seconds (Linux /proc; clock ticks are 100 Hz here). */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Resident memory now (VmRSS) or at its peak (VmHWM), in MB. */
export function rssMb(pid: number, which: "VmRSS" | "VmHWM" = "VmRSS"): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").match(new RegExp(`${which}:\\s+(\\d+)`));
  return Math.round(Number(line?.[1] ?? 0) / 1024);
}

async function firstLine(stream: NodeJS.ReadableStream): Promise<string> {
  let buffered = "";
  for await (const chunk of stream) {
    buffered += chunk;
    const newline = buffered.indexOf("\n");
    if (newline >= 0) return buffered.slice(0, newline);
  }
  throw new Error("process ended before printing its first line");
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitForHealth(base: string) {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${base}/health`)).ok) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error("the gateway did not become healthy");
}

/** A fresh, empty database on a Postgres server, with the way to drop it. */
export async function freshDatabase(serverUrl: string) {
  const name = `unifold_bench_${randomBytes(4).toString("hex")}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${name}"`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      await admin.unsafe(`drop database if exists "${name}" with (force)`);
      await admin.end();
    },
  };
}
