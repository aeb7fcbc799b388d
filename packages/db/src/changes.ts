import { type SQL, sql } from "drizzle-orm";

/** What publishing needs of a database (not store.ts's type, which imports this file). */
interface Executes {
  execute(query: SQL): Promise<unknown>;
}

/**
 * The Postgres channel on which a write tells every instance to drop what it cached: a
 * connection by id, every connection (a key rotation re-sealed them), every API key (a
 * revocation; keys are cached by the hash of their secret, which the revoker does not know), or
 * every SCIM token (a new one ends the others' time; cached by hash as well).
 */
export const changeChannel = "unifold_changes";

export type Change = { kind: "connection"; id: string } | { kind: "connections" } | { kind: "api_keys" } | { kind: "scim_tokens" };

export function encodeChange(change: Change): string {
  return change.kind === "connection" ? `connection:${change.id}` : change.kind;
}

export function decodeChange(payload: string): Change | undefined {
  if (payload === "connections" || payload === "api_keys" || payload === "scim_tokens") return { kind: payload };
  if (payload.startsWith("connection:")) return { kind: "connection", id: payload.slice("connection:".length) };
  return undefined;
}

/** Sent after the write it announces has committed, so a listener that re-reads sees it. */
export async function publishChange(db: Executes, change: Change): Promise<void> {
  await db.execute(sql`select pg_notify(${changeChannel}, ${encodeChange(change)})`);
}

export interface ChangeListener {
  /** Whether the channel answered its last heartbeat; while it does not, caches rely on their TTL. */
  readonly healthy: boolean;
  close(): Promise<void>;
}

/**
 * Listens for changes on a postgres.js client. postgres.js re-subscribes after a dropped
 * connection, but only once: if the server is still away, the subscription is gone for good. So
 * a heartbeat (a NOTIFY to ourselves every `heartbeatMs`) proves the channel works; when one is not
 * heard back, `onGap` runs (drop everything cached: changes may have been missed) and the
 * subscription is made anew until it holds.
 */
export function listenForChanges(
  client: import("postgres").Sql,
  handlers: { onChange: (change: Change) => void; onGap: () => void },
  heartbeatMs = 1_000,
): ChangeListener {
  const nonce = `ping:${Math.random().toString(36).slice(2)}`;
  let healthy = false;
  let heard = true;
  let subscription: { unlisten(): Promise<void> } | undefined;
  let closed = false;
  const onPayload = (payload: string) => {
    if (payload === nonce) {
      heard = true;
      healthy = true;
      return;
    }
    const change = decodeChange(payload);
    if (change) handlers.onChange(change);
  };
  const subscribe = async () => {
    try {
      const old = subscription;
      subscription = undefined;
      await old?.unlisten().catch(() => {});
      // Called on every (re)subscription: what was announced meanwhile was not heard.
      subscription = await client.listen(changeChannel, onPayload, () => handlers.onGap());
    } catch {
      // The server is away: the next heartbeat tries again.
    }
  };
  let beating = false;
  const beat = async () => {
    if (beating) return;
    beating = true;
    try {
      await heartbeat();
    } finally {
      beating = false;
    }
  };
  const heartbeat = async () => {
    if (!heard) {
      healthy = false;
      handlers.onGap();
      await subscribe();
    }
    heard = false;
    await client`select pg_notify(${changeChannel}, ${nonce})`.catch(() => {});
  };
  void subscribe().then(() => beat());
  const timer = setInterval(() => void beat(), heartbeatMs);
  timer.unref();
  return {
    get healthy() {
      return healthy && !closed;
    },
    async close() {
      closed = true;
      clearInterval(timer);
      await subscription?.unlisten().catch(() => {});
    },
  };
}
