/**
 * What the measured CPU cost of an order says about serving more orders: for each process of the across-nodes run,
 * how many cores a given order rate needs, and so how many single-threaded actor nodes. A linear model: it holds
 * while nothing but CPU runs out (a hot stock row, a database's commits or a partition's consumer do not scale with
 * nodes; README "Scaling" says where those bind first).
 */

/** A node is planned to run at most this busy, leaving room for bursts, GC and the relays' timers. */
export const PLANNED_UTILISATION = 0.7;

/** Processes that use more than one core (servers); every other process is an actor node (one JS thread). */
const SERVERS = new Set(["mariadbd", "nats-server", "kafka", "redis-server"]);

export interface CapacityRow {
	process: string;
	/** CPU ms one order costs this process (measured). */
	cpuMsPerOrder: number;
	/** Cores needed at each planned rate, at PLANNED_UTILISATION. */
	cores: number[];
	/** Actor nodes at each rate (one core each); null for the servers, which are sized in cores. */
	nodes: (number | null)[] | null;
}

/** Cores for `ordersPerSecond` at `cpuMsPerOrder`, one decimal, rounded up. */
export function coresFor(ordersPerSecond: number, cpuMsPerOrder: number): number {
	const tenths = ((ordersPerSecond * cpuMsPerOrder) / 1000 / PLANNED_UTILISATION) * 10;
	// Rounded first to drop floating-point noise (7 ms at 1000/s is 10 cores, not 10.1).
	return Math.ceil(Number(tenths.toFixed(6))) / 10;
}

/**
 * One row per measured process (the load generator left out), busiest first, with the cores and nodes each rate of
 * `rates` (orders/s) needs.
 */
export function capacityPlan(cpuMsPerOrder: Record<string, number>, rates: readonly number[]): CapacityRow[] {
	return Object.entries(cpuMsPerOrder)
		.filter(([process]) => process !== "load generator")
		.sort(([, a], [, b]) => b - a)
		.map(([process, ms]) => {
			const cores = rates.map(rate => coresFor(rate, ms));
			return {
				process,
				cpuMsPerOrder: ms,
				cores,
				nodes: SERVERS.has(process) ? null : cores.map(c => Math.max(1, Math.ceil(c))),
			};
		});
}
