import LinkHeader from "http-link-header";
import { call, UpstreamShapeError } from "../calls.ts";
import {
  baseUrlOf,
  isUnderBaseUrl,
  joinUrl,
  type QueryValue,
  type UpstreamClient,
  type UpstreamResponse,
  type UpstreamTarget,
} from "../upstream.ts";
import type {
  BodyLinkPagination,
  BodyTokenPagination,
  LinkHeaderPagination,
  OffsetPagination,
  PagePagination,
  PaginationStyle,
} from "./styles.ts";
import type { View } from "./views.ts";

/**
 * Where a walk stands between two gateway pages. It travels sealed inside the caller's cursor,
 * so its shape is the engine's own business: `{o}` an offset, `{k, i}` an upstream page (its
 * number, token or link; none for the first) and how many of its records were already given.
 * `f` fingerprints the first record of the last upstream page reached: an upstream that answers
 * a later page with the same records (it ignores the page position) is caught, not walked forever.
 */
export type Position = { o: number; f?: string } | { k?: string | number; i: number; f?: string };

/** A cursor's position that this list's pagination could not have made. */
export class InvalidPosition extends Error {
  constructor() {
    super("the cursor does not belong to this list");
    this.name = "InvalidPosition";
  }
}

export interface ListRequest {
  path: string;
  query: Record<string, QueryValue | undefined>;
  pagination: PaginationStyle | undefined;
  /** Where records sit in an unpaged answer. */
  records: string | undefined;
  /** Where to start: undefined for the first page, else an earlier page's `next`. */
  position?: unknown;
  limit: number;
  signal?: AbortSignal | undefined;
}

export interface Walked<Part> {
  parts: Part[];
  count: number;
  /** Where the following page starts; undefined exactly when no records follow. */
  next: Position | undefined;
  /** The last upstream answer, for its rate-limit headers. */
  last: UpstreamResponse;
}

/** One gateway page from an upstream list, in whichever way the integration says the list pages. */
export function walk<Part>(client: UpstreamClient, target: UpstreamTarget, req: ListRequest, view: View<Part>): Promise<Walked<Part>> {
  const style = req.pagination;
  if (!style) return walkUnpaged(client, target, req, view, offsetPosition(req.position));
  if (style.type === "offset") return walkOffsets(client, target, req, view, style, offsetPosition(req.position));
  return walkPages(client, target, req, view, pagesOf(style, target, req), pagePosition(req.position));
}

function offsetPosition(raw: unknown): { o: number; f?: string | undefined } {
  if (raw === undefined) return { o: 0 };
  const p = raw as { o?: unknown; f?: unknown } | null;
  if (typeof p?.o !== "number" || !Number.isInteger(p.o) || p.o < 0 || (p.f !== undefined && typeof p.f !== "string"))
    throw new InvalidPosition();
  return { o: p.o, f: p.f as string | undefined };
}

function pagePosition(raw: unknown): { k?: string | number | undefined; i: number; f?: string | undefined } {
  if (raw === undefined) return { i: 0 };
  const p = raw as { k?: unknown; i?: unknown; f?: unknown } | null;
  const keyOk = p?.k === undefined || typeof p.k === "string" || (typeof p.k === "number" && Number.isInteger(p.k));
  if (!keyOk || typeof p?.i !== "number" || !Number.isInteger(p.i) || p.i < 0 || (p.f !== undefined && typeof p.f !== "string"))
    throw new InvalidPosition();
  return { k: p.k as string | number | undefined, i: p.i, f: p.f as string | undefined };
}

/** An answer that holds the whole list: the gateway pages it itself. */
async function walkUnpaged<Part>(client: UpstreamClient, target: UpstreamTarget, req: ListRequest, view: View<Part>, at: { o: number }) {
  const last = await call(client, target, "GET", req.path, req.query, req.signal);
  const all = view(last, req.records, undefined);
  const count = Math.max(0, Math.min(req.limit, all.length - at.o));
  const parts = count > 0 ? [all.take(at.o, count)] : [];
  return { parts, count, next: all.length > at.o + req.limit ? { o: at.o + req.limit } : undefined, last };
}

function repeated(where: string, how: string): UpstreamShapeError {
  return new UpstreamShapeError(
    `the upstream answered ${where} with records it had already answered for an earlier one: it does not page by ${how}`,
  );
}

/**
 * Offsets: as many upstream pages as `limit` needs, each no larger than the vendor's maximum,
 * asking for one record more than needed where the vendor allows it, so `next` is exact even
 * for lists that report no total.
 */
async function walkOffsets<Part>(
  client: UpstreamClient,
  target: UpstreamTarget,
  req: ListRequest,
  view: View<Part>,
  style: OffsetPagination,
  at: { o: number; f?: string | undefined },
): Promise<Walked<Part>> {
  const parts: Part[] = [];
  const ask = (position: number, size: number) =>
    call(
      client,
      target,
      "GET",
      req.path,
      { ...style.query, ...req.query, [style.offset_param]: String(position + style.base), [style.limit_param]: String(size) },
      req.signal,
    );
  let count = 0;
  let more: boolean | undefined;
  let last: UpstreamResponse | undefined;
  let first: string | undefined;
  const firsts = new Set(at.f ? [at.f] : []);
  while (count < req.limit) {
    const want = req.limit - count;
    const size = Math.min(want + 1, style.max);
    const position = at.o + count;
    last = await ask(position, size);
    const page = view(last, style.records, style);
    if (page.length === 0) {
      // An empty page ends the walk, whatever total the upstream claims.
      more = false;
      break;
    }
    const key = page.key(0);
    if (firsts.has(key)) throw repeated(`position ${position + style.base}`, style.offset_param);
    firsts.add(key);
    first ??= key;
    const taken = Math.min(page.length, want);
    // Stryker disable next-line ConditionalExpression,EqualityOperator: a page that is not empty gives at least one record here
    if (taken > 0) parts.push(page.take(0, taken));
    count += taken;
    const total = page.total;
    if (page.length > want) {
      more = true;
      break;
    }
    if (page.length < size) {
      more = total === undefined ? false : at.o + count < total;
      break;
    }
    if (total !== undefined) {
      // A full page and a known total: no probe needed.
      more = at.o + count < total;
      if (!more || count >= req.limit) break;
    }
  }
  if (more === undefined) {
    // The last page was exactly full at the vendor's maximum: one tiny probe tells whether more follow.
    last = await ask(at.o + count, 1);
    more = view(last, style.records, style).length > 0;
  }
  const next = more ? (first === undefined ? { o: at.o + count } : { o: at.o + count, f: first }) : undefined;
  return { parts, count, next, last: last as UpstreamResponse };
}

/** How one page-at-a-time style asks for a page and finds the one after it. */
interface Pages {
  /** The request for the page at `key` (undefined: the first), asking for `size` records where the style can. */
  request(key: string | number | undefined, size: number): { path: string; query: Record<string, QueryValue | undefined> };
  /** The key of the page after this one, or undefined when this one is the last. */
  after(
    response: UpstreamResponse,
    key: string | number | undefined,
    length: number,
    total: number | undefined,
  ): string | number | undefined;
  /** The size to ask for when `wanted` records are needed from the page's start. */
  size(wanted: number): number;
  totals: { total?: string | undefined; total_header?: string | undefined } | undefined;
  records: string | undefined;
}

/** The value at a dotted path (or at the listed property names) of an answer's body. */
export function atPath(body: unknown, path: string | string[]): unknown {
  let value = body;
  for (const step of typeof path === "string" ? path.split(".") : path)
    value = value && typeof value === "object" ? (value as Record<string, unknown>)[step] : undefined;
  return value;
}

function pagesOf(
  style: PagePagination | BodyTokenPagination | LinkHeaderPagination | BodyLinkPagination,
  target: UpstreamTarget,
  req: ListRequest,
): Pages {
  const sized = (size: number): Record<string, string> => (style.size_param ? { [style.size_param]: String(size) } : {});
  if (style.type === "page") {
    // Page boundaries must not move between calls, so every page is asked at the same size.
    return {
      request: (key, size) => ({
        path: req.path,
        query: { ...style.query, ...req.query, [style.page_param]: String(key ?? style.first_page), ...sized(size) },
      }),
      after: (_response, key, length, total) => {
        const number = typeof key === "number" ? key : style.first_page;
        const full = total === undefined ? length >= style.max : (number - style.first_page + 1) * style.max < total;
        return length > 0 && full ? number + 1 : undefined;
      },
      size: () => style.max,
      totals: style,
      records: style.records,
    };
  }
  if (style.type === "body_token") {
    return {
      request: (key, size) => ({
        path: req.path,
        query: { ...style.query, ...req.query, ...(key !== undefined && { [style.token_param]: String(key) }), ...sized(size) },
      }),
      after: (response) => {
        const value = atPath(response.body, style.token);
        if (typeof value === "number" && Number.isFinite(value)) return String(value);
        return typeof value === "string" && value !== "" ? value : undefined;
      },
      size: (wanted) => Math.min(style.max, wanted),
      totals: undefined,
      records: style.records,
    };
  }
  const base = new URL(baseUrlOf(target));
  const basePath = base.pathname.replace(/\/+$/, "");
  return {
    request: (key, size) => {
      if (key === undefined) return { path: req.path, query: { ...style.query, ...req.query, ...sized(size) } };
      // A link is followed as the upstream gave it: its own query already carries filters and size.
      const url = new URL(String(key), "http://link.invalid");
      const query: Record<string, string[]> = {};
      for (const [name, value] of url.searchParams) (query[name] ??= []).push(value);
      return { path: url.pathname, query };
    },
    after: (response, key) => {
      const next = nextLink(response, style);
      if (!next) return undefined;
      const { path, query } =
        key === undefined ? { path: req.path, query: { ...style.query, ...req.query } } : { path: String(key), query: {} };
      const from = key === undefined ? joinUrl(base.toString(), path, query) : `${base.origin}${basePath}${path}`;
      return linkUnderBase(target, next, String(from));
    },
    size: (wanted) => Math.min(style.max, wanted),
    totals: undefined,
    records: style.records,
  };
}

/**
 * A link the upstream gave (resolved against `from`, the URL it came with) as the path and query
 * to ask under the connection's base URL. It is sent the connection's credentials: a link that
 * leaves the base URL is refused.
 */
export function linkUnderBase(target: UpstreamTarget, link: string, from: string): string {
  const base = new URL(baseUrlOf(target));
  const url = new URL(link, from);
  if (!isUnderBaseUrl(base, url)) throw new UpstreamShapeError("the upstream's next link leaves the connection's base URL");
  return `${url.pathname.slice(base.pathname.replace(/\/+$/, "").length) || "/"}${url.search}`;
}

/** The next page's link, from a Link header or from the body; undefined on the last page. */
function nextLink(response: UpstreamResponse, style: LinkHeaderPagination | BodyLinkPagination): string | undefined {
  if (style.type === "body_link") {
    const link = atPath(response.body, style.link);
    return typeof link === "string" && link !== "" ? link : undefined;
  }
  const header = response.headers.link;
  return header ? LinkHeader.parse(header).rel("next")[0]?.uri : undefined;
}

/**
 * Page numbers, body tokens and links: upstream pages one after another from the cursor's page,
 * skipping the records of it already given. When `limit` ends inside an upstream page, the next
 * cursor points into that same page, so no record is skipped or given twice.
 */
async function walkPages<Part>(
  client: UpstreamClient,
  target: UpstreamTarget,
  req: ListRequest,
  view: View<Part>,
  pages: Pages,
  at: { k?: string | number | undefined; i: number; f?: string | undefined },
): Promise<Walked<Part>> {
  const parts: Part[] = [];
  let count = 0;
  let key = at.k;
  let index = at.i;
  // A page the cursor points into was checked when it was first reached.
  let revisit = at.i > 0;
  let first = at.f;
  const firsts = new Set(at.f ? [at.f] : []);
  for (;;) {
    const want = req.limit - count;
    const { path, query } = pages.request(key, pages.size(index + want));
    const last = await call(client, target, "GET", path, query, req.signal);
    const page = view(last, pages.records, pages.totals);
    const after = page.length === 0 ? undefined : pages.after(last, key, page.length, page.total);
    if (page.length > 0 && !revisit) {
      const fingerprint = page.key(0);
      if (firsts.has(fingerprint)) throw repeated(`page ${String(key ?? "1")}`, "its own next page");
      firsts.add(fingerprint);
      first = fingerprint;
    }
    revisit = false;
    const taken = Math.max(0, Math.min(page.length - index, want));
    if (taken > 0) parts.push(page.take(index, taken));
    count += taken;
    const position = (k: string | number | undefined, i: number): Position => ({
      ...(k !== undefined && { k }),
      i,
      ...(first && { f: first }),
    });
    if (index + taken < page.length) return { parts, count, next: position(key, index + taken), last };
    if (after === undefined) return { parts, count, next: undefined, last };
    if (after === key) throw repeated(`page ${String(key)}`, "its own next page");
    key = after;
    index = 0;
    if (count >= req.limit) return { parts, count, next: position(key, 0), last };
  }
}
