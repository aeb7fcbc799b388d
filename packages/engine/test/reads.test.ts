import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUpstreamClient, type Integration, loadIntegrations, readList, readListWithBytes, UpstreamShapeError } from "../src/index.ts";

// A real HTTP upstream on loopback answering whatever body the test sets, with JumpCloud's
// definition from mappings/ (v1 pages: {totalCount, results}).
describe("readListWithBytes: parsed records with the upstream's own bytes beside them", () => {
  let server: Server;
  let body = "";
  let contentType = "application/json";
  let target: { integration: Integration; config: Record<string, unknown>; credentials: Record<string, string> };
  const client = createUpstreamClient({ network: { allowPrivate: true }, retries: 0 });

  beforeAll(async () => {
    server = createServer((_req, res) => res.writeHead(200, { "content-type": contentType }).end(body));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const integration = loadIntegrations(fileURLToPath(new URL("../../../mappings", import.meta.url))).get("jumpcloud")!;
    const { port } = server.address() as AddressInfo;
    target = { integration, config: { base_url: `http://127.0.0.1:${port}` }, credentials: { api_key: "k" } };
  });
  afterAll(async () => {
    await client.close();
    await new Promise((resolve) => server.close(resolve));
  });

  const request = (limit: number) => ({
    path: "/systemusers",
    query: {},
    pagination: target.integration.pagination.v1,
    records: undefined,
    limit,
  });
  const read = (limit = 10) => readListWithBytes(client, target, request(limit));

  it("keeps each record's bytes exactly as sent (spacing, escapes, UTF-8) and parses each one", async () => {
    const sent = ['{ "_id": "a",  "name": "caf\\u00e9" }', '{"_id":"b","name":"Zoë Ünal 😀"}', '{"_id":"c","n":[1, 2.5e3, true, null]}'];
    body = `{"totalCount": 3, "results": [\n  ${sent.join(",\n  ")}\n]}`;
    const page = await read();
    expect(page.bytes.map((b) => b.toString("utf8"))).toEqual(sent);
    expect(page.records).toEqual([
      { _id: "a", name: "café" },
      { _id: "b", name: "Zoë Ünal 😀" },
      { _id: "c", n: [1, 2500, true, null] },
    ]);
    expect(page.next).toBeUndefined();
    // The same page read without bytes gives the same records.
    expect((await readList(client, target, request(10))).records).toEqual(page.records);
  });

  it("takes only the records asked for, and says more follow", async () => {
    body = JSON.stringify({ totalCount: 5, results: [1, 2, 3, 4, 5].map((n) => ({ _id: String(n) })) });
    const page = await read(2);
    expect(page.records).toEqual([{ _id: "1" }, { _id: "2" }]);
    expect(page.bytes.map(String)).toEqual(['{"_id":"1"}', '{"_id":"2"}']);
    expect(page.next).toEqual({ o: 2, f: expect.any(String) });
  });

  it("fails as invalid JSON, not with a SyntaxError, when a record the scan let through does not parse", async () => {
    // The scan checks structure; what is inside a string (here a bad escape) only JSON.parse checks.
    body = '{"totalCount":1,"results":[{"_id":"a\\x"}]}';
    await expect(read()).rejects.toBeInstanceOf(UpstreamShapeError);
    await expect(read()).rejects.toThrow(/not valid JSON/);
  });

  it("refuses a page that does not say it is JSON, as a parsed read does", async () => {
    body = '{"totalCount":1,"results":[{"_id":"a"}]}';
    contentType = "text/html";
    try {
      await expect(read()).rejects.toBeInstanceOf(UpstreamShapeError);
      await expect(readList(client, target, request(10))).rejects.toBeInstanceOf(UpstreamShapeError);
    } finally {
      contentType = "application/json";
    }
  });

  it("falls back to parsing the page when the scan declines it, bytes then serialised from the records", async () => {
    // An escaped key is compared only after decoding, which the scan leaves to JSON.parse.
    body = '{"totalCount":1,"\\u0072esults":[{"_id":"x", "a": 1}]}';
    const page = await read();
    expect(page.records).toEqual([{ _id: "x", a: 1 }]);
    expect(page.bytes.map(String)).toEqual(['{"_id":"x","a":1}']);
  });
});
