/** Okta's provisioning client, request by request as Okta documents it (developer.okta.com, SCIM 2.0 reference). */
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

export const OKTA_USER_AGENT = "Okta SCIM Client 1.0.0";

export interface OktaOptions extends Omit<ScimClientOptions, "userAgent"> {
  userAgent?: string;
  /** Page size of imports (Okta asks for 100). */
  pageSize?: number;
  /** Requests in flight at once in bulk helpers (Okta sends several at once). */
  concurrency?: number;
}

/** The Okta profile of an assigned user. */
export interface OktaProfile {
  userName: string;
  givenName: string;
  familyName: string;
  email: string;
  displayName?: string;
  locale?: string;
  externalId?: string;
  password?: string;
}

/** A group member as Okta pushes it: the SCIM id and, for display, the userName. */
export interface OktaMember {
  id: string;
  userName: string;
}

export function oktaClient(options: OktaOptions) {
  const scim = scimClient({ ...options, userAgent: options.userAgent ?? OKTA_USER_AGENT });
  const pageSize = options.pageSize ?? 100;
  const concurrency = options.concurrency ?? 4;

  async function findByUserName(userName: string): Promise<ScimResource | undefined> {
    const response = await scim.request("GET", `/Users${query({ filter: eqFilter("userName", userName), startIndex: 1, count: 100 })}`);
    // Okta tolerates a 404 SCIM error for "no such user" (an empty ListResponse is the norm).
    if (response.status === 404) return undefined;
    const list = expectList(response, ["totalResults"]);
    if (list.totalResults > 1 || list.Resources.length > 1) {
      throw new IdpError("invalid_resource", `userName eq "${userName}" matched ${list.totalResults} users`, list.exchange);
    }
    return list.Resources[0];
  }

  /** Assigning the app: look the user up by userName, create it when absent. */
  async function assignUser(profile: OktaProfile): Promise<{ user: ScimResource; created: boolean }> {
    const found = await findByUserName(profile.userName);
    if (found) return { user: found, created: false };
    const response = await scim.request("POST", "/Users", {
      schemas: [SCIM.user],
      userName: profile.userName,
      name: { givenName: profile.givenName, familyName: profile.familyName },
      emails: [{ primary: true, value: profile.email, type: "work" }],
      displayName: profile.displayName ?? `${profile.givenName} ${profile.familyName}`,
      locale: profile.locale ?? "en-US",
      ...(profile.externalId !== undefined && { externalId: profile.externalId }),
      groups: [],
      ...(profile.password !== undefined && { password: profile.password }),
      active: true,
    });
    if (response.status === 409) {
      // Another of Okta's concurrent requests created it meanwhile: the lookup now finds it.
      const raced = await findByUserName(profile.userName);
      if (raced) return { user: raced, created: false };
    }
    expectStatus(response, 201);
    return { user: withId(response.body), created: true };
  }

  const assignUsers = (profiles: readonly OktaProfile[]) => inParallel(profiles, concurrency, assignUser);

  /** Import: pages of `pageSize` from startIndex 1 until totalResults, each id once. */
  async function importAll(resource: "Users" | "Groups"): Promise<ScimResource[]> {
    const seen = new Set<string>();
    const all: ScimResource[] = [];
    for (let startIndex = 1; ;) {
      const list = expectList(await scim.request("GET", `/${resource}${query({ startIndex, count: pageSize })}`));
      const last = list.exchange;
      for (const item of list.Resources) {
        const id = withId(item).id;
        if (seen.has(id)) throw new IdpError("repeated_id", `${resource}: id ${id} came again at startIndex ${startIndex}`, last);
        seen.add(id);
        all.push(item);
      }
      if (all.length >= list.totalResults) return all;
      if (list.Resources.length === 0) {
        throw new IdpError(
          "short_paging",
          `${resource}: empty page at startIndex ${startIndex} before totalResults ${list.totalResults}`,
          last,
        );
      }
      // The next page starts after what came: the same as startIndex + count when the service fills its pages.
      startIndex += list.Resources.length;
    }
  }

  /** Okta catalogue apps: read the whole user, then PUT it back whole with the changes (a null change leaves it out). */
  async function updateUser(id: string, changes: Record<string, unknown>): Promise<ScimResource> {
    const current = expectStatus(await scim.request("GET", `/Users/${encodeURIComponent(id)}`), 200).body;
    const next: Record<string, unknown> = { ...current, ...changes };
    for (const [key, value] of Object.entries(changes)) if (value === null || value === undefined) delete next[key];
    const response = await scim.request("PUT", `/Users/${encodeURIComponent(id)}`, next);
    return withId(expectStatus(response, 200).body);
  }

  /** Okta never DELETEs a user: unassigning deactivates with a no-path, lower-case replace. */
  async function setActive(id: string, active: boolean): Promise<ScimResource | undefined> {
    const response = await scim.request("PATCH", `/Users/${encodeURIComponent(id)}`, {
      schemas: [SCIM.patch],
      Operations: [{ op: "replace", value: { active } }],
    });
    return expectStatus(response, 200, 204).status === 200 ? response.body : undefined;
  }

  async function patchGroup(id: string, operations: object[]): Promise<ScimResource | undefined> {
    const response = await scim.request("PATCH", `/Groups/${encodeURIComponent(id)}`, { schemas: [SCIM.patch], Operations: operations });
    return expectStatus(response, 200, 204).status === 200 ? response.body : undefined;
  }

  const memberValues = (members: readonly OktaMember[]) => members.map((m) => ({ value: m.id, display: m.userName }));

  /** Group push: create the group empty, then add its members in a PATCH. */
  async function pushGroup(displayName: string, members: readonly OktaMember[] = []): Promise<ScimResource> {
    const response = await scim.request("POST", "/Groups", { schemas: [SCIM.group], displayName, members: [] });
    const group = withId(expectStatus(response, 201).body);
    if (members.length > 0) await patchGroup(group.id, [{ op: "add", path: "members", value: memberValues(members) }]);
    return group;
  }

  /** Okta renames with a no-path replace whose value carries the id too. */
  const renameGroup = (id: string, displayName: string) => patchGroup(id, [{ op: "replace", value: { id, displayName } }]);

  /** One PATCH: a filtered remove per leaving member, then one add for the joiners. */
  function updateMembers(id: string, change: { add?: readonly OktaMember[]; remove?: readonly string[] }) {
    const operations: object[] = (change.remove ?? []).map((userId) => ({
      op: "remove",
      path: `members[value eq ${JSON.stringify(userId)}]`,
    }));
    if (change.add && change.add.length > 0) operations.push({ op: "add", path: "members", value: memberValues(change.add) });
    return patchGroup(id, operations);
  }

  const replaceMembers = (id: string, members: readonly OktaMember[]) =>
    patchGroup(id, [{ op: "replace", path: "members", value: memberValues(members) }]);

  /** Unlinking a push group deletes it. */
  async function deleteGroup(id: string): Promise<void> {
    expectStatus(await scim.request("DELETE", `/Groups/${encodeURIComponent(id)}`), 204);
  }

  return {
    transcript: scim.transcript,
    request: scim.request,
    assignUser,
    assignUsers,
    importUsers: () => importAll("Users"),
    importGroups: () => importAll("Groups"),
    updateUser,
    deactivateUser: (id: string) => setActive(id, false),
    reactivateUser: (id: string) => setActive(id, true),
    pushGroup,
    renameGroup,
    updateMembers,
    replaceMembers,
    deleteGroup,
  };
}

export type OktaClient = ReturnType<typeof oktaClient>;
