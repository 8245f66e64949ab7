/** One group of the REST contract's routes, with what the gateway reads of their requests. */
export interface ApiRoute {
	/** Largest JSON body the route reads, in bytes; 0: the route never reads a body. */
	bodyLimit: number;
	/** Every action of the route needs a signed-in user: a body is read only after the bearer token checks out. */
	needsUser: boolean;
	/** Answers carry tokens or personal data: `Cache-Control: no-store`. */
	personal: boolean;
	aliases: Record<string, string>;
}

const KB = 1024;

/**
 * The REST contract (README "API"): only these routes exist; internal actions are unreachable over HTTP. Body limits
 * fit the largest valid body with every character JSON-escaped (`\uXXXX`, 6 bytes): a registration is at most
 * 254 + 200 + 100 characters, an order 50 lines of a 64-character id plus an address of 576, a product 5,317.
 */
export const API_ROUTES: Record<string, ApiRoute> = {
	auth: {
		bodyLimit: 4 * KB,
		needsUser: false,
		personal: true,
		aliases: { "POST /auth/register": "users.register", "POST /auth/login": "users.login" },
	},
	catalogue: {
		bodyLimit: 0,
		needsUser: false,
		personal: false,
		aliases: {
			"GET /products": "products.list",
			"GET /products/:id": "products.get",
			"GET /inventory/:productId": "inventory.get",
		},
	},
	catalogueAdmin: {
		bodyLimit: 48 * KB,
		needsUser: true,
		personal: false,
		aliases: {
			"POST /products": "products.create",
			"PATCH /products/:id": "products.update",
			"DELETE /products/:id": "products.remove",
			"POST /products/:id/variants": "products.addVariant",
			"PATCH /products/:id/variants/:variantId": "products.updateVariant",
			"DELETE /products/:id/variants/:variantId": "products.removeVariant",
			"PUT /inventory/:productId": "inventory.setStock",
			"POST /inventory/:productId/restock": "inventory.restock",
		},
	},
	account: {
		bodyLimit: 8 * KB,
		needsUser: true,
		personal: true,
		aliases: {
			"GET /users/me": "users.me",
			"PATCH /users/me": "users.updateMe",
			"GET /users": "users.list",
			"GET /orders": "orders.list",
			"GET /orders/:id": "orders.get",
			"POST /orders/:id/cancel": "orders.cancel",
			"PATCH /orders/:id/status": "orders.updateStatus",
			"GET /payments": "payments.list",
			"GET /notifications": "notifications.list",
		},
	},
	/** Discount codes, shipping methods and tax rates: admins only (the actions check the role). */
	pricingAdmin: {
		bodyLimit: 8 * KB,
		needsUser: true,
		personal: false,
		aliases: {
			"POST /promotions": "promotions.create",
			"GET /promotions": "promotions.list",
			"GET /promotions/:id": "promotions.get",
			"PATCH /promotions/:id": "promotions.update",
			"DELETE /promotions/:id": "promotions.remove",
			"POST /shipping-methods": "shipping.createMethod",
			"GET /shipping-methods": "shipping.listMethods",
			"PATCH /shipping-methods/:id": "shipping.updateMethod",
			"DELETE /shipping-methods/:id": "shipping.removeMethod",
			"GET /tax-rates": "shipping.listRates",
			"PUT /tax-rates/:country": "shipping.putRate",
			"DELETE /tax-rates/:country": "shipping.removeRate",
		},
	},
	ordering: {
		bodyLimit: 32 * KB,
		needsUser: true,
		personal: true,
		aliases: { "POST /orders": "orders.create" },
	},
	/**
	 * Returns: a customer's of her own orders, an admin's of any. A request is at most 50 lines of a 64-character
	 * variant id and a reason of 500 characters.
	 */
	returns: {
		bodyLimit: 32 * KB,
		needsUser: true,
		personal: true,
		aliases: {
			"POST /orders/:id/returns": "orders.requestReturn",
			"GET /orders/:id/returns": "orders.returns",
			"GET /returns": "orders.listReturns",
			"POST /returns/:id/receive": "orders.receiveReturn",
			"POST /returns/:id/reject": "orders.rejectReturn",
		},
	},
	/**
	 * Guest carts: reachable by their random id without a token; a customer's only with theirs. `mine` before `:id`,
	 * which would otherwise take it.
	 */
	carts: {
		bodyLimit: 8 * KB,
		needsUser: false,
		personal: true,
		aliases: {
			"POST /carts": "carts.create",
			"GET /carts/mine": "carts.mine",
			"GET /carts/:id": "carts.get",
			"PATCH /carts/:id": "carts.update",
			"POST /carts/:id/items": "carts.addItem",
			"PATCH /carts/:id/items/:lineId": "carts.updateItem",
			"DELETE /carts/:id/items/:lineId": "carts.removeItem",
			"POST /carts/:id/discounts": "carts.applyDiscount",
			"DELETE /carts/:id/discounts/:code": "carts.removeDiscount",
			"GET /carts/:id/shipping-methods": "carts.shippingMethods",
		},
	},
	/** Claiming and checking out a cart make it the caller's: a signed-in user only. */
	checkout: {
		bodyLimit: 8 * KB,
		needsUser: true,
		personal: true,
		aliases: { "POST /carts/:id/claim": "carts.claim", "POST /carts/:id/checkout": "carts.checkout" },
	},
	webhooks: {
		bodyLimit: 16 * KB,
		needsUser: true,
		personal: true,
		aliases: {
			"POST /webhooks": "webhooks.create",
			"GET /webhooks": "webhooks.list",
			"GET /webhooks/:id": "webhooks.get",
			"PATCH /webhooks/:id": "webhooks.update",
			"DELETE /webhooks/:id": "webhooks.remove",
			"POST /webhooks/:id/rotate-secret": "webhooks.rotateSecret",
			"GET /webhooks/:id/deliveries": "webhooks.deliveries",
			"POST /webhooks/:id/deliveries/:deliveryId/redeliver": "webhooks.redeliver",
		},
	},
};

/** Every route of the API, `"METHOD /path": "actor.action"`. */
export const API_ALIASES: Record<string, string> = Object.fromEntries(
	Object.values(API_ROUTES).flatMap(route => Object.entries(route.aliases)),
);
