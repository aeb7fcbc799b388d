import { randomBytes } from "node:crypto";
import type { Connection, ConnectSession } from "@unifold/db";
import type { Integration } from "@unifold/engine";
import { Failure, serverSide } from "../failure.ts";
import { type Caller, type Deps, tenantOf } from "../caller.ts";
import { checkConfig, matchesPattern } from "../connections/index.ts";
import type { ConnectParts } from "./parts.ts";
import {
  AFTER_CHECK_MS,
  attemptsLeft,
  CHECK_LEASE_SECONDS,
  closedReason,
  exactOrigins,
  isOutcome,
  type Outcome,
  recentSuccess,
  SAME_FORM_MS,
  sessionStatus,
} from "./rules.ts";

/** What `POST /connect/sessions` takes (already shaped by the route's schema). */
export interface ConnectSessionInput {
  tenant_id?: string | undefined;
  integrations?: string[] | undefined;
  config?: Record<string, Record<string, string>> | undefined;
  connection_id?: string | undefined;
  redirect_url?: string | undefined;
  allowed_origins?: string[] | undefined;
  locale?: string | undefined;
  theme?: { primary_color?: string | undefined; mode?: string | undefined; logo_data_url?: string | undefined } | undefined;
  ttl_seconds?: number | undefined;
  allow_duplicates?: boolean | undefined;
  state?: string | undefined;
}

const invalid = (path: string, message: string) => new Failure("invalid_request", `${path}: ${message}`, { details: [{ path, message }] });

/**
 * Opens a link a customer follows to connect their own account. The token is answered once;
 * only its hash is stored.
 */
export async function createConnectSession(deps: Deps<ConnectParts>, input: ConnectSessionInput, pageBase: string) {
  const { parts } = deps;
  const tenantId = tenantOf(deps.caller, input.tenant_id);
  let integrations = input.integrations ?? [];
  integrations.forEach((slug, i) => {
    if (!parts.connections.integrations.has(slug) && !parts.scim.integrations.has(slug))
      invalidIntegration(parts, `integrations.${i}`, slug);
  });
  let reconnect: Connection | undefined;
  if (input.connection_id) {
    reconnect = await parts.connections.find(input.connection_id);
    if (!reconnect || reconnect.tenantId !== tenantId)
      throw invalid("connection_id", `no connection ${input.connection_id} for tenant ${tenantId}`);
    if (parts.scim.integrations.has(reconnect.integration))
      throw invalid(
        "connection_id",
        `connection ${reconnect.id}'s directory pushes over SCIM: it has no credentials to enter again; give its identity provider a new token with POST /connections/{id}/scim-token`,
      );
    if (integrations.length && !integrations.includes(reconnect.integration))
      throw invalid("integrations", `the connection to reconnect uses ${reconnect.integration}`);
    integrations = [reconnect.integration];
  }
  for (const [slug, preset] of Object.entries(input.config ?? {})) {
    const integration = parts.connections.integrations.get(slug);
    if (parts.scim.integrations.has(slug)) throw invalid(`config.${slug}`, `${slug} is a directory that pushes: it takes no config`);
    if (!integration) invalidIntegration(parts, `config.${slug}`, slug);
    else if (integrations.length && !integrations.includes(slug))
      throw invalid(`config.${slug}`, `${slug} is not among the session's integrations`);
    else {
      // The admin API's config checks (known fields, the base URL and its network policy); the
      // page's form supplies what is required but not preset.
      checkConfig(integration, {}, preset, parts.connections.refusal, { path: `config.${slug}`, partial: true });
      for (const [name, value] of Object.entries(preset)) {
        const field = integration.config[name];
        if (field && !matchesPattern(field, value)) throw invalid(`config.${slug}.${name}`, `does not match the pattern ${field.pattern}`);
      }
    }
  }
  const ttlSeconds = input.ttl_seconds ?? parts.settings.ttlSeconds;
  const token = `ucs_${randomBytes(32).toString("base64url")}`;
  const session = await parts.sessions.create(token, {
    tenantId,
    integrations,
    config: input.config ?? {},
    connectionId: reconnect?.id ?? null,
    redirectUrl: input.redirect_url ?? null,
    allowedOrigins: exactOrigins(input.allowed_origins ?? []),
    locale: input.locale ?? null,
    theme: Object.fromEntries(Object.entries(input.theme ?? {}).filter(([, v]) => v !== undefined)) as Record<string, string>,
    allowDuplicates: input.allow_duplicates ?? false,
    state: input.state ?? null,
    createdBy: deps.caller.apiKey.id,
    expiresAt: new Date(Date.now() + ttlSeconds * 1000),
  });
  return { token, url: `${pageBase}/connect/${token}`, expires_at: session.expiresAt.toISOString(), session };
}

/**
 * Where a session stands, for its SaaS: the check a redirect's result is confirmed with (the
 * result rides in a URL the browser could change). Another tenant's session is not found.
 */
export async function connectSessionStatus(deps: Deps<ConnectParts>, id: string) {
  const session = await deps.parts.sessions.get(id);
  const bound = deps.caller.apiKey.tenantId;
  if (!session || (bound && session.tenantId !== bound)) throw new Failure("not_found", `no connect session ${id}`);
  const closed = closedReason(session, deps.parts.settings.maxAttempts, Date.now());
  const pushed = await pushedState(deps.parts, session);
  const status = sessionStatus(session, closed, pushed?.kind === "waiting");
  return {
    id: session.id,
    tenant_id: session.tenantId,
    status,
    state: session.state,
    connection_id: session.resultConnectionId,
    outcome: isOutcome(session.resultOutcome) ? session.resultOutcome : null,
    attempts: session.attempts,
    expires_at: session.expiresAt.toISOString(),
  } as const;
}

function invalidIntegration(parts: ConnectParts, path: string, slug: string): never {
  const known = [...parts.connections.integrations.keys(), ...parts.scim.integrations.keys()];
  throw invalid(path, `unknown integration "${slug}" (one of ${known.join(", ")})`);
}

/** A field the page asks for: a credential (always masked) or a config value. */
export interface PageField {
  name: string;
  kind: "credentials" | "config";
  label: string;
  description?: string | undefined;
  helpUrl?: string | undefined;
  pattern?: string | undefined;
  placeholder?: string | undefined;
  required: boolean;
  /** Label, help and placeholder in other languages, by locale (the page picks). */
  translations: Record<string, { label?: string | undefined; description?: string | undefined; placeholder?: string | undefined }>;
  /** What the form shows when it comes back with an error: config only, never a credential. */
  value?: string | undefined;
}

/** A problem with one field (`path` is the form name) or with the whole submission. */
export type FormError =
  | { kind: "field"; path: string; problem: "required" | "pattern"; label: string }
  /** The vendor said the credentials are wrong: the only failure that costs an attempt. */
  | { kind: "refused"; status: number; reason: string }
  | { kind: "invalid"; reason: string }
  /** A reconnect whose credentials open another account than the connection's. */
  | { kind: "other_account" }
  | { kind: "rate_limited" }
  /** The vendor could not be reached, failed, or answered something that is not its API. */
  | { kind: "failed"; reason: string };

export type { Outcome };

/** An integration the page offers: one whose API is read (a form for its credentials), or a directory that pushes (SCIM). */
export interface Choice {
  slug: string;
  name: string;
  description?: string | undefined;
  translations: Record<string, { description?: string | undefined }>;
  push: boolean;
  /** A directory that pushes: set-up steps per identity provider (its integration.yaml's `setup`). */
  setup?: SetupSteps[] | undefined;
}

export interface SetupSteps {
  provider: string;
  steps: string[];
  translations: Record<string, { steps: string[] }>;
}

/** What the identity provider is given: shown once, in the answer to the post that made it. */
export interface ScimAccess {
  base_url: string;
  token: string;
}

/** Everything the page can show; the route renders it. */
export type PageState =
  | { kind: "unknown" }
  | { kind: "expired" | "used" | "too_many"; session: ConnectSession }
  /** Another submission of this link is being checked with the vendor; the page looks again shortly. */
  | { kind: "checking"; session: ConnectSession }
  | { kind: "choose"; session: ConnectSession; integrations: Choice[] }
  /** A directory that pushes, chosen: what will happen, and the button that makes its connection. */
  | { kind: "push"; session: ConnectSession; integration: Choice; canChoose: boolean }
  /** The push connection was just made: its base URL and token (this once) and the set-up steps. */
  | { kind: "push_created"; session: ConnectSession; integration: Choice; connectionId: string; scim: ScimAccess }
  /** The push connection exists; its identity provider has not called yet. The page looks again shortly. */
  | { kind: "waiting"; session: ConnectSession; integration: Choice; connectionId: string }
  | {
      kind: "form";
      session: ConnectSession;
      integration: Integration;
      /** More than one integration is offered, so the form links back to the choice. */
      canChoose: boolean;
      fields: PageField[];
      preset: string[];
      reconnect: boolean;
      errors: FormError[];
      attemptsLeft: number;
    }
  | {
      kind: "done";
      session: ConnectSession;
      integration: Pick<Choice, "slug" | "name"> & { push?: boolean };
      connectionId: string;
      outcome: Outcome;
    }
  | { kind: "cancelled"; session: ConnectSession };

/** The page a link's session opens: the choice of integration, a form, or why the link no longer works. */
export async function openConnectPage(
  parts: ConnectParts,
  session: ConnectSession | undefined,
  chosen?: string,
  afterCheck = false,
): Promise<PageState> {
  // A push connection made on this link: waiting for its identity provider's first call, or connected.
  const pushed = session && (await pushedState(parts, session));
  if (pushed) return pushed;
  // The checking page looking again: the check it waited for ended, so it is told how.
  if (afterCheck && session?.usedAt) {
    const made = session.resultConnectionId ? await parts.connections.find(session.resultConnectionId) : undefined;
    return settledState(parts, session, made?.integration, AFTER_CHECK_MS);
  }
  const closed = closedState(parts, session);
  if (closed) return closed;
  const open = session as ConnectSession;
  const offered = offeredChoices(parts, open);
  const choice = offered.length === 1 ? offered[0] : offered.find((i) => i.slug === chosen);
  const integration = choice && parts.connections.integrations.get(choice.slug);
  if (choice?.push) return { kind: "push", session: open, integration: choice, canChoose: offered.length > 1 };
  if (!integration) return { kind: "choose", session: open, integrations: offered };
  return formState(parts, open, integration, offered.length > 1, [], {});
}

/** Checks a submitted form with the vendor and saves the connection (or says what is wrong). */
export async function submitConnectForm(
  parts: ConnectParts,
  session: ConnectSession | undefined,
  form: Record<string, string>,
  publicBase: string,
): Promise<PageState> {
  // The same form posted again just after it succeeded (a double click): told that success (a
  // push connection's token is not shown again).
  if (session?.usedAt) return (await pushedState(parts, session)) ?? settledState(parts, session, form.integration);
  const closed = closedState(parts, session, true);
  if (closed) return closed;
  const open = session as ConnectSession;
  if (form.action === "cancel") return { kind: "cancelled", session: open };
  const offered = offeredChoices(parts, open);
  const choice = offered.find((i) => i.slug === form.integration);
  if (choice?.push) return createPushed(parts, open, choice, publicBase);
  const integration = choice && parts.connections.integrations.get(choice.slug);
  if (!integration) return { kind: "choose", session: open, integrations: offered };
  const canChoose = offered.length > 1;

  const { credentials, config, errors } = readForm(integration, open, form);
  // A field the browser should already have caught costs no attempt and no vendor call.
  if (errors.length) return formState(parts, open, integration, canChoose, errors, config);

  const started = await startSubmission(parts, open);
  if (started.kind !== "started") return settledState(parts, started.session, integration.slug);
  let result: { connection: Connection; outcome: Outcome };
  try {
    result = await link(parts, started.session, integration, credentials, config);
  } catch (error) {
    const shown = formErrorOf(error, integration);
    const released = await parts.sessions.release(open.id, shown?.[0]?.kind === "refused", started.session.checkingSince!);
    if (!shown) throw error;
    return formState(parts, released ?? started.session, integration, canChoose, shown, config);
  }
  await parts.sessions.finish(open.id, result.connection.id, result.outcome);
  if (result.outcome !== "existing") await announce(parts, result.connection, result.outcome);
  return { kind: "done", session: started.session, integration, connectionId: result.connection.id, outcome: result.outcome };
}

/**
 * Makes a directory that pushes its connection and SCIM token, once per link: the submission
 * takes the link like a form's check does, so a double click makes one connection. The token is
 * in this answer only; the link keeps the connection's id, and later shows it waiting or connected.
 */
async function createPushed(parts: ConnectParts, open: ConnectSession, choice: Choice, publicBase: string): Promise<PageState> {
  const started = await startSubmission(parts, open);
  if (started.kind !== "started") {
    const settled = started.session && (await pushedState(parts, started.session));
    return settled ?? closedState(parts, started.session) ?? { kind: "unknown" };
  }
  let made: Awaited<ReturnType<ConnectParts["scim"]["connect"]>>;
  try {
    made = await parts.scim.connect(sessionCaller(started.session), { tenant_id: open.tenantId, integration: choice.slug }, publicBase);
  } catch (error) {
    await parts.sessions.release(open.id, false, started.session.checkingSince!);
    throw error;
  }
  await parts.sessions.finish(open.id, made.connection.id, "created");
  await announce(parts, made.connection, "created");
  return { kind: "push_created", session: started.session, integration: choice, connectionId: made.connection.id, scim: made.scim };
}

/**
 * A link that made a push connection: "waiting" until the identity provider's first
 * authenticated call (`connection.activated`), then "done". Undefined for any other link.
 */
async function pushedState(parts: ConnectParts, session: ConnectSession): Promise<PageState | undefined> {
  if (!session.usedAt || !session.resultConnectionId || session.resultOutcome !== "created") return undefined;
  const connection = await parts.connections.find(session.resultConnectionId);
  const integration = connection && parts.scim.integrations.get(connection.integration);
  if (!connection || !integration) return undefined;
  const choice = { ...choiceOf(integration), push: true };
  // The cached connection may predate the first call: the table says.
  const activated = connection.lastVerifiedAt !== null || (await parts.scim.activated(connection.id));
  return activated
    ? { kind: "done", session, integration: choice, connectionId: connection.id, outcome: "created" }
    : { kind: "waiting", session, integration: choice, connectionId: connection.id };
}

/** How long a second submit (a double click) waits for the first one's outcome before saying the check is still running. */
const WAIT_FOR_CHECK_MS = 25_000;

/**
 * Takes the link for this submission. When another submission holds it (a double click, a second
 * tab), waits for that one's outcome instead of answering anything that may prove untrue: its
 * success, or the link open again for this one to go on.
 */
async function startSubmission(
  parts: ConnectParts,
  open: ConnectSession,
): Promise<{ kind: "started"; session: ConnectSession } | { kind: "settled"; session: ConnectSession | undefined }> {
  const deadline = Date.now() + WAIT_FOR_CHECK_MS;
  for (;;) {
    const started = await parts.sessions.begin(open.id, parts.settings.maxAttempts, CHECK_LEASE_SECONDS);
    if (started) return { kind: "started", session: started };
    const now = await parts.sessions.get(open.id);
    // Nothing to wait for: no check running, or the link closed (used, expired, out of attempts).
    const waiting = now?.checkingSince && !closedState(parts, now, true);
    if (!waiting || Date.now() >= deadline) return { kind: "settled", session: now };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The page for a submission that found the link taken: the other submission's success, still checking, or closed. */
function settledState(
  parts: ConnectParts,
  session: ConnectSession | undefined,
  slug: string | undefined,
  within = SAME_FORM_MS,
): PageState {
  if (session) {
    const integration = offeredIntegrations(parts, session).find((i) => i.slug === slug);
    const success = recentSuccess(session, Date.now(), within);
    if (integration && success) return { kind: "done", session, integration, ...success };
  }
  return closedState(parts, session) ?? { kind: "unknown" };
}

/** A page submission acts for the key that opened the link, within the session's tenant. */
const sessionCaller = (session: ConnectSession): Caller => ({
  apiKey: { id: session.createdBy ?? `connect:${session.id}`, tenantId: session.tenantId },
  signal: new AbortController().signal,
});

/** The same create and patch the admin API runs, with the session's preset config on top. */
async function link(
  parts: ConnectParts,
  session: ConnectSession,
  integration: Integration,
  credentials: Record<string, string>,
  config: Record<string, string>,
): Promise<{ connection: Connection; outcome: Outcome }> {
  const merged = { ...config, ...session.config[integration.slug] };
  if (session.connectionId) {
    const connection = await parts.connections.patch(sessionCaller(session), session.connectionId, { credentials, config: merged }, true);
    return { connection, outcome: "reconnected" };
  }
  const made = await parts.connections.create(
    sessionCaller(session),
    { tenant_id: session.tenantId, integration: integration.slug, credentials, config: merged },
    true,
    { reuse: !session.allowDuplicates },
  );
  return { connection: made.connection, outcome: made.existing ? "existing" : "created" };
}

async function announce(parts: ConnectParts, connection: Connection, outcome: "created" | "reconnected") {
  await parts.events.emit([
    {
      tenantId: connection.tenantId,
      connectionId: connection.id,
      integration: connection.integration,
      type: `connection.${outcome}`,
      version: null,
      data: parts.connections.present(connection),
    },
  ]);
}

/**
 * Why a link shows no form: unknown, used, expired, out of attempts, or (unless `submitting`,
 * which waits for it instead) another submission being checked.
 */
function closedState(parts: ConnectParts, session: ConnectSession | undefined, submitting = false): PageState | undefined {
  const closed = closedReason(session, parts.settings.maxAttempts, Date.now(), submitting);
  if (!closed) return undefined;
  return session && closed !== "unknown" ? { kind: closed, session } : { kind: "unknown" };
}

/**
 * What the page offers, in the session's order: its integrations, or every loaded one, directories
 * that push included. A reconnect offers only its connection's integration (never one that pushes).
 */
function offeredChoices(parts: ConnectParts, session: ConnectSession): Choice[] {
  const pulled = parts.connections.integrations;
  const pushed: ReadonlyMap<string, Omit<Choice, "push">> = session.connectionId ? new Map() : parts.scim.integrations;
  const slugs = session.integrations.length ? session.integrations : [...pulled.keys(), ...pushed.keys()];
  return slugs.flatMap((slug): Choice[] => {
    const read = pulled.get(slug);
    if (read) return [{ ...choiceOf(read), push: false }];
    const push = pushed.get(slug);
    return push ? [{ ...choiceOf(push), setup: push.setup, push: true }] : [];
  });
}

const choiceOf = (integration: Pick<Choice, "slug" | "name" | "description" | "translations">) => ({
  slug: integration.slug,
  name: integration.name,
  description: integration.description,
  translations: integration.translations,
});

function offeredIntegrations(parts: ConnectParts, session: ConnectSession): Integration[] {
  const slugs = session.integrations.length ? session.integrations : [...parts.connections.integrations.keys()];
  return slugs.map((slug) => parts.connections.integrations.get(slug)).filter((i): i is Integration => i !== undefined);
}

async function formState(
  parts: ConnectParts,
  session: ConnectSession,
  integration: Integration,
  canChoose: boolean,
  errors: FormError[],
  values: Record<string, string>,
): Promise<PageState> {
  const preset = session.config[integration.slug] ?? {};
  const current = session.connectionId ? (await parts.connections.find(session.connectionId))?.config : undefined;
  const fields: PageField[] = [
    ...Object.entries(integration.credentials).map(([name, field]) => pageField("credentials", name, field, undefined)),
    ...Object.entries(integration.config)
      .filter(([name]) => !(name in preset))
      .map(([name, field]) => pageField("config", name, field, values[name] ?? stringOr(current?.[name]))),
  ];
  return {
    kind: "form",
    session,
    integration,
    canChoose,
    fields,
    preset: Object.keys(preset),
    reconnect: session.connectionId !== null,
    errors,
    attemptsLeft: attemptsLeft(session, parts.settings.maxAttempts),
  };
}

const stringOr = (value: unknown) => (typeof value === "string" ? value : undefined);

function pageField(kind: PageField["kind"], name: string, field: Integration["credentials"][string], value: string | undefined): PageField {
  return {
    name,
    kind,
    label: field.label,
    description: field.description,
    helpUrl: field.help_url,
    pattern: field.pattern,
    placeholder: field.placeholder,
    translations: field.translations,
    required: field.required,
    value,
  };
}

/** The declared fields out of a posted form; anything else posted is ignored. */
function readForm(integration: Integration, session: ConnectSession, form: Record<string, string>) {
  const preset = session.config[integration.slug] ?? {};
  const errors: FormError[] = [];
  const take = (kind: PageField["kind"], fields: Integration["credentials"]) => {
    const values: Record<string, string> = {};
    for (const [name, field] of Object.entries(fields)) {
      if (kind === "config" && name in preset) continue;
      const path = `${kind}.${name}`;
      const value = (form[path] ?? "").trim();
      if (!value) {
        if (field.required) errors.push({ kind: "field", path, problem: "required", label: field.label });
      } else if (!matchesPattern(field, value)) {
        errors.push({ kind: "field", path, problem: "pattern", label: field.label });
      } else values[name] = value;
    }
    return values;
  };
  return { credentials: take("credentials", integration.credentials), config: take("config", integration.config), errors };
}

/** A failure the customer can act on, as the page shows it; undefined for anything else. */
function formErrorOf(error: unknown, integration: Integration): FormError[] | undefined {
  if (!(error instanceof Failure)) return undefined;
  if (error.code === "invalid_request" && error.extra.upstream) {
    return [{ kind: "refused", status: error.extra.upstream.status, reason: error.extra.reason ?? error.message }];
  }
  if (error.code === "conflict") return [{ kind: "other_account" }];
  if (error.code === "rate_limited") return [{ kind: "rate_limited" }];
  if (error.code === "invalid_request" && error.extra.details?.length) {
    return error.extra.details.map((detail) => {
      // A detail names its field as `credentials.<name>` or `config.<name>`.
      const [kind, ...name] = detail.path.split(".");
      const fields = kind === "credentials" ? integration.credentials : kind === "config" ? integration.config : {};
      const field = fields[name.join(".")];
      return { kind: "invalid" as const, reason: field ? `${field.label}: ${detail.message}` : detail.message };
    });
  }
  if (serverSide.has(error.code)) return [{ kind: "failed", reason: error.message }];
  return undefined;
}
