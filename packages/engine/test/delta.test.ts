import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createUpstreamClient,
  type DeltaQuery,
  type Integration,
  integrationDefinition,
  readDelta,
  UpstreamShapeError,
} from "../src/index.ts";

/*
 * A delta round (readDelta) against a real HTTP upstream on loopback that answers as Graph's
 * delta queries do: pages chained by @odata.nextLink, the last with the @odata.deltaLink of the
 * next round, and a deleted record as {id, "@removed"}.
 */
const PEOPLE = Array.from({ length: 7 }, (_, i) => ({ id: `p${i + 1}`, name: `Person ${i + 1}` }));
let server: Server;
let origin = "";
/** What the delta link of the round answers: the records changed since it. */
let changes: Record<string, unknown>[] = [];
let deltaLink = (token: string) => `${origin}/api/people/delta?token=${token}`;
let seen: string[] = [];
const client = createUpstreamClient({ network: { allowPrivate: true }, retries: 0 });

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://upstream");
    seen.push(`${url.pathname}${url.search}`);
    const from = Number(url.searchParams.get("from") ?? 0);
    const rows = url.searchParams.get("token") === "t1" ? changes : PEOPLE;
    const value = rows.slice(from, from + 3);
    const body =
      from + 3 < rows.length
        ? { value, "@odata.nextLink": `${origin}${url.pathname}?from=${from + 3}${url.searchParams.has("token") ? "&token=t1" : ""}` }
        : { value, "@odata.deltaLink": deltaLink("t1") };
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await client.close();
  await new Promise((resolve) => server.close(resolve));
});

function deltaOf() {
  const definition = integrationDefinition.parse({
    name: "Delta directory",
    base_url: "https://directory.example.com/api",
    credentials: { token: { label: "API token" } },
    auth: { headers: { authorization: "Bearer {{credentials.token}}" } },
    verify: { path: "/me" },
    pagination: { delta: { type: "body_link", link: ["@odata.nextLink"], max: 100, records: "value" } },
    resources: {
      users: {
        delta: {
          path: "/people/delta",
          pagination: "delta",
          delta_link: ["@odata.deltaLink"],
          removed: ["@removed"],
          response_mapping: "users.jsonata",
        },
      },
    },
  });
  const integration: Integration = { ...definition, slug: "delta", dir: "/nowhere", mappings: new Map() };
  return {
    target: { integration, config: { base_url: `${origin}/api` }, credentials: { token: "secret-token-1" } },
    delta: integration.resources.users!.delta as DeltaQuery,
  };
}

/** Every page of one round, from `from`; answers its records, their removed flags and the next link. */
async function round(from: string | undefined, limit = 100) {
  const { target, delta } = deltaOf();
  const records: unknown[] = [];
  const removed: boolean[] = [];
  let position: unknown;
  for (let pages = 0; pages < 20; pages++) {
    const page = await readDelta(client, target, delta, { from, position, limit });
    records.push(...page.records);
    removed.push(...page.removed);
    if (!page.next) return { records, removed, deltaLink: page.deltaLink, pages: pages + 1 };
    expect(page.deltaLink).toBeUndefined();
    position = JSON.parse(JSON.stringify(page.next));
  }
  throw new Error("the round did not end");
}

describe("a delta round", () => {
  it("without a link answers every record, page by page at any limit, then the next round's link under the base URL", async () => {
    for (const limit of [1, 2, 3, 100]) {
      seen = [];
      const got = await round(undefined, limit);
      expect(got.records).toEqual(PEOPLE);
      expect(got.removed).toEqual(PEOPLE.map(() => false));
      expect(got.deltaLink).toBe("/people/delta?token=t1");
      expect(seen[0]).toBe("/api/people/delta");
    }
  });

  it("from a link answers only what changed since, the deleted marked", async () => {
    changes = [{ id: "p2", name: "Renamed" }, { id: "p5", "@removed": { reason: "deleted" } }, ...PEOPLE.slice(0, 3)];
    seen = [];
    const got = await round("/people/delta?token=t1", 2);
    expect(got.records).toEqual(changes);
    expect(got.removed).toEqual([false, true, false, false, false]);
    expect(got.deltaLink).toBe("/people/delta?token=t1");
    expect(seen[0]).toBe("/api/people/delta?token=t1");
  });

  it("refuses a delta link that leaves the base URL, and a last page without one", async () => {
    const away = deltaLink;
    try {
      deltaLink = () => "http://127.0.0.2:1/api/people/delta?token=t1";
      await expect(round(undefined)).rejects.toThrow(/leaves the connection's base URL/);
      deltaLink = () => "";
      await expect(round(undefined)).rejects.toThrow(UpstreamShapeError);
      await expect(round(undefined)).rejects.toThrow("the upstream ended a delta round without the link of the next one");
    } finally {
      deltaLink = away;
    }
  });
});
