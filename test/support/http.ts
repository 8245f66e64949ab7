import type { Session } from "./api";

export interface Response<T = unknown> {
	status: number;
	body: T;
	headers: Headers;
}

export interface RequestOptions {
	body?: unknown;
	rawBody?: string;
	token?: string;
	headers?: Record<string, string>;
}

/** A small JSON client for the gateway, the way an API client would use it. */
export function client(baseUrl: string) {
	async function request<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<Response<T>> {
		const headers: Record<string, string> = { ...opts.headers };
		if (opts.body !== undefined || opts.rawBody !== undefined) headers["content-type"] ??= "application/json";
		if (opts.token) headers.authorization = `Bearer ${opts.token}`;
		const res = await fetch(baseUrl + path, {
			method,
			headers,
			body: opts.rawBody ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)),
		});
		const text = await res.text();
		let body: unknown = text;
		try {
			body = text ? JSON.parse(text) : null;
		} catch {
			// not JSON: keep the text for the assertion message
		}
		return { status: res.status, body: body as T, headers: res.headers };
	}

	return {
		request,
		get: <T = unknown>(path: string, opts?: RequestOptions) => request<T>("GET", path, opts),
		post: <T = unknown>(path: string, body?: unknown, opts?: RequestOptions) =>
			request<T>("POST", path, { ...opts, body }),
		put: <T = unknown>(path: string, body?: unknown, opts?: RequestOptions) =>
			request<T>("PUT", path, { ...opts, body }),
		patch: <T = unknown>(path: string, body?: unknown, opts?: RequestOptions) =>
			request<T>("PATCH", path, { ...opts, body }),
		delete: <T = unknown>(path: string, opts?: RequestOptions) => request<T>("DELETE", path, opts),

		async register(email: string, password = "correct-horse", name = "Test User") {
			const res = await request("POST", "/api/auth/register", { body: { email, password, name } });
			if (res.status !== 201) throw new Error(`register failed: ${res.status} ${JSON.stringify(res.body)}`);
			return res.body as Session;
		},

		async login(email: string, password: string) {
			const res = await request("POST", "/api/auth/login", { body: { email, password } });
			if (res.status !== 200) throw new Error(`login failed: ${res.status} ${JSON.stringify(res.body)}`);
			return res.body as Session;
		},
	};
}

export type Client = ReturnType<typeof client>;

/** Polls until `check` returns a truthy value or the time is up. */
export async function eventually<T>(
	check: () => Promise<T | undefined | null | false>,
	timeoutMs = 5000,
	intervalMs = 50,
): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	let last: Error | undefined;
	for (;;) {
		try {
			const value = await check();
			if (value) return value;
		} catch (err) {
			last = err instanceof Error ? err : new Error(String(err));
		}
		if (Date.now() > deadline)
			throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${String(last)}` : ""}`);
		await new Promise(r => setTimeout(r, intervalMs));
	}
}
