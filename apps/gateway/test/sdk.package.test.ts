import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { packSdk } from "../../../scripts/pack-sdk.ts";
import { useGatewayWithSandbox } from "./harness.ts";

const run = promisify(execFile);
const readme = readFileSync(new URL("../../../README.md", import.meta.url), "utf8");

describe("the SDK outside this repository", () => {
  const project = mkdtempSync(join(tmpdir(), "unifold-sdk-user-"));

  const fx = useGatewayWithSandbox({ tenants: { acme: 7 } });
  afterAll(async () => {
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
      const users = fx.sandbox.jumpcloud.tenant("acme").users.all();
      const { stdout } = await run(process.execPath, ["snippet.mjs"], {
        cwd: project,
        env: { ...process.env, UNIFOLD_URL: fx.gw.url, UNIFOLD_API_KEY: fx.apiKey, CONN: fx.conn.jumpcloud },
      });
      const lines = stdout.trim().split("\n");
      const status = { ACTIVATED: "active", SUSPENDED: "inactive", STAGED: "invited" } as Record<string, string>;
      expect(lines.slice(0, users.length).sort()).toEqual(users.map((u) => `${u.username} ${status[u.state] ?? u.state}`).sort());
      const created = fx.sandbox.jumpcloud
        .tenant("acme")
        .users.all()
        .find((u) => u.username === "ada");
      expect(lines.at(-1)).toBe(created?._id);
    },
  );
});
