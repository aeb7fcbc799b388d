import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Gateway, keyCheckingUpstream, startGateway, startStubUpstream } from "./harness.ts";

describe("connections: bad input", () => {
  let gw: Gateway;
  let upstream: Awaited<ReturnType<typeof keyCheckingUpstream>>;
  const valid = () => ({
    tenant_id: "acme",
    integration: "jumpcloud",
    credentials: { api_key: "good-key" },
    config: { base_url: upstream.url },
  });

  beforeAll(async () => {
    gw = await startGateway();
    upstream = await keyCheckingUpstream();
  });
  afterAll(async () => {
    await upstream.close();
    await gw.close();
  });

  async function expectInvalid(body: unknown, path: string, query = "") {
    const count = async () => (await gw.call("GET", "/connections?limit=200")).body.result.length;
    const before = await count();
    const res = await gw.call("POST", `/connections${query}`, { body });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: "invalid_request", status: 400, request_id: expect.stringMatching(/^req_/) });
    expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
    expect(await count()).toBe(before); // nothing half-written
    return res;
  }

  it("rejects a missing tenant_id", () => expectInvalid({ ...valid(), tenant_id: undefined }, "tenant_id"));
  it("rejects a credentials value of the wrong type", () =>
    expectInvalid({ ...valid(), credentials: { api_key: 42 } }, "credentials.api_key"));
  it("rejects an unknown integration, listing the known ones", async () => {
    const res = await expectInvalid({ ...valid(), integration: "zendesk" }, "integration");
    expect(res.body.error.details[0].message).toContain("jostle-scim");
  });
  it("rejects a missing required credential", () => expectInvalid({ ...valid(), credentials: {} }, "credentials.api_key"));
  it("rejects a credential field the integration does not declare", () =>
    expectInvalid({ ...valid(), credentials: { api_key: "good-key", password: "x" } }, "credentials.password"));
  it("rejects a config field the integration does not declare", () =>
    expectInvalid({ ...valid(), integration: "postman-scim", config: { org_id: "x" } }, "config.org_id"));
  it("rejects a base_url that is not http(s)", () =>
    expectInvalid({ ...valid(), config: { base_url: "file:///etc/passwd" } }, "config.base_url"));
  it("rejects unknown top-level fields", () => expectInvalid({ ...valid(), owner: "me" }, ""));

  it("rejects credentials the upstream refuses, with the upstream's answer, and stores nothing", async () => {
    const before = (await gw.call("GET", "/connections?limit=200")).body.result.length;
    const refused = await gw.call("POST", "/connections", { body: { ...valid(), credentials: { api_key: "bad" } } });
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe("invalid_request");
    expect(refused.body.error.upstream).toEqual({ status: 401, body: { message: "Unauthorized" } });
    expect((await gw.call("GET", "/connections?limit=200")).body.result.length).toBe(before);
  });

  it("answers a body that is not JSON with 400", async () => {
    const res = await gw.call("POST", "/connections", { rawBody: "{not json", headers: { "content-type": "application/json" } });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("invalid_request");
  });

  it("answers a body over 1 MB with 413 payload_too_large", async () => {
    const res = await gw.call("POST", "/connections", { body: { ...valid(), name: "x".repeat(1024 * 1024 + 10) } });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe("payload_too_large");
  });

  it.each([["limit=0"], ["limit=201"], ["limit=ten"], ["status=sleeping"]])("rejects the list query %s", async (query) => {
    const res = await gw.call("GET", `/connections?${query}`);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("invalid_request");
  });

  it("rejects a forged, truncated or foreign cursor with 400 invalid_cursor", async () => {
    for (let i = 0; i < 3; i++) await gw.call("POST", "/connections", { body: valid() });
    const first = await gw.call("GET", "/connections?tenant_id=acme&limit=1");
    const cursor: string = first.body.next_cursor;
    expect(cursor).toEqual(expect.any(String));
    // One character changed in the middle (to another one: replacing an "A" with "A" forges nothing).
    const changed = cursor[60] === "A" ? "B" : "A";
    const bad = ["not-a-cursor", cursor.slice(0, -4), `${cursor.slice(0, 60)}${changed}${cursor.slice(61)}`];
    for (const token of bad) {
      const res = await gw.call("GET", `/connections?tenant_id=acme&limit=1&cursor=${encodeURIComponent(token)}`);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe("invalid_cursor");
    }
    // A real cursor, presented for another filter, is foreign.
    const foreign = await gw.call("GET", `/connections?tenant_id=other&limit=1&cursor=${encodeURIComponent(cursor)}`);
    expect(foreign.status).toBe(400);
    expect(foreign.body.error.message).toMatch(/another list/);
    const elsewhere = await gw.call("GET", `/api-keys?cursor=${encodeURIComponent(cursor)}`);
    expect(elsewhere.body.error.code).toBe("invalid_cursor");
  });

  it("answers an unknown connection id, uuid or not, with 404 not_found", async () => {
    for (const id of ["5b1b7a5e-7c1d-4a43-9a55-8b8f1f0b2c3d", "nope"]) {
      for (const [method, path] of [
        ["GET", `/connections/${id}`],
        ["DELETE", `/connections/${id}`],
        ["POST", `/connections/${id}/verify`],
      ] as const) {
        const res = await gw.call(method, path);
        expect(res.status).toBe(404);
        expect(res.body.error.code).toBe("not_found");
      }
    }
  });

  it("answers an unknown route with 404 in the error shape", async () => {
    const res = await gw.call("GET", "/no/such/route");
    expect(res.status).toBe(404);
    expect(res.body.error).toMatchObject({ code: "not_found", status: 404 });
  });

  it("answers an unreachable upstream during verification with 502 naming it", async () => {
    const res = await gw.call("POST", "/connections", { body: { ...valid(), config: { base_url: "http://127.0.0.1:9" } } });
    expect(res.status).toBe(502);
    expect(res.body.error.code).toBe("upstream_error");
    expect(res.body.error.message).toMatch(/JumpCloud: http:\/\/127\.0\.0\.1:9 could not be reached/);
  });

  it("answers a JSON route sent another content type, or none, with 415 in the error shape, and writes nothing", async () => {
    const count = async () => (await gw.call("GET", "/connections?limit=200")).body.result.length;
    const before = await count();
    const body = JSON.stringify({ tenant_id: "acme", integration: "jumpcloud", credentials: { api_key: "good-key" } });
    const routes = [
      ["POST", "/connections?verify=false"],
      ["POST", "/api-keys"],
      ["POST", "/unified/user-directory/users?connection_id=x"],
      ["POST", "/unified/user-directory/users/batch?connection_id=x"],
      ["PATCH", "/connections/00000000-0000-4000-a000-000000000000"],
    ];
    for (const [method, path] of routes) {
      for (const type of ["text/plain", "application/x-www-form-urlencoded", undefined]) {
        const res = await fetch(`${gw.url}${path}`, {
          method,
          body: new TextEncoder().encode(body),
          headers: { authorization: `Bearer ${gw.adminKey}`, ...(type && { "content-type": type }) },
        });
        expect(res.status, `${method} ${path} ${type}`).toBe(415);
        const answer = (await res.json()) as { error: { code: string; request_id: string } };
        expect(answer.error.code).toBe("unsupported_media_type");
        expect(answer.error.request_id).toMatch(/^req_/);
      }
    }
    // application/json with a charset, and the +json types, are JSON.
    const ok = await fetch(`${gw.url}/api-keys`, {
      method: "POST",
      body: JSON.stringify({ name: "typed", scope: "api" }),
      headers: { authorization: `Bearer ${gw.adminKey}`, "content-type": "application/json; charset=utf-8" },
    });
    expect(ok.status).toBe(201);
    expect(await count()).toBe(before);
  });

  it("a base URL that answers 2xx with a web page, or JSON naming no account, is no working connection: 502, nothing saved", async () => {
    const page = await startStubUpstream((_req, res) => res.writeHead(200, { "content-type": "text/html" }).end("<html>Welcome</html>"));
    const bare = await startStubUpstream((_req, res) => res.writeHead(200, { "content-type": "application/json" }).end("{}"));
    try {
      const count = async () => (await gw.call("GET", "/connections?limit=200")).body.result.length;
      const before = await count();
      for (const [stub, said] of [
        [page, /JumpCloud: the credential check answered 200 with text\/html, not the JSON it expects \(upstream status 200\)/],
        [bare, /JumpCloud: the credential check answered 200 without the account it names \(upstream status 200\)/],
      ] as const) {
        const res = await gw.call("POST", "/connections", { body: { ...valid(), config: { base_url: stub.url } } });
        expect(res.status, res.text).toBe(502);
        expect(res.body.error.code).toBe("upstream_error");
        expect(res.body.error.message).toMatch(said);
      }
      expect(await count()).toBe(before);
      // Re-verifying a saved connection against such an answer does not mark it active either.
      const saved = await gw.call("POST", "/connections?verify=false", { body: { ...valid(), config: { base_url: page.url } } });
      expect(saved.status).toBe(201);
      const check = await gw.call("POST", `/connections/${saved.body.id}/verify`);
      expect(check.status).toBe(502);
    } finally {
      await page.close();
      await bare.close();
    }
  });
});
