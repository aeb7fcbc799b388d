import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { ConnectSession } from "@unifold/db";
import type { HttpBindings } from "@hono/node-server";
import type { Context, MiddlewareHandler } from "hono";
import { csrf } from "hono/csrf";
import { HTTPException } from "hono/http-exception";
import { languageDetector } from "hono/language";
import { NONCE, secureHeaders } from "hono/secure-headers";
import { type Locale, locales, messages } from "../connect/messages.ts";
import { renderConnectPage, resultOf, resultUrl } from "../connect/page.ts";
import { type PageState, pagePolicy } from "../domain/connect/index.ts";
import { isHttpUrl } from "../domain/connections/index.ts";
import { Failure } from "../domain/failure.ts";
import { type AppEnv, callerOf } from "../http/env.ts";
import { publicOrigin } from "../http/origin.ts";
import { requireScope } from "../middleware/auth.ts";
import { commonErrors, ErrorSchema, IdParam, json, tenantOfKey } from "../schemas.ts";

const httpUrl = (what: string) => z.string().max(2048).refine(isHttpUrl, `must be an absolute http or https ${what}`);

// Written into the page's Content-Security-Policy: only an exact origin, nothing a header or a
// wildcard could make more of.
const ORIGIN =
  /^https?:\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*)(:\d{1,5})?$/;
const isExactOrigin = (value: string) => {
  if (!ORIGIN.test(value)) return false;
  try {
    return new URL(value).origin !== "null";
  } catch {
    return false;
  }
};
const origin = z
  .string()
  .max(2048)
  .refine(
    isExactOrigin,
    "must be an exact origin: http or https, a host and an optional port (https://app.example.com); no path, wildcard or user",
  );

const CreateSessionBody = z
  .object({
    tenant_id: tenantOfKey,
    integrations: z
      .array(z.string().min(1).max(100))
      .max(50)
      .superRefine((slugs, ctx) => {
        slugs.forEach((slug, i) => {
          if (slugs.indexOf(slug) !== i) ctx.addIssue({ code: "custom", path: [i], message: `${slug} is listed twice` });
        });
      })
      .optional()
      .openapi({ description: "Offered on the page; all by default." }),
    config: z
      .record(z.string(), z.record(z.string(), z.string().max(2048)))
      .optional()
      .openapi({
        description: "Preset config per integration slug (`{slug: {field: value}}`), applied to the connection and not shown for editing.",
      }),
    connection_id: z
      .string()
      .uuid()
      .optional()
      .openapi({ description: "Reconnect: this connection's credentials are replaced, its id kept." }),
    redirect_url: httpUrl("URL").optional().openapi({
      description:
        "Where the browser goes afterwards, with `session_id`, `state` (when given) and `connection_id` and `outcome`, or `error`, added to the query.",
    }),
    state: z.string().min(1).max(512).optional().openapi({
      description:
        "Your own value (bind it to the user's browser session), handed back unchanged with the result. The result is not signed: confirm it with `GET /connect/sessions/{id}`.",
    }),
    allowed_origins: z
      .array(origin)
      .max(20)
      .optional()
      .openapi({ description: "Origins that may frame the page and receive its postMessage result; none by default." }),
    locale: z.enum(locales).optional().openapi({ description: "The page's language; else the browser's Accept-Language." }),
    theme: z
      .object({
        primary_color: z
          .string()
          .regex(/^#[0-9a-fA-F]{6}$/, "must be a #rrggbb colour")
          .optional(),
        mode: z.enum(["light", "dark", "auto"]).optional(),
        logo_data_url: z
          .string()
          .max(200_000)
          .regex(
            /^data:image\/(png|jpeg|gif|webp|svg\+xml);base64,[A-Za-z0-9+/]+=*$/,
            "must be a base64 data: URL of a PNG, JPEG, GIF, WebP or SVG image",
          )
          .optional(),
      })
      .strict()
      .optional(),
    ttl_seconds: z
      .number()
      .int()
      .min(60)
      .max(86_400)
      .optional()
      .openapi({ description: "How long the link works: 60 s to 24 h; 30 min by default." }),
    allow_duplicates: z
      .boolean()
      .optional()
      .openapi({ description: "Create a new connection even when this account is already connected." }),
  })
  .strict()
  .openapi("CreateConnectSession");

const ConnectSessionSchema = z
  .object({
    id: z.string().uuid().openapi({ description: "The session, as the result names it (`session_id`)." }),
    token: z.string().openapi({ description: "Single use; shown once, stored hashed." }),
    url: z.string().openapi({ description: "The hosted page to send the customer to." }),
    expires_at: z.string(),
    tenant_id: z.string(),
  })
  .openapi("ConnectSession");

const ConnectSessionStatusSchema = z
  .object({
    id: z.string().uuid(),
    tenant_id: z.string(),
    status: z.enum(["open", "checking", "waiting", "connected", "expired", "too_many_attempts"]).openapi({
      description:
        "`waiting`: a directory that pushes (SCIM) was connected and its identity provider has not called yet; `connected` once it has.",
    }),
    state: z.string().nullable(),
    connection_id: z.string().uuid().nullable().openapi({ description: "Set once `connected`." }),
    outcome: z.enum(["created", "existing", "reconnected"]).nullable(),
    attempts: z.number().int().openapi({ description: "Submissions the vendor refused." }),
    expires_at: z.string(),
  })
  .openapi("ConnectSessionStatus");

const TOKEN = "{ucs_[A-Za-z0-9_-]{43}}";

export function registerConnect(app: OpenAPIHono<AppEnv>) {
  app.openapi(
    createRoute({
      method: "post",
      path: "/connect/sessions",
      tags: ["Connect"],
      summary: "Open a hosted page where a customer connects their own account",
      middleware: [requireScope("api")],
      request: { body: { content: { "application/json": { schema: CreateSessionBody } }, required: true } },
      responses: { 201: json(ConnectSessionSchema, "The link to send the customer"), ...commonErrors },
    }),
    async (c) => {
      const made = await c.get("services").connect.createSession(callerOf(c), c.req.valid("json"), publicOrigin(c));
      const { session } = made;
      return c.json({ id: session.id, token: made.token, url: made.url, expires_at: made.expires_at, tenant_id: session.tenantId }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/connect/sessions/{id}",
      tags: ["Connect"],
      summary: "Get a connect session: where it stands, and its result (confirms what a redirect said)",
      middleware: [requireScope("api")],
      request: { params: IdParam },
      responses: { 200: json(ConnectSessionStatusSchema, "The session"), ...commonErrors },
    }),
    async (c) => c.json(await c.get("services").connect.sessionStatus(callerOf(c), c.req.valid("param").id), 200),
  );

  // The page itself is HTML for browsers, outside the JSON API; documented so the link's target is known.
  const page = `/connect/:token${TOKEN}`;
  const TokenParam = z.object({ token: z.string().openapi({ description: "The session's token (`ucs_…`), as in its `url`." }) });
  const htmlPage = (description: string) => ({ description, content: { "text/html": { schema: z.string() } } });
  app.openAPIRegistry.registerPath({
    method: "get",
    path: "/connect/{token}",
    tags: ["Connect"],
    summary: "The hosted connect page (HTML, for the customer's browser; no API key)",
    security: [],
    request: {
      params: TokenParam,
      query: z.object({
        integration: z.string().optional(),
        mode: z.enum(["redirect", "popup", "iframe"]).optional().openapi({
          description: "How the page was opened (set by its script): a connected page in redirect mode goes back to `redirect_url`.",
        }),
      }),
    },
    responses: {
      200: htmlPage("The choice of integration, or its form"),
      303: { description: "Back to `redirect_url` with the result: a directory that pushes, connected, in redirect mode" },
      404: htmlPage("No such link"),
      410: htmlPage("The link expired, was used, or saw too many attempts"),
    },
  });
  app.openAPIRegistry.registerPath({
    method: "post",
    path: "/connect/{token}",
    tags: ["Connect"],
    summary: "Submit the connect form (posted by the page itself; cross-site posts are refused)",
    security: [],
    request: {
      params: TokenParam,
      body: {
        content: {
          "application/x-www-form-urlencoded": {
            schema: z.object({
              integration: z.string(),
              mode: z.enum(["redirect", "popup", "iframe"]).optional(),
              action: z.enum(["cancel"]).optional(),
            }),
          },
        },
      },
    },
    responses: {
      200: htmlPage("The form with what to fix, or the result page (popup and iframe modes)"),
      303: { description: "Back to `redirect_url` with `connection_id` and `outcome`, or `error`" },
      403: { description: "Posted from another site", content: { "application/json": { schema: ErrorSchema } } },
      410: htmlPage("The link expired, was used, or saw too many attempts"),
    },
  });
  app.use(page, clientLimit);
  app.use(page, languageDetector({ supportedLanguages: [...locales], fallbackLanguage: "en", order: ["header"], caches: false }));
  // A form posted from another site is refused: Sec-Fetch-Site must say same-origin, or (older
  // browsers) Origin must be this gateway, as the request reached it or as UNIFOLD_PUBLIC_URL
  // names it (behind a TLS-terminating proxy the two differ).
  const sameOrigin = csrf({
    origin: (origin, c) => origin === new URL(c.req.url).origin || origin === new URL(publicOrigin(c as Context<AppEnv>)).origin,
  });
  app.use(page, async (c, next) => {
    try {
      await sameOrigin(c, next);
    } catch (error) {
      if (error instanceof HTTPException && error.status === 403)
        throw new Failure("forbidden", "the connect form can only be posted from its own page");
      throw error;
    }
  });
  app.use(page, loadSession);
  app.use(
    page,
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'none'"],
        scriptSrc: [NONCE],
        styleSrc: [NONCE],
        imgSrc: ["data:"],
        baseUri: ["'none'"],
        // Chromium applies form-action to the redirect after a post too: the redirect_url's origin is listed.
        formAction: ["'self'", (c) => c.get("connectPolicy")?.formTarget ?? ""],
        // Only the session's allowed origins may frame the page.
        frameAncestors: [(c) => c.get("connectPolicy")?.frameAncestors ?? "'none'"],
      },
      xFrameOptions: false,
      // A popup keeps its opener, so the result can be posted back to it.
      crossOriginOpenerPolicy: false,
      referrerPolicy: "no-referrer",
    }),
  );

  app.get(page, async (c) => {
    const integration = c.req.query("integration");
    // `checked`: the "Checking your details" page looking again; it is shown that check's result.
    const afterCheck = c.req.query("checked") !== undefined;
    const state = await c.get("services").connect.openPage(c.get("connectSession"), integration, afterCheck);
    // A directory that pushes, connected while its page waited (the page's script says it was
    // opened in redirect mode): straight back to the SaaS, as a form's success is.
    const result = state.kind === "done" ? resultOf(state) : undefined;
    if (result && state.kind === "done" && state.session.redirectUrl && c.req.query("mode") === "redirect") {
      c.header("cache-control", "no-store");
      return c.redirect(resultUrl(state.session.redirectUrl, result), 303);
    }
    return show(c, state);
  });

  app.post(page, async (c) => {
    const body = await c.req.parseBody();
    const form = Object.fromEntries(Object.entries(body).flatMap(([name, value]) => (typeof value === "string" ? [[name, value]] : [])));
    const state = await c.get("services").connect.submit(c.get("connectSession"), form, publicOrigin(c));
    const result = resultOf(state);
    const redirectUrl = "session" in state ? state.session.redirectUrl : null;
    // Redirect mode (the default, and the one that works on mobile and without popups): straight back to the SaaS.
    if (result && redirectUrl && (form.mode ?? "redirect") === "redirect") {
      c.header("cache-control", "no-store");
      return c.redirect(resultUrl(redirectUrl, result), 303);
    }
    return show(c, state);
  });
}

const lastOf = (header: string | undefined) => header?.split(",").at(-1)?.trim() || undefined;

/**
 * The client's address: behind a trusted proxy, the last X-Forwarded-For entry (the one that
 * proxy added; earlier ones are the client's to write), else the socket's peer.
 */
function clientAddress(c: Context<AppEnv>): string {
  const forwarded = c.get("services").connect.settings.trustProxy ? lastOf(c.req.header("x-forwarded-for")) : undefined;
  return forwarded ?? (c.env as HttpBindings | undefined)?.incoming?.socket?.remoteAddress ?? "unknown";
}

/** UNIFOLD_CONNECT_RATE_LIMIT: the page takes no API key, so each client address is limited instead. */
const clientLimit: MiddlewareHandler<AppEnv> = async (c, next) => {
  const limit = c.get("services").access.limits.connectClients;
  if (limit) {
    const taken = await limit.take(clientAddress(c));
    if (!taken.allowed) {
      c.get("services").platform.metrics.rateLimited.inc({ cause: "connect_client" });
      throw new Failure(
        "rate_limited",
        `too many requests to the connect page from this address; retry in ${Math.ceil(taken.waitMs / 1000)} s`,
        {
          headers: { "retry-after": String(Math.ceil(taken.waitMs / 1000)) },
        },
      );
    }
  }
  await next();
};

declare module "hono" {
  interface ContextVariableMap {
    connectPolicy?: { frameAncestors: string; formTarget: string };
    connectSession?: ConnectSession | undefined;
  }
}

/**
 * Reads the link's session once per request: the page is built from it, and its framing and
 * redirect origins go into the security headers, which are computed before the handler runs.
 */
const loadSession: MiddlewareHandler<AppEnv> = async (c, next) => {
  const session = await c.get("services").connect.byToken(c.req.param("token") ?? "");
  c.set("connectSession", session);
  c.set("connectPolicy", pagePolicy(session));
  await next();
};

function show(c: Context<AppEnv>, state: PageState) {
  const session = state.kind === "unknown" ? undefined : state.session;
  const locale = (session?.locale ?? c.get("language") ?? "en") as Locale;
  const status =
    state.kind === "unknown" ? 404 : state.kind === "expired" || state.kind === "used" || state.kind === "too_many" ? 410 : 200;
  c.header("cache-control", "no-store");
  c.header("content-language", locale);
  const nonce = c.get("secureHeadersNonce") ?? "";
  return c.html(renderConnectPage(state, { locale, t: messages[locale], nonce }), status);
}
