import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { IdpError, oktaClient, query, retryAfterMs, scimClient } from "../../src/idp/index.ts";
import { type Responder, startResponder, TOKEN } from "./responder.ts";

describe("the SCIM client under both providers", () => {
  let responder: Responder;
  beforeAll(async () => {
    responder = await startResponder();
  });
  afterAll(() => responder.close());
  afterEach(() => responder.reset());

  /** A client whose waits are recorded instead of slept. */
  function recordingClient(options: { retries?: number; maxWaitMs?: number; backoffMs?: number } = {}) {
    const waits: number[] = [];
    const client = scimClient({
      baseUrl: responder.baseUrl,
      token: TOKEN,
      userAgent: "test agent",
      sleep: async (ms) => {
        waits.push(ms);
      },
      ...options,
    });
    return { client, waits };
  }

  it("sends the bearer token, the provider's User-Agent and SCIM media types", async () => {
    const { client } = recordingClient();
    await client.request("POST", "/Users", { userName: "a@example.com" });
    const [sent] = responder.requests;
    expect(sent?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(sent?.headers["user-agent"]).toBe("test agent");
    expect(sent?.headers["content-type"]).toMatch(/^application\/scim\+json/);
    expect(sent?.headers.accept).toBe("application/scim+json");
  });

  it("sends no content type on a request without a body", async () => {
    const { client } = recordingClient();
    await client.request("GET", "/Users");
    expect(responder.requests[0]?.headers["content-type"]).toBeUndefined();
  });

  it("keeps a transcript of each exchange with its path, status, bodies and latency", async () => {
    const { client } = recordingClient();
    await client.request("POST", "/Users", { userName: "a@example.com" });
    await client.request("GET", `/Users${query({ filter: 'userName eq "a@example.com"' })}`);
    expect(client.transcript).toHaveLength(2);
    const [post, get] = client.transcript;
    expect(post).toMatchObject({ method: "POST", path: "/Users", status: 201, requestBody: { userName: "a@example.com" }, attempt: 1 });
    expect(post?.responseBody).toMatchObject({ userName: "a@example.com", id: expect.any(String) });
    expect(get).toMatchObject({ method: "GET", path: "/Users?filter=userName%20eq%20%22a%40example.com%22", status: 200 });
    expect(get?.requestBody).toBeUndefined();
    expect(get?.latencyMs).toBeGreaterThanOrEqual(0);
    expect(get?.responseContentType).toBe("application/scim+json");
  });

  it("never writes the token into the transcript, even when the service refuses it", async () => {
    const { client } = recordingClient();
    await client.request("POST", "/Users", { userName: "a@example.com" });
    const stranger = scimClient({ baseUrl: responder.baseUrl, token: "tok_wrong_1234", userAgent: "x" });
    const refused = await stranger.request("GET", "/Users");
    expect(refused.status).toBe(401);
    expect(JSON.stringify(client.transcript)).not.toContain(TOKEN);
    expect(JSON.stringify(stranger.transcript)).not.toContain("tok_wrong_1234");
  });

  it("redacts the token from a response that echoes it", async () => {
    responder.intercept = (r) => ({ status: 400, body: { detail: `refused header ${r.headers.authorization}` } });
    const { client } = recordingClient();
    await client.request("GET", "/Users");
    expect(client.transcript[0]?.responseBody).toEqual({ detail: "refused header Bearer [redacted]" });
  });

  it("records a copy of the request body, not the caller's object", async () => {
    const { client } = recordingClient();
    const body = { userName: "a@example.com" };
    await client.request("POST", "/Users", body);
    body.userName = "changed@example.com";
    expect(client.transcript[0]?.requestBody).toEqual({ userName: "a@example.com" });
  });

  it("names the right request in an error when several run at once", async () => {
    responder.delayMs = 10;
    responder.intercept = (r) => (r.path === "/Groups/slow" ? { status: 500, body: { detail: "boom" } } : { status: 204 });
    const okta = oktaClient({ baseUrl: responder.baseUrl, token: TOKEN, retries: 0 });
    const results = await Promise.allSettled([okta.deleteGroup("slow"), okta.deleteGroup("fast")]);
    expect(results[0]).toMatchObject({ status: "rejected", reason: { message: "DELETE /Groups/slow answered 500, expected 204: boom" } });
    expect(results[1]).toMatchObject({ status: "fulfilled" });
  });

  it("waits as long as Retry-After asks before retrying a 429", async () => {
    let calls = 0;
    responder.intercept = () => (++calls === 1 ? { status: 429, headers: { "retry-after": "2" } } : undefined);
    const { client, waits } = recordingClient({ maxWaitMs: 5000 });
    const answer = await client.request("GET", "/Users");
    expect(answer.status).toBe(200);
    expect(waits).toEqual([2000]);
    expect(client.transcript.map((e) => [e.status, e.attempt])).toEqual([
      [429, 1],
      [200, 2],
    ]);
  });

  it("reads a Retry-After HTTP date as the time until then", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(retryAfterMs("Thu, 01 Jan 2026 00:00:03 GMT", now)).toBe(3000);
    expect(retryAfterMs("7", now)).toBe(7000);
    expect(retryAfterMs(null, now)).toBeUndefined();
    expect(retryAfterMs("soon", now)).toBeUndefined();
  });

  it("caps a long Retry-After at the longest wait", async () => {
    let calls = 0;
    responder.intercept = () => (++calls === 1 ? { status: 503, headers: { "retry-after": "3600" } } : undefined);
    const { client, waits } = recordingClient({ maxWaitMs: 250 });
    expect((await client.request("GET", "/Users")).status).toBe(200);
    expect(waits).toEqual([250]);
  });

  it("backs off exponentially on 5xx without Retry-After, and stops after the retry bound", async () => {
    responder.intercept = () => ({ status: 502, body: { detail: "upstream down" } });
    const { client, waits } = recordingClient({ retries: 3, backoffMs: 10 });
    const answer = await client.request("GET", "/Users");
    expect(answer.status).toBe(502);
    expect(waits).toEqual([10, 20, 40]);
    expect(responder.requests).toHaveLength(4);
    expect(client.transcript.map((e) => e.attempt)).toEqual([1, 2, 3, 4]);
  });

  it("does not retry a 4xx other than 429", async () => {
    responder.intercept = () => ({ status: 400, body: { detail: "bad" } });
    const { client, waits } = recordingClient();
    expect((await client.request("GET", "/Users")).status).toBe(400);
    expect(waits).toEqual([]);
    expect(responder.requests).toHaveLength(1);
  });

  it("really sleeps between attempts when no sleep is given", async () => {
    let calls = 0;
    responder.intercept = () => (++calls < 3 ? { status: 429 } : undefined);
    const client = scimClient({ baseUrl: responder.baseUrl, token: TOKEN, userAgent: "x", backoffMs: 20 });
    const started = performance.now();
    expect((await client.request("GET", "/Users")).status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(55); // 20 + 40
  });

  it("turns a status still failing after the retries into an IdpError naming the request", async () => {
    responder.intercept = () => ({ status: 503, body: { schemas: [], detail: "maintenance", status: "503" } });
    const okta = oktaClient({ baseUrl: responder.baseUrl, token: TOKEN, retries: 1, sleep: async () => {} });
    const failure = await okta.deleteGroup("g1").catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(IdpError);
    expect(failure).toMatchObject({ code: "unexpected_status", message: "DELETE /Groups/g1 answered 503, expected 204: maintenance" });
    expect(responder.requests).toHaveLength(2);
  });

  it("encodes query values with %20 for spaces and leaves out absent ones", () => {
    expect(query({ filter: 'displayName eq "R&D team"', startIndex: 1, count: undefined })).toBe(
      "?filter=displayName%20eq%20%22R%26D%20team%22&startIndex=1",
    );
    expect(query({})).toBe("");
  });
});
