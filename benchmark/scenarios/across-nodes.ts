import { randomBytes } from "node:crypto";
import { dropDatabase, ensureDatabase, freePort, startNode, stopNodes, type ShopNode } from "../../scripts/nodes";
import { dropNamespace } from "../../scripts/nodes";
import { joinShop, waitForShop } from "../cluster";
import { cpuDuring, memoryOf, serverPids } from "../processes";
import type { GroupContext, GroupResult, ProcessStats } from "../types";
import { ADMIN, METRICS_ANY_PORT, SERVER_URLS, cpuProfileEnv, productionEnv, uniqueNamespace } from "./env";
import { EXTRA_ACTORS, PATH_KEYS, auditAfterLoad, runPaths, seedShop } from "./shop";

/** Let the nodes finish starting (timers, first heartbeats, pools) before their idle RSS is read. */
const SETTLE_MS = 2000;
/** How long the idle CPU of each node is measured (timers, heartbeats, relays, metrics). */
const IDLE_MS = 3000;

/** What `across-nodes-scaled` measures. */
export const SCALED_PATHS = ["orderPlacement"];

/** Two orders and two inventory nodes in `across-nodes-scaled` (the busiest actors), one of every other. */
const SCALED: Record<string, number> = { orders: 2, inventory: 2 };

/**
 * One actor per process, as `npm run cluster` runs them: gateway, users (auth), products, inventory, payments, orders,
 * shipping and promotions over the local NATS (calls), domain events over Kafka (EVENTS_URL=kafka://, the run's
 * Kafka; JetStream with `--events nats`), MariaDB in a throwaway database, and the Redis cacher; carts when a measured
 * path needs it (checkout from a cart). Notifications only with `withNotifications`.
 * `across-nodes-scaled` runs two orders and two inventory nodes and measures order placement only: on two cores it
 * shows what the extra nodes cost and which process saturates first, not a speed-up.
 */
export async function runAcrossNodes(
	ctx: GroupContext,
	group: "across-nodes" | "across-nodes-scaled" = "across-nodes",
): Promise<GroupResult> {
	const scaled = group === "across-nodes-scaled";
	const paths = scaled ? SCALED_PATHS : ctx.paths;
	const kafka = ctx.events === "kafka" ? await ctx.kafka() : null;
	const namespace = uniqueNamespace();
	const database = `${SERVER_URLS.mariadb}/emporium_bench_${randomBytes(4).toString("hex")}`;
	await ensureDatabase(database);
	const port = await freePort();
	const actors = [
		"api",
		"users",
		"products",
		"inventory",
		"payments",
		"orders",
		// An order to an address is priced with its country's tax (and a cart checkout with a shipping method).
		"shipping",
		"promotions",
		...new Set(PATH_KEYS.filter(key => !paths || paths.includes(key)).flatMap(key => EXTRA_ACTORS[key] ?? [])),
		...(ctx.withNotifications ? ["notifications"] : []),
	];
	const nodeSpecs = actors.flatMap(actor => {
		const count = scaled ? (SCALED[actor] ?? 1) : 1;
		return Array.from({ length: count }, (_, i) => ({ actor, name: count > 1 ? `${actor}-${i + 1}` : actor }));
	});
	const shared = {
		...productionEnv(namespace),
		TRANSPORTER: SERVER_URLS.nats,
		EVENTS_URL: kafka?.url ?? SERVER_URLS.nats,
		CACHER: SERVER_URLS.redis,
		DB_URI: database,
	};
	ctx.log(
		`${group}: starting ${nodeSpecs.length} nodes (namespace ${namespace}, ` +
			`database ${database.split("/").pop()}, events over ${shared.EVENTS_URL})`,
	);
	const nodes: ShopNode[] = [];
	for (const { actor, name } of nodeSpecs) {
		const env = {
			METRICS_PORT: METRICS_ANY_PORT,
			...(actor === "api" ? { PORT: String(port) } : {}),
			...cpuProfileEnv(ctx.cpuProfileDir, `${group}-${name}`),
		};
		nodes.push(
			startNode(
				{ name, services: [actor], env },
				{ env: shared, nodeIdPrefix: `${namespace}-`, onLine: ctx.onNodeLine },
			),
		);
	}
	const auditor = await joinShop(namespace, SERVER_URLS.nats);
	try {
		await waitForShop(auditor, nodes, 120_000);
		await new Promise(resolve => setTimeout(resolve, SETTLE_MS));
		const pids = Object.fromEntries(nodes.map(node => [node.name, node.child.pid!]));
		const { cpuMs: idleCpu } = await cpuDuring(pids, () => new Promise(resolve => setTimeout(resolve, IDLE_MS)));
		const idle = new Map(nodes.map(node => [node.name, memoryOf(node.child.pid!)?.rssMB ?? null]));
		const seeded = await seedShop(`http://127.0.0.1:${port}`, ADMIN).catch((err: Error) => {
			throw new Error(`${err.message}\n${nodes.map(n => `--- ${n.name} ---\n${n.recentOutput()}`).join("\n")}`);
		});
		await ctx.ensureLimit(seeded.productBody);
		const servers = { ...serverPids(), ...(kafka?.pid != null ? { kafka: kafka.pid } : {}) };
		const scenarios = await runPaths(ctx, group, seeded, pids, { servers, paths });
		const invariants = await auditAfterLoad(auditor, group);
		const processes: ProcessStats[] = nodes.map(node => ({
			group,
			name: node.name,
			services: node.services,
			idleRssMB: idle.get(node.name) ?? null,
			idleCpuPercent: idleCpu[node.name] != null ? Math.round((idleCpu[node.name] / IDLE_MS) * 1000) / 10 : null,
			peakRssMB: memoryOf(node.child.pid!)?.peakMB ?? NaN,
		}));
		return { scenarios, processes, invariants };
	} finally {
		await auditor.stop();
		await stopNodes(nodes);
		await dropNamespace(namespace, SERVER_URLS.nats, SERVER_URLS.redis).catch((err: Error) =>
			ctx.log(`could not drop namespace ${namespace}: ${err.message}`),
		);
		await kafka
			?.dropNamespace(namespace)
			.catch((err: Error) => ctx.log(`could not drop namespace ${namespace} on Kafka: ${err.message}`));
		await dropDatabase(database).catch((err: Error) => ctx.log(`could not drop ${database}: ${err.message}`));
	}
}
