import type { AddressInfo } from "node:net";
import { ServiceBroker, type BrokerOptions, type Middleware, type ServiceSchema } from "moleculer";
import { brokerOptions } from "../../moleculer.config";
import ApiService from "../../services/api/api.service";
import ProductsService from "../../services/products/products.service";
import OrdersService from "../../services/orders/orders.service";
import InventoryService from "../../services/inventory/inventory.service";
import PaymentsService from "../../services/payments/payments.service";
import UsersService from "../../services/users/users.service";
import NotificationsService from "../../services/notifications/notifications.service";
import CartsService from "../../services/carts/carts.service";
import WebhooksService from "../../services/webhooks/webhooks.service";
import ShippingService from "../../services/shipping/shipping.service";
import PromotionsService from "../../services/promotions/promotions.service";

export const ALL_SERVICES: Record<string, ServiceSchema> = {
	api: ApiService,
	products: ProductsService,
	orders: OrdersService,
	inventory: InventoryService,
	payments: PaymentsService,
	users: UsersService,
	notifications: NotificationsService,
	carts: CartsService,
	webhooks: WebhooksService,
	shipping: ShippingService,
	promotions: PromotionsService,
};

/**
 * The three-node split the observability tests trace and scrape: a gateway (with the actors every request touches),
 * the saga with its event consumer, and the catalogue with stock, money, codes, shipping and tax (which seeds the
 * demo products).
 */
export const THREE_NODES: Record<"gateway" | "orders" | "stock", string[]> = {
	gateway: ["api", "users", "carts", "webhooks"],
	orders: ["orders", "notifications"],
	stock: ["products", "inventory", "payments", "promotions", "shipping"],
};

export interface Shop {
	broker: ServiceBroker;
	/** Base URL of the gateway, when `api` runs on this broker. */
	url: string;
	stop(): Promise<void>;
}

/**
 * A shop broker in this process, configured like production by `moleculer.config.ts` from `env`
 * (applied to process.env while the services are created, as moleculer-runner would). `middlewares` go before
 * Moleculer's own (named by string at the end of the configured list), so they wrap action handlers inside
 * timeouts, retries and breakers, like a service's own code: a place to inject faults.
 */
export async function startShop(
	opts: {
		env?: Record<string, string | undefined>;
		services?: string[];
		broker?: Partial<BrokerOptions>;
		middlewares?: Middleware[];
	} = {},
): Promise<Shop> {
	const env = { METRICS: "false", SEED: "false", ...opts.env };
	const saved: Record<string, string | undefined> = {};
	for (const [k, v] of Object.entries(env)) {
		saved[k] = process.env[k];
		if (v === undefined) delete process.env[k];
		else process.env[k] = v;
	}
	try {
		const configured = brokerOptions(process.env);
		const own = configured.middlewares ?? [];
		const internal = own.findIndex(mw => typeof mw === "string");
		const at = internal < 0 ? own.length : internal;
		const broker = new ServiceBroker({
			...configured,
			middlewares: [...own.slice(0, at), ...(opts.middlewares ?? []), ...own.slice(at)],
			logger: process.env.TEST_LOGLEVEL ? { type: "Console", options: { level: process.env.TEST_LOGLEVEL } } : false,
			...opts.broker,
		});
		for (const name of opts.services ?? Object.keys(ALL_SERVICES)) {
			const schema = ALL_SERVICES[name];
			broker.createService(
				name === "api" ? { ...schema, settings: { ...schema.settings, port: 0, ip: "127.0.0.1" } } : schema,
			);
		}
		await broker.start();
		const api = broker.getLocalService("api") as unknown as { server?: { address(): AddressInfo } } | undefined;
		const url = api?.server ? `http://127.0.0.1:${api.server.address().port}` : "";
		return { broker, url, stop: () => broker.stop() };
	} finally {
		for (const [k, v] of Object.entries(saved)) {
			if (v === undefined) delete process.env[k];
			else process.env[k] = v;
		}
	}
}
