import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { newSecret, signatureHeader, verifySignature } from "../../../services/webhooks/signature";

const SECRET = "whsec-test-secret-of-enough-length-0123456789";
const BODY = '{"id":"e1","type":"order.created","data":{"orderId":"o1"}}';
const NOW = 1_800_000_000_000;

describe("webhook signature", () => {
	it("makes secrets of 32 random bytes, base64url", () => {
		const a = newSecret();
		expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
		expect(Buffer.from(a, "base64url")).toHaveLength(32);
		expect(newSecret()).not.toBe(a);
	});

	it("signs HMAC-SHA256 of '<t>.<body>' keyed with the secret's UTF-8 bytes", () => {
		const header = signatureHeader(SECRET, BODY, NOW);
		const t = NOW / 1000;
		expect(header).toBe(`t=${t},v1=${createHmac("sha256", SECRET).update(`${t}.${BODY}`).digest("hex")}`);
	});

	const header = signatureHeader(SECRET, BODY, NOW);
	it.each([
		["the signed body, now", header, BODY, SECRET, NOW, true],
		["within the tolerance", header, BODY, SECRET, NOW + 299_000, true],
		["a tampered body", header, BODY.replace("o1", "o2"), SECRET, NOW, false],
		["another secret", header, BODY, `${SECRET}x`, NOW, false],
		["an old timestamp (replay)", header, BODY, SECRET, NOW + 301_000, false],
		["a timestamp in the future", header, BODY, SECRET, NOW - 301_000, false],
		["no header", undefined, BODY, SECRET, NOW, false],
		["no v1", `t=${NOW / 1000}`, BODY, SECRET, NOW, false],
		["a malformed v1", `t=${NOW / 1000},v1=zz`, BODY, SECRET, NOW, false],
		[
			"a second, valid v1 (rotation)",
			`t=${NOW / 1000},v1=${"0".repeat(64)},${header.split(",")[1]}`,
			BODY,
			SECRET,
			NOW,
			true,
		],
	] as const)("%s -> %s", (_name, h, body, secret, now, ok) => {
		expect(verifySignature(h, body, secret, now)).toBe(ok);
	});
});
