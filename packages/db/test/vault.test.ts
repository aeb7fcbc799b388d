import { describe, expect, it } from "vitest";
import { createVault, generateKeySpec, parseKeyRing, VaultError } from "../src/index.ts";

const id = "0b7c2a52-8c57-4d0c-9d3e-8f6f0f4c1a11";

describe("vault", () => {
  it("seals credentials into a compact JWE with alg dir, enc A256GCM and the key id", async () => {
    const vault = createVault(parseKeyRing(generateKeySpec("k1")));
    const jwe = await vault.seal(id, { api_key: "s3cret-value" });
    expect(jwe.split(".")).toHaveLength(5);
    expect(jwe).not.toContain("s3cret-value");
    const header = JSON.parse(Buffer.from(jwe.split(".")[0] as string, "base64url").toString());
    expect(header).toMatchObject({ alg: "dir", enc: "A256GCM", kid: "k1", cid: id });
    expect(await vault.open(id, jwe)).toEqual({ api_key: "s3cret-value" });
  });

  it("fails loudly on a tampered ciphertext instead of returning garbage", async () => {
    const vault = createVault(parseKeyRing(generateKeySpec("k1")));
    const parts = (await vault.seal(id, { api_key: "abc" })).split(".");
    const ciphertext = Buffer.from(parts[3] as string, "base64url");
    ciphertext[0] = (ciphertext[0] as number) ^ 0xff;
    parts[3] = ciphertext.toString("base64url");
    await expect(vault.open(id, parts.join("."))).rejects.toThrow(/failed to decrypt with key "k1"/);
  });

  it("refuses a sealed value with any one character changed, the header's connection id included", async () => {
    const vault = createVault(parseKeyRing(generateKeySpec("k1")));
    const jwe = await vault.seal(id, { api_key: "abc" });
    const bytes = (token: string) => token.split(".").map((part) => Buffer.from(part, "base64url").toString("hex"));
    for (let i = 0; i < jwe.length; i++) {
      if (jwe[i] === ".") continue;
      const forged = jwe.slice(0, i) + (jwe[i] === "A" ? "B" : "A") + jwe.slice(i + 1);
      // A last base64url character may change only unused bits, which forges nothing.
      if (JSON.stringify(bytes(forged)) === JSON.stringify(bytes(jwe))) continue;
      await expect(vault.open(id, forged), `position ${i}`).rejects.toBeInstanceOf(VaultError);
    }
    // The same ciphertext under a header naming another connection fails authentication.
    const [header, ...rest] = jwe.split(".");
    const moved = { ...JSON.parse(Buffer.from(header as string, "base64url").toString()), cid: "7d1e3c1a-0000-4000-8000-000000000000" };
    const swapped = [Buffer.from(JSON.stringify(moved)).toString("base64url"), ...rest].join(".");
    await expect(vault.open(moved.cid, swapped)).rejects.toMatchObject({ code: "decrypt_failed" });
  });

  it("names the missing key when a ciphertext was sealed with a key not in the ring", async () => {
    const old = createVault(parseKeyRing(generateKeySpec("old")));
    const jwe = await old.seal(id, { api_key: "abc" });
    const fresh = createVault(parseKeyRing(generateKeySpec("new")));
    await expect(fresh.open(id, jwe)).rejects.toMatchObject({ code: "unknown_key" });
  });

  it("fails when a key with the right id holds the wrong bytes", async () => {
    const jwe = await createVault(parseKeyRing(generateKeySpec("same"))).seal(id, { api_key: "abc" });
    await expect(createVault(parseKeyRing(generateKeySpec("same"))).open(id, jwe)).rejects.toMatchObject({ code: "decrypt_failed" });
  });

  it("refuses credentials copied from another connection's row", async () => {
    const vault = createVault(parseKeyRing(generateKeySpec("k1")));
    const jwe = await vault.seal(id, { api_key: "abc" });
    await expect(vault.open("7d1e3c1a-0000-4000-8000-000000000000", jwe)).rejects.toThrow(/belong to another connection/);
  });

  it("encrypts with the first key and decrypts with any key of the ring", async () => {
    const a = generateKeySpec("a");
    const b = generateKeySpec("b");
    const sealedWithA = await createVault(parseKeyRing(a)).seal(id, { api_key: "x" });
    const ring = createVault(parseKeyRing(`${b},${a}`));
    expect(ring.currentKid).toBe("b");
    expect(await ring.open(id, sealedWithA)).toEqual({ api_key: "x" });
  });

  it.each([
    ["", /empty/],
    ["nokid", /kid:base64/],
    ["k1:c2hvcnQ=", /must be 32 bytes/],
    [`${generateKeySpec("dup")},${generateKeySpec("dup")}`, /appears twice/],
  ])("rejects the key ring %j with a clear message", (spec, message) => {
    expect(() => parseKeyRing(spec)).toThrow(VaultError);
    expect(() => parseKeyRing(spec)).toThrow(message);
  });
});
