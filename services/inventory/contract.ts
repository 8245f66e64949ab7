// The inventory actor's contract: the actions other actors call and the events it publishes.

export interface StockLine {
	productId: string;
	quantity: number;
}

export interface StockView {
	productId: string;
	available: number;
	reserved: number;
}

declare module "../../lib/actor" {
	interface ActionContracts {
		"inventory.initStock": { params: { productId: string; available: number }; result: StockView };
		"inventory.reserve": {
			params: { orderId: string; items: StockLine[] };
			result: { orderId: string; items: StockLine[] };
		};
		"inventory.commit": { params: { orderId: string }; result: { orderId: string; committed: number } };
		"inventory.release": { params: { orderId: string }; result: { orderId: string; released: number } };
	}
}
