import { randomUUID } from "node:crypto";
import type { Context, Service } from "moleculer";
import { DbMixin, type DbThis } from "../../mixins/db.mixin";
import { AuthMixin, type AuthThis } from "../../mixins/auth.mixin";
import { loadConfig, type AppConfig } from "../../lib/config";
import { DuplicateKeyError, NotFoundError, UnprocessableError } from "../../lib/errors";
import { defineService, params, id, quantity } from "../../lib/actor";
import { DISCOUNT_CODE, SHIPPING_ADDRESS, type OrderView } from "../orders/contract";
import type { ShippingOption } from "../shipping/contract";
import { CARTS, type Cart, type CartDetails, type CartView, type CartsMeta } from "./contract";
import type { AddItemParams, DiscountParams, LineParams, UpdateCartParams } from "./contract";
import { assertCanSee, newCart } from "./cart-state";
import { addLine, removeLine, setQuantity } from "./cart-lines";
import { CartRepository } from "./cart-store";
import { DEFAULT_CURRENCY, assertOneCurrency, cartBasis, cartView } from "./cart-view";
import { applyCode, assertShippable, detailsChange, pricingOf, shippingOptionsOf } from "./cart-pricing";
import { removeCode } from "./cart-money";
import { CART_MIGRATIONS } from "./migrations";
import { assertVariants } from "./checkout";
import { availableStock, lookupVariants } from "./catalogue";
import { changeCart, checkoutCart, claimCart, type CartEdit, type CheckoutDeps } from "./checkout-flow";

const SWEEP_INTERVAL_MS = 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

const details = {
	email: { type: "email", max: 254, optional: true },
	shippingAddress: { ...SHIPPING_ADDRESS, optional: true },
	shippingMethodId: { ...id, optional: true, nullable: true },
} as const;

interface ResponseMeta {
	$statusCode?: number;
	$location?: string;
	$responseHeaders?: Record<string, string>;
}
type Ctx<P> = Context<P, CartsMeta & ResponseMeta>;

interface CartsMethods {
	flowDeps(ctx: Ctx<unknown>): CheckoutDeps;
	loadCart(ctx: Ctx<unknown>, cartId: string): Promise<Cart>;
	change(ctx: Ctx<unknown>, cartId: string, edit: CartEdit): Promise<CartView>;
	render(ctx: Context, cart: Cart): Promise<CartView>;
	sweep(now: number): Promise<number>;
}
interface CartsState {
	config: AppConfig;
	carts: CartRepository;
	sweepTimer?: NodeJS.Timeout;
}
type CartsThis = Service & DbThis & AuthThis & CartsMethods & CartsState;

const CartsService = defineService<CartsThis>({
	name: "carts",
	mixins: [DbMixin(CARTS), AuthMixin],

	actions: {
		/** A guest cart without a token; with one, the caller's current cart (200) or a new one (201). */
		create: {
			params: params(details),
			async handler(this: CartsThis, ctx: Ctx<CartDetails>): Promise<CartView> {
				const user = ctx.meta.user;
				const existing = user && (await this.carts.current(user.id));
				if (existing) return this.render(ctx, existing);
				const cart = newCart(randomUUID(), user?.id ?? null, ctx.params, new Date().toISOString());
				if (cart.shippingMethodId) await assertShippable(ctx, cart, DEFAULT_CURRENCY); // empty: no currency yet
				try {
					await this.carts.insert(cart);
				} catch (err) {
					// A concurrent request of the same customer created their cart first: answer with it.
					const winner = err instanceof DuplicateKeyError && user && (await this.carts.current(user.id));
					if (winner) return this.render(ctx, winner);
					throw err;
				}
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = `/api/carts/${cart.id}`;
				return this.render(ctx, cart);
			},
		},

		get: {
			params: params({ id }),
			async handler(this: CartsThis, ctx: Ctx<{ id: string }>): Promise<CartView> {
				return this.render(ctx, await this.loadCart(ctx, ctx.params.id));
			},
		},

		mine: {
			auth: "user",
			params: params({}),
			async handler(this: CartsThis, ctx: Ctx<unknown>): Promise<CartView> {
				const cart = await this.carts.current(this.currentUser(ctx).id);
				if (!cart) throw new NotFoundError("Cart");
				return this.render(ctx, cart);
			},
		},

		update: {
			params: params({ id, ...details }),
			handler(this: CartsThis, ctx: Ctx<UpdateCartParams>): Promise<CartView> {
				return this.change(ctx, ctx.params.id, cart => detailsChange(ctx, cart, ctx.params));
			},
		},

		/** One code per cart: applying another replaces it (README "Money rules"). */
		applyDiscount: {
			params: params({ id, code: DISCOUNT_CODE }),
			handler(this: CartsThis, ctx: Ctx<DiscountParams>): Promise<CartView> {
				return this.change(ctx, ctx.params.id, cart => applyCode(ctx, cart, ctx.params.code));
			},
		},

		removeDiscount: {
			params: params({ id, code: DISCOUNT_CODE }),
			handler(this: CartsThis, ctx: Ctx<DiscountParams>): Promise<CartView> {
				return this.change(ctx, ctx.params.id, cart => removeCode(cart, ctx.params.code));
			},
		},

		shippingMethods: {
			params: params({ id }),
			async handler(this: CartsThis, ctx: Ctx<{ id: string }>): Promise<ShippingOption[]> {
				return shippingOptionsOf(ctx, await this.loadCart(ctx, ctx.params.id));
			},
		},

		addItem: {
			params: params({ id, variantId: { ...id, optional: true }, productId: { ...id, optional: true }, quantity }),
			handler(this: CartsThis, ctx: Ctx<AddItemParams>): Promise<CartView> {
				const variantId = ctx.params.variantId ?? ctx.params.productId;
				if (!variantId)
					throw new UnprocessableError("variantId or productId is required", "VALIDATION_ERROR", [
						{ type: "required", field: "variantId", message: "variantId or productId is required" },
					]);
				return this.change(ctx, ctx.params.id, async cart => {
					const found = await lookupVariants(ctx, [variantId, ...cart.lines.map(l => l.variantId)]);
					assertVariants([variantId], found);
					assertOneCurrency(
						cart.lines,
						found.variants,
						found.variants.find(v => v.variantId === variantId)!,
					);
					return { lines: addLine(cart.lines, variantId, ctx.params.quantity, randomUUID()) };
				});
			},
		},

		updateItem: {
			params: params({ id, lineId: id, quantity: { ...quantity, min: 0 } }),
			handler(this: CartsThis, ctx: Ctx<LineParams & { quantity: number }>): Promise<CartView> {
				const { lineId, quantity: q } = ctx.params;
				return this.change(ctx, ctx.params.id, cart => ({ lines: setQuantity(cart.lines, lineId, q) }));
			},
		},

		removeItem: {
			params: params({ id, lineId: id }),
			handler(this: CartsThis, ctx: Ctx<LineParams>): Promise<CartView> {
				return this.change(ctx, ctx.params.id, cart => ({ lines: removeLine(cart.lines, ctx.params.lineId) }));
			},
		},

		claim: {
			auth: "user",
			params: params({ id }),
			async handler(this: CartsThis, ctx: Ctx<{ id: string }>): Promise<CartView> {
				return this.render(ctx, await claimCart(this.flowDeps(ctx), ctx.params.id, this.currentUser(ctx).id));
			},
		},

		/** Places the order of the cart once, however many callers check it out at once (README "Carts"). */
		checkout: {
			auth: "user",
			timeout: 30_000,
			params: params({ id, paymentToken: { type: "string", min: 1, max: 100 } }),
			async handler(this: CartsThis, ctx: Ctx<{ id: string; paymentToken: string }>): Promise<OrderView> {
				const { id: cartId, paymentToken } = ctx.params;
				const userId = this.currentUser(ctx).id;
				const { order, replayed } = await checkoutCart(this.flowDeps(ctx), cartId, userId, paymentToken);
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = `/api/orders/${order.id}`;
				if (replayed) ctx.meta.$responseHeaders = { "Idempotent-Replayed": "true" };
				return order;
			},
		},
	},

	methods: {
		flowDeps(this: CartsThis, ctx: Ctx<unknown>): CheckoutDeps {
			const load = (cartId: string) => this.loadCart(ctx, cartId);
			return { carts: this.carts, caller: ctx, load, logger: this.logger, now: () => new Date().toISOString() };
		},

		async loadCart(this: CartsThis, ctx: Ctx<unknown>, cartId: string): Promise<Cart> {
			const cart = await this.carts.findById(cartId);
			if (!cart) throw new NotFoundError("Cart");
			assertCanSee(cart, ctx.meta.user);
			return cart;
		},

		async change(this: CartsThis, ctx: Ctx<unknown>, cartId: string, edit: CartEdit): Promise<CartView> {
			return this.render(ctx, await changeCart(this.flowDeps(ctx), cartId, edit));
		},

		/** Names and prices from the catalogue, stock from inventory, code and shipping priced, now: a cart holds none. */
		async render(this: CartsThis, ctx: Context, cart: Cart): Promise<CartView> {
			const { variants } = await lookupVariants(
				ctx,
				cart.lines.map(l => l.variantId),
			);
			const [available, pricing] = await Promise.all([
				availableStock(
					ctx,
					variants.map(v => v.variantId),
				),
				pricingOf(ctx, cart, cartBasis(cart.lines, variants)),
			]);
			return cartView(cart, variants, available, pricing);
		},

		/** Removes the carts untouched for CART_TTL_DAYS; every carts node sweeps, which is harmless. */
		sweep(this: CartsThis, now: number): Promise<number> {
			const cutoff = new Date(now - this.config.cartTtlDays * DAY_MS).toISOString();
			return this.carts.removeUntouchedSince(cutoff);
		},
	},

	created(this: CartsThis) {
		this.config = loadConfig();
		this.carts = new CartRepository(this.storeFor(CARTS), randomUUID);
	},

	async started(this: CartsThis) {
		await this.migrate(CART_MIGRATIONS);
		this.sweepTimer = setInterval(() => {
			this.sweep(Date.now()).then(
				removed => removed && this.logger.info("Removed expired carts", { removed }),
				(err: Error) => this.logger.warn(`Cart sweep failed: ${err.message}`),
			);
		}, SWEEP_INTERVAL_MS);
		this.sweepTimer.unref();
	},

	stopped(this: CartsThis) {
		clearInterval(this.sweepTimer);
	},
});

export default CartsService;
