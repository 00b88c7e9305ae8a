# syntax=docker/dockerfile:1
# backstop's image: `docker build -t backstop:0.1.0 .` (deploy/ refers to it as `backstop`).
# Node is pinned to an exact release of the major the project is developed and tested on; every
# stage uses the same one. test/deploy-dockerfile.test.ts checks the points below.

# 1. Compile: every dependency, then tsc (tsconfig.build.json: src/ -> dist/, no tests).
FROM node:24.22.3-trixie-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts: nothing here needs one, and they are where supply-chain attacks run.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# 2. Production dependencies only, from the same lock file.
FROM node:24.22.3-trixie-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# 3. Runtime: node, dist/, production node_modules, package.json ("type": "module"; backstop reads
# its version from it) and the lock file that pinned them. The package managers are removed: the
# container runs one program and never installs anything.
FROM node:24.22.3-trixie-slim AS runtime
RUN rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
      /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-*
ENV NODE_ENV=production
# The V8 heap flags backstop ships with, the same as `npm start` and the manifests' NODE_OPTIONS
# (which replace this one): a capped old space holds peak RSS at saturation near 145 MB instead
# of 218 MB, for about 6% more CPU per request (docs/deploy.md, Resources).
ENV NODE_OPTIONS="--max-old-space-size=192 --max-semi-space-size=8"
# One glibc malloc arena, not one per thread, as `npm start` runs it: RSS at saturation 13 MB
# lower, and with 2,000 held streams, for the same CPU per request (docs/deploy.md, Resources).
ENV MALLOC_ARENA_MAX=1
WORKDIR /app
# Owned by root and read-only to the process: it writes nothing to disk, so Kubernetes can mount
# the root filesystem read-only.
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json package-lock.json ./
# Numeric, so the kubelet can verify runAsNonRoot; the image's `node` user. deploy/ runs as the same.
USER 1000:1000
# Proxy (PORT) and admin: /healthz, /readyz, /metrics (ADMIN_PORT).
EXPOSE 8080 9090
# Exec form, and node itself as PID 1 (not the base image's shell entrypoint): SIGTERM reaches
# backstop directly, which drains and exits 0 (src/shutdown.ts). No shell is needed to start it.
ENTRYPOINT ["node", "dist/main.js"]
