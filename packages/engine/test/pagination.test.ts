import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  createUpstreamClient,
  type Integration,
  integrationDefinition,
  InvalidPosition,
  type ListRequest,
  type PaginationStyle,
  paginationStyle,
  type Position,
  readList,
  readListWithBytes,
  readRawList,
  UpstreamShapeError,
} from "../src/index.ts";

/*
 * The walk over an upstream list, for every pagination style, against a real HTTP upstream on
 * loopback that pages a fixed list of 23 people strictly (it refuses a page larger than its
 * maximum, and a position it never handed out). What must hold for a caller paging through the
 * gateway: every record exactly once and in order, full pages until the last, `next` undefined
 * exactly at the end, and an upstream that does not page as declared is refused, not walked
 * forever or answered with records twice.
 */
const PEOPLE = Array.from({ length: 23 }, (_, i) => ({ id: `p${String(i + 1).padStart(2, "0")}`, n: i + 1 }));
const ids = (records: unknown[]) => records.map((r) => (r as { id: string }).id);

type Handler = (url: URL, req: IncomingMessage, res: ServerResponse) => void;
let server: Server;
let handler: Handler = (_url, _req, res) => void res.writeHead(500).end();
/** Every upstream request of the current test, as the upstream saw it. */
let seen: URL[] = [];
let origin = "";
const client = createUpstreamClient({ network: { allowPrivate: true }, retries: 0 });

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://upstream");
    seen.push(url);
    handler(url, req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterEach(() => {
  seen = [];
});
afterAll(async () => {
  await client.close();
  await new Promise((resolve) => server.close(resolve));
});

const json = (res: ServerResponse, body: unknown, headers: Record<string, string> = {}) =>
  void res.writeHead(200, { "content-type": "application/json", ...headers }).end(typeof body === "string" ? body : JSON.stringify(body));
const refuse = (res: ServerResponse, why: string) =>
  void res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ why }));

/** An integration whose one list pages in `style` (as written under `pagination:` in integration.yaml). */
function targetOf(style: unknown, basePath = "/api") {
  const definition = integrationDefinition.parse({
    name: "Paged directory",
    base_url: "https://directory.example.com/api",
    credentials: { token: { label: "API token" } },
    auth: { headers: { authorization: "Bearer {{credentials.token}}" } },
    verify: { path: "/me" },
    pagination: { pages: style },
  });
  const integration: Integration = { ...definition, slug: "paged", dir: "/nowhere", mappings: new Map() };
  return {
    target: { integration, config: { base_url: `${origin}${basePath}` }, credentials: { token: "secret-token-1" } },
    pagination: integration.pagination.pages as PaginationStyle,
  };
}

type Read = typeof readList | typeof readListWithBytes;
/** One gateway page; the position goes through JSON, as it does sealed in a cursor. */
async function page(
  style: unknown,
  limit: number,
  position?: Position,
  options: { read?: Read; path?: string; query?: ListRequest["query"]; basePath?: string } = {},
) {
  const { target, pagination } = targetOf(style, options.basePath);
  const req: ListRequest = {
    path: options.path ?? "/people",
    query: options.query ?? {},
    pagination,
    records: undefined,
    limit,
    position: position === undefined ? undefined : JSON.parse(JSON.stringify(position)),
  };
  return (options.read ?? readList)(client, target, req);
}

/** Every gateway page of the list at this limit. */
async function walkAll(style: unknown, limit: number, read: Read = readList) {
  const pages: { ids: string[]; next: Position | undefined }[] = [];
  let position: Position | undefined;
  do {
    const got = await page(style, limit, position, { read });
    pages.push({ ids: ids(got.records), next: got.next });
    position = got.next;
  } while (position && pages.length < 100);
  return pages;
}

/** Every record once, in order; every page but the last full and followed; the last not followed. */
function expectExactWalk(pages: { ids: string[]; next: Position | undefined }[], limit: number) {
  expect(pages.flatMap((p) => p.ids)).toEqual(ids(PEOPLE));
  expect(pages.length).toBe(Math.ceil(PEOPLE.length / limit));
  for (const p of pages.slice(0, -1)) {
    expect(p.ids).toHaveLength(limit);
    expect(p.next).toBeDefined();
  }
  expect(pages.at(-1)!.ids.length).toBeGreaterThan(0);
  expect(pages.at(-1)!.next).toBeUndefined();
}

/** An offset upstream: `skip`/`take` from `base`, at most `max` a page, the total where asked. */
function offsetUpstream(o: {
  max: number;
  base?: 0 | 1;
  total?: "body" | "header";
  records?: string;
  offset?: string;
  size?: string;
  ignoreOffset?: boolean;
}): Handler {
  const [offsetParam, sizeParam, base] = [o.offset ?? "skip", o.size ?? "take", o.base ?? 0];
  return (url, _req, res) => {
    if (url.pathname !== "/api/people") return void res.writeHead(404).end();
    const at = Number(url.searchParams.get(offsetParam)) - base;
    const size = Number(url.searchParams.get(sizeParam));
    if (!Number.isInteger(at) || at < 0) return refuse(res, `bad ${offsetParam}`);
    if (!Number.isInteger(size) || size < 1 || size > o.max) return refuse(res, `bad ${sizeParam}`);
    const data = o.ignoreOffset ? PEOPLE.slice(0, size) : PEOPLE.slice(at, at + size);
    const body = o.records ? { [o.records]: data, ...(o.total === "body" && { total: PEOPLE.length }) } : data;
    json(res, body, o.total === "header" ? { "x-total-count": String(PEOPLE.length) } : {});
  };
}

describe("offsets", () => {
  const style = (extra: Record<string, unknown>) => ({ offset_param: "skip", limit_param: "take", records: "data", ...extra });

  for (const total of ["body", "header", undefined] as const) {
    for (const max of [4, 23, 100]) {
      for (const limit of [1, 4, 5, 23, 50]) {
        it(`walks every record once at limit ${limit}, vendor maximum ${max}, total ${total ?? "not reported"}`, async () => {
          handler = offsetUpstream({ max, total, records: "data" });
          const declared = style({
            max,
            ...(total === "body" && { total: "total" }),
            ...(total === "header" && { total_header: "X-Total-Count" }),
          });
          expectExactWalk(await walkAll(declared, limit), limit);
          // Never a page larger than the vendor's maximum (the stub refuses those), nor a position past the list.
          expect(seen.every((url) => Number(url.searchParams.get("skip")) <= PEOPLE.length)).toBe(true);
        });
      }
    }
  }

  it("counts from 1 where the vendor does (SCIM's startIndex), with SCIM's names for everything", async () => {
    handler = (url, _req, res) => {
      const start = Number(url.searchParams.get("startIndex"));
      const count = Number(url.searchParams.get("count"));
      if (start < 1 || count < 1 || count > 10) return refuse(res, "bad page");
      json(res, { totalResults: PEOPLE.length, Resources: PEOPLE.slice(start - 1, start - 1 + count) });
    };
    expectExactWalk(await walkAll({ type: "scim", max: 10 }, 6), 6);
    expect(seen[0]!.searchParams.get("startIndex")).toBe("1");
  });

  it("asks for one record more than the page needs, so a list without a total still knows whether more follow", async () => {
    handler = offsetUpstream({ max: 100, records: "data" });
    const first = await page(style({ max: 100 }), 5);
    expect(ids(first.records)).toEqual(ids(PEOPLE.slice(0, 5)));
    expect(first.next).toMatchObject({ o: 5 });
    expect(seen.map((u) => u.searchParams.get("take"))).toEqual(["6"]);
    // The rest in one page: no more follow, and no further request was needed to know it.
    seen = [];
    const rest = await page(style({ max: 100 }), 50, first.next);
    expect(ids(rest.records)).toEqual(ids(PEOPLE.slice(5)));
    expect(rest.next).toBeUndefined();
    expect(seen).toHaveLength(1);
  });

  it("with a total, a full page that ends the list asks nothing more; without one, a one-record probe tells", async () => {
    handler = offsetUpstream({ max: 23, records: "data", total: "body" });
    const known = await page(style({ max: 23, total: "total" }), 23);
    expect(known.next).toBeUndefined();
    expect(seen).toHaveLength(1);
    seen = [];
    handler = offsetUpstream({ max: 23, records: "data" });
    const unknown = await page(style({ max: 23 }), 23);
    expect(unknown.next).toBeUndefined();
    expect(ids(unknown.records)).toEqual(ids(PEOPLE));
    expect(seen.map((u) => [u.searchParams.get("skip"), u.searchParams.get("take")])).toEqual([
      ["0", "23"],
      ["23", "1"],
    ]);
  });

  it("with a total, stops at a full page when the limit is reached, and says more follow", async () => {
    handler = offsetUpstream({ max: 4, records: "data", total: "header" });
    const got = await page(style({ max: 4, total_header: "x-total-count" }), 8);
    expect(ids(got.records)).toEqual(ids(PEOPLE.slice(0, 8)));
    expect(got.next).toMatchObject({ o: 8 });
    expect(seen).toHaveLength(2);
  });

  it("sends the declared fixed query and the caller's filters with every page, the position winning over both", async () => {
    handler = (url, req, res) =>
      url.searchParams.get("sort") === "id" ? offsetUpstream({ max: 5, records: "data" })(url, req, res) : refuse(res, "unsorted");
    const got = await page(style({ max: 5, query: { sort: "id", skip: "99" } }), 12, undefined, { query: { status: "active", take: "1" } });
    expect(ids(got.records)).toEqual(ids(PEOPLE.slice(0, 12)));
    expect(seen.every((u) => u.searchParams.get("sort") === "id" && u.searchParams.get("status") === "active")).toBe(true);
  });

  it("ends at an empty page whatever total the upstream claims", async () => {
    handler = (url, _req, res) => {
      const at = Number(url.searchParams.get("skip"));
      json(res, { data: PEOPLE.slice(at, Math.min(at + Number(url.searchParams.get("take")), 8)), total: 1_000 });
    };
    const got = await page(style({ max: 4, total: "total" }), 50);
    expect(ids(got.records)).toEqual(ids(PEOPLE.slice(0, 8)));
    expect(got.next).toBeUndefined();
    // A short page with a larger total is followed; the empty page after it ends the list.
    const followed = await page(style({ max: 4, total: "total" }), 50, { o: 6 });
    expect(ids(followed.records)).toEqual(["p07", "p08"]);
    expect(followed.next).toEqual({ o: 8, f: expect.any(String) });
    expect(await page(style({ max: 4, total: "total" }), 50, followed.next)).toMatchObject({ records: [], next: undefined });
  });

  it("ends a short page when the total says so, and follows a short page when the total says more", async () => {
    // A vendor that answers short pages (at most 3) though asked for 4, but reports its total.
    handler = (url, _req, res) => {
      const at = Number(url.searchParams.get("skip"));
      json(res, { data: PEOPLE.slice(at, at + Math.min(3, Number(url.searchParams.get("take")))), total: PEOPLE.length });
    };
    const first = await page(style({ max: 4, total: "total" }), 3);
    expect(ids(first.records)).toEqual(ids(PEOPLE.slice(0, 3)));
    expect(first.next).toMatchObject({ o: 3 });
    const short = await page(style({ max: 4, total: "total" }), 10, { o: 20 });
    expect(ids(short.records)).toEqual(ids(PEOPLE.slice(20)));
    expect(short.next).toBeUndefined();
  });

  it("refuses an upstream that ignores the offset, within a page and on the caller's next page", async () => {
    handler = offsetUpstream({ max: 4, records: "data", ignoreOffset: true });
    await expect(page(style({ max: 4 }), 10)).rejects.toThrow(/position 4 .* it does not page by skip/);
    const first = await page(style({ max: 4 }), 3);
    expect(first.next).toEqual({ o: 3, f: expect.any(String) });
    await expect(page(style({ max: 4 }), 3, first.next)).rejects.toThrow(UpstreamShapeError);
    // A position counted from 1 is named as the vendor counts.
    handler = (url, _req, res) => json(res, { Resources: PEOPLE.slice(0, Number(url.searchParams.get("count"))), totalResults: 23 });
    await expect(page({ type: "scim", max: 4 }, 10)).rejects.toThrow(/position 5 .*startIndex/);
  });

  it("a page that starts past the end is empty, with nothing to follow", async () => {
    handler = offsetUpstream({ max: 10, records: "data" });
    const got = await page(style({ max: 10 }), 5, { o: 23 });
    expect(got.records).toEqual([]);
    expect(got.next).toBeUndefined();
  });

  it("refuses a position the walk could not have made", async () => {
    handler = offsetUpstream({ max: 10, records: "data" });
    for (const bad of [null, "3", { o: -1 }, { o: 1.5 }, { o: "2" }, {}, { o: 2, f: 7 }, { k: 2, i: 0 }]) {
      await expect(page(style({ max: 10 }), 5, bad as Position), JSON.stringify(bad)).rejects.toBeInstanceOf(InvalidPosition);
    }
    expect(seen).toEqual([]);
    expect((await page(style({ max: 10 }), 5, { o: 0 })).records).toHaveLength(5);
    expect(new InvalidPosition()).toMatchObject({ name: "InvalidPosition", message: "the cursor does not belong to this list" });
  });
});

describe("an unpaged list, paged by the gateway", () => {
  const read = (limit: number, position?: Position, records?: string) => {
    const { target } = targetOf({ offset_param: "o", limit_param: "l", max: 5 });
    return readList(client, target, { path: "/people", query: {}, pagination: undefined, records, limit, position });
  };

  it("gives every record once at any limit, from the one answer", async () => {
    handler = (_url, _req, res) => json(res, { members: PEOPLE });
    for (const limit of [1, 5, 23, 40]) {
      const got: string[] = [];
      let position: Position | undefined;
      let pages = 0;
      do {
        const one = await read(limit, position, "members");
        got.push(...ids(one.records));
        pages++;
        position = one.next;
        if (position) expect(one.records).toHaveLength(limit);
      } while (position && pages < 50);
      expect(got).toEqual(ids(PEOPLE));
      expect(pages).toBe(Math.ceil(PEOPLE.length / limit));
    }
  });

  it("answers past the end with no records, and refuses a negative position", async () => {
    handler = (_url, _req, res) => json(res, PEOPLE);
    expect(await read(5, { o: 30 })).toMatchObject({ records: [], next: undefined });
    expect(ids((await read(5, { o: 21 })).records)).toEqual(["p22", "p23"]);
    await expect(read(5, { o: -2 })).rejects.toBeInstanceOf(InvalidPosition);
  });

  it("`$` takes the answer itself as the one record, in every read, and refuses an answer that is no object", async () => {
    const org = { id: "o1", name: "Acme", tags: ["a"] };
    handler = (_url, _req, res) => json(res, org);
    const { target } = targetOf({ offset_param: "o", limit_param: "l", max: 5 });
    const req = { path: "/org", query: {}, pagination: undefined, records: "$", limit: 5 };
    expect(await readList(client, target, req)).toMatchObject({ records: [org], next: undefined });
    const withBytes = await readListWithBytes(client, target, req);
    expect(withBytes.records).toEqual([org]);
    expect(withBytes.bytes.map((b) => JSON.parse(b.toString()))).toEqual([org]);
    const raw = await readRawList(client, target, req);
    expect(JSON.parse(`[${Buffer.concat(raw.parts).toString()}]`)).toEqual([org]);
    for (const body of [[org], "text", null]) {
      handler = (_url, _req, res) => json(res, JSON.stringify(body));
      await expect(readList(client, target, req), JSON.stringify(body)).rejects.toThrow("the upstream answer is not a JSON object");
    }
  });
});

/** `?page=N&per_page=S`, numbered from `first`, with the total in the body when asked. */
function pageUpstream(o: { max: number; first?: 0 | 1; total?: boolean; sizeParam?: string; ignorePage?: boolean }): Handler {
  const first = o.first ?? 1;
  return (url, _req, res) => {
    const number = Number(url.searchParams.get("page"));
    const size = o.sizeParam ? Number(url.searchParams.get(o.sizeParam)) : o.max;
    if (!Number.isInteger(number) || number < first) return refuse(res, "bad page");
    if (size !== o.max) return refuse(res, "pages must keep their size");
    const from = o.ignorePage ? 0 : (number - first) * size;
    json(res, { items: PEOPLE.slice(from, from + size), ...(o.total && { total: PEOPLE.length }) });
  };
}

describe("page numbers", () => {
  const style = (extra: Record<string, unknown>) => ({ type: "page", page_param: "page", records: "items", ...extra });

  for (const first of [0, 1] as const) {
    for (const total of [true, false]) {
      for (const max of [4, 23]) {
        for (const limit of [1, 3, 4, 9, 50]) {
          it(`walks every record once at limit ${limit}, ${max} a page from page ${first}, total ${total ? "in the body" : "not reported"}`, async () => {
            handler = pageUpstream({ max, first, total, sizeParam: "per_page" });
            const pages = await walkAll(style({ max, first_page: first, size_param: "per_page", ...(total && { total: "total" }) }), limit);
            expect(pages.flatMap((p) => p.ids)).toEqual(ids(PEOPLE));
            for (const p of pages.slice(0, -1)) expect(p.ids).toHaveLength(limit);
            expect(pages.at(-1)!.next).toBeUndefined();
            // With a total the walk knows the end; without, a last page exactly full costs one empty page more.
            const exact = total || PEOPLE.length % max !== 0;
            if (exact) expectExactWalk(pages, limit);
            expect(seen.every((u) => Number(u.searchParams.get("page")) >= first)).toBe(true);
          });
        }
      }
    }
  }

  it("asks for no page after a short one, nor after the last by the total", async () => {
    handler = pageUpstream({ max: 4, total: true });
    const got = await page(style({ max: 4, total: "total" }), 50);
    expect(ids(got.records)).toEqual(ids(PEOPLE));
    expect(seen.map((u) => u.searchParams.get("page"))).toEqual(["1", "2", "3", "4", "5", "6"]);
    seen = [];
    handler = pageUpstream({ max: 4 });
    expect(ids((await page(style({ max: 4 }), 50)).records)).toEqual(ids(PEOPLE));
    expect(seen.map((u) => u.searchParams.get("page"))).toEqual(["1", "2", "3", "4", "5", "6"]);
  });

  it("a cursor inside an upstream page resumes at the record after the last given, from the same page", async () => {
    handler = pageUpstream({ max: 4, total: true });
    const first = await page(style({ max: 4, total: "total" }), 6);
    expect(ids(first.records)).toEqual(ids(PEOPLE.slice(0, 6)));
    expect(first.next).toEqual({ k: 2, i: 2, f: expect.any(String) });
    seen = [];
    const second = await page(style({ max: 4, total: "total" }), 2, first.next);
    expect(ids(second.records)).toEqual(["p07", "p08"]);
    expect(second.next).toMatchObject({ k: 3, i: 0 });
    expect(seen.map((u) => u.searchParams.get("page"))).toEqual(["2"]);
  });

  it("a cursor into a page that has since lost records gives what follows it (nothing here), never an empty part", async () => {
    // People 5 to 8 are deleted between the caller's two pages: page 2 now holds 9 to 12.
    let people = PEOPLE;
    handler = (url, _req, res) => {
      const number = Number(url.searchParams.get("page"));
      json(res, { items: people.slice((number - 1) * 4, number * 4) });
    };
    const declared = style({ max: 4 });
    const first = await page(declared, 6);
    expect(first.next).toMatchObject({ k: 2, i: 2 });
    people = [...PEOPLE.slice(0, 4), ...PEOPLE.slice(8, 10)];
    const { target, pagination } = targetOf(declared);
    const raw = await readRawList(client, target, {
      path: "/people",
      query: {},
      pagination,
      records: undefined,
      limit: 5,
      position: first.next,
    });
    // Page 2 (now p09, p10) is past the cursor's record: nothing from it, nothing empty in between.
    expect(raw.count).toBe(0);
    expect(raw.parts).toEqual([]);
    expect(raw.next).toBeUndefined();
  });

  it("refuses an upstream that ignores the page number, and names the page", async () => {
    handler = pageUpstream({ max: 4, ignorePage: true });
    await expect(page(style({ max: 4 }), 10)).rejects.toThrow(/page 2 .*its own next page/);
    const first = await page(style({ max: 4 }), 4);
    expect(first.next).toEqual({ k: 2, i: 0, f: expect.any(String) });
    await expect(page(style({ max: 4 }), 4, first.next)).rejects.toBeInstanceOf(UpstreamShapeError);
  });

  it("refuses a position the walk could not have made", async () => {
    handler = pageUpstream({ max: 4 });
    for (const bad of [null, 2, { i: -1 }, { i: 0.5 }, { i: "1" }, { k: 1.5, i: 0 }, { k: true, i: 0 }, { k: 2, i: 0, f: 1 }, { o: 4 }]) {
      await expect(page(style({ max: 4 }), 5, bad as Position), JSON.stringify(bad)).rejects.toBeInstanceOf(InvalidPosition);
    }
    expect(seen).toEqual([]);
    expect(ids((await page(style({ max: 4 }), 2, { k: 3, i: 1 })).records)).toEqual(["p10", "p11"]);
    expect(ids((await page(style({ max: 4 }), 2, { k: 3, i: 3 })).records)).toEqual(["p12", "p13"]);
  });
});

/** `{data, meta: {next}}`: a token that encodes the next offset, absent (or as the vendor ends) at the end. */
function tokenUpstream(o: { max: number; numeric?: boolean; end?: null | "" | "absent"; same?: boolean }): Handler {
  return (url, _req, res) => {
    const token = url.searchParams.get("after");
    const from = token === null ? 0 : o.numeric ? Number(token) : Number(Buffer.from(token, "base64url").toString().slice(3));
    const size = Number(url.searchParams.get("limit") ?? o.max);
    if (size > o.max || !Number.isInteger(from)) return refuse(res, "bad page");
    const data = PEOPLE.slice(from, from + size);
    const to = o.same ? from : from + data.length;
    const next =
      to < PEOPLE.length
        ? o.numeric
          ? to
          : Buffer.from(`at:${to}`).toString("base64url")
        : o.end === "absent"
          ? undefined
          : (o.end ?? null);
    json(res, { data, meta: next === undefined ? {} : { next } });
  };
}

describe("body tokens", () => {
  const style = { type: "body_token", token: "meta.next", token_param: "after", size_param: "limit", max: 5, records: "data" };

  for (const end of [null, "", "absent"] as const) {
    for (const limit of [1, 5, 7, 30]) {
      it(`walks every record once at limit ${limit}, the last token ${JSON.stringify(end)}`, async () => {
        handler = tokenUpstream({ max: 5, end });
        expectExactWalk(await walkAll(style, limit), limit);
      });
    }
  }

  it("sends a numeric token back as the vendor wrote it", async () => {
    handler = tokenUpstream({ max: 5, numeric: true });
    expectExactWalk(await walkAll(style, 7), 7);
    expect(seen.map((u) => u.searchParams.get("after"))).toContain("5");
  });

  it("asks only for the records the page needs, never more than the vendor's maximum", async () => {
    handler = tokenUpstream({ max: 5 });
    await page(style, 2);
    await page(style, 12);
    expect(seen.map((u) => u.searchParams.get("limit"))).toEqual(["2", "5", "5", "2"]);
  });

  it("refuses an upstream that answers the same token again", async () => {
    handler = tokenUpstream({ max: 5, same: true });
    await expect(page(style, 20)).rejects.toThrow(UpstreamShapeError);
    // New records each time, but always the same token: it would be asked for forever.
    handler = (_url, _req, res) => json(res, { data: PEOPLE.slice(seen.length * 2, seen.length * 2 + 2), meta: { next: "abc" } });
    await expect(page(style, 20)).rejects.toThrow(
      "the upstream answered page abc with records it had already answered for an earlier one: it does not page by its own next page",
    );
  });

  it("ends where the token's path does not lead to a value", async () => {
    handler = (_url, _req, res) => json(res, { data: PEOPLE.slice(0, 3), meta: null });
    expect(await page(style, 10)).toMatchObject({ next: undefined });
    handler = (_url, _req, res) => json(res, { data: PEOPLE.slice(0, 3), meta: "next" });
    expect(await page(style, 10)).toMatchObject({ next: undefined });
    handler = (_url, _req, res) => json(res, { data: PEOPLE.slice(0, 3), meta: { next: { at: 3 } } });
    expect(await page(style, 10)).toMatchObject({ next: undefined });
  });
});

/** A bare array and RFC 8288 links; the next link carries its own cursor and size. */
function linkUpstream(o: { max: number; link: (from: number, size: number) => string }): Handler {
  return (url, _req, res) => {
    if (!url.pathname.startsWith("/api/people")) return void res.writeHead(404).end();
    const from = Number(url.searchParams.get("from") ?? 0);
    const size = Number(url.searchParams.get("per_page") ?? o.max);
    if (size > o.max) return refuse(res, "too large");
    const data = PEOPLE.slice(from, from + size);
    const headers: Record<string, string> = {};
    if (from + data.length < PEOPLE.length)
      headers.link = `<${origin}/api/people>; rel="first", <${o.link(from + data.length, size)}>; rel="next"`;
    json(res, data, headers);
  };
}

describe("link headers", () => {
  const style = { type: "link_header", size_param: "per_page", max: 5 };

  const links = {
    absolute: (from: number, size: number) => `${origin}/api/people?from=${from}&per_page=${size}`,
    "origin-relative": (from: number, size: number) => `/api/people/more?from=${from}&per_page=${size}`,
    "path-relative": (from: number, size: number) => `people?from=${from}&per_page=${size}`,
    "query-only": (from: number, size: number) => `?from=${from}&per_page=${size}`,
  };
  for (const [kind, link] of Object.entries(links)) {
    for (const limit of [1, 5, 7, 30]) {
      it(`follows ${kind} next links, every record once at limit ${limit}`, async () => {
        handler = linkUpstream({ max: 5, link });
        expectExactWalk(await walkAll(style, limit), limit);
      });
    }
  }

  it("sends the size and fixed query on the first request only; the links carry theirs", async () => {
    handler = linkUpstream({ max: 5, link: links.absolute });
    await page({ ...style, query: { sort: "id" } }, 12, undefined, { query: { status: "active" } });
    expect(seen.map((u) => u.search)).toEqual(["?sort=id&status=active&per_page=5", "?from=5&per_page=5", "?from=10&per_page=5"]);
  });

  it("ends at a link header without a next link", async () => {
    handler = (_url, _req, res) => json(res, PEOPLE.slice(0, 3), { link: `<${origin}/api/people>; rel="first"` });
    expect(await page(style, 10)).toMatchObject({ next: undefined });
  });

  it("refuses a next link leaving the connection's base URL, by origin or by path", async () => {
    for (const away of ["http://127.0.0.2:1/api/people?from=5", `${origin}/apiary/people?from=5`, `${origin}/people?from=5`]) {
      handler = linkUpstream({ max: 5, link: () => away });
      await expect(page(style, 10), away).rejects.toThrow(/leaves the connection's base URL/);
    }
  });

  it("follows links under a base URL written with a trailing slash", async () => {
    for (const link of [links.absolute, links["origin-relative"]]) {
      handler = linkUpstream({ max: 5, link });
      const pages: string[][] = [];
      let position: Position | undefined;
      do {
        const got = await page(style, 7, position, { basePath: "/api/" });
        pages.push(ids(got.records));
        position = got.next;
      } while (position && pages.length < 10);
      expect(pages.flat()).toEqual(ids(PEOPLE));
    }
  });

  it("follows a link to the base URL itself", async () => {
    // The list at the base URL's root: its next link is the base path with a query.
    handler = (url, _req, res) => {
      const from = Number(url.searchParams.get("from") ?? 0);
      const data = PEOPLE.slice(from, from + 5);
      json(res, data, from + 5 < PEOPLE.length ? { link: `<${origin}/api?from=${from + 5}>; rel="next"` } : {});
    };
    const got = await page(style, 30, undefined, { path: "/" });
    expect(ids(got.records)).toEqual(ids(PEOPLE));
  });
});

/** The next page's URL in the body, under a property whose name holds a dot, beside `value`. */
function bodyLinkUpstream(o: { max: number; link: (from: number, size: number) => string; end?: null | "" | "absent" }): Handler {
  return (url, _req, res) => {
    if (!url.pathname.startsWith("/api/people")) return void res.writeHead(404).end();
    const from = Number(url.searchParams.get("from") ?? 0);
    const size = Number(url.searchParams.get("$top") ?? o.max);
    if (size > o.max) return refuse(res, "too large");
    const value = PEOPLE.slice(from, from + size);
    const more = from + value.length < PEOPLE.length;
    const end = o.end === "absent" ? {} : { "@odata.nextLink": o.end ?? null };
    json(res, {
      "@odata.context": `${origin}/api/$metadata#people`,
      value,
      ...(more ? { "@odata.nextLink": o.link(from + value.length, size) } : end),
    });
  };
}

describe("body links", () => {
  const style = { type: "body_link", link: ["@odata.nextLink"], size_param: "$top", max: 5, records: "value" };
  const absolute = (from: number, size: number) => `${origin}/api/people?from=${from}&$top=${size}`;

  for (const end of [null, "", "absent"] as const) {
    for (const limit of [1, 5, 7, 30]) {
      it(`follows every link once at limit ${limit}, the last link ${JSON.stringify(end)}`, async () => {
        handler = bodyLinkUpstream({ max: 5, link: absolute, end });
        expectExactWalk(await walkAll(style, limit), limit);
      });
    }
  }

  it("reads a link at a dotted path, and follows one relative to the page it came from", async () => {
    handler = (url, _req, res) => {
      const from = Number(url.searchParams.get("from") ?? 0);
      const data = PEOPLE.slice(from, from + 5);
      const next = from + 5 < PEOPLE.length ? { next: { href: `people?from=${from + 5}` } } : {};
      json(res, { data, _links: { self: { href: url.pathname }, ...next } });
    };
    expectExactWalk(await walkAll({ type: "body_link", link: "_links.next.href", max: 5, records: "data" }, 7), 7);
    expect(seen.slice(1).map((u) => u.pathname)).toEqual(Array(seen.length - 1).fill("/api/people"));
  });

  it("sends the size and fixed query on the first request only; the links carry theirs", async () => {
    handler = bodyLinkUpstream({ max: 5, link: absolute });
    await page({ ...style, query: { $select: "id" } }, 12, undefined, { query: { $filter: "x" } });
    expect(seen.map((u) => decodeURIComponent(u.search))).toEqual(["?$select=id&$filter=x&$top=5", "?from=5&$top=5", "?from=10&$top=5"]);
  });

  it("refuses a next link leaving the connection's base URL, and one the upstream answers again", async () => {
    for (const away of ["http://127.0.0.2:1/api/people?from=5", `${origin}/apiary/people?from=5`]) {
      handler = bodyLinkUpstream({ max: 5, link: () => away });
      await expect(page(style, 10), away).rejects.toThrow(/leaves the connection's base URL/);
    }
    handler = bodyLinkUpstream({ max: 5, link: () => `${origin}/api/people?from=0` });
    await expect(page(style, 20)).rejects.toThrow(UpstreamShapeError);
  });

  it("ends where the link's path leads to something other than a link", async () => {
    for (const link of [{ href: "x" }, 5, ["x"]]) {
      handler = (_url, _req, res) => json(res, { value: PEOPLE.slice(0, 3), "@odata.nextLink": link });
      expect(await page(style, 10)).toMatchObject({ next: undefined });
    }
  });
});

describe("where the records and the total are", () => {
  const style = { offset_param: "skip", limit_param: "take", max: 10, records: "data", total: "total" };
  const reads = { parsed: readList, "with bytes": readListWithBytes } as const;

  for (const [name, read] of Object.entries(reads)) {
    it(`${name}: an answer without the records property is an empty page; one whose records are not a list is refused`, async () => {
      handler = (url, _req, res) => (url.searchParams.get("skip") === "0" ? json(res, { data: PEOPLE.slice(0, 10) }) : json(res, {}));
      const got = await page(style, 50, undefined, { read });
      expect(ids(got.records)).toEqual(ids(PEOPLE.slice(0, 10)));
      expect(got.next).toBeUndefined();
      handler = (_url, _req, res) => json(res, { data: { p01: PEOPLE[0] } });
      await expect(page(style, 5, undefined, { read })).rejects.toThrow('the upstream answer has no record list at "data"');
      handler = (_url, _req, res) => json(res, { p01: PEOPLE[0] });
      await expect(page({ ...style, records: undefined }, 5, undefined, { read })).rejects.toThrow(
        /^the upstream answer has no record list$/,
      );
      handler = (_url, _req, res) => json(res, "null");
      await expect(page(style, 5, undefined, { read })).rejects.toThrow(UpstreamShapeError);
    });

    it(`${name}: a total that is not a number is no total`, async () => {
      for (const total of ["many", null, "23"]) {
        handler = (url, _req, res) => {
          const at = Number(url.searchParams.get("skip"));
          json(res, { data: PEOPLE.slice(at, at + Number(url.searchParams.get("take"))), total });
        };
        seen = [];
        const got = await page({ ...style, max: 23 }, 23, undefined, { read });
        expect(ids(got.records)).toEqual(ids(PEOPLE));
        expect(got.next).toBeUndefined();
        // Only a total known to be 23 spares the probe after the full page.
        expect(seen, String(total)).toHaveLength(total === "23" ? 1 : 2);
      }
    });
  }

  it("reads a total from a header named in any case, and one from the body as a number given in a string", async () => {
    for (const read of [readList, readListWithBytes]) {
      handler = offsetUpstream({ max: 23, records: "data", total: "header" });
      seen = [];
      expect(
        (await page({ ...style, max: 23, total: undefined, total_header: "X-Total-COUNT" }, 23, undefined, { read })).next,
      ).toBeUndefined();
      expect(seen).toHaveLength(1);
    }
  });

  it("keeps each record's bytes as sent, in the raw read and the read with bytes alike", async () => {
    const sent = ['{ "id": "p01",  "name": "caf\\u00e9" }', '{"id":"p02","name":"Zoë"}', '{"id":"p03"}'];
    handler = (url, _req, res) => {
      const at = Number(url.searchParams.get("skip"));
      const data = sent.slice(at, at + Number(url.searchParams.get("take")));
      json(res, `{"total": 3, "data": [ ${data.join(" ,\n ")} ]}`, { "content-type": "application/json; charset=utf-8" });
    };
    const { target, pagination } = targetOf(style);
    const req = { path: "/people", query: {}, pagination, records: undefined, limit: 2 };
    const raw = await readRawList(client, target, req);
    expect(raw.count).toBe(2);
    expect(Buffer.concat(raw.parts).toString()).toBe(`${sent[0]} ,\n ${sent[1]}`);
    const rest = await readRawList(client, target, { ...req, position: raw.next });
    expect(rest.parts.map(String)).toEqual([sent[2]]);
    expect(rest.next).toBeUndefined();
    const bytes = await readListWithBytes(client, target, { ...req, limit: 3 });
    expect(bytes.bytes.map(String)).toEqual(sent);
    expect(bytes.records).toEqual([{ id: "p01", name: "café" }, { id: "p02", name: "Zoë" }, { id: "p03" }]);
  });

  it("a body the scan declines is parsed, and its records serialised, the same records in every read", async () => {
    // An escaped property name is compared only after decoding.
    handler = (_url, _req, res) => json(res, '{"total": 2, "d\\u0061ta": [ {"id": "p01"}, {"id":  "p02"} ]}');
    const { target, pagination } = targetOf(style);
    const req = { path: "/people", query: {}, pagination, records: undefined, limit: 5 };
    const raw = await readRawList(client, target, req);
    expect(`[${raw.parts.map(String).join(",")}]`).toBe('[{"id":"p01"},{"id":"p02"}]');
    expect(raw.next).toBeUndefined();
    const bytes = await readListWithBytes(client, target, req);
    expect(bytes.records).toEqual([{ id: "p01" }, { id: "p02" }]);
    expect(bytes.bytes.map(String)).toEqual(['{"id":"p01"}', '{"id":"p02"}']);
  });

  it("raw reads walk several upstream pages of every style, and still refuse one answered twice", async () => {
    const cases: [unknown, Handler, Handler][] = [
      [
        { ...style, max: 4 },
        offsetUpstream({ max: 4, records: "data", total: "body" }),
        offsetUpstream({ max: 4, records: "data", ignoreOffset: true }),
      ],
      [
        { type: "body_token", token: "meta.next", token_param: "after", size_param: "limit", max: 4, records: "data" },
        tokenUpstream({ max: 4 }),
        (_url, _req, res) => json(res, { data: PEOPLE.slice(0, 4), meta: { next: `t${seen.length}` } }),
      ],
      [
        { type: "link_header", size_param: "per_page", max: 4 },
        linkUpstream({ max: 4, link: (from, size) => `${origin}/api/people?from=${from}&per_page=${size}` }),
        linkUpstream({ max: 4, link: () => `${origin}/api/people?from=0&per_page=4&again=${seen.length}` }),
      ],
    ];
    for (const [declared, honest, repeating] of cases) {
      const { target, pagination } = targetOf(declared);
      const req = { path: "/people", query: {}, pagination, records: undefined, limit: 10 };
      for (const read of [readRawList, readListWithBytes]) {
        handler = honest;
        const got = await read(client, target, req);
        const records = "records" in got ? got.records : JSON.parse(`[${got.parts.map(String).join(",")}]`);
        expect(ids(records), JSON.stringify(declared)).toEqual(ids(PEOPLE.slice(0, 10)));
        handler = repeating;
        await expect(read(client, target, req), JSON.stringify(declared)).rejects.toThrow(/already answered/);
      }
    }
  });

  it("refuses a body that is not an object or list where records are expected, and a record the scan let through that does not parse", async () => {
    for (const body of ['"a string"', "5", "true"]) {
      handler = (_url, _req, res) => json(res, body);
      await expect(page(style, 5), body).rejects.toThrow('the upstream answer has no record list at "data"');
    }
    // A raw tab inside a string: the scan checks structure, JSON.parse what is inside strings.
    handler = (_url, _req, res) => json(res, '{"total": 1, "data": [{"id": "p\t01"}]}');
    await expect(page(style, 5, undefined, { read: readListWithBytes })).rejects.toThrow(
      /^the upstream answered with a body that is not valid JSON$/,
    );
  });

  it("refuses a JSON body that is not UTF-8 rather than passing the bad bytes on", async () => {
    handler = (_url, _req, res) =>
      void res
        .writeHead(200, { "content-type": "application/json" })
        .end(Buffer.concat([Buffer.from('{"data":[{"id":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}]}')]));
    const { target, pagination } = targetOf(style);
    const req = { path: "/people", query: {}, pagination, records: undefined, limit: 5 };
    await expect(readRawList(client, target, req)).rejects.toThrow("the upstream answered with a body that is not valid UTF-8");
    await expect(readListWithBytes(client, target, req)).rejects.toThrow(UpstreamShapeError);
  });
});

describe("declaring a style in integration.yaml", () => {
  it("a style without a type is offsets from 0 with no fixed query", () => {
    expect(paginationStyle.parse({ offset_param: "skip", limit_param: "limit", max: 100 })).toEqual({
      type: "offset",
      offset_param: "skip",
      limit_param: "limit",
      base: 0,
      max: 100,
      query: {},
    });
  });

  it("an offset style may count from 1", () => {
    expect(paginationStyle.parse({ offset_param: "from", limit_param: "n", max: 10, base: 1 })).toMatchObject({ type: "offset", base: 1 });
  });

  it("scim is offsets from 1 under SCIM's names", () => {
    expect(paginationStyle.parse({ type: "scim", max: 50 })).toEqual({
      type: "offset",
      offset_param: "startIndex",
      limit_param: "count",
      base: 1,
      records: "Resources",
      total: "totalResults",
      total_header: undefined,
      max: 50,
      query: {},
    });
  });

  it("pages are numbered from 1 unless said otherwise", () => {
    expect(paginationStyle.parse({ type: "page", page_param: "page", max: 10 })).toMatchObject({ first_page: 1, query: {} });
    expect(paginationStyle.parse({ type: "page", page_param: "page", max: 10, first_page: 0 })).toMatchObject({ first_page: 0 });
  });

  it("a body token is a dotted path", () => {
    const token = (path: string) => paginationStyle.safeParse({ type: "body_token", token: path, token_param: "t", max: 10 }).success;
    expect(["next", "meta.next_cursor", "$page.@next-1"].map(token)).toEqual([true, true, true]);
    expect(["", "meta.", ".next", "meta..next", "meta next", "next/page", "a.b c"].map(token)).toEqual(Array(7).fill(false));
    // The integration's author is told what is expected.
    const refused = paginationStyle.safeParse({ type: "body_token", token: "meta/next", token_param: "t", max: 10 });
    expect(refused.error?.issues.map((issue) => issue.message)).toEqual(["a dotted path such as meta.next_cursor"]);
  });

  it("a body link is a dotted path or the property names, for a name that holds a dot", () => {
    const link = (path: unknown) => paginationStyle.safeParse({ type: "body_link", link: path, max: 10 }).success;
    expect(["next", "_links.next.href", ["@odata.nextLink"], ["a", "b.c"]].map(link)).toEqual([true, true, true, true]);
    expect(["", "meta..next", [], [""], ["a", 1], 5].map(link)).toEqual(Array(6).fill(false));
  });

  it("refuses what would make a walk go wrong: no positive whole maximum, an unknown field, an unknown type, a base other than 0 or 1", () => {
    const bad = [
      { offset_param: "skip", limit_param: "limit", max: 0 },
      { offset_param: "skip", limit_param: "limit", max: 2.5 },
      { offset_param: "skip", limit_param: "limit", max: 10, base: 2 },
      { offset_param: "skip", limit_param: "limit", max: 10, page_param: "page" },
      { type: "scim", max: 10, records: "data" },
      { type: "page", page_param: "page", max: 10, first_page: 2 },
      { type: "page", page_param: "page", max: 10, token: "x" },
      { type: "body_token", token: "next", token_param: "t", max: 10, total: "total" },
      { type: "link_header", max: 10, page_param: "page" },
      { type: "cursor", max: 10 },
      { type: "link_header", max: 10, query: { sort: 1 } },
      { type: "body_link", max: 10 },
      { type: "body_link", link: "next", token_param: "t", max: 10 },
      null,
      "offset",
    ];
    for (const style of bad) expect(paginationStyle.safeParse(style).success, JSON.stringify(style)).toBe(false);
    expect(paginationStyle.safeParse({ type: "link_header", max: 10 }).success).toBe(true);
  });
});
