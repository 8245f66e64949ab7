import { call, type Caller } from "../../lib/actor";
import type { VariantLookup } from "./checkout";

/** The variants behind these ids (`products.getVariants`); nothing to ask for an empty cart. */
export function lookupVariants(caller: Caller, variantIds: string[]): Promise<VariantLookup> {
	if (variantIds.length === 0) return Promise.resolve({ variants: [], multiVariantProductIds: [] });
	return call(caller, "products.getVariants", { ids: [...new Set(variantIds)] });
}

/** Each variant's available stock now; a variant without stock counters has nothing available. */
export async function availableStock(caller: Caller, variantIds: string[]): Promise<Map<string, number>> {
	const levels = await Promise.all(
		variantIds.map(async (variantId): Promise<[string, number]> => {
			const level = await call(caller, "inventory.get", { productId: variantId }).catch((err: unknown) => {
				if ((err as { type?: string }).type === "NOT_FOUND") return { available: 0 };
				throw err;
			});
			return [variantId, level.available];
		}),
	);
	return new Map(levels);
}
