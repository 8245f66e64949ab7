import { randomUUID } from "node:crypto";
import type { Context, Service } from "moleculer";
import { DbMixin, type DbThis } from "../../mixins/db.mixin";
import { AuthMixin, type AuthThis } from "../../mixins/auth.mixin";
import { country, defineService, id, money, page, pageOf, pageSize, params, type Page } from "../../lib/actor";
import type { ActionParams } from "../../lib/actor";
import { loadConfig } from "../../lib/config";
import { NotFoundError, UnprocessableError } from "../../lib/errors";
import type { Doc, Store } from "../../lib/storage";
import { SHIPPING_METHODS, TAX_RATES, type ShippingMethod, type TaxRate } from "./contract";
import type { Quote, ShippingMethodInput, ShippingOption, TaxRateView } from "./contract";
import { chargeOf, countryKey, methodChanges, methodFields, newMethod, newRate } from "./shipping-rules";
import { optionsFor, rateFields, rateView, taxRuleOf, unavailability, type NewMethodParams } from "./shipping-rules";
import { seedEmpty, seedMethods, seedRates } from "./shipping-seed";
import { upsertRate } from "./tax-rates";

interface ShippingMethods {
	loadMethod(methodId: string): Promise<ShippingMethod>;
	seed(): Promise<void>;
}
interface ShippingState {
	methods: Store<ShippingMethod>;
	rates: Store<TaxRate>;
}
type ShippingThis = Service & DbThis & AuthThis & ShippingMethods & ShippingState;
type Paging = { page?: number; pageSize?: number };

const currency = methodFields.currency;
const optional = <T extends object>(rule: T) => ({ ...rule, optional: true }) as const;

/** One page of a collection (default: the first 20) in `sort` order, in the standard list shape. */
async function pageFrom<T extends Doc>(store: Store<T>, sort: string[], { page: n = 1, pageSize: size = 20 }: Paging) {
	const [rows, total] = await Promise.all([
		store.find({}, { sort, limit: size, offset: (n - 1) * size }),
		store.count({}),
	]);
	return pageOf(rows, total, n, size);
}

/**
 * Shipping methods and the tax rates of destination countries (issue 13): admins manage both, carts ask for the
 * options of a destination, orders for the quote they are priced with. The rules are in shipping-rules.ts.
 */
export default defineService<ShippingThis>({
	name: "shipping",
	mixins: [DbMixin(SHIPPING_METHODS, TAX_RATES), AuthMixin],

	actions: {
		createMethod: {
			auth: "admin",
			params: params({ ...methodFields }),
			async handler(
				this: ShippingThis,
				ctx: Context<NewMethodParams, { $statusCode?: number }>,
			): Promise<ShippingMethod> {
				const method = await this.methods.insert(newMethod(ctx.params, randomUUID(), new Date().toISOString()));
				ctx.meta.$statusCode = 201;
				return method;
			},
		},

		listMethods: {
			auth: "admin",
			params: params({ page, pageSize }),
			handler(this: ShippingThis, ctx: Context<Paging>): Promise<Page<ShippingMethod>> {
				return pageFrom(this.methods, ["name", "id"], ctx.params);
			},
		},

		/** PATCH: only the fields sent change. */
		updateMethod: {
			auth: "admin",
			params: params({
				id,
				name: optional(methodFields.name),
				price: optional(methodFields.price),
				currency: optional(methodFields.currency),
				countries: optional(methodFields.countries),
				freeOver: methodFields.freeOver,
				active: methodFields.active,
			}),
			async handler(this: ShippingThis, ctx: Context<ShippingMethodInput & { id: string }>): Promise<ShippingMethod> {
				const { id: methodId, ...changes } = ctx.params;
				const set = methodChanges(changes, new Date().toISOString());
				if ((await this.methods.update({ id: methodId }, { set })) === 0) throw new NotFoundError("Shipping method");
				return this.loadMethod(methodId);
			},
		},

		removeMethod: {
			auth: "admin",
			params: params({ id }),
			async handler(this: ShippingThis, ctx: Context<{ id: string }>): Promise<ShippingMethod> {
				const method = await this.loadMethod(ctx.params.id);
				if ((await this.methods.remove({ id: method.id })) === 0) throw new NotFoundError("Shipping method");
				return method;
			},
		},

		/** Internal (carts): the methods a cart can choose for its destination, each with what this cart pays. */
		options: {
			params: params({
				country,
				currency,
				afterDiscount: money,
				free: { type: "boolean", optional: true },
			}),
			async handler(this: ShippingThis, ctx: Context<ActionParams<"shipping.options">>): Promise<ShippingOption[]> {
				const methods = await this.methods.find({ active: true, currency: ctx.params.currency });
				return optionsFor(methods, ctx.params);
			},
		},

		/** Internal (carts, orders): the method and the tax an order to `country` is priced with. */
		quote: {
			params: params({ country, currency, methodId: optional(id) }),
			async handler(this: ShippingThis, ctx: Context<ActionParams<"shipping.quote">>): Promise<Quote> {
				const { methodId, currency: cur } = ctx.params;
				const country = countryKey(ctx.params.country);
				const [method, rate] = await Promise.all([
					methodId === undefined ? null : this.methods.findOne({ id: methodId }),
					this.rates.findOne({ country }),
				]);
				if (methodId !== undefined) {
					const why = unavailability(method, country, cur);
					if (why)
						throw new UnprocessableError(`Shipping method not available: ${why}`, "SHIPPING_NOT_AVAILABLE", {
							shippingMethodId: methodId,
							country,
						});
				}
				return { shipping: method && chargeOf(method), tax: taxRuleOf(rate) };
			},
		},

		listRates: {
			auth: "admin",
			params: params({ page, pageSize }),
			async handler(this: ShippingThis, ctx: Context<Paging>): Promise<Page<TaxRateView>> {
				const found = await pageFrom(this.rates, ["country"], ctx.params);
				return { ...found, rows: found.rows.map(rateView) };
			},
		},

		/** Creates or replaces the rate of a country. */
		putRate: {
			auth: "admin",
			params: params({ ...rateFields }),
			async handler(this: ShippingThis, ctx: Context<ActionParams<"shipping.putRate">>): Promise<TaxRateView> {
				return rateView(await upsertRate(this.rates, newRate(ctx.params, new Date().toISOString())));
			},
		},

		removeRate: {
			auth: "admin",
			params: params({ country: rateFields.country }),
			async handler(this: ShippingThis, ctx: Context<{ country: string }>): Promise<TaxRateView> {
				const country = countryKey(ctx.params.country);
				const rate = await this.rates.findOne({ country });
				if (!rate || (await this.rates.remove({ country })) === 0) throw new NotFoundError("Tax rate", { country });
				return rateView(rate);
			},
		},
	},

	methods: {
		async loadMethod(this: ShippingThis, methodId: string): Promise<ShippingMethod> {
			const method = await this.methods.findOne({ id: methodId });
			if (!method) throw new NotFoundError("Shipping method");
			return method;
		},

		/** Each empty collection gets the demo methods or rates, like the catalogue (products.service.ts). */
		async seed(this: ShippingThis): Promise<void> {
			const now = new Date().toISOString();
			const methods = await seedEmpty(this.methods, seedMethods(now));
			const rates = await seedEmpty(this.rates, seedRates(now));
			if (methods + rates > 0) this.logger.info(`Seeded ${methods} shipping methods and ${rates} tax rates`);
		},
	},

	created(this: ShippingThis) {
		this.methods = this.storeFor(SHIPPING_METHODS);
		this.rates = this.storeFor(TAX_RATES);
	},

	async started(this: ShippingThis) {
		if (loadConfig().seed) await this.seed();
	},
});
