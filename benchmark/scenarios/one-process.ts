import { randomBytes } from "node:crypto";
import { ACTORS } from "../../lib/config";
import { dropDatabase, ensureDatabase, freePort, startNode, type ShopNode } from "../../scripts/nodes";
import { joinShop, waitForShop } from "../cluster";
import { memoryOf, postgresPids } from "../processes";
import type { GroupContext, GroupResult } from "../types";
import { ADMIN, METRICS_ANY_PORT, SERVER_URLS, cpuProfileEnv, productionEnv, uniqueNamespace } from "./env";
import { auditAfterLoad, runPaths, seedShop } from "./shop";

/** The paths whose requests write to the stores (the others read the cache): all `one-process-postgres` measures. */
export const SQL_PATHS: string[] = ["orderPlacement", "cartCheckout"];

/** Every actor and the gateway. */
export const ALL_ACTORS = ["api", ...ACTORS];

/**
 * The whole shop in one process on the in-memory default (SQLite stores, memory cacher, in-process event bus),
 * started like `npm start` from dist/. Its only transporter link is NATS, idle under load: the benchmark's audit
 * broker joins through it to check the invariants afterwards (local calls never leave the process).
 * `one-process-no-metrics` runs it with METRICS=false: not a target, it shows what the built-in metrics cost.
 * `one-process-postgres` stores in a throwaway PostgreSQL database and measures the paths that write (orders and cart
 * checkout; the reads are cache hits either way), with PostgreSQL's CPU (every one of its processes) beside the shop's.
 */
export async function runOneProcess(
	ctx: GroupContext,
	group: "one-process" | "one-process-no-metrics" | "one-process-postgres" = "one-process",
): Promise<GroupResult> {
	const namespace = uniqueNamespace();
	const port = await freePort();
	const metrics = group === "one-process-no-metrics" ? { METRICS: "false" } : { METRICS_PORT: METRICS_ANY_PORT };
	const database =
		group === "one-process-postgres"
			? `${SERVER_URLS.postgres}/emporium_bench_${randomBytes(4).toString("hex")}`
			: null;
	if (database) await ensureDatabase(database);
	const env = {
		...productionEnv(namespace),
		TRANSPORTER: SERVER_URLS.nats,
		// The transporter only lets the auditor in: every actor, so every consumer, runs in the one shop process.
		EVENTS_IN_PROCESS: "true",
		PORT: String(port),
		...(database ? { DB_URI: database } : {}),
		...metrics,
		...cpuProfileEnv(ctx.cpuProfileDir, `${group}-shop`),
	};
	ctx.log(`${group}: starting the shop (namespace ${namespace})`);
	const shop: ShopNode = startNode(
		{ name: "shop", services: ALL_ACTORS },
		{ env, nodeIdPrefix: `${namespace}-`, onLine: ctx.onNodeLine },
	);
	const auditor = await joinShop(namespace, SERVER_URLS.nats);
	try {
		await waitForShop(auditor, [shop], 60_000);
		const seeded = await seedShop(`http://127.0.0.1:${port}`, ADMIN).catch((err: Error) => {
			throw new Error(`${err.message}\n--- shop output ---\n${shop.recentOutput()}`);
		});
		const idle = memoryOf(shop.child.pid!);
		await ctx.ensureLimit(seeded.productBody);
		const onPostgres = database
			? {
					servers: { postgres: postgresPids },
					paths: (ctx.paths ?? SQL_PATHS).filter(key => SQL_PATHS.includes(key)),
					postgres: database,
				}
			: {};
		const scenarios = await runPaths(ctx, group, seeded, { shop: shop.child.pid! }, onPostgres);
		const invariants = await auditAfterLoad(auditor, group);
		const memory = memoryOf(shop.child.pid!);
		return {
			scenarios,
			invariants,
			processes: [
				{ group, name: "shop", services: ALL_ACTORS, idleRssMB: idle?.rssMB ?? null, peakRssMB: memory?.peakMB ?? NaN },
			],
		};
	} finally {
		await auditor.stop();
		await shop.stop();
		if (database)
			await dropDatabase(database).catch((err: Error) => ctx.log(`could not drop ${database}: ${err.message}`));
	}
}
