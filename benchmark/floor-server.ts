import { ServiceBroker } from "moleculer";
import ApiGateway from "moleculer-web";

/**
 * The framework floor: moleculer-web in front of one trivial action answering the same fixed product JSON as the
 * limit server, so the shop's figures can be told apart from what Moleculer itself costs. FLOOR_METRICS and
 * FLOOR_CACHE switch on the built-in metrics and a memory cacher (cache hit), as the shop runs by default.
 * Started as its own process by the benchmark; prints its port on stdout once it listens.
 */
const product: unknown = JSON.parse(process.env.LIMIT_BODY ?? "{}");
const metrics = process.env.FLOOR_METRICS === "true";
const cache = process.env.FLOOR_CACHE === "true";

const broker = new ServiceBroker({
	logger: false,
	metrics: { enabled: metrics },
	cacher: cache ? { type: "Memory", options: { ttl: 300, clone: false } } : undefined,
	validator: true,
});

broker.createService({
	name: "api",
	mixins: [ApiGateway],
	settings: {
		port: 0,
		ip: "127.0.0.1",
		routes: [{ path: "/api", mappingPolicy: "restrict", aliases: { "GET /products/:id": "products.get" } }],
	},
});

broker.createService({
	name: "products",
	actions: {
		get: {
			params: { id: "string" },
			cache: cache ? { keys: ["id"] } : false,
			handler: () => product,
		},
	},
});

void broker.start().then(() => {
	const server = (broker.getLocalService("api") as unknown as { server: { address(): { port: number } } }).server;
	process.stdout.write(`${server.address().port}\n`);
});

process.on("SIGTERM", () => void broker.stop().then(() => process.exit(0)));
