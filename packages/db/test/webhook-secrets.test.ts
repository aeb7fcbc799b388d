import { describe, expect, it } from "vitest";
import { newSecret, rotateSecrets, signingSecretsAt } from "../src/webhook-secrets.ts";

/*
 * Which secrets sign a webhook delivery, on a clock the test sets: a receiver verifying with the
 * old secret during a rotation's overlap must still succeed, and must fail once it has ended.
 */
const T0 = Date.parse("2026-12-03T12:00:00.000Z");

describe("webhook signing secrets", () => {
  it("are Standard Webhooks secrets: whsec_ and 24 random bytes in base64, never the same twice", () => {
    const secrets = Array.from({ length: 20 }, newSecret);
    for (const secret of secrets) {
      expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
      expect(Buffer.from(secret.slice("whsec_".length), "base64")).toHaveLength(24);
    }
    expect(new Set(secrets).size).toBe(20);
  });

  it("a rotation keeps the old secret signing for the overlap, to the millisecond, then the new one alone", () => {
    const first = { secret: newSecret() };
    const { secrets, previousUntil } = rotateSecrets(first, 600, T0);
    expect(previousUntil.getTime()).toBe(T0 + 600_000);
    expect(secrets.secret).not.toBe(first.secret);
    expect(signingSecretsAt(secrets, T0)).toEqual([secrets.secret, first.secret]);
    expect(signingSecretsAt(secrets, T0 + 599_999)).toEqual([secrets.secret, first.secret]);
    expect(signingSecretsAt(secrets, T0 + 600_000)).toEqual([secrets.secret]);
    expect(signingSecretsAt(secrets, T0 + 3_600_000)).toEqual([secrets.secret]);
  });

  it("an overlap of 0 retires the old secret at once", () => {
    const first = { secret: newSecret() };
    const { secrets, previousUntil } = rotateSecrets(first, 0, T0);
    expect(previousUntil.getTime()).toBe(T0);
    expect(signingSecretsAt(secrets, T0)).toEqual([secrets.secret]);
  });

  it("rotating again during an overlap stops the oldest secret signing at once", () => {
    const first = { secret: newSecret() };
    const second = rotateSecrets(first, 600, T0).secrets;
    const third = rotateSecrets(second, 600, T0 + 1_000).secrets;
    expect(signingSecretsAt(third, T0 + 2_000)).toEqual([third.secret, second.secret]);
  });

  it("a secret never rotated, or with only half of an overlap recorded, signs alone", () => {
    const secret = newSecret();
    expect(signingSecretsAt({ secret }, T0)).toEqual([secret]);
    expect(signingSecretsAt({ secret, previous: newSecret() }, T0)).toEqual([secret]);
    expect(signingSecretsAt({ secret, previousUntil: new Date(T0 + 60_000).toISOString() }, T0)).toEqual([secret]);
  });
});
