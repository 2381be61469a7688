# mtls-gateway container image.
#
#   docker build -t mtls-gateway:0.1.0 .            (or: buildah bud -t mtls-gateway:0.1.0 .)
#   docker run --read-only --tmpfs /tmp -v mtls-gateway-state:/var/lib/mtls-gateway \
#     -v "$PWD/config:/etc/mtls-gateway/config:ro" -p 8080:8080 mtls-gateway:0.1.0
#   (calls through -p come from outside the container's loopback: without a callers section the
#   gateway refuses them (protected mode); configure callers.apps, or callers: { required: false })
#
# Deps stage: full Node image (python3, make, g++ for better-sqlite3's native module), npm ci from
# package.json and the lockfile alone, before any source is copied: a layer cache (Docker's default;
# `buildah bud --layers`, as scripts/test-image.sh builds) reuses that compile, most of a build,
# until the base, the lockfile or these lines change. Build stage: tsc over src/, then the bundle.
# Prune stage: the deps stage's node_modules without dev dependencies (the native module is kept,
# not rebuilt; from deps, not build, so a source change does not rerun it). Runtime: the slim Node
# image with only the bundle (dist/src/main.js and its chunks), package.json and production
# node_modules, as a numeric non-root user, ready for a read-only root file system; npm, npx,
# corepack and yarn are removed from it (nothing at run time needs a package manager).
# Both bases are build arguments with pinned defaults on Node 24 LTS; keep their Node versions
# equal (the native module is built against the build image's Node ABI).
ARG BUILD_IMAGE=node:24.22.3-bookworm
ARG NODE_IMAGE=node:24.22.3-bookworm-slim

FROM ${BUILD_IMAGE} AS deps
WORKDIR /src
ENV npm_config_fund=false \
    npm_config_audit=false \
    npm_config_update_notifier=false
COPY package.json package-lock.json ./
# node-gyp builds better-sqlite3 against the headers shipped with this Node (no header download).
RUN npm_config_nodedir="$(dirname "$(dirname "$(command -v node)")")" npm ci \
 && node -e "require('better-sqlite3')(':memory:').prepare('select 1').get()"

FROM deps AS build
COPY tsconfig.json ./
COPY src ./src
COPY scripts/bundle.ts ./scripts/bundle.ts
# Only the gateway itself (src/) and its bundler step: the repo's tsconfig also covers the other
# scripts and bench/. scripts/bundle.ts then bundles tsc's output into dist/src/main.js and
# dist/src/chunks/ as `npm run build` does (the image ships them without the source maps the bench
# reads). `--version` loads only the command line (each command loads its modules when it runs):
# importing every chunk (a worker's request path, a primary's, and the console, dance and jose,
# which load when a config uses them) proves the whole program loads.
RUN printf '{"extends":"./tsconfig.json","compilerOptions":{"sourceMap":false},"include":["src/**/*.ts","scripts/bundle.ts"]}\n' > tsconfig.image.json \
 && npx tsc -p tsconfig.image.json \
 && node dist/scripts/bundle.js \
 && rm -f dist/src/main.js.map dist/src/chunks/*.map \
 && node dist/src/main.js --version \
 && node --input-type=module -e "import { readdirSync } from 'node:fs'; for (const f of readdirSync('dist/src/chunks')) await import('./dist/src/chunks/' + f); await import('jose')"

FROM deps AS prune
# npm prune leaves the emptied @scope folders of dev dependencies behind: remove them too.
# Type declarations are never loaded at run time; protobufjs (under the OTLP gRPC exporter) lists
# @types/node as a dependency, so prune keeps it: remove it.
RUN npm prune --omit=dev \
 && rm -rf node_modules/.cache node_modules/@types node_modules/better-sqlite3/build/Release/obj* node_modules/better-sqlite3/deps node_modules/better-sqlite3/src \
 && find node_modules -mindepth 1 -maxdepth 1 -type d -empty -delete

FROM ${NODE_IMAGE} AS runtime
ARG UID=10001
# The image's version label; scripts/test-image.sh passes package.json's version.
ARG VERSION=0.1.0
ARG NODE_IMAGE
# MTLS_GATEWAY_STATE_DIR: where a config without store.file keeps its SQLite file (the volume,
# not next to the read-only config mount). --workers is left to its default: the container's CPU
# quota (cgroup), else the CPUs Node sees.
ENV NODE_ENV=production \
    MTLS_GATEWAY_STATE_DIR=/var/lib/mtls-gateway
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
      /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-*
# After a RUN: a layer cache keys a RUN by the build arguments' values but LABEL by its text, so a
# LABEL before any RUN would come from the cache with the last build's VERSION (buildah --layers).
LABEL org.opencontainers.image.title="mtls-gateway" \
      org.opencontainers.image.description="Outbound gateway: mutual TLS, OAuth 1.0a signing and authorization fields" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${NODE_IMAGE}"
WORKDIR /app
COPY --from=build /src/package.json ./package.json
COPY --from=prune /src/node_modules ./node_modules
# The bundle only: tsc's module tree beside it is what it was made from, never loaded.
COPY --from=build /src/dist/src/main.js ./dist/src/main.js
COPY --from=build /src/dist/src/chunks ./dist/src/chunks
# The console's pages are hand-written ES modules and CSS, served from beside its code.
COPY --from=build /src/src/console/assets ./dist/src/console/assets
# State (SQLite store) lives on the declared volume; config and bundles are mounted under
# /etc/mtls-gateway. Nothing else is written, so the root file system can be read-only.
RUN mkdir -p /var/lib/mtls-gateway /etc/mtls-gateway/config \
 && chown ${UID}:${UID} /var/lib/mtls-gateway \
 && chmod 0750 /var/lib/mtls-gateway
USER ${UID}:${UID}
VOLUME ["/var/lib/mtls-gateway"]
# 8080: proxy listener; 9090: admin (/metrics, /healthz, /readyz, /console/; bind it to 0.0.0.0 in the config).
EXPOSE 8080 9090
# Exec form: node is PID 1 and receives SIGTERM itself (graceful drain).
ENTRYPOINT ["node", "/app/dist/src/main.js"]
CMD ["serve", "--config", "/etc/mtls-gateway/config/gateway.yaml"]
