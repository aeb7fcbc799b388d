import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { freePort } from "./harness.ts";

export const root = fileURLToPath(new URL("../../..", import.meta.url));

export interface RunningDemo {
  process: ChildProcess;
  ports: { port: number; sandboxPort: number; webhookPort: number };
  /** Everything it printed so far. */
  printed(): string;
  /** Sends Ctrl-C and waits for it to exit; answers the exit code. */
  stop(): Promise<number | null>;
}

/** `npm run demo` (as `node --import tsx scripts/demo.ts`) on free ports, once it says "Ctrl-C stops". */
export async function startDemo(): Promise<RunningDemo> {
  // The ports are free when probed, and bound seconds later: a test running beside may take one
  // meanwhile (the demo then stops, naming it). New ports the next time.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startDemoOnce();
    } catch (error) {
      if (attempt === 3 || !/ is in use /.test(String(error))) throw error;
    }
  }
}

async function startDemoOnce(): Promise<RunningDemo> {
  const [port, sandboxPort, webhookPort] = [await freePort(), await freePort(), await freePort()];
  const demo = spawn(process.execPath, ["--import", "tsx", "scripts/demo.ts"], {
    cwd: root,
    env: {
      ...process.env,
      PORT: String(port),
      SANDBOX_PORT: String(sandboxPort),
      DEMO_WEBHOOK_PORT: String(webhookPort),
      LOG_LEVEL: "error",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let printed = "";
  let errors = "";
  demo.stdout!.on("data", (chunk) => (printed += chunk));
  demo.stderr!.on("data", (chunk) => (errors += chunk));
  const stop = async () => {
    if (demo.exitCode === null) {
      demo.kill("SIGINT");
      await once(demo, "exit");
    }
    return demo.exitCode;
  };
  for (let waited = 0; !printed.includes("Ctrl-C stops"); waited += 100) {
    if (waited > 60_000 || demo.exitCode !== null) {
      await stop();
      throw new Error(`the demo did not start: ${errors}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { process: demo, ports: { port, sandboxPort, webhookPort }, printed: () => printed, stop };
}
