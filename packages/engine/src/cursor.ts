import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from "node:crypto";

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
 * Cursors are encrypted JWE (compact, dir + A256GCM): opaque to callers, tamper-evident, and
 * bound to their list by a hash of the binding, so a cursor from one list fails on another.
 *
 * Sealed and opened with node:crypto's AES-GCM rather than jose: every list page opens one
 * cursor and seals the next, and jose's WebCrypto path cost ~0.2–0.3 ms per operation here
 * against ~0.02 ms. The tokens are standard JWE; a test opens ours with jose and jose's with ours.
 */
export function createCursorCodec(secret: Uint8Array, options: { ttlSeconds?: number; now?: () => number } = {}): CursorCodec {
  const key = Buffer.from(hkdfSync("sha256", secret, new Uint8Array(0), "unifold cursor v1", 32));
  const ttl = options.ttlSeconds ?? 24 * 3600;
  const now = options.now ?? (() => Date.now());
  // 22 characters (132 bits) bind as well as 43 and keep the token short.
  // Stryker disable next-line MethodExpression: equivalent, a longer hash binds the same.
  const bindingHash = (binding: string) => createHash("sha256").update(binding).digest("base64url").slice(0, 22);

  return {
    async seal(binding, state) {
      const payload = { b: bindingHash(binding), s: state, e: Math.floor(now() / 1000) + ttl };
      return sealJwe(key, JSON.stringify(payload));
    },
    async open(binding, token) {
      let payload: { b?: unknown; s?: unknown; e?: unknown };
      try {
        payload = JSON.parse(openJwe(key, token));
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

// The protected header is the same for every cursor: {"alg":"dir","enc":"A256GCM"}.
const HEADER = Buffer.from(JSON.stringify({ alg: "dir", enc: "A256GCM" })).toString("base64url");
const AAD = Buffer.from(HEADER, "ascii");

// IVs are cut from a pooled block of CSPRNG bytes: randomBytes(12) per cursor is a system call each.
let ivPool = Buffer.alloc(0);
let ivAt = 0;
function freshIv(): Buffer {
  // Stryker disable next-line ConditionalExpression: equivalent, refilling every time is only slower.
  if (ivAt + 12 > ivPool.length) {
    ivPool = randomBytes(12 * 512);
    ivAt = 0;
  }
  ivAt += 12;
  return ivPool.subarray(ivAt - 12, ivAt);
}

/** RFC 7516 compact serialisation with direct encryption: header..iv.ciphertext.tag (no encrypted key). */
function sealJwe(key: Buffer, plaintext: string): string {
  const iv = freshIv();
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(AAD);
  const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return `${HEADER}..${iv.toString("base64url")}.${ciphertext.toString("base64url")}.${cipher.getAuthTag().toString("base64url")}`;
}

/** Throws on anything but a token sealed with this key and this header. */
function openJwe(key: Buffer, token: string): string {
  const parts = token.split(".");
  if (parts.length !== 5 || parts[0] !== HEADER || parts[1] !== "") throw new Error("not a dir/A256GCM JWE");
  const [, , iv, ciphertext, tag] = parts as [string, string, string, string, string];
  const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64url"), { authTagLength: 16 });
  decipher.setAAD(AAD);
  decipher.setAuthTag(Buffer.from(tag, "base64url"));
  return Buffer.concat([decipher.update(Buffer.from(ciphertext, "base64url")), decipher.final()]).toString("utf8");
}
