import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBench } from "../../benchmark/suite";
import { formatReport, type BenchReport } from "../../benchmark/report";
import { portOpen, SERVERS } from "../support/servers";

/**
 * Keeps `npm run bench` runnable: the whole benchmark (limit, floor, one process, across nodes) with tiny durations.
 * Its figures mean nothing here and no target is checked; what must hold is that every path is driven without
 * errors, the invariants hold afterwards and the report is complete.
 */
describe("benchmark smoke run", () => {
	const dir = mkdtempSync(path.join(os.tmpdir(), "emporium-bench-"));
	const out = path.join(dir, "latest.json");
	const missing: string[] = [];
	let report: BenchReport | undefined;

	beforeAll(async () => {
		for (const name of ["nats", "redis", "mariadb"] as const)
			if (!(await portOpen(SERVERS[name].port))) missing.push(name);
		if (missing.length && process.env.CI) throw new Error(`required servers are not running: ${missing.join(", ")}`);
		if (missing.length) return;
		report = await runBench({
			// A checkout from a cart across nodes is six requests in a row: 2 s lets every connection finish one.
			seconds: 2,
			warmupSeconds: 0.5,
			groups: ["one-process", "across-nodes"],
			out,
			build: true,
			targets: false,
		});
	}, 300_000);

	afterAll(() => rmSync(dir, { recursive: true, force: true }));

	it("measures the limit, the framework floor and the five paths in both groups, without errors", ctx => {
		if (!report) return ctx.skip(`servers not running: ${missing.join(", ")}`);
		const rows = report.scenarios.map(s => `${s.group} ${s.key}`);
		expect(rows).toEqual([
			"limit limit",
			"reference floor",
			"reference floorDefaults",
			"one-process productById",
			"one-process variantProductById",
			"one-process productList",
			"one-process orderPlacement",
			"one-process cartCheckout",
			"across-nodes productById",
			"across-nodes variantProductById",
			"across-nodes productList",
			"across-nodes orderPlacement",
			"across-nodes cartCheckout",
		]);
		for (const s of report.scenarios) {
			expect(s.requests, s.label).toBeGreaterThan(0);
			expect(s.errors, `${s.group} ${s.label}: ${JSON.stringify(s.statusCodes)}`).toBe(0);
			expect(s.rps, s.label).toBeGreaterThan(0);
			expect(s.ratio, s.label).toBe(Math.round((s.rps / report.scenarios[0].rps) * 10_000) / 10_000);
		}
	});

	it("counts a checkout from a cart as one pass of its 6 requests, a product with variants as one request", ctx => {
		if (!report) return ctx.skip(`servers not running: ${missing.join(", ")}`);
		for (const s of report.scenarios.filter(r => r.key === "cartCheckout")) {
			// Create the cart, add two sizes, choose shipping, apply a code, check out: each pass answered 201 at checkout.
			expect(s.httpRequests, s.group).toBeGreaterThanOrEqual(6 * s.requests);
			expect(s.httpRequests, s.group).toBeLessThanOrEqual(6 * s.requests + 6 * s.connections);
			expect(s.statusCodes["201"], s.group).toBeGreaterThanOrEqual(2 * s.requests);
			expect(s.latencyMs.p50, s.group).toBeGreaterThan(0);
		}
		for (const s of report.scenarios.filter(r => r.key === "variantProductById"))
			expect(s.httpRequests, s.group).toBe(s.requests);
	});

	it("checks the invariants after the load and finds them holding, with the orders confirmed", ctx => {
		if (!report) return ctx.skip(`servers not running: ${missing.join(", ")}`);
		expect(report.invariants.map(i => [i.group, i.ok, i.violations])).toEqual([
			["one-process", true, []],
			["across-nodes", true, []],
		]);
		for (const inv of report.invariants)
			expect((inv.counts as { orders: Record<string, number> }).orders.CONFIRMED).toBeGreaterThan(0);
		// Orders placed from carts are among them, and the targets list reports the new paths.
		expect(report.scenarios.filter(s => s.key === "cartCheckout").every(s => s.statusCodes["201"] > 0)).toBe(true);
	});

	it("reports the peak RSS of every process and writes the JSON report with the machine", ctx => {
		if (!report) return ctx.skip(`servers not running: ${missing.join(", ")}`);
		expect(report.processes.map(p => p.name)).toEqual([
			"limit server",
			"floor server",
			"floor server, metrics+cache",
			"shop",
			"api",
			"users",
			"products",
			"inventory",
			"payments",
			"orders",
			"shipping",
			"promotions",
			"carts",
			"benchmark (autocannon)",
		]);
		for (const p of report.processes) expect(p.peakRssMB, p.name).toBeGreaterThan(10);
		expect(existsSync(out)).toBe(true);
		const written = JSON.parse(readFileSync(out, "utf8")) as BenchReport;
		expect(written.machine).toMatchObject({ cores: os.cpus().length, node: process.version });
		expect(written.scenarios).toHaveLength(13);
		expect(formatReport(report)).toContain("req/s");
	});
});
