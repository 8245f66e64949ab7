import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, expect, it } from "vitest";
import { dropNamespace } from "../support/cluster";
import { startShop, type Shop, THREE_NODES } from "../support/shop";
import { client, eventually, type Client } from "../support/http";
import { describeWithServers, SERVERS } from "../support/servers";
import { traceIdOf } from "../../lib/observability";
import type { Page, Product } from "../support/api";

/**
 * Issue 5, tracing: three nodes over the local NATS (transporter and event bus) export to a Zipkin collector
 * started here. One HTTP request must arrive as one tree of Zipkin v2 spans across the nodes, the domain-event
 * handlers included, found from the response's X-Request-ID.
 */

interface ZipkinSpan {
	traceId: string;
	id: string;
	parentId?: string;
	name: string;
	kind?: string;
	timestamp: number;
	duration: number;
	localEndpoint: { serviceName: string };
	tags: Record<string, unknown>;
}

/** A stand-in for Zipkin's POST /api/v2/spans: keeps every span it receives. */
function startCollector(): Promise<{ url: string; spans: ZipkinSpan[]; bodies: string[]; close(): Promise<void> }> {
	const spans: ZipkinSpan[] = [];
	const bodies: string[] = [];
	const server = http.createServer((req, res) => {
		let body = "";
		req.on("data", chunk => (body += chunk));
		req.on("end", () => {
			if (
				req.method !== "POST" ||
				req.url !== "/api/v2/spans" ||
				!req.headers["content-type"]?.startsWith("application/json")
			) {
				res.writeHead(404).end();
				return;
			}
			bodies.push(body);
			spans.push(...(JSON.parse(body) as ZipkinSpan[]));
			res.writeHead(202).end();
		});
	});
	return new Promise(resolve =>
		server.listen(0, "127.0.0.1", () =>
			resolve({
				url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
				spans,
				bodies,
				close: () => new Promise<void>(done => server.close(() => done())),
			}),
		),
	);
}

/** The spans one order makes: the gateway's, its token check, the saga's steps. */
const ORDER_SPANS = [
	"POST /api/orders",
	"action 'users.principal'",
	"action 'orders.create'",
	"action 'products.getVariants'",
	"action 'inventory.reserve'",
	"action 'payments.charge'",
	"action 'inventory.commit'",
];
const HEX16 = /^[0-9a-f]{16}$/;
const HEX32 = /^[0-9a-f]{32}$/;

await describeWithServers(["nats"], "tracing: one request is one Zipkin trace across nodes", () => {
	const namespace = `tr${randomBytes(4).toString("hex")}`;
	const password = `secret-${randomBytes(6).toString("hex")}`;
	let collector: Awaited<ReturnType<typeof startCollector>>;
	const nodes: Record<string, Shop> = {};
	let api: Client;
	let token: string;
	let productId: string;
	const startedAt = Date.now();

	beforeAll(async () => {
		collector = await startCollector();
		const env = {
			TRANSPORTER: SERVERS.nats.url,
			EVENTS_URL: SERVERS.nats.url,
			NAMESPACE: namespace,
			ZIPKIN_URL: collector.url,
			TRACING_SAMPLE_RATE: "1",
			CACHER: undefined,
			DB_URI: undefined,
		};
		for (const [name, services] of Object.entries(THREE_NODES)) {
			nodes[name] = await startShop({
				env: { ...env, NODEID: `${namespace}-${name}`, SEED: String(name === "stock") },
				services,
			});
		}
		api = client(nodes.gateway.url);
		await eventually(async () => (await api.get("/health/ready")).status === 200, 20_000, 200);
		token = (await api.register(`trace-${namespace}@example.com`, password)).token;
		productId = (await api.get<Page<Product>>("/api/products")).body.rows[0].id;
	});

	afterAll(async () => {
		for (const node of Object.values(nodes)) await node.stop();
		await collector?.close();
		await dropNamespace(namespace);
	});

	/** Places an order and waits until its trace holds the notification handler's span. */
	async function traceOfOrder(headers: Record<string, string> = {}) {
		const order = await api.post(
			"/api/orders",
			{ items: [{ productId, quantity: 1 }], paymentToken: "tok_visa" },
			{ token, headers },
		);
		expect(order.status).toBe(201);
		const requestID = order.headers.get("x-request-id")!;
		const traceId = traceIdOf(requestID);
		// Each node flushes its finished spans every second, and a handler's span may finish before its parent's:
		// wait for a complete tree (the assertions then say what is wrong if it never completes).
		const spansOfTrace = () => collector.spans.filter(s => s.traceId === traceId);
		const complete = () => {
			const found = spansOfTrace();
			const ids = new Set(found.map(s => s.id));
			const names = new Set(found.map(s => s.name));
			return (
				[...ORDER_SPANS, `channel '${namespace}.order.confirmed'`].every(name => names.has(name)) &&
				found.every(s => s.parentId === undefined || ids.has(s.parentId))
			);
		};
		await eventually(() => Promise.resolve(complete()), 15_000, 100).catch(() => undefined);
		return { requestID, traceId, spans: spansOfTrace() };
	}

	/** Zipkin v2 span fields, and one tree: one root, every parent inside the trace, ids unique. */
	function expectOneTree(spans: ZipkinSpan[], traceId: string) {
		const ids = new Set(spans.map(s => s.id));
		expect(ids.size).toBe(spans.length);
		for (const span of spans) {
			expect(span.traceId).toBe(traceId);
			expect(span.traceId).toMatch(HEX32);
			expect(span.id).toMatch(HEX16);
			expect(span.name).toMatch(/^((action|channel) '.+'|[A-Z]+ \/api\/.+)$/);
			expect(span.kind).toBe(span.name.startsWith("channel ") ? "CONSUMER" : "SERVER");
			expect(
				Number.isInteger(span.timestamp) && span.timestamp >= startedAt * 1000 && span.timestamp <= Date.now() * 1000,
			).toBe(true);
			expect(Number.isInteger(span.duration) && span.duration >= 1).toBe(true);
			expect(span.localEndpoint.serviceName).toMatch(/^[a-z]+$/);
			for (const value of Object.values(span.tags)) expect(typeof value).toBe("string");
			if (span.parentId !== undefined) {
				expect(span.parentId).toMatch(HEX16);
				expect(ids.has(span.parentId)).toBe(true);
			}
		}
		const roots = spans.filter(s => s.parentId === undefined);
		// moleculer-web names the gateway's span after the route.
		expect(roots.map(s => [s.name, s.localEndpoint.serviceName, s.tags["action.name"]])).toEqual([
			["POST /api/orders", "api", "api.rest"],
		]);
		return roots[0];
	}

	const named = (spans: ZipkinSpan[], name: string, service?: string) => {
		const matches = spans.filter(s => s.name === name && (!service || s.localEndpoint.serviceName === service));
		expect(matches, name).toHaveLength(1);
		return matches[0];
	};

	it("links gateway, orders, stock and the event handlers under the request's span tree", async () => {
		const { requestID, traceId, spans } = await traceOfOrder();
		// A generated request id is a UUID: without its dashes, it is the trace id to paste into Zipkin.
		expect(traceId).toBe(requestID.replace(/-/g, ""));
		const root = expectOneTree(spans, traceId);

		const create = named(spans, "action 'orders.create'");
		expect(create).toMatchObject({
			parentId: root.id,
			localEndpoint: { serviceName: "orders" },
			tags: { nodeID: `${namespace}-orders`, requestID },
		});
		for (const step of ["products.getVariants", "inventory.reserve", "payments.charge", "inventory.commit"]) {
			expect(named(spans, `action '${step}'`)).toMatchObject({
				parentId: create.id,
				localEndpoint: { serviceName: step.split(".")[0] },
				tags: { nodeID: `${namespace}-stock` },
			});
		}
		expect(named(spans, "action 'users.principal'")).toMatchObject({
			parentId: root.id,
			tags: { nodeID: `${namespace}-gateway` },
		});
		// The event was published by orders.create through the outbox; its handler joins the trace under it.
		// Each consumer group's handler joins it: notifications here, webhooks' delivery recorder on the gateway node.
		for (const [service, node] of [
			["notifications", "orders"],
			["webhooks", "gateway"],
		])
			expect(named(spans, `channel '${namespace}.order.confirmed'`, service)).toMatchObject({
				parentId: create.id,
				kind: "CONSUMER",
				localEndpoint: { serviceName: service },
				tags: { nodeID: `${namespace}-${node}`, requestID, eventType: "order.confirmed" },
			});
		expect(new Set(spans.map(s => s.tags.nodeID))).toEqual(
			new Set(["gateway", "orders", "stock"].map(n => `${namespace}-${n}`)),
		);
	});

	it("finds the trace of a client-chosen X-Request-ID, with a valid hex trace id", async () => {
		const chosen = `checkout-${randomBytes(4).toString("hex")}`;
		const { requestID, traceId, spans } = await traceOfOrder({ "X-Request-ID": chosen });
		expect(requestID).toBe(chosen);
		expect(traceId).toMatch(HEX32);
		expectOneTree(spans, traceId);
		// Zipkin's search by tag: requestID=<X-Request-ID>.
		for (const span of spans) expect(span.tags.requestID).toBe(chosen);
	});

	it("sends no password, token or request params to Zipkin", () => {
		const exported = collector.bodies.join("\n");
		expect(exported).not.toContain(password);
		expect(exported).not.toContain(token);
		expect(exported).not.toContain("tok_visa");
		// The gateway's span keeps the route (moleculer-web tags method and URL); no other params are exported.
		const paramTags = collector.spans.flatMap(s => Object.keys(s.tags).filter(k => k.startsWith("params.")));
		expect(new Set(paramTags)).toEqual(new Set(["params.req.url", "params.req.method"]));
	});
});
