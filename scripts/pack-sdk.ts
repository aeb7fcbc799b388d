// `npm run sdk:pack [destination]`: builds packages/sdk to JavaScript plus .d.ts (packages/sdk/dist)
// with a package.json for use outside this repository, and packs it as a tarball (npm pack).
// Inside the repository the workspace package keeps pointing at its TypeScript source.
import { execFileSync } from "node:child_process";
import { copyFileSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

const sdk = fileURLToPath(new URL("../packages/sdk/", import.meta.url));
const dist = resolve(sdk, "dist");

/** Builds the SDK and packs it; answers the tarball's path. */
export function packSdk(destination: string): string {
  rmSync(dist, { recursive: true, force: true });
  execFileSync(process.execPath, [fileURLToPath(import.meta.resolve("typescript/bin/tsc")), "-p", resolve(sdk, "tsconfig.build.json")], {
    stdio: "inherit",
  });
  const source = JSON.parse(readFileSync(resolve(sdk, "package.json"), "utf8")) as Record<string, unknown>;
  const manifest = {
    name: source.name,
    version: source.version,
    description: source.description,
    type: "module",
    exports: {
      ".": { types: "./index.d.ts", default: "./index.js" },
      "./connect": { types: "./connect.d.ts", default: "./connect.js" },
    },
    types: "./index.d.ts",
    dependencies: source.dependencies,
    engines: { node: ">=20.19" },
  };
  writeFileSync(resolve(dist, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  copyFileSync(resolve(sdk, "README.md"), resolve(dist, "README.md"));
  const name = execFileSync("npm", ["pack", "--silent", "--pack-destination", destination], { cwd: dist, encoding: "utf8" })
    .trim()
    .split("\n")
    .at(-1)!;
  return resolve(destination, name);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(`${packSdk(resolve(process.argv[2] ?? "."))}\n`);
}
