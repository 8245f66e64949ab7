import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { freePort } from "../../scripts/nodes";
import path from "node:path";
import readline from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { client, eventually, type Client } from "../support/http";
import type { Page, Product, Session } from "../support/api";

/**
 * Issue 5, logs: a shop node started the production way (moleculer-runner with the project config) with
 * LOG_FORMAT=json and LOGLEVEL=debug writes one JSON object per line to stdout, each with level, time, nodeID and
 * service, and the request id of the request being handled; no password, token or password hash at any level.
 */

const ROOT = path.resolve(__dirname, "../..");
const LEVELS = ["fatal", "error", "warn", "info", "debug", "trace"];

interface LogLine {
	level: string;
	time: string;
	nodeID: string;
	service: string;
	requestID?: string;
	msg: string;
	[key: string]: unknown;
}

describe("JSON logs of a node (LOG_FORMAT=json, LOGLEVEL=debug)", () => {
	const nodeID = `logs-${randomBytes(3).toString("hex")}`;
	const email = `${nodeID}@example.com`;
	const password = `pw-${randomBytes(8).toString("hex")}`;
	const wrongPassword = `wrong-${randomBytes(8).toString("hex")}`;
	const stdout: string[] = [];
	let stderr = "";
	let node: ChildProcess;
	let exited: Promise<number | null>;
	let api: Client;
	const tokens: string[] = [];
	const requestIDs: Record<string, string> = {};

	beforeAll(async () => {
		const port = await freePort();
		const env: NodeJS.ProcessEnv = {
			...process.env,
			NODE_ENV: "development",
			PORT: String(port),
			HOST: "127.0.0.1",
			NODEID: nodeID,
			NAMESPACE: nodeID,
			LOG_FORMAT: "json",
			LOGLEVEL: "debug",
			METRICS: "false",
			SEED: "true",
		};
		for (const key of ["TRANSPORTER", "EVENTS_URL", "CACHER", "DB_URI", "ZIPKIN_URL", "SERVICES", "SERVICEDIR"])
			delete env[key];
		node = spawn(
			process.execPath,
			[
				"--import",
				"tsx",
				"node_modules/moleculer/bin/moleculer-runner.js",
				"--config",
				"moleculer.config.ts",
				"--mask",
				"**/*.service.ts",
				"services",
			],
			{ cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] },
		);
		exited = new Promise(resolve => node.once("exit", resolve));
		readline.createInterface({ input: node.stdout! }).on("line", line => stdout.push(line));
		node.stderr!.on("data", chunk => (stderr += chunk));
		api = client(`http://127.0.0.1:${port}`);
		await eventually(async () => (await api.get("/health/ready")).status === 200, 60_000, 250).catch((err: Error) => {
			throw new Error(`${err.message}\n${stderr}\n${stdout.slice(-20).join("\n")}`);
		});

		const register = await api.post<Session>("/api/auth/register", { email, password, name: "Log Tester" });
		expect(register.status).toBe(201);
		requestIDs.register = register.headers.get("x-request-id")!;
		tokens.push(register.body.token);

		const failed = await api.post("/api/auth/login", { email, password: wrongPassword });
		expect(failed.status).toBe(401);

		// A client-chosen request id is kept and logged.
		requestIDs.login = `login-${randomBytes(4).toString("hex")}`;
		const login = await api.post<Session>(
			"/api/auth/login",
			{ email, password },
			{ headers: { "X-Request-ID": requestIDs.login } },
		);
		expect(login.status).toBe(200);
		expect(login.headers.get("x-request-id")).toBe(requestIDs.login);
		tokens.push(login.body.token);

		const productId = (await api.get<Page<Product>>("/api/products")).body.rows[0].id;
		const order = await api.post(
			"/api/orders",
			{ items: [{ productId, quantity: 1 }], paymentToken: "tok_visa" },
			{ token: login.body.token },
		);
		expect(order.status).toBe(201);
		requestIDs.order = order.headers.get("x-request-id")!;
		const declined = await api.post(
			"/api/orders",
			{ items: [{ productId, quantity: 1 }], paymentToken: "tok_declined" },
			{ token: login.body.token },
		);
		expect(declined.status).toBe(402);
		requestIDs.declined = declined.headers.get("x-request-id")!;

		// The order's notification is written by a channel handler, after the response.
		await eventually(() => Promise.resolve(stdout.some(line => line.includes("Notification order.confirmed"))), 10_000);
		node.kill("SIGTERM");
		await exited;
	}, 120_000);

	afterAll(async () => {
		if (node && node.exitCode === null && node.signalCode === null) {
			node.kill("SIGKILL");
			await exited;
		}
	});

	const lines = () =>
		stdout.map((text, index) => {
			try {
				return JSON.parse(text) as LogLine;
			} catch {
				throw new Error(`stdout line ${index + 1} is not JSON: ${text}`);
			}
		});

	it("writes one JSON object per line with level, time, nodeID and service", () => {
		expect(stdout.length).toBeGreaterThan(50);
		for (const line of lines()) {
			expect(line).toMatchObject({
				nodeID,
				time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
				service: expect.any(String),
				msg: expect.any(String),
			});
			expect(LEVELS).toContain(line.level);
		}
		const levels = new Set(lines().map(line => line.level));
		expect(levels).toContain("debug");
		expect(levels).toContain("info");
	});

	it("gives the lines written while handling a request that request's id, across actions and event handlers", () => {
		const all = lines();
		const of = (requestID: string) => all.filter(line => line.requestID === requestID);
		// The gateway logs each request on arrival and on response (debug), inside its handler.
		expect(of(requestIDs.register).map(l => l.msg)).toEqual(
			expect.arrayContaining([
				"=> POST /api/auth/register",
				expect.stringMatching(/^<= 201 POST \/api\/auth\/register/),
			]),
		);
		expect(of(requestIDs.login).map(l => l.msg)).toEqual(
			expect.arrayContaining(["=> POST /api/auth/login", expect.stringMatching(/^<= 200 POST \/api\/auth\/login/)]),
		);
		const order = of(requestIDs.order);
		expect(order.map(l => l.msg)).toEqual(
			expect.arrayContaining(["=> POST /api/orders", expect.stringMatching(/^<= 201 POST \/api\/orders/)]),
		);
		// The orders action logs why an order failed, on its own service's logger.
		expect(
			of(requestIDs.declined)
				.filter(l => l.service === "orders")
				.map(l => l.msg),
		).toEqual([expect.stringMatching(/^Order [\w-]+ failed at payment: PAYMENT_DECLINED/)]);
		// Event handlers run after the response, in another service, and still log the id of the order's request.
		expect(order.filter(l => l.service === "notifications").map(l => l.msg)).toEqual([
			expect.stringMatching(/^Notification order\.confirmed for user /),
		]);
		expect(all.filter(l => l.msg.startsWith("Notification user.registered")).map(l => l.requestID)).toEqual([
			requestIDs.register,
		]);
		// Every request line of the gateway carries a request id.
		for (const line of all.filter(l => l.service === "api" && /^(=>|<=) /.test(l.msg)))
			expect(line.requestID).toBeTruthy();
	});

	it("logs no password, token or password hash", () => {
		const text = stdout.join("\n") + stderr;
		expect(text).toContain(email);
		for (const secret of [password, wrongPassword, ...tokens]) expect(text).not.toContain(secret);
		expect(text).not.toMatch(/scrypt\$/);
		expect(text).not.toMatch(/eyJ[\w-]+\.[\w-]+\./);
	});
});
