import type { Service, ServiceBroker } from "moleculer";
import { ACTORS } from "../config";

/**
 * Remote services an actor cannot do its main job without. A node hosting the actor is not ready while one of
 * them has no available node. Secondary paths (an admin action, a listing) do not count.
 */
export const REQUIRED_SERVICES: Record<string, readonly string[]> = {
	api: ACTORS,
	orders: ["products", "inventory", "payments"],
};

const CHECK_TIMEOUT_MS = 2000;

export interface Readiness {
	status: "ready" | "not ready";
	nodeID: string;
	/** "ok" or what is wrong, per check. */
	checks: Record<string, string>;
}

function withTimeout(check: Promise<boolean>): Promise<boolean> {
	let timer: NodeJS.Timeout;
	const timeout = new Promise<boolean>(resolve => (timer = setTimeout(() => resolve(false), CHECK_TIMEOUT_MS)));
	return Promise.race([check.catch(() => false), timeout]).finally(() => clearTimeout(timer));
}

type LocalService = Service & { storageReachable?: () => Promise<boolean> };

/**
 * This node's readiness: the broker runs (so its local services have started) and is connected to the
 * transporter, each local database and the Redis cacher answer, and the remote services its actors require
 * are available.
 */
export async function nodeReadiness(broker: ServiceBroker): Promise<Readiness> {
	const checks: Record<string, string> = {};
	checks.broker = broker.started && !(broker as { stopping?: boolean }).stopping ? "ok" : "not started";
	const transit = (broker as { transit?: { connected: boolean } }).transit;
	if (transit) checks.transporter = transit.connected ? "ok" : "disconnected";

	const services = (broker.services as LocalService[]).filter(svc => !svc.name.startsWith("$"));
	await Promise.all(
		services
			.filter(svc => typeof svc.storageReachable === "function")
			.map(async svc => {
				checks[`database.${svc.name}`] = (await withTimeout(svc.storageReachable!())) ? "ok" : "unreachable";
			}),
	);

	const cacheClient = (broker.cacher as { client?: { ping?: () => Promise<unknown> } } | undefined)?.client;
	if (cacheClient?.ping) checks.cache = (await withTimeout(cacheClient.ping().then(() => true))) ? "ok" : "unreachable";

	const registry = broker.registry as unknown as { hasService(name: string): boolean };
	const required = new Set(services.flatMap(svc => REQUIRED_SERVICES[svc.name] ?? []));
	const missing = [...required].filter(name => !registry.hasService(name)).sort();
	checks.services = missing.length ? `missing: ${missing.join(", ")}` : "ok";

	const ready = Object.values(checks).every(value => value === "ok");
	return { status: ready ? "ready" : "not ready", nodeID: broker.nodeID, checks };
}
