// The one place the web apps talk HTTP: typed calls of the REST contract, and one error type for its error shape.
import type {
	ApiErrorBody,
	Auth,
	Cart,
	Notification,
	Order,
	OrderReturn,
	Page,
	Product,
	Promotion,
	QueryOf,
	RequestBody,
	ShippingMethod,
	ShippingOption,
	Stock,
	TaxRate,
	User,
} from "./types";

export class ApiError extends Error {
	constructor(
		readonly status: number,
		readonly type: string,
		message: string,
		readonly data?: unknown,
	) {
		super(message);
	}
}

type Query = Record<string, string | number | boolean | undefined>;
type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

export class Client {
	constructor(private readonly token: () => string | null) {}

	async request<T>(method: Method, path: string, opts: { body?: unknown; query?: Query } = {}): Promise<T> {
		const qs = new URLSearchParams();
		for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined && v !== "") qs.set(k, String(v));
		const headers: Record<string, string> = { Accept: "application/json" };
		const token = this.token();
		if (token) headers.Authorization = `Bearer ${token}`;
		if (opts.body !== undefined) headers["Content-Type"] = "application/json";
		const search = qs.size ? `?${qs.toString()}` : "";
		let res: Response;
		try {
			res = await fetch(`/api${path}${search}`, {
				method,
				headers,
				body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
			});
		} catch {
			throw new ApiError(0, "NETWORK_ERROR", "The shop cannot be reached. Check your connection and try again.");
		}
		const text = await res.text();
		const json: unknown = text ? safeParse(text) : undefined;
		if (!res.ok) {
			const body = (json ?? {}) as Partial<ApiErrorBody>;
			throw new ApiError(res.status, body.type ?? "HTTP_ERROR", body.message ?? res.statusText, body.data);
		}
		return json as T;
	}

	// Accounts
	register = (body: RequestBody<"users_register">) => this.request<Auth>("POST", "/auth/register", { body });
	login = (body: RequestBody<"users_login">) => this.request<Auth>("POST", "/auth/login", { body });
	me = () => this.request<User>("GET", "/users/me");

	// Catalogue and stock
	products = (query: QueryOf<"products_list">) => this.request<Page<Product>>("GET", "/products", { query });
	product = (id: string) => this.request<Product>("GET", `/products/${enc(id)}`);
	stock = (variantId: string) => this.request<Stock>("GET", `/inventory/${enc(variantId)}`);
	createProduct = (body: RequestBody<"products_create">) => this.request<Product>("POST", "/products", { body });
	updateProduct = (id: string, body: RequestBody<"products_update">) =>
		this.request<Product>("PATCH", `/products/${enc(id)}`, { body });
	deleteProduct = (id: string) => this.request<Product>("DELETE", `/products/${enc(id)}`);
	addVariant = (id: string, body: RequestBody<"products_addVariant">) =>
		this.request<Product>("POST", `/products/${enc(id)}/variants`, { body });
	updateVariant = (id: string, variantId: string, body: RequestBody<"products_updateVariant">) =>
		this.request<Product>("PATCH", `/products/${enc(id)}/variants/${enc(variantId)}`, { body });
	deleteVariant = (id: string, variantId: string) =>
		this.request<Product>("DELETE", `/products/${enc(id)}/variants/${enc(variantId)}`);
	setStock = (variantId: string, available: number) =>
		this.request<Stock>("PUT", `/inventory/${enc(variantId)}`, { body: { available } });

	// Carts
	createCart = () => this.request<Cart>("POST", "/carts", { body: {} });
	myCart = () => this.request<Cart>("GET", "/carts/mine");
	cart = (id: string) => this.request<Cart>("GET", `/carts/${enc(id)}`);
	updateCart = (id: string, body: RequestBody<"carts_update">) =>
		this.request<Cart>("PATCH", `/carts/${enc(id)}`, { body });
	addItem = (id: string, variantId: string, quantity: number) =>
		this.request<Cart>("POST", `/carts/${enc(id)}/items`, { body: { variantId, quantity } });
	setQuantity = (id: string, lineId: string, quantity: number) =>
		this.request<Cart>("PATCH", `/carts/${enc(id)}/items/${enc(lineId)}`, { body: { quantity } });
	removeItem = (id: string, lineId: string) => this.request<Cart>("DELETE", `/carts/${enc(id)}/items/${enc(lineId)}`);
	claimCart = (id: string) => this.request<Cart>("POST", `/carts/${enc(id)}/claim`);
	applyDiscount = (id: string, code: string) =>
		this.request<Cart>("POST", `/carts/${enc(id)}/discounts`, { body: { code } });
	removeDiscount = (id: string, code: string) =>
		this.request<Cart>("DELETE", `/carts/${enc(id)}/discounts/${enc(code)}`);
	cartShippingMethods = (id: string) => this.request<ShippingOption[]>("GET", `/carts/${enc(id)}/shipping-methods`);
	checkout = (id: string, paymentToken: string) =>
		this.request<Order>("POST", `/carts/${enc(id)}/checkout`, { body: { paymentToken } });

	// Orders and returns
	orders = (query: QueryOf<"orders_list">) => this.request<Page<Order>>("GET", "/orders", { query });
	order = (id: string) => this.request<Order>("GET", `/orders/${enc(id)}`);
	cancelOrder = (id: string) => this.request<Order>("POST", `/orders/${enc(id)}/cancel`);
	setOrderStatus = (id: string, status: RequestBody<"orders_updateStatus">["status"]) =>
		this.request<Order>("PATCH", `/orders/${enc(id)}/status`, { body: { status } });
	requestReturn = (id: string, body: RequestBody<"orders_requestReturn">) =>
		this.request<OrderReturn>("POST", `/orders/${enc(id)}/returns`, { body });
	orderReturns = (id: string) => this.request<Page<OrderReturn>>("GET", `/orders/${enc(id)}/returns`);
	returns = (query: QueryOf<"orders_listReturns">) => this.request<Page<OrderReturn>>("GET", "/returns", { query });
	receiveReturn = (id: string) => this.request<OrderReturn>("POST", `/returns/${enc(id)}/receive`);
	rejectReturn = (id: string) => this.request<OrderReturn>("POST", `/returns/${enc(id)}/reject`);

	notifications = (query: QueryOf<"notifications_list">) =>
		this.request<Page<Notification>>("GET", "/notifications", { query });

	// Money rules (admin)
	promotions = (query: QueryOf<"promotions_list">) => this.request<Page<Promotion>>("GET", "/promotions", { query });
	createPromotion = (body: RequestBody<"promotions_create">) =>
		this.request<Promotion>("POST", "/promotions", { body });
	updatePromotion = (id: string, body: RequestBody<"promotions_update">) =>
		this.request<Promotion>("PATCH", `/promotions/${enc(id)}`, { body });
	deletePromotion = (id: string) => this.request<Promotion>("DELETE", `/promotions/${enc(id)}`);
	shippingMethods = (query: QueryOf<"shipping_listMethods">) =>
		this.request<Page<ShippingMethod>>("GET", "/shipping-methods", { query });
	createShippingMethod = (body: RequestBody<"shipping_createMethod">) =>
		this.request<ShippingMethod>("POST", "/shipping-methods", { body });
	updateShippingMethod = (id: string, body: RequestBody<"shipping_updateMethod">) =>
		this.request<ShippingMethod>("PATCH", `/shipping-methods/${enc(id)}`, { body });
	deleteShippingMethod = (id: string) => this.request<ShippingMethod>("DELETE", `/shipping-methods/${enc(id)}`);
	taxRates = (query: QueryOf<"shipping_listRates">) => this.request<Page<TaxRate>>("GET", "/tax-rates", { query });
	putTaxRate = (country: string, body: RequestBody<"shipping_putRate">) =>
		this.request<TaxRate>("PUT", `/tax-rates/${enc(country)}`, { body });
	deleteTaxRate = (country: string) => this.request<TaxRate>("DELETE", `/tax-rates/${enc(country)}`);
}

function enc(segment: string): string {
	return encodeURIComponent(segment);
}

function safeParse(text: string): unknown {
	try {
		return JSON.parse(text) as unknown;
	} catch {
		return undefined;
	}
}
