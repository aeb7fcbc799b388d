import { randomBytes } from "node:crypto";
import { type Context, Hono } from "hono";
import { Collection, jsonArray } from "../collection.ts";
import { stableHex } from "../directory.ts";
import { perTenant, type SandboxEnv, type World } from "../world.ts";

const MAX_LIMIT = 100;
const DEFAULT_LIMIT = 10;
export const MSP_TENANT = "__msp__";

export type SystemUser = Record<string, unknown> & {
  _id: string;
  username: string;
  email: string;
  state: "STAGED" | "ACTIVATED" | "SUSPENDED";
};
export interface UserGroup {
  id: string;
  name: string;
  type: "user_group";
  description: string;
  email: string;
  attributes: Record<string, unknown>;
  membershipMethod: "STATIC";
  organizationObjectId: string;
}

const objectId = () => randomBytes(12).toString("hex");
const OBJECT_ID = /^[0-9a-f]{24}$/;
const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  409: "Conflict",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
};

export const jumpcloudError = (status: number, message: string) => ({ code: status, message, status: STATUS_TEXT[status] ?? "Error" });
const v2Error = (status: number, message: string) => ({ ...jumpcloudError(status, message), details: [] });

/** Fields PUT /systemusers/{id} may change. */
const WRITABLE = new Set(
  "username email firstname middlename lastname displayname state department jobTitle employeeIdentifier employeeType company costCenter location manager alternateEmail phoneNumbers addresses attributes description account_locked".split(
    " ",
  ),
);

export class JumpCloudTenant {
  readonly users = new Collection<SystemUser>((u) => u._id);
  readonly groups = new Collection<UserGroup>((g) => g.id);
  readonly members = new Map<string, Set<string>>();
  readonly organization: { _id: string; displayName: string; logoUrl: string; created: string };
  readonly roles: { id: string; name: string; description: string }[];
  /** Bumped on every user write, so cached sort orders know they are stale. */
  private version = 0;
  private readonly sorted = new Map<string, { version: number; users: SystemUser[] }>();

  constructor(world: World, tenant: string) {
    const directory = world.directory(tenant);
    this.organization = {
      _id: stableHex(world.seed, `jumpcloud:${tenant}:org`, 24),
      displayName: directory.company,
      logoUrl: `https://cdn.example.com/logos/${tenant}.png`,
      created: directory.organizations[0]?.created ?? new Date(0).toISOString(),
    };
    const ids = directory.people.map((p) => stableHex(world.seed, `jumpcloud:${tenant}:user:${p.index}`, 24));
    for (const p of directory.people) {
      const state = p.state === "active" ? "ACTIVATED" : p.state === "inactive" ? "SUSPENDED" : "STAGED";
      this.users.put({
        _id: ids[p.index] as string,
        username: `${p.email.split("@")[0]}`,
        email: p.email,
        firstname: p.firstName,
        ...(p.middleName && { middlename: p.middleName }),
        lastname: p.lastName,
        displayname: `${p.firstName} ${p.lastName}`,
        state,
        suspended: state === "SUSPENDED",
        activated: state !== "STAGED",
        account_locked: false,
        created: p.created,
        department: p.department,
        jobTitle: p.title,
        employeeIdentifier: p.employeeNumber,
        employeeType: p.employeeType,
        company: directory.company,
        costCenter: p.costCenter,
        location: p.location,
        ...(p.manager !== null && { manager: ids[p.manager] }),
        alternateEmail: p.personalEmail,
        phoneNumbers: [
          { id: stableHex(world.seed, `jc:${tenant}:phone:${p.index}:w`, 24), number: p.workPhone, type: "work" },
          { id: stableHex(world.seed, `jc:${tenant}:phone:${p.index}:m`, 24), number: p.mobilePhone, type: "mobile" },
        ],
        addresses: [
          {
            id: stableHex(world.seed, `jc:${tenant}:addr:${p.index}`, 24),
            type: "work",
            streetAddress: p.address.street,
            locality: p.address.city,
            region: p.address.region,
            postalCode: p.address.postalCode,
            country: p.address.country,
          },
        ],
        attributes: [],
        mfa: { configured: p.mfa, exclusion: false },
        totp_enabled: p.mfa,
        organization: this.organization._id,
      });
    }
    for (const [t, team] of directory.teams.entries()) {
      const id = stableHex(world.seed, `jumpcloud:${tenant}:group:${t}`, 24);
      this.groups.put({
        id,
        name: team.name,
        type: "user_group",
        description: team.description,
        email: "",
        attributes: {},
        membershipMethod: "STATIC",
        organizationObjectId: this.organization._id,
      });
      this.members.set(id, new Set(team.members.map((i) => ids[i] as string)));
    }
    this.roles = directory.roles.map((r, i) => ({ id: stableHex(world.seed, `jumpcloud:role:${i}`, 24), ...r }));
  }

  touch(): void {
    this.version++;
  }

  /** Users in `sort` order (space-separated fields, `-` for descending), cached until the next write. */
  usersSorted(sort: string[]): SystemUser[] {
    if (sort.length === 0) return this.users.all();
    const key = sort.join(" ");
    const cached = this.sorted.get(key);
    if (cached && cached.version === this.version) return cached.users;
    const users = [...this.users.all()].sort(comparator(sort));
    this.sorted.set(key, { version: this.version, users });
    return users;
  }

  findBy(field: "username" | "email", value: string): SystemUser | undefined {
    return this.users.all().find((u) => u[field] === value);
  }
}

function comparator(sort: string[]) {
  const keys = sort.map((s) => (s.startsWith("-") ? { field: s.slice(1), dir: -1 } : { field: s, dir: 1 }));
  return (a: Record<string, unknown>, b: Record<string, unknown>) => {
    for (const { field, dir } of keys) {
      const x = a[field];
      const y = b[field];
      if (x === y) continue;
      if (x === undefined) return 1;
      if (y === undefined) return -1;
      return (String(x) < String(y) ? -1 : 1) * dir;
    }
    return 0;
  };
}

type Comparison = (actual: unknown) => boolean;

/** One filter clause, `field:$op:value` on v1 and `field:op:value` on v2. */
function clause(text: string, dollar: boolean): { field: string; test: Comparison } | undefined {
  const first = text.indexOf(":");
  const second = text.indexOf(":", first + 1);
  if (first < 1 || second < 0) return undefined;
  const field = text.slice(0, first);
  const rawOp = text.slice(first + 1, second);
  const raw = text.slice(second + 1);
  if (dollar !== rawOp.startsWith("$")) return undefined;
  const op = rawOp.replace(/^\$/, "");
  const value: unknown = raw === "true" ? true : raw === "false" ? false : raw;
  const cmp = (actual: unknown) =>
    typeof actual === "number" ? actual - Number(raw) : String(actual) < raw ? -1 : String(actual) > raw ? 1 : 0;
  const tests: Record<string, Comparison> = {
    eq: (a) => a === value || (typeof a === "number" && a === Number(raw)),
    ne: (a) => a !== value,
    gt: (a) => a !== undefined && cmp(a) > 0,
    gte: (a) => a !== undefined && cmp(a) >= 0,
    ge: (a) => a !== undefined && cmp(a) >= 0,
    lt: (a) => a !== undefined && cmp(a) < 0,
    lte: (a) => a !== undefined && cmp(a) <= 0,
    le: (a) => a !== undefined && cmp(a) <= 0,
    in: (a) => raw.split("|").includes(String(a)),
    search: (a) =>
      String(a ?? "")
        .toLowerCase()
        .includes(raw.toLowerCase()),
  };
  const v1Ops = ["eq", "ne", "gt", "gte", "lt", "lte"];
  const v2Ops = ["eq", "ne", "gt", "ge", "lt", "le", "in", "search"];
  if (!(dollar ? v1Ops : v2Ops).includes(op)) return undefined;
  return { field, test: tests[op] as Comparison };
}

function project<T extends Record<string, unknown>>(record: T, fields: string[], idField: string): Record<string, unknown> {
  if (fields.length === 0) return record;
  return Object.fromEntries(Object.entries(record).filter(([k]) => k === idField || fields.includes(k)));
}

export function jumpcloudRoutes(world: World) {
  const tenantState = perTenant((name) => new JumpCloudTenant(world, name));
  const orgTenant = (orgId: string) => world.tenants.find((t) => tenantState(t.name).organization._id === orgId)?.name;
  const mspKey = world.keyFor("jumpcloud-msp", "msp");
  const providerId = stableHex(world.seed, "jumpcloud:provider", 24);

  const app = new Hono<SandboxEnv>();
  app.use(
    "*",
    world.gate("jumpcloud", {
      authenticate: (c) => {
        const key = c.req.header("x-api-key") ?? "";
        if (key && key === mspKey) {
          // MSP administrators pick the organization with x-org-id; listing their orgs needs none.
          const orgId = c.req.header("x-org-id");
          if (!orgId) {
            if (c.req.path.endsWith("/organizations")) return { tenant: MSP_TENANT, key };
            return c.json({ message: "Unauthorized: no organization selected" }, 401);
          }
          if (!OBJECT_ID.test(orgId)) return c.json(jumpcloudError(400, "invalid x-org-id header"), 400);
          const tenant = orgTenant(orgId);
          return tenant ? { tenant, key } : c.json(jumpcloudError(404, "organization not found"), 404);
        }
        const tenant = key ? world.tenantForKey("jumpcloud", key) : undefined;
        return tenant ? { tenant, key } : c.json({ message: "Unauthorized" }, 401);
      },
      errorBody: (status, message) => jumpcloudError(status, message),
    }),
  );

  const fail = (c: Context, status: number, message: string, v2 = false) =>
    c.json(v2 ? v2Error(status, message) : jumpcloudError(status, message), status as 400);

  /** limit/skip as JumpCloud reads them: limit defaults to 10 and may not exceed 100. */
  function window(c: Context): { limit: number; skip: number } | string {
    const limit = c.req.query("limit") === undefined ? DEFAULT_LIMIT : Number(c.req.query("limit"));
    const skip = c.req.query("skip") === undefined ? 0 : Number(c.req.query("skip"));
    if (!Number.isInteger(limit) || limit < 0 || limit > MAX_LIMIT) return `limit must be an integer between 0 and ${MAX_LIMIT}`;
    if (!Number.isInteger(skip) || skip < 0) return "skip must be a non-negative integer";
    return { limit: limit === 0 ? DEFAULT_LIMIT : limit, skip };
  }

  function filters(c: Context, dollar: boolean): { field: string; test: Comparison }[] | string {
    const parsed = [];
    for (const text of c.req.queries("filter") ?? []) {
      // v2 also takes several clauses comma-separated in one parameter.
      for (const part of dollar ? [text] : text.split(",")) {
        const one = clause(part, dollar);
        if (!one) return `invalid filter "${part}"; use field:${dollar ? "$eq" : "eq"}:value`;
        parsed.push(one);
      }
    }
    return parsed;
  }

  // ---- v1 ------------------------------------------------------------------------------------
  app.get("/systemusers", (c) => {
    const state = tenantState(c.var.tenant);
    const win = window(c);
    if (typeof win === "string") return fail(c, 400, win);
    const where = filters(c, true);
    if (typeof where === "string") return fail(c, 400, where);
    const sort = (c.req.query("sort") ?? "").split(" ").filter(Boolean);
    const fields = (c.req.query("fields") ?? "").split(" ").filter(Boolean);
    const search = c.req.query("search")?.toLowerCase();
    let users = state.usersSorted(sort);
    if (where.length || search) {
      users = users.filter(
        (u) =>
          where.every(({ field, test }) => test(u[field])) &&
          (!search ||
            ["username", "email", "firstname", "lastname", "displayname"].some((f) =>
              String(u[f] ?? "")
                .toLowerCase()
                .includes(search),
            )),
      );
    }
    const results = users.slice(win.skip, win.skip + win.limit).map((u) => project(u, fields, "_id"));
    return c.body(`{"totalCount":${users.length},"results":${jsonArray(results)}}`, 200, { "content-type": "application/json" });
  });

  app.post("/search/systemusers", async (c) => {
    const state = tenantState(c.var.tenant);
    const body = (await c.req.json().catch(() => ({}))) as Record<string, any>;
    const limit = Math.min(Number(body.limit ?? DEFAULT_LIMIT), MAX_LIMIT);
    const skip = Number(body.skip ?? 0);
    const match = (u: SystemUser, f: any): boolean => {
      if (!f || typeof f !== "object") return true;
      if (Array.isArray(f)) return f.every((x) => match(u, x));
      if (Array.isArray(f.and)) return f.and.every((x: unknown) => match(u, x));
      if (Array.isArray(f.or)) return f.or.some((x: unknown) => match(u, x));
      return Object.entries(f).every(([k, v]) => u[k] === v);
    };
    const term = String(body.searchFilter?.searchTerm ?? "").toLowerCase();
    const searchFields: string[] = body.searchFilter?.fields ?? ["username", "email", "firstname", "lastname"];
    const users = state.users.all().filter(
      (u) =>
        match(u, body.filter) &&
        (!term ||
          searchFields.some((f) =>
            String(u[f] ?? "")
              .toLowerCase()
              .includes(term),
          )),
    );
    const fields = typeof body.fields === "string" ? body.fields.split(" ").filter(Boolean) : [];
    return c.json({ totalCount: users.length, results: users.slice(skip, skip + limit).map((u) => project(u, fields, "_id")) });
  });

  app.post("/systemusers", async (c) => {
    const state = tenantState(c.var.tenant);
    const body = (await c.req.json().catch(() => undefined)) as Record<string, unknown> | undefined;
    if (!body || typeof body.username !== "string" || !body.username || typeof body.email !== "string" || !body.email) {
      return fail(c, 400, "username and email are required");
    }
    if (state.findBy("username", body.username)) return fail(c, 409, `username ${body.username} already exists`);
    if (state.findBy("email", body.email)) return fail(c, 409, `email ${body.email} already exists`);
    const stateValue = body.state === "STAGED" || body.state === "SUSPENDED" ? body.state : "ACTIVATED";
    const input = Object.fromEntries(Object.entries(body).filter(([k]) => WRITABLE.has(k)));
    const user: SystemUser = {
      attributes: [],
      phoneNumbers: [],
      addresses: [],
      account_locked: false,
      totp_enabled: false,
      mfa: { configured: false, exclusion: false },
      ...input,
      _id: objectId(),
      username: body.username,
      email: body.email,
      state: stateValue,
      suspended: stateValue === "SUSPENDED",
      activated: stateValue !== "STAGED",
      created: new Date().toISOString(),
      organization: state.organization._id,
    };
    state.users.put(user);
    state.touch();
    return c.json(user, 200);
  });

  app.get("/systemusers/:id", (c) => {
    const user = tenantState(c.var.tenant).users.get(c.req.param("id"));
    const fields = (c.req.query("fields") ?? "").split(" ").filter(Boolean);
    return user ? c.json(project(user, fields, "_id")) : fail(c, 404, "system user not found");
  });

  // PUT is a partial update of the fields given; state may only become ACTIVATED or SUSPENDED.
  app.put("/systemusers/:id", async (c) => {
    const state = tenantState(c.var.tenant);
    const user = state.users.get(c.req.param("id"));
    if (!user) return fail(c, 404, "system user not found");
    const body = (await c.req.json().catch(() => undefined)) as Record<string, unknown> | undefined;
    if (!body || typeof body !== "object") return fail(c, 400, "the body must be a JSON object");
    if (body.state !== undefined && body.state !== "ACTIVATED" && body.state !== "SUSPENDED") {
      return fail(c, 400, "state may only be ACTIVATED or SUSPENDED");
    }
    for (const field of ["username", "email"] as const) {
      if (typeof body[field] === "string") {
        const holder = state.findBy(field, body[field] as string);
        if (holder && holder._id !== user._id) return fail(c, 409, `${field} ${String(body[field])} already exists`);
      }
    }
    const changes = Object.fromEntries(Object.entries(body).filter(([k]) => WRITABLE.has(k)));
    const next = { ...user, ...changes } as SystemUser;
    if (body.state !== undefined) {
      next.suspended = body.state === "SUSPENDED";
      next.activated = true;
    }
    state.users.put(next);
    state.touch();
    return c.json(next);
  });

  app.delete("/systemusers/:id", (c) => {
    const state = tenantState(c.var.tenant);
    const user = state.users.get(c.req.param("id"));
    if (!user) return fail(c, 404, "system user not found");
    state.users.delete(user._id);
    for (const members of state.members.values()) members.delete(user._id);
    state.touch();
    return c.json(user);
  });

  app.post("/systemusers/:id/state/activate", (c) => {
    const state = tenantState(c.var.tenant);
    const user = state.users.get(c.req.param("id"));
    if (!user) return fail(c, 404, "system user not found");
    if (user.state === "STAGED") {
      state.users.put({ ...user, state: "ACTIVATED", activated: true, suspended: false });
      state.touch();
    }
    return c.body(null, 200);
  });

  app.get("/organizations", (c) => {
    const orgs =
      c.var.tenant === MSP_TENANT ? world.tenants.map((t) => tenantState(t.name).organization) : [tenantState(c.var.tenant).organization];
    const win = window(c);
    if (typeof win === "string") return fail(c, 400, win);
    const fields = (c.req.query("fields") ?? "").split(" ").filter(Boolean);
    return c.json({ totalCount: orgs.length, results: orgs.slice(win.skip, win.skip + win.limit).map((o) => project(o, fields, "_id")) });
  });
  app.get("/organizations/:id", (c) => {
    const org = c.var.tenant === MSP_TENANT ? undefined : tenantState(c.var.tenant).organization;
    return org && org._id === c.req.param("id") ? c.json(org) : fail(c, 404, "organization not found");
  });

  // ---- v2 ------------------------------------------------------------------------------------
  const v2 = new Hono<SandboxEnv>();

  /** A v2 list: bare array, the total in x-total-count, comma-separated sort and fields. */
  function v2List<T extends Record<string, unknown>>(c: Context<SandboxEnv>, records: T[], idField = "id") {
    const win = window(c);
    if (typeof win === "string") return fail(c, 400, win, true);
    const where = filters(c, false);
    if (typeof where === "string") return fail(c, 400, where, true);
    const sort = (c.req.query("sort") ?? "").split(",").filter(Boolean);
    const fields = (c.req.query("fields") ?? "").split(",").filter(Boolean);
    let rows = records.filter((r) => where.every(({ field, test }) => test(r[field])));
    if (sort.length) rows = [...rows].sort(comparator(sort));
    c.header("x-total-count", String(rows.length));
    return c.body(jsonArray(rows.slice(win.skip, win.skip + win.limit).map((r) => project(r, fields, idField))), 200, {
      "content-type": "application/json",
    });
  }

  v2.get("/usergroups", (c) => v2List(c, tenantState(c.var.tenant).groups.all() as unknown as Record<string, unknown>[]));
  v2.post("/usergroups", async (c) => {
    const state = tenantState(c.var.tenant);
    const body = (await c.req.json().catch(() => undefined)) as Record<string, unknown> | undefined;
    if (!body || typeof body.name !== "string" || !body.name) return fail(c, 400, "name is required", true);
    if (state.groups.all().some((g) => g.name === body.name)) return fail(c, 409, `a user group named ${body.name} already exists`, true);
    const group: UserGroup = {
      id: objectId(),
      name: body.name,
      type: "user_group",
      description: typeof body.description === "string" ? body.description : "",
      email: typeof body.email === "string" ? body.email : "",
      attributes: typeof body.attributes === "object" && body.attributes ? (body.attributes as Record<string, unknown>) : {},
      membershipMethod: "STATIC",
      organizationObjectId: state.organization._id,
    };
    state.groups.put(group);
    state.members.set(group.id, new Set());
    return c.json(group, 201);
  });
  v2.get("/usergroups/:id", (c) => {
    const group = tenantState(c.var.tenant).groups.get(c.req.param("id"));
    return group ? c.json(group) : fail(c, 404, "user group not found", true);
  });
  v2.put("/usergroups/:id", async (c) => {
    const state = tenantState(c.var.tenant);
    const group = state.groups.get(c.req.param("id"));
    if (!group) return fail(c, 404, "user group not found", true);
    const body = (await c.req.json().catch(() => undefined)) as Record<string, unknown> | undefined;
    if (!body || typeof body.name !== "string" || !body.name) return fail(c, 400, "name is required", true);
    if (state.groups.all().some((g) => g.name === body.name && g.id !== group.id))
      return fail(c, 409, `a user group named ${body.name} already exists`, true);
    const next: UserGroup = {
      ...group,
      name: body.name,
      ...(typeof body.description === "string" && { description: body.description }),
      ...(typeof body.email === "string" && { email: body.email }),
    };
    state.groups.put(next);
    return c.json(next);
  });
  v2.delete("/usergroups/:id", (c) => {
    const state = tenantState(c.var.tenant);
    const group = state.groups.get(c.req.param("id"));
    if (!group) return fail(c, 404, "user group not found", true);
    state.groups.delete(group.id);
    state.members.delete(group.id);
    return c.json(group);
  });
  v2.get("/usergroups/:id/members", (c) => {
    const members = tenantState(c.var.tenant).members.get(c.req.param("id"));
    if (!members) return fail(c, 404, "user group not found", true);
    return v2List(
      c,
      [...members].map((id) => ({ to: { id, type: "user" }, attributes: {} })),
      "to",
    );
  });
  v2.post("/usergroups/:id/members", async (c) => {
    const state = tenantState(c.var.tenant);
    const members = state.members.get(c.req.param("id"));
    if (!members) return fail(c, 404, "user group not found", true);
    const body = (await c.req.json().catch(() => undefined)) as Record<string, unknown> | undefined;
    if (!body || (body.op !== "add" && body.op !== "remove") || body.type !== "user" || typeof body.id !== "string") {
      return fail(c, 400, 'body must be {"op":"add"|"remove","type":"user","id":"<userId>"}', true);
    }
    if (!state.users.get(body.id)) return fail(c, 404, "user not found", true);
    if (body.op === "add") {
      if (members.has(body.id)) return fail(c, 409, "Already Exists", true);
      members.add(body.id);
    } else {
      if (!members.delete(body.id)) return fail(c, 404, "association not found", true);
    }
    return c.body(null, 204);
  });
  v2.get("/usergroups/:id/membership", (c) => {
    const groupId = c.req.param("id");
    const members = tenantState(c.var.tenant).members.get(groupId);
    if (!members) return fail(c, 404, "user group not found", true);
    const rows = [...members].map((id) => ({
      id,
      type: "user",
      paths: [[{ to: { id: groupId, type: "user_group" } }]],
      compiledAttributes: {},
    }));
    return v2List(c, rows);
  });
  v2.get("/users/:id/memberof", (c) => {
    const state = tenantState(c.var.tenant);
    const userId = c.req.param("id");
    if (!state.users.get(userId)) return fail(c, 404, "user not found", true);
    const rows = [...state.members.entries()]
      .filter(([, members]) => members.has(userId))
      .map(([groupId]) => ({
        id: groupId,
        type: "user_group",
        paths: [[{ from: { id: userId, type: "user" }, to: { id: groupId, type: "user_group" } }]],
        compiledAttributes: {},
      }));
    return v2List(c, rows);
  });
  // Undocumented upstream: the simulator's assumed shape (docs/upstreams/jumpcloud.md).
  v2.get("/roles", (c) => v2List(c, tenantState(c.var.tenant).roles));
  v2.get("/roles/:id", (c) => {
    const role = tenantState(c.var.tenant).roles.find((r) => r.id === c.req.param("id"));
    return role ? c.json(role) : fail(c, 404, "role not found", true);
  });
  v2.get("/providers/:id/organizations", (c) => {
    if (c.var.tenant !== MSP_TENANT || c.req.param("id") !== providerId) return fail(c, 404, "provider not found", true);
    const orgs = world.tenants.map((t) => {
      const org = tenantState(t.name).organization;
      return { id: org._id, name: org.displayName, maxSystemUsers: 0 };
    });
    return c.json({ totalCount: orgs.length, results: orgs });
  });

  app.route("/v2", v2);
  app.notFound((c) => fail(c, 404, `no endpoint ${c.req.method} ${c.req.path}`));
  return { app, tenant: tenantState, mspKey, providerId, orgTenant };
}
