/** The slice of autocannon 9 (no bundled typings) that the benchmark uses as a library. */
declare module "autocannon" {
	import type { EventEmitter } from "node:events";

	interface AutocannonClient {
		/** Replaces the requests the connection cycles through (each merged with the instance's method, headers, URL). */
		setRequests(
			requests: { method?: string; path?: string; headers?: Record<string, string>; body?: string | Buffer }[],
		): void;
	}

	interface Options {
		url: string;
		connections?: number;
		duration?: number;
		method?: string;
		headers?: Record<string, string>;
		body?: string | Buffer;
		timeout?: number;
		/** Called once per connection before it starts. */
		setupClient?: (client: AutocannonClient) => void;
	}

	interface Histogram {
		average: number;
		p50: number;
		p99: number;
		max: number;
		total?: number;
	}

	interface Result {
		requests: Histogram & { total: number; sent: number };
		latency: Histogram;
		duration: number;
		errors: number;
		timeouts: number;
		non2xx: number;
		mismatches: number;
		statusCodeStats: Record<string, { count: number }>;
	}

	interface Instance extends EventEmitter, PromiseLike<Result> {
		stop(): void;
		on(
			event: "response",
			listener: (client: AutocannonClient, statusCode: number, resBytes: number, responseTime: number) => void,
		): this;
		on(event: string, listener: (...args: never[]) => void): this;
	}

	function autocannon(opts: Options): Instance;
	export = autocannon;
}
