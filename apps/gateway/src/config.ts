import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";

const defaultMappingsDir = fileURLToPath(new URL("../../../mappings", import.meta.url));
// `npm start` runs inside apps/gateway; relative paths mean where the user typed the command.
const fromInvocation = (path: string) => resolve(process.env.INIT_CWD ?? process.cwd(), path);

/** A comma-separated list of host names (`api.example.com`, `*.example.com`). */
const hostList = z
  .string()
  .optional()
  .transform((v) =>
    v
      ?.split(",")
      .map((h) => h.trim())
      .filter(Boolean),
  );

const schema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  // Loopback unless opened on purpose (the Docker image sets 0.0.0.0): a first start prints an admin key.
  HOST: z.string().default("127.0.0.1"),
  // How long after listening the job queue's workers start (syncs, webhook deliveries).
  UNIFOLD_WORKERS_DELAY_MS: z.coerce.number().int().min(0).max(60_000).default(1_000),
  DATABASE_URL: z.string().url().optional(),
  // Prepared statements on the Postgres server; "false" behind a pooler in transaction mode that cannot keep them.
  UNIFOLD_DATABASE_PREPARE: z
    .enum(["true", "false"])
    .default("true")
    .transform((v) => v === "true"),
  UNIFOLD_DATA_DIR: z.string().default("./.unifold").transform(fromInvocation),
  // The embedded database's buffer cache: small, since the OS caches its files as well.
  UNIFOLD_PGLITE_SHARED_BUFFERS: z
    .string()
    .regex(/^\d+(kB|MB|GB)$/, "must be a size such as 16MB")
    .default("4MB"),
  UNIFOLD_ENCRYPTION_KEYS: z.string().optional(),
  // Shared limits for several instances: Redis when set, else the Postgres of DATABASE_URL.
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, "must be a redis:// or rediss:// URL")
    .optional(),
  // "false" keeps the limits in this process even on a Postgres server: for a single instance.
  UNIFOLD_SHARED_LIMITS: z
    .enum(["true", "false"])
    .default("true")
    .transform((v) => v === "true"),
  UNIFOLD_ADMIN_KEY: z
    .string()
    .regex(/^ufk_[A-Za-z0-9_-]{43}$/, "must look like ufk_ followed by 43 base64url characters")
    .optional(),
  UNIFOLD_MAPPINGS_DIR: z.string().default(defaultMappingsDir).transform(fromInvocation),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  UNIFOLD_UPSTREAM_CONNECT_TIMEOUT_MS: z.coerce.number().int().positive().default(5_000),
  UNIFOLD_UPSTREAM_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
  // The largest upstream body read; a larger one is a 502 upstream_too_large, and memory stays bounded.
  UNIFOLD_UPSTREAM_MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(10 * 1024 * 1024),
  // Loopback and private upstream addresses are refused unless allowed (the sandbox and tests need them).
  UNIFOLD_ALLOW_PRIVATE_UPSTREAMS: z
    .enum(["true", "false"])
    .default("false")
    .transform((v) => v === "true"),
  UNIFOLD_UPSTREAM_ALLOWED_HOSTS: hostList,
  // Hosts webhook receivers may be on; UNIFOLD_UPSTREAM_ALLOWED_HOSTS applies when unset.
  UNIFOLD_WEBHOOK_ALLOWED_HOSTS: hostList,
  // Pace each connection within its integration's published rate_limit.
  UNIFOLD_ENFORCE_VENDOR_RATE_LIMITS: z
    .enum(["true", "false"])
    .default("true")
    .transform((v) => v === "true"),
  UNIFOLD_UPSTREAM_CONCURRENCY: z.coerce.number().int().positive().default(10),
  // Requests per minute one API key may make (a burst of as many, refilled evenly); 0 turns the limit off.
  UNIFOLD_API_KEY_RATE_LIMIT: z.coerce.number().int().nonnegative().default(6_000),
  UNIFOLD_UPSTREAM_RETRIES: z.coerce.number().int().min(0).max(10).default(2),
  UNIFOLD_RETRY_AFTER_CAP_MS: z.coerce.number().int().nonnegative().default(5_000),
  // How long API keys and connections read from the database are reused; writes through this process apply at once.
  UNIFOLD_CACHE_TTL_MS: z.coerce.number().int().nonnegative().default(5_000),
  // How long a client may take to send its request headers, and its whole request.
  UNIFOLD_CLIENT_HEADERS_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  UNIFOLD_CLIENT_REQUEST_TIMEOUT_MS: z.coerce.number().int().positive().default(60_000),
  // How long an Idempotency-Key stays claimed by a request that has not answered; past it, a repeat takes it over.
  UNIFOLD_IDEMPOTENCY_LEASE_MS: z.coerce.number().int().positive().default(120_000),
  // Syncs and webhooks (README "Keep your copy in sync").
  UNIFOLD_EVENT_RETENTION_DAYS: z.coerce.number().int().positive().default(30),
  UNIFOLD_WEBHOOK_RETRY_DELAY_S: z.coerce.number().int().positive().default(30),
  UNIFOLD_WEBHOOK_RETRY_LIMIT: z.coerce.number().int().min(0).max(20).default(12),
  UNIFOLD_WEBHOOK_DISABLE_AFTER_HOURS: z.coerce.number().positive().default(120),
  UNIFOLD_SYNC_RUN_TIMEOUT_S: z.coerce.number().int().min(5).default(900),
  UNIFOLD_WEBHOOK_TIMEOUT_S: z.coerce.number().int().min(5).default(60),
  UNIFOLD_JOB_CHECK_INTERVAL_S: z.coerce.number().int().min(1).default(60),
  // The hosted connect page (README "Let customers connect"): link lifetime and vendor checks per link.
  UNIFOLD_CONNECT_TTL_S: z.coerce.number().int().min(60).max(86_400).default(1_800),
  UNIFOLD_CONNECT_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(5),
  // The gateway's address as customers' browsers reach it, for connect links (README "Links and proxies").
  UNIFOLD_PUBLIC_URL: z
    .url({ protocol: /^https?$/ })
    .optional()
    .transform((v) => v?.replace(/\/+$/, "")),
  // "true" only when every request comes through a proxy that sets X-Forwarded-Proto/-Host/-For.
  UNIFOLD_TRUST_PROXY: z
    .enum(["true", "false"])
    .default("false")
    .transform((v) => v === "true"),
  // Requests per minute one client address may make to the connect page; 0 turns the limit off.
  UNIFOLD_CONNECT_RATE_LIMIT: z.coerce.number().int().nonnegative().default(60),
  /** Requests per minute an identity provider may make to one push connection's SCIM service (0: no limit). */
  UNIFOLD_SCIM_RATE_LIMIT: z.coerce.number().int().nonnegative().default(30_000),
  /** Days the SCIM request log keeps an entry. */
  UNIFOLD_SCIM_LOG_RETENTION_DAYS: z.coerce.number().int().positive().default(14),
  UNIFOLD_SHUTDOWN_GRACE_MS: z.coerce.number().int().nonnegative().default(10_000),
});

export type Config = z.infer<typeof schema>;

/** Reads the environment once; a bad value stops the start with the variable named (never its value). */
export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const blankless = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ""));
  const parsed = schema.safeParse(blankless);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("\n  ");
    throw new Error(`invalid configuration:\n  ${problems}`);
  }
  return parsed.data;
}
