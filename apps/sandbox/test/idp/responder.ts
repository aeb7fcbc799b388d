/** A recording SCIM service on 127.0.0.1: just enough of RFC 7644 to answer the simulated providers, and every request kept. */
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";

export const BASE_PATH = "/scim/v2/conn_test";
export const TOKEN = "tok_secret_5f1e2d3c4b5a";
const ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const ERROR = "urn:ietf:params:scim:api:messages:2.0:Error";

export interface Recorded {
  method: string;
  /** Path below the base path, without the query. */
  path: string;
  /** The raw query string without "?", as it arrived (still percent-encoded). */
  rawQuery: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: any;
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

type Resource = Record<string, any> & { id: string };

export interface Responder {
  baseUrl: string;
  requests: Recorded[];
  users: Map<string, Resource>;
  groups: Map<string, Resource>;
  /** Answers instead of the store when it returns a reply (scripted faults, odd pages). */
  intercept?: (request: Recorded) => Reply | undefined;
  /** Delay before each answer, in ms (to see concurrency). */
  delayMs: number;
  /** The most requests in flight at once so far. */
  maxInFlight: number;
  addUser(fields: Record<string, unknown>): Resource;
  addGroup(fields: Record<string, unknown>): Resource;
  /** Forgets what the last test did: its requests, scripted faults, delay and stored resources. */
  reset(): void;
  close(): Promise<void>;
}

const error = (status: number, detail: string): Reply => ({ status, body: { schemas: [ERROR], status: String(status), detail } });

export async function startResponder(): Promise<Responder> {
  let nextId = 1;
  let inFlight = 0;
  const responder: Responder = {
    baseUrl: "",
    requests: [],
    users: new Map(),
    groups: new Map(),
    delayMs: 0,
    maxInFlight: 0,
    addUser(fields) {
      const user = { schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], id: `u${nextId++}`, active: true, ...fields };
      responder.users.set(user.id, user);
      return user;
    },
    addGroup(fields) {
      const group = { schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"], id: `g${nextId++}`, members: [], ...fields };
      responder.groups.set(group.id, group);
      return group;
    },
    reset() {
      responder.requests.length = 0;
      responder.intercept = undefined;
      responder.delayMs = 0;
      responder.maxInFlight = 0;
      responder.users.clear();
      responder.groups.clear();
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };

  const server = createServer(async (req, res) => {
    inFlight++;
    responder.maxInFlight = Math.max(responder.maxInFlight, inFlight);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    const url = req.url ?? "/";
    const [pathname = "", rawQuery = ""] = url.split("?", 2);
    const recorded: Recorded = {
      method: req.method ?? "GET",
      path: pathname.startsWith(BASE_PATH) ? pathname.slice(BASE_PATH.length) : pathname,
      rawQuery,
      query: new URLSearchParams(rawQuery),
      headers: req.headers,
      body: text ? JSON.parse(text) : undefined,
    };
    responder.requests.push(recorded);
    if (responder.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, responder.delayMs));
    const reply =
      req.headers.authorization !== `Bearer ${TOKEN}`
        ? error(401, "bad token")
        : (responder.intercept?.(recorded) ??
          answer(responder, recorded, () => `${recorded.path.startsWith("/Groups") ? "g" : "u"}${nextId++}`));
    inFlight--;
    res.writeHead(reply.status, { "content-type": "application/scim+json", ...reply.headers });
    res.end(reply.body === undefined ? undefined : JSON.stringify(reply.body));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  responder.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}${BASE_PATH}`;
  return responder;
}

function answer(responder: Responder, request: Recorded, newId: () => string): Reply {
  const [, kind, id] = request.path.split("/") as [string, string, string | undefined];
  const store = kind === "Users" ? responder.users : kind === "Groups" ? responder.groups : undefined;
  if (!store) return error(404, "no such endpoint");
  const found = id === undefined ? undefined : store.get(id);
  if (id !== undefined && !found) return error(404, `${kind} ${id} not found`);

  switch (request.method) {
    case "GET": {
      if (found) return { status: 200, body: found };
      let items = [...store.values()];
      const filter = request.query.get("filter");
      if (filter) {
        const match = /^(emails\[type eq "work"\]\.value|\S+) eq (".*")$/.exec(filter);
        if (!match) return error(400, `filter not understood: ${filter}`);
        const [, attribute = "", literal = '""'] = match;
        const wanted = String(JSON.parse(literal)).toLowerCase();
        items = items.filter((item) => String(read(item, attribute) ?? "").toLowerCase() === wanted);
      }
      const startIndex = Number(request.query.get("startIndex") ?? 1);
      const count = Number(request.query.get("count") ?? items.length);
      const page = items.slice(startIndex - 1, startIndex - 1 + count);
      const shown = request.query.get("excludedAttributes") === "members" ? page.map(({ members: _m, ...rest }) => rest) : page;
      return {
        status: 200,
        body: { schemas: [LIST], totalResults: items.length, startIndex, itemsPerPage: shown.length, Resources: shown },
      };
    }
    case "POST": {
      const body = request.body as Record<string, any>;
      const clash = [...store.values()].some((r) =>
        kind === "Users" ? r.userName?.toLowerCase() === body.userName?.toLowerCase() : r.displayName === body.displayName,
      );
      if (clash) return error(409, `${kind === "Users" ? body.userName : body.displayName} already exists`);
      const created: Resource = { ...body, id: newId(), meta: { resourceType: kind === "Users" ? "User" : "Group" } };
      if (kind === "Groups") created.members ??= [];
      store.set(created.id, created);
      return { status: 201, body: created };
    }
    case "PUT": {
      const replaced = { ...(request.body as object), id: found!.id };
      store.set(found!.id, replaced);
      return { status: 200, body: replaced };
    }
    case "PATCH": {
      for (const operation of request.body.Operations as { op: string; path?: string; value?: any }[]) apply(found!, operation);
      return kind === "Groups" ? { status: 204 } : { status: 200, body: found };
    }
    case "DELETE":
      store.delete(found!.id);
      return { status: 204 };
    default:
      return error(405, "method not allowed");
  }
}

/** Reads a path such as `name.givenName`, `emails[type eq "work"].value` or `<enterprise urn>:manager`. */
function read(resource: Resource, path: string): unknown {
  if (path === 'emails[type eq "work"].value') return resource.emails?.find((e: { type?: string }) => e.type === "work")?.value;
  if (path.startsWith(`${ENTERPRISE}:`)) return resource[ENTERPRISE]?.[path.slice(ENTERPRISE.length + 1)];
  return path.split(".").reduce<any>((value, key) => value?.[key], resource);
}

function write(resource: Resource, path: string, value: unknown) {
  const clear = value === "" || value === null;
  if (path === 'emails[type eq "work"].value') {
    resource.emails = (resource.emails ?? []).filter((e: { type?: string }) => e.type !== "work");
    if (!clear) resource.emails.push({ type: "work", primary: true, value });
    return;
  }
  if (path.startsWith(`${ENTERPRISE}:`)) {
    const key = path.slice(ENTERPRISE.length + 1);
    const extension = (resource[ENTERPRISE] ??= {});
    if (clear) delete extension[key];
    else extension[key] = key === "manager" ? { value } : value;
    return;
  }
  const keys = path.split(".");
  const last = keys.pop() as string;
  let target: any = resource;
  for (const key of keys) target = target[key] ??= {};
  if (clear) delete target[last];
  else target[last] = value;
}

function apply(resource: Resource, operation: { op: string; path?: string; value?: any }) {
  const op = operation.op.toLowerCase();
  const { path, value } = operation;
  if (path === undefined) {
    for (const [key, item] of Object.entries(value as object)) if (key !== "id") write(resource, key, item);
    return;
  }
  const filtered = /^members\[value eq (".*")\]$/.exec(path);
  if (filtered) {
    const gone = JSON.parse(filtered[1] as string) as string;
    resource.members = (resource.members ?? []).filter((m: { value: string }) => m.value !== gone);
    return;
  }
  if (path === "members") {
    const values = (value ?? []) as { value: string }[];
    if (op === "replace") resource.members = values;
    else if (op === "add") resource.members = [...(resource.members ?? []), ...values];
    else resource.members = (resource.members ?? []).filter((m: { value: string }) => !values.some((v) => v.value === m.value));
    return;
  }
  write(resource, path, value);
}
