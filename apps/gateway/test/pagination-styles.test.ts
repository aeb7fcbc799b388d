import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Gateway, startGateway, startStubUpstream } from "./harness.ts";

/*
 * Pagination is data: each integration below exists only as files in a temporary folder, and
 * each pages in a way none of the shipped ones do. The gateway walks them with no code of theirs.
 */
const PEOPLE = Array.from({ length: 23 }, (_, i) => ({ id: `p${String(i + 1).padStart(2, "0")}`, email: `person${i + 1}@example.com` }));

const definition = (name: string, pagination: string, path: string) => `
name: ${name}
base_url: https://directory.example.com/api
credentials:
  token: { label: API token }
auth:
  headers:
    authorization: "Bearer {{credentials.token}}"
verify: { path: /me }
pagination:
  pages: ${pagination}
resources:
  users:
    list: { path: ${path}, pagination: pages, response_mapping: users.jsonata }
`;
const mapping = `{ "id": id, "username": email, "emails": [{ "email": email, "type": "work", "is_primary": true }] }`;

/** Offsets into PEOPLE, sealed as the stub's own opaque tokens. */
const tokenOf = (offset: number) => Buffer.from(`offset:${offset}`).toString("base64url");
const offsetOf = (token: string | null) => (token ? Number(Buffer.from(token, "base64url").toString().split(":")[1]) : 0);
const sizeOf = (url: URL, param: string, max: number) => Math.min(Number(url.searchParams.get(param) ?? max), max);

/** `{data, meta: {next_cursor}}`, at most 10 a page; the token is absent on the last page. */
function bodyTokenStub(req: IncomingMessage, res: ServerResponse) {
  const url = new URL(req.url ?? "/", "http://stub");
  if (url.pathname !== "/api/v1/people") return res.writeHead(404).end();
  const from = offsetOf(url.searchParams.get("after"));
  const data = PEOPLE.slice(from, from + sizeOf(url, "limit", 10));
  const more = from + data.length < PEOPLE.length;
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify({ data, meta: { next_cursor: more ? tokenOf(from + data.length) : null } }));
}

/** A bare array and RFC 8288 links, at most 5 a page; the next link carries its own cursor and size. */
function linkStub(req: IncomingMessage, res: ServerResponse) {
  const url = new URL(req.url ?? "/", "http://stub");
  if (url.pathname !== "/api/people") return res.writeHead(404).end();
  const from = offsetOf(url.searchParams.get("cursor"));
  const size = sizeOf(url, "per_page", 5);
  const data = PEOPLE.slice(from, from + size);
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (from + data.length < PEOPLE.length) {
    const next = `http://${req.headers.host}/api/people?cursor=${tokenOf(from + data.length)}&per_page=${size}`;
    headers.link = `<http://${req.headers.host}/api/people>; rel="first", <${next}>; rel="next"`;
  }
  res.writeHead(200, headers).end(JSON.stringify(data));
}

/** `?page=N&per_page=4`, numbered from 1, with a total in the body. */
function pageStub(req: IncomingMessage, res: ServerResponse) {
  const url = new URL(req.url ?? "/", "http://stub");
  if (url.pathname !== "/api/people") return res.writeHead(404).end();
  const page = Number(url.searchParams.get("page") ?? 1);
  const data = PEOPLE.slice((page - 1) * 4, page * 4);
  res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ items: data, total: PEOPLE.length }));
}

const styles = {
  "token-directory": {
    stub: bodyTokenStub,
    path: "/v1/people",
    pagination: "{ type: body_token, token: meta.next_cursor, token_param: after, size_param: limit, max: 10, records: data }",
  },
  "link-directory": { stub: linkStub, path: "/people", pagination: "{ type: link_header, size_param: per_page, max: 5 }" },
  "page-directory": {
    stub: pageStub,
    path: "/people",
    pagination: "{ type: page, page_param: page, size_param: per_page, max: 4, records: items, total: total }",
  },
};
type Slug = keyof typeof styles;

describe("pagination styles declared only in integration.yaml", () => {
  let folder: string;
  let gw: Gateway;
  const stubs: Awaited<ReturnType<typeof startStubUpstream>>[] = [];
  const connection = {} as Record<Slug, string>;

  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), "unifold-mappings-"));
    for (const [slug, style] of Object.entries(styles)) {
      mkdirSync(join(folder, slug));
      writeFileSync(join(folder, slug, "integration.yaml"), definition(slug, style.pagination, style.path));
      writeFileSync(join(folder, slug, "users.jsonata"), mapping);
    }
    gw = await startGateway({ mappingsDir: folder });
    for (const [slug, style] of Object.entries(styles) as [Slug, (typeof styles)[Slug]][]) {
      const stub = await startStubUpstream((req, res) => style.stub(req, res));
      stubs.push(stub);
      const res = await gw.call("POST", "/connections?verify=false", {
        body: { tenant_id: "t1", integration: slug, credentials: { token: "secret-token-1" }, config: { base_url: `${stub.url}/api` } },
      });
      expect(res.status).toBe(201);
      connection[slug] = res.body.id;
    }
  });
  afterAll(async () => {
    await gw?.close();
    await Promise.all(stubs.map((stub) => stub.close()));
    rmSync(folder, { recursive: true, force: true });
  });

  /** Every page of the unified users list at this page size. */
  async function walk(slug: Slug, limit: number) {
    const pages: { ids: string[]; next: string | null }[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `connection_id=${connection[slug]}&limit=${limit}&remote_data=false${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      const res = await gw.call("GET", `/unified/user-directory/users?${query}`);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      pages.push({ ids: res.body.result.map((u: { id: string }) => u.id), next: res.body.next_cursor });
      cursor = res.body.next_cursor;
    } while (cursor && pages.length < 100);
    return pages;
  }

  for (const slug of Object.keys(styles) as Slug[]) {
    for (const limit of [1, 7, 50]) {
      it(`${slug}: walks every record exactly once at limit ${limit}, next_cursor null exactly at the end`, async () => {
        const pages = await walk(slug, limit);
        expect(pages.flatMap((p) => p.ids)).toEqual(PEOPLE.map((p) => p.id));
        // Full pages until the last, which is the only one without a cursor and is never empty.
        expect(pages.length).toBe(Math.ceil(PEOPLE.length / limit));
        expect(pages.slice(0, -1).every((p) => p.ids.length === limit && p.next !== null)).toBe(true);
        expect(pages.at(-1)!.next).toBeNull();
      });
    }
  }

  it("answers the unified model from each, with a username and a work email", async () => {
    const res = await gw.call("GET", `/unified/user-directory/users?connection_id=${connection["link-directory"]}&limit=2`);
    expect(res.body.result[0]).toMatchObject({
      id: "p01",
      username: "person1@example.com",
      emails: [{ email: "person1@example.com", type: "work", is_primary: true }],
    });
    expect(res.body.result[0].remote_data).toEqual(PEOPLE[0]);
  });

  it("refuses a cursor made for one style on another connection's list", async () => {
    const page = await gw.call("GET", `/unified/user-directory/users?connection_id=${connection["token-directory"]}&limit=3`);
    const other = await gw.call(
      "GET",
      `/unified/user-directory/users?connection_id=${connection["page-directory"]}&limit=3&cursor=${encodeURIComponent(page.body.next_cursor)}`,
    );
    expect(other.status).toBe(400);
    expect(other.body.error.code).toBe("invalid_cursor");
  });
});

describe("a next link that leaves the connection's base URL", () => {
  it("is refused with a 502, and the credentials are never sent there", async () => {
    const elsewhere = await startStubUpstream((_req, res) => res.writeHead(200, { "content-type": "application/json" }).end("[]"));
    const hostile = await startStubUpstream((_req, res) => {
      res.writeHead(200, { "content-type": "application/json", link: `<${elsewhere.url}/steal?page=2>; rel="next"` });
      res.end(JSON.stringify(PEOPLE.slice(0, 2)));
    });
    const folder = mkdtempSync(join(tmpdir(), "unifold-mappings-"));
    mkdirSync(join(folder, "link-directory"));
    writeFileSync(
      join(folder, "link-directory", "integration.yaml"),
      definition("link-directory", styles["link-directory"].pagination, "/people"),
    );
    writeFileSync(join(folder, "link-directory", "users.jsonata"), mapping);
    const gw = await startGateway({ mappingsDir: folder });
    try {
      const created = await gw.call("POST", "/connections?verify=false", {
        body: {
          tenant_id: "t1",
          integration: "link-directory",
          credentials: { token: "secret-token-2" },
          config: { base_url: `${hostile.url}/api` },
        },
      });
      const res = await gw.call("GET", `/unified/user-directory/users?connection_id=${created.body.id}&limit=5`);
      expect(res.status).toBe(502);
      expect(res.body.error.message).toMatch(/next link leaves the connection's base URL/);
      expect(elsewhere.received).toHaveLength(0);
    } finally {
      await gw.close();
      await Promise.all([hostile.close(), elsewhere.close()]);
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
