import { randomUUID } from "node:crypto";
import { type Context, Hono } from "hono";
import { scimPatch } from "scim-patch";
import type { Person } from "../directory.ts";
import { stableHex } from "../directory.ts";
import { Collection } from "../collection.ts";
import { eqClauses, isObject, listResponse, readJson, SCHEMA, scimError, scimErrorBody, type ScimType, sendList } from "../scim.ts";
import { perTenant, type SandboxEnv, type World } from "../world.ts";

export const JOSTLE_EXTENSION = "urn:ietf:params:scim:schemas:extension:jostle:2.0:User";
const MAX_PAGE = 100; // Jostle publishes no maximum; the simulator assumes 100 (docs/upstreams/jostle-scim.md).
const BULK_MAX_OPERATIONS = 50;
const BULK_MAX_BYTES = 20 * 1024 * 1024;

export type JostleUser = Record<string, unknown> & { id: string; userName: string; active: boolean; meta: Record<string, unknown> };

interface Outcome {
  status: number;
  body?: unknown;
}

const fail = (status: number, detail: string, scimType?: ScimType): Outcome => ({ status, body: scimErrorBody(status, detail, scimType) });

export class JostleTenant {
  readonly users = new Collection<JostleUser>((u) => u.id);
  private readonly byUserName = new Map<string, string>();
  readonly meId: string;

  constructor(world: World, tenant: string) {
    const directory = world.directory(tenant);
    const id = (p: Person) => uuidFrom(stableHex(world.seed, `jostle:${tenant}:${p.index}`, 32));
    for (const person of directory.people) this.store(fromPerson(person, id(person), directory.people[person.manager ?? -1], id));
    // The automation user owns the API key; /Me answers with it.
    const automation = this.store({
      schemas: [SCHEMA.user, JOSTLE_EXTENSION],
      id: uuidFrom(stableHex(world.seed, `jostle:${tenant}:automation`, 32)),
      userName: `automation@${directory.domain}`,
      name: { givenName: "Provisioning", familyName: "Automation" },
      active: true,
      emails: [{ type: "work", value: `automation@${directory.domain}`, primary: true }],
      [JOSTLE_EXTENSION]: { loginType: "Jostle", userState: "Active" },
      meta: {
        resourceType: "User",
        created: directory.people[0]?.created ?? new Date(0).toISOString(),
        lastModified: directory.people[0]?.created ?? new Date(0).toISOString(),
      },
    });
    this.meId = automation.id;
  }

  private store(user: JostleUser | Record<string, unknown>): JostleUser {
    const record = user as JostleUser;
    record.meta = { ...record.meta, location: `/Users/${record.id}` };
    this.users.put(record);
    this.byUserName.set(record.userName.toLowerCase(), record.id);
    return record;
  }

  findByUserName(userName: string): JostleUser | undefined {
    const id = this.byUserName.get(userName.toLowerCase());
    return id ? this.users.get(id) : undefined;
  }

  create(body: unknown): Outcome {
    const problem = missingRequired(body);
    if (problem) return fail(400, problem, "invalidValue");
    const input = body as Record<string, unknown>;
    if (this.findByUserName(String(input.userName))) return fail(409, `userName ${String(input.userName)} is already taken`, "uniqueness");
    const now = new Date().toISOString();
    const user = this.store({ ...stripReadOnly(input), id: randomUUID(), meta: { resourceType: "User", created: now, lastModified: now } });
    return { status: 201, body: user };
  }

  /** PUT: all information must be provided; omitted attributes are cleared. */
  replace(id: string, body: unknown): Outcome {
    const current = this.users.get(id);
    if (!current) return fail(404, "User not found");
    const problem = missingRequired(body);
    if (problem) return fail(400, problem, "invalidValue");
    const input = body as Record<string, unknown>;
    const holder = this.findByUserName(String(input.userName));
    if (holder && holder.id !== id) return fail(409, `userName ${String(input.userName)} is already taken`, "uniqueness");
    this.byUserName.delete(current.userName.toLowerCase());
    const user = this.store({ ...stripReadOnly(input), id, meta: { ...current.meta, lastModified: new Date().toISOString() } });
    return { status: 200, body: user };
  }

  patch(id: string, body: unknown): Outcome {
    const current = this.users.get(id);
    if (!current) return fail(404, "User not found");
    if (!isObject(body) || !Array.isArray(body.Operations) || body.Operations.length === 0) {
      return fail(400, "a PatchOp needs a non-empty Operations array", "invalidSyntax");
    }
    // Op names are matched case-insensitively: Entra sends "Replace"; its default job sends "False" as a string.
    const operations = body.Operations.map((op) => {
      if (!isObject(op)) return op;
      const value = op.path === "active" || op.path === undefined ? booleanish(op.value) : op.value;
      return { ...op, op: String(op.op ?? "").toLowerCase(), value };
    });
    let patched: JostleUser;
    try {
      patched = scimPatch(structuredClone(current) as never, operations as never) as unknown as JostleUser;
    } catch (error) {
      return fail(400, (error as Error).message || "the patch cannot be applied", "invalidValue");
    }
    if (typeof patched.userName !== "string" || !patched.userName) return fail(400, "userName is required", "invalidValue");
    const holder = this.findByUserName(patched.userName);
    if (holder && holder.id !== id) return fail(409, `userName ${patched.userName} is already taken`, "uniqueness");
    this.byUserName.delete(current.userName.toLowerCase());
    patched.id = id;
    patched.meta = { ...current.meta, lastModified: new Date().toISOString() };
    syncUserState(patched);
    return { status: 200, body: this.store(patched) };
  }

  /** A change made inside Jostle (its admin UI, an HR import), as the control API simulates them. */
  change(user: JostleUser): JostleUser {
    const current = this.users.get(user.id);
    if (current) this.byUserName.delete(current.userName.toLowerCase());
    return this.store({ ...user, meta: { ...user.meta, lastModified: new Date().toISOString() } });
  }

  /** A user removed inside Jostle, whatever its state. */
  forget(id: string): void {
    const current = this.users.get(id);
    if (!current) return;
    this.users.delete(id);
    this.byUserName.delete(current.userName.toLowerCase());
  }

  /** Jostle refuses to delete an active user: deactivate first. */
  remove(id: string): Outcome {
    const current = this.users.get(id);
    if (!current) return fail(404, "User not found");
    if (current.active !== false) return fail(400, "User must be deactivated (active: false) before it can be deleted", "mutability");
    this.users.delete(id);
    this.byUserName.delete(current.userName.toLowerCase());
    return { status: 204 };
  }
}

function uuidFrom(hex: string): string {
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function booleanish(value: unknown): unknown {
  if (value === "True" || value === "true") return true;
  if (value === "False" || value === "false") return false;
  if (isObject(value) && "active" in value) return { ...value, active: booleanish(value.active) };
  return value;
}

function missingRequired(body: unknown): string | undefined {
  if (!isObject(body)) return "the body must be a User object";
  if (typeof body.userName !== "string" || !body.userName) return "userName is required";
  const name = body.name;
  if (!isObject(name) || typeof name.givenName !== "string" || typeof name.familyName !== "string") {
    return "name.givenName and name.familyName are required";
  }
  if (typeof body.active !== "boolean") return "active is required";
  return undefined;
}

function stripReadOnly(input: Record<string, unknown>): Record<string, unknown> {
  const { id: _id, meta: _meta, ...rest } = input;
  const user = { schemas: [SCHEMA.user, JOSTLE_EXTENSION], ...rest } as Record<string, unknown>;
  syncUserState(user);
  return user;
}

/** `userState` in the Jostle extension is read-only and follows `active`. */
function syncUserState(user: Record<string, unknown>) {
  const extension = isObject(user[JOSTLE_EXTENSION]) ? (user[JOSTLE_EXTENSION] as Record<string, unknown>) : {};
  user[JOSTLE_EXTENSION] = { ...extension, userState: user.active === false ? "Disabled" : "Active" };
}

function fromPerson(person: Person, id: string, manager: Person | undefined, idOf: (p: Person) => string): JostleUser {
  return {
    schemas: [SCHEMA.user, SCHEMA.enterprise, JOSTLE_EXTENSION],
    id,
    userName: person.email,
    name: { givenName: person.firstName, familyName: person.lastName, ...(person.middleName && { middleName: person.middleName }) },
    ...(person.nickName && { nickName: person.nickName }),
    title: person.title,
    active: person.state === "active",
    emails: [
      { type: "work", value: person.email, primary: true },
      { type: "personal", value: person.personalEmail, primary: false },
    ],
    phoneNumbers: [
      { type: "workofficephone", value: person.workPhone, primary: true },
      { type: "workmobilephone", value: person.mobilePhone, primary: false },
    ],
    addresses: [
      {
        type: "address1",
        streetAddress: person.address.street,
        locality: person.address.city,
        region: person.address.region,
        postalCode: person.address.postalCode,
        country: person.address.country,
      },
    ],
    [SCHEMA.enterprise]: { department: person.department, ...(manager && { manager: { value: idOf(manager) } }) },
    [JOSTLE_EXTENSION]: {
      employeeID: person.employeeNumber,
      joinDate: person.created.slice(0, 10),
      loginType: "SSO",
      userState: person.state === "active" ? "Active" : "Disabled",
      locations: [person.location],
    },
    meta: { resourceType: "User", created: person.created, lastModified: person.updated },
  };
}

/** `attributes` / `excludedAttributes` on top-level attribute names (id and schemas always stay). */
function project(user: JostleUser, attributes?: string, excluded?: string): Record<string, unknown> {
  if (attributes) {
    const keep = new Set(attributes.split(",").map((a) => a.trim().split(".")[0]?.toLowerCase()));
    return Object.fromEntries(Object.entries(user).filter(([k]) => k === "id" || k === "schemas" || keep.has(k.toLowerCase())));
  }
  if (excluded) {
    const drop = new Set(excluded.split(",").map((a) => a.trim().toLowerCase()));
    return Object.fromEntries(Object.entries(user).filter(([k]) => k === "id" || !drop.has(k.toLowerCase())));
  }
  return user;
}

export function jostleRoutes(world: World) {
  const tenantState = perTenant((name) => new JostleTenant(world, name));
  const app = new Hono<SandboxEnv>();

  app.use(
    "*",
    world.gate("jostle", {
      authenticate: (c) => {
        const match = /^Bearer\s+(\S+)$/i.exec(c.req.header("authorization") ?? "");
        const tenant = match ? world.tenantForKey("jostle", match[1] as string) : undefined;
        if (!match || !tenant) return scimError(c, 401, "Authentication failed: missing or invalid API key");
        return { tenant, key: match[1] as string };
      },
      errorBody: (status, message) => scimErrorBody(status, message),
    }),
  );

  const send = (c: Context<SandboxEnv>, outcome: Outcome) =>
    outcome.body === undefined
      ? c.body(null, outcome.status as 204)
      : c.body(JSON.stringify(outcome.body), outcome.status as 200, { "content-type": "application/json" });

  const list = (
    c: Context<SandboxEnv>,
    state: JostleTenant,
    query: { filter?: string; startIndex?: unknown; count?: unknown; attributes?: string; excludedAttributes?: string },
  ) => {
    if (query.filter !== undefined) {
      // Jostle filters only on `userName eq "…"`, and never pages a filtered list.
      const clauses = eqClauses(query.filter);
      if (!clauses || clauses.length !== 1 || clauses[0]?.attr.toLowerCase() !== "username") {
        return scimError(c, 400, 'Only the filter userName eq "<value>" is supported', "invalidFilter");
      }
      const found = state.findByUserName(String(clauses[0].value));
      const resources = found ? [project(found, query.attributes, query.excludedAttributes)] : [];
      return sendList(c, resources, resources.length, 1);
    }
    const startIndex = query.startIndex === undefined ? 1 : Number(query.startIndex);
    const count = query.count === undefined ? MAX_PAGE : Number(query.count);
    if (!Number.isInteger(startIndex) || startIndex < 1 || !Number.isInteger(count) || count < 0) {
      return scimError(c, 400, "startIndex must be ≥ 1 and count ≥ 0", "invalidValue");
    }
    const page = state.users
      .slice(startIndex - 1, Math.min(count, MAX_PAGE))
      .map((u) => project(u, query.attributes, query.excludedAttributes));
    return sendList(c, page, state.users.size, startIndex);
  };

  app.get("/Users", (c) => list(c, tenantState(c.var.tenant), c.req.query()));
  app.post("/Users/.search", async (c) => {
    const body = await readJson(c);
    if (body instanceof Error) return scimError(c, 400, body.message, "invalidSyntax");
    if (!isObject(body)) return scimError(c, 400, "a SearchRequest is an object", "invalidSyntax");
    const asList = (v: unknown) => (Array.isArray(v) ? v.join(",") : (v as string | undefined));
    return list(c, tenantState(c.var.tenant), {
      filter: body.filter as string | undefined,
      startIndex: body.startIndex,
      count: body.count,
      attributes: asList(body.attributes),
      excludedAttributes: asList(body.excludedAttributes),
    });
  });
  app.get("/Users/:id", (c) => {
    const user = tenantState(c.var.tenant).users.get(c.req.param("id"));
    return user ? c.json(project(user, c.req.query("attributes"), c.req.query("excludedAttributes"))) : scimError(c, 404, "User not found");
  });

  const withBody = (handler: (state: JostleTenant, body: unknown, id: string) => Outcome) => async (c: Context<SandboxEnv>) => {
    const body = await readJson(c);
    if (body instanceof Error) return scimError(c, 400, body.message, "invalidSyntax");
    const state = tenantState(c.var.tenant);
    const outcome = handler(state, body, c.req.param("id") ?? state.meId);
    if (outcome.status === 201 && isObject(outcome.body)) c.header("location", `/Users/${String(outcome.body.id)}`);
    return send(c, outcome);
  };
  app.post(
    "/Users",
    withBody((state, body) => state.create(body)),
  );
  app.put(
    "/Users/:id",
    withBody((state, body, id) => state.replace(id, body)),
  );
  app.patch(
    "/Users/:id",
    withBody((state, body, id) => state.patch(id, body)),
  );
  app.delete("/Users/:id", (c) => send(c, tenantState(c.var.tenant).remove(c.req.param("id"))));

  app.get("/Me", (c) => {
    const state = tenantState(c.var.tenant);
    return c.json(state.users.get(state.meId));
  });
  app.put(
    "/Me",
    withBody((state, body) => state.replace(state.meId, body)),
  );
  app.patch(
    "/Me",
    withBody((state, body) => state.patch(state.meId, body)),
  );
  app.delete("/Me", (c) => {
    const state = tenantState(c.var.tenant);
    return send(c, state.remove(state.meId));
  });

  app.post("/Bulk", async (c) => {
    const length = Number(c.req.header("content-length") ?? 0);
    const text = await c.req.text();
    if (length > BULK_MAX_BYTES || Buffer.byteLength(text) > BULK_MAX_BYTES) {
      return scimError(c, 413, `The size of the bulk operation exceeds the maxPayloadSize (${BULK_MAX_BYTES})`, "tooMany");
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return scimError(c, 400, "the body is not valid JSON", "invalidSyntax");
    }
    if (!isObject(body) || !Array.isArray(body.Operations)) return scimError(c, 400, "a BulkRequest needs Operations", "invalidSyntax");
    if (body.Operations.length > BULK_MAX_OPERATIONS) {
      return scimError(c, 413, `The number of operations exceeds the maxOperations (${BULK_MAX_OPERATIONS})`, "tooMany");
    }
    const state = tenantState(c.var.tenant);
    const failOnErrors = typeof body.failOnErrors === "number" ? body.failOnErrors : Number.POSITIVE_INFINITY;
    const results: Record<string, unknown>[] = [];
    let errors = 0;
    for (const raw of body.Operations) {
      if (errors >= failOnErrors) break;
      const op = isObject(raw) ? raw : {};
      const method = String(op.method ?? "").toUpperCase();
      const path = String(op.path ?? "");
      const id = /^\/Users\/([^/]+)$/.exec(path)?.[1];
      let outcome: Outcome;
      if (method === "POST" && path === "/Users") outcome = state.create(op.data);
      else if (method === "PUT" && id) outcome = state.replace(id, op.data);
      else if (method === "PATCH" && id) outcome = state.patch(id, op.data);
      else if (method === "DELETE" && id) outcome = state.remove(id);
      else outcome = fail(400, `unsupported bulk operation ${method} ${path}`, "invalidSyntax");
      if (outcome.status >= 400) errors++;
      const createdId = outcome.status === 201 && isObject(outcome.body) ? String(outcome.body.id) : id;
      results.push({
        method,
        // RFC 7644 §3.7 requires bulkId only on POST, and its own example leaves it off the others.
        ...(op.bulkId !== undefined && method === "POST" && { bulkId: op.bulkId }),
        ...(createdId && outcome.status < 400 && { location: `/Users/${createdId}` }),
        status: String(outcome.status),
        ...(outcome.status >= 400 && { response: outcome.body }),
      });
    }
    return c.json({ schemas: [SCHEMA.bulkResponse], Operations: results });
  });

  app.get("/ServiceProviderConfig", (c) =>
    c.json({
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
      patch: { supported: true },
      bulk: { supported: true, maxOperations: BULK_MAX_OPERATIONS, maxPayloadSize: BULK_MAX_BYTES },
      filter: { supported: true, maxResults: MAX_PAGE },
      changePassword: { supported: false },
      sort: { supported: false },
      etag: { supported: false },
      authenticationSchemes: [
        { type: "oauthbearertoken", name: "OAuth Bearer Token", description: "The automation user's API key", primary: true },
      ],
    }),
  );
  const userType = {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
    id: "User",
    name: "User",
    endpoint: "/Users",
    schema: SCHEMA.user,
    schemaExtensions: [
      { schema: SCHEMA.enterprise, required: false },
      { schema: JOSTLE_EXTENSION, required: false },
    ],
  };
  // Jostle provisions users only: there is no Group resource type.
  app.get("/ResourceTypes", (c) => c.json(listResponse([userType], 1, 1)));
  app.get("/ResourceTypes/User", (c) => c.json(userType));
  const schemas = [
    { id: SCHEMA.user, name: "User", description: "User Account", attributes: [] },
    { id: JOSTLE_EXTENSION, name: "JostleUser", description: "Jostle extension", attributes: [] },
  ].map((s) => ({ schemas: ["urn:ietf:params:scim:schemas:core:2.0:Schema"], ...s }));
  app.get("/Schemas", (c) => c.json(listResponse(schemas, schemas.length, 1)));
  app.get("/Schemas/:id", (c) => {
    const schema = schemas.find((s) => s.id === c.req.param("id"));
    return schema ? c.json(schema) : scimError(c, 404, "Schema not found");
  });

  app.notFound((c) => scimError(c, 404, `no endpoint ${c.req.method} ${c.req.path}`));
  return { app, tenant: tenantState };
}
