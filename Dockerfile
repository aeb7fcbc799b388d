# The gateway image. Not exercised on the development machines (no Docker engine there).
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json turbo.json tsconfig.base.json ./
COPY apps ./apps
COPY packages ./packages
RUN npm ci --omit=dev --workspace @unifold/gateway --include-workspace-root=false
COPY mappings ./mappings
COPY drizzle ./drizzle
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080
EXPOSE 8080
USER node
CMD ["npm", "start", "-w", "@unifold/gateway"]
