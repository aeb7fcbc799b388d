import { type ChildProcess, spawn } from "node:child_process";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../test-support/database.ts";
import { mappingsDir } from "./harness.ts";

const gatewayDir = fileURLToPath(new URL("..", import.meta.url));
const tsx = fileURLToPath(new URL("../../../node_modules/.bin/tsx", import.meta.url));

/** Runs `src/main.ts` as a real process, collecting its output. */
function startProcess(env: Record<string, string>) {
  const child = spawn(tsx, ["src/main.ts"], {
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
});
