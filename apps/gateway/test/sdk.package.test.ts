import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { RunningSandbox } from "@unifold/sandbox";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packSdk } from "../../../scripts/pack-sdk.ts";
import { closeAll, type Gateway, type Slug, startWithSandbox } from "./harness.ts";

const run = promisify(execFile);
const readme = readFileSync(new URL("../../../README.md", import.meta.url), "utf8");

describe("the SDK outside this repository", () => {
  let gw: Gateway;
  let sandbox: RunningSandbox;
  let conn: Record<Slug, string>;
  let apiKey: string;
  const project = mkdtempSync(join(tmpdir(), "unifold-sdk-user-"));

  beforeAll(async () => {
    ({ gw, sandbox, conn, apiKey } = await startWithSandbox({ users: 7 }));
  });
  afterAll(async () => {
    await closeAll(gw, sandbox);
    rmSync(project, { recursive: true, force: true });
  });

  it(
    "packs to a tarball that an empty project installs, and the README's snippet type-checks under strict settings and runs there with plain node",
    { timeout: 180_000 },
    async () => {
      const tarball = packSdk(project);
      writeFileSync(join(project, "package.json"), JSON.stringify({ name: "a-saas-backend", private: true, type: "module" }));
      // openapi-fetch, TypeScript and Node's types come from npm's cache, filled by this repository's own install.
      const versionOf = (name: string) =>
        (JSON.parse(readFileSync(new URL(`../../../node_modules/${name}/package.json`, import.meta.url), "utf8")) as { version: string })
          .version;
      await run(
        "npm",
        [
          "install",
          "--prefer-offline",
          "--no-audit",
          "--no-fund",
          tarball,
          `typescript@${versionOf("typescript")}`,
          `@types/node@${versionOf("@types/node")}`,
        ],
        { cwd: project },
      );

      const snippet = /### From TypeScript[\s\S]*?```ts\n([\s\S]*?)```/.exec(readme)?.[1];
      expect(snippet).toContain("createUnifoldClient");
      expect(snippet).toBe(readFileSync(new URL("../../../examples/list-users.ts", import.meta.url), "utf8"));
      writeFileSync(join(project, "snippet.ts"), snippet!);
      const strict = [
        "--noEmit",
        "--strict",
        "--noUncheckedIndexedAccess",
        "--module",
        "nodenext",
        "--target",
        "es2023",
        "--types",
        "node",
      ];
      await run(process.execPath, [join(project, "node_modules/typescript/bin/tsc"), ...strict, "snippet.ts"], { cwd: project });

      writeFileSync(join(project, "snippet.mjs"), snippet!);
      const users = sandbox.jumpcloud.tenant("acme").users.all();
      const { stdout } = await run(process.execPath, ["snippet.mjs"], {
        cwd: project,
        env: { ...process.env, UNIFOLD_URL: gw.url, UNIFOLD_API_KEY: apiKey, CONN: conn.jumpcloud },
      });
      const lines = stdout.trim().split("\n");
      const status = { ACTIVATED: "active", SUSPENDED: "inactive", STAGED: "invited" } as Record<string, string>;
      expect(lines.slice(0, users.length).sort()).toEqual(users.map((u) => `${u.username} ${status[u.state] ?? u.state}`).sort());
      const created = sandbox.jumpcloud
        .tenant("acme")
        .users.all()
        .find((u) => u.username === "ada");
      expect(lines.at(-1)).toBe(created?._id);
    },
  );
});
