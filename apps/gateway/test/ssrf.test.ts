import { guardedLookup, hostRefusal, isNonPublicAddress } from "@unifold/engine";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Gateway, keyCheckingUpstream, startGateway } from "./harness.ts";

describe("SSRF guard: where upstream calls may go", () => {
  it("classifies loopback, private, link-local and mapped addresses as non-public", () => {
    for (const address of [
      "127.0.0.1",
      "10.1.2.3",
      "172.20.0.1",
      "192.168.1.1",
      "169.254.169.254",
      "0.0.0.0",
      "::1",
      "fd00::1",
      "fe80::1",
      "::ffff:127.0.0.1",
      // IPv4 carried inside IPv6, in the spellings a URL normalises them to.
      "::ffff:7f00:1",
      "::ffff:0:7f00:1",
      "::127.0.0.1",
      "::7f00:1",
      "64:ff9b::7f00:1",
      "64:ff9b:1::a00:1",
      "2002:7f00:1::",
      "2001:0:4136:e378:8000:63bf:3fff:fdd2",
      "fec0::1",
    ]) {
      expect(isNonPublicAddress(address), address).toBe(true);
    }
    for (const address of ["8.8.8.8", "104.16.0.1", "2606:4700::1111"]) expect(isNonPublicAddress(address), address).toBe(false);
  });

  it("refuses names and literals by policy, and honours an allow-list", () => {
    const closed = { allowPrivate: false };
    expect(hostRefusal(closed, "127.0.0.1")).toMatch(/UNIFOLD_ALLOW_PRIVATE_UPSTREAMS/);
    expect(hostRefusal(closed, "[::1]")).toBeDefined();
    expect(hostRefusal(closed, "localhost")).toBeDefined();
    expect(hostRefusal(closed, "console.jumpcloud.com")).toBeUndefined();
    expect(hostRefusal({ allowPrivate: true }, "127.0.0.1")).toBeUndefined();
    const listed = { allowPrivate: false, allowedHosts: ["*.jumpcloud.com", "api.getpostman.com"] };
    expect(hostRefusal(listed, "console.eu.jumpcloud.com")).toBeUndefined();
    expect(hostRefusal(listed, "api.getpostman.com")).toBeUndefined();
    expect(hostRefusal(listed, "evil.example.com")).toMatch(/UNIFOLD_UPSTREAM_ALLOWED_HOSTS/);
    expect(hostRefusal(listed, "jumpcloud.com.evil.example")).toBeDefined();
  });

  it("refuses a name that resolves to a loopback address at connect time (DNS rebinding)", async () => {
    const lookup = guardedLookup({ allowPrivate: false });
    const error = await new Promise<NodeJS.ErrnoException | null>((resolve) => lookup("localhost", {}, (e) => resolve(e)));
    expect(error?.code).toBe("EUNIFOLD_BLOCKED");
    const allowed = guardedLookup({ allowPrivate: true });
    const address = await new Promise<unknown>((resolve) => allowed("localhost", {}, (_e, a) => resolve(a)));
    expect(address).toMatch(/^(127\.0\.0\.1|::1)$/);
  });

  describe("through the gateway with the default policy (public addresses only)", () => {
    let gw: Gateway;
    let upstream: Awaited<ReturnType<typeof keyCheckingUpstream>>;
    beforeAll(async () => {
      [gw, upstream] = await Promise.all([startGateway({ upstream: { network: { allowPrivate: false } } }), keyCheckingUpstream()]);
    });
    afterAll(async () => {
      await gw.close();
      await upstream.close();
    });

    for (const baseUrl of [
      "http://127.0.0.1:9/api",
      "http://169.254.169.254/latest",
      "http://localhost:8080/",
      "http://[::1]/",
      "http://10.0.0.5/",
      "http://[::ffff:127.0.0.1]/",
      "http://[::ffff:0:127.0.0.1]/",
      "http://[::127.0.0.1]/",
      "http://[64:ff9b::127.0.0.1]/",
      "http://[2002:7f00:1::]/",
      "http://[fec0::1]/",
    ]) {
      it(`refuses a connection to ${baseUrl} with a 400 naming config.base_url, calling nothing`, async () => {
        const res = await gw.call("POST", "/connections", {
          body: { tenant_id: "t", integration: "jumpcloud", credentials: { api_key: "good-key" }, config: { base_url: baseUrl } },
        });
        expect(res.status).toBe(400);
        expect(res.body.error.details[0]).toMatchObject({ path: "config.base_url" });
      });
    }

    it("refuses non-http schemes", async () => {
      for (const baseUrl of ["file:///etc/passwd", "gopher://127.0.0.1/", "ftp://example.com/"]) {
        const res = await gw.call("POST", "/connections?verify=false", {
          body: { tenant_id: "t", integration: "jumpcloud", credentials: { api_key: "k" }, config: { base_url: baseUrl } },
        });
        expect(res.status, baseUrl).toBe(400);
      }
      expect(upstream.received).toHaveLength(0);
    });
  });
});
