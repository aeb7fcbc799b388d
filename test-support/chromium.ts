import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { promisify } from "node:util";

/** Debian's `chromium` package, or CHROMIUM_PATH; undefined when neither is installed. */
export function findChromium(): string | undefined {
  return [process.env.CHROMIUM_PATH, "/usr/bin/chromium", "/usr/bin/chromium-browser"].find(
    (path): path is string => !!path && existsSync(path),
  );
}

/**
 * Loads a page in headless Chromium with every host but loopback unresolvable, so a page that
 * needs the internet shows it. Answers the DOM after the page's scripts ran, and writes a
 * screenshot when asked.
 */
export async function renderPage(chromium: string, url: string, options: { screenshot?: string; width?: number; height?: number } = {}) {
  const common = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--hide-scrollbars",
    "--no-first-run",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    // Virtual time runs the page's scripts to quiet (or this budget) before the DOM is read.
    "--virtual-time-budget=20000",
    `--window-size=${options.width ?? 1280},${options.height ?? 900}`,
  ];
  const run = (args: string[]) =>
    promisify(execFile)(chromium, [...common, ...args, url], { maxBuffer: 64 * 1024 * 1024, timeout: 60_000 });
  const { stdout: dom } = await run(["--dump-dom"]);
  if (options.screenshot) await run([`--screenshot=${options.screenshot}`]);
  return dom;
}

/**
 * Debian's Chromium driven by playwright-core, with every host but loopback unresolvable and no
 * background networking (this machine's network is closed; Chromium would otherwise keep trying).
 */
export async function launchChromium(executablePath: string) {
  const { chromium } = await import("playwright-core");
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--hide-scrollbars",
      "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    ],
  });
}

/** Runs axe-core in the page (through the debugging protocol, so the page's CSP does not stop it); answers its violations. */
export async function axeViolations(page: import("playwright-core").Page) {
  const { source } = (await import("axe-core")).default;
  await page.evaluate(source);
  // A string, evaluated in the page: this file is compiled without the DOM's types.
  return (await page.evaluate(`axe.run(document, { resultTypes: ["violations"] }).then((result) => result.violations)`)) as {
    id: string;
    impact: string;
    help: string;
    nodes: { target: string[]; failureSummary: string }[];
  }[];
}

/** True when a PNG holds more than a blank page: enough distinct bytes after compression. */
export function pngHasContent(png: Buffer, size: { width: number; height: number }): boolean {
  return (
    png.subarray(1, 4).toString() === "PNG" &&
    png.readUInt32BE(16) === size.width &&
    png.readUInt32BE(20) === size.height &&
    png.length > 8_000
  );
}
