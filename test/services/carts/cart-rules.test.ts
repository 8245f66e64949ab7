import { describe, expect, it } from "vitest";
import {
	assertCanSee,
	assertChangeable,
	canTransition,
	newCart,
	ownerKeyOf,
	withMoneyFields,
} from "../../../services/carts/cart-state";
import { addLine, mergeLines, removeLine, setQuantity } from "../../../services/carts/cart-lines";
import type { CartLine, CartStatus } from "../../../services/carts/contract";

const line = (id: string, variantId: string, quantity: number): CartLine => ({ id, variantId, quantity });
const fifty = Array.from({ length: 50 }, (_, i) => line(`l${i}`, `v${i}`, 1));
const customer = { id: "u1", email: "u1@example.com", name: "U", role: "customer" as const };

describe("cart state machine", () => {
	it.each<[CartStatus, CartStatus, boolean]>([
		["ACTIVE", "CHECKING_OUT", true],
		["ACTIVE", "MERGED", true],
		["ACTIVE", "COMPLETED", false],
		["CHECKING_OUT", "COMPLETED", true],
		["CHECKING_OUT", "ACTIVE", true],
		["CHECKING_OUT", "MERGED", false],
		["COMPLETED", "ACTIVE", false],
		["COMPLETED", "CHECKING_OUT", false],
		["MERGED", "ACTIVE", false],
		["MERGED", "CHECKING_OUT", false],
	])("%s -> %s allowed: %s", (from, to, allowed) => {
		expect(canTransition(from, to)).toBe(allowed);
	});

	it.each<[CartStatus, string | null]>([
		["ACTIVE", null],
		["CHECKING_OUT", "CHECKOUT_IN_PROGRESS"],
		["COMPLETED", "CART_COMPLETED"],
		["MERGED", "CART_COMPLETED"],
	])("a %s cart refuses changes with %s", (status, type) => {
		if (type === null) expect(() => assertChangeable(status)).not.toThrow();
		else expect(() => assertChangeable(status)).toThrow(expect.objectContaining({ code: 409, type }));
	});

	it.each<[string | null, CartStatus, string]>([
		["u1", "ACTIVE", "user:u1"],
		["u1", "CHECKING_OUT", "user:u1"],
		["u1", "COMPLETED", "cart:c1"],
		["u1", "MERGED", "cart:c1"],
		[null, "ACTIVE", "cart:c1"],
		[null, "MERGED", "cart:c1"],
	])("owner %s with status %s holds slot %s", (userId, status, key) => {
		expect(ownerKeyOf({ id: "c1", userId, status })).toBe(key);
	});

	it("starts a cart empty and ACTIVE in its owner's slot", () => {
		expect(newCart("c1", "u1", { email: "a@example.com" }, "2025-01-01T00:00:00.000Z")).toEqual({
			id: "c1",
			userId: "u1",
			ownerKey: "user:u1",
			status: "ACTIVE",
			lines: [],
			email: "a@example.com",
			shippingAddress: null,
			discountCode: null,
			shippingMethodId: null,
			orderId: null,
			checkout: null,
			attempts: 0,
			version: 0,
			createdAt: "2025-01-01T00:00:00.000Z",
			updatedAt: "2025-01-01T00:00:00.000Z",
		});
	});

	it("reads a cart stored before codes and methods as one without either, and keeps those it has", () => {
		const { discountCode, shippingMethodId, ...legacy } = newCart("c1", "u1", {}, "t");
		expect([discountCode, shippingMethodId]).toEqual([null, null]);
		const read = withMoneyFields(legacy as ReturnType<typeof newCart>);
		expect(read).toMatchObject({ discountCode: null, shippingMethodId: null });
		expect(Object.keys(read)).toContain("discountCode");
		const chosen = { ...newCart("c2", null, {}, "t"), discountCode: "SAVE10", shippingMethodId: "m1" };
		expect(withMoneyFields(chosen)).toEqual(chosen);
	});

	it.each<[string | null, typeof customer | undefined, boolean]>([
		[null, undefined, true],
		[null, customer, true],
		["u1", customer, true],
		["u2", customer, false],
		["u1", undefined, false],
		["u1", { ...customer, id: "admin", role: "admin" as const } as unknown as typeof customer, false],
	])("a cart of %s is visible to %o: %s", (userId, user, visible) => {
		if (visible) expect(() => assertCanSee({ userId }, user)).not.toThrow();
		else expect(() => assertCanSee({ userId }, user)).toThrow(expect.objectContaining({ code: 404 }));
	});
});

describe("cart lines", () => {
	it.each<[string, CartLine[], string, number, CartLine[] | string]>([
		["adds a line", [], "v1", 2, [line("n", "v1", 2)]],
		["raises the same variant's line", [line("a", "v1", 2)], "v1", 3, [line("a", "v1", 5)]],
		["raises up to 1000", [line("a", "v1", 999)], "v1", 1, [line("a", "v1", 1000)]],
		["refuses more than 1000", [line("a", "v1", 999)], "v1", 2, "QUANTITY_TOO_LARGE"],
		["refuses a 51st line", fifty, "v50", 1, "TOO_MANY_LINES"],
		["raises a line of a full cart", fifty, "v3", 1, fifty.map(l => (l.id === "l3" ? line("l3", "v3", 2) : l))],
	])("%s", (_name, lines, variantId, quantity, expected) => {
		if (typeof expected === "string")
			expect(() => addLine(lines, variantId, quantity, "n")).toThrow(
				expect.objectContaining({ code: 422, type: expected }),
			);
		else expect(addLine(lines, variantId, quantity, "n")).toEqual(expected);
	});

	it.each<[string, number, CartLine[] | [number, string]]>([
		["a", 7, [line("a", "v1", 7), line("b", "v2", 1)]],
		["a", 0, [line("b", "v2", 1)]],
		["a", 1001, [422, "QUANTITY_TOO_LARGE"]],
		["zz", 1, [404, "NOT_FOUND"]],
	])("sets line %s to %d", (lineId, quantity, expected) => {
		const lines = [line("a", "v1", 2), line("b", "v2", 1)];
		if (typeof expected[0] === "number")
			expect(() => setQuantity(lines, lineId, quantity)).toThrow(
				expect.objectContaining({ code: expected[0], type: expected[1] }),
			);
		else expect(setQuantity(lines, lineId, quantity)).toEqual(expected);
	});

	it("removes a line, and 404 for a line it does not have", () => {
		expect(removeLine([line("a", "v1", 2), line("b", "v2", 1)], "a")).toEqual([line("b", "v2", 1)]);
		expect(() => removeLine([line("a", "v1", 2)], "b")).toThrow(expect.objectContaining({ code: 404 }));
	});

	it.each<[string, CartLine[], CartLine[], CartLine[] | string]>([
		["into an empty cart", [], [line("g", "v1", 3)], [line("n1", "v1", 3)]],
		["adds quantities of one variant", [line("a", "v1", 2)], [line("g", "v1", 3)], [line("a", "v1", 5)]],
		["caps a merged line at 1000", [line("a", "v1", 600)], [line("g", "v1", 700)], [line("a", "v1", 1000)]],
		[
			"appends other variants after the customer's lines",
			[line("a", "v1", 1)],
			[line("g", "v2", 2), line("h", "v1", 1)],
			[line("a", "v1", 2), line("n1", "v2", 2)],
		],
		["refuses more than 50 lines rather than drop one", fifty, [line("g", "v99", 1)], "TOO_MANY_LINES"],
	])("merges a guest cart %s", (_name, target, source, expected) => {
		let n = 0;
		const ids = () => `n${++n}`;
		if (typeof expected === "string")
			expect(() => mergeLines(target, source, ids)).toThrow(expect.objectContaining({ type: expected }));
		else expect(mergeLines(target, source, ids)).toEqual(expected);
	});
});
