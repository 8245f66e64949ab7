import http, { type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";

export interface Received {
	headers: IncomingHttpHeaders;
	body: string;
	at: number;
}

/**
 * A webhook receiver on 127.0.0.1: records every POST, answers `status` after `delayMs`. `down()` stops listening
 * (connections refused) and `up()` listens again on the same port.
 */
export async function startReceiver(opts: { status?: number; delayMs?: number } = {}) {
	const received: Received[] = [];
	const settings = { status: opts.status ?? 200, delayMs: opts.delayMs ?? 0 };
	const server = http.createServer((req, res) => {
		const chunks: Buffer[] = [];
		req.on("data", (c: Buffer) => chunks.push(c));
		req.on("end", () => {
			received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8"), at: Date.now() });
			setTimeout(() => res.writeHead(settings.status).end(), settings.delayMs);
		});
	});
	const listen = (port: number) => new Promise<void>(resolve => server.listen(port, "127.0.0.1", () => resolve()));
	await listen(0);
	const port = (server.address() as AddressInfo).port;
	const close = () =>
		new Promise<void>(resolve => {
			server.closeAllConnections();
			server.close(() => resolve());
		});
	return {
		url: `http://127.0.0.1:${port}/hook`,
		port,
		received,
		settings,
		/** Each event id received, with how many times. */
		counts(): Map<string, number> {
			const m = new Map<string, number>();
			for (const r of received) {
				const id = String(r.headers["emporium-event-id"]);
				m.set(id, (m.get(id) ?? 0) + 1);
			}
			return m;
		},
		down: close,
		up: () => listen(port),
		stop: close,
	};
}
export type Receiver = Awaited<ReturnType<typeof startReceiver>>;
