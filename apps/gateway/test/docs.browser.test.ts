import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findChromium, renderPage } from "../../../test-support/chromium.ts";
import { type Gateway, startGateway } from "./harness.ts";

const chromium = findChromium();

// CI installs Debian's chromium when it can (.ci/run); a machine without it says so here rather than pass silently.
describe.skipIf(!chromium)("the /docs reference page in headless Chromium", () => {
  let gw: Gateway;
  // The screenshot goes where UNIFOLD_DOCS_SCREENSHOT says and stays; else to a folder removed after the test.
  let scratch: string | undefined;
  beforeAll(async () => {
    if (!process.env.UNIFOLD_DOCS_SCREENSHOT) scratch = mkdtempSync(join(tmpdir(), "unifold-docs-"));
    gw = await startGateway();
  });
  afterAll(async () => {
    await gw?.close();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it("renders the API from /openapi.json with nothing but the gateway reachable", { timeout: 120_000 }, async () => {
    const screenshot = process.env.UNIFOLD_DOCS_SCREENSHOT ?? join(scratch!, "docs.png");
    const dom = await renderPage(chromium as string, `${gw.url}/docs`, { screenshot });

    // These strings exist only in the OpenAPI document, so they are on the page only if Scalar
    // loaded from the gateway, fetched the document and rendered it (every other host fails to resolve).
    expect(dom).toContain("Download OpenAPI Document");
    for (const text of ["Connections", "API keys", "Encryption keys", "User directory", "HRIS", "Proxy", "Passthrough"]) {
      expect(dom, text).toContain(text);
    }
    expect(dom).toContain("Liveness with a database check");

    // A PNG of the window's size with more than a blank page's bytes.
    const png = readFileSync(screenshot);
    expect(png.subarray(1, 4).toString()).toBe("PNG");
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([1280, 900]);
    expect(png.length).toBeGreaterThan(20_000);
    if (!scratch) console.log(`reference page screenshot: ${screenshot}`);
  });
});

if (!chromium) {
  describe("the /docs reference page in headless Chromium", () => {
    it.skip("needs Debian's chromium (apt-get install chromium) or CHROMIUM_PATH", () => {});
  });
}
