import { type Logger, pino } from "pino";

/** JSON logs; anything that looks like a secret is censored even if a caller logs it by mistake. */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { service: "unifold-gateway" },
      redact: {
        paths: [
          "authorization",
          "*.authorization",
          "headers.authorization",
          "*.headers.authorization",
          "credentials",
          "*.credentials",
          "api_key",
          "*.api_key",
          "secret",
          "*.secret",
          "*.x-api-key",
          "password",
          "*.password",
        ],
        censor: "[redacted]",
      },
    },
    destination ?? process.stdout,
  );
}

/**
 * What the log may keep of an unexpected error. A database error is named by its kind and the
 * server's code, table and constraint only: the driver's message carries the statement and every
 * parameter (people's names and emails). Anything else keeps its message and stack.
 */
export function loggable(error: unknown): Record<string, unknown> {
  const cause = (error as { cause?: unknown } | null)?.cause;
  const database = [error, cause].find(
    (e): e is { code: string; table_name?: unknown; constraint_name?: unknown } =>
      typeof (e as { code?: unknown } | null)?.code === "string" && /^[0-9A-Z]{5}$/.test((e as { code: string }).code),
  );
  const query = typeof (error as { query?: unknown } | null)?.query === "string";
  if (!database && !query) {
    const e = error instanceof Error ? error : new Error(String(error));
    return { name: e.name, message: e.message, stack: e.stack };
  }
  // postgres.js's connection codes (CONNECT_TIMEOUT, CONNECTION_CLOSED, …) name no data either.
  const connection = [error, cause]
    .map((e) => (e as { code?: unknown } | null)?.code)
    .find((code) => typeof code === "string" && /^[A-Z_]+$/.test(code));
  return {
    name: error instanceof Error ? error.name : typeof error,
    ...(database && { sqlstate: database.code }),
    ...(connection !== undefined && { code: connection }),
    ...(typeof database?.table_name === "string" && { table: database.table_name }),
    ...(typeof database?.constraint_name === "string" && { constraint: database.constraint_name }),
  };
}
