# syntax=docker/dockerfile:1
# The classify-sync worker image: compiled JavaScript (dist/) and the migrations (drizzle/), production
# dependencies only, running as the unprivileged `node` user.
#   docker build -t classify-sync .
#   docker run --env-file .env classify-sync            # see docker-compose.yml and docs/worker.md
# Any other command works too, e.g.: docker run --env-file .env classify-sync classify-sync sync
# (or node dist/main.js sync)

ARG NODE_VERSION=24

# 1. Compile TypeScript with the full (dev) dependency set.
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# 2. Production dependencies only, from the same lockfile.
FROM node:${NODE_VERSION}-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# 3. The runtime: no compiler, no sources, no npm cache. Files stay owned by root (read-only to the app).
FROM node:${NODE_VERSION}-bookworm-slim
# /healthz and /metrics on every interface of the container (the worker's default is loopback only):
# the port is published or scraped from outside it.
ENV NODE_ENV=production \
    CLASSIFY_SYNC_METRICS_PORT=9464 \
    CLASSIFY_SYNC_METRICS_HOST=0.0.0.0
WORKDIR /app
# package.json marks dist/*.js as ES modules; drizzle/ must sit next to dist/ (dist/db/connect.js finds
# it at ../../drizzle) so the worker applies pending migrations at start.
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY drizzle ./drizzle
# `classify-sync` on PATH, so the commands the demo and the docs suggest work here without npx
# (`docker run --rm classify-sync classify-sync demo`); dist/main.js starts with a shebang.
# The embedded database's default directory, for runs without DATABASE_URL (mount a volume there).
RUN chmod 755 dist/main.js && ln -s /app/dist/main.js /usr/local/bin/classify-sync \
    && mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 9464
# /healthz is 200 only while every project synced successfully within staleAfterHours (default 36 h):
# "unhealthy" means stale data, the thing to alert on. The start period covers a first, long backfill.
HEALTHCHECK --interval=1m --timeout=10s --start-period=15m --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + process.env.CLASSIFY_SYNC_METRICS_PORT + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM stops it cleanly (the page being stored commits); give it more than shutdownTimeoutMs (30 s),
# e.g. `docker stop -t 45`, `stop_grace_period: 45s`, or terminationGracePeriodSeconds: 45.
STOPSIGNAL SIGTERM
CMD ["node", "dist/main.js", "worker"]
