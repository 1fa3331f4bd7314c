# syntax=docker/dockerfile:1
#
# One image for every s3relay process: the command picks the role
# (`ingress`, `worker`, `all`, or an operator command such as `dlq` or `resync`).
# Configuration is by environment variables only (see CONFIG_VARIABLES in packages/core).
#
#   docker build -t s3relay:local .
#   docker run --rm s3relay:local --help

# Node 24 LTS, what CI tests (scripts/node24.sh pins the same major). Node 20.19+ still runs the
# code, but Node 20 is past its end of life and the AWS SDK's 2027 releases need Node 22.
ARG NODE_IMAGE=node:24-bookworm-slim

# --- build: dev dependencies and the TypeScript compiler; only dist/ leaves this stage ---------
FROM ${NODE_IMAGE} AS build
WORKDIR /app

# Manifests first, so the dependency layer is reused until a package.json or the lock changes.
# Every workspace of the root package.json must be present or `npm ci` refuses the lock.
COPY package.json package-lock.json ./
COPY packages/core/package.json packages/core/
COPY packages/emulator/package.json packages/emulator/
COPY packages/ingress/package.json packages/ingress/
COPY packages/worker/package.json packages/worker/
COPY packages/console/package.json packages/console/
COPY packages/cli/package.json packages/cli/
COPY test/package.json test/
RUN npm ci --no-audit --no-fund

COPY tsconfig.base.json tsconfig.json ./
COPY packages packages
RUN npm run build

# --- runtime: production dependencies and compiled code, run as the unprivileged `node` user ---
FROM ${NODE_IMAGE} AS runtime
# Containers are reached from outside their loopback, so every listener binds every interface
# (the console then refuses to start without CONSOLE_TOKEN).
ENV NODE_ENV=production HTTP_HOST=0.0.0.0 METRICS_HOST=0.0.0.0 CONSOLE_HOST=0.0.0.0
WORKDIR /app

COPY package.json package-lock.json ./
COPY packages/core/package.json packages/core/
COPY packages/emulator/package.json packages/emulator/
COPY packages/ingress/package.json packages/ingress/
COPY packages/worker/package.json packages/worker/
COPY packages/console/package.json packages/console/
COPY packages/cli/package.json packages/cli/
COPY test/package.json test/
# No install scripts run: nothing the runtime needs builds native code, and it keeps the
# production install from executing code of transitive dependencies. Development dependencies
# stay out, the emulator and its s3rver among them (docs/ARCHITECTURE.md, "Why the emulator is a
# development dependency"; test/e2e/without-emulator.test.ts).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

COPY --from=build /app/packages/core/dist packages/core/dist
COPY --from=build /app/packages/ingress/dist packages/ingress/dist
COPY --from=build /app/packages/worker/dist packages/worker/dist
COPY --from=build /app/packages/console/dist packages/console/dist
# The console's page: HTML and CSS as written (its scripts are compiled into dist/browser).
COPY packages/console/public packages/console/public
COPY --from=build /app/packages/cli/dist packages/cli/dist
COPY packages/cli/bin packages/cli/bin
# `s3relay dlq list` and friends by name inside the container (`docker compose exec worker s3relay …`).
RUN ln -s /app/packages/cli/bin/s3relay.js /usr/local/bin/s3relay

# Files stay owned by root: the process can read its code but not change it.
USER node
# Ingress HTTP_PORT, worker METRICS_PORT, ingress HTTP_METRICS_PORT and console CONSOLE_PORT
# defaults.
EXPOSE 8080 9090 9091 9400
# The CLI runs as PID 1 and handles SIGTERM itself: it stops taking work, finishes or requeues
# what is in flight within SHUTDOWN_TIMEOUT_MS, then exits.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "packages/cli/dist/main.js"]
CMD ["--help"]
