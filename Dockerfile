# The gateway image. Not exercised on the development machines (no Docker engine there).
# Build stage: every dependency, then the bundle (apps/gateway/dist) and its ready-made embedded database.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json turbo.json tsconfig.base.json ./
COPY apps ./apps
COPY packages ./packages
COPY drizzle ./drizzle
# npm ci builds the gateway too (the root `prepare` script, apps/gateway/ensure-built.js).
RUN npm ci --no-audit --no-fund && test -f apps/gateway/dist/inputs.sha256

# Run stage: the runtime dependencies only, and `node` itself as PID 1's child-free server, so
# SIGTERM reaches the gateway directly and it drains in-flight requests.
FROM node:24-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
COPY apps ./apps
COPY packages ./packages
# No install scripts: none of the runtime dependencies needs one, and the build is copied in.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund --workspace @unifold/gateway --include-workspace-root=false
COPY --from=build /app/apps/gateway/dist ./apps/gateway/dist
COPY mappings ./mappings
COPY drizzle ./drizzle
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080
EXPOSE 8080
USER node
CMD ["node", "apps/gateway/dist/main.js"]
