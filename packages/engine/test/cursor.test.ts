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

  it("gives every cursor its own 12-byte IV, across many refills of the IV pool", async () => {
    const codec = createCursorCodec(secret);
    const ivs = new Set<string>();
    for (let i = 0; i < 1_300; i++) {
      const token = await codec.seal("b", i);
      const iv = token.split(".")[2]!;
      expect(Buffer.from(iv, "base64url")).toHaveLength(12);
      ivs.add(iv);
      if (i % 97 === 0) expect(await codec.open("b", token)).toBe(i);
    }
    expect(ivs.size).toBe(1_300);
  });

  it("refuses a token that carries an encrypted key, another header, or the wrong number of parts", async () => {
    const codec = createCursorCodec(secret);
    const [header, , iv, ciphertext, tag] = (await codec.seal("b", 1)).split(".");
    const otherHeader = Buffer.from(JSON.stringify({ alg: "dir", enc: "A128GCM" })).toString("base64url");
    for (const forged of [
      `${header}.AAAA.${iv}.${ciphertext}.${tag}`,
      `${otherHeader}..${iv}.${ciphertext}.${tag}`,
      `${header}..${iv}.${ciphertext}`,
      `${header}..${iv}.${ciphertext}.${tag}.`,
      "",
    ]) {
      await expect(codec.open("b", forged), forged).rejects.toThrow(CursorError);
    }
    expect(await codec.open("b", `${header}..${iv}.${ciphertext}.${tag}`)).toBe(1);
  });

  it("names what is wrong with a refused cursor", async () => {
    const codec = createCursorCodec(secret);
    const refusal = await codec.open("b", "not-a-cursor").catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(CursorError);
    expect((refusal as CursorError).name).toBe("CursorError");
    expect((refusal as CursorError).message).toBe(
      "the cursor is not one this gateway issued (forged, truncated or from another deployment)",
    );
    await expect(codec.open("c", await codec.seal("b", 1))).rejects.toThrow(
      "the cursor belongs to another list (other connection, resource or filters)",
    );
  });

  it("lives exactly its lifetime, and refuses a well-sealed token that carries none", async () => {
    let now = 1_000_000_000_000;
    const codec = createCursorCodec(secret, { ttlSeconds: 60, now: () => now });
    const token = await codec.seal("b", 1);
    now += 60_000;
    expect(await codec.open("b", token)).toBe(1);
    now += 1;
    await expect(codec.open("b", token)).rejects.toThrow("the cursor has expired; start again from the first page");
    // Sealed with the right key but without an expiry: not one of ours.
    const key = new Uint8Array(hkdfSync("sha256", secret, new Uint8Array(0), "unifold cursor v1", 32));
    const binding = JSON.parse(new TextDecoder().decode((await compactDecrypt(token, key)).plaintext)).b;
    for (const e of [undefined, "9999999999"]) {
      const forever = await new CompactEncrypt(new TextEncoder().encode(JSON.stringify({ b: binding, s: 2, e })))
        .setProtectedHeader({ alg: "dir", enc: "A256GCM" })
        .encrypt(key);
      await expect(codec.open("b", forever), String(e)).rejects.toThrow(/expired/);
    }
  });
});
