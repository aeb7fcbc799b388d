import { randomBytes } from "node:crypto";

/*
 * The signing-secret rules of webhook endpoints, apart from their storage (webhooks.ts) so they
 * can be checked on their own: a rotation's overlap, and which secrets sign a delivery when.
 */

/** What the sealed secret column holds; `previous` signs too until `previousUntil` (a rotation's overlap). */
export interface Secrets {
  secret: string;
  previous?: string;
  previousUntil?: string;
}

/** Standard Webhooks secrets: `whsec_` and 24 random bytes in base64. */
export const newSecret = () => `whsec_${randomBytes(24).toString("base64")}`;

/**
 * A rotation at `now` (ms): a new secret, and the one it replaces signing too for `overlapSeconds`.
 * A secret still overlapping from an earlier rotation stops signing at once.
 */
export function rotateSecrets(old: Secrets, overlapSeconds: number, now: number): { secrets: Secrets; previousUntil: Date } {
  const previousUntil = new Date(now + overlapSeconds * 1000);
  return { secrets: { secret: newSecret(), previous: old.secret, previousUntil: previousUntil.toISOString() }, previousUntil };
}

/** The secrets that sign a delivery at `now` (ms): the current one, and the previous one until its overlap ends. */
export function signingSecretsAt(secrets: Secrets, now: number): string[] {
  const overlapping = secrets.previous && secrets.previousUntil && Date.parse(secrets.previousUntil) > now;
  return overlapping ? [secrets.secret, secrets.previous!] : [secrets.secret];
}
