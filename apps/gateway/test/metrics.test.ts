import { describe, expect, it } from "vitest";
import { useGatewayWithSandbox } from "./harness.ts";

describe("observability: Prometheus metrics at /metrics and the access log", () => {
  const fx = useGatewayWithSandbox({ tenants: { acme: 8 } });

  it("counts requests by route pattern and status, upstream calls, retries, rate limits and mapping time", async () => {
    fx.sandbox.fault({ vendor: "jumpcloud", kind: "status", status: 503, count: 1 });
    const users = await fx.gw.call("GET", `/unified/user-directory/users?connection_id=${fx.conn.jumpcloud}&limit=2`, { key: fx.apiKey });
    expect(users.status).toBe(200);
    fx.sandbox.fault({ vendor: "postman", kind: "status", status: 429, retry_after: "600", count: 1 });
    expect(
      (await fx.gw.call("GET", `/unified/user-directory/users?connection_id=${fx.conn["postman-scim"]}`, { key: fx.apiKey })).status,
    ).toBe(429);
    await fx.gw.call("GET", "/no/such/route", { key: fx.apiKey });

    expect((await fx.gw.call("GET", "/metrics", { key: fx.apiKey })).status).toBe(403);
    const res = await fx.gw.call("GET", "/metrics");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/text\/plain/);
    const text = res.text;
    const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? Number.NaN);
    expect(value(/unifold_http_requests_total\{method="GET",route="\/unified\/user-directory\/users",status="200"\} (\d+)/)).toBe(1);
    expect(value(/unifold_http_requests_total\{method="GET",route="\/unified\/user-directory\/users",status="429"\} (\d+)/)).toBe(1);
    expect(value(/unifold_http_requests_total\{method="GET",route="unmatched",status="404"\} (\d+)/)).toBe(1);
    expect(value(/unifold_upstream_requests_total\{integration="jumpcloud",status="503"\} (\d+)/)).toBe(1);
    expect(value(/unifold_upstream_retries_total\{integration="jumpcloud"\} (\d+)/)).toBe(1);
    expect(value(/unifold_rate_limited_total\{cause="upstream"\} (\d+)/)).toBe(1);
    expect(value(/unifold_mapping_duration_seconds_count\{integration="jumpcloud"\} (\d+)/)).toBe(1);
    expect(text).toContain("unifold_process_resident_memory_bytes");
    // No ids or secrets in label values: routes are patterns.
    expect(text).not.toContain(fx.conn.jumpcloud);
    expect(text).not.toContain(fx.apiKey);
  });

  it("logs each request with its request id, connection, integration, upstream status and upstream time", async () => {
    fx.sandbox.fault({ vendor: "jostle", kind: "status", status: 500, count: 1 });
    const failed = await fx.gw.call("GET", `/unified/user-directory/users?connection_id=${fx.conn["jostle-scim"]}`, {
      key: fx.apiKey,
      headers: { "x-request-id": "req-observe-1" },
    });
    expect(failed.status).toBe(502);
    const line = fx.gw
      .logs()
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((entry) => entry.request_id === "req-observe-1");
    expect(line).toMatchObject({
      msg: "request",
      status: 502,
      connection_id: fx.conn["jostle-scim"],
      integration: "jostle-scim",
      upstream_status: 500,
    });
    expect(line!.upstream_ms).toBeGreaterThanOrEqual(0);
    expect(line!.duration_ms as number).toBeGreaterThanOrEqual(line!.upstream_ms as number);
  });
});
