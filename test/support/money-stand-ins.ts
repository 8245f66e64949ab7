import { randomUUID } from "node:crypto";
import type { Context, ServiceBroker, ServiceSchema } from "moleculer";
import { UnprocessableError, NotFoundError } from "../../lib/errors";
import { shippingOf } from "../../services/orders/totals";
import type { Promotion } from "../../services/promotions/contract";
import type { ShippingMethod, TaxRate } from "../../services/shipping/contract";

/**
 * In-memory stand-ins for the promotions and shipping actors (issue 13), for the carts tests of a branch that does
 * not have the real ones yet: the actions carts call (`promotions.check`, `shipping.options`, `shipping.quote`) as
 * their contracts say, and the admin actions a test sets them up with. `moneyActors` adds a stand-in only for an
 * actor the shop does not run, so the same test drives the real actors once they are there.
 */
type Params = Record<string, unknown>;

const now = () => new Date().toISOString();

function shippingStandIn(): ServiceSchema {
	const methods = new Map<string, ShippingMethod>();
	const rates = new Map<string, TaxRate>();
	const serves = (m: ShippingMethod, country: string, currency: string) =>
		m.active && m.currency === currency && (m.countries.includes("*") || m.countries.includes(country.toUpperCase()));
	return {
		name: "shipping",
		actions: {
			createMethod(ctx: Context<Params>) {
				const method = {
					freeOver: null,
					active: true,
					...ctx.params,
					id: randomUUID(),
					createdAt: now(),
					updatedAt: now(),
				};
				methods.set(method.id, method as ShippingMethod);
				return method;
			},
			updateMethod(ctx: Context<Params & { id: string }>) {
				const method = methods.get(ctx.params.id);
				if (!method) throw new NotFoundError("Shipping method");
				const updated = { ...method, ...ctx.params, updatedAt: now() };
				methods.set(method.id, updated);
				return updated;
			},
			putRate(ctx: Context<{ country: string; rate: number; shippingTaxable?: boolean }>) {
				const { country, rate, shippingTaxable = false } = ctx.params;
				const row = { id: country, country, rate, shippingTaxable, updatedAt: now() };
				rates.set(country, row);
				return row;
			},
			options(ctx: Context<{ country: string; currency: string; afterDiscount: number; free?: boolean }>) {
				const { country, currency, afterDiscount, free } = ctx.params;
				return [...methods.values()]
					.filter(m => serves(m, country, currency))
					.map(m => ({ ...m, listPrice: m.price, price: free ? 0 : shippingOf(m, afterDiscount, null) }));
			},
			quote(ctx: Context<{ country: string; currency: string; methodId?: string }>) {
				const { country, currency, methodId } = ctx.params;
				const rate = rates.get(country.toUpperCase());
				const tax = rate ? { country: rate.country, rate: rate.rate, shippingTaxable: rate.shippingTaxable } : null;
				if (!methodId) return { shipping: null, tax };
				const m = methods.get(methodId);
				if (!m || !serves(m, country, currency))
					throw new UnprocessableError("This shipping method does not ship there", "SHIPPING_NOT_AVAILABLE");
				return { shipping: { id: m.id, name: m.name, price: m.price, freeOver: m.freeOver }, tax };
			},
		},
	};
}

function promotionsStandIn(): ServiceSchema {
	const promotions = new Map<string, Promotion>();
	const refuse = (reason: string) =>
		new UnprocessableError("This discount code does not apply", "DISCOUNT_NOT_APPLICABLE", { reason });
	return {
		name: "promotions",
		actions: {
			create(ctx: Context<Params & { code: string }>) {
				const code = ctx.params.code.toUpperCase();
				const base = { value: null, currency: null, minSubtotal: null, startsAt: null, endsAt: null, active: true };
				const limits = { usageLimit: null, perCustomerLimit: null };
				const promotion = {
					...base,
					...limits,
					...ctx.params,
					code,
					id: randomUUID(),
					createdAt: now(),
					updatedAt: now(),
				};
				promotions.set(code, promotion as Promotion);
				return { ...promotion, timesUsed: 0 };
			},
			update(ctx: Context<Params & { id: string }>) {
				const promotion = [...promotions.values()].find(p => p.id === ctx.params.id);
				if (!promotion) throw new NotFoundError("Promotion");
				const updated = { ...promotion, ...ctx.params, updatedAt: now() };
				promotions.set(updated.code, updated);
				return { ...updated, timesUsed: 0 };
			},
			check(ctx: Context<{ code: string; subtotal: number; currency: string }>) {
				const { code, subtotal, currency } = ctx.params;
				const p = promotions.get(code.toUpperCase());
				if (!p) throw refuse("UNKNOWN");
				if (!p.active) throw refuse("INACTIVE");
				if (p.currency && p.currency !== currency) throw refuse("CURRENCY");
				if (p.minSubtotal !== null && subtotal < p.minSubtotal) throw refuse("MIN_SUBTOTAL");
				return { code: p.code, type: p.type, value: p.value };
			},
		},
	};
}

/**
 * Adds a stand-in for promotions and for shipping when the shop runs no such actor; true when it added any. Call
 * their admin actions with an admin in `meta.user`: the real actors check it.
 */
export async function moneyActors(broker: ServiceBroker): Promise<boolean> {
	const missing = [promotionsStandIn(), shippingStandIn()].filter(s => !broker.registry.hasService(s.name));
	for (const schema of missing) broker.createService(schema);
	await broker.waitForServices(["promotions", "shipping"], 10_000);
	return missing.length > 0;
}
