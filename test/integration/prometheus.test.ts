import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ROOT, freePort } from "../../scripts/nodes";
import { dropNamespace } from "../support/cluster";
import { client, eventually } from "../support/http";
import { describeWithInfra } from "../support/infra";
import { lintMetrics, promtool, startPrometheus, type PrometheusServer } from "../support/prometheus";
import { SERVERS } from "../support/servers";
import { startShop, type Shop, THREE_NODES } from "../support/shop";

/**
 * The real Prometheus (Debian's 2.42 and its promtool) over a local three-node shop (NATS calls and JetStream
 * events): the configuration and the alerting rules pass promtool, every node's /metrics passes
 * `promtool check metrics` for the shop's own series, every query of the Grafana dashboard returns data after
 * traffic, and the alerts that can fire within a test do.
 */
const DASHBOARD = path.join(ROOT, "docker/grafana/dashboards/emporium.json");
const RULES = path.join(ROOT, "infra/prometheus/rules.yml");
/** Dashboard queries with no series on this cluster, and why. */
const NO_DATA_HERE: Record<string, string> = {
	kafka_consumergroup_lag: "needs the Kafka lag exporter of the Compose file",
	moleculer_circuit_breaker_opened_active: "exists once a breaker has opened",
	moleculer_circuit_breaker_half_opened_active: "exists once a breaker has opened",
	'errorCode=~"5.."': "has series once an action failed with a 5xx",
};

interface Panel {
	title?: string;
	targets?: { expr?: string }[];
	panels?: Panel[];
}

describeWithInfra(["prometheus"], "the dashboard and alerts on a real Prometheus scraping a local cluster", () => {
	const namespace = `pm${randomBytes(4).toString("hex")}`;
	const nodes: Shop[] = [];
	const metricsPorts: number[] = [];
	let prometheus: PrometheusServer;

	beforeAll(async () => {
		const env = {
			TRANSPORTER: SERVERS.nats.url,
			EVENTS_URL: SERVERS.nats.url,
			NAMESPACE: namespace,
			METRICS: "true",
			CACHER: undefined,
			DB_URI: undefined,
		};
		for (const [name, services] of Object.entries(THREE_NODES)) {
			const port = await freePort();
			metricsPorts.push(port);
			nodes.push(
				await startShop({
					env: { ...env, NODEID: `${namespace}-${name}`, SEED: String(name === "stock"), METRICS_PORT: String(port) },
					services,
				}),
			);
		}
		prometheus = await startPrometheus({
			targets: metricsPorts.map(p => `127.0.0.1:${p}`),
			scrapeInterval: "1s",
			ruleFiles: [RULES],
		});
	}, 120_000);

	afterAll(async () => {
		await prometheus?.dispose();
		for (const node of nodes) await node.stop();
		await dropNamespace(namespace);
	}, 60_000);

	it("passes promtool check config and check rules", () => {
		const checked = promtool(["check", "config", prometheus.config]);
		expect(checked.code, checked.output).toBe(0);
		const rules = promtool(["check", "rules", RULES]);
		expect(rules.code, rules.output).toBe(0);
		expect(rules.output).toContain("SUCCESS: 5 rules found");
	});

	it("runs every dashboard query on the scraped cluster after traffic, fires the alerts that can fire", async () => {
		const api = client(nodes[0].url);
		await eventually(async () => (await api.get("/health/ready")).status === 200, 30_000, 200);
		const admin = (await api.login("admin@example.com", "admin-password")).token;
		const { token } = await api.register(`prom-${namespace}@example.com`, "customer-password");
		const product = await api.post<{ id: string }>(
			"/api/products",
			{ name: "Scraped", price: 700, category: "test", sku: `P-${namespace}` },
			{ token: admin },
		);
		await eventually(
			async () =>
				(await api.put(`/api/inventory/${product.body.id}`, { available: 2 }, { token: admin })).status === 200,
		);
		const items = [{ productId: product.body.id, quantity: 1 }];
		for (const paymentToken of ["tok_visa", "tok_declined", "tok_visa", "tok_visa"])
			await api.post("/api/orders", { items, paymentToken }, { token });
		// A poison event: its handler refuses it, it is retried and then dead-lettered.
		await nodes[1].broker.sendToChannel("order.confirmed", { type: "order.confirmed", data: {} });

		// Every node is scraped; promtool finds nothing to say about the shop's own series on any of them.
		await eventually(async () => (await prometheus.query('count(up{job="emporium"} == 1)')).length > 0, 20_000, 250);
		const flagged: string[] = [];
		for (const port of metricsPorts) {
			const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
			flagged.push(...lintMetrics(text));
		}
		expect(flagged.filter(line => line.startsWith("emporium_"))).toEqual([]);
		const moleculerKinds = [...new Set(flagged.map(l => l.replace(/^\S+ /, "")))];
		process.stdout.write(
			`[prometheus] promtool on Moleculer's built-in series: ${flagged.length} lines, ` +
				`${JSON.stringify(moleculerKinds)}\n`,
		);

		const expressions: string[] = [];
		const walk = (panels: Panel[]) => {
			for (const panel of panels) {
				for (const target of panel.targets ?? []) if (target.expr) expressions.push(target.expr);
				walk(panel.panels ?? []);
			}
		};
		walk((JSON.parse(await readFile(DASHBOARD, "utf8")) as { panels: Panel[] }).panels);
		expect(expressions.length).toBeGreaterThan(10);

		// rate() needs two scrapes after the traffic, and the dead letter its retries.
		const empty: string[] = [];
		await eventually(
			async () => {
				empty.length = 0;
				for (const expr of expressions) {
					const expected = Object.keys(NO_DATA_HERE).find(series => expr.includes(series));
					const result = await prometheus.query(expr.replace(/\$__range/g, "5m"));
					if (!expected && result.length === 0) empty.push(expr);
				}
				return empty.length === 0;
			},
			20_000,
			1000,
		).catch(() => undefined);
		expect(empty).toEqual([]);
		process.stdout.write(
			`[prometheus] ${expressions.length} dashboard queries: ` +
				`${expressions.filter(e => !Object.keys(NO_DATA_HERE).some(s => e.includes(s))).length} with data; ` +
				`without data here: ${JSON.stringify(NO_DATA_HERE)}\n`,
		);

		const alerts = async () => {
			const res = (await (await fetch(`${prometheus.server.url}/api/v1/alerts`)).json()) as {
				data: { alerts: { labels: { alertname: string }; state: string }[] };
			};
			return new Map(res.data.alerts.map(a => [a.labels.alertname, a.state]));
		};
		// A counter series appears with its first increment, which rate() cannot see: one more declined order now that
		// the FAILED series is scraped. A failure rate over 20 % is then pending for its 5 minutes; a dead letter fires.
		await api.post("/api/orders", { items, paymentToken: "tok_declined" }, { token });
		const states = await eventually(
			async () => {
				const s = await alerts();
				return s.get("EmporiumEventsDeadLettered") === "firing" && s.get("EmporiumOrderFailureRate") ? s : null;
			},
			20_000,
			500,
		);
		expect(states.get("EmporiumOrderFailureRate")).toBe("pending");
		// A node gone: its scrape fails and the NodeDown alert starts its minute.
		await nodes[2].stop();
		const down = await eventually(async () => (await alerts()).get("EmporiumNodeDown"), 15_000, 500);
		expect(down).toBe("pending");
		process.stdout.write(`[prometheus] alerts: ${JSON.stringify(Object.fromEntries(await alerts()))}\n`);
	}, 120_000);
});
