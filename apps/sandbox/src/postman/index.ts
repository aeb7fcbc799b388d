import { randomBytes } from "node:crypto";
import { type Context, Hono } from "hono";
import { Collection } from "../collection.ts";
import { stableHex } from "../directory.ts";
import { eqClauses, isObject, pageParams, readJson, SCHEMA, scimError, scimErrorBody, sendList } from "../scim.ts";
import { perTenant, type SandboxEnv, type World } from "../world.ts";

const MAX_PAGE = 100; // Postman publishes count default 100 and no maximum; the simulator caps at 100.

export interface PostmanUser {
  schemas: string[];
  id: string;
  userName: string;
  name: { givenName: string; familyName: string };
  externalId?: string;
  active: boolean;
  meta: { resourceType: "User"; created: string; lastModified: string };
}

export interface PostmanGroup {
  schemas: string[];
  id: string;
  displayName: string;
  externalId?: string;
  members: { value: string; display: string }[];
  meta: { resourceType: "Group"; created: string; lastModified: string };
}

const newId = () => randomBytes(24).toString("hex"); // Postman ids are 48 hex characters.

export class PostmanTenant {
  readonly users = new Collection<PostmanUser>((u) => u.id);
  readonly groups = new Collection<PostmanGroup>((g) => g.id);
  private readonly byUserName = new Map<string, string>();
  /** Users on the team only through a group: deleting their last group deactivates them. */
  readonly groupOnly = new Set<string>();

  constructor(world: World, tenant: string) {
    const directory = world.directory(tenant);
    const ids = directory.people.map((p) => stableHex(world.seed, `postman:${tenant}:user:${p.index}`, 48));
    for (const person of directory.people) {
      const id = ids[person.index] as string;
      this.putUser({
        schemas: [SCHEMA.user],
        id,
        userName: person.email,
        name: { givenName: person.firstName, familyName: person.lastName },
        externalId: person.employeeNumber,
        active: person.state === "active",
        meta: { resourceType: "User", created: person.created, lastModified: person.updated },
      });
    }
    for (const [t, team] of directory.teams.entries()) {
      const created = directory.organizations[0]?.created ?? new Date(0).toISOString();
      this.groups.put({
        schemas: [SCHEMA.group],
        id: stableHex(world.seed, `postman:${tenant}:group:${t}`, 48),
        displayName: team.name,
        externalId: `team-${t}`,
        members: team.members.map((i) => ({ value: ids[i] as string, display: directory.people[i]?.email ?? "" })),
        meta: { resourceType: "Group", created, lastModified: created },
      });
      // Members of project teams who are not in a department group joined through the team only.
      if (team.kind === "team") for (const i of team.members) if (i % 10 === 3) this.groupOnly.add(ids[i] as string);
    }
  }

  putUser(user: PostmanUser): PostmanUser {
    const previous = this.users.get(user.id);
    if (previous) this.byUserName.delete(previous.userName);
    this.users.put(user);
    this.byUserName.set(user.userName, user.id);
    return user;
  }

  removeUser(id: string): boolean {
    const user = this.users.get(id);
    if (!user) return false;
    this.byUserName.delete(user.userName);
    this.users.delete(id);
    for (const group of this.groups.all()) {
      if (group.members.some((m) => m.value === id)) this.groups.put({ ...group, members: group.members.filter((m) => m.value !== id) });
    }
    return true;
  }

  /** userName filters are case-sensitive on Postman. */
  findByUserName(userName: string): PostmanUser | undefined {
    const id = this.byUserName.get(userName);
    return id ? this.users.get(id) : undefined;
  }

  /** Deleting a group deactivates (never deletes) members who were on the team only through it. */
  deleteGroup(id: string): boolean {
    const group = this.groups.get(id);
    if (!group) return false;
    this.groups.delete(id);
    const stillGrouped = new Set(this.groups.all().flatMap((g) => g.members.map((m) => m.value)));
    for (const { value } of group.members) {
      const user = this.users.get(value);
      if (user && this.groupOnly.has(value) && !stillGrouped.has(value)) {
        this.putUser({ ...user, active: false, meta: { ...user.meta, lastModified: new Date().toISOString() } });
      }
    }
    return true;
  }
}

export function postmanRoutes(world: World) {
  const tenantState = perTenant((name) => new PostmanTenant(world, name));
  const app = new Hono<SandboxEnv>();

  app.use(
    "*",
    world.gate("postman", {
      // The scimApiKey scheme puts the key in Authorization; IdPs send it as a Bearer token. Both work.
      authenticate: (c) => {
        const key = (c.req.header("authorization") ?? "").replace(/^Bearer\s+/i, "").trim();
        const tenant = key ? world.tenantForKey("postman", key) : undefined;
        if (!tenant) return scimError(c, 401, "Invalid or missing SCIM API key");
        return { tenant, key };
      },
      errorBody: (status, message) => scimErrorBody(status, message),
      rateLimitHeaders: (limit, remaining, reset) => ({
        "RateLimit-Limit": String(limit),
        "RateLimit-Remaining": String(remaining),
        "RateLimit-Reset": String(reset),
        "X-RateLimit-Limit": String(limit),
        "X-RateLimit-Remaining": String(remaining),
        "X-RateLimit-Reset": String(reset),
      }),
      rateLimitBody: (reset) => ({
        error: { name: "rateLimitError", message: `Rate Limit exceeded. Please retry at ${Date.now() + reset * 1000}` },
      }),
    }),
  );

  /** The records a filter selects; the whole collection (uncopied) without one; undefined for an unsupported filter. */
  function filtered<T extends object>(
    c: Context<SandboxEnv>,
    collection: Collection<T>,
    allowed: Record<string, (record: T, value: unknown) => boolean>,
  ) {
    const filter = c.req.query("filter");
    if (filter === undefined) return collection;
    const all = () => collection.all();
    const clauses = eqClauses(filter);
    if (!clauses || clauses.some((clause) => !allowed[clause.attr])) return undefined;
    return all().filter((record) => clauses.every((clause) => allowed[clause.attr]?.(record, clause.value)));
  }

  function page<T extends object>(c: Context<SandboxEnv>, records: T[] | Collection<T> | undefined, what: string) {
    if (!records) return scimError(c, 400, `Unsupported filter: ${what}`, "invalidFilter");
    const params = pageParams(c, MAX_PAGE, MAX_PAGE);
    if (typeof params === "string") return scimError(c, 400, params, "invalidValue");
    const [slice, total] =
      records instanceof Collection
        ? [records.slice(params.startIndex - 1, params.count), records.size]
        : [records.slice(params.startIndex - 1, params.startIndex - 1 + params.count), records.length];
    return sendList(c, slice, total, params.startIndex);
  }

  app.get("/Users", (c) => {
    const state = tenantState(c.var.tenant);
    const userName = c.req.query("filter") && /^userName eq "([^"]*)"$/.exec(c.req.query("filter") ?? "");
    // The common lookup by userName is an index hit, not a scan.
    if (userName)
      return page(
        c,
        [state.findByUserName(userName[1] as string)].filter((u) => u !== undefined),
        "",
      );
    const records = filtered(c, state.users, {
      userName: (u, v) => u.userName === v,
      active: (u, v) => u.active === v,
    });
    return page(c, records, "users filter on userName or active with eq only");
  });

  app.post("/Users", async (c) => {
    const body = await readJson(c);
    if (body instanceof Error) return scimError(c, 400, body.message, "invalidSyntax");
    const state = tenantState(c.var.tenant);
    if (!isObject(body) || typeof body.userName !== "string" || !body.userName.includes("@")) {
      return scimError(c, 400, "userName must be an email address", "invalidValue");
    }
    const name = isObject(body.name) ? body.name : {};
    if (typeof name.givenName !== "string" || typeof name.familyName !== "string") {
      return scimError(c, 400, "name.givenName and name.familyName are required", "invalidValue");
    }
    if (state.findByUserName(body.userName)) return scimError(c, 409, `A user with userName ${body.userName} already exists`, "uniqueness");
    const now = new Date().toISOString();
    const user = state.putUser({
      schemas: [SCHEMA.user],
      id: newId(),
      userName: body.userName,
      name: { givenName: name.givenName, familyName: name.familyName },
      ...(typeof body.externalId === "string" && { externalId: body.externalId }),
      active: body.active !== false,
      meta: { resourceType: "User", created: now, lastModified: now },
    });
    const groupIds = Array.isArray(body.groups) ? body.groups.map(String) : [];
    for (const groupId of groupIds) {
      const group = state.groups.get(groupId);
      if (group) state.groups.put({ ...group, members: [...group.members, { value: user.id, display: user.userName }] });
    }
    if (groupIds.length) state.groupOnly.add(user.id);
    return c.json(user, 201);
  });

  app.get("/Users/:id", (c) => {
    const user = tenantState(c.var.tenant).users.get(c.req.param("id"));
    return user ? c.json(user) : scimError(c, 404, "User not found");
  });

  // PUT updates only first and last name; active false→true reactivates.
  app.put("/Users/:id", async (c) => {
    const body = await readJson(c);
    if (body instanceof Error) return scimError(c, 400, body.message, "invalidSyntax");
    const state = tenantState(c.var.tenant);
    const user = state.users.get(c.req.param("id"));
    if (!user) return scimError(c, 404, "User not found");
    const name = isObject(body) && isObject(body.name) ? body.name : {};
    const updated: PostmanUser = {
      ...user,
      name: {
        givenName: typeof name.givenName === "string" ? name.givenName : user.name.givenName,
        familyName: typeof name.familyName === "string" ? name.familyName : user.name.familyName,
      },
      active: isObject(body) && body.active === true && !user.active ? true : user.active,
      meta: { ...user.meta, lastModified: new Date().toISOString() },
    };
    return c.json(state.putUser(updated));
  });

  // Only two shapes: replace {active} and replace path userName.
  app.patch("/Users/:id", async (c) => {
    const body = await readJson(c);
    if (body instanceof Error) return scimError(c, 400, body.message, "invalidSyntax");
    const state = tenantState(c.var.tenant);
    const user = state.users.get(c.req.param("id"));
    if (!user) return scimError(c, 404, "User not found");
    const operations = isObject(body) && Array.isArray(body.Operations) ? body.Operations : [];
    if (operations.length === 0) return scimError(c, 400, "Operations are required", "invalidSyntax");
    let next: PostmanUser = { ...user };
    for (const op of operations) {
      const kind = isObject(op) ? String(op.op).toLowerCase() : "";
      if (
        kind === "replace" &&
        isObject(op) &&
        op.path === undefined &&
        isObject(op.value) &&
        typeof op.value.active === "boolean" &&
        Object.keys(op.value).length === 1
      ) {
        next = { ...next, active: op.value.active };
      } else if (kind === "replace" && isObject(op) && op.path === "userName" && typeof op.value === "string" && op.value.includes("@")) {
        const holder = state.findByUserName(op.value);
        if (holder && holder.id !== user.id) return scimError(c, 409, `A user with userName ${op.value} already exists`, "uniqueness");
        next = { ...next, userName: op.value };
      } else {
        return scimError(
          c,
          400,
          'Only {"op":"replace","value":{"active":<bool>}} and {"op":"replace","path":"userName","value":"<email>"} are supported',
          "invalidValue",
        );
      }
    }
    next.meta = { ...user.meta, lastModified: new Date().toISOString() };
    return c.json(state.putUser(next));
  });

  app.get("/Groups", (c) => {
    const state = tenantState(c.var.tenant);
    const records = filtered(c, state.groups, { displayName: (g, v) => g.displayName === v });
    return page(c, records, "groups filter on displayName eq only");
  });

  app.post("/Groups", async (c) => {
    const body = await readJson(c);
    if (body instanceof Error) return scimError(c, 400, body.message, "invalidSyntax");
    const state = tenantState(c.var.tenant);
    if (!isObject(body) || typeof body.displayName !== "string" || !body.displayName) {
      return scimError(c, 400, "displayName is required", "invalidValue");
    }
    if (state.groups.all().some((g) => g.displayName === body.displayName)) {
      return scimError(c, 409, `A group named ${body.displayName} already exists`, "uniqueness");
    }
    const members = membersFrom(state, body.members);
    if (typeof members === "string") return scimError(c, 400, members, "invalidValue");
    const now = new Date().toISOString();
    const group = state.groups.put({
      schemas: [SCHEMA.group],
      id: newId(),
      displayName: body.displayName,
      ...(typeof body.externalId === "string" && { externalId: body.externalId }),
      members,
      meta: { resourceType: "Group", created: now, lastModified: now },
    });
    return c.json(group, 201);
  });

  app.get("/Groups/:id", (c) => {
    const group = tenantState(c.var.tenant).groups.get(c.req.param("id"));
    return group ? c.json(group) : scimError(c, 404, "Group not found");
  });

  app.patch("/Groups/:id", async (c) => {
    const body = await readJson(c);
    if (body instanceof Error) return scimError(c, 400, body.message, "invalidSyntax");
    const state = tenantState(c.var.tenant);
    const group = state.groups.get(c.req.param("id"));
    if (!group) return scimError(c, 404, "Group not found");
    const operations = isObject(body) && Array.isArray(body.Operations) ? body.Operations : [];
    if (operations.length === 0) return scimError(c, 400, "Operations are required", "invalidSyntax");
    let next = { ...group, members: [...group.members] };
    for (const op of operations) {
      if (!isObject(op)) return scimError(c, 400, "each operation is an object", "invalidSyntax");
      const kind = String(op.op).toLowerCase();
      const path = op.path === undefined ? undefined : String(op.path);
      // Postman's published document types a replace's value as an object {id?, displayName}:
      // a rename is {op: "replace", value: {displayName}}, and a bare string value is refused.
      if (kind === "replace" && path === undefined && isObject(op.value) && typeof op.value.displayName === "string") {
        const name = (op.value as Record<string, unknown>).displayName;
        if (typeof name !== "string" || !name) return scimError(c, 400, "displayName must be a non-empty string", "invalidValue");
        next = { ...next, displayName: name };
      } else if ((kind === "add" || kind === "remove") && path === "members") {
        const members = membersFrom(state, op.value);
        if (typeof members === "string") return scimError(c, 400, members, "invalidValue");
        const ids = new Set(members.map((m) => m.value));
        next.members =
          kind === "add" ? [...next.members.filter((m) => !ids.has(m.value)), ...members] : next.members.filter((m) => !ids.has(m.value));
      } else {
        return scimError(c, 400, `Unsupported operation ${kind} ${path ?? ""}`.trim(), "invalidPath");
      }
    }
    next.meta = { ...group.meta, lastModified: new Date().toISOString() };
    state.groups.put(next);
    // Postman answers a group PATCH without its members.
    const { members: _members, ...withoutMembers } = next;
    return c.json(withoutMembers);
  });

  app.delete("/Groups/:id", (c) =>
    tenantState(c.var.tenant).deleteGroup(c.req.param("id")) ? c.body(null, 204) : scimError(c, 404, "Group not found"),
  );

  app.get("/ResourceTypes", (c) =>
    // Postman answers with a bare array, not a ListResponse.
    c.json([
      {
        schemas: ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        id: "User",
        name: "User",
        endpoint: "/Users",
        description: "User Account",
        schema: SCHEMA.user,
        schemaExtensions: [],
        meta: { location: "/scim/v2/ResourceTypes/User", resourceType: "ResourceType" },
      },
      {
        schemas: ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        id: "Group",
        name: "Group",
        endpoint: "/Groups",
        description: "Group",
        schema: SCHEMA.group,
        schemaExtensions: [],
        meta: { location: "/scim/v2/ResourceTypes/Group", resourceType: "ResourceType" },
      },
    ]),
  );
  app.get("/ServiceProviderConfig", (c) =>
    c.json({
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
      patch: { supported: true },
      bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
      filter: { supported: true, maxResults: MAX_PAGE },
      changePassword: { supported: false },
      sort: { supported: false },
      etag: { supported: false },
      authenticationSchemes: [
        {
          type: "oauthbearertoken",
          name: "OAuth Bearer Token",
          description: "SCIM API key",
          specUri: "https://www.rfc-editor.org/info/rfc6750",
          primary: true,
        },
      ],
      meta: { location: "/scim/v2/ServiceProviderConfig", resourceType: "ServiceProviderConfig" },
    }),
  );

  // Users cannot be deleted through SCIM (no DELETE route): anything unlisted is a 404.
  app.notFound((c) => scimError(c, 404, `no endpoint ${c.req.method} ${c.req.path}`));
  return { app, tenant: tenantState };
}

function membersFrom(state: PostmanTenant, value: unknown): PostmanGroup["members"] | string {
  if (value === undefined) return [];
  if (!Array.isArray(value)) return "members must be an array of {value}";
  const members: PostmanGroup["members"] = [];
  for (const item of value) {
    const id = isObject(item) ? String(item.value ?? "") : "";
    const user = state.users.get(id);
    if (!user) return `no user with id ${id}`;
    members.push({ value: id, display: user.userName });
  }
  return members;
}
