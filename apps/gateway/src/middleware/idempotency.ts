import { createHash } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { Failure } from "../domain/failure.ts";
import type { AppEnv } from "../http/env.ts";

/**
 * `Idempotency-Key` on a POST: the first request with a key runs and its answer is kept for
 * 24 hours; a repeat gets that answer back (marked `idempotent-replayed: true`) instead of
 * writing twice. The same key on a different request is refused. Answers of 5xx and 429 are
 * not kept, so the caller can retry those with the same key. A key whose run died without an
 * answer is taken over once its lease ends; the write then first looks for what that run made.
 */
export const idempotent: MiddlewareHandler<AppEnv> = async (c, next) => {
  const key = c.req.header("idempotency-key");
  if (key === undefined) return next();
  if (key.length === 0 || key.length > 255) throw new Failure("invalid_request", "Idempotency-Key must be 1 to 255 characters");
  const store = c.get("services").access.idempotency;
  const apiKeyId = c.get("apiKey").id;
  const url = new URL(c.req.url);
  const hash = createHash("sha256")
    .update(`${c.req.method} ${url.pathname}?${url.searchParams.toString()}\n`)
    .update(await c.req.text())
    .digest("hex");
  const claim = await store.claim(apiKeyId, key, hash);
  if (claim.state === "mismatch") {
    throw new Failure("invalid_request", "this Idempotency-Key was already used for a different request; use a new key");
  }
  if (claim.state === "in_progress") {
    throw new Failure("conflict", "a request with this Idempotency-Key is still running; retry when it has finished");
  }
  if (claim.state === "replay") {
    c.header("idempotent-replayed", "true");
    // The stored answer is replayed as it was: its own status, its own JSON.
    return c.body(JSON.stringify(claim.body), claim.status as ContentfulStatusCode, { "content-type": "application/json" });
  }
  if (claim.state === "taken_over") c.set("resumed", true);
  try {
    await next();
  } catch (error) {
    await store.release(apiKeyId, key);
    throw error;
  }
  const status = c.res.status;
  if (status >= 500 || status === 429) {
    await store.release(apiKeyId, key);
    return;
  }
  const body = await c.res
    .clone()
    .json()
    .catch(() => null);
  await store.complete(apiKeyId, key, status, body);
};

/**
 * For proxy and passthrough: they relay each call as sent and keep no answers, so a key they
 * would silently ignore is refused instead.
 */
export const noIdempotencyKey: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (c.req.header("idempotency-key") !== undefined) {
    throw new Failure(
      "invalid_request",
      "Idempotency-Key is not supported on proxy and passthrough calls, which are relayed as sent; use the unified routes",
      {
        details: [{ path: "idempotency-key", message: "not supported here" }],
      },
    );
  }
  await next();
};
