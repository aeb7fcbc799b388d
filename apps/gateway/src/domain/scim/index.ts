import type { Connection, NewScimRequest } from "@unifold/db";
import { openCursor } from "../cursor.ts";
import type { Caller } from "../caller.ts";
import { Failure } from "../failure.ts";
import { type CopyListInput, getCopy, listCopy } from "./copy.ts";
import { resourceTypesOf, schemasOf, serviceProviderConfig } from "./discovery.ts";
import { type ListQuery, listResources, project } from "./list.ts";
import type { ScimParts } from "./parts.ts";
import { createResource, getResource, patchResource, present, removeResource, replaceResource } from "./resources.ts";
import { requestLog } from "./request-log.ts";
import { type Endpoint, ScimRefusal, type ScimScope, visibleConnection } from "./scope.ts";

export { ScimRefusal, type Endpoint, type ScimScope };
export type { ListQuery, ScimParts };

/** Directories that push: the SCIM 2.0 service identity providers provision into (docs/scim.md). */
export type Scim = ReturnType<typeof createScim>;

export function createScim(parts: ScimParts) {
  const log = requestLog(parts);
  const activated = new Set<string>();
  /** The provider's first authenticated call: the connection is live, announced once (the connect page waits for it). */
  const activate = (connection: Connection) =>
    parts.events.publish((emit) =>
      parts.store.activate(connection.id, async (tx) => {
        await emit(tx, [
          {
            tenantId: connection.tenantId,
            connectionId: connection.id,
            integration: connection.integration,
            type: "connection.activated",
            version: null,
            data: { connection_id: connection.id },
          },
        ]);
      }),
    );

  return {
    /** The integrations whose directories push, by slug. */
    integrations: parts.integrations,
    /** Whether an integration's directory pushes. */
    pushes: (slug: string) => parts.integrations.has(slug),

    /**
     * The request's scope, from the connection id in its URL and its bearer token: a token opens
     * only its own connection, and only while the connection exists and is not disabled. Every
     * refusal is the same 401, so a caller learns nothing about other connections.
     */
    async authenticate(connectionId: string, token: string | undefined, baseUrl: string): Promise<ScimScope> {
      // Made only when refusing: an Error's stack is costly, and every request of a push passes here.
      const refused = () => new ScimRefusal(401, "a valid bearer token for this SCIM base URL is required");
      if (!token) throw refused();
      const owner = await parts.store.authenticate(token);
      // The token is found by its digest (scim_tokens.token_hash), never compared as text; it opens only its own connection.
      if (owner !== connectionId) throw refused();
      const connection = await parts.connections.findCached(connectionId);
      const integration = connection && parts.integrations.get(connection.integration);
      if (!connection || !integration || connection.status === "disabled") throw refused();
      // The cached connection may not show its activation yet: this instance remembers it.
      if (connection.lastVerifiedAt === null && !activated.has(connection.id)) {
        await activate(connection);
        activated.add(connection.id);
      }
      return { connection, integration, baseUrl };
    },

    list: (scope: ScimScope, endpoint: Endpoint, query: ListQuery) => listResources(parts, scope, endpoint, query),
    async get(scope: ScimScope, endpoint: Endpoint, id: string, query: Pick<ListQuery, "attributes" | "excludedAttributes"> = {}) {
      const row = await getResource(parts, scope, endpoint, id);
      return { resource: project(present(scope, endpoint, row), query, endpoint), version: row.version };
    },
    async create(scope: ScimScope, endpoint: Endpoint, body: unknown) {
      const row = await createResource(parts, scope, endpoint, body);
      return { resource: present(scope, endpoint, row), version: row.version };
    },
    async replace(scope: ScimScope, endpoint: Endpoint, id: string, body: unknown, ifMatch?: string) {
      const row = await replaceResource(parts, scope, endpoint, id, body, ifMatch);
      return { resource: present(scope, endpoint, row), version: row.version };
    },
    async patch(scope: ScimScope, endpoint: Endpoint, id: string, body: unknown, ifMatch?: string) {
      const row = await patchResource(parts, scope, endpoint, id, body, ifMatch);
      return { resource: present(scope, endpoint, row), version: row.version };
    },
    remove: (scope: ScimScope, endpoint: Endpoint, id: string, ifMatch?: string) => removeResource(parts, scope, endpoint, id, ifMatch),

    /** A pushed directory's unified list, answered from its copy. */
    readList: (caller: Caller, input: CopyListInput) => listCopy(parts, caller, input),
    /** One unified record of a pushed directory, from its copy. */
    readOne: (caller: Caller, input: Parameters<typeof getCopy>[2]) => getCopy(parts, caller, input),

    /** Records one request of a connection's log (no body, no token), written with others shortly after. */
    log: (entry: Omit<NewScimRequest, "at">) => log.add(entry),
    /** Writes the log entries still waiting (on shutdown). */
    close: () => log.flush(),
    /** A push connection's request log as the caller may read it, newest first. */
    async requests(caller: Caller, connectionId: string, page: { limit: number; cursor?: string | undefined }) {
      await visibleConnection(parts, caller, connectionId);
      await log.flush();
      const binding = `scim-requests:${connectionId}`;
      const opened = (await openCursor(parts.cursors, binding, page.cursor)) as { b?: unknown } | undefined;
      if (page.cursor !== undefined && typeof opened?.b !== "number")
        throw new Failure("invalid_cursor", "the cursor does not belong to this log");
      const found = await parts.store.requests(connectionId, { before: opened?.b as number | undefined, limit: page.limit });
      const last = found.rows.at(-1);
      return { rows: found.rows, next_cursor: found.more && last ? await parts.cursors.seal(binding, { b: last.id }) : null };
    },
    /** Drops log entries older than `before` (the tick job). */
    pruneLog: (before: Date) => parts.store.pruneRequests(before),

    serviceProviderConfig,
    resourceTypes: resourceTypesOf,
    schemas: schemasOf,

    /** A new token for a push connection the caller reaches; older ones keep working `overlapSeconds` more. */
    async issueToken(caller: Caller, connectionId: string, overlapSeconds: number) {
      const connection = await visibleConnection(parts, caller, connectionId);
      if (!parts.integrations.has(connection.integration))
        throw new Failure(
          "invalid_request",
          `connection ${connectionId} reads ${connection.integration} through its API; only a pushing directory has a SCIM token`,
        );
      return parts.store.issueToken(connection.id, overlapSeconds);
    },

    /** Whether the connection's identity provider has made its first authenticated call (`connection.activated`). */
    activated: async (connectionId: string) => ((await parts.store.activatedAt(connectionId)) ?? null) !== null,

    /** Registers a push connection (credentials or config given are refused); its base URL and first token are answered once. */
    async connect(caller: Caller, input: Parameters<ScimParts["connections"]["createPushed"]>[1], publicBase: string) {
      const connection = await parts.connections.createPushed(caller, input);
      const token = await parts.store.issueToken(connection.id);
      return { connection, scim: { base_url: `${publicBase}/scim/v2/${connection.id}`, token } };
    },
  };
}
