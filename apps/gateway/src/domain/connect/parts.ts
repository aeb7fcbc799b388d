import type { ConnectSessionStore } from "@unifold/db";
import type { Connections } from "../connections/index.ts";
import type { Events } from "../events/index.ts";
import type { Scim } from "../scim/index.ts";

/** The hosted connect page's limits (README "Let customers connect"). */
export interface ConnectSettings {
  /** How long a link stays open unless the session asks otherwise. */
  ttlSeconds: number;
  /** Submissions the vendor is asked to check before the link closes. */
  maxAttempts: number;
  /** Where customers' browsers reach the gateway (UNIFOLD_PUBLIC_URL); links are built from it. */
  publicUrl?: string | undefined;
  /**
   * UNIFOLD_TRUST_PROXY: the gateway is reached only through a proxy that sets X-Forwarded-*,
   * so links without a public URL, and each client's address, come from those headers.
   */
  trustProxy: boolean;
}

/**
 * What the connect module is built from: its sessions, the connections it creates through, and
 * the SCIM service for directories that push (their connection and token, and the provider's first call).
 */
export interface ConnectParts {
  sessions: ConnectSessionStore;
  settings: ConnectSettings;
  connections: Pick<Connections, "integrations" | "refusal" | "find" | "create" | "patch" | "present">;
  events: Pick<Events, "emit">;
  scim: Pick<Scim, "integrations" | "connect" | "activated">;
}
