import type { ConnectSession } from "@unifold/db";
import { withCaller } from "../caller.ts";
import { connectSessionStatus, createConnectSession, openConnectPage, submitConnectForm } from "./connect.ts";
import type { ConnectParts } from "./parts.ts";

export type { Choice, ConnectSessionInput, FormError, Outcome, PageField, PageState, ScimAccess, SetupSteps } from "./connect.ts";
export type { ConnectParts, ConnectSettings } from "./parts.ts";
export { pagePolicy } from "./rules.ts";

/** The hosted connect page: links a SaaS opens for its customer, and the page that checks and saves their connection. */
export type Connect = ReturnType<typeof createConnect>;

export function createConnect(parts: ConnectParts) {
  return {
    ...withCaller(parts, { createSession: createConnectSession, sessionStatus: connectSessionStatus }),
    /** The page's settings (links' public URL, proxy trust). */
    settings: parts.settings,
    /** The session a link's token opens, if any. */
    byToken: (token: string) => parts.sessions.byToken(token),
    /** The page a link opens; the customer holds the link, not an API key. */
    openPage: (session: ConnectSession | undefined, chosen?: string, afterCheck = false) =>
      openConnectPage(parts, session, chosen, afterCheck),
    /** A form posted from the page; `publicBase` is where identity providers reach this gateway (a push connection's SCIM base URL). */
    submit: (session: ConnectSession | undefined, form: Record<string, string>, publicBase: string) =>
      submitConnectForm(parts, session, form, publicBase),
    /** Drops sessions that ended before `before` (the tick job). */
    prune: (before: Date) => parts.sessions.prune(before),
  };
}
