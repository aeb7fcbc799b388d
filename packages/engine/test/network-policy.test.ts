import type { LookupAddress, LookupOptions } from "node:dns";
import { describe, expect, it } from "vitest";
import { guardedLookup, hostRefusal, isNonPublicAddress } from "../src/network-policy.ts";

const open = { allowPrivate: false };

describe("isNonPublicAddress: every address form that reaches inside", () => {
  it.each([
    "127.0.0.1",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "224.0.0.1",
    "::1",
    "::",
    "::ffff:127.0.0.1",
    "::ffff:0:7f00:1",
    "::7f00:1",
    "64:ff9b::7f00:1",
    "2002:7f00:1::",
    "fc00::1",
    "fe80::1",
    "fec0::1",
  ])("%s is not public", (address) => expect(isNonPublicAddress(address)).toBe(true));

  it.each(["8.8.8.8", "1.1.1.1", "2606:4700::1111", "2a00:1450:4001::", "not-an-address", "example.com"])(
    "%s is public (or no address at all)",
    (address) => expect(isNonPublicAddress(address)).toBe(false),
  );
});

describe("hostRefusal", () => {
  const allowed = { allowPrivate: false, allowedHosts: ["api.getpostman.com", "*.jumpcloud.com"] };

  it("allows exactly the listed hosts, in any case, and any subdomain of a *. entry", () => {
    expect(hostRefusal(allowed, "api.getpostman.com")).toBeUndefined();
    expect(hostRefusal(allowed, "API.GetPostman.com")).toBeUndefined();
    expect(hostRefusal(allowed, "console.jumpcloud.com")).toBeUndefined();
    expect(hostRefusal(allowed, "a.b.jumpcloud.com")).toBeUndefined();
  });

  it("refuses a host that only ends like a listed one, or is the bare domain of a *. entry", () => {
    expect(hostRefusal(allowed, "xapi.getpostman.com")).toMatch(/not in UNIFOLD_UPSTREAM_ALLOWED_HOSTS/);
    expect(hostRefusal(allowed, "evil-getpostman.com")).toMatch(/not in UNIFOLD_UPSTREAM_ALLOWED_HOSTS/);
    expect(hostRefusal(allowed, "jumpcloud.com")).toMatch(/not in UNIFOLD_UPSTREAM_ALLOWED_HOSTS/);
    expect(hostRefusal(allowed, "xjumpcloud.com")).toMatch(/not in UNIFOLD_UPSTREAM_ALLOWED_HOSTS/);
  });

  it("refuses loopback names and non-public literals unless private upstreams are allowed", () => {
    for (const host of ["localhost", "LOCALHOST", "app.localhost", "127.0.0.1", "[::1]", "[::ffff:10.0.0.1]"]) {
      expect(hostRefusal(open, host), host).toMatch(/loopback or private address/);
      expect(hostRefusal({ allowPrivate: true }, host), host).toBeUndefined();
    }
  });

  it("allows a public name that merely contains localhost", () => {
    expect(hostRefusal(open, "localhost.example.com")).toBeUndefined();
    expect(hostRefusal(open, "mylocalhost.com")).toBeUndefined();
    expect(hostRefusal(open, "api.example.com")).toBeUndefined();
  });

  it("still applies the allow-list when private upstreams are allowed", () => {
    expect(hostRefusal({ allowPrivate: true, allowedHosts: ["127.0.0.1"] }, "127.0.0.2")).toMatch(/not in/);
    expect(hostRefusal({ allowPrivate: true, allowedHosts: ["127.0.0.1"] }, "127.0.0.1")).toBeUndefined();
  });
});

describe("guardedLookup: what a socket is told a name resolves to", () => {
  type Answer = { error: NodeJS.ErrnoException | null; addresses: LookupAddress[] };
  /** A resolver answering `answer`, and what it was asked. */
  const resolver = (answer: Answer) => {
    const asked: LookupOptions[] = [];
    const resolve = ((_host: string, options: LookupOptions, callback: (e: NodeJS.ErrnoException | null, a: LookupAddress[]) => void) => {
      asked.push(options);
      callback(answer.error, answer.addresses);
    }) as never;
    return { resolve, asked };
  };
  const lookup = (policy: { allowPrivate: boolean }, answer: Answer, options: LookupOptions) =>
    new Promise<{ error: NodeJS.ErrnoException | null; address: unknown; family: unknown }>((done) => {
      const { resolve } = resolver(answer);
      guardedLookup(policy, resolve)("vendor.example.com", options, (error, address, family) => done({ error, address, family }));
    });
  const both = [
    { address: "93.184.216.34", family: 4 },
    { address: "2606:2800:220:1::1", family: 6 },
  ];

  it("always asks for every address, so one private address among them is seen", async () => {
    const { resolve, asked } = resolver({ error: null, addresses: both });
    await new Promise((done) => guardedLookup(open, resolve)("vendor.example.com", { all: false }, done));
    expect(asked).toEqual([{ all: true }]);
  });

  it("answers the first address and its family to a socket that wants one", async () => {
    expect(await lookup(open, { error: null, addresses: both }, {})).toEqual({ error: null, address: "93.184.216.34", family: 4 });
  });

  it("answers every address to a caller that asked for all", async () => {
    expect(await lookup(open, { error: null, addresses: both }, { all: true })).toMatchObject({ error: null, address: both });
  });

  it("refuses a name with any non-public address, naming it", async () => {
    const answer = { error: null, addresses: [both[0]!, { address: "10.0.0.5", family: 4 }] };
    const { error, address } = await lookup(open, answer, {});
    expect(error?.code).toBe("EUNIFOLD_BLOCKED");
    expect(error?.message).toBe("vendor.example.com resolves to 10.0.0.5, a loopback or private address");
    expect(address).toEqual([]);
    expect((await lookup({ allowPrivate: true }, answer, {})).address).toBe("93.184.216.34");
  });

  it("passes a DNS error on as it is", async () => {
    const failure = Object.assign(new Error("getaddrinfo ENOTFOUND vendor.example.com"), { code: "ENOTFOUND" });
    const { error, address } = await lookup(open, { error: failure, addresses: [] }, {});
    expect(error).toBe(failure);
    expect(address).toEqual([]);
  });

  it("answers ENOTFOUND for a name with no address at all", async () => {
    const { error } = await lookup(open, { error: null, addresses: [] }, {});
    expect(error?.code).toBe("ENOTFOUND");
    expect(error?.message).toBe("vendor.example.com has no address");
  });
});
