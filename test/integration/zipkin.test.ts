import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { traceIdOf } from "../../lib/observability";
import { dropNamespace } from "../support/cluster";
import { client, eventually, type Client } from "../support/http";
import { describeWithInfra, useServer, type InfraServer } from "../support/infra";
import { SERVERS } from "../support/servers";
import { startShop, type Shop, THREE_NODES } from "../support/shop";

/**
 * Tracing into a real Zipkin server (3.5, in-memory storage, from `infra/servers`): three nodes joined by NATS, with
 * Kafka as the event bus, export their spans to it; one order placed through the gateway must come back from
 * Zipkin's own query API as one trace spanning the gateway, orders, inventory, payments and the notification
 * consumer, every parent present.
 */
interface ZipkinSpan {
	traceId: string;
	id: string;
	parentId?: string;
	name: string;
	kind?: string;
	localEndpoint?: { serviceName: string };
	tags?: Record<string, string>;
}

describeWithInfra(["zipkin", "kafka"], "tracing into a real Zipkin server across three nodes", () => {
	const namespace = `zk${randomBytes(4).toString("hex")}`;
	let zipkin: InfraServer;
	let kafka: InfraServer;
	const nodes: Shop[] = [];
	let api: Client;

	beforeAll(async () => {
		[zipkin, kafka] = await Promise.all([useServer("zipkin"), useServer("kafka")]);
		const env = {
			TRANSPORTER: SERVERS.nats.url,
			EVENTS_URL: kafka.url,
			NAMESPACE: namespace,
			ZIPKIN_URL: zipkin.url,
			TRACING_SAMPLE_RATE: "1",
			CACHER: undefined,
			DB_URI: undefined,
		};
		for (const [name, services] of Object.entries(THREE_NODES))
			nodes.push(
				await startShop({ env: { ...env, NODEID: `${namespace}-${name}`, SEED: String(name === "stock") }, services }),
			);
		api = client(nodes[0].url);
		await eventually(async () => (await api.get("/health/ready")).status === 200, 30_000, 200);
	}, 120_000);

	afterAll(async () => {
		for (const node of nodes) await node.stop();
		await dropNamespace(namespace);
		await kafka?.dispose();
		await zipkin?.dispose();
	}, 60_000);

	it("finds one trace per order in Zipkin: gateway, orders, inventory, payments, notification consumer", async () => {
		const { token } = await api.register(`zipkin-${namespace}@example.com`, "customer-password");
		const productId = (await api.get<{ rows: { id: string }[] }>("/api/products")).body.rows[0].id;
		const order = await api.post(
			"/api/orders",
			{ items: [{ productId, quantity: 1 }], paymentToken: "tok_visa" },
			{ token },
		);
		expect(order.status).toBe(201);
		const requestID = order.headers.get("x-request-id")!;
		const traceId = traceIdOf(requestID);
		const consumer = `channel '${namespace}.order.confirmed'`;

		// Nodes flush every second and Zipkin ingests asynchronously: poll its API until the tree is complete.
		const placedAt = Date.now();
		const spans = await eventually(
			async () => {
				const res = await fetch(`${zipkin.url}/api/v2/trace/${traceId}`);
				if (!res.ok) return null;
				const found = (await res.json()) as ZipkinSpan[];
				const ids = new Set(found.map(s => s.id));
				const complete =
					found.some(s => s.name === consumer) && found.every(s => s.parentId === undefined || ids.has(s.parentId));
				return complete ? found : null;
			},
			20_000,
			250,
		);
		process.stdout.write(
			`[zipkin] trace ${traceId}: ${spans.length} spans, ` +
				`complete in Zipkin ${Date.now() - placedAt} ms after the answer\n`,
		);

		const roots = spans.filter(s => s.parentId === undefined);
		expect(roots.map(s => [s.name, s.localEndpoint?.serviceName])).toEqual([["post /api/orders", "api"]]);
		const services = new Set(spans.map(s => s.localEndpoint?.serviceName));
		for (const service of ["api", "users", "orders", "products", "inventory", "payments", "notifications"])
			expect(services, service).toContain(service);
		const byName = (name: string) => spans.find(s => s.name === name);
		const create = byName("action 'orders.create'");
		expect(create?.parentId).toBe(roots[0].id);
		for (const step of ["inventory.reserve", "payments.charge", "inventory.commit"])
			expect(byName(`action '${step}'`)?.parentId, step).toBe(create?.id);
		expect(byName(consumer)).toMatchObject({ parentId: create?.id, kind: "CONSUMER" });
		expect(new Set(spans.map(s => s.tags?.nodeID))).toEqual(
			new Set(["gateway", "orders", "stock"].map(n => `${namespace}-${n}`)),
		);

		// Zipkin's search finds it by service and by the requestID tag, as an operator would.
		const search = await fetch(
			`${zipkin.url}/api/v2/traces?serviceName=notifications` +
				`&annotationQuery=${encodeURIComponent(`requestID=${requestID}`)}&limit=10&lookback=600000`,
		);
		const traces = (await search.json()) as ZipkinSpan[][];
		expect(traces.map(t => t[0].traceId)).toEqual([traceId]);
	}, 60_000);
});
