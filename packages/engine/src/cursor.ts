import { createHash, hkdfSync } from "node:crypto";
import { CompactEncrypt, compactDecrypt } from "jose";

/** A cursor that is forged, truncated, expired, or was made for another list. */
export class CursorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CursorError";
  }
}

export interface CursorCodec {
  /** `binding` names what produced the page (connection, resource, filters); `state` is where to resume. */
  seal(binding: string, state: unknown): Promise<string>;
  open(binding: string, token: string): Promise<unknown>;
}

/**
 * Cursors are encrypted (jose JWE, dir + A256GCM): opaque to callers, tamper-evident, and
 * bound to their list by a hash of the binding, so a cursor from one list fails on another.
 */
export function createCursorCodec(secret: Uint8Array, options: { ttlSeconds?: number; now?: () => number } = {}): CursorCodec {
  const raw = new Uint8Array(hkdfSync("sha256", secret, new Uint8Array(0), "unifold cursor v1", 32));
  // Imported once: jose would otherwise import the raw bytes on every seal and open.
  const key = crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
  const ttl = options.ttlSeconds ?? 24 * 3600;
  const now = options.now ?? (() => Date.now());
  const encoder = new TextEncoder();
  const bindingHash = (binding: string) => createHash("sha256").update(binding).digest("base64url").slice(0, 22);

  return {
    async seal(binding, state) {
      const payload = { b: bindingHash(binding), s: state, e: Math.floor(now() / 1000) + ttl };
      return new CompactEncrypt(encoder.encode(JSON.stringify(payload)))
        .setProtectedHeader({ alg: "dir", enc: "A256GCM" })
        .encrypt(await key);
    },
    async open(binding, token) {
      let payload: { b?: unknown; s?: unknown; e?: unknown };
      try {
        const { plaintext } = await compactDecrypt(token, await key, {
          keyManagementAlgorithms: ["dir"],
          contentEncryptionAlgorithms: ["A256GCM"],
        });
        payload = JSON.parse(new TextDecoder().decode(plaintext));
      } catch {
        throw new CursorError("the cursor is not one this gateway issued (forged, truncated or from another deployment)");
      }
      if (payload.b !== bindingHash(binding))
        throw new CursorError("the cursor belongs to another list (other connection, resource or filters)");
      if (typeof payload.e !== "number" || payload.e * 1000 < now())
        throw new CursorError("the cursor has expired; start again from the first page");
      return payload.s;
    },
  };
}
