import type { ConnectSession } from "@unifold/db";

/*
 * When a connect link may still be used, and what it says when it may not: the rules alone, on
 * a session as read and the time `now` (ms), so they are tested without a page or a clock.
 * connect.ts applies them; the single use itself is taken in one statement (sessions.begin).
 */

/** How long a check may hold a link before another submission may take it over (a process that died mid-check). */
export const CHECK_LEASE_SECONDS = 120;
/** A submit this soon after the link's success is the same form again (a double click): it is told that success. */
export const SAME_FORM_MS = 10_000;
/** How long after a check ended the checking page, looking again, is still told its result. */
export const AFTER_CHECK_MS = 5 * 60_000;

export type Outcome = "created" | "existing" | "reconnected";

/** Why a link shows no form. */
export type Closed = "unknown" | "checking" | "used" | "expired" | "too_many";

export const isOutcome = (value: string | null | undefined): value is Outcome =>
  value === "created" || value === "existing" || value === "reconnected";

/**
 * Why a link shows no form: unknown, used, expired, out of attempts, or (unless `submitting`,
 * which waits for it instead) another submission being checked within its lease. Undefined
 * while the link is open.
 */
export function closedReason(
  session: ConnectSession | undefined,
  maxAttempts: number,
  now: number,
  submitting = false,
): Closed | undefined {
  if (!session) return "unknown";
  const checking = session.checkingSince && now - session.checkingSince.getTime() < CHECK_LEASE_SECONDS * 1000;
  if (checking && !session.usedAt && !submitting) return "checking";
  if (session.usedAt) return "used";
  if (session.expiresAt.getTime() <= now) return "expired";
  if (session.attempts >= maxAttempts) return "too_many";
  return undefined;
}

/** Submissions the vendor may still be asked to check on this link. */
export const attemptsLeft = (session: ConnectSession, maxAttempts: number) => Math.max(0, maxAttempts - session.attempts);

/**
 * The link's success, for a submission that found it taken: told only when the link made a
 * connection at most `within` ms before `now` (a double click, the checking page looking again).
 */
export function recentSuccess(
  session: ConnectSession,
  now: number,
  within: number,
): { connectionId: string; outcome: Outcome } | undefined {
  const { usedAt, resultConnectionId, resultOutcome } = session;
  if (!usedAt || !resultConnectionId || !isOutcome(resultOutcome)) return undefined;
  return now - usedAt.getTime() <= within ? { connectionId: resultConnectionId, outcome: resultOutcome } : undefined;
}

/**
 * Where a session stands for its SaaS (`GET /connect/sessions/{id}`): a push connection waiting
 * for its identity provider, connected, or why it is closed; else open.
 */
export function sessionStatus(session: ConnectSession, closed: Closed | undefined, waiting: boolean) {
  if (waiting) return "waiting";
  if (session.usedAt && session.resultConnectionId) return "connected";
  if (closed === "checking") return "checking";
  if (closed === "too_many") return "too_many_attempts";
  if (closed === "expired") return "expired";
  return "open";
}

/** The origins a session may be framed by and post its result to, each as its bare origin. */
export const exactOrigins = (origins: string[]) => origins.map((origin) => new URL(origin).origin);

/**
 * The page's framing and form targets (its Content-Security-Policy): only the session's allowed
 * origins may frame it (none without a session or a list), and a form may post on to its
 * redirect URL's origin only.
 */
export function pagePolicy(session: ConnectSession | undefined): { frameAncestors: string; formTarget: string } {
  return {
    frameAncestors: session?.allowedOrigins.length ? session.allowedOrigins.join(" ") : "'none'",
    formTarget: session?.redirectUrl ? new URL(session.redirectUrl).origin : "",
  };
}
