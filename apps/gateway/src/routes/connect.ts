import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { ConnectSession } from "@unifold/db";
import type { Context, MiddlewareHandler } from "hono";
import { csrf } from "hono/csrf";
import { HTTPException } from "hono/http-exception";
import { languageDetector } from "hono/language";
import { NONCE, secureHeaders } from "hono/secure-headers";
import { type Locale, locales, messages } from "../connect/messages.ts";
import { renderConnectPage, resultOf, resultUrl } from "../connect/page.ts";
import { createConnectSession, openConnectPage, type PageState, submitConnectForm } from "../domain/connect.ts";
import { isHttpUrl } from "../domain/connections.ts";
import { ApiError } from "../errors.ts";
import { type AppEnv, depsOf } from "../http/env.ts";
import { requireScope } from "../middleware/auth.ts";
import { commonErrors, ErrorSchema, json, tenantOfKey } from "../schemas.ts";

const httpUrl = (what: string) => z.string().max(2048).refine(isHttpUrl, `must be an absolute http or https ${what}`);

const origin = httpUrl("origin").refine((value) => {
  const url = new URL(value);
  return url.pathname === "/" && !url.search && !url.hash && !value.endsWith("/");
}, "must be an origin: scheme, host and port only (https://app.example.com)");

const CreateSessionBody = z
  .object({
    tenant_id: tenantOfKey,
    integrations: z.array(z.string().min(1).max(100)).max(50).optional().openapi({ description: "Offered on the page; all by default." }),
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
    redirect_url: httpUrl("URL")
      .optional()
      .openapi({ description: "Where the browser goes afterwards, with `connection_id` and `outcome`, or `error`, added to the query." }),
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
    token: z.string().openapi({ description: "Single use; shown once, stored hashed." }),
    url: z.string().openapi({ description: "The hosted page to send the customer to." }),
    expires_at: z.string(),
    tenant_id: z.string(),
  })
  .openapi("ConnectSession");

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
      const base = c.get("services").connect.publicUrl ?? new URL(c.req.url).origin;
      const made = await createConnectSession(depsOf(c), c.req.valid("json"), base);
      return c.json({ token: made.token, url: made.url, expires_at: made.expires_at, tenant_id: made.session.tenantId }, 201);
    },
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
    request: { params: TokenParam, query: z.object({ integration: z.string().optional() }) },
    responses: {
      200: htmlPage("The choice of integration, or its form"),
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
  app.use(page, languageDetector({ supportedLanguages: [...locales], fallbackLanguage: "en", order: ["header"], caches: false }));
  // A form posted from another site is refused: Sec-Fetch-Site must say same-origin, or (older
  // browsers) Origin must be this gateway, as the request reached it or as UNIFOLD_PUBLIC_URL
  // names it (behind a TLS-terminating proxy the two differ).
  const sameOrigin = csrf({
    origin: (origin, c) => {
      const publicUrl = (c as Context<AppEnv>).get("services").connect.publicUrl;
      return origin === new URL(c.req.url).origin || (publicUrl !== undefined && origin === new URL(publicUrl).origin);
    },
  });
  app.use(page, async (c, next) => {
    try {
      await sameOrigin(c, next);
    } catch (error) {
      if (error instanceof HTTPException && error.status === 403)
        throw new ApiError("forbidden", "the connect form can only be posted from its own page");
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
    return show(c, await openConnectPage(c.get("services"), c.get("connectSession"), integration));
  });

  app.post(page, async (c) => {
    const body = await c.req.parseBody();
    const form = Object.fromEntries(Object.entries(body).flatMap(([name, value]) => (typeof value === "string" ? [[name, value]] : [])));
    const state = await submitConnectForm(c.get("services"), c.get("connectSession"), form);
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
  const session = await c.get("services").connectSessions.byToken(c.req.param("token") ?? "");
  c.set("connectSession", session);
  c.set("connectPolicy", {
    frameAncestors: session?.allowedOrigins.length ? session.allowedOrigins.join(" ") : "'none'",
    formTarget: session?.redirectUrl ? new URL(session.redirectUrl).origin : "",
  });
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
