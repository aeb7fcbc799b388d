import { findChromium, renderPage } from "../test-support/chromium.ts";

// `npm run docs:screenshot -- [url] [file]`: a PNG of a running gateway's /docs, rendered by headless Chromium.
const url = process.argv[2] ?? `http://127.0.0.1:${process.env.PORT ?? 8080}/docs`;
const file = process.argv[3] ?? "docs-reference.png";
const chromium = findChromium();
if (!chromium) {
  process.stderr.write("no Chromium: apt-get install chromium, or set CHROMIUM_PATH\n");
  process.exit(1);
}
const dom = await renderPage(chromium, url, { screenshot: file });
if (!dom.includes("Download OpenAPI Document")) {
  process.stderr.write(`the page at ${url} did not render the API reference (is the gateway running?)\n`);
  process.exit(1);
}
process.stdout.write(`wrote ${file}\n`);
