import type { Connection } from "@unifold/db";
import type { UpstreamTarget } from "@unifold/engine";
import { type Caller, withCaller } from "../caller.ts";
import {
  createConnection,
  createPushedConnection,
  getConnection,
  listConnections,
  patchConnection,
  present,
  removeConnection,
  reverifyConnection,
} from "./connections.ts";
import type { ConnectionsParts } from "./parts.ts";
import { PushedConnection, type Reachable, reachConnection, withUpstream } from "./reach.ts";

export { checkConfig, isHttpUrl, matchesPattern } from "./connections.ts";
export type { ConnectionFilter, ConnectionPatch, NewConnection } from "./connections.ts";
export type { ConnectionsParts, Reachable };
export { PushedConnection };

/** Connections: registered, verified, and reached with their credentials open for just one call. */
export type Connections = ReturnType<typeof createConnections>;

export function createConnections(parts: ConnectionsParts) {
  return {
    ...withCaller(parts, {
      create: createConnection,
      createPushed: createPushedConnection,
      list: listConnections,
      /** The connection, or a not_found failure. */
      get: getConnection,
      patch: patchConnection,
      remove: removeConnection,
      reverify: reverifyConnection,
      /** A connection the caller's key may use for upstream work (else not_found / forbidden / upstream_unauthorized). */
      reach: reachConnection,
    }),
    /** Runs upstream work with the connection's credentials open; a failure becomes the contract's. */
    withUpstream: <T>(caller: Caller, reachable: Reachable, work: (target: UpstreamTarget) => Promise<T>) =>
      withUpstream({ parts, caller }, reachable, work),
    /** The integrations loaded from mappings/, by slug. */
    integrations: parts.integrations,
    /** Why the network policy refuses a base URL, if it does. */
    refusal: (baseUrl: string) => parts.upstream.refusal(baseUrl),
    /** The connection as the API shows it, never its credentials. */
    present: (connection: Connection) => present(parts.integrations, connection),
    /** The connection or undefined, for features that decide what a missing one means. */
    find: (id: string) => parts.store.get(id),
    /**
     * The same through the read cache that every upstream call uses: for a lookup made on every
     * request. A change made on any instance (a disable, a delete) drops it at once.
     */
    findCached: async (id: string) => (await parts.store.getSealed(id))?.connection,
    /** The connection's credentials, decrypted. */
    credentials: (id: string) => parts.store.credentials(id),
    /** Which encryption key seals how many connections. */
    keyUsage: () => parts.store.keyUsage(),
    /** Re-seals every connection's credentials with the current key. */
    rotate: () => parts.store.rotate(),
  };
}
