import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { CursorError, createCursorCodec } from "../src/index.ts";

describe("cursor codec", () => {
  const secret = randomBytes(32);

  it("round-trips state for the same binding and hides it from the caller", async () => {
    const codec = createCursorCodec(secret);
    const token = await codec.seal("conn-1:users", { offset: 4200 });
    expect(token).not.toContain("4200");
    expect(await codec.open("conn-1:users", token)).toEqual({ offset: 4200 });
  });

  it("refuses a cursor from another binding, another secret, or past its lifetime", async () => {
    const codec = createCursorCodec(secret);
    const token = await codec.seal("conn-1:users", 1);
    await expect(codec.open("conn-2:users", token)).rejects.toThrow(/another list/);
    await expect(createCursorCodec(randomBytes(32)).open("conn-1:users", token)).rejects.toThrow(CursorError);
    let now = Date.now();
    const clocked = createCursorCodec(secret, { ttlSeconds: 60, now: () => now });
    const expiring = await clocked.seal("b", 1);
    now += 61_000;
    await expect(clocked.open("b", expiring)).rejects.toThrow(/expired/);
  });
});
