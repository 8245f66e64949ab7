import { randomBytes } from "node:crypto";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { ServiceBroker } from "moleculer";
import { buildDist, freePort, startNode, stopNodes, type ShopNode, type NodeSpec } from "../../scripts/nodes";
import { auditShop, type OrderRow } from "../../lib/invariants";
import { describeWithServers, SERVERS } from "../support/servers";
import { client, eventually } from "../support/http";
import { PrivateMariaDb } from "../support/mariadb-server";
import { balancedClients, summarise, sustain } from "../support/load";

/**
 * Issue 4's guarantees, proven against a real cluster: separate OS processes (two gateways, two orders and two
 * inventory nodes, payments, products, users, notifications) over the loopback NATS, with a private MariaDB that the
 * test may kill. Faults are real: kill -9, SIGSTOP, SIGTERM, a database that disappears.
 */
await describeWithServers(["nats", "redis"], "reliability across nodes (MariaDB)", () => {
	const namespace = `rel${randomBytes(3).toString("hex")}`;
	const nodes = new Map<string, ShopNode>();
	const specs = new Map<string, NodeSpec>();
	let db: PrivateMariaDb;
	let env: Record<string, string>;
	let observer: ServiceBroker;
	let gateways: string[];
	let send: ReturnType<typeof balancedClients>;
	let admin: string;
	const customers: string[] = [];

	function launch(spec: NodeSpec): ShopNode {
		specs.set(spec.name, spec);
		const node = startNode(spec, { env, nodeIdPrefix: `${namespace}-` });
		nodes.set(spec.name, node);
		return node;
	}

	async function restart(name: string): Promise<void> {
		launch(specs.get(name)!);
		await observer.waitForServices(specs.get(name)!.services, 30_000);
	}

	async function newProduct(stock: number): Promise<string> {
		const sku = `R-${randomBytes(4).toString("hex")}`;
		const product = await client(gateways[0]).post("/api/products", { name: sku, price: 250, category: "test", sku }, { token: admin });
		expect(product.status).toBe(201);
		await eventually(async () => (await client(gateways[0]).put(`/api/inventory/${product.body.id}`, { available: stock }, { token: admin })).status === 200, 10_000);
		return product.body.id;
	}

	function order(productId: string, i: number, headers?: Record<string, string>) {
		return send(c => c.post("/api/orders", { items: [{ productId, quantity: 1 }], paymentToken: "tok_visa" }, { token: customers[i % customers.length], headers }));
	}

	async function settledAudit(timeoutMs = 30_000) {
		let last = await auditShop(observer);
		const deadline = Date.now() + timeoutMs;
		while (!last.ok && Date.now() < deadline) {
			await new Promise(r => setTimeout(r, 500));
			last = await auditShop(observer);
		}
		return last;
	}

	beforeAll(async () => {
		await buildDist();
		db = new PrivateMariaDb(await freePort());
		await db.init();
		const dbUri = `${db.url}/emporium`;
		const bootstrap = new (await import("sequelize")).Sequelize(`${db.url}/mysql`, { logging: false });
		await bootstrap.query("CREATE DATABASE emporium");
		await bootstrap.close();

		gateways = [];
		env = {
			NAMESPACE: namespace,
			TRANSPORTER: SERVERS.nats.url,
			EVENTS_URL: SERVERS.nats.url,
			CACHER: SERVERS.redis.url,
			DB_URI: dbUri,
			METRICS: "false",
			SEED: "false",
			LOGLEVEL: "warn",
			ORDER_LEASE_SECONDS: "4",
			REQUEST_TIMEOUT_MS: "5000",
		};
		const [p1, p2] = [await freePort(), await freePort()];
		gateways = [`http://127.0.0.1:${p1}`, `http://127.0.0.1:${p2}`];
		launch({ name: "api-1", services: ["api"], env: { PORT: String(p1) } });
		launch({ name: "api-2", services: ["api"], env: { PORT: String(p2) } });
		for (const name of ["orders-1", "orders-2"]) launch({ name, services: ["orders"] });
		for (const name of ["inventory-1", "inventory-2"]) launch({ name, services: ["inventory"] });
		for (const name of ["payments", "products", "users", "notifications"]) launch({ name, services: [name] });

		observer = new ServiceBroker({ namespace, nodeID: `${namespace}-observer`, transporter: SERVERS.nats.url, logger: false, heartbeatInterval: 3, heartbeatTimeout: 9 });
		await observer.start();
		await observer.waitForServices(["orders", "inventory", "payments", "products", "users", "notifications"], 60_000);
		for (const url of gateways) await eventually(async () => (await client(url).get("/health/ready")).status === 200, 30_000, 200);
		send = balancedClients(gateways);
		admin = (await client(gateways[0]).login("admin@example.com", "admin-password")).token;
		for (let i = 0; i < 8; i++) customers.push((await client(gateways[i % 2]).register(`c${i}-${namespace}@example.com`, "customer-password")).token);
	}, 180_000);

	afterEach(({ task }) => {
		if (task.result?.state !== "fail") return;
		for (const node of nodes.values()) console.log(`--- ${node.name} (${node.running() ? "running" : "exited"})\n${node.recentOutput().split("\n").slice(-25).join("\n")}`);
	});

	afterAll(async () => {
		await stopNodes(nodes.values(), "SIGKILL");
		await observer?.stop();
		await db?.destroy();
	});

	it("1. sells exactly the stock: 1,000 concurrent attempts for 100 units through two gateways", async () => {
		const productId = await newProduct(100);
		const started = Date.now();
		const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => order(productId, i)));
		const report = summarise(results.map(r => ({ status: r.status, type: r.body?.type, ms: r.ms })));
		console.log(`[no oversell, MariaDB] ${JSON.stringify(report)} in ${Date.now() - started} ms`);
		expect(report.statuses).toEqual({ 201: 100, 409: 900 });
		expect(report.types).toEqual({ OUT_OF_STOCK: 900 });
		expect((await client(gateways[1]).get(`/api/inventory/${productId}`)).body).toMatchObject({ available: 0, reserved: 0 });
		const audit = await settledAudit();
		console.log(`[no oversell, MariaDB] invariants ${JSON.stringify(audit.counts)}`);
		expect(audit.violations).toEqual([]);
	}, 120_000);

	it("2. one Idempotency-Key: 20 concurrent requests over both gateways give one order and one charge", async () => {
		const productId = await newProduct(10);
		const headers = { "Idempotency-Key": `idem-${namespace}` };
		const token = customers[0];
		const results = await Promise.all(Array.from({ length: 20 }, () => send(c => c.post("/api/orders", { items: [{ productId, quantity: 1 }], paymentToken: "tok_visa" }, { token, headers }))));
		const ids = new Set(results.map(r => r.body.id));
		console.log(`[idempotency] statuses ${JSON.stringify(summarise(results.map(r => ({ status: r.status, ms: r.ms }))).statuses)}, distinct orders ${ids.size}`);
		expect(results.every(r => r.status === 201)).toBe(true);
		expect(ids.size).toBe(1);
		const payments = await client(gateways[0]).get(`/api/payments?orderId=${[...ids][0]}`, { token });
		expect(payments.body.rows).toMatchObject([{ status: "SUCCEEDED" }]);
		expect((await client(gateways[0]).get(`/api/inventory/${productId}`)).body.available).toBe(9);
	}, 60_000);

	it("3. kill -9 of an orders node with 200 orders in flight: every order ends CONFIRMED or FAILED", async () => {
		const productId = await newProduct(150);
		const inFlight = Promise.all(Array.from({ length: 200 }, (_, i) => order(productId, i).catch(err => ({ status: 0, body: { type: String(err) }, ms: 0 }))));
		await new Promise(r => setTimeout(r, 150));
		const killed = nodes.get("orders-1")!;
		await killed.stop("SIGKILL");
		const killedAt = Date.now();
		try {
			// Asked of the surviving orders node: the dead one stays in the registry until its heartbeat times out.
			const survivor = nodes.get("orders-2")!.nodeID;
			const settled = await eventually(async () => {
				const orders = await observer.call<OrderRow[], Record<string, never>>("orders.audit", {}, { nodeID: survivor });
				return orders.every(o => o.status !== "PENDING" && o.settled) ? orders : null;
			}, 30_000, 250);
			const byStatus = summarise(settled.map(o => ({ status: o.status as unknown as number, ms: 0 }))).statuses;
			console.log(`[crash] every order settled ${Date.now() - killedAt} ms after the kill: ${JSON.stringify(byStatus)}`);
			const results = await inFlight;
			console.log(`[crash] client view ${JSON.stringify(summarise(results.map(r => ({ status: r.status, type: r.body?.type, ms: r.ms }))).statuses)}`);
			await eventually(async () => !observer.registry.nodes.get(killed.nodeID)?.available, 30_000, 250);
			const audit = await settledAudit();
			expect(audit.violations).toEqual([]);
			expect((await client(gateways[0]).get(`/api/inventory/${productId}`)).body.reserved).toBe(0);
		} finally {
			await restart("orders-1");
		}
	}, 120_000);

	it("5. circuit breaker: a hanging payments node makes orders fail fast with 503 and release stock, then recover", async () => {
		const productId = await newProduct(500);
		const payments = nodes.get("payments")!;
		payments.child.kill("SIGSTOP");
		try {
			// Enough slow failures on both orders nodes to open their breakers for payments.charge.
			const tripping = await Promise.all(Array.from({ length: 30 }, (_, i) => order(productId, i)));
			console.log(`[breaker] while payments hangs: ${JSON.stringify(summarise(tripping.map(r => ({ status: r.status, type: r.body?.type, ms: r.ms }))))}`);
			expect(tripping.every(r => r.status === 503 && r.body.type === "PAYMENT_UNAVAILABLE")).toBe(true);

			const fast = [];
			for (let i = 0; i < 20; i++) fast.push(await order(productId, i));
			const report = summarise(fast.map(r => ({ status: r.status, type: r.body?.type, ms: r.ms })));
			console.log(`[breaker] once open: ${JSON.stringify(report)}`);
			expect(report.statuses).toEqual({ 503: 20 });
			expect(report.types).toEqual({ PAYMENT_UNAVAILABLE: 20 });
			expect(report.latencyMs.p90).toBeLessThan(50);
			expect((await client(gateways[0]).get(`/api/inventory/${productId}`)).body).toMatchObject({ available: 500, reserved: 0 });
		} finally {
			payments.child.kill("SIGCONT");
		}
		const resumedAt = Date.now();
		await eventually(async () => (await order(productId, 0)).status === 201, 30_000, 500);
		console.log(`[breaker] orders succeed again ${Date.now() - resumedAt} ms after payments resumed`);
		// Each orders node has its own breaker: wait until both have closed theirs.
		let inARow = 0;
		await eventually(async () => {
			inARow = (await order(productId, 1)).status === 201 ? inARow + 1 : 0;
			return inARow >= 10;
		}, 30_000, 100);
		const audit = await settledAudit();
		expect(audit.violations).toEqual([]);
	}, 120_000);

	it("6. SIGTERM to an orders node and a gateway under load: in-flight requests finish, no 5xx", async () => {
		const productId = await newProduct(100_000);
		const load = sustain(6, 8000, (w, i) => order(productId, w * 1000 + i));
		await new Promise(r => setTimeout(r, 2000));
		const ordersExit = nodes.get("orders-2")!.stop("SIGTERM");
		await new Promise(r => setTimeout(r, 2000));
		const gatewayExit = nodes.get("api-2")!.stop("SIGTERM");
		try {
			const results = await load;
			const report = summarise(results.map(r => ({ status: r.status, type: r.body?.type, ms: r.ms })));
			console.log(`[graceful] ${JSON.stringify(report)}; exit codes orders-2=${await ordersExit} api-2=${await gatewayExit}`);
			expect(Object.keys(report.statuses)).toEqual(["201"]);
			expect(await ordersExit).toBe(0);
			expect(await gatewayExit).toBe(0);
		} finally {
			await ordersExit;
			await gatewayExit;
			await restart("orders-2");
			await restart("api-2");
			await eventually(async () => (await client(gateways[1]).get("/health/ready")).status === 200, 30_000, 200);
		}
	}, 120_000);

	it("7. database outage of 5 s under load: 503s, never a 500 or a hang, recovery on its own, nothing half-written", async () => {
		const productId = await newProduct(100_000);
		const load = sustain(6, 12_000, (w, i) => order(productId, w * 1000 + i));
		await new Promise(r => setTimeout(r, 2000));
		await db.kill();
		const downAt = Date.now();
		await new Promise(r => setTimeout(r, 5000));
		await db.start();
		console.log(`[db outage] MariaDB was down ${Date.now() - downAt} ms`);
		const results = await load;
		const report = summarise(results.map(r => ({ status: r.status, type: r.body?.type, ms: r.ms })));
		console.log(`[db outage] ${JSON.stringify(report)}`);
		expect(report.statuses["500"]).toBeUndefined();
		expect(Object.keys(report.statuses).sort()).toEqual(expect.arrayContaining(["201", "503"]));
		expect(report.latencyMs.max).toBeLessThan(7000);
		// Recovered by itself: the last requests of the run went through.
		expect(results.slice(-6).every(r => r.status === 201)).toBe(true);
		const audit = await settledAudit(40_000);
		console.log(`[db outage] invariants ${JSON.stringify(audit.counts)}`);
		expect(audit.violations).toEqual([]);
	}, 150_000);
});
