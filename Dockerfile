# syntax=docker/dockerfile:1
# One image for every Emporium node: the actor(s) a container hosts come from SERVICES at run time
# (SERVICES=api for a gateway, SERVICES=orders for an orders node, unset for the whole shop in one process).

# Compiles TypeScript with the dev dependencies.
FROM node:22-alpine AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
RUN npm run build

# Production dependencies only, installed apart so no compiler or test tool reaches the runtime image.
FROM node:22-alpine AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force

FROM node:22-alpine
ENV NODE_ENV=production \
	SERVICEDIR=dist/services \
	PORT=3000 \
	METRICS_PORT=3030
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
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
CMD ["node", "node_modules/moleculer/bin/moleculer-runner.js", "--config", "dist/moleculer.config.js", "--mask", "**/*.service.js"]
