import { randomBytes } from "node:crypto";
import fc from "fast-check";
import jwt from "jsonwebtoken";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API_ALIASES } from "../../services/api/routes";
import { Store, type Change, type FindOptions, type Where } from "../../lib/storage";
import { DEV_JWT_SECRET } from "../../lib/config";
import { auditShop } from "../../lib/audit";
import { startShop, type Shop } from "../support/shop";
import { client, eventually } from "../support/http";
import type { ApiError, Order, Page, Product, User } from "../support/api";

/**
 * Property-based fuzzing of every endpoint: generated bodies, query strings, path ids and headers, from
 * plausible to hostile (wrong types, huge/negative/fractional numbers, long and unicode strings, prototype-pollution
 * keys, database operator objects). Requests go one at a time so each one's effect on the stores can be isolated.
 * For every request: no 5xx, one error shape, Object.prototype untouched, no client-made operator or field name in
 * any store query, and no state change unless the request was accepted.
 */

const RUNS_PER_ENDPOINT = Number(process.env.FUZZ_RUNS_PER_ENDPOINT ?? 110);
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Date.now() % 2 ** 31;

// ---------------------------------------------------------------------------------------------------------------
// JSON that JavaScript object literals cannot express: own `__proto__` keys, duplicate keys, numbers like 1e400.

class RawNumber {
	constructor(readonly text: string) {}
}
class JsonObject {
	constructor(readonly entries: [string, Json][]) {}
}
type Json = null | boolean | number | string | RawNumber | JsonObject | Json[];

function toJson(value: Json): string {
	if (value instanceof RawNumber) return value.text;
	if (value instanceof JsonObject)
		return `{${value.entries.map(([k, v]) => `${JSON.stringify(k)}:${toJson(v)}`).join(",")}}`;
	if (Array.isArray(value)) return `[${value.map(toJson).join(",")}]`;
	return JSON.stringify(value) ?? "null";
}

const obj = (...entries: [string, Json][]) => new JsonObject(entries);
const raw = (text: string) => new RawNumber(text);

// ---------------------------------------------------------------------------------------------------------------
// Building blocks

const printable = fc.integer({ min: 0x20, max: 0x7e }).map(c => String.fromCharCode(c));
const asciiString = (maxLength: number) => fc.string({ unit: printable, maxLength });
const unicodeString = fc.string({ unit: "grapheme", maxLength: 30 });
/** Any UTF-16 code units, lone surrogates included (JSON carries them as \ud800 escapes). */
const binaryString = fc.string({ unit: "binary", maxLength: 30 });
const longString = fc
	.integer({ min: 201, max: 20_000 })
	.chain(n => fc.constantFrom("x".repeat(n), `${"é".repeat(n)}@example.com`, "💥".repeat(n)));
const hugeNumber = fc.constantFrom<Json>(
	raw("1e400"),
	raw("-1e400"),
	1e308,
	-1e308,
	Number.MAX_SAFE_INTEGER + 2,
	2 ** 53,
	2 ** 63,
	-(2 ** 31),
	2 ** 32,
	raw("123456789012345678901234567890"),
	raw("-0"),
	raw("1E3"),
	raw("0.1e1"),
	raw("1.0"),
);
const oddNumber = fc.oneof(
	fc.integer({ min: -1000, max: 2000 }),
	fc.double({ min: -1e6, max: 1e6 }),
	fc.double(),
	hugeNumber,
);
const OPERATORS: Json[] = [
	obj(["$gt", ""]),
	obj(["$ne", null]),
	obj(["$ne", "x"]),
	obj(["$regex", ".*"]),
	obj(["$where", "sleep(1000) || true"]),
	obj(["$in", []]),
	obj(["$nin", [""]]),
	obj(["$exists", true]),
	obj(["$or", [obj(["role", "admin"])]]),
	obj(["$gte", 0]),
	obj(["$lt", raw("1e400")]),
	obj(["$not", obj(["$eq", 1])]),
	obj(["$elemMatch", obj(["$gt", 0])]),
];
const operatorObject = fc.constantFrom(...OPERATORS);
const pollution = fc.constantFrom<Json>(
	obj(["__proto__", obj(["polluted", "yes"], ["role", "admin"], ["isAdmin", true])]),
	obj(["constructor", obj(["prototype", obj(["polluted", "yes"])])]),
	obj(["prototype", obj(["polluted", "yes"])]),
	obj(["__proto__", obj(["__proto__", obj(["polluted", "deep"])])]),
);
const hostileKey = fc.oneof(
	fc.constantFrom(
		"__proto__",
		"constructor",
		"prototype",
		"$gt",
		"$where",
		"$set",
		"id",
		"_id",
		"role",
		"userId",
		"passwordHash",
		"status",
		"settled",
		"toString",
		"hasOwnProperty",
		"valueOf",
		"",
	),
	unicodeString,
);
const anyJson: fc.Arbitrary<Json> = fc.letrec<{ value: Json }>(tie => ({
	value: fc.oneof(
		{ depthSize: "small", withCrossShrink: true },
		fc.constant(null),
		fc.boolean(),
		oddNumber,
		unicodeString,
		binaryString,
		operatorObject,
		pollution,
		fc.array(tie("value"), { maxLength: 4 }),
		fc.array(fc.tuple(hostileKey, tie("value")), { maxLength: 4 }).map(entries => new JsonObject(entries)),
	),
})).value;
/** Everything a field should not be. */
const garbage: fc.Arbitrary<Json> = fc.oneof(
	anyJson,
	operatorObject,
	pollution,
	hugeNumber,
	longString,
	unicodeString,
	fc.constantFrom<Json>("", " ", "null", "true", "[object Object]", "0", "-1", "1.5", [], obj()),
);
/** Mostly the right thing, sometimes anything else. */
const field = (valid: fc.Arbitrary<Json>) =>
	fc.oneof({ weight: 3, arbitrary: valid }, { weight: 2, arbitrary: garbage });

type FieldSpec = Record<string, fc.Arbitrary<Json>>;

function wellFormed(fields: FieldSpec): fc.Arbitrary<JsonObject> {
	return fc
		.tuple(...Object.entries(fields).map(([key, arb]) => arb.map(v => [key, v] as [string, Json])))
		.map(entries => new JsonObject(entries));
}

/** Often a well-formed object, otherwise the expected fields (each may be missing or wrong) and hostile extras. */
function objectOf(fields: FieldSpec): fc.Arbitrary<JsonObject> {
	return fc.oneof({ weight: 2, arbitrary: wellFormed(fields) }, { weight: 3, arbitrary: mangled(fields) });
}

function mangled(fields: FieldSpec): fc.Arbitrary<JsonObject> {
	const present = Object.entries(fields).map(([key, arb]) =>
		fc.option(
			field(arb).map(v => [key, v] as [string, Json]),
			{ freq: 6 },
		),
	);
	return fc
		.tuple(
			fc.tuple(...present),
			fc.array(fc.tuple(hostileKey, garbage), { maxLength: 2 }),
			fc.option(pollution, { freq: 4 }),
		)
		.map(
			([entries, extras, polluter]) =>
				new JsonObject([
					...entries.filter((e): e is [string, Json] => e !== null),
					...extras,
					...(polluter instanceof JsonObject ? polluter.entries : []),
				]),
		);
}

/** Query strings in qs syntax, including `a[$ne]=x`, `a[]=` and pollution paths, plus malformed percent escapes. */
function queryOf(fields: Record<string, fc.Arbitrary<string>>): fc.Arbitrary<string> {
	const names = Object.keys(fields);
	const value = fc.oneof(
		unicodeString,
		asciiString(20),
		fc.constantFrom("", "-1", "0", "1.5", "1e400", "NaN", "Infinity", "0x10", "99999999999999999999", "true", "null"),
		longString.map(s => s.slice(0, 3000)),
	);
	const name = names.length ? fc.constantFrom(...names) : fc.constant("q");
	const pair = fc.oneof(
		{
			weight: 4,
			arbitrary: name.chain(n => fc.oneof(fields[n] ?? value, value).map(v => `${n}=${encodeURIComponent(v)}`)),
		},
		{
			weight: 2,
			arbitrary: fc
				.tuple(name, fc.constantFrom("$ne", "$gt", "$regex", "$in", "$where", "$exists", "0", ""))
				.chain(([n, op]) => value.map(v => `${n}[${op}]=${encodeURIComponent(v)}`)),
		},
		{
			weight: 1,
			arbitrary: fc.constantFrom(
				"__proto__[polluted]=yes",
				"constructor[prototype][polluted]=yes",
				"__proto__.polluted=yes",
				"role=admin",
				"userId[$ne]=x",
				"%",
				"%zz=1",
				"%E0%A4%A=1",
				"a==b",
				"=x",
				"&&&",
				`${"a[".repeat(30)}]=1`,
			),
		},
		{
			weight: 1,
			arbitrary: fc.tuple(unicodeString, value).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`),
		},
	);
	const documented = fc
		.tuple(...names.map(n => fields[n].map(v => `${n}=${encodeURIComponent(v)}`)))
		.map(pairs => pairs.join("&"));
	// Node's HTTP parser refuses request heads over 16 KB (431) before the gateway sees them: stay below.
	const random = fc.array(pair, { maxLength: 6 }).map(pairs => pairs.join("&").slice(0, 8000));
	return names.length ? fc.oneof({ weight: 1, arbitrary: documented }, { weight: 2, arbitrary: random }) : random;
}

const stringField = (min: number, max: number) => fc.string({ unit: "grapheme", minLength: min, maxLength: max });
const intString = (min: number, max: number) => fc.integer({ min, max }).map(String);
const addressFields: FieldSpec = {
	line1: stringField(1, 30),
	line2: stringField(0, 30),
	city: stringField(1, 20),
	postalCode: asciiString(10),
	country: stringField(1, 20),
};
/**
 * Nested objects: mostly well-formed, so the request as a whole gets past validation often enough to reach the
 * handlers.
 */
const address = fc.oneof(
	{ weight: 4, arbitrary: wellFormed(addressFields) },
	{ weight: 1, arbitrary: objectOf(addressFields) },
);

// ---------------------------------------------------------------------------------------------------------------

interface Pools {
	productIds: string[];
	orderIds: string[];
	cartIds: string[];
	lineIds: string[];
	userIds: string[];
	emails: string[];
	tokens: { admin: string; customer: string; other: string; expired: string };
	webhookIds: string[];
	promotionIds: string[];
	/** Discount codes as issued (upper case) and as customers may type them. */
	codes: string[];
	shippingMethodIds: string[];
	/** Tax-rate countries: seeded, unknown and in other spellings. */
	countries: string[];
}

interface FuzzRequest {
	method: string;
	path: string;
	query: string;
	body?: string;
	headers: Record<string, string>;
}

/** Per endpoint: the path parameters, query fields and body fields it documents. */
interface EndpointSpec {
	params?: string[];
	query?: (pools: Pools) => Record<string, fc.Arbitrary<string>>;
	body?: (pools: Pools) => FieldSpec;
}

const PAGING = { page: intString(1, 5), pageSize: intString(1, 100) };
const productFields: FieldSpec = {
	name: stringField(1, 40),
	description: stringField(0, 80),
	price: fc.integer({ min: 0, max: 100_000_000 }),
	currency: fc.constantFrom("USD", "EUR", "usd", "US"),
	category: stringField(1, 20),
	sku: fc.stringMatching(/^[A-Za-z0-9._-]{1,20}$/),
	options: fc.constantFrom<Json>(
		[],
		[obj(["name", "Size"], ["values", ["S", "M", "L"]])],
		[obj(["name", "Size"], ["values", []])],
	),
	variants: fc.array(
		wellFormed({
			sku: fc.stringMatching(/^[A-Za-z0-9._-]{1,20}$/),
			options: fc.constantFrom("S", "M", "L", "XL").map(size => obj(["Size", size])),
			price: fc.integer({ min: 0, max: 100_000 }),
		}),
		{ maxLength: 4 },
	),
};
const optionValue = fc.constantFrom("S", "M", "L", "XL", "Red", "");
const variantFields: FieldSpec = {
	sku: productFields.sku,
	title: stringField(0, 40),
	options: fc.oneof(
		optionValue.map(size => obj(["Size", size])),
		fc
			.uniqueArray(fc.tuple(fc.constantFrom("Size", "Colour", "__proto__", "$where"), optionValue), {
				selector: ([key]) => key,
				maxLength: 3,
			})
			.map(entries => obj(...entries)),
	),
	price: productFields.price,
	currency: productFields.currency,
};

/** Webhook URLs: a closed loopback port (development allows it), other schemes, junk; events known, unknown, "*". */
const webhookFields: FieldSpec = {
	url: fc.oneof(
		fc.constantFrom("http://127.0.0.1:9/hook", "https://hooks.example.com/in", "ftp://x/", "javascript:alert(1)"),
		stringField(0, 40),
	),
	events: fc.array(fc.constantFrom("*", "order.confirmed", "payment.refunded", "order.nope", "$where"), {
		maxLength: 3,
	}),
	description: stringField(0, 40),
};

/** ISO dates and times, real and impossible (31 February, hour 25, no zone), and junk. */
const isoTime = fc.oneof(
	fc.date({ min: new Date("2020-01-01"), max: new Date("2035-01-01"), noInvalidDate: true }).map(d => d.toISOString()),
	fc.constantFrom("2026-12-01", "2026-02-31", "2026-12-01T25:00:00Z", "2026-12-01T09:30:00", "2026-12-01T09:30+01:00"),
	asciiString(24),
);
/** Codes as the rules want them (3 to 32 of [A-Za-z0-9_-]), issued ones in any case, and near misses. */
const codeArb = (p: Pools) =>
	fc.oneof(
		{ weight: 2, arbitrary: fc.stringMatching(/^[A-Za-z0-9_-]{3,32}$/) },
		{ weight: 4, arbitrary: fc.constantFrom(...p.codes) },
		{ weight: 1, arbitrary: fc.constantFrom("ab", "a".repeat(33), "SAVE 10", "SAVE10%", "ÄBC", "$where", "__proto__") },
	);
/**
 * The fields must also fit together (a PERCENTAGE value 1 to 100, a FIXED one with a currency, no value for
 * FREE_SHIPPING, starts before ends): weighted so that a well-formed body is often a valid promotion as a whole.
 */
const promotionFields = (p: Pools): FieldSpec => ({
	code: fc.oneof(
		{ weight: 3, arbitrary: fc.stringMatching(/^[A-Za-z0-9_-]{3,32}$/) },
		{ weight: 1, arbitrary: codeArb(p) },
	),
	type: fc.oneof(
		{ weight: 6, arbitrary: fc.constantFrom("PERCENTAGE", "FIXED") },
		{ weight: 1, arbitrary: fc.constantFrom("FREE_SHIPPING", "percentage", "BOGO") },
	),
	value: fc.oneof(
		{ weight: 6, arbitrary: fc.integer({ min: 1, max: 100 }) },
		{ weight: 1, arbitrary: fc.oneof(fc.integer({ min: -1, max: 100_000_000 }), fc.constant(null)) },
	),
	currency: fc.oneof(
		{ weight: 6, arbitrary: fc.constant("USD") },
		{ weight: 1, arbitrary: fc.constantFrom<Json>("EUR", "usd", "US", null) },
	),
	minSubtotal: fc.oneof(fc.integer({ min: 0, max: 100_000 }), fc.constant(null)),
	startsAt: fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: isoTime }),
	endsAt: fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: isoTime }),
	usageLimit: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.constant(null)),
	perCustomerLimit: fc.oneof(fc.integer({ min: 0, max: 10 }), fc.constant(null)),
	active: fc.boolean(),
});
const shippingMethodFields: FieldSpec = {
	name: stringField(1, 40),
	price: fc.integer({ min: -1, max: 100_000 }),
	currency: fc.constantFrom("USD", "EUR", "usd", "US"),
	countries: fc.oneof(
		fc.constantFrom<Json>(["*"], ["US", "de"], ["*", "US"], ["XX"], ["USA"], [], ["us", "US"]),
		fc.array(fc.stringMatching(/^[A-Za-z]{2}$/), { maxLength: 5 }),
	),
	freeOver: fc.oneof(fc.integer({ min: 0, max: 100_000 }), fc.constant(null)),
	active: fc.boolean(),
};

const ENDPOINTS: Record<string, EndpointSpec> = {
	"POST /auth/register": {
		body: p => ({
			email: fc.oneof(fc.emailAddress(), fc.constantFrom(...p.emails)),
			password: stringField(8, 30),
			name: stringField(1, 30),
		}),
	},
	"POST /auth/login": {
		body: p => ({ email: fc.oneof(fc.emailAddress(), fc.constantFrom(...p.emails)), password: stringField(1, 30) }),
	},
	"GET /users/me": {},
	"PATCH /users/me": { body: () => ({ name: stringField(1, 30), address: fc.oneof(address, fc.constant(null)) }) },
	"GET /users": { query: () => ({ ...PAGING, role: fc.constantFrom("customer", "admin", "root") }) },
	"GET /products": {
		query: () => ({
			...PAGING,
			search: unicodeString,
			category: fc.constantFrom("books", "BOOKS", "electronics", "fuzz"),
			sort: fc.constantFrom("name", "price", "-price", "-createdAt", "password"),
			minPrice: intString(0, 5000),
			maxPrice: intString(0, 100_000),
		}),
	},
	"GET /products/:id": { params: ["id"] },
	"POST /products": { body: () => productFields },
	"PATCH /products/:id": { params: ["id"], body: () => productFields },
	"DELETE /products/:id": { params: ["id"] },
	"POST /products/:id/variants": { params: ["id"], body: () => variantFields },
	"PATCH /products/:id/variants/:variantId": { params: ["id", "variantId"], body: () => variantFields },
	"DELETE /products/:id/variants/:variantId": { params: ["id", "variantId"] },
	"GET /inventory/:productId": { params: ["productId"] },
	"PUT /inventory/:productId": {
		params: ["productId"],
		body: () => ({ available: fc.integer({ min: 0, max: 1_000_000_000 }) }),
	},
	"POST /inventory/:productId/restock": {
		params: ["productId"],
		body: () => ({ quantity: fc.integer({ min: 0, max: 1000 }) }),
	},
	"POST /orders": {
		body: p => {
			const lineFields = { productId: fc.constantFrom(...p.productIds), quantity: fc.integer({ min: 1, max: 5 }) };
			const line = fc.oneof(
				{ weight: 5, arbitrary: wellFormed(lineFields) },
				{ weight: 1, arbitrary: objectOf(lineFields) },
			);
			// Many lines of one product: each is within limits, together they are not.
			const heavy = fc.constantFrom(...p.productIds).chain(productId =>
				fc.array(
					fc.integer({ min: 300, max: 1000 }).map(q => obj(["productId", productId], ["quantity", q])),
					{ minLength: 2, maxLength: 6 },
				),
			);
			return {
				items: fc.oneof(
					{ weight: 4, arbitrary: fc.array(line, { minLength: 1, maxLength: 4 }) },
					{ weight: 1, arbitrary: heavy },
				),
				paymentToken: fc.oneof(
					{ weight: 4, arbitrary: fc.constant("tok_visa") },
					{ weight: 1, arbitrary: fc.constant("tok_declined") },
					{ weight: 1, arbitrary: asciiString(20) },
				),
				shippingAddress: address,
				discountCode: codeArb(p),
				shippingMethodId: fc.constantFrom(...p.shippingMethodIds),
			};
		},
	},
	"GET /orders": {
		query: p => ({
			...PAGING,
			userId: fc.constantFrom(...p.userIds),
			status: fc.constantFrom("PENDING", "CONFIRMED", "FAILED", "cancelled"),
		}),
	},
	"GET /orders/:id": { params: ["id"] },
	"POST /orders/:id/cancel": { params: ["id"] },
	"PATCH /orders/:id/status": {
		params: ["id"],
		body: () => ({ status: fc.constantFrom("SHIPPED", "DELIVERED", "CANCELLED", "PENDING", "shipped") }),
	},
	"POST /orders/:id/returns": {
		params: ["id"],
		body: p => {
			const lineFields = { variantId: fc.constantFrom(...p.productIds), quantity: fc.integer({ min: 0, max: 1001 }) };
			const line = fc.oneof(
				{ weight: 5, arbitrary: wellFormed(lineFields) },
				{ weight: 1, arbitrary: objectOf(lineFields) },
			);
			return { items: fc.array(line, { minLength: 0, maxLength: 4 }), reason: stringField(0, 40) };
		},
	},
	"GET /orders/:id/returns": { params: ["id"], query: () => PAGING },
	"GET /returns": {
		query: () => ({ ...PAGING, status: fc.constantFrom("REQUESTED", "RECEIVED", "REJECTED", "received") }),
	},
	"POST /returns/:id/receive": { params: ["id"] },
	"POST /returns/:id/reject": { params: ["id"] },
	"POST /carts": { body: () => ({ email: fc.emailAddress(), shippingAddress: address }) },
	"GET /carts/mine": {},
	"GET /carts/:id": { params: ["id"] },
	"PATCH /carts/:id": {
		params: ["id"],
		body: p => ({
			email: fc.emailAddress(),
			shippingAddress: address,
			shippingMethodId: fc.oneof(fc.constantFrom(...p.shippingMethodIds), fc.constant(null)),
		}),
	},
	"POST /carts/:id/items": {
		params: ["id"],
		body: p => ({
			productId: fc.constantFrom(...p.productIds),
			variantId: fc.constantFrom(...p.productIds),
			quantity: fc.integer({ min: 0, max: 1001 }),
		}),
	},
	"PATCH /carts/:id/items/:lineId": {
		params: ["id", "lineId"],
		body: () => ({ quantity: fc.integer({ min: 0, max: 1001 }) }),
	},
	"DELETE /carts/:id/items/:lineId": { params: ["id", "lineId"] },
	"POST /carts/:id/discounts": { params: ["id"], body: p => ({ code: codeArb(p) }) },
	"DELETE /carts/:id/discounts/:code": { params: ["id", "code"] },
	"GET /carts/:id/shipping-methods": { params: ["id"] },
	"POST /carts/:id/claim": { params: ["id"] },
	"POST /carts/:id/checkout": {
		params: ["id"],
		body: () => ({
			paymentToken: fc.oneof(
				{ weight: 4, arbitrary: fc.constant("tok_visa") },
				{ weight: 1, arbitrary: fc.constant("tok_declined") },
				{ weight: 1, arbitrary: asciiString(20) },
			),
		}),
	},
	"GET /payments": { query: p => ({ ...PAGING, orderId: fc.constantFrom(...p.orderIds) }) },
	"GET /notifications": { query: () => PAGING },
	"POST /promotions": { body: promotionFields },
	"GET /promotions": {
		query: p => ({
			...PAGING,
			active: fc.constantFrom("true", "false", "yes", "1"),
			code: fc.constantFrom(...p.codes),
		}),
	},
	"GET /promotions/:id": { params: ["id"] },
	"PATCH /promotions/:id": { params: ["id"], body: promotionFields },
	"DELETE /promotions/:id": { params: ["id"] },
	"POST /shipping-methods": { body: () => shippingMethodFields },
	"GET /shipping-methods": { query: () => PAGING },
	"PATCH /shipping-methods/:id": { params: ["id"], body: () => shippingMethodFields },
	"DELETE /shipping-methods/:id": { params: ["id"] },
	"GET /tax-rates": { query: () => PAGING },
	"PUT /tax-rates/:country": {
		params: ["country"],
		body: () => ({ rate: fc.integer({ min: -1, max: 10_001 }), shippingTaxable: fc.boolean() }),
	},
	"DELETE /tax-rates/:country": { params: ["country"] },
	"POST /webhooks": { body: () => webhookFields },
	"GET /webhooks": { query: () => PAGING },
	"GET /webhooks/:id": { params: ["id"] },
	"PATCH /webhooks/:id": { params: ["id"], body: () => ({ ...webhookFields, active: fc.boolean() }) },
	"DELETE /webhooks/:id": { params: ["id"] },
	"POST /webhooks/:id/rotate-secret": { params: ["id"] },
	"GET /webhooks/:id/deliveries": {
		params: ["id"],
		query: () => ({ ...PAGING, status: fc.constantFrom("PENDING", "SUCCEEDED", "FAILED", "failed") }),
	},
	"POST /webhooks/:id/deliveries/:deliveryId/redeliver": { params: ["id", "deliveryId"] },
};

function idFor(pattern: string, pools: Pools, name: string): fc.Arbitrary<string> {
	const byResource = (prefix: string, ids: string[]) => (pattern.startsWith(prefix) ? ids : null);
	const known =
		(name === "lineId" ? pools.lineIds : null) ??
		(name === "code" ? pools.codes : null) ??
		(name === "country" ? pools.countries : null) ??
		byResource("/promotions", pools.promotionIds) ??
		byResource("/shipping-methods", pools.shippingMethodIds) ??
		byResource("/orders", pools.orderIds) ??
		byResource("/carts", pools.cartIds) ??
		byResource("/webhooks", pools.webhookIds) ??
		pools.productIds;
	return fc.oneof(
		{ weight: 4, arbitrary: fc.constantFrom(...known).map(encodeURIComponent) },
		{
			weight: 2,
			arbitrary: fc
				.oneof(
					unicodeString,
					asciiString(70),
					fc.integer({ min: 65, max: 2000 }).map(n => "i".repeat(n)),
				)
				.map(encodeURIComponent),
		},
		{ weight: 2, arbitrary: fc.constantFrom(...OPERATORS).map(op => encodeURIComponent(toJson(op))) },
		{
			weight: 1,
			arbitrary: fc.constantFrom(
				"__proto__",
				"constructor",
				"prototype",
				"%7B%22%24gt%22%3A%22%22%7D",
				"%24where",
				"%",
				"%zz",
				"%E0%A4%A",
				"%00",
				"null",
				"undefined",
				"[object Object]",
				"1e400",
				"..",
				"%2e%2e",
				"a%2Fb",
				" ",
			),
		},
	);
}

function requestArb(alias: string, pools: Pools): fc.Arbitrary<FuzzRequest> {
	const spec = ENDPOINTS[alias];
	const [method, pattern] = alias.split(" ");
	const names = spec.params ?? [];
	const ids = names.length ? fc.tuple(...names.map(name => idFor(pattern, pools, name))) : fc.constant([] as string[]);
	const query = fc.oneof(
		{ weight: 3, arbitrary: queryOf(spec.query?.(pools) ?? {}) },
		{ weight: 1, arbitrary: fc.constant("") },
	);
	const bodyText: fc.Arbitrary<string | undefined> =
		method === "GET"
			? fc.constant(undefined)
			: fc.oneof(
					{
						weight: 8,
						arbitrary: spec.body
							? objectOf(spec.body(pools)).map(toJson)
							: fc.oneof(fc.constant(undefined), anyJson.map(toJson)),
					},
					{ weight: 1, arbitrary: anyJson.map(toJson) },
					{
						weight: 1,
						arbitrary: fc.constantFrom(
							undefined,
							"",
							"{",
							'{"a":',
							"{'a':1}",
							"null",
							"[]",
							"\u0000",
							"\ufeff{}",
							"[".repeat(3000) + "]".repeat(3000),
							`{"a":${"[".repeat(2000)}${"]".repeat(2000)}}`,
							"1e400",
							'"just a string"',
						),
					},
				);
	const authorization = fc.oneof(
		{ weight: 3, arbitrary: fc.constant(`Bearer ${pools.tokens.admin}`) },
		{ weight: 3, arbitrary: fc.constantFrom(`Bearer ${pools.tokens.customer}`, `Bearer ${pools.tokens.other}`) },
		{ weight: 1, arbitrary: fc.constant(undefined) },
		{
			weight: 1,
			arbitrary: fc.oneof(
				asciiString(60),
				asciiString(60).map(s => `Bearer ${s}`),
				fc.constant(`Bearer ${pools.tokens.expired}`),
			),
		},
	);
	const headers = fc.record(
		{
			authorization,
			"content-type": fc.oneof(
				{ weight: 6, arbitrary: fc.constant("application/json") },
				{
					weight: 1,
					arbitrary: fc.constantFrom(
						"text/plain",
						"application/x-www-form-urlencoded",
						"application/json; charset=utf-16",
						"application/json; charset=latin1",
						"multipart/form-data; boundary=x",
						"application/xml",
						"*/*",
					),
				},
			),
			"idempotency-key": asciiString(300),
			"x-request-id": asciiString(80),
			"x-forwarded-for": asciiString(40),
			origin: asciiString(40),
			accept: asciiString(20),
		},
		{ requiredKeys: ["authorization", "content-type"] },
	);
	const otherMethod = fc.oneof(
		{ weight: 12, arbitrary: fc.constant(method) },
		{ weight: 1, arbitrary: fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS") },
	);
	return fc.record({ method: otherMethod, ids, query, body: bodyText, headers }).map(r => {
		let i = 0;
		const path = `/api${pattern.replace(/:\w+/g, () => r.ids[i++])}`;
		const headersOut = Object.fromEntries(Object.entries(r.headers).filter(([, v]) => v !== undefined)) as Record<
			string,
			string
		>;
		return {
			method: r.method,
			path,
			query: r.query,
			body: r.method === "GET" || r.method === "OPTIONS" ? undefined : r.body,
			headers: headersOut,
		};
	});
}

// ---------------------------------------------------------------------------------------------------------------

/** Operators the services themselves put in queries, per collection.field; anything else came from a client. */
const SERVICE_OPERATORS: Record<string, string[]> = {
	"products.id": ["$in"],
	"variants.id": ["$in"],
	"variants.productId": ["$in"],
	"variants.price": ["$gte", "$lte"],
	"stock.productId": ["$in"],
	"orders.leaseUntil": ["$lt"],
	// A receipt moves the order from any returnable status; the sweep finds refunds pending for a while.
	"orders.status": ["$in"],
	"returns.updatedAt": ["$lt"],
	"stock.available": ["$gte"],
	"stock.reserved": ["$gte"],
	"stock.sold": ["$gte"],
	// Made by the services without a request: inventory's settlement moves (SQLite) and the payments refund sweep.
	"stock.pending": ["$gte"],
	"payments.updatedAt": ["$lt"],
	"payments.status": ["$in"],
	// The payments sweep (a timer, no request) finishes refunds of returns left PENDING or FAILED for a while, and a
	// refund goes through once, from either of those statuses.
	"refunds.status": ["$in"],
	"refunds.updatedAt": ["$lt"],
	// The uses ledger counts a code's uses in its slot windows (k from..to), bounds it computes from the limits.
	"promotion_uses.k": ["$gte", "$lt"],
};
/** Every outbox: the relay finds rows whose claim lapsed; sent events' rows are deleted together, by id. */
const OUTBOX_OPERATORS: Record<string, string[]> = { claimedUntil: ["$lt"], id: ["$in"] };
const isScalar = (v: unknown) => v === null || ["string", "number", "boolean"].includes(typeof v);

const STORE_OPS = ["find", "count", "findOne", "update", "remove", "insert"] as const;
type StoreOp = (typeof STORE_OPS)[number];

/** What the checks read of a response body (parsed JSON): an error's type and failed order, or a new order's id. */
type CheckedBody = Partial<ApiError<{ orderId?: unknown } | undefined>> & { id?: string };

interface RecordedQuery {
	collection: string;
	op: string;
	where: Where;
	fields: string[];
	search?: unknown;
	set?: Record<string, unknown>;
}

/** Why a store query could not have been built by the services alone, or null when it is clean. */
function clientMadeQuery(q: RecordedQuery): string | null {
	const known = new Set(["id", ...q.fields]);
	for (const [field, cond] of Object.entries(q.where)) {
		if (!known.has(field)) return `unknown field "${field}"`;
		if (isScalar(cond)) continue;
		if (typeof cond !== "object" || Array.isArray(cond) || Object.getPrototypeOf(cond) !== Object.prototype)
			return `non-scalar value for "${field}"`;
		const outbox = q.collection.endsWith("_outbox") ? OUTBOX_OPERATORS[field] : undefined;
		const allowed = SERVICE_OPERATORS[`${q.collection}.${field}`] ?? outbox ?? [];
		for (const [op, operand] of Object.entries(cond as Record<string, unknown>)) {
			if (!allowed.includes(op)) return `operator ${op} on "${field}"`;
			if (!(isScalar(operand) || (op === "$in" && Array.isArray(operand) && operand.every(v => typeof v === "string"))))
				return `operand of ${op} on "${field}" is ${JSON.stringify(operand)}`;
		}
	}
	if (q.search !== undefined && typeof (q.search as { text?: unknown }).text !== "string")
		return "search text is not a string";
	for (const key of Object.keys(q.set ?? {})) if (!known.has(key)) return `write to unknown field "${key}"`;
	return null;
}

describe("fuzzing every endpoint", () => {
	let shop: Shop;
	let pools: Pools;
	let baseline: Map<string, string>;
	let recording = false;
	const queries: RecordedQuery[] = [];
	const histogram = new Map<number, number>();
	const perEndpoint = new Map<string, Record<number, number>>();
	const errorTypes = new Map<string, number>();
	let sent = 0;
	let hostileQueryStrings = 0;
	// Unbound on purpose: they go back on the prototype afterwards, and snapshots call them with `.call(store)`.
	/* eslint-disable @typescript-eslint/unbound-method */
	const originals: Pick<Store, StoreOp> = {
		find: Store.prototype.find,
		count: Store.prototype.count,
		findOne: Store.prototype.findOne,
		update: Store.prototype.update,
		remove: Store.prototype.remove,
		insert: Store.prototype.insert,
	};
	/* eslint-enable @typescript-eslint/unbound-method */
	const prototypeKeys = Object.getOwnPropertyNames(Object.prototype).sort().join(",");

	function stores(): [string, Store][] {
		return shop.broker.services.flatMap(s =>
			Object.entries((s as unknown as { stores?: Record<string, Store> }).stores ?? {}),
		);
	}

	/** Every document of every store, per collection, in a stable order. */
	async function snapshot(): Promise<Map<string, string>> {
		recording = false;
		try {
			const out = new Map<string, string>();
			for (const [name, store] of stores()) {
				// Webhook deliveries are attempted in the background, whatever the requests: not request state.
				if (name === "webhook_deliveries") continue;
				const docs = (await originals.find.call(store, {}, { limit: 10_000_000 })).map(d =>
					name === "webhooks" ? { ...d, failingSince: undefined } : d,
				);
				out.set(name, JSON.stringify(docs.sort((a, b) => (a.id < b.id ? -1 : 1))));
			}
			return out;
		} finally {
			recording = true;
		}
	}

	function changedCollections(before: Map<string, string>, after: Map<string, string>): string[] {
		return [...after.keys()].filter(k => before.get(k) !== after.get(k));
	}

	/** Waits until accepted work has finished its follow-ups (events relayed, notifications written). */
	async function settle(): Promise<Map<string, string>> {
		let last = await snapshot();
		for (const deadline = Date.now() + 5000; Date.now() < deadline;) {
			await new Promise(r => setTimeout(r, 30));
			const next = await snapshot();
			const outboxEmpty = [...next].every(([name, docs]) => !name.endsWith("_outbox") || docs === "[]");
			if (outboxEmpty && changedCollections(last, next).length === 0) return next;
			last = next;
		}
		throw new Error("the shop did not settle within 5 s");
	}

	const stockCounters = (snap: Map<string, string>) =>
		(JSON.parse(snap.get("stock") ?? "[]") as Record<string, unknown>[]).map(
			({ productId, available, reserved, sold, received }) => ({ productId, available, reserved, sold, received }),
		);

	beforeAll(async () => {
		for (const op of STORE_OPS) {
			(Store.prototype as unknown as Record<StoreOp, (this: Store, ...args: unknown[]) => unknown>)[op] = function (
				this: Store,
				...args: unknown[]
			) {
				if (recording) {
					const fields = Object.keys(this.spec.fields);
					if (op === "insert")
						queries.push({
							collection: this.spec.name,
							op,
							where: {},
							fields,
							set: args[0] as Record<string, unknown>,
						});
					else
						queries.push({
							collection: this.spec.name,
							op,
							where: args[0] as Where,
							fields,
							search: op === "find" ? (args[1] as FindOptions)?.search : op === "count" ? args[1] : undefined,
							set: op === "update" ? (args[1] as Change)?.set : undefined,
						});
				}
				return (originals[op] as (...a: unknown[]) => unknown).apply(this, args);
			};
		}
		shop = await startShop({ env: { SEED: "true", CACHER: undefined, TRUST_PROXY: undefined } });
		const api = client(shop.url);
		const run = randomBytes(3).toString("hex");
		const admin = await api.login("admin@example.com", "admin-password");
		const customer = await api.register(`fuzz-ann-${run}@example.com`, "ann-password");
		const other = await api.register(`fuzz-bob-${run}@example.com`, "bob-password");
		// Products the fuzzer may delete or empty without starving the order endpoints of the seeded ones.
		for (let i = 0; i < 20; i++) {
			const created = await api.post<Product>(
				"/api/products",
				{ name: `Fuzz ${i}`, price: 100 + i, category: "fuzz", sku: `FUZZ-${run}-${i}` },
				{ token: admin.token },
			);
			await eventually(
				async () =>
					(await api.put(`/api/inventory/${created.body.id}`, { available: 1000 }, { token: admin.token })).status ===
					200,
			);
		}
		const products = (await api.get<Page<Product>>("/api/products?pageSize=100")).body.rows.map(p => p.id);
		const order = await api.post<Order>(
			"/api/orders",
			{ items: [{ productId: products[0], quantity: 1 }], paymentToken: "tok_visa" },
			{ token: customer.token },
		);
		expect(order.status).toBe(201);
		// The seeded shipping methods, and a code of each type (one with a limit), for the pricing routes.
		const methods = await api.get<Page<{ id: string }>>("/api/shipping-methods", { token: admin.token });
		expect(methods.body.rows.length).toBeGreaterThan(0);
		const promotions: { id: string; code: string }[] = [];
		for (const [type, value, usageLimit] of [
			["PERCENTAGE", 10, null],
			["FIXED", 300, 5],
			["FREE_SHIPPING", null, null],
		] as const) {
			const created = await api.post<{ id: string; code: string }>(
				"/api/promotions",
				{ code: `fuzz-${type.slice(0, 4)}-${run}`, type, value, currency: "USD", usageLimit, active: true },
				{ token: admin.token },
			);
			expect(created.status).toBe(201);
			promotions.push(created.body);
		}
		// A customer's cart and a guest cart, each with a line, an address and a method (so they can check out), for
		// the cart routes' ids; the customer's holds a code.
		const carts: string[] = [];
		const lines: string[] = [];
		for (const token of [customer.token, undefined]) {
			const cart = await api.post<{ id: string }>("/api/carts", {}, { token });
			const items = await api.post<{ items: { id: string }[] }>(
				`/api/carts/${cart.body.id}/items`,
				{ productId: products[1], quantity: 1 },
				{ token },
			);
			expect(items.status).toBe(200);
			const shippingAddress = { line1: "1 Fuzz Way", city: "Testville", postalCode: "12345", country: "US" };
			const shipping = await api.patch(
				`/api/carts/${cart.body.id}`,
				{ shippingAddress, shippingMethodId: methods.body.rows[0].id },
				{ token },
			);
			expect(shipping.status).toBe(200);
			carts.push(cart.body.id);
			lines.push(items.body.items[0].id);
		}
		const applied = await api.post(
			`/api/carts/${carts[0]}/discounts`,
			{ code: promotions[0].code },
			{ token: customer.token },
		);
		expect(applied.status).toBe(200);
		const hook = await api.post<{ id: string }>(
			"/api/webhooks",
			{ url: "http://127.0.0.1:9/hook", events: ["order.confirmed"] },
			{ token: admin.token },
		);
		expect(hook.status).toBe(201);
		pools = {
			webhookIds: [hook.body.id],
			promotionIds: promotions.map(p => p.id),
			codes: promotions.flatMap(p => [p.code, p.code.toLowerCase()]),
			shippingMethodIds: methods.body.rows.map(m => m.id),
			countries: ["US", "DE", "GB", "FR", "NL", "de", "XX", "USA", "*"],
			productIds: products,
			orderIds: [order.body.id],
			cartIds: carts,
			lineIds: lines,
			userIds: [customer.user.id, other.user.id, admin.user.id],
			emails: ["admin@example.com", customer.user.email, other.user.email],
			tokens: {
				admin: admin.token,
				customer: customer.token,
				other: other.token,
				expired: jwt.sign({ sub: customer.user.id, role: "customer", exp: 1 }, DEV_JWT_SECRET),
			},
		};
		baseline = await settle();
		recording = true;
		console.info(`fuzz seed ${SEED} (FUZZ_SEED to replay), ${RUNS_PER_ENDPOINT} runs per endpoint`);
	});

	afterAll(async () => {
		Object.assign(Store.prototype, originals);
		await shop?.stop();
		const sorted = [...histogram].sort(([a], [b]) => a - b).map(([status, n]) => `${status}: ${n}`);
		console.info(
			`fuzz: ${sent} requests (${hostileQueryStrings} with operators in the query string), ` +
				`status histogram { ${sorted.join(", ")} }`,
		);
		for (const [alias, statuses] of perEndpoint) console.info(`fuzz: ${alias.padEnd(36)} ${JSON.stringify(statuses)}`);
		console.info(`fuzz: errors by status and type ${JSON.stringify(Object.fromEntries([...errorTypes].sort()))}`);
	});

	/**
	 * One request and its checks; after a failed check the next request starts from the settled state, not a
	 * cascade.
	 */
	async function send(alias: string, req: FuzzRequest): Promise<number> {
		try {
			return await sendAndCheck(alias, req);
		} catch (err) {
			baseline = await settle();
			throw err;
		}
	}

	async function sendAndCheck(alias: string, req: FuzzRequest): Promise<number> {
		const before = await snapshot();
		expect(
			changedCollections(baseline, before),
			"state changed after the previous (rejected) request finished",
		).toEqual([]);
		queries.length = 0;

		const url = `${shop.url}${req.path}${req.query ? `?${req.query}` : ""}`;
		const res = await fetch(url, { method: req.method, headers: req.headers, body: req.body });
		const text = await res.text();
		sent++;
		if (/\$|%24/.test(req.query)) hostileQueryStrings++;
		histogram.set(res.status, (histogram.get(res.status) ?? 0) + 1);
		if (res.status >= 400) {
			const key = `${res.status} ${/"type":"([^"]*)"/.exec(text)?.[1] ?? ""}`;
			errorTypes.set(key, (errorTypes.get(key) ?? 0) + 1);
		}
		const statuses = perEndpoint.get(alias) ?? {};
		statuses[res.status] = (statuses[res.status] ?? 0) + 1;
		perEndpoint.set(alias, statuses);
		const what =
			`${req.method} ${url.slice(0, 300)} body=${(req.body ?? "").slice(0, 300)} ` +
			`-> ${res.status} ${text.slice(0, 300)}`;

		expect(res.status, what).toBeLessThan(500);
		let body: CheckedBody | null | undefined;
		if (res.status >= 400) {
			expect(() => (body = JSON.parse(text) as CheckedBody | null), what).not.toThrow();
			expect(body, what).toEqual(
				expect.objectContaining({
					name: expect.any(String),
					message: expect.any(String),
					code: res.status,
					type: expect.any(String),
				}),
			);
		} else if (text) body = JSON.parse(text) as CheckedBody | null;

		expect(Object.getOwnPropertyNames(Object.prototype).sort().join(","), what).toBe(prototypeKeys);
		expect(({} as Record<string, unknown>).polluted, what).toBeUndefined();
		for (const q of queries)
			expect(clientMadeQuery(q), `${what}\nstore ${q.op} on ${q.collection}: ${JSON.stringify(q.where)}`).toBeNull();

		// A declined card or an empty shelf is a processed order: it is kept as FAILED and must give back what it took.
		const processedOrder =
			(req.path === "/api/orders" || /^\/api\/carts\/[^/]+\/checkout$/.test(req.path)) &&
			req.method === "POST" &&
			["PAYMENT_DECLINED", "OUT_OF_STOCK", "DISCOUNT_EXHAUSTED"].includes(body?.type ?? "") &&
			typeof body?.data?.orderId === "string";
		if (res.status >= 400 && !processedOrder) {
			const after = await snapshot();
			expect(changedCollections(before, after), `rejected request changed state: ${what}`).toEqual([]);
			baseline = after;
		} else if (processedOrder) {
			baseline = await settle();
			expect(stockCounters(baseline), `a failed order kept stock: ${what}`).toEqual(stockCounters(before));
			expect(
				(JSON.parse(baseline.get("orders")!) as { id: string; status: string }[]).find(
					o => o.id === body?.data?.orderId,
				)?.status,
				what,
			).toBe("FAILED");
		} else if (req.method === "GET") {
			const after = await snapshot();
			expect(changedCollections(before, after), `a GET changed state: ${what}`).toEqual([]);
			baseline = after;
		} else {
			baseline = await settle();
			if (/^\/api\/(orders|carts\/[^/]+\/checkout)$/.test(req.path) && body?.id) pools.orderIds.push(body.id);
			if (req.path === "/api/carts" && body?.id) pools.cartIds.push(body.id);
		}
		return res.status;
	}

	it("has a generator for every endpoint of the API", () => {
		expect(Object.keys(API_ALIASES).filter(alias => !ENDPOINTS[alias])).toEqual([]);
	});

	it("refuses operator objects in query strings, ids and bodies before any store query sees them", async () => {
		const { admin, customer } = pools.tokens;
		const json = { "content-type": "application/json" };
		const cases: [string, FuzzRequest, string][] = [
			["GET /products", { method: "GET", path: "/api/products", query: "category[$ne]=x", headers: {} }, "anonymous"],
			[
				"GET /products",
				{ method: "GET", path: "/api/products", query: "search[$regex]=.*&sort[$gt]=", headers: {} },
				"anonymous",
			],
			[
				"GET /products/:id",
				{ method: "GET", path: "/api/products/%7B%22%24gt%22%3A%22%22%7D", query: "", headers: {} },
				"anonymous",
			],
			["GET /products/:id", { method: "GET", path: "/api/products/x", query: "id[$ne]=x", headers: {} }, "anonymous"],
			[
				"GET /inventory/:productId",
				{ method: "GET", path: "/api/inventory/%7B%22%24ne%22%3Anull%7D", query: "", headers: {} },
				"anonymous",
			],
			[
				"GET /orders",
				{
					method: "GET",
					path: "/api/orders",
					query: "userId[$ne]=x",
					headers: { authorization: `Bearer ${customer}` },
				},
				"customer",
			],
			[
				"GET /orders",
				{
					method: "GET",
					path: "/api/orders",
					query: "userId[$ne]=x&status[$in][]=CONFIRMED",
					headers: { authorization: `Bearer ${admin}` },
				},
				"admin",
			],
			[
				"GET /orders/:id",
				{
					method: "GET",
					path: "/api/orders/%7B%22%24gt%22%3A%22%22%7D",
					query: "",
					headers: { authorization: `Bearer ${customer}` },
				},
				"customer",
			],
			[
				"GET /payments",
				{
					method: "GET",
					path: "/api/payments",
					query: "orderId[$ne]=x",
					headers: { authorization: `Bearer ${customer}` },
				},
				"customer",
			],
			[
				"GET /users",
				{ method: "GET", path: "/api/users", query: "role[$ne]=admin", headers: { authorization: `Bearer ${admin}` } },
				"admin",
			],
			[
				"POST /auth/login",
				{
					method: "POST",
					path: "/api/auth/login",
					query: "",
					body: '{"email":{"$gt":""},"password":{"$gt":""}}',
					headers: json,
				},
				"anonymous",
			],
			[
				"POST /auth/login",
				{ method: "POST", path: "/api/auth/login", query: "email[$gt]=&password[$gt]=", body: "{}", headers: json },
				"anonymous",
			],
			[
				"POST /orders",
				{
					method: "POST",
					path: "/api/orders",
					query: "",
					body: `{"items":[{"productId":{"$gt":""},"quantity":1}],"paymentToken":"tok_visa"}`,
					headers: { ...json, authorization: `Bearer ${customer}` },
				},
				"customer",
			],
			[
				"PATCH /products/:id",
				{
					method: "PATCH",
					path: `/api/products/${pools.productIds[0]}`,
					query: "",
					body: '{"price":{"$inc":1000},"sku":{"$ne":null}}',
					headers: { ...json, authorization: `Bearer ${admin}` },
				},
				"admin",
			],
		];
		for (const [alias, req, who] of cases)
			expect([404, 422], `${req.method} ${req.path}?${req.query} as ${who}`).toContain(await send(alias, req));
	});

	it.each(Object.keys(API_ALIASES))("%s", async alias => {
		expect(ENDPOINTS[alias], `no fuzz generator for ${alias}`).toBeDefined();
		await fc.assert(
			fc.asyncProperty(requestArb(alias, pools), async req => {
				await send(alias, req);
			}),
			{ numRuns: RUNS_PER_ENDPOINT, seed: SEED, endOnFailure: true },
		);
	});

	it("drops __proto__ keys of a body instead of merging their contents into the action's params", async () => {
		const api = client(shop.url);
		const smuggled = await api.request("POST", "/api/orders", {
			token: pools.tokens.customer,
			rawBody:
				`{"__proto__":{"items":[{"productId":"${pools.productIds[0]}","quantity":1}],` + `"paymentToken":"tok_visa"}}`,
		});
		expect(smuggled.status).toBe(422);
		const me = (await api.get<User>("/api/users/me", { token: pools.tokens.other })).body;
		expect(
			(
				await api.request<User>("PATCH", "/api/users/me", {
					token: pools.tokens.other,
					rawBody: '{"__proto__":{"name":"Mallory"}}',
				})
			).body.name,
		).toBe(me.name);
		baseline = await settle();
	});

	it("keeps the process up, the invariants intact and Object.prototype clean", async () => {
		expect(sent).toBeGreaterThanOrEqual(Math.min(2000, RUNS_PER_ENDPOINT * Object.keys(API_ALIASES).length));
		const live = await fetch(`${shop.url}/health/live`);
		expect(live.status).toBe(200);
		expect(await live.json()).toEqual({ status: "ok" });
		const report = await auditShop(shop.broker);
		expect(report.violations).toEqual([]);
		expect(Object.getOwnPropertyNames(Object.prototype).sort().join(",")).toBe(prototypeKeys);
		expect((Object.prototype as Record<string, unknown>).polluted).toBeUndefined();
	});
});
