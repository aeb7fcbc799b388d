import { randomBytes, randomUUID } from "node:crypto";
import { JOSTLE_EXTENSION, type JostleTenant } from "./jostle/index.ts";
import type { EntraTenant } from "./entra/index.ts";
import type { GoogleTenant } from "./google/index.ts";
import type { JumpCloudTenant } from "./jumpcloud/index.ts";
import type { OktaTenant } from "./okta/index.ts";
import type { PostmanTenant } from "./postman/index.ts";

/** A batch of directory changes, as people join, change, leave and are suspended over time. */
export interface ChangeSpec {
  add?: number;
  update?: number;
  deactivate?: number;
  delete?: number;
  /**
   * What an update appends to the changed name (JumpCloud: the job title; SCIM: the family
   * name). JSON allows any text, U+0000 and unpaired surrogate escapes included.
   */
  suffix?: string;
}

/** The ids each kind of change touched, so a test knows exactly what a sync must report. */
export interface Applied {
  added: string[];
  updated: string[];
  deactivated: string[];
  deleted: string[];
}

/**
 * Picks disjoint users for each kind of change, spread over the whole list (every k-th), so a
 * walk meets them on many pages. Deactivations take active users only.
 */
function pick<T>(all: T[], spec: ChangeSpec, isActive: (user: T) => boolean) {
  const wanted = (spec.update ?? 0) + (spec.deactivate ?? 0) + (spec.delete ?? 0);
  if (wanted > all.length) throw new Error(`only ${all.length} users to change`);
  const step = Math.max(1, Math.floor(all.length / Math.max(1, wanted)));
  const taken = new Set<number>();
  const take = (count: number, ok: (user: T) => boolean) => {
    const out: T[] = [];
    for (let offset = 0; out.length < count && offset < step; offset++) {
      for (let i = offset; i < all.length && out.length < count; i += step) {
        if (!taken.has(i) && ok(all[i]!)) {
          taken.add(i);
          out.push(all[i]!);
        }
      }
    }
    if (out.length < count) throw new Error(`could not find ${count} users to change`);
    return out;
  };
  return {
    deleted: take(spec.delete ?? 0, () => true),
    updated: take(spec.update ?? 0, () => true),
    deactivated: take(spec.deactivate ?? 0, isActive),
  };
}

export function changeJumpCloud(state: JumpCloudTenant, spec: ChangeSpec): Applied {
  const chosen = pick(state.users.all(), spec, (u) => u.state === "ACTIVATED");
  for (const user of chosen.deleted) {
    state.users.delete(user._id);
    for (const members of state.members.values()) members.delete(user._id);
  }
  for (const user of chosen.updated) state.users.put({ ...user, jobTitle: `${user.jobTitle ?? "Staff"}${spec.suffix ?? " II"}` });
  for (const user of chosen.deactivated) state.users.put({ ...user, state: "SUSPENDED", suspended: true });
  const template = state.users.all()[0]!;
  const added = Array.from({ length: spec.add ?? 0 }, () => {
    const tag = randomBytes(4).toString("hex");
    return state.users.put({
      ...template,
      _id: randomBytes(12).toString("hex"),
      username: `joiner.${tag}`,
      email: `joiner.${tag}@example.com`,
      // A joiner starts active, whatever the template's state.
      state: "ACTIVATED",
      suspended: false,
      created: new Date().toISOString(),
    });
  });
  state.touch();
  return {
    added: added.map((u) => u._id),
    updated: chosen.updated.map((u) => u._id),
    deactivated: chosen.deactivated.map((u) => u._id),
    deleted: chosen.deleted.map((u) => u._id),
  };
}

export function changePostman(state: PostmanTenant, spec: ChangeSpec): Applied {
  const chosen = pick(state.users.all(), spec, (u) => u.active);
  const now = new Date().toISOString();
  for (const user of chosen.deleted) state.removeUser(user.id);
  for (const user of chosen.updated)
    state.putUser({
      ...user,
      name: { ...user.name, familyName: `${user.name.familyName}${spec.suffix ?? "-Lee"}` },
      meta: { ...user.meta, lastModified: now },
    });
  for (const user of chosen.deactivated) state.putUser({ ...user, active: false, meta: { ...user.meta, lastModified: now } });
  const template = state.users.all()[0]!;
  const added = Array.from({ length: spec.add ?? 0 }, () => {
    const tag = randomBytes(4).toString("hex");
    return state.putUser({
      ...template,
      id: randomBytes(24).toString("hex"),
      userName: `joiner.${tag}@example.com`,
      active: true,
      meta: { ...template.meta, created: now, lastModified: now },
    });
  });
  return {
    added: added.map((u) => u.id),
    updated: chosen.updated.map((u) => u.id),
    deactivated: chosen.deactivated.map((u) => u.id),
    deleted: chosen.deleted.map((u) => u.id),
  };
}

export function changeJostle(state: JostleTenant, spec: ChangeSpec): Applied {
  // The automation user holds the API key: it is never changed.
  const people = state.users.all().filter((u) => u.id !== state.meId);
  const chosen = pick(people, spec, (u) => u.active);
  for (const user of chosen.deleted) state.forget(user.id);
  for (const user of chosen.updated) {
    const name = user.name as { familyName?: string } | undefined;
    state.change({ ...user, name: { ...name, familyName: `${name?.familyName ?? "Staff"}${spec.suffix ?? "-Lee"}` } });
  }
  for (const user of chosen.deactivated) {
    const extension = user[JOSTLE_EXTENSION] as Record<string, unknown> | undefined;
    state.change({ ...user, active: false, [JOSTLE_EXTENSION]: { ...extension, userState: "Disabled" } });
  }
  const template = people[0]!;
  const added = Array.from({ length: spec.add ?? 0 }, () => {
    const tag = randomBytes(4).toString("hex");
    const now = new Date().toISOString();
    return state.change({
      ...template,
      id: randomUUID(),
      userName: `joiner.${tag}@example.com`,
      emails: [{ type: "work", value: `joiner.${tag}@example.com`, primary: true }],
      active: true,
      [JOSTLE_EXTENSION]: { ...(template[JOSTLE_EXTENSION] as Record<string, unknown> | undefined), userState: "Active" },
      meta: { ...template.meta, created: now },
    });
  });
  return {
    added: added.map((u) => u.id),
    updated: chosen.updated.map((u) => u.id),
    deactivated: chosen.deactivated.map((u) => u.id),
    deleted: chosen.deleted.map((u) => u.id),
  };
}

export function changeOkta(state: OktaTenant, spec: ChangeSpec): Applied {
  // Deactivated users are not in an unfiltered list: only the listed ones change.
  const listed = state.users.all().filter((u) => u.status !== "DEPROVISIONED");
  const chosen = pick(listed, spec, (u) => u.status === "ACTIVE");
  const now = new Date().toISOString();
  for (const user of chosen.deleted) state.removeUser(user.id);
  for (const user of chosen.updated)
    state.put({
      ...user,
      profile: { ...user.profile, title: `${String(user.profile.title ?? "Staff")}${spec.suffix ?? " II"}` },
      lastUpdated: now,
    });
  for (const user of chosen.deactivated) state.put({ ...user, status: "SUSPENDED", statusChanged: now, lastUpdated: now });
  const template = listed[0]!;
  const added = Array.from({ length: spec.add ?? 0 }, () => {
    const tag = randomBytes(4).toString("hex");
    const id = `00u${randomBytes(9).toString("base64url").slice(0, 17)}`;
    const user = state.put({
      ...template,
      id,
      status: "ACTIVE",
      created: now,
      activated: now,
      statusChanged: now,
      lastUpdated: now,
      profile: { ...template.profile, login: `joiner.${tag}@example.com`, email: `joiner.${tag}@example.com` },
      _links: { self: { href: `/api/v1/users/${id}` } },
    });
    state.members.get(state.everyoneId)?.add(id);
    return user;
  });
  return {
    added: added.map((u) => u.id),
    updated: chosen.updated.map((u) => u.id),
    deactivated: chosen.deactivated.map((u) => u.id),
    deleted: chosen.deleted.map((u) => u.id),
  };
}

export function changeGoogle(state: GoogleTenant, spec: ChangeSpec): Applied {
  const chosen = pick(state.users.all(), spec, (u) => !u.suspended);
  for (const user of chosen.deleted) {
    state.users.delete(user.id);
    for (const [groupId, members] of state.members) if (members.delete(user.id)) state.setMembers(groupId, members);
  }
  for (const user of chosen.updated) {
    const [work, ...rest] = user.organizations ?? [{}];
    state.users.put({ ...user, organizations: [{ ...work, title: `${String(work?.title ?? "Staff")}${spec.suffix ?? " II"}` }, ...rest] });
  }
  for (const user of chosen.deactivated) state.users.put({ ...user, suspended: true, suspensionReason: "ADMIN" });
  const template = state.users.all()[0]!;
  const added = Array.from({ length: spec.add ?? 0 }, () => {
    const tag = randomBytes(4).toString("hex");
    const email = `joiner.${tag}@${state.domain}`;
    return state.users.put({
      ...template,
      id: `1${BigInt(`0x${randomBytes(8).toString("hex")}`)
        .toString()
        .padStart(20, "0")
        .slice(0, 20)}`,
      primaryEmail: email,
      emails: [{ address: email, primary: true }],
      isAdmin: false,
      suspended: false,
      creationTime: new Date().toISOString(),
    });
  });
  return {
    added: added.map((u) => u.id),
    updated: chosen.updated.map((u) => u.id),
    deactivated: chosen.deactivated.map((u) => u.id),
    deleted: chosen.deleted.map((u) => u.id),
  };
}

export function changeEntra(state: EntraTenant, spec: ChangeSpec): Applied {
  const chosen = pick(state.users.all(), spec, (u) => u.accountEnabled && u.externalUserState === null);
  for (const user of chosen.deleted) state.deleteUser(user.id);
  for (const user of chosen.updated) state.putUser({ ...user, jobTitle: `${user.jobTitle ?? "Staff"}${spec.suffix ?? " II"}` });
  for (const user of chosen.deactivated) state.putUser({ ...user, accountEnabled: false });
  const template = state.users.all()[0]!;
  const added = Array.from({ length: spec.add ?? 0 }, () => {
    const tag = randomBytes(4).toString("hex");
    const email = `joiner.${tag}@${state.domain}`;
    return state.putUser({
      ...template,
      id: randomUUID(),
      displayName: `Joiner ${tag}`,
      mail: email,
      mailNickname: `joiner.${tag}`,
      userPrincipalName: email,
      accountEnabled: true,
      createdDateTime: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    });
  });
  return {
    added: added.map((u) => u.id),
    updated: chosen.updated.map((u) => u.id),
    deactivated: chosen.deactivated.map((u) => u.id),
    deleted: chosen.deleted.map((u) => u.id),
  };
}
