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
    "packs to a tarball that an empty project installs, and the README's snippet runs in it with plain node",
    { timeout: 120_000 },
    async () => {
      const tarball = packSdk(project);
      writeFileSync(join(project, "package.json"), JSON.stringify({ name: "a-saas-backend", private: true, type: "module" }));
      // openapi-fetch comes from npm's cache, filled by this repository's own install.
      await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", tarball], { cwd: project });

      const snippet = /### From TypeScript[\s\S]*?```ts\n([\s\S]*?)```/.exec(readme)?.[1];
      expect(snippet).toContain("createUnifoldClient");
      const script = `const apiKey = process.env.API_KEY;\nconst connection_id = process.env.CONNECTION_ID;\n${snippet!.replace("http://localhost:8080", fx.gw.url)}`;
      writeFileSync(join(project, "snippet.mjs"), script);
      const users = fx.sandbox.postman.tenant("acme").users.all();
      const { stdout } = await run(process.execPath, ["snippet.mjs"], {
        cwd: project,
        env: { ...process.env, API_KEY: fx.apiKey, CONNECTION_ID: fx.conn["postman-scim"] },
      });
      const lines = stdout.trim().split("\n");
      expect(lines.slice(0, users.length).sort()).toEqual(users.map((u) => `${u.userName} ${u.active ? "active" : "inactive"}`).sort());
      const created = fx.sandbox.postman
        .tenant("acme")
        .users.all()
        .find((u) => u.userName === "ada@acme.example.com");
      expect(lines.at(-1)).toBe(created?.id);
    },
  );
});
