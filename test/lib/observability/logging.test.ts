import { ServiceBroker } from "moleculer";
import { describe, expect, it, vi } from "vitest";
import { createLogger, levelOf, redact, toLogRecord } from "../../../lib/observability";
import { traceIdOf } from "../../../lib/observability";

describe("log redaction", () => {
	it("masks secret-looking keys at any depth and keeps the rest", () => {
		const input = {
			email: "a@example.com",
			password: "hunter22",
			user: { passwordHash: "scrypt$00$11", name: "A" },
			headers: { Authorization: "Bearer abc" },
			items: [{ paymentToken: "tok_visa", quantity: 2 }],
		};
		expect(redact(input)).toEqual({
			email: "a@example.com",
			password: "[REDACTED]",
			user: { passwordHash: "[REDACTED]", name: "A" },
			headers: { Authorization: "[REDACTED]" },
			items: [{ paymentToken: "[REDACTED]", quantity: 2 }],
		});
		// The caller's object is not changed.
		expect(input.password).toBe("hunter22");
	});

	it("masks the value a validation error echoes for a secret field", () => {
		expect(
			redact([
				{ type: "stringMin", field: "password", actual: "short" },
				{ type: "email", field: "email", actual: "x" },
			]),
		).toEqual([
			{ type: "stringMin", field: "password", actual: "[REDACTED]" },
			{ type: "email", field: "email", actual: "x" },
		]);
	});

	it("replaces tokens and password hashes inside text", () => {
		const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl";
		expect(redact(`token ${jwt} hash scrypt$abcd$ef01 header Bearer xyz.123`)).toBe(
			"token [REDACTED JWT] hash [REDACTED HASH] header Bearer [REDACTED]",
		);
	});

	it("survives cycles", () => {
		const node: Record<string, unknown> = { name: "n" };
		node.self = node;
		expect(redact(node)).toEqual({ name: "n", self: "[Circular]" });
	});

	it("turns console-style arguments into a pino record: texts, one error, other objects as data", () => {
		const err = Object.assign(new Error("boom"), { code: 500, type: "X", data: { token: "t" } });
		const record = toLogRecord(["Order", 42, "failed", { orderId: "o1", paymentToken: "tok" }, err]);
		expect(record.msg).toBe("Order 42 failed");
		expect(record.fields.data).toEqual({ orderId: "o1", paymentToken: "[REDACTED]" });
		expect(record.fields.err).toMatchObject({
			type: "Error",
			message: "boom",
			code: 500,
			errorType: "X",
			data: { token: "[REDACTED]" },
		});
	});
});

describe("trace ids from request ids", () => {
	it("uses a UUID or hex request id itself, and hashes any other into 32 hex digits", () => {
		expect(traceIdOf("3F2A9C1E-7B4D-4E5F-9A8B-0123456789AB")).toBe("3f2a9c1e7b4d4e5f9a8b0123456789ab");
		expect(traceIdOf("0123456789abcdef")).toBe("0123456789abcdef");
		expect(traceIdOf("checkout-42-abc")).toMatch(/^[0-9a-f]{32}$/);
		expect(traceIdOf("checkout-42-abc")).toBe(traceIdOf("checkout-42-abc"));
		expect(traceIdOf("checkout-42-abc")).not.toBe(traceIdOf("checkout-42-abd"));
	});
});

describe("a library's per-message lines", () => {
	const PER_MESSAGE = ["Message is processed. Committing offset", { topic: "shop.order.created", offset: 7 }];

	/** What a broker with the shop's console logger at `level` prints for the Kafka adapter's lines. */
	function printed(level: string): string {
		const lines: string[] = [];
		const spies = (["log", "info", "warn", "error"] as const).map(method =>
			vi.spyOn(console, method).mockImplementation((...args: unknown[]) => void lines.push(args.join(" "))),
		);
		const broker = new ServiceBroker({ nodeID: "log-test", logger: createLogger({ LOGLEVEL: level }) });
		try {
			const channels = broker.getLogger("CHANNELS");
			channels.info(...PER_MESSAGE);
			channels.info("Kafka adapter is connected.");
			return lines.join("\n");
		} finally {
			spies.forEach(spy => spy.mockRestore());
		}
	}

	it("keeps the Kafka adapter's line per handled message out of info, and logs it at debug", () => {
		const atInfo = printed("info");
		expect(atInfo).toContain("Kafka adapter is connected.");
		expect(atInfo).not.toContain("Message is processed");
		expect(printed("debug")).toMatch(/DEBUG.*Message is processed/);
	});

	it.each([
		["info", PER_MESSAGE, "debug"],
		["warn", PER_MESSAGE, "warn"],
		["info", ["Kafka adapter is connected."], "info"],
	] as const)("a %s line %j is logged at %s", (type, args, level) => {
		expect(levelOf(type, [...args])).toBe(level);
	});
});
