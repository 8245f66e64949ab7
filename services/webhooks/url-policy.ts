import { BlockList, isIP } from "node:net";
import { UnprocessableError } from "../../lib/errors";

/**
 * Where webhooks may point. In production (unless `WEBHOOK_ALLOW_PRIVATE=true`) the shop never sends requests to its
 * own network: loopback, private, carrier-grade NAT, link-local (cloud metadata at 169.254.169.254 among them),
 * unique-local IPv6, unspecified and multicast addresses are refused, when the URL names them and again when a host
 * name resolves to one at delivery time (the checked address is the one connected to, so DNS rebinding gains nothing).
 */
const REFUSED = new BlockList();
for (const [net, bits] of [
	["0.0.0.0", 8],
	["10.0.0.0", 8],
	["100.64.0.0", 10],
	["127.0.0.0", 8],
	["169.254.0.0", 16],
	["172.16.0.0", 12],
	["192.0.0.0", 24],
	["192.168.0.0", 16],
	["198.18.0.0", 15],
	["224.0.0.0", 3],
] as const)
	REFUSED.addSubnet(net, bits, "ipv4");
for (const [net, bits] of [
	["::", 128],
	["::1", 128],
	["fc00::", 7],
	["fe80::", 10],
	["ff00::", 8],
	["64:ff9b::", 96],
] as const)
	REFUSED.addSubnet(net, bits, "ipv6");

/** Host names that always mean this machine or a cloud's metadata service. */
const REFUSED_NAMES = /^(localhost|.*\.localhost|metadata|metadata\.google\.internal|instance-data)\.?$/i;

/** An IPv4 address written as an IPv4-mapped IPv6 one (`::ffff:127.0.0.1`, or its hex form). */
function mappedIPv4(ip: string): string | undefined {
	const dotted = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
	if (dotted) return dotted[1];
	const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(ip);
	if (!hex) return undefined;
	const [hi, lo] = [parseInt(hex[1], 16), parseInt(hex[2], 16)];
	return [hi >> 8, hi & 255, lo >> 8, lo & 255].join(".");
}

/** Whether an IP address is one a webhook may not reach in production. */
export function isRefusedAddress(ip: string): boolean {
	const v4 = mappedIPv4(ip);
	if (v4) return REFUSED.check(v4, "ipv4");
	const family = isIP(ip);
	if (family === 4) return REFUSED.check(ip, "ipv4");
	if (family === 6) return REFUSED.check(ip, "ipv6");
	return true;
}

/** The URL's host without IPv6 brackets. */
export function hostOf(url: URL): string {
	return url.hostname.replace(/^\[|\]$/g, "");
}

/**
 * Why a webhook URL is refused, or null when it is acceptable. `allowPrivate` lifts the address rules (development,
 * or `WEBHOOK_ALLOW_PRIVATE=true`); the scheme and form rules always hold.
 */
export function urlProblem(raw: string, allowPrivate: boolean): string | null {
	let url: URL;
	try {
		url = new URL(raw);
	} catch {
		return "is not a valid URL";
	}
	if (url.protocol !== "https:" && url.protocol !== "http:") return "must start with https:// or http://";
	if (url.username || url.password) return "must not carry credentials";
	if (url.hash) return "must not have a fragment";
	if (allowPrivate) return null;
	const host = hostOf(url);
	if (REFUSED_NAMES.test(host)) return "names a local or metadata host";
	if (isIP(host) && isRefusedAddress(host)) return "points to a loopback, private, link-local or metadata address";
	return null;
}

/** Throws a 422 `INVALID_WEBHOOK_URL` naming the problem when `urlProblem` finds one. */
export function assertUrl(raw: string, allowPrivate: boolean): void {
	const problem = urlProblem(raw, allowPrivate);
	if (problem) throw new UnprocessableError(`The webhook URL ${problem}`, "INVALID_WEBHOOK_URL", { field: "url" });
}
