import { ACTORS } from "../../lib/config";
import { freePort, startNode, type ShopNode } from "../../scripts/nodes";
import { joinShop, waitForShop } from "../cluster";
import { memoryOf } from "../processes";
import type { GroupContext, GroupResult } from "../types";
import { ADMIN, METRICS_ANY_PORT, SERVER_URLS, cpuProfileEnv, productionEnv, uniqueNamespace } from "./env";
import { auditAfterLoad, runPaths, seedShop } from "./shop";

/** Every actor and the gateway. */
export const ALL_ACTORS = ["api", ...ACTORS];

/**
 * The whole shop in one process on the in-memory default (SQLite stores, memory cacher, in-process event bus),
 * started like `npm start` from dist/. Its only transporter link is NATS, idle under load: the benchmark's audit
 * broker joins through it to check the invariants afterwards (local calls never leave the process).
 * `one-process-no-metrics` runs it with METRICS=false: not a target, it shows what the built-in metrics cost.
 */
export async function runOneProcess(
	ctx: GroupContext,
	group: "one-process" | "one-process-no-metrics" = "one-process",
): Promise<GroupResult> {
	const namespace = uniqueNamespace();
	const port = await freePort();
	const metrics = group === "one-process" ? { METRICS_PORT: METRICS_ANY_PORT } : { METRICS: "false" };
	const env = {
		...productionEnv(namespace),
		TRANSPORTER: SERVER_URLS.nats,
		// The transporter only lets the auditor in: every actor, so every consumer, runs in the one shop process.
		EVENTS_IN_PROCESS: "true",
		PORT: String(port),
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
		const scenarios = await runPaths(ctx, group, seeded, { shop: shop.child.pid! });
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
	}
}
