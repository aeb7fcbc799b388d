import type { ConnectSession } from "@unifold/db";
import { describe, expect, it } from "vitest";
import {
  AFTER_CHECK_MS,
  attemptsLeft,
  CHECK_LEASE_SECONDS,
  closedReason,
  exactOrigins,
  pagePolicy,
  recentSuccess,
  SAME_FORM_MS,
  sessionStatus,
} from "../src/domain/connect/rules.ts";

/*
 * When a connect link may be used, on a session as read and a given time: the rules the page and
 * GET /connect/sessions/{id} apply. connect.test.ts and connect.hostile.test.ts show them through
 * the page; here each edge is named with an exact clock.
 */
const now = Date.parse("2026-06-01T12:00:00Z");
const at = (ms: number) => new Date(now + ms);
const session = (over: Partial<ConnectSession> = {}): ConnectSession => ({
  id: "7f1e8a52-4b0c-4b1e-9a51-2c7d1f0e3a11",
  tokenHash: "hash",
  tenantId: "acme",
  integrations: [],
  config: {},
  connectionId: null,
  redirectUrl: null,
  allowedOrigins: [],
  locale: null,
  theme: {},
  allowDuplicates: false,
  attempts: 0,
  createdBy: null,
  createdAt: at(-60_000),
  expiresAt: at(30 * 60_000),
  usedAt: null,
  resultConnectionId: null,
  resultOutcome: null,
  checkingSince: null,
  state: null,
  ...over,
});
const connected = { usedAt: at(-1_000), resultConnectionId: "c0ffee00-0000-4000-8000-000000000001", resultOutcome: "created" };

describe("when a connect link is closed", () => {
  it("an open link (unused, unexpired, under the attempt limit, not being checked) shows its form", () => {
    expect(closedReason(session(), 5, now)).toBeUndefined();
    expect(closedReason(session({ attempts: 4 }), 5, now)).toBeUndefined();
  });

  it("no session is an unknown link", () => {
    expect(closedReason(undefined, 5, now)).toBe("unknown");
  });

  it("a used link is used: single use, even before it expires", () => {
    expect(closedReason(session(connected), 5, now)).toBe("used");
    expect(closedReason(session(connected), 5, now, true)).toBe("used");
  });

  it("expires at its expiry time, not a millisecond later", () => {
    expect(closedReason(session({ expiresAt: at(1) }), 5, now)).toBeUndefined();
    expect(closedReason(session({ expiresAt: at(0) }), 5, now)).toBe("expired");
    expect(closedReason(session({ expiresAt: at(-1) }), 5, now, true)).toBe("expired");
  });

  it("closes when the refused attempts reach the limit", () => {
    expect(closedReason(session({ attempts: 5 }), 5, now)).toBe("too_many");
    expect(closedReason(session({ attempts: 6 }), 5, now, true)).toBe("too_many");
    expect(closedReason(session({ attempts: 1 }), 1, now)).toBe("too_many");
  });

  it("being checked, it shows the checking page to a visitor, but a submission waits for that check", () => {
    const checking = session({ checkingSince: at(-1_000) });
    expect(closedReason(checking, 5, now)).toBe("checking");
    expect(closedReason(checking, 5, now, true)).toBeUndefined();
    // A check and its success: the success is what counts.
    expect(closedReason(session({ ...connected, checkingSince: at(-1_000) }), 5, now)).toBe("used");
    // Checking a link that expired meanwhile: the visitor still sees the check it waits for.
    expect(closedReason(session({ checkingSince: at(-1_000), expiresAt: at(-1) }), 5, now)).toBe("checking");
  });

  it("a check older than its lease (a process that died) no longer holds the link", () => {
    const lease = CHECK_LEASE_SECONDS * 1000;
    expect(closedReason(session({ checkingSince: at(-lease + 1) }), 5, now)).toBe("checking");
    expect(closedReason(session({ checkingSince: at(-lease) }), 5, now)).toBeUndefined();
    expect(closedReason(session({ checkingSince: at(-lease), attempts: 5 }), 5, now)).toBe("too_many");
  });
});

describe("what a link tells", () => {
  it("the attempts left, never below none", () => {
    expect(attemptsLeft(session(), 5)).toBe(5);
    expect(attemptsLeft(session({ attempts: 3 }), 5)).toBe(2);
    expect(attemptsLeft(session({ attempts: 7 }), 5)).toBe(0);
  });

  it("its success to a second submit within the window, and only then", () => {
    const used = session({ ...connected, usedAt: at(-SAME_FORM_MS) });
    expect(recentSuccess(used, now, SAME_FORM_MS)).toEqual({ connectionId: connected.resultConnectionId, outcome: "created" });
    expect(recentSuccess(session({ ...connected, usedAt: at(-SAME_FORM_MS - 1) }), now, SAME_FORM_MS)).toBeUndefined();
    expect(recentSuccess(session({ ...connected, usedAt: at(-SAME_FORM_MS - 1) }), now, AFTER_CHECK_MS)).toMatchObject({
      outcome: "created",
    });
    for (const outcome of ["existing", "reconnected"])
      expect(recentSuccess(session({ ...connected, resultOutcome: outcome }), now, SAME_FORM_MS)).toMatchObject({ outcome });
  });

  it("no success for a link that made no connection", () => {
    expect(recentSuccess(session(), now, SAME_FORM_MS)).toBeUndefined();
    expect(recentSuccess(session({ ...connected, usedAt: null }), now, SAME_FORM_MS)).toBeUndefined();
    expect(recentSuccess(session({ ...connected, resultConnectionId: null }), now, SAME_FORM_MS)).toBeUndefined();
    expect(recentSuccess(session({ ...connected, resultOutcome: "bogus" }), now, SAME_FORM_MS)).toBeUndefined();
    expect(recentSuccess(session({ ...connected, resultOutcome: null }), now, SAME_FORM_MS)).toBeUndefined();
  });

  it("its status to the SaaS", () => {
    expect(sessionStatus(session(), undefined, false)).toBe("open");
    expect(sessionStatus(session(connected), "used", false)).toBe("connected");
    expect(sessionStatus(session(connected), "used", true)).toBe("waiting");
    expect(sessionStatus(session(), "checking", false)).toBe("checking");
    expect(sessionStatus(session({ attempts: 5 }), "too_many", false)).toBe("too_many_attempts");
    expect(sessionStatus(session(), "expired", false)).toBe("expired");
    // Used without a connection recorded (not something a session reaches today): not "connected".
    expect(sessionStatus(session({ usedAt: at(-1) }), "used", false)).toBe("open");
  });
});

describe("where a link's page may be framed and its form may go", () => {
  it("keeps only each allowed origin, nothing of a path or a default port", () => {
    expect(exactOrigins(["https://app.example.com", "https://app.example.com:443", "http://localhost:3000"])).toEqual([
      "https://app.example.com",
      "https://app.example.com",
      "http://localhost:3000",
    ]);
    expect(exactOrigins([])).toEqual([]);
  });

  it("framed by none unless the session allows origins; then by those only", () => {
    expect(pagePolicy(undefined)).toEqual({ frameAncestors: "'none'", formTarget: "" });
    expect(pagePolicy(session())).toEqual({ frameAncestors: "'none'", formTarget: "" });
    expect(pagePolicy(session({ allowedOrigins: ["https://a.example", "https://b.example:8443"] })).frameAncestors).toBe(
      "https://a.example https://b.example:8443",
    );
  });

  it("the form may post on to the redirect URL's origin only, not its path or query", () => {
    expect(pagePolicy(session({ redirectUrl: "https://app.example.com/connected?x=1" })).formTarget).toBe("https://app.example.com");
  });
});
