import { ServiceBroker, type CallingOptions } from "moleculer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Store } from "../../../lib/storage";
import { ConflictError, NotFoundError, PaymentDeclinedError, UnprocessableError } from "../../../lib/errors";
import type { Caller } from "../../../lib/actor";
import { CARTS, type Cart } from "../../../services/carts/contract";
import { CartRepository } from "../../../services/carts/cart-store";
import { newCart } from "../../../services/carts/cart-state";
import { checkoutCart, claimCart, type CheckoutDeps } from "../../../services/carts/checkout-flow";

/**
 * The checkout flow over a real in-memory carts store, with orders and products faked: which attempt runs, what
 * concurrent callers and changes see while it runs, and where the cart ends after each kind of outcome.
 */
type OrdersCreate = (params: unknown, opts?: CallingOptions) => Promise<unknown>;
type Quote = (params: unknown) => Promise<unknown>;

const address = { line1: "1 Way", city: "Berlin", postalCode: "10115", country: "DE" };
const standard = { id: "m1", name: "Standard", price: 499, freeOver: 5000 };
const eligible: Quote = () => Promise.resolve({ shipping: standard, tax: null });

describe("checkout flow", () => {
	const broker = new ServiceBroker({ logger: false });
	let carts: CartRepository;
	let seq = 0;

	beforeAll(async () => {
		const store = new Store(CARTS, "memory://", broker.getLogger("carts"));
		await store.connect(broker);
		carts = new CartRepository(store, () => `line-${++seq}`);
	});

	afterAll(() => broker.stop());

	/** A cart of one line that ships: an address and a method chosen, unless `chosen` says otherwise. */
	async function cartWith(userId: string | null, chosen: Partial<Cart> = {}): Promise<Cart> {
		const cart = { ...newCart(`cart-${++seq}`, userId, {}, "2025-01-01T00:00:00.000Z") };
		cart.lines = [{ id: "l1", variantId: "p1", quantity: 2 }];
		return carts.insert({ ...cart, shippingAddress: address, shippingMethodId: "m1", ...chosen });
	}

	function deps(create: OrdersCreate, calls: string[] = [], quote: Quote = eligible): CheckoutDeps {
		const caller = {
			call(name: string, params: unknown, opts?: CallingOptions) {
				calls.push(name === "orders.create" ? `${name} ${String(opts?.meta?.idempotencyKey)}` : name);
				if (name === "shipping.quote") return quote(params);
				if (name === "products.getVariants")
					return Promise.resolve({
						variants: [
							{ variantId: "p1", productId: "p1", sku: "S", name: "N", options: {}, price: 5, currency: "USD" },
						],
						multiVariantProductIds: [],
					});
				if (name === "orders.create") return create(params, opts);
				if (name === "orders.get") return Promise.resolve({ id: "o1", status: "CONFIRMED" });
				return Promise.reject(new Error(`unexpected call ${name}`));
			},
		} as unknown as Caller;
		const load = async (id: string) => {
			const cart = await carts.findById(id);
			if (!cart) throw new NotFoundError("Cart");
			return cart;
		};
		return { carts, caller, load, logger: broker.getLogger("test"), now: () => new Date().toISOString() };
	}

	it("runs one attempt: concurrent callers join it with the same key, and changes are refused meanwhile", async () => {
		const cart = await cartWith("u1");
		let release!: () => void;
		const gate = new Promise<void>(resolve => (release = resolve));
		const keys = new Set<string>();
		const create: OrdersCreate = async (_params, opts) => {
			keys.add(String(opts?.meta?.idempotencyKey));
			await gate;
			return { id: "o1", status: "CONFIRMED" };
		};
		const first = checkoutCart(deps(create), cart.id, "u1", "tok_visa");
		const others = Array.from({ length: 5 }, () => checkoutCart(deps(create), cart.id, "u1", "tok_visa"));
		await new Promise(resolve => setTimeout(resolve, 20));
		const running = (await carts.findById(cart.id))!;
		expect(running).toMatchObject({ status: "CHECKING_OUT", attempts: 1 });
		expect(running.checkout).toMatchObject({ attempt: 1, items: [{ variantId: "p1", quantity: 2 }] });
		// A change that read the cart before the checkout started loses its compare-and-set.
		expect(await carts.write(cart, { lines: [] })).toBeNull();
		release();
		const answers = await Promise.all([first, ...others]);
		expect(answers.map(a => a.order)).toEqual(Array(6).fill({ id: "o1", status: "CONFIRMED" }));
		expect([...keys]).toEqual([`cart:${cart.id}:checkout:1`]);
		expect(await carts.findById(cart.id)).toMatchObject({ status: "COMPLETED", orderId: "o1", checkout: null });
		expect(await carts.current("u1")).toBeNull();
		// Checking out again answers with the order, without asking orders to create anything.
		const calls: string[] = [];
		expect(await checkoutCart(deps(create, calls), cart.id, "u1", "tok_visa")).toMatchObject({ replayed: true });
		expect(calls).toEqual(["orders.get"]);
	});

	it("gives a failed attempt's cart back ACTIVE and unchanged; the next checkout is attempt 2", async () => {
		const cart = await cartWith("u2");
		const declined: OrdersCreate = () => Promise.reject(new PaymentDeclinedError({ orderId: "o-failed" }));
		await expect(checkoutCart(deps(declined), cart.id, "u2", "tok_declined")).rejects.toMatchObject({
			code: 402,
			data: { orderId: "o-failed" },
		});
		const after = (await carts.findById(cart.id))!;
		expect(after).toMatchObject({ status: "ACTIVE", lines: cart.lines, updatedAt: cart.updatedAt, checkout: null });
		const calls: string[] = [];
		const ok: OrdersCreate = () => Promise.resolve({ id: "o2" });
		await checkoutCart(deps(ok, calls), cart.id, "u2", "tok_visa");
		expect(calls).toContain(`orders.create cart:${cart.id}:checkout:2`);
	});

	it("keeps the cart CHECKING_OUT when the outcome is unknown, and sends the same attempt again", async () => {
		const cart = await cartWith("u3");
		const timeout: OrdersCreate = () => Promise.reject(Object.assign(new Error("timeout"), { code: 504 }));
		await expect(checkoutCart(deps(timeout), cart.id, "u3", "tok_visa")).rejects.toThrow("timeout");
		expect(await carts.findById(cart.id)).toMatchObject({ status: "CHECKING_OUT" });
		const inProgress: OrdersCreate = () =>
			Promise.reject(new ConflictError("x", "IDEMPOTENT_REQUEST_IN_PROGRESS", { orderId: "o3" }));
		await expect(checkoutCart(deps(inProgress), cart.id, "u3", "tok_visa")).rejects.toMatchObject({
			code: 409,
			type: "CHECKOUT_IN_PROGRESS",
		});
		const calls: string[] = [];
		const params: unknown[] = [];
		const ok: OrdersCreate = p => (params.push(p), Promise.resolve({ id: "o3" }));
		// The retry sends attempt 1 again, with the token it was started with, so orders can replay its order.
		await checkoutCart(deps(ok, calls), cart.id, "u3", "tok_other");
		expect(calls).toEqual([`orders.create cart:${cart.id}:checkout:1`]);
		expect(params).toEqual([
			{
				items: [{ variantId: "p1", quantity: 2 }],
				paymentToken: "tok_visa",
				shippingAddress: address,
				shippingMethodId: "m1",
			},
		]);
		expect(await carts.findById(cart.id)).toMatchObject({ status: "COMPLETED", orderId: "o3" });
	});

	it("claims a guest cart on the way, into the customer's current cart", async () => {
		const mine = await cartWith("u4");
		const guest = await cartWith(null);
		const ok: OrdersCreate = () => Promise.resolve({ id: "o4" });
		await checkoutCart(deps(ok), guest.id, "u4", "tok_visa");
		expect(await carts.findById(guest.id)).toMatchObject({ status: "MERGED", userId: null });
		expect(await carts.findById(mine.id)).toMatchObject({
			status: "COMPLETED",
			lines: [{ id: "l1", variantId: "p1", quantity: 4 }],
		});
	});

	it.each<[string, Partial<Cart>, Quote, string]>([
		["no address", { shippingAddress: null, shippingMethodId: null }, eligible, "SHIPPING_REQUIRED"],
		["no method chosen", { shippingMethodId: null }, eligible, "SHIPPING_REQUIRED"],
		[
			"a method that no longer ships there",
			{},
			() => Promise.reject(new UnprocessableError("x", "SHIPPING_NOT_AVAILABLE")),
			"SHIPPING_NOT_AVAILABLE",
		],
	])("refuses a cart with %s before the checkout starts", async (_name, chosen, quote, type) => {
		const cart = await cartWith("u5", chosen);
		const calls: string[] = [];
		const create: OrdersCreate = () => Promise.resolve({ id: "never" });
		await expect(checkoutCart(deps(create, calls, quote), cart.id, "u5", "tok_visa")).rejects.toMatchObject({
			code: 422,
			type,
		});
		expect(calls.filter(c => c.startsWith("orders."))).toEqual([]);
		expect(await carts.findById(cart.id)).toEqual(cart);
		await carts.write(cart, { status: "MERGED" }); // frees u5's slot for the next row
	});

	it("refuses a guest cart without shipping before claiming it: the customer's cart is untouched", async () => {
		const mine = await cartWith("u6");
		const guest = await cartWith(null, { shippingMethodId: null });
		const create: OrdersCreate = () => Promise.resolve({ id: "never" });
		await expect(checkoutCart(deps(create), guest.id, "u6", "tok_visa")).rejects.toMatchObject({
			type: "SHIPPING_REQUIRED",
		});
		expect(await carts.findById(guest.id)).toEqual(guest);
		expect(await carts.findById(mine.id)).toEqual(mine);
	});

	it.each<[string, Error]>([
		[
			"fails with 409 DISCOUNT_EXHAUSTED",
			new ConflictError("x", "DISCOUNT_EXHAUSTED", { orderId: "o7", reason: "EXHAUSTED" }),
		],
		[
			"is refused with 422 DISCOUNT_NOT_APPLICABLE",
			new UnprocessableError("x", "DISCOUNT_NOT_APPLICABLE", { reason: "EXPIRED" }),
		],
	])("sends the code and the method, and keeps the code when the order %s", async (_name, refusal) => {
		const cart = await cartWith(null, { discountCode: "SAVE10" });
		const userId = `u7-${cart.id}`;
		await carts.write(cart, { userId });
		const sent: unknown[] = [];
		const refused: OrdersCreate = p => (sent.push(p), Promise.reject(refusal));
		await expect(checkoutCart(deps(refused), cart.id, userId, "tok_visa")).rejects.toBe(refusal);
		expect(sent).toEqual([
			expect.objectContaining({ discountCode: "SAVE10", shippingMethodId: "m1", shippingAddress: address }),
		]);
		expect(await carts.findById(cart.id)).toMatchObject({
			status: "ACTIVE",
			checkout: null,
			discountCode: "SAVE10",
			shippingMethodId: "m1",
			attempts: 1,
		});
	});

	it.each<[string, Partial<Cart>, Partial<Cart>]>([
		[
			"takes the guest cart's code, address and method when the customer's cart has none",
			{ shippingAddress: null, shippingMethodId: null },
			{ discountCode: "GUEST", shippingAddress: { ...address, country: "GB" }, shippingMethodId: "m2" },
		],
		[
			"keeps the customer's code, and their address with its method (none chosen yet)",
			{ discountCode: "MINE", shippingMethodId: null },
			{ discountCode: "MINE", shippingAddress: address, shippingMethodId: null },
		],
	])("merging a guest cart %s", async (_name, mineChosen, merged) => {
		const userId = `u8-${++seq}`;
		const mine = await cartWith(userId, mineChosen);
		const guest = await cartWith(null, {
			discountCode: "GUEST",
			shippingAddress: { ...address, country: "GB" },
			shippingMethodId: "m2",
		});
		const claimed = await claimCart(
			deps(() => Promise.reject(new Error("no order"))),
			guest.id,
			userId,
		);
		expect(claimed).toMatchObject({ id: mine.id, ...merged });
	});
});
