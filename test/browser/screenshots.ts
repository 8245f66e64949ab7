// `npm run screenshots`: the main pages of the storefront and the admin console, on a desktop and a phone, as PNGs in
// docs/screenshots/ (for the README). Starts a seeded shop in this process, with a customer who has an order.
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Page } from "playwright-core";
import type { components } from "../../clients/emporium-api";
import { launchBrowser } from "../support/browser";
import { client } from "../support/http";
import { startShop } from "../support/shop";

const OUT = resolve("docs/screenshots");
const ADMIN = { email: "admin@example.com", password: "screenshots-admin" };
const CUSTOMER = { email: "ada@example.com", password: "correct-horse-battery", name: "Ada Lovelace" };

async function shoot(page: Page, name: string, url: string, ready: string): Promise<void> {
	await page.goto(url);
	await page.getByText(ready, { exact: false }).first().waitFor();
	await page.screenshot({ path: join(OUT, `${name}.png`), fullPage: true });
	console.log(`docs/screenshots/${name}.png`);
}

/** Signs in through the app's own form at `url`, done when the button named `ready` shows. */
async function logIn(page: Page, url: string, who: { email: string; password: string }, ready: string): Promise<void> {
	await page.goto(url);
	await page.getByLabel("Email").fill(who.email);
	await page.getByLabel("Password").fill(who.password);
	await page.getByRole("button", { name: "Log in" }).click();
	await page.getByRole("button", { name: ready }).waitFor();
}

async function main(): Promise<void> {
	mkdirSync(OUT, { recursive: true });
	const shop = await startShop({ env: { SEED: "true", ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password } });
	const http = client(shop.url);
	const browser = launchBrowser();
	try {
		const admin = await http.login(ADMIN.email, ADMIN.password);
		const jacket = await http.post<components["schemas"]["Product"]>(
			"/api/products",
			{
				name: "Trail Jacket",
				category: "sports",
				description: "Waterproof, breathable, packs into its own pocket.",
				options: [{ name: "Size", values: ["S", "M", "L"] }],
				variants: ["S", "M", "L"].map(s => ({ sku: `JACKET-${s}`, options: { Size: s }, price: 14900 })),
			},
			{ token: admin.token },
		);
		for (const [i, v] of jacket.body.variants.entries())
			await http.put(`/api/inventory/${v.id}`, { available: [3, 12, 8][i] }, { token: admin.token });
		const { token } = await http.register(CUSTOMER.email, CUSTOMER.password, CUSTOMER.name);
		const order = await http.post<components["schemas"]["Order"]>(
			"/api/orders",
			{
				items: [{ variantId: jacket.body.variants[1].id, quantity: 1 }],
				paymentToken: "tok_visa",
				shippingAddress: { line1: "12 St James's Square", city: "London", postalCode: "SW1Y 4JH", country: "GB" },
			},
			{ token },
		);
		const cart = await http.post<components["schemas"]["Cart"]>("/api/carts", {}, { token });
		await http.post(
			`/api/carts/${cart.body.id}/items`,
			{ variantId: jacket.body.variants[0].id, quantity: 2 },
			{ token },
		);
		const promo = { code: "WELCOME10", type: "PERCENTAGE", value: 10, active: true };
		await http.post("/api/promotions", promo, { token: admin.token });
		await http.post(`/api/carts/${cart.body.id}/discounts`, { code: "welcome10" }, { token });
		const address = { line1: "12 St James's Square", city: "London", postalCode: "SW1Y 4JH", country: "GB" };
		await http.patch(`/api/carts/${cart.body.id}`, { shippingAddress: address }, { token });
		const methods = await http.get<components["schemas"]["ShippingOption"][]>(
			`/api/carts/${cart.body.id}/shipping-methods`,
			{
				token,
			},
		);
		const standard = methods.body.find(m => m.name === "Standard");
		if (!standard) throw new Error("the seeded shop has no Standard shipping method to GB");
		await http.patch(`/api/carts/${cart.body.id}`, { shippingMethodId: standard.id }, { token });
		await http.patch(`/api/orders/${order.body.id}/status`, { status: "SHIPPED" }, { token: admin.token });
		await http.post(
			`/api/orders/${order.body.id}/returns`,
			{ items: [{ variantId: jacket.body.variants[1].id, quantity: 1 }], reason: "Too big" },
			{ token },
		);

		const desktop = await browser.newPage();
		await shoot(desktop, "catalogue", `${shop.url}/`, "Catalogue");
		await shoot(desktop, "product", `${shop.url}/products/${jacket.body.id}`, "In stock");
		const phone = await browser.newPage({ width: 390, height: 844 });
		await shoot(phone, "catalogue-phone", `${shop.url}/?category=books`, "Catalogue");

		// The customer's pages: sign in through the storefront's own form.
		await logIn(desktop, `${shop.url}/login`, CUSTOMER, "Log out");
		await shoot(desktop, "cart", `${shop.url}/cart`, "Your cart");
		await shoot(desktop, "checkout", `${shop.url}/checkout`, "Place order");
		await shoot(desktop, "order", `${shop.url}/orders/${order.body.id}`, "Status");
		await logIn(phone, `${shop.url}/login`, CUSTOMER, "Log out");
		await shoot(phone, "checkout-phone", `${shop.url}/checkout`, "Place order");

		const adminPage = await browser.newPage();
		await logIn(adminPage, `${shop.url}/admin`, ADMIN, "Log out");
		await shoot(adminPage, "admin-products", `${shop.url}/admin/products`, "New product");
		await shoot(adminPage, "admin-product", `${shop.url}/admin/products/${jacket.body.id}`, "available");
		await shoot(adminPage, "admin-orders", `${shop.url}/admin/orders`, order.body.id.slice(0, 8));
		await shoot(adminPage, "admin-returns", `${shop.url}/admin/returns`, "Too big");
		await shoot(adminPage, "admin-promotions", `${shop.url}/admin/promotions`, "WELCOME10");
		await shoot(adminPage, "admin-shipping", `${shop.url}/admin/shipping`, "Standard");
		await shoot(adminPage, "admin-tax", `${shop.url}/admin/tax`, "DE");
		const adminPhone = await browser.newPage({ width: 390, height: 844 });
		await logIn(adminPhone, `${shop.url}/admin`, ADMIN, "Log out");
		await shoot(adminPhone, "admin-orders-phone", `${shop.url}/admin/orders`, order.body.id.slice(0, 8));
		if (browser.errors.length) throw new Error(`console errors: ${browser.errors.join("; ")}`);
	} finally {
		await browser.close();
		await shop.stop();
	}
}

main().catch((err: unknown) => {
	console.error(err);
	process.exit(1);
});
