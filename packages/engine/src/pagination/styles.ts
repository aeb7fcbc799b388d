import { z } from "zod";

/*
 * How an upstream list pages, declared per integration under `pagination:` and chosen by `type`.
 * Every style names the vendor's largest page (`max`), where the records sit (`records`, absent
 * when the body is a bare array) and a fixed query sent with every page (`query`).
 */
const common = {
  /** The vendor's maximum page size. */
  max: z.number().int().positive(),
  /** Property holding the records; absent when the body is a bare array. */
  records: z.string().optional(),
  /** Fixed query added to every page request (e.g. a sort order that keeps pages stable). */
  query: z.record(z.string(), z.string()).default({}),
};
/** Where a vendor reports the list's total, when it does: a body property or a header. */
const totals = { total: z.string().optional(), total_header: z.string().optional() };

/** An offset and a page size in the query (`skip`/`limit`, `offset`/`limit`). */
const offset = z
  .object({
    type: z.literal("offset"),
    offset_param: z.string(),
    limit_param: z.string(),
    /** 1 when the first record is at 1 (SCIM's startIndex), else 0. */
    base: z.union([z.literal(0), z.literal(1)]).default(0),
    ...common,
    ...totals,
  })
  .strict();

/** SCIM 2.0 (RFC 7644 §3.4.2.4): `startIndex` from 1, `count`, `Resources` and `totalResults`. */
const scim = z
  .object({ type: z.literal("scim"), max: common.max, query: common.query })
  .strict()
  .transform((s): OffsetPagination => ({
    type: "offset",
    offset_param: "startIndex",
    limit_param: "count",
    base: 1,
    records: "Resources",
    total: "totalResults",
    total_header: undefined,
    max: s.max,
    query: s.query,
  }));

/** A page number and a page size (`page`/`per_page`); pages after a short one are not asked for. */
const page = z
  .object({
    type: z.literal("page"),
    page_param: z.string(),
    /** Absent when the vendor picks the page size itself; `max` must then be that size. */
    size_param: z.string().optional(),
    /** The number of the first page. */
    first_page: z.union([z.literal(0), z.literal(1)]).default(1),
    ...common,
    ...totals,
  })
  .strict();

/** Where a value sits in an answer: a dotted path, or the property names when one holds a dot (`["@odata.nextLink"]`). */
export const bodyPath = z.union([
  z.string().regex(/^[\w$@-]+(\.[\w$@-]+)*$/, "a dotted path such as meta.next_cursor"),
  z.array(z.string().min(1)).min(1),
]);

/** A next-page token read from the body (by a dotted path) and sent back as a query parameter. */
const bodyToken = z
  .object({
    type: z.literal("body_token"),
    /** Where the token sits in the answer, e.g. `nextPageToken` or `meta.next_cursor`; absent or empty at the end. */
    token: bodyPath,
    token_param: z.string(),
    size_param: z.string().optional(),
    ...common,
  })
  .strict();

/** RFC 8288 `Link: <…>; rel="next"` headers: the next page's URL is followed as given. */
const linkHeader = z
  .object({
    type: z.literal("link_header"),
    /** Sent on the first request only: later pages' URLs carry their own. */
    size_param: z.string().optional(),
    ...common,
  })
  .strict();

/**
 * The next page's URL in the body (`@odata.nextLink`, `_links.next.href`): followed as given,
 * exactly as a Link header's, and only while it stays under the connection's base URL.
 */
const bodyLink = z
  .object({
    type: z.literal("body_link"),
    /** Where the link sits in the answer; absent, null or empty on the last page. */
    link: bodyPath,
    /** Sent on the first request only: later pages' links carry their own. */
    size_param: z.string().optional(),
    ...common,
  })
  .strict();

/** A declared style without `type` is an offset style, as every style was before types existed. */
export const paginationStyle = z.preprocess(
  (value) => (value && typeof value === "object" && !("type" in value) ? { ...value, type: "offset" } : value),
  z.union([offset, scim, page, bodyToken, linkHeader, bodyLink]),
);

export type OffsetPagination = z.infer<typeof offset>;
export type PagePagination = z.infer<typeof page>;
export type BodyTokenPagination = z.infer<typeof bodyToken>;
export type LinkHeaderPagination = z.infer<typeof linkHeader>;
export type BodyLinkPagination = z.infer<typeof bodyLink>;
export type PaginationStyle = z.infer<typeof paginationStyle>;
export const paginationTypes = ["offset", "scim", "page", "body_token", "link_header", "body_link"] as const;
