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

declare module "../../lib/actor" {
	interface ActionContracts {
		"products.get": { params: { id: string }; result: Product };
		/** Missing ids are left out of the result. */
		"products.getMany": { params: { ids: string[] }; result: Product[] };
	}
}
