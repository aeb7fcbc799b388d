import { describe, expect, it } from "vitest";
import { type CopiedRecord, recordChange, type SeenRecord } from "../src/record-changes.ts";

/*
 * What one seen record does to the synced copy: each run compares it by hash with the copy, and
 * only a real change makes a new version (and so an event downstream).
 */
describe("the change a seen record makes to the copy", () => {
  const seen = (hash: string, data: Record<string, unknown> = { id: "u1", name: hash }): SeenRecord => ({ remoteId: "u1", hash, data });
  const copied = (hash: string, version: number, deletedAt: Date | null = null): CopiedRecord => ({
    hash,
    data: { id: "u1", name: `was ${hash}` },
    version,
    deletedAt,
  });

  it("a record the copy has never held is created, at version 1", () => {
    expect(recordChange(undefined, seen("a"))).toEqual({ kind: "created", remoteId: "u1", version: 1, data: { id: "u1", name: "a" } });
  });

  it("the same record seen again makes no change: announced once, not on every run", () => {
    expect(recordChange(copied("a", 4), seen("a"))).toBeUndefined();
  });

  it("a record whose hash differs is updated to the copy's next version, with what it was before", () => {
    expect(recordChange(copied("a", 4), seen("b"))).toEqual({
      kind: "updated",
      remoteId: "u1",
      version: 5,
      data: { id: "u1", name: "b" },
      before: { id: "u1", name: "was a" },
    });
  });

  it("a record deleted from the copy and seen again is created again, after its tombstone's version", () => {
    const tombstone = copied("a", 7, new Date("2026-01-01T00:00:00Z"));
    // Back unchanged or changed: either way it had been announced as deleted, so it is new again.
    expect(recordChange(tombstone, seen("a"))).toEqual({ kind: "created", remoteId: "u1", version: 8, data: { id: "u1", name: "a" } });
    expect(recordChange(tombstone, seen("b"))).toMatchObject({ kind: "created", version: 8 });
  });
});
