import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { Command } from "commander";
import { parseArgsStringToArgv } from "string-argv";
import type { ServiceBroker } from "moleculer";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { auditShop } from "../../lib/audit";
import type { CartView } from "../../services/carts/contract";
import type { ReturnView } from "../../services/orders/contract";
import type { Totals } from "../../services/orders/totals";
import type { Order, Product, Stock } from "../support/api";
import { startShop, type Shop } from "../support/shop";

/** moleculer-repl's own commands (untyped): they register `call`, `actions`... on a commander program. */
const registerCommands = createRequire(import.meta.url)("moleculer-repl/src/commands") as (
	program: Command,
	broker: ServiceBroker,
) => void;

/** The `call` lines of the README's "REPL recipes" section, without their trailing comments. */
function recipeCalls(): string[] {
	const readme = readFileSync(path.join(__dirname, "../../README.md"), "utf8");
	const section = readme.slice(readme.indexOf("### REPL recipes"), readme.indexOf("\n## Guarantees"));
	return section
		.split("\n")
		.filter(line => line.startsWith("call "))
		.map(line => line.replace(/\s{2,}#\s.*$/, "").trim());
}

/**
 * The README's REPL recipes, line by line, through the REPL's own `call` command (its argument parsing: JSON params
 * and meta, `--#user.*` flags, numbers), on a one-process shop: the placeholders are filled in from earlier answers as
 * a person copies them. Proves the documented commands work, including issue 12's walk-through: a product in two
 * sizes, a guest cart, log in, check out, stock moved per variant.
 */
describe("the README's REPL recipes", () => {
	let shop: Shop;
	const answers = new Map<string, unknown>();

	beforeAll(async () => {
		// As `npm run dev`: the demo catalogue the first recipes read.
		shop = await startShop({ env: { SEED: "true" } });
	});

	afterAll(async () => {
		vi.restoreAllMocks();
		await shop?.stop();
	});

	it("runs every call line of the README as written, each answered without error", async () => {
		const program = new Command();
		program.exitOverride();
		registerCommands(program, shop.broker);
		// The REPL prints answers and catches errors: take them from the call it makes instead.
		const calls: Promise<unknown>[] = [];
		const call = shop.broker.call.bind(shop.broker);
		vi.spyOn(shop.broker, "call").mockImplementation((...args: Parameters<ServiceBroker["call"]>) => {
			const answer = call(...args);
			// The REPL marks its own calls (not those the actions make in turn).
			if ((args[2]?.meta as { $repl?: boolean } | undefined)?.$repl) calls.push(answer);
			return answer;
		});
		vi.spyOn(console, "log").mockImplementation(() => undefined);
		vi.spyOn(console, "error").mockImplementation(() => undefined);

		const filled: Record<string, string> = {};
		const lines = recipeCalls();
		expect(lines.length).toBeGreaterThanOrEqual(20);
		for (const line of lines) {
			const command = line.replace(/<([a-z-]+)>/g, (_, name: string) => {
				expect(filled[name], `${name} is known before: ${line}`).toBeDefined();
				return filled[name];
			});
			calls.length = 0;
			await program.parseAsync(parseArgsStringToArgv(command, "node", "Moleculer REPL"));
			expect(calls, line).toHaveLength(1);
			const answer = await calls[0].catch((err: Error & { type?: string }) => {
				throw new Error(`${line}: ${err.type ?? ""} ${err.message}`);
			});
			const action = line.split(" ")[1];
			answers.set(line.replace(/ .*/, "") + " " + action + " " + answers.size, answer);
			if (action === "products.create" && (answer as Product).name === "REPL tee") {
				const variants = (answer as Product).variants;
				filled["tee-s"] = variants.find(v => v.options.Size === "S")!.id;
				filled["tee-m"] = variants.find(v => v.options.Size === "M")!.id;
			}
			if (action === "carts.create") filled.cart = (answer as CartView).id;
			if (action === "users.login") filled.ann = (answer as { user: { id: string } }).user.id;
			if (action === "carts.checkout") filled.order = (answer as Order).id;
			if (action === "orders.requestReturn") filled.return = (answer as ReturnView).id;
		}
		expect(Object.keys(filled).sort()).toEqual(["ann", "cart", "order", "return", "tee-m", "tee-s"]);
	});

	it("checked out the cart of two sizes: one order, stock moved per variant, the cart completed", () => {
		const of = (action: string) => [...answers.entries()].filter(([key]) => key.startsWith(`call ${action} `));
		const [claimed] = of("carts.claim").map(([, a]) => a as CartView);
		expect(claimed.items.map(i => [i.sku, i.quantity, i.lineTotal])).toEqual([
			["REPL-TEE-S", 2, 3000],
			["REPL-TEE-M", 1, 1700],
		]);
		const [order] = of("carts.checkout").map(([, a]) => a as Order & { totals: Totals; discountCode: string });
		// 10 % off 4700, Standard shipping (under its free threshold of 5000 after the discount), US: no tax.
		expect(order).toMatchObject({ status: "CONFIRMED", total: 4729, discountCode: "REPL10" });
		expect(order.totals).toEqual({ subtotal: 4700, discount: 470, shipping: 499, tax: 0, total: 4729 });
		expect(order.items.map(i => [i.sku, i.quantity])).toEqual([
			["REPL-TEE-S", 2],
			["REPL-TEE-M", 1],
		]);
		const stock = of("inventory.get")
			.map(([, a]) => a as Stock)
			.filter(s => order.items.some(i => i.variantId === s.productId));
		expect(stock.map(s => s.available)).toEqual([8, 9]);
		const carts = of("carts.get").map(([, a]) => a as CartView);
		expect(carts.at(-1)).toMatchObject({ status: "COMPLETED", orderId: order.id, userId: claimed.userId });
		expect(of("orders.get").map(([, a]) => (a as Order).id)).toEqual([order.id]);
	});

	it("received the return of one M tee and refunded its price less its share of the discount", () => {
		const of = (action: string) => [...answers.entries()].filter(([key]) => key.startsWith(`call ${action} `));
		const [received] = of("orders.receiveReturn").map(([, a]) => a as ReturnView);
		expect(received).toMatchObject({ status: "RECEIVED", refundAmount: 1530 });
		const [payments] = of("payments.list").map(([, a]) => a as { rows: { kind: string; status: string }[] });
		expect(payments.rows.map(p => [p.kind, p.status])).toEqual([
			["CHARGE", "PARTIALLY_REFUNDED"],
			["REFUND", "SUCCEEDED"],
		]);
		const rates = of("shipping.listRates").map(([, a]) => (a as { rows: { country: string }[] }).rows);
		expect(rates[0].map(r => r.country)).toEqual(["DE", "FR", "GB", "IE", "US"]);
	});

	it("leaves the stock and money invariants holding", async () => {
		const report = await auditShop(shop.broker, { settled: true });
		expect(report.violations).toEqual([]);
	});
});
