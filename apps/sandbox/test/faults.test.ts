import { request } from "undici";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type RunningSandbox, startSandbox } from "../src/server.ts";
import { vendorCall } from "./client.ts";

describe("fault injection through the control API", () => {
  let sandbox: RunningSandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({
      tenants: [
        { name: "acme", users: 12 },
        { name: "globex", users: 12 },
      ],
    });
  });
  afterEach(() => sandbox.world.faults.clear());
  afterAll(() => sandbox.close());

  const control = (method: string, path: string, body?: unknown) =>
    fetch(`${sandbox.url}/_sandbox${path}`, {
      method,
      headers: { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const jc = (tenant = "acme") => vendorCall(sandbox, "jumpcloud", tenant, "GET", "/organizations");

  it("adds latency to the next request only", async () => {
    await control("POST", "/faults", { vendor: "jumpcloud", tenant: "acme", kind: "latency", latency_ms: 150, count: 1 });
    let started = performance.now();
    expect((await jc()).status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    started = performance.now();
    await jc();
    expect(performance.now() - started).toBeLessThan(140);
  });

  it("answers 429 with Retry-After, then 500/502/503, for the next N requests of one tenant", async () => {
    await control("POST", "/faults", { vendor: "jumpcloud", tenant: "acme", kind: "status", status: 429, retry_after: "7", count: 1 });
    const limited = await jc();
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("7");
    for (const status of [500, 502, 503]) {
      await control("POST", "/faults", { vendor: "jumpcloud", tenant: "acme", kind: "status", status, count: 2 });
      expect((await jc("globex")).status).toBe(200); // another tenant is unaffected
      expect((await jc()).status).toBe(status);
      expect((await jc()).status).toBe(status);
      expect((await jc()).status).toBe(200);
    }
  });

  it("resets the connection", async () => {
    sandbox.fault({ vendor: "postman", kind: "reset", count: 1 });
    await expect(vendorCall(sandbox, "postman", "acme", "GET", "/Users")).rejects.toThrow();
    expect((await vendorCall(sandbox, "postman", "acme", "GET", "/Users")).status).toBe(200);
  });

  it("loses the answer of a request it carried out", async () => {
    sandbox.fault({ vendor: "jumpcloud", kind: "lost", method: "POST", count: 1 });
    const body = { username: "lost.one", email: "lost.one@acme.example.com" };
    await expect(vendorCall(sandbox, "jumpcloud", "acme", "POST", "/systemusers", { body })).rejects.toThrow();
    expect(
      sandbox.jumpcloud
        .tenant("acme")
        .users.all()
        .filter((u) => u.username === "lost.one"),
    ).toHaveLength(1);
  });

  it("sends malformed JSON with a 200", async () => {
    sandbox.fault({ vendor: "jostle", kind: "malformed", count: 1 });
    const res = await vendorCall(sandbox, "jostle", "acme", "GET", "/Users");
    expect(res.status).toBe(200);
    expect(() => JSON.parse(res.text)).toThrow();
  });

  it("truncates a body short of its content-length", async () => {
    sandbox.fault({ vendor: "jumpcloud", kind: "truncate", count: 1 });
    const response = await request(`${sandbox.baseUrl("jumpcloud")}/systemusers`, {
      headers: { "x-api-key": sandbox.key("jumpcloud", "acme") },
    });
    expect(response.statusCode).toBe(200);
    await expect(response.body.text()).rejects.toThrow();
  });

  it("stalls a body after its headers until the client gives up", async () => {
    sandbox.fault({ vendor: "jumpcloud", kind: "stall", stall_ms: 5_000, count: 1 });
    const response = await request(`${sandbox.baseUrl("jumpcloud")}/systemusers`, {
      headers: { "x-api-key": sandbox.key("jumpcloud", "acme") },
      bodyTimeout: 200,
    });
    expect(response.statusCode).toBe(200);
    await expect(response.body.text()).rejects.toThrow(/timeout/i);
  });

  it("fails a ratio of requests, and records every request for assertions", async () => {
    await control("DELETE", "/requests");
    sandbox.fault({ vendor: "jumpcloud", tenant: "globex", kind: "status", status: 503, ratio: 0.5 });
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) statuses.push((await jc("globex")).status);
    const failed = statuses.filter((s) => s === 503).length;
    expect(failed).toBeGreaterThan(8);
    expect(failed).toBeLessThan(32);
    const log = (await (await control("GET", "/requests?vendor=jumpcloud&tenant=globex")).json()) as { status: number }[];
    expect(log).toHaveLength(40);
    expect(log.filter((r) => r.status === 503)).toHaveLength(failed);
  });

  it("lies about a list's total, and ignores the page position, as servers nobody here wrote do", async () => {
    await control("POST", "/faults", { vendor: "jostle", kind: "lying_total", total: 1000, count: 1 });
    const lying = await vendorCall(sandbox, "jostle", "acme", "GET", "/Users?startIndex=1&count=5");
    expect(lying.body.totalResults).toBe(1000);
    expect(lying.body.Resources).toHaveLength(5);
    const truthful = await vendorCall(sandbox, "jostle", "acme", "GET", "/Users?startIndex=1&count=5");
    expect(truthful.body.totalResults).toBe(sandbox.jostle.tenant("acme").users.size);

    const first = await vendorCall(sandbox, "jumpcloud", "acme", "GET", "/systemusers?limit=3&skip=0");
    await control("POST", "/faults", { vendor: "jumpcloud", kind: "ignore_paging", count: 1 });
    const ignored = await vendorCall(sandbox, "jumpcloud", "acme", "GET", "/systemusers?limit=3&skip=6");
    expect(ignored.body.results.map((u: { _id: string }) => u._id)).toEqual(first.body.results.map((u: { _id: string }) => u._id));
  });
});
