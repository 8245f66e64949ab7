// The products actor's contract: its entity, the actions other actors call and the events it publishes.
import type { Doc } from "../../lib/storage";

export interface Product extends Doc {
	name: string;
	description: string;
	price: number;
	currency: string;
	category: string;
	sku: string;
	createdAt: string;
	updatedAt: string;
}

/** What an admin sends to create a product; the service fills in the defaults, the id and the timestamps. */
export interface ProductInput {
	name: string;
	description?: string;
	price: number;
	currency?: string;
	category: string;
	sku: string;
}

/** One option of a product and its values, e.g. `{ name: "Size", values: ["S", "M", "L"] }` (issue 12). */
export interface ProductOption {
	name: string;
	values: string[];
}

/** A variant as orders and carts price it: its own id, SKU and price, with its product's id and name. */
export interface VariantLine {
	variantId: string;
	productId: string;
	sku: string;
	name: string;
	/** The variant's value of each option of its product, e.g. `{ Size: "M" }`; `{}` for a single-variant product. */
	options: Record<string, string>;
	price: number;
	currency: string;
}

declare module "../../lib/actor" {
	interface ActionContracts {
		/**
		 * The variants with these ids; a single-variant product's variant has the product's id, so a product id works
		 * for it. Ids that are not variants are left out; those that are multi-variant products are listed apart
		 * (an order or cart line naming one is 422 VARIANT_REQUIRED).
		 */
		"products.getVariants": {
			params: { ids: string[] };
			result: { variants: VariantLine[]; multiVariantProductIds: string[] };
		};
		"products.get": { params: { id: string }; result: Product };
		/** Missing ids are left out of the result. */
		"products.getMany": { params: { ids: string[] }; result: Product[] };
	}
}

declare module "../../lib/events" {
	interface EventPayloads {
		"product.created": Pick<Product, "sku" | "name" | "price" | "currency" | "category"> & { productId: string };
		/** `changes` names the fields the update set; `product` is the product after it. */
		"product.updated": { productId: string; changes: string[]; product: Product };
		"product.deleted": { productId: string; sku: string };
	}
}
