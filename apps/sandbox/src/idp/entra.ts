/**
 * Microsoft Entra ID's provisioning client, request by request as Microsoft documents it
 * (entra-docs use-scim-to-provision-users-and-groups.md and application-provisioning-config-problem-scim-compatibility.md).
 */
import { randomUUID } from "node:crypto";
import {
  eqFilter,
  expectList,
  expectStatus,
  IdpError,
  inParallel,
  query,
  SCIM,
  type ScimClientOptions,
  scimClient,
  type ScimResource,
  withId,
} from "./client.ts";

/** Microsoft documents no User-Agent for its provisioning service; this one names the simulator so logs tell them apart. */
export const ENTRA_USER_AGENT = "Microsoft Entra provisioning (Unifold sandbox)";

/** Entra's classic group schema marker, sent beside the core Group schema on create. */
export const ENTRA_GROUP_SCHEMA = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";

export const MANAGER_PATH = `${SCIM.enterprise}:manager`;
export const WORK_EMAIL_PATH = 'emails[type eq "work"].value';

/** The attributes Entra may match a user on. */
export type MatchingAttribute = "userName" | "externalId" | typeof WORK_EMAIL_PATH;

export interface EntraOptions extends Omit<ScimClientOptions, "userAgent"> {
  userAgent?: string;
  /** Entra's RFC-compliant PATCH behaviour, also turned on by `?aadOptscim062020` on the base URL (the Tenant URL). */
  flag?: "aadOptscim062020";
  /** The attribute provisionUser matches on (default userName). */
  matchingAttribute?: MatchingAttribute;
  /** Requests in flight at once in bulk helpers (Entra sends concurrently). */
  concurrency?: number;
}

/** A user as Entra's default attribute mappings send it. */
export interface EntraUser {
  userName: string;
  externalId: string;
  email: string;
  givenName: string;
  familyName: string;
  formatted?: string;
  displayName?: string;
  department?: string;
  employeeNumber?: string;
  /** The manager's SCIM id. */
  manager?: string;
}

/** Changes keyed by SCIM path: `userName`, `name.familyName`, `emails[type eq "work"].value`, `<enterprise urn>:department`. */
export type EntraChanges = Record<string, unknown>;

export function entraClient(options: EntraOptions) {
  const tenantUrl = new URL(options.baseUrl);
  // Admins turn the flag on by appending ?aadOptscim062020 to the Tenant URL. Microsoft does not say whether it travels on
  // each request; the simulator leaves it off, so a service must not rely on seeing it (nor choke on it).
  const flagInUrl = [...tenantUrl.searchParams.keys()].some((key) => key.toLowerCase() === "aadoptscim062020");
  tenantUrl.search = "";
  const scim = scimClient({ ...options, baseUrl: tenantUrl.href, userAgent: options.userAgent ?? ENTRA_USER_AGENT });
  const flagged = options.flag === "aadOptscim062020" || flagInUrl;
  const matchingAttribute = options.matchingAttribute ?? "userName";
  const concurrency = options.concurrency ?? 4;
  // The default job capitalises op names ("Replace", "Add", "Remove"); with the flag Entra sends RFC 7644's lower case.
  const op = (name: "Add" | "Replace" | "Remove") => (flagged ? name.toLowerCase() : name);

  const userPath = (id: string) => `/Users/${encodeURIComponent(id)}`;
  const groupPath = (id: string) => `/Groups/${encodeURIComponent(id)}`;

  /** Entra needs 200 and a ListResponse for a filter that matches nothing: a 404 fails the provisioning cycle. */
  async function findOne(path: string, what: string): Promise<ScimResource | undefined> {
    const list = expectList(await scim.request("GET", path), ["totalResults"]);
    if (list.totalResults > 1 || list.Resources.length > 1) {
      throw new IdpError("invalid_resource", `${what} matched ${list.totalResults}, expected at most one`, list.exchange);
    }
    return list.Resources[0];
  }

  const findUser = (attribute: MatchingAttribute, value: string) =>
    findOne(`/Users${query({ filter: eqFilter(attribute, value) })}`, `${attribute} eq "${value}"`);

  async function createUser(user: EntraUser): Promise<ScimResource> {
    const enterprise = {
      ...(user.department !== undefined && { department: user.department }),
      ...(user.employeeNumber !== undefined && { employeeNumber: user.employeeNumber }),
      ...(user.manager !== undefined && { manager: { value: user.manager } }),
    };
    const response = await scim.request("POST", "/Users", {
      schemas: [SCIM.user, SCIM.enterprise],
      externalId: user.externalId,
      userName: user.userName,
      active: true,
      emails: [{ primary: true, type: "work", value: user.email }],
      meta: { resourceType: "User" },
      name: { formatted: user.formatted ?? `${user.givenName} ${user.familyName}`, familyName: user.familyName, givenName: user.givenName },
      roles: [],
      ...(user.displayName !== undefined && { displayName: user.displayName }),
      ...(Object.keys(enterprise).length > 0 && { [SCIM.enterprise]: enterprise }),
    });
    return withId(expectStatus(response, 201).body);
  }

  async function patch(path: string, operations: object[]): Promise<ScimResource | undefined> {
    const response = await scim.request("PATCH", path, { schemas: [SCIM.patch], Operations: operations });
    return expectStatus(response, 200, 204).status === 200 ? response.body : undefined;
  }

  function replaceOperations(changes: EntraChanges): object[] {
    const entries = Object.entries(changes);
    if (entries.length === 0) return [];
    // aadOptscim062020: several attributes in ONE no-path replace whose value is keyed by path.
    if (flagged) return [{ op: "replace", value: Object.fromEntries(entries) }];
    return entries.map(([path, value]) => ({ op: "Replace", path, value }));
  }

  const updateUser = (id: string, changes: EntraChanges) => patch(userPath(id), replaceOperations(changes));

  /** The provisioning cycle for one user: match, then create it or PATCH what differs. */
  async function provisionUser(user: EntraUser): Promise<{ user: ScimResource; action: "created" | "updated" | "unchanged" }> {
    const matchValue = matchingAttribute === "userName" ? user.userName : matchingAttribute === "externalId" ? user.externalId : user.email;
    const existing = await findUser(matchingAttribute, matchValue);
    if (!existing) return { user: await createUser(user), action: "created" };
    const operations = replaceOperations(differences(existing, user));
    const currentManager = existing[SCIM.enterprise]?.manager?.value;
    if (user.manager !== undefined && user.manager !== currentManager) {
      operations.push({ op: op(currentManager ? "Replace" : "Add"), path: MANAGER_PATH, value: user.manager });
    }
    if (operations.length === 0) return { user: existing, action: "unchanged" };
    const answer = await patch(userPath(existing.id), operations);
    return { user: answer ?? existing, action: "updated" };
  }

  const provisionUsers = (users: readonly EntraUser[]) => inParallel(users, concurrency, provisionUser);

  /** Soft delete. The default job sends "False" as a STRING; the flag sends the boolean. */
  const disableUser = (id: string) =>
    patch(userPath(id), [flagged ? { op: "replace", path: "active", value: false } : { op: "Replace", path: "active", value: "False" }]);

  async function deleteUser(id: string): Promise<void> {
    expectStatus(await scim.request("DELETE", userPath(id)), 204);
  }

  async function createGroup(displayName: string, externalId: string = randomUUID()): Promise<ScimResource> {
    // Entra's documented body: no members at all (a group is always created empty; members follow by PATCH).
    const response = await scim.request("POST", "/Groups", {
      schemas: [SCIM.group, ENTRA_GROUP_SCHEMA],
      externalId,
      displayName,
      meta: { resourceType: "Group" },
    });
    return withId(expectStatus(response, 201).body);
  }

  const findGroup = (displayName: string) =>
    findOne(
      `/Groups${query({ excludedAttributes: "members", filter: eqFilter("displayName", displayName) })}`,
      `displayName eq "${displayName}"`,
    );

  async function deleteGroup(id: string): Promise<void> {
    expectStatus(await scim.request("DELETE", groupPath(id)), 204);
  }

  /** Test Connection: filters for a user and a group that cannot exist, expecting 200 and nothing found. */
  async function testConnection(): Promise<void> {
    const checks = [
      `/Users${query({ filter: eqFilter("userName", randomUUID()) })}`,
      `/Groups${query({ excludedAttributes: "members", filter: eqFilter("displayName", randomUUID()) })}`,
    ];
    for (const path of checks) {
      const list = expectList(await scim.request("GET", path), ["totalResults"]);
      if (list.totalResults !== 0) throw new IdpError("not_empty", `${path} found ${list.totalResults}, expected 0`, list.exchange);
    }
  }

  /** Entra's paging check: `pages` pages at startIndex=page*pageSize+1, each echoing its startIndex, no id twice. */
  async function pageUsers(pageSize = 5, pages = 2): Promise<ScimResource[]> {
    const seen = new Set<string>();
    const all: ScimResource[] = [];
    for (let page = 0; page < pages; page++) {
      const startIndex = page * pageSize + 1;
      const list = expectList(await scim.request("GET", `/Users${query({ startIndex, count: pageSize })}`));
      const last = list.exchange;
      if (list.startIndex !== startIndex) {
        throw new IdpError("start_index_not_echoed", `asked startIndex ${startIndex}, answered ${list.startIndex}`, last);
      }
      for (const item of list.Resources) {
        const { id } = withId(item);
        if (seen.has(id)) throw new IdpError("repeated_id", `Users: id ${id} came again at startIndex ${startIndex}`, last);
        seen.add(id);
        all.push(item);
      }
    }
    return all;
  }

  return {
    transcript: scim.transcript,
    request: scim.request,
    findUser,
    createUser,
    provisionUser,
    provisionUsers,
    updateUser,
    setManager: (id: string, managerId: string) => patch(userPath(id), [{ op: op("Add"), path: MANAGER_PATH, value: managerId }]),
    changeManager: (id: string, managerId: string) => patch(userPath(id), [{ op: op("Replace"), path: MANAGER_PATH, value: managerId }]),
    removeManager: (id: string) => patch(userPath(id), [{ op: op("Replace"), path: MANAGER_PATH, value: "" }]),
    /** Entra clears an attribute with a replace to "" or to null; a service must treat both as clearing. */
    clearAttribute: (id: string, path: string, empty: "" | null = "") => patch(userPath(id), [{ op: op("Replace"), path, value: empty }]),
    disableUser,
    deleteUser,
    findGroup,
    createGroup,
    renameGroup: (id: string, displayName: string) =>
      patch(groupPath(id), [{ op: op("Replace"), path: "displayName", value: displayName }]),
    addMembers: (id: string, userIds: readonly string[]) =>
      patch(groupPath(id), [{ op: op("Add"), path: "members", value: userIds.map((value) => ({ $ref: null, value })) }]),
    /** Default: one Remove with a value list; the flag: one filtered remove per member. */
    removeMembers: (id: string, userIds: readonly string[]) =>
      patch(
        groupPath(id),
        flagged
          ? userIds.map((userId) => ({ op: "remove", path: `members[value eq ${JSON.stringify(userId)}]` }))
          : [{ op: "Remove", path: "members", value: userIds.map((value) => ({ value })) }],
      ),
    deleteGroup,
    testConnection,
    pageUsers,
  };
}

export type EntraClient = ReturnType<typeof entraClient>;

/** What Entra would PATCH: each mapped attribute whose stored value differs from the source. */
export function differences(existing: ScimResource, user: EntraUser): EntraChanges {
  const workEmail = (existing.emails as { type?: string; value?: string }[] | undefined)?.find((e) => e.type === "work")?.value;
  const enterprise = existing[SCIM.enterprise] ?? {};
  const pairs: [string, unknown, unknown][] = [
    ["userName", existing.userName, user.userName],
    ["externalId", existing.externalId, user.externalId],
    [WORK_EMAIL_PATH, workEmail, user.email],
    ["name.givenName", existing.name?.givenName, user.givenName],
    ["name.familyName", existing.name?.familyName, user.familyName],
    ["name.formatted", existing.name?.formatted, user.formatted ?? `${user.givenName} ${user.familyName}`],
    ["displayName", existing.displayName, user.displayName],
    [`${SCIM.enterprise}:department`, enterprise.department, user.department],
    [`${SCIM.enterprise}:employeeNumber`, enterprise.employeeNumber, user.employeeNumber],
  ];
  const changes: EntraChanges = {};
  for (const [path, stored, wanted] of pairs) if (wanted !== undefined && stored !== wanted) changes[path] = wanted;
  return changes;
}
