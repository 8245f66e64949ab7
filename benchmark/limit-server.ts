import http from "node:http";

/**
 * The limit: the least a Node HTTP server can do per request, answering a fixed product JSON of the same size as
 * `GET /api/products/:id`. Started as its own process by the benchmark (`node --import tsx`), so it gets the same
 * share of the CPU as the shop. Prints its port on stdout once it listens.
 */
const body = Buffer.from(process.env.LIMIT_BODY ?? "{}");

const server = http.createServer((_req, res) => {
	res.writeHead(200, { "Content-Type": "application/json; charset=utf-8", "Content-Length": body.length });
	res.end(body);
});

server.listen(0, "127.0.0.1", () => {
	const address = server.address();
	process.stdout.write(`${typeof address === "object" && address ? address.port : 0}\n`);
});

process.on("SIGTERM", () => server.close(() => process.exit(0)));
