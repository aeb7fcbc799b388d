import { readFileSync } from "node:fs";
import { transformSync } from "esbuild";

/**
 * The connect page's stylesheet (page.css) and script (browser/page-client.ts) as the text the
 * page inlines under its nonce.
 *
 * One mechanism for both ways the gateway runs. From the sources (tests, tsx) this module reads
 * the two files and compiles them with esbuild (a dev dependency) on first use. The production
 * bundle never contains this module: build.js replaces it with one that holds the same two
 * strings, made by the same esbuild calls at build time, so production neither reads these files
 * nor needs esbuild. Keep the options here and in build.js the same.
 */
export interface ConnectAssets {
  css: string;
  script: string;
}

let assets: ConnectAssets | undefined;

export function connectAssets(): ConnectAssets {
  return (assets ??= {
    css: transformSync(read("./page.css"), { loader: "css", minifyWhitespace: true }).code,
    script: transformSync(read("./browser/page-client.ts"), { loader: "ts", format: "iife", target: "es2020", minifyWhitespace: true })
      .code,
  });
}

const read = (path: string) => readFileSync(new URL(path, import.meta.url), "utf8");
