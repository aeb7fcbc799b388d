import { hkdfSync, randomBytes } from "node:crypto";
import { CompactEncrypt, compactDecrypt } from "jose";
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

  it("speaks standard JWE: jose opens our cursors and we open jose's", async () => {
    const codec = createCursorCodec(secret);
    const key = new Uint8Array(hkdfSync("sha256", secret, new Uint8Array(0), "unifold cursor v1", 32));
    const ours = await codec.seal("b", { o: 7 });
    const { plaintext, protectedHeader } = await compactDecrypt(ours, key);
    expect(protectedHeader).toEqual({ alg: "dir", enc: "A256GCM" });
    expect(JSON.parse(new TextDecoder().decode(plaintext)).s).toEqual({ o: 7 });

    const payload = JSON.stringify({ b: JSON.parse(new TextDecoder().decode(plaintext)).b, s: { o: 9 }, e: Date.now() / 1000 + 60 });
    const theirs = await new CompactEncrypt(new TextEncoder().encode(payload))
      .setProtectedHeader({ alg: "dir", enc: "A256GCM" })
      .encrypt(key);
    expect(await codec.open("b", theirs)).toEqual({ o: 9 });
  });

  it("refuses a cursor with any one character changed", async () => {
    const codec = createCursorCodec(secret);
    const token = await codec.seal("b", { o: 1 });
    for (let i = 0; i < token.length; i++) {
      if (token[i] === ".") continue;
      const forged = token.slice(0, i) + (token[i] === "A" ? "B" : "A") + token.slice(i + 1);
      // The last character of a base64url part may carry unused bits; changing only those forges nothing.
      const decoded = (t: string) => t.split(".").map((part) => Buffer.from(part, "base64url").toString("hex"));
      if (JSON.stringify(decoded(forged)) === JSON.stringify(decoded(token))) continue;
      await expect(codec.open("b", forged), `position ${i}`).rejects.toThrow(CursorError);
    }
  });
});
