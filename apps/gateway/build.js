// `npm run build`: bundles the gateway, its workspace packages and their dependencies into
// dist/ as plain JavaScript, so production runs `node` with no TypeScript loader and parses one
// file instead of resolving hundreds (≈0.3 s off every start). Then it makes dist/pglite-seed,
// the embedded database a first start copies instead of running PGlite's initdb.
// dist/ sits at the same depth as src/, so the paths src/config.ts and packages/db build from
// import.meta.url (../../../mappings, ../../../drizzle) hold in the bundle.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build, transform } from "esbuild";
import { inputsHash, writeInputsHash } from "./ensure-built.js";

const here = new URL(".", import.meta.url);
// Taken before building, so a source edited during the build leaves dist/ stale.
const inputs = inputsHash();
// Packages that read files beside themselves at run time (PGlite its WebAssembly, Scalar its
// browser bundle) stay in node_modules.
const locatesOwnFiles = /^(@electric-sql\/pglite|@scalar\/api-reference)(\/|$)/;

// The connect page's stylesheet and script, compiled here with the options src/connect/assets.ts
// uses from the sources; the bundle gets a module holding the two strings in place of that one,
// so it neither reads the files nor imports esbuild at run time.
const connectDir = new URL("src/connect/", here);
const connectAssetsModule = /[\\/]src[\\/]connect[\\/]assets\.ts$/;
const connectAssetFiles = ["page.css", "browser/page-client.ts"].map((file) => fileURLToPath(new URL(file, connectDir)));
let connectAssetsInlined = false;
async function connectAssets() {
  const [css, script] = connectAssetFiles.map((path) => readFileSync(path, "utf8"));
  return {
    css: (await transform(css, { loader: "css", minifyWhitespace: true })).code,
    script: (await transform(script, { loader: "ts", format: "iife", target: "es2020", minifyWhitespace: true })).code,
  };
}

await build({
  absWorkingDir: here.pathname,
  entryPoints: { main: "src/main.ts", "rotate-keys": "src/rotate-keys.ts", "pglite-seed": "src/pglite-seed.ts" },
  outdir: "dist",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  // An ASCII bundle is held as a one-byte string: half the memory of a source with one "’" in it.
  charset: "ascii",
  minifyWhitespace: true, // drops comments too, a few of which are not ASCII
  legalComments: "external", // licence notices go to dist/*.LEGAL.txt
  sourcemap: true,
  // CommonJS dependencies inside an ES module bundle still call require().
  banner: { js: 'import { createRequire as __bundleRequire } from "node:module"; const require = __bundleRequire(import.meta.url);' },
  logLevel: "warning",
  plugins: [
    {
      name: "keep-file-locating-packages-external",
      setup(b) {
        b.onResolve({ filter: locatesOwnFiles }, (args) => ({ path: args.path, external: true }));
      },
    },
    {
      name: "inline-connect-page-assets",
      setup(b) {
        b.onLoad({ filter: connectAssetsModule }, async () => {
          connectAssetsInlined = true;
          const assets = JSON.stringify(await connectAssets());
          return {
            contents: `const assets = ${assets};\nexport function connectAssets() { return assets; }\n`,
            loader: "js",
            watchFiles: connectAssetFiles,
          };
        });
      },
    },
  ],
});
// Else the bundle would hold the sources' loader, and esbuild with it.
if (!connectAssetsInlined) throw new Error("build.js: src/connect/assets.ts was not replaced: did it move?");
execFileSync(process.execPath, ["dist/pglite-seed.js", "dist/pglite-seed"], { cwd: here, stdio: "inherit" });
writeInputsHash(inputs);
