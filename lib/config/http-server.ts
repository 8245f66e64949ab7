import { createServer, type RequestListener, type Server } from "node:http";
import type { HttpServerLimits } from "./config";

/**
 * A Node HTTP server with the configured limits: the gateway's and the metrics port's. Node checks the header and
 * request timeouts on a timer (every 30 s by default); here it checks often enough that a limit holds within about
 * half of itself, at most a second late.
 */
export function createHttpServer(limits: HttpServerLimits, listener: RequestListener): Server {
	const server = createServer(
		{
			headersTimeout: limits.headersTimeoutMs,
			requestTimeout: limits.requestTimeoutMs,
			connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(limits.headersTimeoutMs / 2))),
		},
		listener,
	);
	server.keepAliveTimeout = limits.keepAliveTimeoutMs;
	server.maxConnections = limits.maxConnections;
	return server;
}
