// A start-and-demo smoke test for another Node version (CI runs it on Node 24 from the registry's
// `node` package): `npm start`'s gateway answers and drains on SIGTERM, and `npm run demo`'s first
// curl line answers users. Usage: node --import tsx scripts/smoke.ts
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "../test-support/free-port.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
let passed = 0;
let failed = 0;

async function check(name: string, body: () => Promise<void>) {
  try {
    await body();
    passed++;
    console.log(`ok   ${name}`);
  } catch (error) {
    failed++;
    console.log(`FAIL ${name}: ${(error as Error).message}`);
  }
}

function collect(child: ChildProcess) {
  let output = "";
  child.stdout?.on("data", (chunk) => (output += chunk));
  child.stderr?.on("data", (chunk) => (output += chunk));
  return {
    output: () => output,
    async until(text: string, ms = 60_000) {
      for (const end = Date.now() + ms; !output.includes(text);) {
        if (Date.now() > end || child.exitCode !== null) throw new Error(`never printed "${text}":\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
  };
}

await check(`npm start's gateway on Node ${process.version} answers /health and drains on SIGTERM`, async () => {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), "unifold-smoke-"));
  const gateway = spawn(process.execPath, ["apps/gateway/start.js"], {
    cwd: root,
    env: { ...process.env, PORT: String(port), HOST: "127.0.0.1", UNIFOLD_DATA_DIR: dataDir, UNIFOLD_ADMIN_KEY: `ufk_${"s".repeat(43)}` },
  });
  const log = collect(gateway);
  try {
    await log.until("gateway listening");
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    if (health.status !== 200) throw new Error(`/health answered ${health.status}`);
    gateway.kill("SIGTERM");
    const [code] = await once(gateway, "exit");
    if (code !== 0) throw new Error(`exit code ${code} after SIGTERM:\n${log.output()}`);
  } finally {
    gateway.kill("SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
  }
});

await check(`npm run demo on Node ${process.version} prints a curl line that answers users`, async () => {
  const demo = spawn(process.execPath, ["--import", "tsx", "scripts/demo.ts"], {
    cwd: root,
    env: { ...process.env, PORT: String(await freePort()), SANDBOX_PORT: String(await freePort()) },
  });
  const log = collect(demo);
  try {
    await log.until("Ctrl-C stops");
    const line = log
      .output()
      .split("\n")
      .find((l) => l.startsWith("curl ") && l.includes("/unified/user-directory/users?"));
    const [, url, token] = /curl -s "([^"]+)" -H "authorization: Bearer ([^"]+)"/.exec(line ?? "") ?? [];
    if (!url || !token) throw new Error(`no curl line to run in:\n${log.output()}`);
    const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    const body = (await response.json()) as { result?: unknown[] };
    if (response.status !== 200 || body.result?.length !== 3) throw new Error(`${response.status} ${JSON.stringify(body)}`);
    demo.kill("SIGINT");
    const [code] = await once(demo, "exit");
    if (code !== 0) throw new Error(`exit code ${code} after Ctrl-C`);
  } finally {
    demo.kill("SIGKILL");
  }
});

console.log(`smoke test on Node ${process.version}: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
