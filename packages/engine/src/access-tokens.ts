import { createHash, createPrivateKey, randomUUID } from "node:crypto";
import { SignJWT } from "jose";
import { z } from "zod";
import { render } from "./template.ts";

/** The token endpoint's answer as the upstream client read it: an UpstreamResponse, named here without importing the client. */
export interface TokenAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly bytes: Buffer;
  readonly body: unknown;
  readonly text: string;
}

/*
 * Bearer tokens an integration gets from its vendor's token endpoint before it calls the API,
 * declared under `auth.token` in integration.yaml; every value is a template over the
 * connection's `credentials` and `config`, and the auth headers then use `{{token}}`. A
 * connection may override the token endpoint with `config.token_url` (a test's stand-in, a
 * sovereign cloud), under the same network policy as its base URL.
 */

const template = z.string().min(1);
const tokenUrl = template.describe("the token endpoint, a template (e.g. https://login.example.com/{{config.tenant_id}}/token)");

/** OAuth 2.0 client credentials (RFC 6749 §4.4) with a client secret, in the body or as HTTP Basic. */
const clientCredentials = z
  .object({
    grant: z.literal("client_credentials"),
    token_url: tokenUrl,
    client_id: template,
    client_secret: template,
    scope: template.optional(),
    client_auth: z.enum(["body", "basic"]).default("body"),
  })
  .strict();

/** Client credentials with the client authenticated by a JWT it signs (`private_key_jwt`, RFC 7523 §2.2). */
const privateKeyJwt = z
  .object({
    grant: z.literal("private_key_jwt"),
    token_url: tokenUrl,
    client_id: template,
    /** A PKCS #8 PEM private key (RSA or EC). */
    private_key: template,
    key_id: template.optional(),
    scope: template.optional(),
  })
  .strict();

/** The JWT-bearer grant (RFC 7523 §2.1): a signed assertion is the grant, with a subject acted for. */
const jwtBearer = z
  .object({
    grant: z.literal("jwt_bearer"),
    token_url: tokenUrl,
    /** Who signs: a service account's address, say. */
    issuer: template,
    private_key: template,
    key_id: template.optional(),
    /** The user the token acts for (a delegated administrator); absent when the issuer acts for itself. */
    subject: template.optional(),
    scope: template.optional(),
    /** The assertion's audience; the token endpoint when absent. */
    audience: template.optional(),
  })
  .strict();

export const tokenGrant = z.discriminatedUnion("grant", [clientCredentials, privateKeyJwt, jwtBearer]);
export type TokenGrant = z.infer<typeof tokenGrant>;

/** The token endpoint refused to issue a token: the connection's credentials are wrong, expired or revoked. */
export class TokenRefused extends Error {
  constructor(
    /** The token endpoint's status; 0 when no request could be made of these credentials. */
    readonly status: number,
    /** The endpoint's own words (its `error` and `error_description`), credentials masked. */
    readonly said: string | undefined,
    /** The endpoint's answer, credentials masked; absent when none was asked for. */
    readonly response?: TokenAnswer,
  ) {
    super(
      status ? `the token endpoint refused the credentials (status ${status})${said ? `: ${said}` : ""}` : (said ?? "no token request"),
    );
    this.name = "TokenRefused";
  }
}

/** What a grant renders to for one connection; a missing value names the template. */
export interface RenderedGrant {
  grant: TokenGrant["grant"];
  url: string;
  values: Record<string, string | undefined>;
}

export function renderGrant(
  grant: TokenGrant,
  context: { credentials: Record<string, string>; config: Record<string, unknown> },
): RenderedGrant {
  const values: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(grant)) {
    if (name === "grant" || name === "client_auth" || name === "token_url") continue;
    values[name] = render(value as string, context);
  }
  const configured = context.config.token_url;
  const url = typeof configured === "string" && configured ? configured : render(grant.token_url, context);
  if (url === undefined) throw new TokenRefused(0, "the token endpoint's address needs a config value the connection lacks");
  if (grant.grant === "client_credentials") values.client_auth = grant.client_auth;
  return { grant: grant.grant, url, values };
}

/** The form a token request posts, and its headers (HTTP Basic for `client_auth: basic`). */
export async function tokenRequest(
  rendered: RenderedGrant,
  now = Date.now(),
): Promise<{ form: URLSearchParams; headers: Record<string, string> }> {
  const v = rendered.values;
  const need = (name: string) => {
    const value = v[name];
    if (!value) throw new TokenRefused(0, `the token request needs ${name}, which the connection lacks`);
    return value;
  };
  const form = new URLSearchParams();
  const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded", accept: "application/json" };
  if (rendered.grant === "client_credentials") {
    form.set("grant_type", "client_credentials");
    if (v.client_auth === "basic") {
      const pair = `${encodeURIComponent(need("client_id"))}:${encodeURIComponent(need("client_secret"))}`;
      headers.authorization = `Basic ${Buffer.from(pair).toString("base64")}`;
    } else {
      form.set("client_id", need("client_id"));
      form.set("client_secret", need("client_secret"));
    }
  } else if (rendered.grant === "private_key_jwt") {
    const clientId = need("client_id");
    form.set("grant_type", "client_credentials");
    form.set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
    form.set("client_assertion", await sign({ iss: clientId, sub: clientId, aud: rendered.url }, need("private_key"), v.key_id, now));
  } else {
    const claims: Record<string, string> = { iss: need("issuer"), aud: v.audience ?? rendered.url };
    if (v.subject) claims.sub = v.subject;
    if (v.scope) claims.scope = v.scope;
    form.set("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer");
    form.set("assertion", await sign(claims, need("private_key"), v.key_id, now));
  }
  // The JWT-bearer grant carries its scope in the assertion (RFC 7523 leaves where to the vendor,
  // and some read only that); the others ask in the form.
  if (rendered.grant !== "jwt_bearer" && v.scope) form.set("scope", v.scope);
  return { form, headers };
}

/** A short-lived assertion (5 minutes), signed RS256 or ES256 by the key's type. */
async function sign(claims: Record<string, string>, pem: string, keyId: string | undefined, now: number): Promise<string> {
  let key;
  try {
    key = createPrivateKey(pem.replace(/\\n/g, "\n"));
  } catch {
    throw new TokenRefused(0, "the private key is not a PEM private key");
  }
  const alg = key.asymmetricKeyType === "ec" ? "ES256" : "RS256";
  const seconds = Math.floor(now / 1000);
  return new SignJWT(claims)
    .setProtectedHeader({ alg, typ: "JWT", ...(keyId && { kid: keyId }) })
    .setIssuedAt(seconds)
    .setExpirationTime(seconds + 300)
    .setJti(randomUUID())
    .sign(key);
}

/**
 * The token endpoint's answer (already masked of the credentials): the token and how long it
 * lasts (an hour when it does not say), or the refusal in the endpoint's words.
 */
export function readTokenAnswer(response: TokenAnswer): { token: string; expiresInMs: number } {
  const { status } = response;
  const body = response.body;
  const answer = (body && typeof body === "object" ? body : {}) as Record<string, unknown>;
  if (status >= 200 && status < 300 && typeof answer.access_token === "string" && answer.access_token) {
    const expires = Number(answer.expires_in);
    return { token: answer.access_token, expiresInMs: Number.isFinite(expires) && expires > 0 ? expires * 1000 : 3_600_000 };
  }
  const words = [answer.error, answer.error_description].filter((w) => typeof w === "string" && w).join(": ");
  const said = words.slice(0, 500) || undefined;
  throw new TokenRefused(status, said ?? (status >= 200 && status < 300 ? "the answer held no access_token" : undefined), response);
}

interface Held {
  token: string;
  /** When to get a new one: a minute before it expires, or halfway through a shorter life. */
  renewAt: number;
}

/**
 * Tokens kept where every instance of the gateway finds them, so N instances ask the vendor for
 * one token, not N. Keyed by a digest of the grant as rendered; the store keeps tokens sealed.
 * Its failures only cost a token request: a shared token is a saving, never a dependency.
 */
export interface SharedTokens {
  get(key: string): Promise<{ token: string; renewAt: number } | undefined>;
  put(key: string, token: string, renewAt: number): Promise<void>;
  /** Forgets `token` under `key`, unless another token has replaced it already. */
  drop(key: string, token: string): Promise<void>;
}

/**
 * Tokens per grant as rendered (the same credentials and endpoint share one), got once however
 * many calls ask at the same time, and renewed before they expire. Bounded: the oldest is
 * forgotten past `max` grants.
 */
export function createTokenCache(
  fetchToken: (rendered: RenderedGrant) => Promise<{ token: string; expiresInMs: number }>,
  max = 10_000,
  shared?: SharedTokens,
) {
  const held = new Map<string, Held>();
  const pending = new Map<string, Promise<string>>();
  const keyOf = (rendered: RenderedGrant) => createHash("sha256").update(JSON.stringify(rendered)).digest("base64url");

  function get(rendered: RenderedGrant, now = Date.now()): Promise<string> {
    const key = keyOf(rendered);
    const current = held.get(key);
    if (current && now < current.renewAt) return Promise.resolve(current.token);
    let asked = pending.get(key);
    if (!asked) {
      asked = obtain(rendered, key).finally(() => pending.delete(key));
      pending.set(key, asked);
    }
    return asked;
  }

  const hold = (key: string, entry: Held) => {
    held.delete(key);
    held.set(key, entry);
    if (held.size > max) held.delete(held.keys().next().value!);
    return entry.token;
  };

  /** Another instance's token while it is fresh, else a new one from the vendor, shared. */
  async function obtain(rendered: RenderedGrant, key: string): Promise<string> {
    const theirs = await shared?.get(key).catch(() => undefined);
    if (theirs && Date.now() < theirs.renewAt) return hold(key, theirs);
    const { token, expiresInMs } = await fetchToken(rendered);
    const entry = { token, renewAt: Date.now() + Math.max(expiresInMs / 2, expiresInMs - 60_000) };
    await shared?.put(key, token, entry.renewAt).catch(() => {});
    return hold(key, entry);
  }

  return {
    get,
    /** Forgets the token the vendor just refused (a 401), unless a newer one replaced it already. */
    async forget(rendered: RenderedGrant, token: string): Promise<void> {
      const key = keyOf(rendered);
      if (held.get(key)?.token === token) held.delete(key);
      await shared?.drop(key, token).catch(() => {});
    },
    size: () => held.size,
  };
}
