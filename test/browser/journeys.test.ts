// The storefront and the admin console in a real browser (Debian's Chromium through playwright-core), against a
// whole shop in this process. Each journey saves screenshots to test-results/screenshots when it fails.
import type { Page } from "playwright-core";
import type { components } from "../../clients/emporium-api";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { buildWeb, CHROMIUM, launchBrowser, withScreenshots, type Browser } from "../support/browser";
import { client, eventually, type Client } from "../support/http";
import { startShop, type Shop } from "../support/shop";

const ADMIN = { email: "admin@browser.test", password: "browser-admin-secret" };
const PHONE = { width: 390, height: 844 };
/** Like the tests that need a server: skipped with the reason without Chromium, failing instead under CI. */
const NO_BROWSER = !existsSync(CHROMIUM) && !process.env.CI;
if (NO_BROWSER) console.warn(`browser tests skipped: no ${CHROMIUM} (apt-get install -y chromium)`);

type Schemas = components["schemas"];
type Product = Schemas["Product"];
type Order = Schemas["Order"];
type Rows<T> = { rows: T[] };

let shop: Shop;
let http: Client;
let adminToken: string;
let browser: Browser;
let pages: Page[] = [];
let seq = 0;

const unique = (label: string) => `${label}-${Date.now().toString(36)}-${++seq}`;

async function newPage(viewport?: { width: number; height: number }): Promise<Page> {
	const page = await browser.newPage(viewport);
	pages.push(page);
	return page;
}

function journey(name: string, body: () => Promise<void>): () => Promise<void> {
	return () =>
		withScreenshots(
			name,
			() => pages,
			async () => {
				await body();
				expect(browser.errors, "console errors in the pages").toEqual([]);
			},
		);
}

/** A product with a Size option (S, M, L), each variant with `stock` units. */
async function createSizedProduct(name: string, stock: number): Promise<Product> {
	const sku = unique("SZ").toUpperCase();
	const res = await http.post<Product>(
		"/api/products",
		{
			name,
			category: "apparel",
			description: "A test product in three sizes.",
			options: [{ name: "Size", values: ["S", "M", "L"] }],
			variants: ["S", "M", "L"].map(size => ({ sku: `${sku}-${size}`, options: { Size: size }, price: 5000 })),
		},
		{ token: adminToken },
	);
	expect(res.status).toBe(201);
	for (const v of res.body.variants)
		expect((await http.put(`/api/inventory/${v.id}`, { available: stock }, { token: adminToken })).status).toBe(200);
	return res.body;
}

async function openProduct(page: Page, name: string): Promise<void> {
	await page.goto(`${shop.url}/`);
	await page.getByLabel("Search").fill(name);
	await page.getByRole("button", { name: "Filter" }).click();
	await page.getByRole("link", { name }).click();
	await page.getByRole("heading", { name, level: 1 }).waitFor();
}

async function addToCart(page: Page): Promise<void> {
	await page.getByRole("button", { name: "Add to cart", exact: true }).click();
	await page.getByText("Added to your cart.").waitFor();
}

/** Fills and saves the shipping address on the checkout page, and picks the "Standard" shipping method. */
async function shipTo(page: Page, country: string): Promise<void> {
	await page.getByLabel("Address line 1").fill("1 Test Street");
	await page.getByLabel("City").fill("Testville");
	await page.getByLabel("Postal code").fill("12345");
	await page.getByLabel("Country (2-letter code)").fill(country);
	await page.getByRole("button", { name: "Save address" }).click();
	await page.getByText("Saved.").waitFor();
	await page.getByRole("radio", { name: /^Standard/ }).check();
	await page.getByText("Shipping by Standard.").waitFor();
}

/** On a phone the page fits the screen's width: nothing to scroll sideways (wide tables scroll in their own box). */
async function expectFitsWidth(page: Page): Promise<void> {
	// A string: the tests are compiled without the DOM's types.
	const [scroll, width] = await page.evaluate<[number, number]>(
		"[document.documentElement.scrollWidth, window.innerWidth]",
	);
	expect(scroll, `${page.url()} is wider than the screen`).toBeLessThanOrEqual(width);
}

async function register(page: Page, email: string): Promise<void> {
	await page.getByRole("link", { name: "Register" }).first().click();
	await page.getByLabel("Name").fill("Browser Customer");
	await page.getByLabel("Email").fill(email);
	await page.getByLabel("Password (at least 8 characters)").fill("correct-horse-battery");
	await page.getByRole("button", { name: "Register" }).click();
	await page.getByRole("button", { name: "Log out" }).waitFor();
}

/** A customer with a confirmed order of one variant, placed over the API. */
async function orderOverApi(variantId: string, quantity: number): Promise<{ token: string; order: Order }> {
	const { token } = await http.register(`${unique("api")}@example.com`, "correct-horse-battery", "API Customer");
	const res = await http.post<Order>(
		"/api/orders",
		{
			items: [{ variantId, quantity }],
			paymentToken: "tok_visa",
			shippingAddress: { line1: "1 Test Street", city: "Testville", postalCode: "12345", country: "US" },
		},
		{ token },
	);
	expect(res.status).toBe(201);
	expect(res.body.status).toBe("CONFIRMED");
	return { token, order: res.body };
}

async function adminLogin(page: Page): Promise<void> {
	await page.goto(`${shop.url}/admin`);
	await page.getByLabel("Email").fill(ADMIN.email);
	await page.getByLabel("Password").fill(ADMIN.password);
	await page.getByRole("button", { name: "Log in" }).click();
	await page.getByRole("heading", { name: "Products", level: 1 }).waitFor();
}

beforeAll(async () => {
	if (NO_BROWSER) return;
	await buildWeb();
	shop = await startShop({ env: { SEED: "true", ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password } });
	http = client(shop.url);
	adminToken = (await http.login(ADMIN.email, ADMIN.password)).token;
	browser = launchBrowser();
});

afterEach(async () => {
	pages = [];
	if (!browser) return;
	browser.errors.length = 0;
	await browser.close();
});

afterAll(async () => {
	await browser?.close();
	await shop?.stop();
});

describe.skipIf(NO_BROWSER)("storefront", () => {
	it("serves the apps: client routes get index.html, hashed assets are cached, nothing escapes web/dist", async () => {
		const home = await fetch(`${shop.url}/orders/123`);
		expect(home.status).toBe(200);
		expect(home.headers.get("content-type")).toBe("text/html; charset=utf-8");
		expect(home.headers.get("cache-control")).toBe("no-cache");
		const html = await home.text();
		const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
		expect(asset).toBeDefined();
		const js = await fetch(`${shop.url}${asset}`);
		expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
		expect(js.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
		const admin = await (await fetch(`${shop.url}/admin/orders`)).text();
		expect(admin).toContain("<title>Emporium admin</title>");
		for (const path of ["/%2e%2e/package.json", "/..%2fpackage.json", "/assets/missing.js"])
			expect((await fetch(`${shop.url}${path}`)).status, path).toBe(404);
		expect((await fetch(`${shop.url}/api/nope`)).headers.get("content-type")).toContain("application/json");
	});

	it(
		"customer journey: browse, pick a variant, add to cart, apply a code, choose shipping, check out, see the " +
			"order and its notification, request a return",
		journey("customer", async () => {
			const product = await createSizedProduct(unique("Trail Jacket"), 7);
			const code = unique("WELCOME").toUpperCase().replace(/-/g, "").slice(0, 20);
			const promo = await http.post(
				"/api/promotions",
				{ code, type: "PERCENTAGE", value: 10, active: true },
				{
					token: adminToken,
				},
			);
			expect(promo.status).toBe(201);
			const name = (await http.get<Product>(`/api/products/${product.id}`)).body.name;

			const page = await newPage();
			await page.goto(`${shop.url}/`);
			await register(page, `${unique("customer")}@example.com`);
			await openProduct(page, name);
			await page.getByRole("radio", { name: "M", exact: true }).check();
			await page.getByText("In stock: 7").waitFor();
			await addToCart(page);

			await page.getByRole("link", { name: /^Cart/ }).click();
			await page.getByLabel("Discount code").fill(code.toLowerCase());
			await page.getByRole("button", { name: "Apply", exact: true }).click();
			await page.getByText(`Code ${code} applied.`).waitFor();
			const totals = page.getByRole("table", { name: "Totals" });
			await totals.getByText("-$5.00").waitFor();

			await page.getByRole("button", { name: "Checkout", exact: true }).click();
			await shipTo(page, "DE");
			// 50.00 - 5.00 discount + 4.99 Standard, 19 % German tax on the discounted line: 8.55.
			await totals.getByText("$8.55").waitFor();
			await page.getByRole("radio", { name: /tok_visa/ }).check();
			await page.getByRole("button", { name: "Place order", exact: true }).click();
			await page.getByText("Thank you! Your order has been placed.").waitFor();
			await page.getByText("CONFIRMED").waitFor();
			const orderId = page.url().split("/orders/")[1].split("?")[0];

			await page.getByRole("link", { name: "Notifications" }).click();
			await eventually(
				async () => {
					await page.reload();
					return page.getByText("Order confirmed").isVisible();
				},
				15_000,
				500,
			);

			const shipped = await http.patch(`/api/orders/${orderId}/status`, { status: "SHIPPED" }, { token: adminToken });
			expect(shipped.status).toBe(200);
			await page.goto(`${shop.url}/orders/${orderId}`);
			await page.getByText("SHIPPED").waitFor();
			await page.getByLabel(/^Quantity of .* to return$/).fill("1");
			await page.getByLabel("Reason (optional)").fill("Too small");
			await page.getByRole("button", { name: "Request return" }).click();
			await page.getByText("Your return request was sent.").waitFor();
			await page.getByText("REQUESTED").waitFor();
		}),
	);

	it(
		"a guest fills a cart (kept across reloads, on a phone-sized screen), logs in and checks out the merged cart",
		journey("guest", async () => {
			const [first, second] = await Promise.all([
				createSizedProduct(unique("Guest Scarf"), 10),
				createSizedProduct(unique("Guest Hat"), 10),
			]);
			const names = await Promise.all(
				[first, second].map(async p => (await http.get<Product>(`/api/products/${p.id}`)).body.name),
			);
			// The customer already has a cart with the hat in it.
			const email = `${unique("guest")}@example.com`;
			const { token } = await http.register(email, "correct-horse-battery", "Guest Customer");
			const own = await http.post<Schemas["Cart"]>("/api/carts", {}, { token });
			await http.post(`/api/carts/${own.body.id}/items`, { variantId: second.variants[0].id, quantity: 1 }, { token });

			const page = await newPage(PHONE);
			await openProduct(page, names[0]);
			await expectFitsWidth(page);
			await page.getByRole("spinbutton", { name: "Quantity" }).fill("2");
			await addToCart(page);
			await page.reload();
			await page.getByRole("link", { name: "Cart (2)" }).waitFor();

			await page.getByRole("link", { name: "Cart (2)" }).click();
			await page.getByRole("spinbutton", { name: `Quantity of ${names[0]}` }).fill("3");
			await page.keyboard.press("Tab");
			await page.getByRole("link", { name: "Cart (3)" }).waitFor();
			await expectFitsWidth(page);
			await page.getByRole("button", { name: "Checkout", exact: true }).click();
			await page.getByRole("link", { name: "Log in" }).last().click();
			await page.getByLabel("Email").fill(email);
			await page.getByLabel("Password").fill("correct-horse-battery");
			await page.getByRole("button", { name: "Log in" }).click();
			await page.getByRole("heading", { name: "Checkout" }).waitFor();
			await page.getByRole("link", { name: "Cart (4)" }).waitFor();

			await shipTo(page, "US");
			await expectFitsWidth(page);
			await page.getByRole("button", { name: "Place order", exact: true }).click();
			await page.getByText("Thank you! Your order has been placed.").waitFor();
			await expectFitsWidth(page);
			for (const name of names) await page.getByText(name).first().waitFor();
			const orders = await http.get<Rows<Order>>("/api/orders", { token });
			expect(orders.body.rows).toHaveLength(1);
			expect(orders.body.rows[0].items.map(i => i.quantity).sort()).toEqual([1, 3]);
		}),
	);

	it(
		"a declined card and an unavailable provider are explained, the cart is kept, a good card succeeds, " +
			"the order is cancelled",
		journey("declined", async () => {
			const product = await createSizedProduct(unique("Declined Mug"), 5);
			const name = (await http.get<Product>(`/api/products/${product.id}`)).body.name;
			const page = await newPage();
			await page.goto(`${shop.url}/`);
			await register(page, `${unique("declined")}@example.com`);
			await openProduct(page, name);
			await addToCart(page);
			await openProduct(page, "Refactoring");
			await addToCart(page);
			await page.getByRole("link", { name: "Cart (2)" }).click();
			await page
				.getByRole("row", { name: /Refactoring/ })
				.getByRole("button", { name: "Remove" })
				.click();
			await page.getByRole("link", { name: "Cart (1)" }).waitFor();
			await page.getByRole("button", { name: "Checkout", exact: true }).click();
			await page.getByRole("button", { name: "Place order", exact: true }).click();
			await page.getByRole("alert").getByText("Save a shipping address and choose a shipping method first.").waitFor();
			await shipTo(page, "US");

			await page.getByRole("radio", { name: /tok_declined/ }).check();
			await page.getByRole("button", { name: "Place order", exact: true }).click();
			await page.getByRole("alert").getByText("Your card was declined.", { exact: false }).waitFor();

			await page.getByRole("radio", { name: /tok_unavailable/ }).check();
			await page.getByRole("button", { name: "Place order", exact: true }).click();
			await page.getByRole("alert").getByText("The payment provider is unavailable", { exact: false }).waitFor();
			await page.getByRole("link", { name: "Cart (1)" }).waitFor();

			await page.getByRole("radio", { name: /tok_visa/ }).check();
			await page.getByRole("button", { name: "Place order", exact: true }).click();
			await page.getByText("Thank you! Your order has been placed.").waitFor();

			// The history shows the two failed attempts and the confirmed order; the customer cancels it, and logs out.
			await page.getByRole("button", { name: "Cancel order" }).click();
			await page.getByText("CANCELLED").waitFor();
			await page.getByRole("link", { name: "Orders" }).click();
			await page.getByText("FAILED").nth(1).waitFor();
			await page.getByText("CANCELLED").waitFor();
			await page.getByRole("button", { name: "Log out" }).click();
			await page.getByRole("link", { name: "Log in" }).waitFor();
			await page.getByRole("link", { name: "Cart (0)" }).waitFor();
		}),
	);
});

describe.skipIf(NO_BROWSER)("admin console", () => {
	it(
		"admin journey: create a product with variants, set stock (low stock highlighted), ship and deliver an order, " +
			"delete, add and reprice variants, rename and delete the product",
		journey("admin", async () => {
			const page = await newPage();
			await adminLogin(page);
			const name = unique("Admin Tee");
			const sku = unique("TEE").toUpperCase();
			await page.getByLabel("Name", { exact: true }).fill(name);
			await page.getByLabel("Category", { exact: true }).fill("apparel");
			await page.getByLabel(/^Option name/).fill("Size");
			await page.getByLabel(/^Option values/).fill("S, M");
			await page.getByLabel(/^SKU/).fill(sku);
			await page.getByLabel("Price ($)", { exact: true }).fill("19.99");
			await page.getByRole("button", { name: "Create product" }).click();
			await page.getByRole("heading", { name, level: 1 }).waitFor();

			for (const [size, stock] of [
				["S", "3"],
				["M", "20"],
			]) {
				const row = page.locator(`tr[data-sku="${sku}-${size}"]`);
				await row.getByLabel(`Stock of ${sku}-${size}`).fill(stock);
				await row.getByRole("button", { name: "Set stock" }).click();
				await row.getByText(`${stock} available`).waitFor();
			}
			expect(await page.locator(`tr[data-sku="${sku}-S"]`).getAttribute("class")).toBe("low");
			expect(await page.locator(`tr[data-sku="${sku}-M"]`).getAttribute("class")).toBeNull();

			const product = (await http.get<Rows<Product>>(`/api/products?search=${sku}`)).body.rows[0];
			const variant = product.variants.find(v => v.options.Size === "M")!;
			const { order } = await orderOverApi(variant.id, 2);

			await page.getByRole("link", { name: "Orders" }).click();
			await page.getByLabel("Status").selectOption("CONFIRMED");
			const row = page.locator(`tr[data-order="${order.id}"]`);
			await row.getByRole("button", { name: "Mark shipped" }).click();
			await row.getByText("SHIPPED").waitFor();
			await row.getByRole("button", { name: "Mark delivered" }).click();
			await row.getByText("DELIVERED").waitFor();
			const after = await http.get<Order>(`/api/orders/${order.id}`, { token: adminToken });
			expect(after.body.status).toBe("DELIVERED");

			await page.getByRole("link", { name: "Products" }).click();
			await page.getByLabel("Search products").fill(sku);
			await page.getByRole("link", { name }).click();
			await page.locator(`tr[data-sku="${sku}-S"]`).getByRole("button", { name: "Delete variant" }).click();
			await page.locator(`tr[data-sku="${sku}-S"]`).waitFor({ state: "detached" });

			// Edit: a new S variant, M's price, the product's name.
			await page.getByLabel("Size (one of S, M)").fill("S");
			await page.getByLabel("Variant SKU").fill(`${sku}-S2`);
			await page.getByLabel("Variant price ($)").fill("24.50");
			await page.getByRole("button", { name: "Add variant" }).click();
			await page.locator(`tr[data-sku="${sku}-S2"]`).waitFor();
			const m = page.locator(`tr[data-sku="${sku}-M"]`);
			await m.getByLabel(`Price of ${sku}-M ($)`).fill("17.50");
			// The price row shows no message of its own: wait for the shop's answer.
			const repriced = page.waitForResponse(r => r.request().method() === "PATCH" && r.url().includes("/variants/"));
			await m.getByRole("button", { name: "Save price" }).click();
			expect((await repriced).status()).toBe(200);
			await page.getByLabel("Name", { exact: true }).fill(`${name} v2`);
			await page.getByRole("button", { name: "Save product" }).click();
			await page.getByRole("heading", { name: `${name} v2`, level: 1 }).waitFor();
			const edited = (await http.get<Product>(`/api/products/${product.id}`)).body;
			expect(edited.name).toBe(`${name} v2`);
			expect(edited.variants.map(v => [v.sku, v.price]).sort()).toEqual([
				[`${sku}-M`, 1750],
				[`${sku}-S2`, 2450],
			]);

			await page.getByRole("button", { name: "Delete product" }).click();
			await page.getByRole("heading", { name: "Products", level: 1 }).waitFor();
			expect((await http.get(`/api/products/${product.id}`)).status).toBe(404);
		}),
	);

	it(
		"admin journey: receive one return and reject another, every page of the console on a phone-sized screen",
		journey("admin-return", async () => {
			const product = await createSizedProduct(unique("Return Boots"), 5);
			const variant = product.variants[0];
			const { token, order } = await orderOverApi(variant.id, 2);
			await http.patch(`/api/orders/${order.id}/status`, { status: "SHIPPED" }, { token: adminToken });
			// A code, so that every table of the console has a row to lay out.
			const code = unique("PHONE").toUpperCase().replace(/-/g, "").slice(0, 20);
			const promo = { code, type: "FREE_SHIPPING", active: true };
			expect((await http.post("/api/promotions", promo, { token: adminToken })).status).toBe(201);
			const requestReturn = async (reason: string) => {
				const res = await http.post<Schemas["Return"]>(
					`/api/orders/${order.id}/returns`,
					{ items: [{ variantId: variant.id, quantity: 1 }], reason },
					{ token },
				);
				expect(res.status).toBe(201);
				return res.body;
			};
			const ret = await requestReturn("Wrong size");
			const refused = await requestReturn("Worn");

			const page = await newPage(PHONE);
			await adminLogin(page);
			await expectFitsWidth(page);
			await page.getByRole("link", { name: "Returns" }).click();
			const row = page.locator(`tr[data-return="${ret.id}"]`);
			await row.waitFor();
			await expectFitsWidth(page);
			await row.getByRole("button", { name: "Receive" }).click();
			await row.getByText("RECEIVED").waitFor();
			const other = page.locator(`tr[data-return="${refused.id}"]`);
			await other.getByRole("button", { name: "Reject" }).click();
			await other.getByText("REJECTED").waitFor();
			// Only the received return restocks.
			const stock = await http.get<Schemas["Stock"]>(`/api/inventory/${variant.id}`);
			expect(stock.body.available).toBe(4);

			// The console's other pages fit the phone too.
			for (const [link, heading] of [
				["Products", "Products"],
				["Orders", "Orders"],
				["Discount codes", "Discount codes"],
				["Shipping methods", "Shipping methods"],
				["Tax rates", "Tax rates"],
			]) {
				await page.getByRole("link", { name: link, exact: true }).click();
				await page.getByRole("heading", { name: heading, level: 1 }).waitFor();
				await page.locator("tbody tr").first().waitFor();
				await expectFitsWidth(page);
			}
		}),
	);

	it(
		"admin journey: a discount code, a shipping method and a tax rate made in the console hold over the API",
		journey("admin-money", async () => {
			const page = await newPage();
			await adminLogin(page);
			const code = unique("SPRING").toUpperCase().replace(/-/g, "").slice(0, 20);
			await page.getByRole("link", { name: "Discount codes" }).click();
			await page.getByLabel("Code", { exact: true }).fill(code);
			await page.getByLabel("Type").selectOption("FIXED");
			await page.getByLabel("Value (% or $)").fill("7.50");
			await page.getByLabel("Usage limit").fill("3");
			await page.getByRole("button", { name: "Create code" }).click();
			await page.getByRole("cell", { name: code, exact: true }).waitFor();

			const method = unique("Courier");
			await page.getByRole("link", { name: "Shipping methods" }).click();
			await page.getByLabel("Method name").fill(method);
			await page.getByLabel("Price ($)").fill("9.99");
			await page.getByLabel(/^Countries/).fill("fr, de");
			await page.getByRole("button", { name: "Create method" }).click();
			await page.getByRole("cell", { name: method, exact: true }).waitFor();

			await page.getByRole("link", { name: "Tax rates" }).click();
			await page.getByLabel("Country (2-letter code)").fill("it");
			await page.getByLabel("Rate (%)").fill("22");
			await page.getByLabel("Shipping is taxed").check();
			await page.getByRole("button", { name: "Save rate" }).click();
			await page.getByRole("cell", { name: "IT", exact: true }).waitFor();

			const promos = await http.get<Rows<Schemas["Promotion"]>>("/api/promotions?pageSize=100", { token: adminToken });
			expect(promos.body.rows.find(p => p.code === code)).toMatchObject({ type: "FIXED", value: 750, usageLimit: 3 });
			const methods = await http.get<Rows<Schemas["ShippingMethod"]>>("/api/shipping-methods?pageSize=100", {
				token: adminToken,
			});
			expect(methods.body.rows.find(m => m.name === method)).toMatchObject({ price: 999, countries: ["FR", "DE"] });
			const rates = await http.get<Rows<Schemas["TaxRate"]>>("/api/tax-rates?pageSize=100", { token: adminToken });
			expect(rates.body.rows.find(r => r.country === "IT")).toMatchObject({ rate: 2200, shippingTaxable: true });
		}),
	);
});
