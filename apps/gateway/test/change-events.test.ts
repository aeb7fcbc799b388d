import type { RecordChange } from "@unifold/db";
import { describe, expect, it } from "vitest";
import { eventsOfChange, recordHash } from "../src/domain/events/index.ts";

/*
 * What a receiver hears of one change of the synced copy (a sync's or a push's): the events'
 * types, their data and the fields they name. The integration suites (syncs.test.ts) show the
 * same from end to end; these name each rule's case on its own.
 */
describe("the hash a record is compared by", () => {
  it("is the same for the same record, whatever the order of its keys", () => {
    const a = recordHash({ id: "u1", name: { first: "Ada", last: "Lovelace" }, emails: [{ email: "ada@example.com" }] });
    const b = recordHash({ emails: [{ email: "ada@example.com" }], name: { last: "Lovelace", first: "Ada" }, id: "u1" });
    expect(a).toBe(b);
  });

  it("differs when any value differs, however deep, so no change goes unnoticed", () => {
    const base = { id: "u1", name: { first: "Ada" }, title: "Engineer" };
    const hashes = [base, { ...base, title: "Manager" }, { ...base, name: { first: "Ava" } }, { ...base, title: null }, { id: "u1" }].map(
      recordHash,
    );
    expect(new Set(hashes).size).toBe(hashes.length);
    expect(hashes[0]).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});

describe("the events one change of the copy makes", () => {
  const user = { id: "u1", username: "ada", status: "active", title: "Engineer", updated_at: "2026-01-01T00:00:00Z" };
  const created = (data: Record<string, unknown>): RecordChange => ({ kind: "created", remoteId: "u1", version: 1, data });
  const deleted = (data: Record<string, unknown>): RecordChange => ({ kind: "deleted", remoteId: "u1", version: 3, data });
  const updated = (before: Record<string, unknown>, data: Record<string, unknown>): RecordChange => ({
    kind: "updated",
    remoteId: "u1",
    version: 2,
    data,
    before,
  });

  it("a new or deleted record is one event named by its resource, carrying the record", () => {
    expect(eventsOfChange("users", created(user))).toEqual([{ type: "user.created", data: user }]);
    expect(eventsOfChange("users", deleted(user))).toEqual([{ type: "user.deleted", data: user }]);
    expect(eventsOfChange("groups", created({ id: "g1" }))).toEqual([{ type: "group.created", data: { id: "g1" } }]);
    expect(eventsOfChange("employees", deleted({ id: "e1" }))).toEqual([{ type: "employee.deleted", data: { id: "e1" } }]);
  });

  it("a changed record is one update naming exactly the fields that changed, in order", () => {
    const after = { ...user, title: "Manager", username: "ada.l", updated_at: "2026-02-01T00:00:00Z" };
    expect(eventsOfChange("users", updated(user, after))).toEqual([
      { type: "user.updated", data: { ...after, changed_fields: ["title", "updated_at", "username"] } },
    ]);
    // A field that appears or goes away changed too; one whose value is equal did not.
    const { title: _title, ...untitled } = user;
    expect(eventsOfChange("users", updated(user, { ...untitled, department: "R&D", name: { first: "Ada" } }))).toEqual([
      {
        type: "user.updated",
        data: { ...untitled, department: "R&D", name: { first: "Ada" }, changed_fields: ["department", "name", "title"] },
      },
    ]);
    expect(eventsOfChange("groups", updated({ id: "g1", name: "a" }, { id: "g1", name: "b" }))).toEqual([
      { type: "group.updated", data: { id: "g1", name: "b", changed_fields: ["name"] } },
    ]);
  });

  it("a new updated_at alone is no news: no event", () => {
    expect(eventsOfChange("users", updated(user, { ...user, updated_at: "2026-03-01T00:00:00Z" }))).toEqual([]);
  });

  it("a user going inactive or active again is its own event; with another change, an update too", () => {
    const inactive = { ...user, status: "inactive", updated_at: "2026-02-01T00:00:00Z" };
    expect(eventsOfChange("users", updated(user, inactive))).toEqual([{ type: "user.deactivated", data: inactive }]);
    expect(eventsOfChange("users", updated(inactive, user))).toEqual([{ type: "user.reactivated", data: user }]);
    const movedAndRetitled = { ...inactive, title: "Former engineer" };
    expect(eventsOfChange("users", updated(user, movedAndRetitled))).toEqual([
      { type: "user.deactivated", data: movedAndRetitled },
      { type: "user.updated", data: { ...movedAndRetitled, changed_fields: ["title", "updated_at"] } },
    ]);
  });

  it("any other status change is an update naming status", () => {
    const suspended = { ...user, status: "suspended" };
    expect(eventsOfChange("users", updated(user, suspended))).toEqual([
      { type: "user.updated", data: { ...suspended, changed_fields: ["status"] } },
    ]);
    // From inactive to another status than active is no reactivation.
    expect(eventsOfChange("users", updated({ ...user, status: "inactive" }, suspended))).toEqual([
      { type: "user.updated", data: { ...suspended, changed_fields: ["status"] } },
    ]);
    const back = { ...user, status: "active" };
    expect(eventsOfChange("users", updated(suspended, back))).toEqual([
      { type: "user.updated", data: { ...back, changed_fields: ["status"] } },
    ]);
    // Only users move between active and inactive; another resource's status is a field like any.
    const role = { id: "r1", status: "inactive" };
    expect(eventsOfChange("roles", updated({ id: "r1", status: "active" }, role))).toEqual([
      { type: "role.updated", data: { ...role, changed_fields: ["status"] } },
    ]);
  });

  it("a membership is added or removed, never updated", () => {
    const membership = { group_id: "g1", user_id: "u1" };
    expect(eventsOfChange("group_members", created(membership))).toEqual([{ type: "group_member.added", data: membership }]);
    expect(eventsOfChange("group_members", deleted(membership))).toEqual([{ type: "group_member.removed", data: membership }]);
    expect(eventsOfChange("group_members", updated(membership, { ...membership, role: "owner" }))).toEqual([]);
  });
});
