import type { Context, Hono } from "hono";
import { type Endpoint, ScimRefusal, type ScimScope } from "../domain/scim/index.ts";
import type { AppEnv } from "../http/env.ts";
import { publicOrigin } from "../http/origin.ts";
import { scimErrorResponse } from "../errors.ts";

/*
 * The SCIM 2.0 service (RFC 7644) under /scim/v2/{connection id}: what identity providers call to
 * push a directory (docs/scim.md names them). Authenticated by the connection's own bearer token,
 * not an API key; every answer is application/scim+json, errors included (app.ts).
 */

const SCIM_TYPE = "application/scim+json; charset=utf-8";
const ENDPOINTS: Record<string, Endpoint> = { users: "Users", groups: "Groups" };

const answer = (c: Context<AppEnv>, body: unknown, status: 200 | 201 = 200, headers: Record<string, string> = {}) =>
  c.body(JSON.stringify(body), status, { "content-type": SCIM_TYPE, ...headers });

/** The connection's scope, from its id in the URL and the request's bearer token. */
async function scopeOf(c: Context<AppEnv>): Promise<ScimScope> {
  const id = c.req.param("connection") ?? "";
  const header = c.req.header("authorization") ?? "";
  const token = /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
  const services = c.get("services");
  const scope = await services.scim.authenticate(id, token, `${publicOrigin(c)}/scim/v2/${id}`);
  // Each push connection's provider has its own budget (UNIFOLD_SCIM_RATE_LIMIT); the providers retry a 429 after Retry-After.
  const limit = services.access.limits.scimConnections;
  const taken = limit && (await limit.take(scope.connection.id));
  if (limit && taken && !taken.allowed) {
    services.platform.metrics.rateLimited.inc({ cause: "scim" });
    const retryAfter = String(Math.max(1, Math.ceil(taken.waitMs / 1000)));
    throw new ScimRefusal(429, `this SCIM service takes ${limit.rule.requests} requests per ${limit.rule.per_seconds} s`, {
      "retry-after": retryAfter,
    });
  }
  return scope;
}

/** Resource endpoints are matched case-insensitively: clients differ in how they write /Users. */
function endpointOf(c: Context<AppEnv>): Endpoint | undefined {
  return ENDPOINTS[(c.req.param("endpoint") ?? "").toLowerCase()];
}

const versioned = (version: number) => ({ etag: `W/"${version}"` });

/** What a finished request is logged as: its status, and for a refusal its scimType and the service's own words. */
function outcomeOf(error: Error | undefined): { scimType: string | null; detail: string | null } {
  if (!error) return { scimType: null, detail: null };
  const answer = scimErrorResponse(error);
  const body = answer?.body as { scimType?: string; detail?: string } | undefined;
  return { scimType: body?.scimType ?? null, detail: (body?.detail ?? "internal error").slice(0, 500) };
}

export function registerScim(app: Hono<AppEnv>) {
  const base = "/scim/v2/:connection";

  // The request log (GET /connections/{id}/scim-requests): every request to a connection that exists, once answered.
  app.use(`${base}/*`, async (c, next) => {
    const started = performance.now();
    await next();
    const segments = c.req.path.split("/");
    const [, , , connectionId = "", , id] = segments;
    const location = c.res.headers.get("location");
    const { scimType, detail } = outcomeOf(c.error);
    c.get("services").scim.log({
      connectionId,
      method: c.req.method,
      path: `/${segments.slice(4).join("/")}`,
      status: c.res.status,
      scimType,
      detail,
      resourceId: id ?? (location ? location.split("/").at(-1) : null) ?? null,
      latencyMs: Math.round(performance.now() - started),
    });
  });

  app.get(`${base}/ServiceProviderConfig`, async (c) =>
    answer(c, c.get("services").scim.serviceProviderConfig((await scopeOf(c)).baseUrl)),
  );
  app.get(`${base}/ResourceTypes/:name?`, async (c) =>
    answer(c, c.get("services").scim.resourceTypes((await scopeOf(c)).baseUrl, c.req.param("name"))),
  );
  app.get(`${base}/Schemas/:id?`, async (c) => answer(c, c.get("services").scim.schemas((await scopeOf(c)).baseUrl, c.req.param("id"))));

  app.get(`${base}/:endpoint`, async (c, next) => {
    const endpoint = endpointOf(c);
    if (!endpoint) return next();
    const scope = await scopeOf(c);
    return answer(c, await c.get("services").scim.list(scope, endpoint, c.req.query()));
  });
  app.post(`${base}/:endpoint`, async (c, next) => {
    const endpoint = endpointOf(c);
    if (!endpoint) return next();
    const scope = await scopeOf(c);
    const made = await c.get("services").scim.create(scope, endpoint, await c.req.json());
    const location = (made.resource.meta as { location: string }).location;
    return answer(c, made.resource, 201, { location, ...versioned(made.version) });
  });
  app.get(`${base}/:endpoint/:id`, async (c, next) => {
    const endpoint = endpointOf(c);
    if (!endpoint) return next();
    const scope = await scopeOf(c);
    const found = await c.get("services").scim.get(scope, endpoint, c.req.param("id"), c.req.query());
    return answer(c, found.resource, 200, versioned(found.version));
  });
  app.put(`${base}/:endpoint/:id`, async (c, next) => {
    const endpoint = endpointOf(c);
    if (!endpoint) return next();
    const scope = await scopeOf(c);
    const body = await c.req.json();
    const done = await c.get("services").scim.replace(scope, endpoint, c.req.param("id"), body, c.req.header("if-match"));
    return answer(c, done.resource, 200, versioned(done.version));
  });
  app.patch(`${base}/:endpoint/:id`, async (c, next) => {
    const endpoint = endpointOf(c);
    if (!endpoint) return next();
    const scope = await scopeOf(c);
    const body = await c.req.json();
    const done = await c.get("services").scim.patch(scope, endpoint, c.req.param("id"), body, c.req.header("if-match"));
    return answer(c, done.resource, 200, versioned(done.version));
  });
  app.delete(`${base}/:endpoint/:id`, async (c, next) => {
    const endpoint = endpointOf(c);
    if (!endpoint) return next();
    const scope = await scopeOf(c);
    await c.get("services").scim.remove(scope, endpoint, c.req.param("id"), c.req.header("if-match"));
    return c.body(null, 204);
  });
}
