# One image for every Emporium node: the actor(s) a container hosts come from SERVICES at run time
# (SERVICES=api for a gateway, SERVICES=orders for an orders node, unset for the whole shop in one process).
#
# NODE_IMAGE: the base of every stage. The default is the official image users pull; it must provide node, npm, a
# user `node` (uid 1000) and wget (the health check). Without a registry: docker/engine images builds emporium/node:22
# (Node 22 from the npm registry), and docker/docker-compose.local.yml passes it.
ARG NODE_IMAGE=node:22-alpine

# What `npm ci` needs to compile better-sqlite3 (native; the in-process store): python3, make and g++ (apk on Alpine,
# apt on Debian), and the headers of the image's own Node (/usr/local/include/node) so node-gyp downloads none. It
# builds from source rather than fetch a prebuilt binary from GitHub, which an offline build cannot reach.
FROM ${NODE_IMAGE} AS toolchain
RUN if command -v apk >/dev/null; then apk add --no-cache python3 make g++; \
	else apt-get update -q \
		&& DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3 make g++ \
		&& rm -rf /var/lib/apt/lists/*; fi
ENV npm_config_nodedir=/usr/local \
	npm_config_build_from_source=true

# Compiles TypeScript with the dev dependencies (`npm run build` starts from an empty dist/).
FROM toolchain AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
RUN npm run build

# Production dependencies only (better-sqlite3 compiled here), installed apart so no compiler or test tool reaches
# the runtime image: it gets this stage's node_modules, built against the same base.
FROM toolchain AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force

FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
	SERVICEDIR=dist/services \
	PORT=3000 \
	METRICS_PORT=3030
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The storefront and admin console (Vite's output), served by gateway nodes at / and /admin.
COPY --from=build /app/web/dist ./web/dist
COPY package.json ./
# The files stay root-owned and read-only for the process; the node user (uid 1000) comes with the base image.
USER node
# 3000: HTTP API (gateway nodes only); 3030: Prometheus /metrics and /health/* on every node.
EXPOSE 3000 3030
# A gateway answers /health/live on PORT; any other node answers it on METRICS_PORT.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
	CMD case ",${SERVICES:-api}," in *,api,*) port="${PORT:-3000}" ;; *) port="${METRICS_PORT:-3030}" ;; esac; \
		wget -q -O /dev/null "http://127.0.0.1:${port}/health/live" || exit 1
# `npm start` without npm in between: node is PID 1 and gets SIGTERM itself, so moleculer-runner stops the broker
# gracefully (in-flight requests drain for SHUTDOWN_TIMEOUT_MS) instead of being killed. The runner loads
# the folder SERVICEDIR/<name>/ for each name in SERVICES, or every service there when SERVICES is unset.
# SIGTERM is Docker's default stop signal; Compose's stop_grace_period leaves it time to drain.
# --max-semi-space-size=4, as `npm start`: a young generation of 4 MB semi-spaces instead of 16, 20-40 MB less RSS per
# process under load at no measured CPU cost (README "Performance").
STOPSIGNAL SIGTERM
CMD ["node", "--max-semi-space-size=4", "node_modules/moleculer/bin/moleculer-runner.js", "--config", "dist/moleculer.config.js", "--mask", "**/*.service.js"]
