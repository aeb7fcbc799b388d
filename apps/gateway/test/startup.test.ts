import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { connect, createServer } from "node:net";
import { promisify } from "node:util";
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../test-support/database.ts";
import { connectAssets } from "../src/connect/assets.ts";
import { readConfig } from "../src/config.ts";
import { freePort, mappingsDir } from "./harness.ts";

const gatewayDir = fileURLToPath(new URL("..", import.meta.url));

/** Runs the gateway as `npm start` does (`node start.js`: the built JavaScript), collecting its output. */
function startProcess(env: Record<string, string>) {
  const child = spawn(process.execPath, ["start.js"], {
    cwd: gatewayDir,
    env: { PATH: process.env.PATH ?? "", HOST: "127.0.0.1", PORT: "0", LOG_LEVEL: "info", ...env },
  });
  let output = "";
  child.stdout.on("data", (d) => {
    output += d;
  });
  child.stderr.on("data", (d) => {
    output += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const waitFor = async (pattern: RegExp, ms = 20_000) => {
    const until = Date.now() + ms;
    while (!pattern.test(output)) {
      if (Date.now() > until || child.exitCode !== null) throw new Error(`did not see ${pattern} in:\n${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return output;
  };
  return { child, exited, waitFor, output: () => output };
}

describe("gateway process start-up", () => {
  let database: TestDatabase;
  const temp: string[] = [];
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    for (const dir of temp) rmSync(dir, { recursive: true, force: true });
    await database.drop();
  });

  it("refuses to start on a Postgres server without UNIFOLD_ENCRYPTION_KEYS", async () => {
    const run = startProcess({ DATABASE_URL: database.url });
    expect(await run.exited).toBe(1);
    expect(run.output()).toMatch(/UNIFOLD_ENCRYPTION_KEYS is required with DATABASE_URL/);
  });

  it("stops with the broken mapping file named", async () => {
    const dir = mkdtempSync(join(tmpdir(), "unifold-broken-"));
    temp.push(dir);
    cpSync(mappingsDir, dir, { recursive: true });
    writeFileSync(join(dir, "jumpcloud", "integration.yaml"), "name: JumpCloud\n");
    const run = startProcess({ UNIFOLD_MAPPINGS_DIR: dir, UNIFOLD_DATA_DIR: join(dir, "data") });
    expect(await run.exited).toBe(1);
    expect(run.output()).toMatch(/cannot start: .*jumpcloud\/integration\.yaml: /);
  });

  it("registers UNIFOLD_ADMIN_KEY, serves, and drains on SIGTERM", async () => {
    const adminKey = `ufk_${"b".repeat(43)}`;
    const run: { child: ChildProcess } & ReturnType<typeof startProcess> = startProcess({
      DATABASE_URL: database.url,
      UNIFOLD_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 7).toString("base64")}`,
      UNIFOLD_ADMIN_KEY: adminKey,
    });
    const out = await run.waitFor(/gateway listening on http:\/\/127\.0\.0\.1:(\d+)/);
    const port = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out)?.[1];
    const res = await fetch(`http://127.0.0.1:${port}/api-keys`, { headers: { authorization: `Bearer ${adminKey}` } });
    expect(res.status).toBe(200);
    expect(run.output()).not.toContain(adminKey);
    run.child.kill("SIGTERM");
    expect(await run.exited).toBe(0);
    expect(run.output()).toMatch(/"msg":"stopped"/);
  });

  it("stops cleanly on a SIGTERM that comes while its job queue is starting", async () => {
    const env = {
      DATABASE_URL: database.url,
      UNIFOLD_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 7).toString("base64")}`,
      UNIFOLD_WORKERS_DELAY_MS: "0",
    };
    const first = startProcess(env); // lays out the job queue's schema
    await first.waitFor(/job queue workers started/);
    first.child.kill("SIGTERM");
    expect(await first.exited).toBe(0);

    // The queue's start reads pg-boss's queues (jobs/queue.ts): a lock on their table holds it half-way.
    const sql = postgres(database.url, { max: 1, onnotice: () => {} });
    onTestFinished(() => sql.end());
    const held = await sql.reserve();
    await held`begin`;
    await held`lock table pgboss.queue in access exclusive mode`;
    const run = startProcess(env);
    await run.waitFor(/gateway listening/);
    await new Promise((r) => setTimeout(r, 300));
    expect(run.output()).not.toMatch(/job queue workers started/);
    run.child.kill("SIGTERM");
    await run.waitFor(/shutting down/);
    await Promise.race([run.exited, new Promise((r) => setTimeout(r, 2_000))]);
    await held`commit`;
    held.release();
    expect(await run.exited, run.output()).toBe(0);
    expect(run.output()).toMatch(/"msg":"stopped"/);
    expect(run.output()).not.toMatch(/could not start/);
  });

  it("serves the connect page with the stylesheet and script the build inlined, under the response's nonce", async () => {
    const adminKey = `ufk_${"d".repeat(43)}`;
    // A database of its own: UNIFOLD_ADMIN_KEY is registered only where no admin key is yet.
    const own = await createTestDatabase();
    onTestFinished(() => own.drop());
    const run = startProcess({
      DATABASE_URL: own.url,
      UNIFOLD_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 7).toString("base64")}`,
      UNIFOLD_ADMIN_KEY: adminKey,
    });
    onTestFinished(() => void run.child.kill()); // if an expectation fails before the SIGTERM below
    const port = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(
      await run.waitFor(/gateway listening on http:\/\/127\.0\.0\.1:(\d+)/),
    )?.[1];
    const created = await fetch(`http://127.0.0.1:${port}/connect/sessions`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
      body: JSON.stringify({ tenant_id: "acme", theme: { primary_color: "#f5c518" } }),
    });
    expect(created.status).toBe(201);
    const page = await fetch(((await created.json()) as { url: string }).url);
    const html = await page.text();
    const nonce = /script-src 'nonce-([^']+)'/.exec(page.headers.get("content-security-policy") ?? "")?.[1];
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
    // The same text the sources make (src/connect/assets.ts), from the bundle's copy made by build.js.
    const { css, script } = connectAssets();
    expect(html).toContain(`<style nonce="${nonce}">`);
    expect(html).toContain(`:root{--primary:#f5c518;--on-primary:#111111}\n${css}`);
    expect(html).toContain(`<script nonce="${nonce}">\n          ${script}`);
    expect(html.match(/<style|<script nonce/g)).toHaveLength(2);
    run.child.kill("SIGTERM");
    expect(await run.exited).toBe(0);
  });

  it("starts an empty embedded data directory from the build's ready-made database, and again from what it left", async () => {
    const dir = mkdtempSync(join(tmpdir(), "unifold-first-"));
    temp.push(dir);
    const adminKey = `ufk_${"c".repeat(43)}`;
    for (const round of ["first", "warm"]) {
      const run = startProcess({ UNIFOLD_DATA_DIR: dir, UNIFOLD_ADMIN_KEY: adminKey });
      const port = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(
        await run.waitFor(/gateway listening on http:\/\/127\.0\.0\.1:(\d+)/),
      )?.[1];
      const res = await fetch(`http://127.0.0.1:${port}/api-keys`, { headers: { authorization: `Bearer ${adminKey}` } });
      expect(res.status, round).toBe(200);
      // The key registered at the first start is still the only admin key at the second.
      expect(((await res.json()) as { result: unknown[] }).result, round).toHaveLength(1);
      // The job queue starts after the gateway answers, on the seed's ready-made pg-boss schema.
      const output = await run.waitFor(/job queue workers started/);
      expect(output.indexOf("job queue workers started")).toBeGreaterThan(output.indexOf("gateway listening"));
      if (round === "first") expect(run.output()).toContain(`"created_from":"the build's ready-made database"`);
      else expect(run.output()).not.toContain("created_from");
      run.child.kill("SIGTERM");
      expect(await run.exited).toBe(0);
    }
    expect(readdirSync(dir).filter((name) => name.endsWith(".seeding"))).toEqual([]);
    expect(existsSync(join(dir, "pgdata", "PG_VERSION"))).toBe(true);
  });

  it("cuts off a client that sends its request headers too slowly", async () => {
    const dir = mkdtempSync(join(tmpdir(), "unifold-slow-"));
    temp.push(dir);
    const run = startProcess({
      UNIFOLD_DATA_DIR: dir,
      UNIFOLD_ADMIN_KEY: `ufk_${"e".repeat(43)}`,
      UNIFOLD_CLIENT_HEADERS_TIMEOUT_MS: "500",
    });
    const port = Number(
      /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(await run.waitFor(/gateway listening on http:\/\/127\.0\.0\.1:(\d+)/))?.[1],
    );
    const socket = connect(port, "127.0.0.1");
    await once(socket, "connect");
    socket.write("GET /health HTTP/1.1\r\nHost: x\r\n"); // and never the blank line that ends the headers
    let answer = "";
    socket.on("data", (chunk) => (answer += chunk));
    const started = Date.now();
    await Promise.race([once(socket, "close"), new Promise((resolve) => setTimeout(resolve, 10_000))]);
    expect(socket.destroyed || socket.readableEnded).toBe(true);
    expect(Date.now() - started).toBeLessThan(9_000);
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    socket.destroy();
    run.child.kill("SIGTERM");
    expect(await run.exited).toBe(0);
  });
});

describe("the listening address", () => {
  it("is loopback unless HOST opens it", () => {
    expect(readConfig({}).HOST).toBe("127.0.0.1");
    expect(readConfig({ HOST: "0.0.0.0" }).HOST).toBe("0.0.0.0");
  });
});

describe("a port already in use", () => {
  const root = fileURLToPath(new URL("../../..", import.meta.url));
  const occupied = async () => {
    const server = createServer().listen(await freePort(), "127.0.0.1");
    await once(server, "listening");
    return { server, port: (server.address() as { port: number }).port };
  };
  const run = (args: string[], env: Record<string, string>) =>
    promisify(execFile)(process.execPath, args, { cwd: root, env: { ...process.env, ...env } }).then(
      () => ({ code: 0, stderr: "" }),
      (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
    );

  it("stops the gateway with one line naming the port and PORT", async () => {
    const { server, port } = await occupied();
    const dir = mkdtempSync(join(tmpdir(), "unifold-port-"));
    try {
      const env = {
        PORT: String(port),
        HOST: "127.0.0.1",
        UNIFOLD_DATA_DIR: dir,
        UNIFOLD_ADMIN_KEY: `ufk_${"d".repeat(43)}`,
        LOG_LEVEL: "silent",
      };
      const started = Date.now();
      expect(await run(["apps/gateway/start.js"], env)).toEqual({
        code: 1,
        stderr: `unifold: cannot start: port ${port} is in use (set PORT)\n`,
      });
      // Checked before the database opens: its data directory was never touched, and no seconds were spent.
      expect(readdirSync(dir)).toEqual([]);
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("stops the sandbox and the demo with one line naming the port and its variable", async () => {
    const { server, port } = await occupied();
    try {
      const sandbox = await run(["--import", "tsx", "apps/sandbox/src/main.ts"], { SANDBOX_PORT: String(port) });
      expect(sandbox).toEqual({ code: 1, stderr: `unifold sandbox: cannot start: port ${port} is in use (set SANDBOX_PORT)\n` });
      const demoGateway = await run(["--import", "tsx", "scripts/demo.ts"], { PORT: String(port), SANDBOX_PORT: String(await freePort()) });
      expect(demoGateway).toEqual({ code: 1, stderr: `unifold demo: cannot start: port ${port} is in use (set PORT)\n` });
      const demoSandbox = await run(["--import", "tsx", "scripts/demo.ts"], { PORT: String(await freePort()), SANDBOX_PORT: String(port) });
      expect(demoSandbox).toEqual({ code: 1, stderr: `unifold demo: cannot start: port ${port} is in use (set SANDBOX_PORT)\n` });
      const demoWebhooks = await run(["--import", "tsx", "scripts/demo.ts"], {
        PORT: String(await freePort()),
        SANDBOX_PORT: String(await freePort()),
        DEMO_WEBHOOK_PORT: String(port),
      });
      expect(demoWebhooks).toEqual({ code: 1, stderr: `unifold demo: cannot start: port ${port} is in use (set DEMO_WEBHOOK_PORT)\n` });
    } finally {
      server.close();
    }
  });
});
