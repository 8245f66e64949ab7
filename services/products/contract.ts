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

declare module "../../lib/actor" {
	interface ActionContracts {
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
