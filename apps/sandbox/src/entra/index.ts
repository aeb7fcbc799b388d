import { randomBytes, randomUUID } from "node:crypto";
import { type Context, Hono } from "hono";
import { Collection } from "../collection.ts";
import { stableHex } from "../directory.ts";
import { perTenant, type SandboxEnv, type World } from "../world.ts";

/*
 * Microsoft Graph v1.0 as Microsoft Entra ID's directory answers it (docs/upstreams/microsoft-entra-id.md;
 * docs/vendor-specs/microsoft-graph/): an app's client credentials at the identity platform's
 * token endpoint, lists paged by `@odata.nextLink` (a full URL with an opaque `$skiptoken`),
 * `$top` from 1 to 999, only a default set of user properties unless `$select` names others,
 * delta queries that end in an `@odata.deltaLink`, and `{error: {code, message, innerError}}`.
 */

export interface GraphUser {
  id: string;
  accountEnabled: boolean;
  businessPhones: string[];
  city: string | null;
  companyName: string | null;
  country: string | null;
  createdDateTime: string;
  department: string | null;
  displayName: string;
  employeeId: string | null;
  employeeType: string | null;
  externalUserState: string | null;
  givenName: string | null;
  jobTitle: string | null;
  mail: string | null;
  mailNickname: string;
  mobilePhone: string | null;
  officeLocation: string | null;
  otherMails: string[];
  postalCode: string | null;
  preferredLanguage: string | null;
  state: string | null;
  streetAddress: string | null;
  surname: string | null;
  usageLocation: string | null;
  userPrincipalName: string;
  userType: "Member" | "Guest";
  /** Not a property: the manager navigation, shown only through `$expand=manager`. */
  managerId: string | null;
}

export interface GraphGroup {
  id: string;
  createdDateTime: string;
  description: string | null;
  displayName: string;
  groupTypes: string[];
  mail: string | null;
  mailEnabled: boolean;
  mailNickname: string;
  securityEnabled: boolean;
  visibility: string | null;
}

/** What a user answers without `$select` (Graph's documented default set). */
const USER_DEFAULT = [
  "businessPhones",
  "displayName",
  "givenName",
  "jobTitle",
  "mail",
  "mobilePhone",
  "officeLocation",
  "preferredLanguage",
  "surname",
  "userPrincipalName",
  "id",
];
const USER_PROPERTIES = new Set([
  "id",
  "accountEnabled",
  "businessPhones",
  "city",
  "companyName",
  "country",
  "createdDateTime",
  "department",
  "displayName",
  "employeeId",
  "employeeType",
  "externalUserState",
  "givenName",
  "jobTitle",
  "mail",
  "mailNickname",
  "mobilePhone",
  "officeLocation",
  "otherMails",
  "postalCode",
  "preferredLanguage",
  "state",
  "streetAddress",
  "surname",
  "usageLocation",
  "userPrincipalName",
  "userType",
  "deletedDateTime",
]);
const GROUP_PROPERTIES = new Set([
  "id",
  "createdDateTime",
  "description",
  "displayName",
  "groupTypes",
  "mail",
  "mailEnabled",
  "mailNickname",
  "securityEnabled",
  "visibility",
  "deletedDateTime",
  "members",
]);
/** Page sizes: 100 unless `$top` asks for 1 to 999; a delta round pages at 100 whatever is asked. */
const PAGE = { fallback: 100, max: 999 };
const DELTA_PAGE = 100;
const TOKEN_SECONDS = 3599;
export const GRAPH_SCOPE = "https://graph.microsoft.com/.default";

const guid = (hex: string) => `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;

/** Graph's error body; every answer carries a request id. */
export function graphError(code: string, message: string) {
  return {
    error: {
      code,
      message,
      innerError: { date: new Date().toISOString().slice(0, 19), "request-id": randomUUID(), "client-request-id": randomUUID() },
    },
  };
}

/** One change in a tenant's directory, in order: what delta rounds are answered from. */
type Change =
  { seq: number; kind: "user" | "group"; id: string } | { seq: number; kind: "member"; id: string; userId: string; added: boolean };

export class EntraTenant {
  readonly users = new Collection<GraphUser>((u) => u.id);
  readonly groups = new Collection<GraphGroup>((g) => g.id);
  readonly members = new Map<string, Set<string>>();
  readonly tenantId: string;
  readonly domain: string;
  readonly company: string;
  readonly created: string;
  private readonly changes: Change[] = [];
  private seq = 0;

  constructor(world: World, tenant: string) {
    const directory = world.directory(tenant);
    this.tenantId = guid(stableHex(world.seed, `entra:${tenant}:tenant`, 32));
    this.domain = directory.domain;
    this.company = directory.company;
    this.created = directory.organizations[0]?.created ?? "2020-01-01T00:00:00Z";
    const ids = directory.people.map((p) => guid(stableHex(world.seed, `entra:${tenant}:user:${p.index}`, 32)));
    for (const p of directory.people) {
      // Entra has no "not yet activated" member: a staged person is a guest who has not accepted the invitation.
      const guest = p.state === "staged";
      const nickname = p.email.split("@")[0]!;
      this.users.put({
        id: ids[p.index]!,
        accountEnabled: p.state !== "inactive",
        businessPhones: [p.workPhone],
        city: p.address.city,
        companyName: directory.company,
        country: p.address.country,
        createdDateTime: p.created.replace(/\.\d+Z$/, "Z"),
        department: p.department,
        displayName: `${p.firstName} ${p.lastName}`,
        employeeId: p.employeeNumber,
        employeeType: p.employeeType === "contractor" ? "Contractor" : "Employee",
        externalUserState: guest ? "PendingAcceptance" : null,
        givenName: p.firstName,
        jobTitle: p.title,
        mail: p.email,
        mailNickname: nickname,
        mobilePhone: p.mobilePhone,
        officeLocation: p.location,
        otherMails: [p.personalEmail],
        postalCode: p.address.postalCode,
        preferredLanguage: "en-US",
        state: p.address.region,
        streetAddress: p.address.street,
        surname: p.lastName,
        usageLocation: p.address.country,
        userPrincipalName: guest ? `${p.email.replace("@", "_")}#EXT#@${tenant}.onmicrosoft.com` : p.email,
        userType: guest ? "Guest" : "Member",
        managerId: p.manager === null ? null : ids[p.manager]!,
      });
    }
    for (const [t, team] of directory.teams.entries()) {
      const id = guid(stableHex(world.seed, `entra:${tenant}:group:${t}`, 32));
      this.groups.put({
        id,
        createdDateTime: (directory.organizations[0]?.created ?? "2020-01-01T00:00:00Z").replace(/\.\d+Z$/, "Z"),
        description: team.description,
        displayName: team.name,
        groupTypes: [],
        mail: null,
        mailEnabled: false,
        mailNickname: team.name.toLowerCase().replace(/[^a-z0-9]+/g, "-"),
        securityEnabled: true,
        visibility: null,
      });
      this.members.set(id, new Set(team.members.map((i) => ids[i]!)));
    }
  }

  /** Where the change log stands: a delta round started now answers changes after it. */
  get now(): number {
    return this.seq;
  }

  putUser(user: GraphUser): GraphUser {
    this.changes.push({ seq: ++this.seq, kind: "user", id: user.id });
    return this.users.put(user);
  }

  deleteUser(id: string): void {
    this.users.delete(id);
    this.changes.push({ seq: ++this.seq, kind: "user", id });
    // Their reports lose their manager: a change a delta round shows.
    for (const report of this.users.all()) if (report.managerId === id) this.putUser({ ...report, managerId: null });
    for (const [groupId, members] of this.members) if (members.has(id)) this.setMember(groupId, id, false);
  }

  putGroup(group: GraphGroup): GraphGroup {
    this.changes.push({ seq: ++this.seq, kind: "group", id: group.id });
    if (!this.members.has(group.id)) this.members.set(group.id, new Set());
    return this.groups.put(group);
  }

  deleteGroup(id: string): void {
    this.groups.delete(id);
    this.members.delete(id);
    this.changes.push({ seq: ++this.seq, kind: "group", id });
  }

  setMember(groupId: string, userId: string, added: boolean): void {
    const members = this.members.get(groupId)!;
    if (added) members.add(userId);
    else members.delete(userId);
    this.changes.push({ seq: ++this.seq, kind: "member", id: groupId, userId, added });
  }

  /** The users or groups changed after `since`, each once, and per group its member changes in order. */
  changedSince(kind: "user" | "group", since: number): { ids: string[]; members: Map<string, Map<string, boolean>> } {
    const ids = new Set<string>();
    const members = new Map<string, Map<string, boolean>>();
    for (const change of this.changes) {
      if (change.seq <= since) continue;
      if (change.kind === kind) ids.add(change.id);
      if (kind === "group" && change.kind === "member") {
        ids.add(change.id);
        if (!members.has(change.id)) members.set(change.id, new Map());
        members.get(change.id)!.set(change.userId, change.added);
      }
    }
    return { ids: [...ids], members };
  }
}

/** An app registration: its client id and secret, in the tenant it is registered in. */
interface App {
  clientId: string;
  clientSecret: string;
}

/** What a page token carries: where the list or delta round stands, and the query it keeps. */
interface Position {
  /** Offset into the list (or the round's ids). */
  o: number;
  select?: string | undefined;
  expand?: string | undefined;
  top?: number | undefined;
  filter?: string | undefined;
  /** A delta round: the change log's position it answers after (-1: the first round, everything). */
  since?: number | undefined;
  /** A delta round: where the log stood when the round started; its deltaLink answers after it. */
  upTo?: number | undefined;
}
const encode = (position: Position) => Buffer.from(JSON.stringify(position)).toString("base64url");
function decode(token: string): Position | undefined {
  try {
    const position = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as Position;
    return Number.isInteger(position.o) && position.o >= 0 ? position : undefined;
  } catch {
    return undefined;
  }
}

export function entraRoutes(world: World) {
  const tenantState = perTenant((name) => new EntraTenant(world, name));
  const apps = perTenant((tenant): App => ({
    clientId: guid(stableHex(world.seed, `entra:${tenant}:app`, 32)),
    clientSecret: `${stableHex(world.seed, `entra:${tenant}:secret`, 3)}8Q~${randomBytes(27).toString("base64url").slice(0, 34)}`,
  }));
  const tokens = new Map<string, { tenant: string; expiresAt: number }>();
  let tokenSeconds = TOKEN_SECONDS;
  const app = new Hono<SandboxEnv>();

  // The Microsoft identity platform's token endpoint: client credentials for a tenant's app.
  app.use("/:tenantId/oauth2/v2.0/token", world.logged("entra"));
  app.post("/:tenantId/oauth2/v2.0/token", async (c) => {
    const form = new URLSearchParams(await c.req.text());
    const refuse = (status: 400 | 401, error: string, code: number, description: string) =>
      c.json(
        {
          error,
          error_description: `AADSTS${code}: ${description}`,
          error_codes: [code],
          timestamp: new Date().toISOString().replace("T", " ").slice(0, 19) + "Z",
          trace_id: randomUUID(),
          correlation_id: randomUUID(),
        },
        status,
      );
    const tenant = world.tenants.find((t) => tenantState(t.name).tenantId === c.req.param("tenantId"))?.name;
    if (!tenant) return refuse(400, "invalid_request", 90002, `Tenant '${c.req.param("tenantId")}' not found.`);
    if (form.get("grant_type") !== "client_credentials")
      return refuse(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.");
    // The secret in the body, or the client id and secret as HTTP Basic.
    const basic = /^Basic (\S+)$/.exec(c.req.header("authorization") ?? "")?.[1];
    const [basicId, basicSecret] = basic ? Buffer.from(basic, "base64").toString("utf8").split(":").map(decodeURIComponent) : [];
    const clientId = form.get("client_id") ?? basicId;
    const secret = form.get("client_secret") ?? basicSecret;
    if (clientId !== apps(tenant).clientId)
      return refuse(400, "unauthorized_client", 700016, `Application with identifier '${clientId}' was not found in the directory.`);
    if (secret !== apps(tenant).clientSecret)
      return refuse(
        401,
        "invalid_client",
        7000215,
        "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
      );
    if (form.get("scope") !== GRAPH_SCOPE)
      return refuse(
        400,
        "invalid_scope",
        1002012,
        "The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.",
      );
    const accessToken = `eyJ0eXAi${randomBytes(32).toString("base64url")}`;
    tokens.set(accessToken, { tenant, expiresAt: Date.now() + tokenSeconds * 1000 });
    return c.json({ token_type: "Bearer", expires_in: tokenSeconds, ext_expires_in: tokenSeconds, access_token: accessToken });
  });

  const api = new Hono<SandboxEnv>();
  api.use(
    "*",
    world.gate("entra", {
      authenticate: (c) => {
        const token = /^Bearer (\S+)$/.exec(c.req.header("authorization") ?? "")?.[1];
        const held = token ? tokens.get(token) : undefined;
        if (!token) return c.json(graphError("InvalidAuthenticationToken", "Access token is empty."), 401);
        if (!held || held.expiresAt <= Date.now())
          return c.json(graphError("InvalidAuthenticationToken", "Lifetime validation failed, the token is expired."), 401);
        return { tenant: held.tenant, key: apps(held.tenant).clientId };
      },
      errorBody: (status, message) =>
        graphError(status === 429 ? "TooManyRequests" : status === 503 ? "serviceNotAvailable" : "generalException", message),
    }),
  );
  const fail = (c: Context, status: number, code: string, message: string) => c.json(graphError(code, message), status as 400);
  const notFound = (c: Context, id: string) =>
    fail(
      c,
      404,
      "Request_ResourceNotFound",
      `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`,
    );
  const origin = (c: Context) => `${new URL(c.req.url).origin}${c.req.path.slice(0, c.req.path.indexOf("/v1.0/"))}/v1.0`;

  /** The properties a `$select` names, checked against the type; undefined when it names none. */
  function selected(c: Context, select: string | undefined, known: Set<string>, type: string): string[] | Response | undefined {
    if (!select) return undefined;
    const names = select.split(",").map((s) => s.trim());
    const unknown = names.find((name) => !known.has(name));
    if (unknown)
      return fail(c, 400, "Request_BadRequest", `Could not find a property named '${unknown}' on type 'microsoft.graph.${type}'.`);
    return names;
  }

  function userJson(state: EntraTenant, user: GraphUser, select: string[] | undefined, expand: string | undefined) {
    const names = select ?? USER_DEFAULT;
    const out: Record<string, unknown> = { id: user.id };
    for (const name of names) if (name !== "deletedDateTime") out[name] = (user as unknown as Record<string, unknown>)[name] ?? null;
    // `$expand=manager` (or `manager($select=id)`): the manager when there is one, else no property.
    if (expand && /^manager(\(.*\))?$/.test(expand) && user.managerId) {
      const manager = state.users.get(user.managerId);
      if (manager) out.manager = { "@odata.type": "#microsoft.graph.user", id: manager.id };
    }
    return out;
  }

  function groupJson(group: GraphGroup, select: string[] | undefined) {
    const out: Record<string, unknown> = { id: group.id };
    for (const name of select ?? Object.keys(group)) {
      if (name !== "members" && name !== "deletedDateTime") out[name] = (group as unknown as Record<string, unknown>)[name] ?? null;
    }
    return out;
  }

  /** `$top` from 1 to 999; Graph refuses anything else. */
  function pageSize(c: Context): number | Response {
    const top = c.req.query("$top");
    if (top === undefined) return PAGE.fallback;
    const size = Number(top);
    if (!Number.isInteger(size) || size < 1 || size > PAGE.max)
      return fail(c, 400, "Request_UnsupportedQuery", `Invalid page size specified: '${top}'. Must be between 1 and 999 inclusive.`);
    return size;
  }

  /** Where a list stands: a `$skiptoken` (which carries the query) or a first request's query. */
  function position(c: Context): Position | Response {
    const token = c.req.query("$skiptoken");
    if (token !== undefined)
      return (
        decode(token) ??
        fail(
          c,
          400,
          "Directory_InvalidSkipToken",
          "The specified page token value has expired and can no longer be included in your request.",
        )
      );
    const top = pageSize(c);
    if (top instanceof Response) return top;
    return { o: 0, select: c.req.query("$select"), expand: c.req.query("$expand"), top, filter: c.req.query("$filter") };
  }

  /** One page of a list, with the next page's full URL in `@odata.nextLink`; only the page's rows are shaped. */
  function listPage<T>(c: Context, path: string, context: string, rows: T[], at: Position, shape: (row: T) => unknown) {
    const size = at.top ?? PAGE.fallback;
    const value = rows.slice(at.o, at.o + size).map(shape);
    const body: Record<string, unknown> = { "@odata.context": `${origin(c)}/$metadata#${context}`, value };
    if (at.o + size < rows.length) body["@odata.nextLink"] = `${origin(c)}${path}?$skiptoken=${encode({ ...at, o: at.o + size })}`;
    return c.json(body);
  }

  /** The `$filter` clauses the integration uses: eq on a few properties, startswith on names. */
  function userFilter(c: Context, filter: string | undefined): ((u: GraphUser) => boolean) | Response {
    if (!filter) return () => true;
    const tests: ((u: GraphUser) => boolean)[] = [];
    for (const clause of filter.split(/\s+and\s+/i)) {
      const eq = /^(mail|userPrincipalName|accountEnabled|employeeId|displayName)\s+eq\s+(?:'((?:[^']|'')*)'|(true|false))$/.exec(
        clause.trim(),
      );
      const starts = /^startswith\((displayName|mail|userPrincipalName),'((?:[^']|'')*)'\)$/.exec(clause.trim());
      if (eq) {
        const [, name, text, bool] = eq;
        const value = bool !== undefined ? bool === "true" : text!.replace(/''/g, "'");
        tests.push((u) => {
          const have = (u as unknown as Record<string, unknown>)[name!];
          return typeof have === "string" && typeof value === "string" ? have.toLowerCase() === value.toLowerCase() : have === value;
        });
      } else if (starts) {
        const [, name, text] = starts;
        tests.push((u) =>
          String((u as unknown as Record<string, unknown>)[name!] ?? "")
            .toLowerCase()
            .startsWith(text!.replace(/''/g, "'").toLowerCase()),
        );
      } else {
        return fail(
          c,
          400,
          "Request_UnsupportedQuery",
          `Unsupported or invalid query filter clause specified for property '${clause.trim().split(/\W/)[0]}' of resource 'User'.`,
        );
      }
    }
    return (u) => tests.every((t) => t(u));
  }

  api.get("/v1.0/users", (c) => {
    const state = tenantState(c.var.tenant);
    const at = position(c);
    if (at instanceof Response) return at;
    const select = selected(c, at.select, USER_PROPERTIES, "user");
    if (select instanceof Response) return select;
    const test = userFilter(c, at.filter);
    if (test instanceof Response) return test;
    const rows = state.users.all().filter(test);
    return listPage(c, "/users", select ? `users(${select.join(",")})` : "users", rows, at, (u) => userJson(state, u, select, at.expand));
  });

  api.get("/v1.0/users/delta", (c) => delta(c, "user"));
  api.get("/v1.0/groups/delta", (c) => delta(c, "group"));

  /**
   * A delta round: the first (no token) answers every object; a `$deltatoken` round answers
   * those changed since its round started, the deleted as `{id, "@removed"}`. Each round's pages
   * are chained by `@odata.nextLink` and its last page carries the `@odata.deltaLink` of the next.
   * A group's member changes come as `members@delta` when `$select` names `members`.
   */
  function delta(c: Context<SandboxEnv>, kind: "user" | "group") {
    const state = tenantState(c.var.tenant);
    const skip = c.req.query("$skiptoken");
    const deltaToken = c.req.query("$deltatoken");
    let at: Position | undefined;
    if (skip !== undefined || deltaToken !== undefined) {
      at = decode(skip ?? deltaToken!);
      if (!at || at.since === undefined)
        return fail(
          c,
          400,
          "Directory_InvalidSkipToken",
          "The specified page token value has expired and can no longer be included in your request.",
        );
      if (deltaToken !== undefined) at = { ...at, o: 0, since: at.upTo, upTo: state.now };
    } else {
      at = { o: 0, select: c.req.query("$select"), expand: c.req.query("$expand"), since: -1, upTo: state.now };
    }
    const select = selected(c, at.select, kind === "user" ? USER_PROPERTIES : GROUP_PROPERTIES, kind);
    if (select instanceof Response) return select;
    const collection = kind === "user" ? state.users : state.groups;
    const changed = at.since! < 0 ? undefined : state.changedSince(kind, at.since!);
    const ids = changed ? changed.ids : collection.all().map((o) => o.id);
    const slice = ids.slice(at.o, at.o + DELTA_PAGE);
    const withMembers = kind === "group" && select?.includes("members");
    const value = slice.map((id) => {
      const object = collection.get(id);
      if (!object) return { "@odata.type": `#microsoft.graph.${kind}`, id, "@removed": { reason: "changed" } };
      const out: Record<string, unknown> =
        kind === "user" ? userJson(state, object as GraphUser, select, at.expand) : groupJson(object as GraphGroup, select);
      if (withMembers) {
        const entries = changed
          ? [...(changed.members.get(id) ?? new Map<string, boolean>())]
          : [...state.members.get(id)!].map((u) => [u, true] as const);
        out["members@delta"] = entries.map(([userId, added]) => ({
          "@odata.type": "#microsoft.graph.user",
          id: userId,
          ...(!added && { "@removed": { reason: "deleted" } }),
        }));
      }
      return out;
    });
    const path = kind === "user" ? "/users/delta" : "/groups/delta";
    const body: Record<string, unknown> = { "@odata.context": `${origin(c)}/$metadata#${kind}s`, value };
    if (at.o + DELTA_PAGE < ids.length)
      body["@odata.nextLink"] = `${origin(c)}${path}?$skiptoken=${encode({ ...at, o: at.o + DELTA_PAGE })}`;
    else body["@odata.deltaLink"] = `${origin(c)}${path}?$deltatoken=${encode({ ...at, o: 0 })}`;
    return c.json(body);
  }

  api.get("/v1.0/users/:id", (c) => {
    const state = tenantState(c.var.tenant);
    const key = c.req.param("id");
    const user = state.users.get(key) ?? state.users.all().find((u) => u.userPrincipalName.toLowerCase() === key.toLowerCase());
    if (!user) return notFound(c, key);
    const select = selected(c, c.req.query("$select"), USER_PROPERTIES, "user");
    if (select instanceof Response) return select;
    return c.json({ "@odata.context": `${origin(c)}/$metadata#users/$entity`, ...userJson(state, user, select, c.req.query("$expand")) });
  });

  api.post("/v1.0/users", async (c) => {
    const state = tenantState(c.var.tenant);
    const body = (await c.req.json().catch(() => undefined)) as Record<string, unknown> | undefined;
    if (!body || typeof body !== "object") return fail(c, 400, "BadRequest", "Empty Payload. JSON content expected.");
    const missing = ["accountEnabled", "displayName", "mailNickname", "userPrincipalName", "passwordProfile"].find(
      (p) => body[p] === undefined,
    );
    if (missing) return fail(c, 400, "Request_BadRequest", `A value is required for property '${missing}' of resource 'User'.`);
    const upn = String(body.userPrincipalName);
    if (state.users.all().some((u) => u.userPrincipalName.toLowerCase() === upn.toLowerCase()))
      return fail(c, 400, "Request_BadRequest", "Another object with the same value for property userPrincipalName already exists.");
    const { passwordProfile: _password, ...fields } = body;
    const user = state.putUser({
      ...blankUser(),
      ...(fields as Partial<GraphUser>),
      id: randomUUID(),
      createdDateTime: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
      userType: "Member",
      managerId: null,
    });
    return c.json({ "@odata.context": `${origin(c)}/$metadata#users/$entity`, ...userJson(state, user, undefined, undefined) }, 201);
  });

  api.patch("/v1.0/users/:id", async (c) => {
    const state = tenantState(c.var.tenant);
    const user = state.users.get(c.req.param("id"));
    if (!user) return notFound(c, c.req.param("id"));
    const body = (await c.req.json().catch(() => undefined)) as Record<string, unknown> | undefined;
    if (!body || typeof body !== "object" || Array.isArray(body))
      return fail(c, 400, "BadRequest", "Empty Payload. JSON content expected.");
    const unknown = Object.keys(body).find((name) => !USER_PROPERTIES.has(name) || name === "id" || name === "createdDateTime");
    if (unknown) return fail(c, 400, "Request_BadRequest", `Property '${unknown}' is read-only and cannot be set.`);
    state.putUser({ ...user, ...(body as Partial<GraphUser>) });
    // Graph answers a PATCH with no content.
    return c.body(null, 204);
  });

  // The manager is a reference: PUT /users/{id}/manager/$ref with the manager's @odata.id.
  api.put("/v1.0/users/:id/manager/$ref", async (c) => {
    const state = tenantState(c.var.tenant);
    const user = state.users.get(c.req.param("id"));
    if (!user) return notFound(c, c.req.param("id"));
    const body = (await c.req.json().catch(() => undefined)) as { "@odata.id"?: string } | undefined;
    const managerId = /\/directoryObjects\/([^/?]+)$/.exec(body?.["@odata.id"] ?? "")?.[1];
    if (!managerId || !state.users.get(managerId)) return notFound(c, managerId ?? "");
    state.putUser({ ...user, managerId });
    return c.body(null, 204);
  });
  api.delete("/v1.0/users/:id/manager/$ref", (c) => {
    const state = tenantState(c.var.tenant);
    const user = state.users.get(c.req.param("id"));
    if (!user) return notFound(c, c.req.param("id"));
    if (!user.managerId) return notFound(c, "manager");
    state.putUser({ ...user, managerId: null });
    return c.body(null, 204);
  });

  api.delete("/v1.0/users/:id", (c) => {
    const state = tenantState(c.var.tenant);
    if (!state.users.get(c.req.param("id"))) return notFound(c, c.req.param("id"));
    state.deleteUser(c.req.param("id"));
    return c.body(null, 204);
  });

  api.get("/v1.0/groups", (c) => {
    const state = tenantState(c.var.tenant);
    const at = position(c);
    if (at instanceof Response) return at;
    const select = selected(c, at.select, GROUP_PROPERTIES, "group");
    if (select instanceof Response) return select;
    let groups = state.groups.all();
    if (at.filter) {
      const name = /^displayName eq '((?:[^']|'')*)'$/.exec(at.filter.trim())?.[1];
      if (name === undefined)
        return fail(c, 400, "Request_UnsupportedQuery", "Unsupported or invalid query filter clause specified for resource 'Group'.");
      groups = groups.filter((g) => g.displayName === name.replace(/''/g, "'"));
    }
    return listPage(c, "/groups", "groups", groups, at, (g) => groupJson(g, select));
  });
  api.get("/v1.0/groups/:id", (c) => {
    const group = tenantState(c.var.tenant).groups.get(c.req.param("id"));
    if (!group) return notFound(c, c.req.param("id"));
    const select = selected(c, c.req.query("$select"), GROUP_PROPERTIES, "group");
    if (select instanceof Response) return select;
    return c.json({ "@odata.context": `${origin(c)}/$metadata#groups/$entity`, ...groupJson(group, select) });
  });
  api.post("/v1.0/groups", async (c) => {
    const state = tenantState(c.var.tenant);
    const body = (await c.req.json().catch(() => undefined)) as Record<string, unknown> | undefined;
    if (!body || typeof body !== "object") return fail(c, 400, "BadRequest", "Empty Payload. JSON content expected.");
    const missing = ["displayName", "mailEnabled", "mailNickname", "securityEnabled"].find((p) => body[p] === undefined);
    if (missing) return fail(c, 400, "Request_BadRequest", `A value is required for property '${missing}' of resource 'Group'.`);
    const group = state.putGroup({
      id: randomUUID(),
      createdDateTime: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
      description: null,
      groupTypes: [],
      mail: null,
      visibility: null,
      ...(body as Partial<GraphGroup>),
    } as GraphGroup);
    return c.json({ "@odata.context": `${origin(c)}/$metadata#groups/$entity`, ...groupJson(group, undefined) }, 201);
  });
  api.patch("/v1.0/groups/:id", async (c) => {
    const state = tenantState(c.var.tenant);
    const group = state.groups.get(c.req.param("id"));
    if (!group) return notFound(c, c.req.param("id"));
    const body = (await c.req.json().catch(() => undefined)) as Record<string, unknown> | undefined;
    if (!body || typeof body !== "object" || Array.isArray(body))
      return fail(c, 400, "BadRequest", "Empty Payload. JSON content expected.");
    const unknown = Object.keys(body).find((name) => !GROUP_PROPERTIES.has(name) || ["id", "createdDateTime", "members"].includes(name));
    if (unknown) return fail(c, 400, "Request_BadRequest", `Property '${unknown}' is read-only and cannot be set.`);
    state.putGroup({ ...group, ...(body as Partial<GraphGroup>) });
    return c.body(null, 204);
  });
  api.delete("/v1.0/groups/:id", (c) => {
    const state = tenantState(c.var.tenant);
    if (!state.groups.get(c.req.param("id"))) return notFound(c, c.req.param("id"));
    state.deleteGroup(c.req.param("id"));
    return c.body(null, 204);
  });

  // Members are directory objects of any type; the OData cast `/microsoft.graph.user` lists only the users.
  api.get("/v1.0/groups/:id/members", (c) => members(c));
  api.get("/v1.0/groups/:id/members/microsoft.graph.user", (c) => members(c));
  function members(c: Context<SandboxEnv>) {
    const state = tenantState(c.var.tenant);
    const groupId = c.req.param("id") ?? "";
    const members = state.members.get(groupId);
    if (!members) return notFound(c, groupId);
    const at = position(c);
    if (at instanceof Response) return at;
    const select = selected(c, at.select, USER_PROPERTIES, "user");
    if (select instanceof Response) return select;
    // Members are directory objects: each says its type.
    const rows = [...members].flatMap((id) => state.users.get(id) ?? []);
    return listPage(c, c.req.path.slice(c.req.path.indexOf("/v1.0/") + 5), "directoryObjects", rows, at, (user) => ({
      "@odata.type": "#microsoft.graph.user",
      ...userJson(state, user, select, undefined),
    }));
  }
  api.post("/v1.0/groups/:id/members/$ref", async (c) => {
    const state = tenantState(c.var.tenant);
    const members = state.members.get(c.req.param("id"));
    if (!members) return notFound(c, c.req.param("id"));
    const body = (await c.req.json().catch(() => undefined)) as { "@odata.id"?: string } | undefined;
    const userId = /\/directoryObjects\/([^/?]+)$/.exec(body?.["@odata.id"] ?? "")?.[1];
    if (!userId) return fail(c, 400, "Request_BadRequest", "Invalid URL format specified in @odata.id.");
    if (!state.users.get(userId)) return notFound(c, userId);
    if (members.has(userId))
      return fail(
        c,
        400,
        "Request_BadRequest",
        "One or more added object references already exist for the following modified properties: 'members'.",
      );
    state.setMember(c.req.param("id"), userId, true);
    return c.body(null, 204);
  });
  api.delete("/v1.0/groups/:id/members/:member/$ref", (c) => {
    const state = tenantState(c.var.tenant);
    const members = state.members.get(c.req.param("id"));
    if (!members) return notFound(c, c.req.param("id"));
    if (!members.has(c.req.param("member"))) return notFound(c, c.req.param("member"));
    state.setMember(c.req.param("id"), c.req.param("member"), false);
    return c.body(null, 204);
  });

  // The tenant itself: a list of one.
  api.get("/v1.0/organization", (c) => {
    const state = tenantState(c.var.tenant);
    return c.json({ "@odata.context": `${origin(c)}/$metadata#organization`, value: [organization(state, c.var.tenant)] });
  });
  api.get("/v1.0/organization/:id", (c) => {
    const state = tenantState(c.var.tenant);
    if (c.req.param("id") !== state.tenantId) return notFound(c, c.req.param("id"));
    return c.json({ "@odata.context": `${origin(c)}/$metadata#organization/$entity`, ...organization(state, c.var.tenant) });
  });
  api.notFound((c) => fail(c, 400, "BadRequest", `Resource not found for the segment '${c.req.path.split("/").pop()}'.`));
  app.route("/", api);

  return {
    app,
    tenant: tenantState,
    /** The tenant's directory (tenant) id and its app's client id and secret. */
    appOf: (tenant: string) => ({ tenantId: tenantState(tenant).tenantId, ...apps(tenant) }),
    revokeTokens: () => tokens.clear(),
    /** How long tokens issued from now on last (a test can make them expire at once). */
    setTokenLifetime: (seconds: number) => {
      tokenSeconds = seconds;
    },
  };
}

function organization(state: EntraTenant, tenant: string) {
  return {
    id: state.tenantId,
    deletedDateTime: null,
    displayName: state.company,
    createdDateTime: state.created.replace(/\.\d+Z$/, "Z"),
    countryLetterCode: "US",
    preferredLanguage: "en",
    tenantType: "AAD",
    businessPhones: [],
    city: null,
    country: null,
    postalCode: null,
    state: null,
    street: null,
    technicalNotificationMails: [`it@${state.domain}`],
    verifiedDomains: [
      { capabilities: "Email, OfficeCommunicationsOnlineService", isDefault: true, isInitial: false, name: state.domain, type: "Managed" },
      {
        capabilities: "Email, OfficeCommunicationsOnlineService",
        isDefault: false,
        isInitial: true,
        name: `${tenant}.onmicrosoft.com`,
        type: "Managed",
      },
    ],
  };
}

function blankUser(): GraphUser {
  return {
    id: "",
    accountEnabled: true,
    businessPhones: [],
    city: null,
    companyName: null,
    country: null,
    createdDateTime: "",
    department: null,
    displayName: "",
    employeeId: null,
    employeeType: null,
    externalUserState: null,
    givenName: null,
    jobTitle: null,
    mail: null,
    mailNickname: "",
    mobilePhone: null,
    officeLocation: null,
    otherMails: [],
    postalCode: null,
    preferredLanguage: null,
    state: null,
    streetAddress: null,
    surname: null,
    usageLocation: null,
    userPrincipalName: "",
    userType: "Member",
    managerId: null,
  };
}
