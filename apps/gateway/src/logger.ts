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
