import { html, raw } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import type { Choice, FormError, PageField, PageState } from "../domain/connect/index.ts";
import { connectAssets } from "./assets.ts";
import type { Messages } from "./messages.ts";

type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

/**
 * What the page tells its opener or parent frame, and the query a redirect carries: the session,
 * the SaaS's own `state`, and the outcome. Not signed: the SaaS confirms it with
 * `GET /connect/sessions/{session_id}` (docs/connect.md).
 */
export type ConnectResult = { session_id: string; state?: string } & ({ connection_id: string; outcome: string } | { error: string });

export function resultOf(state: PageState): ConnectResult | undefined {
  if (state.kind === "unknown") return undefined;
  const of = { session_id: state.session.id, ...(state.session.state !== null && { state: state.session.state }) };
  switch (state.kind) {
    case "done":
      return { ...of, connection_id: state.connectionId, outcome: state.outcome };
    case "expired":
      return { ...of, error: "expired" };
    case "used":
      return { ...of, error: "already_used" };
    case "too_many":
      return { ...of, error: "too_many_attempts" };
    case "cancelled":
      return { ...of, error: "cancelled" };
    default:
      return undefined;
  }
}

/** `redirect_url` with the result added to its query (its own parameters kept). */
export function resultUrl(redirectUrl: string, result: ConnectResult): string {
  const url = new URL(redirectUrl);
  for (const [name, value] of Object.entries(result)) url.searchParams.set(name, value);
  return url.toString();
}

export interface PageContext {
  locale: string;
  t: Messages;
  /** The CSP nonce of this response's one style and one script. */
  nonce: string;
}

/** The whole page for a state: one HTML document, no external asset. */
export function renderConnectPage(state: PageState, context: PageContext): Html {
  const { t } = context;
  const session = state.kind === "unknown" ? undefined : state.session;
  const theme = session?.theme ?? {};
  const result = resultOf(state);
  const message = result && session?.allowedOrigins.length ? { type: "unifold:connect", ...result } : undefined;
  const title = titleOf(state, t);
  return html`<!doctype html>
    <html lang="${context.locale}" data-mode="${theme.mode ?? "auto"}">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="robots" content="noindex" />
        ${state.kind === "checking" ? html`<meta http-equiv="refresh" content="3;url=?checked" />` : ""}
        <title>${title}</title>
        <style nonce="${context.nonce}">
          ${raw(styles(theme.primary_color))}
        </style>
      </head>
      <body>
        <main class="card" aria-labelledby="title">
          ${theme.logo_data_url ? html`<img class="logo" src="${theme.logo_data_url}" alt="" />` : ""} ${body(state, t, context.locale)}
          <p class="footer">${t.secured}</p>
        </main>
        ${
          message
            ? html`<script type="application/json" id="unifold-result">
                ${raw(jsonForScript({ message, origins: session?.allowedOrigins }))}
              </script>`
            : ""
        }
        <script nonce="${context.nonce}">
          ${raw(connectAssets().script)};
        </script>
      </body>
    </html>`;
}

function titleOf(state: PageState, t: Messages): string {
  switch (state.kind) {
    case "unknown":
      return t.unknownTitle;
    case "expired":
      return t.expiredTitle;
    case "used":
      return t.usedTitle;
    case "too_many":
      return t.tooManyTitle;
    case "done":
      return t.doneTitle;
    case "cancelled":
      return t.cancelledTitle;
    case "checking":
      return t.checkingTitle;
    case "push":
      return t.connectTo(state.integration.name);
    case "push_created":
      return t.pushCreatedTitle;
    case "waiting":
      return t.waitingTitle;
    case "form":
      if (state.attemptsLeft === 0) return t.tooManyTitle;
      return (state.reconnect ? t.reconnectTo : t.connectTo)(state.integration.name);
    default:
      return t.title;
  }
}

function body(state: PageState, t: Messages, locale: string): Html {
  const title = titleOf(state, t);
  switch (state.kind) {
    case "unknown":
      return html`<h1 id="title" tabindex="-1">${title}</h1>
        <p>${t.unknown}</p>`;
    case "expired":
    case "used":
    case "too_many":
    case "cancelled": {
      const text = { expired: t.expired, used: t.used, too_many: t.tooMany, cancelled: t.cancelled }[state.kind];
      return html`<h1 id="title" tabindex="-1">${title}</h1>
        ${text ? html`<p>${text}</p>` : ""}${continueLink(state, t)}`;
    }
    case "checking":
      return html`<h1 id="title" tabindex="-1">${title}</h1>
        <p role="status">${t.checking}</p>`;
    case "done": {
      const name = state.integration.name;
      const text = state.integration.push
        ? t.pushDone
        : state.outcome === "existing"
          ? t.existing(name)
          : state.outcome === "reconnected"
            ? t.reconnected(name)
            : t.done(name);
      return html`<h1 id="title" tabindex="-1">${title}</h1>
        <p role="status">${text}</p>
        ${continueLink(state, t)}`;
    }
    case "choose":
      return html`<h1 id="title" tabindex="-1">${t.choose}</h1>
        <p class="help">${t.chooseHelp}</p>
        <ul class="choices">
          ${state.integrations.map(
            (i) =>
              html`<li>
                <a class="choice" href="?integration=${encodeURIComponent(i.slug)}"
                  ><span class="name">${i.name}</span
                  >${describe(i, locale) ? html`<span class="description">${describe(i, locale)}</span>` : ""}</a
                >
              </li>`,
          )}
        </ul>`;
    case "form":
      return form(state, t, locale);
    case "push":
      return html`<h1 id="title" tabindex="-1">${title}</h1>
        <p class="help">${t.pushIntro(state.integration.name)}</p>
        <form method="post" data-once>
          <input type="hidden" name="integration" value="${state.integration.slug}" />
          <input type="hidden" name="mode" value="redirect" />
          <div class="actions">
            <button type="submit" class="primary">${t.pushCreate}</button>
            <button type="submit" class="secondary" name="action" value="cancel">${t.cancel}</button>
          </div>
        </form>
        ${state.canChoose ? html`<p><a href="?">${t.back}</a></p>` : ""}`;
    case "push_created":
      return pushCreated(state, t, locale);
    case "waiting":
      // The client script looks again every few seconds (telling how the page was opened, so that
      // a redirect-mode page goes straight back once connected); "Check again" does it without script.
      return html`<h1 id="title" tabindex="-1">${title}</h1>
        <p role="status" data-reload-after="5000">${t.waiting}</p>
        <p><a href="?" data-keep-mode>${t.checkAgain}</a></p>`;
  }
}

/**
 * The push connection just made: its base URL and token, each with a copy button (the client
 * script shows them), and the set-up steps. The only page that ever holds the token.
 */
function pushCreated(state: Extract<PageState, { kind: "push_created" }>, t: Messages, locale: string): Html {
  const value = (id: string, label: string, text: string) =>
    html`<div class="field">
      <label for="${id}">${label}</label>
      <div class="copyable">
        <input id="${id}" type="text" readonly value="${text}" autocomplete="off" spellcheck="false" />
        <button type="button" class="secondary" data-copy="${id}" data-copied="${t.copied(label)}" aria-label="${t.copy(label)}" hidden>
          ${t.copyButton}
        </button>
      </div>
    </div>`;
  // Each identity provider's steps, in the page's language where the integration gives them.
  const steps = (state.integration.setup ?? []).map(
    (setup) =>
      html`<h2>${setup.provider}</h2>
        <ol class="steps">
          ${(setup.translations[locale]?.steps ?? setup.steps).map((step) => html`<li>${step}</li>`)}
        </ol>`,
  );
  return html`<h1 id="title" tabindex="-1">${t.pushCreatedTitle}</h1>
    <p>${t.pushCreated}</p>
    ${value("scim-base-url", t.baseUrl, state.scim.base_url)} ${value("scim-token", t.token, state.scim.token)}
    <p class="copied" id="copied" role="status"></p>
    ${steps}
    <p class="help">${t.otherProviders}</p>
    <p><a class="button" href="?" data-keep-mode>${t.pushSetUp}</a></p>`;
}

function continueLink(state: Extract<PageState, { session: unknown }>, t: Messages): Html | string {
  const result = resultOf(state);
  if (!state.session.redirectUrl || !result) return "";
  return html`<p><a class="button" href="${resultUrl(state.session.redirectUrl, result)}">${t.continue}</a></p>`;
}

function form(state: Extract<PageState, { kind: "form" }>, t: Messages, locale: string): Html {
  const name = state.integration.name;
  const fields = state.fields.map((field) => localized(field, locale));
  const labels = new Map(fields.map((field) => [`${field.kind}.${field.name}`, field.label]));
  const fieldErrors = new Map(state.errors.flatMap((e) => (e.kind === "field" ? [[e.path, e] as const] : [])));
  if (state.attemptsLeft === 0) {
    // That was the last check this link allows: why it failed, and no form to try again.
    const back = state.session.redirectUrl
      ? resultUrl(state.session.redirectUrl, resultOf({ kind: "too_many", session: state.session })!)
      : undefined;
    return html`<h1 id="title" tabindex="-1">${titleOf(state, t)}</h1>
      ${errorSummary(state.errors, name, t, labels)}
      <p>${t.tooMany}</p>
      ${back ? html`<p><a class="button" href="${back}">${t.continue}</a></p>` : ""}`;
  }
  return html`<h1 id="title" tabindex="-1">${titleOf(state, t)}</h1>
    ${state.errors.length ? errorSummary(state.errors, name, t, labels) : ""}
    <p class="help">${t.intro(name)}</p>
    <form method="post">
      <input type="hidden" name="integration" value="${state.integration.slug}" />
      <input type="hidden" name="mode" value="redirect" />
      ${fields.map((field) => fieldHtml(field, fieldErrors.get(`${field.kind}.${field.name}`), t))}
      ${state.errors.some((e) => e.kind === "refused") ? html`<p class="attempts">${t.attemptsLeft(state.attemptsLeft)}</p>` : ""}
      <div class="actions">
        <button type="submit" class="primary">${t.submit}</button>
        <button type="submit" class="secondary" name="action" value="cancel" formnovalidate>${t.cancel}</button>
      </div>
    </form>
    ${state.canChoose ? html`<p><a href="?">${t.back}</a></p>` : ""}`;
}

function errorSummary(errors: FormError[], name: string, t: Messages, labels: Map<string, string>): Html {
  return html`<div class="errors" id="errors" role="alert" tabindex="-1">
    <h2>${t.errorSummary}</h2>
    <ul>
      ${errors.map((error) => {
        switch (error.kind) {
          case "field": {
            const label = labels.get(error.path) ?? error.label;
            const text = error.problem === "required" ? t.fieldRequired(label) : t.fieldPattern(label);
            return html`<li><a href="#${idOf(error.path)}">${text}</a></li>`;
          }
          case "refused":
            return html`<li>${t.refused(name, error.status, error.reason)}</li>`;
          case "invalid":
            return html`<li>${error.reason}</li>`;
          case "other_account":
            return html`<li>${t.otherAccount(name)}</li>`;
          case "rate_limited":
            return html`<li>${t.rateLimited(name)}</li>`;
          case "failed":
            return html`<li>${t.failed(name, error.reason)}</li>`;
        }
      })}
    </ul>
  </div>`;
}

/** A field's words in the page's language, where the integration gives them; English otherwise. */
function localized(field: PageField, locale: string): PageField {
  const words = field.translations[locale] ?? {};
  return {
    ...field,
    label: words.label ?? field.label,
    description: words.description ?? field.description,
    placeholder: words.placeholder ?? field.placeholder,
  };
}

/** An integration's description in the page's language, where it gives one. */
const describe = (integration: Choice, locale: string) => integration.translations[locale]?.description ?? integration.description;

const idOf = (path: string) => `f-${path.replace(/\./g, "-")}`;

function fieldHtml(field: PageField, error: Extract<FormError, { kind: "field" }> | undefined, t: Messages): Html {
  const id = idOf(`${field.kind}.${field.name}`);
  const described = [field.description || field.helpUrl ? `${id}-help` : "", error ? `${id}-error` : ""].filter(Boolean).join(" ");
  const secret = field.kind === "credentials";
  return html`<div class="field${error ? " invalid" : ""}">
    <label for="${id}">${field.label} <span class="tag">(${field.required ? t.required : t.optional})</span></label>
    ${
      field.description || field.helpUrl
        ? html`<p class="help" id="${id}-help">
            ${field.description ?? ""}${
              field.helpUrl ? html` <a href="${field.helpUrl}" target="_blank" rel="noopener noreferrer">${t.whereToFind}</a>` : ""
            }
          </p>`
        : ""
    }
    ${error ? html`<p class="field-error" id="${id}-error">${error.problem === "required" ? t.fieldRequired(field.label) : t.fieldPattern(field.label)}</p>` : ""}
    <input
      id="${id}"
      name="${field.kind}.${field.name}"
      type="${secret ? "password" : "text"}"
      ${raw(
        secret ? 'autocomplete="off" spellcheck="false"' : 'autocomplete="off"',
      )}${field.required ? raw(" required") : ""}${field.pattern ? html` pattern="${field.pattern}"` : ""}${
        field.placeholder ? html` placeholder="${field.placeholder}"` : ""
      }${described ? html` aria-describedby="${described}"` : ""}${error ? raw(' aria-invalid="true"') : ""}${
        !secret && field.value ? html` value="${field.value}"` : ""
      }
    />
  </div>`;
}

/** JSON inside a script element: `<` escaped so the data cannot close the element. */
function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c");
}

/**
 * The page's stylesheet: a :root rule with the primary colour, on buttons with a text colour that
 * keeps 4.5:1 contrast, then page.css. The colour is a #rrggbb the session's schema checked.
 */
function styles(primary: string | undefined): string {
  const color = primary ?? "#3451b2";
  const onPrimary = contrastOf(color, "#ffffff") >= contrastOf(color, "#111111") ? "#ffffff" : "#111111";
  return `:root{--primary:${color};--on-primary:${onPrimary}}\n${connectAssets().css}`;
}

/** WCAG contrast ratio of two #rrggbb colours. */
function contrastOf(a: string, b: string): number {
  const luminance = (hex: string) => {
    const [r, g, bl] = [1, 3, 5].map((i) => {
      const c = Number.parseInt(hex.slice(i, i + 2), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    }) as [number, number, number];
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p) as [number, number];
  return (x + 0.05) / (y + 0.05);
}
