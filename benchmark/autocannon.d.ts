/** The slice of autocannon 9 (no bundled typings) that the benchmark uses as a library. */
declare module "autocannon" {
	import type { EventEmitter } from "node:events";

	interface Request {
		method?: string;
		path?: string;
		headers?: Record<string, string>;
		body?: string | Buffer;
		/** Rewrites the request before it is sent, from the connection's context; null starts the sequence again. */
		setupRequest?: (req: Request, context: Record<string, unknown>) => Request | null;
		/** Called with each answer to this request; `context` lives until the sequence starts again. */
		onResponse?: (status: number, body: string, context: Record<string, unknown>) => void;
	}

	interface AutocannonClient {
		/**
		 * Replaces the requests the connection cycles through, in order (each merged with the instance's method,
		 * headers, URL).
		 */
		setRequests(requests: Request[]): void;
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
	namespace autocannon {
		/** One request of a connection's sequence (`setRequests`). */
		export type SequenceRequest = Request;
	}
	export = autocannon;
}
