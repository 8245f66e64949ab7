import { randomBytes } from "node:crypto";
import { Sequelize } from "sequelize";
import { ensureDatabase, freePort, startNode, stopNodes, type ShopNode } from "../../scripts/nodes";
import { dropNamespace } from "../../scripts/nodes";
import { joinShop, waitForShop } from "../cluster";
import { cpuDuring, memoryOf } from "../processes";
import type { GroupContext, GroupResult, ProcessStats } from "../types";
import { ADMIN, SERVER_URLS, cpuProfileEnv, productionEnv, uniqueNamespace } from "./env";
import { EXTRA_ACTORS, PATH_KEYS, auditAfterLoad, runPaths, seedShop } from "./shop";

/** Let the nodes finish starting (timers, first heartbeats, pools) before their idle RSS is read. */
const SETTLE_MS = 2000;
/** How long the idle CPU of each node is measured (timers, heartbeats, relays, metrics). */
const IDLE_MS = 3000;

async function dropDatabase(uri: string): Promise<void> {
	const url = new URL(uri);
	const name = url.pathname.slice(1);
	url.pathname = "/";
	const admin = new Sequelize(url.toString(), { logging: false });
	try {
		await admin.query(`DROP DATABASE IF EXISTS \`${name}\``);
	} finally {
		await admin.close();
	}
}

/**
 * One actor per process, as `npm run cluster` runs them (one node each, not two): gateway, users (auth), products,
 * inventory, payments and orders over the local NATS (calls, and domain events through JetStream), MariaDB in a
 * throwaway database, and the Redis cacher; carts when a measured path needs it (checkout from a cart).
 * Notifications only with `withNotifications`.
 */
export async function runAcrossNodes(ctx: GroupContext): Promise<GroupResult> {
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
		...new Set(PATH_KEYS.filter(key => !ctx.paths || ctx.paths.includes(key)).flatMap(key => EXTRA_ACTORS[key] ?? [])),
		...(ctx.withNotifications ? ["notifications"] : []),
	];
	const shared = {
		...productionEnv(namespace),
		TRANSPORTER: SERVER_URLS.nats,
		EVENTS_URL: SERVER_URLS.nats,
		CACHER: SERVER_URLS.redis,
		DB_URI: database,
	};
	ctx.log(
		`across-nodes: starting ${actors.length} nodes (namespace ${namespace}, database ${database.split("/").pop()})`,
	);
	const nodes: ShopNode[] = [];
	for (const actor of actors) {
		const env = {
			METRICS_PORT: String(await freePort()),
			...(actor === "api" ? { PORT: String(port) } : {}),
			...cpuProfileEnv(ctx.cpuProfileDir, `across-nodes-${actor}`),
		};
		nodes.push(
			startNode(
				{ name: actor, services: [actor], env },
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
		const scenarios = await runPaths(ctx, "across-nodes", seeded, pids);
		const invariants = await auditAfterLoad(auditor, "across-nodes");
		const processes: ProcessStats[] = nodes.map(node => ({
			group: "across-nodes",
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
		await dropDatabase(database).catch((err: Error) => ctx.log(`could not drop ${database}: ${err.message}`));
	}
}
