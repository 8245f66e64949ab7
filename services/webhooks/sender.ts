import http from "node:http";
import https from "node:https";
import { lookup } from "node:dns";
import { isIP, type LookupFunction } from "node:net";
import type { AttemptOutcome } from "./delivery-state";
import { signatureHeader } from "./signature";
import { hostOf, isRefusedAddress } from "./url-policy";

/** The headers of one attempt (README "Webhooks"): signed with the secret as it is when the attempt is made. */
export function deliveryHeaders(
	d: { id: string; eventId: string; eventType: string; body: string },
	secret: string,
	nowMs: number,
): Record<string, string> {
	return {
		"Content-Type": "application/json",
		"User-Agent": "Emporium-Webhooks/1",
		"Emporium-Event-Id": d.eventId,
		"Emporium-Event-Type": d.eventType,
		"Emporium-Delivery-Id": d.id,
		"Emporium-Signature": signatureHeader(secret, d.body, nowMs),
	};
}

export interface WebhookRequest {
	url: string;
	headers: Record<string, string>;
	body: string;
	timeoutMs: number;
	/** Loopback, private, link-local and metadata addresses may be reached. */
	allowPrivate: boolean;
}

/**
 * A DNS lookup that refuses any address the URL policy refuses: the socket connects only to an address checked here,
 * so a name that resolves to a private address at delivery time (or is rebound to one) is never reached.
 */
const checkedLookup: LookupFunction = (hostname, options, callback) => {
	lookup(hostname, { ...options, all: true }, (err, addresses) => {
		if (err) return callback(err, "", 0);
		const refused = addresses.find(a => isRefusedAddress(a.address));
		if (refused) {
			const error = new Error(`${hostname} resolves to a refused address (${refused.address})`);
			return callback(Object.assign(error, { code: "EREFUSEDADDRESS" }), "", 0);
		}
		if (options.all) return (callback as unknown as (e: null, a: typeof addresses) => void)(null, addresses);
		callback(null, addresses[0].address, addresses[0].family);
	});
};

/**
 * POSTs one delivery and reports its outcome: the status code of an answer, or the error that prevented one. The
 * whole exchange (connect, answer and its body) is bounded by `timeoutMs`; the answer's body is read and dropped.
 */
export function postWebhook(req: WebhookRequest): Promise<AttemptOutcome> {
	const url = new URL(req.url);
	const host = hostOf(url);
	if (!req.allowPrivate && isIP(host) && isRefusedAddress(host))
		return Promise.resolve({ error: `${host} is a refused address` });
	const client = url.protocol === "https:" ? https : http;
	return new Promise<AttemptOutcome>(resolve => {
		let done = false;
		const finish = (outcome: AttemptOutcome) => {
			if (done) return;
			done = true;
			clearTimeout(timer);
			resolve(outcome);
		};
		const request = client.request(
			url,
			{
				method: "POST",
				headers: { ...req.headers, "Content-Length": String(Buffer.byteLength(req.body)) },
				lookup: req.allowPrivate ? undefined : checkedLookup,
				agent: false,
			},
			res => {
				res.on("data", () => undefined);
				res.on("end", () => finish({ statusCode: res.statusCode ?? 0 }));
				res.on("error", err => finish({ error: err.message }));
			},
		);
		const timer = setTimeout(() => {
			finish({ error: `no answer within ${req.timeoutMs} ms` });
			request.destroy();
		}, req.timeoutMs);
		request.on("error", err => finish({ error: err.message }));
		request.end(req.body);
	});
}
