import { ServiceBroker } from "moleculer";
import { buildDist, freePort, startNode, stopNodes, type NodeSpec, type ShopNode } from "../../scripts/nodes";
import { dropNamespace, uniqueNamespace, waitForNodes } from "./cluster";
import { client, eventually } from "./http";
import { balancedClients } from "./load";
import { SERVERS } from "./servers";

/**
 * A shop split over separate OS processes, as in production: two gateways, two orders and two inventory nodes,
 * payments, products, users, notifications, carts and webhooks (plus `extraNodes`), over the loopback NATS (calls and
 * JetStream events) and Redis, with the given database. `observer` is a service-less broker in the cluster for
 * audits and registry checks.
 */
/**
 * Saga timings for the tests that check out hundreds of carts at once: on 2 cores with a dozen node processes the
 * steps wait for the database pools, and the production step timeout (2 s) would turn that wait into 503s. Steps may
 * take 4 s (three attempts: 12.3 s, under half of the 30 s lease).
 */
export const BURST_TIMINGS = { ORDER_STEP_TIMEOUT_MS: "4000", ORDER_LEASE_SECONDS: "30" };

export interface ShopCluster {
	namespace: string;
	gateways: string[];
	observer: ServiceBroker;
	nodes: Map<string, ShopNode>;
	/** Spreads requests over both gateways like a load balancer. */
	send: ReturnType<typeof balancedClients>;
	admin: string;
	customers: string[];
	restart(name: string): Promise<void>;
	/** The last lines of every node, for a failing test's report. */
	report(): string;
	stop(): Promise<void>;
}

export async function startShopCluster(opts: {
	label: string;
	dbUri: string;
	env?: Record<string, string>;
	extraNodes?: NodeSpec[];
}): Promise<ShopCluster> {
	await buildDist();
	const namespace = uniqueNamespace(opts.label);
	const env = {
		NAMESPACE: namespace,
		TRANSPORTER: SERVERS.nats.url,
		EVENTS_URL: SERVERS.nats.url,
		CACHER: SERVERS.redis.url,
		DB_URI: opts.dbUri,
		METRICS: "false",
		SEED: "false",
		LOGLEVEL: "warn",
		// Twelve actor pools share the test server: at the default 10 a burst can open more than PostgreSQL's default
		// max_connections (100), and the connections refused become 503s (README "Scaling").
		DB_POOL_MAX: "6",
		// Every test client comes from 127.0.0.1: the per-address limits of a real gateway would stop the scenarios.
		REGISTER_MAX_PER_ADDRESS: "100000",
		LOGIN_MAX_PER_ADDRESS: "100000",
		...opts.env,
	};
	const [p1, p2] = [await freePort(), await freePort()];
	const specs: NodeSpec[] = [
		{ name: "api-1", services: ["api"], env: { PORT: String(p1) } },
		{ name: "api-2", services: ["api"], env: { PORT: String(p2) } },
		{ name: "orders-1", services: ["orders"] },
		{ name: "orders-2", services: ["orders"] },
		{ name: "inventory-1", services: ["inventory"] },
		{ name: "inventory-2", services: ["inventory"] },
		...["payments", "products", "users", "notifications", "carts"].map(name => ({ name, services: [name] })),
		{ name: "pricing-1", services: ["promotions", "shipping"] },
		{ name: "webhooks-1", services: ["webhooks"] },
	];
	const nodes = new Map<string, ShopNode>();
	const launch = (spec: NodeSpec) => {
		const node = startNode(spec, { env, nodeIdPrefix: `${namespace}-` });
		nodes.set(spec.name, node);
		return node;
	};
	specs.forEach(launch);

	const observer = new ServiceBroker({
		namespace,
		nodeID: `${namespace}-observer`,
		transporter: SERVERS.nats.url,
		logger: false,
		heartbeatInterval: 3,
		heartbeatTimeout: 9,
		requestTimeout: 15_000,
	});
	await observer.start();
	const gateways = [`http://127.0.0.1:${p1}`, `http://127.0.0.1:${p2}`];
	try {
		await waitForNodes(observer, [...nodes.values()]);
		// Extra nodes of an actor start once its first node is up: two nodes creating the same durable JetStream
		// consumer at the same instant can collide ("consumer name already in use"; @moleculer/channels 0.1.8 does not
		// retry), and the loser exits. A supervisor restarts it in production; here it would fail the fixture.
		if (opts.extraNodes?.length) await waitForNodes(observer, opts.extraNodes.map(launch));
		for (const url of gateways)
			await eventually(async () => (await client(url).get("/health/ready")).status === 200, 30_000, 200);
	} catch (err) {
		await stopNodes(nodes.values(), "SIGKILL");
		await observer.stop();
		throw err;
	}
	const admin = (await client(gateways[0]).login("admin@example.com", "admin-password")).token;
	const customers: string[] = [];
	for (let i = 0; i < 8; i++)
		customers.push(
			(await client(gateways[i % 2]).register(`c${i}-${namespace}@example.com`, "customer-password")).token,
		);

	return {
		namespace,
		gateways,
		observer,
		nodes,
		send: balancedClients(gateways),
		admin,
		customers,
		async restart(name) {
			const spec = specs.find(s => s.name === name)!;
			const node = launch(spec);
			await waitForNodes(observer, [node]);
		},
		report() {
			return [...nodes.values()]
				.map(n => {
					const output = n.recentOutput().split("\n").slice(-25).join("\n");
					return `--- ${n.name} (${n.running() ? "running" : "exited"})\n${output}`;
				})
				.join("\n");
		},
		async stop() {
			await stopNodes(nodes.values(), "SIGKILL");
			await observer.stop();
			await dropNamespace(namespace);
		},
	};
}
