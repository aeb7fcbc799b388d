import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import type { Browser, BrowserContext, Page } from "playwright-core";
import postgres from "postgres";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { axeViolations, findChromium, launchChromium, pngHasContent } from "../../../test-support/chromium.ts";
import { useGatewayWithSandbox } from "./harness.ts";

const chromiumPath = findChromium();
const mobile = { width: 390, height: 844 };
const screenshots = process.env.UNIFOLD_CONNECT_SCREENSHOTS;

/**
 * A SaaS page on its own loopback origin: `/` opens the connect link in a popup or an iframe with
 * the SDK's openConnect and shows what it resolved with; `/back` is a redirect_url.
 */
async function startSaasPage() {
  const sdk = ts.transpileModule(readFileSync(fileURLToPath(new URL("../../../packages/sdk/src/connect.ts", import.meta.url)), "utf8"), {
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext },
  }).outputText;
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    if (url.pathname === "/sdk.js") {
      res.setHeader("content-type", "text/javascript");
      return res.end(sdk);
    }
    res.setHeader("content-type", "text/html; charset=utf-8");
    if (url.pathname === "/back") return res.end(`<!doctype html><title>back</title><p id="query">${url.search.replace(/[<>&]/g, "")}</p>`);
    res.end(`<!doctype html><html lang="en"><title>SaaS</title>
<button id="open">Connect your directory</button><div id="slot"></div><output id="result"></output>
<script type="module">
import { openConnect } from "/sdk.js";
document.getElementById("open").addEventListener("click", () => {
  openConnect({ url: ${JSON.stringify(url.searchParams.get("connect") ?? "")}, mode: ${JSON.stringify(url.searchParams.get("mode") ?? "popup")}, container: document.getElementById("slot") })
    .then((r) => { document.getElementById("result").textContent = JSON.stringify(r); })
    .catch((e) => { document.getElementById("result").textContent = "error:" + e.code; });
});
</script></html>`);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => server.close(r)) };
}

// CI installs Debian's chromium when it can (.ci/run); a machine without it says so here rather than pass silently.
describe.skipIf(!chromiumPath)("the hosted connect page in Chromium", () => {
  const fx = useGatewayWithSandbox({ tenants: { acme: 4 }, gateway: { jobs: true }, connect: false, timeout: 120_000 });
  let browser: Browser;
  let saas: Awaited<ReturnType<typeof startSaasPage>>;
  let stranger: Awaited<ReturnType<typeof startSaasPage>>;

  beforeAll(async () => {
    [browser, saas, stranger] = await Promise.all([launchChromium(chromiumPath as string), startSaasPage(), startSaasPage()]);
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await saas?.close();
    await stranger?.close();
  });

  const jumpcloudKey = () => fx.sandbox.key("jumpcloud", "acme");
  /** Reads or changes the gateway's own rows (a session's clock or attempts; a connection's ciphertext). */
  const sql = async (query: string) => {
    const client = postgres(fx.gw.databaseUrl, { max: 1, onnotice: () => {} });
    try {
      return (await client.unsafe(query)) as Record<string, unknown>[];
    } finally {
      await client.end();
    }
  };

  async function link(body: Record<string, unknown> = {}) {
    const res = await fx.gw.call("POST", "/connect/sessions", {
      body: {
        tenant_id: "acme",
        config: { jumpcloud: { base_url: fx.sandbox.baseUrl("jumpcloud") } },
        redirect_url: `${saas.origin}/back`,
        ...body,
      },
    });
    expect(res.status, res.text).toBe(201);
    return res.body as { url: string; token: string };
  }

  async function fresh(
    options: { colorScheme?: "light" | "dark"; viewport?: { width: number; height: number }; permissions?: string[] } = {},
  ) {
    const context: BrowserContext = await browser.newContext({
      viewport: options.viewport ?? mobile,
      colorScheme: options.colorScheme ?? "light",
      ...(options.permissions && { permissions: options.permissions }),
    });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    return { context, page, errors };
  }

  /** axe-core finds nothing, and a 390×844 screenshot of the state is not blank. */
  async function checkState(page: Page, name: string) {
    const violations = await axeViolations(page);
    expect(
      violations.map((v) => `${v.id}: ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`),
      name,
    ).toEqual([]);
    const png = await page.screenshot({ ...(screenshots && { path: `${screenshots}/connect-${name}-mobile.png` }) });
    expect(pngHasContent(png, page.viewportSize() ?? mobile), name).toBe(true);
    // For the docs (docs/connect.md): the same state on a desktop window as well.
    if (screenshots && page.viewportSize()?.width === mobile.width) {
      await page.setViewportSize({ width: 1280, height: 800 });
      await page.screenshot({ path: `${screenshots}/connect-${name}-desktop.png` });
      await page.setViewportSize(mobile);
    }
  }

  /** Tab until the element matching `selector` has focus (keyboard only; at most 30 presses). */
  async function tabTo(page: Page, selector: string) {
    for (let i = 0; i < 30; i++) {
      if (await page.evaluate(`document.activeElement?.matches(${JSON.stringify(selector)}) ?? false`)) return;
      await page.keyboard.press("Tab");
    }
    throw new Error(`no focus reached ${selector}`);
  }

  it(
    "redirect: choose JumpCloud and enter the key with the keyboard alone, land on redirect_url, then read users",
    { timeout: 60_000 },
    async () => {
      const { context, page, errors } = await fresh();
      await page.goto((await link()).url);
      await checkState(page, "choose");
      await tabTo(page, 'a[href="?integration=jumpcloud"]');
      await page.keyboard.press("Enter");
      await page.waitForSelector('input[name="credentials.api_key"]');
      await checkState(page, "form");
      await tabTo(page, 'input[name="credentials.api_key"]');
      await page.keyboard.type(jumpcloudKey());
      await Promise.all([page.waitForURL(`${saas.origin}/back?**`), page.keyboard.press("Enter")]);
      const back = new URL(page.url());
      expect(back.searchParams.get("outcome")).toBe("created");
      const id = back.searchParams.get("connection_id") as string;
      const users = await fx.gw.call("GET", `/unified/user-directory/users?connection_id=${id}`);
      expect(users.status).toBe(200);
      expect(users.body.result).toHaveLength(4);
      expect(errors).toEqual([]);
      await context.close();
    },
  );

  it("a wrong key shows the vendor's refusal inline with focus on it; the retry succeeds", { timeout: 60_000 }, async () => {
    for (const colorScheme of ["light", "dark"] as const) {
      const { context, page } = await fresh({ colorScheme });
      await page.goto((await link({ integrations: ["jumpcloud"], allow_duplicates: true })).url);
      await page.fill('input[name="credentials.api_key"]', "0000000000000000000000000000000000000000");
      await Promise.all([page.waitForNavigation(), page.click("button.primary")]);
      expect(await page.textContent("#errors")).toMatch(/JumpCloud refused these details \(status 401\)/);
      expect(await page.evaluate("document.activeElement?.id")).toBe("errors");
      expect(await page.content()).not.toContain("0000000000000000000000000000000000000000");
      await checkState(page, `error-${colorScheme}`);
      await page.fill('input[name="credentials.api_key"]', jumpcloudKey());
      await Promise.all([page.waitForURL(`${saas.origin}/back?**`), page.click("button.primary")]);
      expect(new URL(page.url()).searchParams.get("connection_id")).toMatch(/^[0-9a-f-]{36}$/);
      await context.close();
    }
  });

  it(
    "popup: the SaaS page on a listed origin receives the connection; a page on another origin receives nothing",
    { timeout: 60_000 },
    async () => {
      for (const [parent, listed] of [
        [saas, true],
        [stranger, false],
      ] as const) {
        const session = await link({ integrations: ["jumpcloud"], allowed_origins: [saas.origin], allow_duplicates: true });
        const { context, page } = await fresh({ viewport: { width: 1280, height: 800 } });
        await page.goto(`${parent.origin}/?mode=popup&connect=${encodeURIComponent(session.url)}`);
        const [popup] = await Promise.all([page.waitForEvent("popup"), page.click("#open")]);
        await popup.waitForSelector('input[name="credentials.api_key"]');
        await popup.fill('input[name="credentials.api_key"]', jumpcloudKey());
        if (listed) {
          await popup.click("button.primary");
          await page.waitForFunction(`document.getElementById("result")?.textContent !== ""`);
          const result = JSON.parse((await page.textContent("#result")) as string);
          expect(result).toMatchObject({ outcome: "created", connection_id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
          expect((await fx.gw.call("GET", `/connections/${result.connection_id}`)).body.tenant_id).toBe("acme");
        } else {
          await Promise.all([popup.waitForNavigation(), popup.click("button.primary")]);
          await checkState(popup, "done");
          expect(await popup.textContent("[role=status]")).toContain("is connected");
          await page.waitForTimeout(1_000);
          expect(await page.textContent("#result")).toBe("");
        }
        await context.close();
      }
    },
  );

  it("iframe: framing is allowed for a listed origin only, and the frame hands back the connection", { timeout: 60_000 }, async () => {
    const session = await link({ integrations: ["jumpcloud"], allowed_origins: [saas.origin], allow_duplicates: true });
    const { context, page } = await fresh({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${saas.origin}/?mode=iframe&connect=${encodeURIComponent(session.url)}`);
    await page.click("#open");
    const frame = page.frameLocator("iframe");
    await frame.locator('input[name="credentials.api_key"]').fill(jumpcloudKey());
    await frame.locator("button.primary").click();
    await page.waitForFunction(`document.getElementById("result")?.textContent !== ""`);
    expect(JSON.parse((await page.textContent("#result")) as string)).toMatchObject({ outcome: "created" });
    await context.close();

    // The same link framed by an unlisted origin: the browser refuses to render it (CSP frame-ancestors).
    const other = await link({ integrations: ["jumpcloud"], allowed_origins: [saas.origin] });
    const second = await fresh({ viewport: { width: 1280, height: 900 } });
    await second.page.goto(`${stranger.origin}/?mode=iframe&connect=${encodeURIComponent(other.url)}`);
    await second.page.click("#open");
    await second.page.waitForTimeout(1_000);
    const inner = second.page.frames().find((f) => f !== second.page.mainFrame());
    expect(await inner?.locator('input[name="credentials.api_key"]').count()).toBe(0);
    await second.context.close();
  });

  it("expired, used and unknown links each get a clear page; every state is accessible in dark mode too", { timeout: 90_000 }, async () => {
    const { context, page } = await fresh({ colorScheme: "dark" });
    const used = await link({
      integrations: ["jumpcloud"],
      allow_duplicates: true,
      theme: { primary_color: "#f5c518", mode: "auto" },
      locale: "de",
    });
    await page.goto(used.url);
    await checkState(page, "form-dark-de");
    await page.fill('input[name="credentials.api_key"]', jumpcloudKey());
    await Promise.all([page.waitForURL(`${saas.origin}/back?**`), page.click("button.primary")]);
    const again = await page.goto(used.url);
    expect(again?.status()).toBe(410);
    expect(await page.textContent("h1")).toBe("Dieser Link wurde bereits verwendet");
    await checkState(page, "used");
    expect(await page.getAttribute("a.button", "href")).toContain("error=already_used");

    const expired = await link({ ttl_seconds: 60 });
    await sql(
      `update connect_sessions set expires_at = now() - interval '1 second' where token_hash = encode(sha256('${expired.token}'::bytea), 'hex')`,
    );
    expect((await page.goto(expired.url))?.status()).toBe(410);
    expect(await page.textContent("h1")).toBe("This link has expired");
    await checkState(page, "expired");

    expect((await page.goto(`${fx.gw.url}/connect/ucs_${"x".repeat(43)}`))?.status()).toBe(404);
    await checkState(page, "unknown");

    const tooMany = await link({ integrations: ["jumpcloud"] });
    await sql(`update connect_sessions set attempts = 5 where token_hash = encode(sha256('${tooMany.token}'::bytea), 'hex')`);
    expect((await page.goto(tooMany.url))?.status()).toBe(410);
    expect(await page.textContent("h1")).toBe("Too many attempts");
    await checkState(page, "too-many");

    // Cancel without a redirect_url: a page that says nothing was connected.
    const cancelled = await fx.gw.call("POST", "/connect/sessions", { body: { tenant_id: "acme", integrations: ["jumpcloud"] } });
    await page.goto(cancelled.body.url);
    await Promise.all([page.waitForNavigation(), page.click("button.secondary")]);
    expect(await page.textContent("h1")).toBe("Nothing was connected");
    await checkState(page, "cancelled");
    await context.close();
  });

  it(
    "SCIM: create the connection, copy its base URL and token, wait for the provider's first request, then connected; in French too",
    { timeout: 90_000 },
    async () => {
      const { context, page, errors } = await fresh({ permissions: ["clipboard-read", "clipboard-write"] });
      await page.goto((await link({ state: "scim-browser" })).url);
      await Promise.all([page.waitForURL("**?integration=scim"), page.click('a[href="?integration=scim"]')]);
      expect(await page.textContent("h1")).toBe("Connect SCIM");
      await checkState(page, "scim-intro");
      await Promise.all([page.waitForNavigation(), page.click("button.primary")]);
      expect(await page.textContent("h1")).toBe("Set up provisioning in your identity provider");
      const baseUrl = await page.inputValue("#scim-base-url");
      const token = await page.inputValue("#scim-token");
      expect(baseUrl).toMatch(/\/scim\/v2\/[0-9a-f-]{36}$/);
      expect(token).toMatch(/^scim_/);
      // The copy buttons (shown by the page's script) put each value into the clipboard and say so.
      await page.click('button[data-copy="scim-token"]');
      await page.waitForSelector('#copied:text-is("Token copied.")');
      expect(await page.evaluate("navigator.clipboard.readText()")).toBe(token);
      await page.click('button[data-copy="scim-base-url"]');
      await page.waitForSelector('#copied:text-is("SCIM base URL copied.")');
      expect(await page.evaluate("navigator.clipboard.readText()")).toBe(baseUrl);
      await checkState(page, "scim-created");

      await Promise.all([page.waitForNavigation(), page.click("a.button")]);
      expect(await page.textContent("h1")).toBe("Waiting for the first request");
      expect(await page.content()).not.toContain(token);
      await checkState(page, "scim-waiting");
      // The identity provider's first call: the waiting page, looking again by itself, goes back to redirect_url.
      const users = await fetch(`${baseUrl}/Users`, { headers: { authorization: `Bearer ${token}` } });
      expect(users.status).toBe(200);
      await page.waitForURL(`${saas.origin}/back?**`, { timeout: 20_000 });
      const back = new URL(page.url()).searchParams;
      expect(back.get("outcome")).toBe("created");
      expect(back.get("state")).toBe("scim-browser");
      expect(baseUrl.endsWith(back.get("connection_id") as string)).toBe(true);
      expect(errors).toEqual([]);
      await context.close();

      const french = await fresh({ colorScheme: "dark" });
      // Without a redirect_url: the page itself says connected.
      await french.page.goto((await link({ integrations: ["scim"], config: {}, locale: "fr", redirect_url: undefined })).url);
      expect(await french.page.textContent("h1")).toBe("Connecter SCIM");
      await checkState(french.page, "scim-intro-dark-fr");
      await Promise.all([french.page.waitForNavigation(), french.page.click("button.primary")]);
      expect(await french.page.textContent("h1")).toBe("Configurer le provisionnement dans votre fournisseur d’identité");
      expect(await french.page.getAttribute('button[data-copy="scim-token"]', "aria-label")).toBe("Copier : Jeton");
      expect((await french.page.textContent('button[data-copy="scim-token"]'))?.trim()).toBe("Copier");
      const frenchBase = await french.page.inputValue("#scim-base-url");
      const frenchToken = await french.page.inputValue("#scim-token");
      await checkState(french.page, "scim-created-dark-fr");
      await Promise.all([french.page.waitForNavigation(), french.page.click("a.button")]);
      expect(await french.page.textContent("h1")).toBe("En attente de la première requête");
      await checkState(french.page, "scim-waiting-dark-fr");
      expect(await french.page.content()).not.toContain(frenchToken);
      const pushed = await fetch(`${frenchBase}/Users`, { headers: { authorization: `Bearer ${frenchToken}` } });
      expect(pushed.status).toBe(200);
      // (A selector, not waitForFunction: the page's CSP allows no eval.)
      await french.page.waitForSelector('h1:text-is("Connecté")', { timeout: 20_000 });
      expect(await french.page.textContent("[role=status]")).toContain("la connexion est active");
      expect(await french.page.locator("a.button").count()).toBe(0);
      await checkState(french.page, "scim-connected-dark-fr");
      expect(french.errors).toEqual([]);
      await french.context.close();
    },
  );

  it(
    "a reconnect keeps the id and changes the stored ciphertext; linking the same account again answers the existing connection",
    { timeout: 60_000 },
    async () => {
      const { context, page } = await fresh();
      const submitKey = async (url: string) => {
        await page.goto(url);
        await page.fill('input[name="credentials.api_key"]', jumpcloudKey());
        await Promise.all([page.waitForURL(`${saas.origin}/back?**`), page.click("button.primary")]);
        return new URL(page.url()).searchParams;
      };
      const made = await submitKey((await link({ integrations: ["jumpcloud"], allow_duplicates: true })).url);
      const id = made.get("connection_id") as string;
      const again = await submitKey((await link({ integrations: ["jumpcloud"] })).url);
      expect(again.get("outcome")).toBe("existing");
      expect(again.get("connection_id")).not.toBeNull();

      const [before] = await sql(`select credentials from connections where id = '${id}'`);
      const reconnected = await submitKey((await link({ connection_id: id })).url);
      expect(reconnected.get("outcome")).toBe("reconnected");
      expect(reconnected.get("connection_id")).toBe(id);
      const [after] = await sql(`select credentials from connections where id = '${id}'`);
      expect(after?.credentials).not.toBe(before?.credentials);
      await context.close();
    },
  );
});

if (!chromiumPath) {
  describe("the hosted connect page in Chromium", () => {
    it.skip("needs Debian's chromium (apt-get install chromium) or CHROMIUM_PATH", () => {});
  });
}
