import { client, type Client, type Response } from "./http";

/** What a load run saw: status counts, latency percentiles and any transport-level failure. */
export interface LoadReport {
	sent: number;
	statuses: Record<string, number>;
	types: Record<string, number>;
	latencyMs: { p50: number; p90: number; p99: number; max: number };
	connectionErrors: number;
}

export function percentile(sorted: number[], p: number): number {
	if (sorted.length === 0) return 0;
	return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export function summarise(results: { status: number; type?: string; ms: number }[], connectionErrors = 0): LoadReport {
	const statuses: Record<string, number> = {};
	const types: Record<string, number> = {};
	for (const r of results) {
		statuses[r.status] = (statuses[r.status] ?? 0) + 1;
		if (r.type) types[r.type] = (types[r.type] ?? 0) + 1;
	}
	const ms = results.map(r => r.ms).sort((a, b) => a - b);
	return {
		sent: results.length + connectionErrors,
		statuses,
		types,
		latencyMs: {
			p50: percentile(ms, 50),
			p90: percentile(ms, 90),
			p99: percentile(ms, 99),
			max: ms[ms.length - 1] ?? 0,
		},
		connectionErrors,
	};
}

/** What fetch throws when it cannot reach the server: the socket's error code is on its cause. */
interface NetworkError {
	message?: string;
	code?: string;
	cause?: { code?: string; message?: string };
}

/**
 * Spreads requests over several gateways the way a load balancer does: a request that could not even connect
 * (the gateway is gone) is sent to the next gateway, since it never reached the shop.
 */
export function balancedClients(urls: string[]) {
	const clients: Client[] = urls.map(u => client(u));
	let next = 0;
	return async function send<T = unknown>(
		call: (c: Client) => Promise<Response<T>>,
	): Promise<Response<T> & { ms: number }> {
		let lastError: unknown;
		const first = next++;
		for (let attempt = 0; attempt < clients.length * 2; attempt++) {
			const c = clients[(first + attempt) % clients.length];
			const started = performance.now();
			try {
				const res = await call(c);
				return { ...res, ms: performance.now() - started };
			} catch (err) {
				lastError = err;
				const failure = err as NetworkError | undefined;
				const code = failure?.cause?.code ?? failure?.code;
				if (code === undefined || !["ECONNREFUSED", "ECONNRESET", "UND_ERR_SOCKET", "EPIPE"].includes(code))
					throw new Error(`${failure?.message} (${code ?? failure?.cause?.message})`);
			}
		}
		throw lastError;
	};
}

/** Runs `workers` loops of `task` until `durationMs` has passed; returns every result. */
export async function sustain<T>(
	workers: number,
	durationMs: number,
	task: (worker: number, i: number) => Promise<T>,
): Promise<T[]> {
	const until = Date.now() + durationMs;
	const results: T[] = [];
	await Promise.all(
		Array.from({ length: workers }, async (_, w) => {
			for (let i = 0; Date.now() < until; i++) results.push(await task(w, i));
		}),
	);
	return results;
}
