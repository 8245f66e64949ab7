import { sequelizeLibrary, type Migration, type MigrationContext } from "../../lib/storage";
import { ORDERS, type Order } from "./contract";
import type { PricedLine } from "./pricing";

const BATCH = 500;

/** An order as the release before the money rules stored it: lines without discount or tax, no totals. */
export type LegacyOrder = Omit<Order, "items" | MoneyField> & {
	items: (PricedLine & { discount?: number; tax?: number; total?: number })[];
} & Partial<Pick<Order, MoneyField>>;
type MoneyField = "totals" | "discountCode" | "discount" | "shippingMethod" | "taxRate" | "shippedAt" | "deliveredAt";
const MONEY_FIELDS: readonly MoneyField[] = [
	"totals",
	"discountCode",
	"discount",
	"shippingMethod",
	"taxRate",
	"shippedAt",
	"deliveredAt",
];

/**
 * What an order of the release before gains: it had no code, shipping or tax, so its total is its subtotal and each
 * line costs its line total. When it was shipped or delivered is not known: its last change (`updatedAt`) is the
 * latest time it can have been, so a return window counted from it is never cut short. Null: nothing to add.
 */
export function moneyFieldsOf(order: LegacyOrder): Pick<Order, "items" | MoneyField> | null {
	if (order.totals) return null;
	const shipped = ["SHIPPED", "DELIVERED", "PARTIALLY_RETURNED", "RETURNED"].includes(order.status);
	return {
		items: order.items.map(item => ({ ...item, discount: 0, tax: 0, total: item.lineTotal })),
		totals: { subtotal: order.total, discount: 0, shipping: 0, tax: 0, total: order.total },
		discountCode: null,
		discount: null,
		shippingMethod: null,
		taxRate: null,
		shippedAt: shipped ? order.updatedAt : null,
		deliveredAt: shipped && order.status !== "SHIPPED" ? order.updatedAt : null,
	};
}

/** SQL: the columns of the money rules, on a table the release before created (`sync()` adds no column). */
async function addColumns({ sequelize }: MigrationContext): Promise<void> {
	if (!sequelize) return;
	const qi = sequelize.getQueryInterface();
	const { DataTypes } = sequelizeLibrary();
	const columns = await qi.describeTable(ORDERS.name);
	for (const field of MONEY_FIELDS)
		if (!columns[field]) {
			const type = ORDERS.fields[field] === "json" ? DataTypes.TEXT("medium") : DataTypes.STRING(255);
			await qi.addColumn(ORDERS.name, field, { type, allowNull: true });
		}
}

/**
 * The versioned steps of the orders actor's store, in name order. Names are never changed once released.
 * `orders-0001-money-rules`: orders gain totals, the rules they were priced with, and their items discount, tax and
 * total (see moneyFieldsOf). Idempotent: an order that has totals is left as it is.
 */
export const ORDER_MIGRATIONS: readonly Migration[] = [
	{
		name: "orders-0001-money-rules",
		async up(ctx) {
			await addColumns(ctx);
			const orders = ctx.storeFor(ORDERS);
			let migrated = 0;
			for (let offset = 0; ; offset += BATCH) {
				const rows = (await orders.find({}, { sort: ["id"], offset, limit: BATCH })) as LegacyOrder[];
				for (const row of rows) {
					const set = moneyFieldsOf(row);
					if (set) migrated += await orders.update({ id: row.id }, { set });
				}
				if (rows.length < BATCH) break;
			}
			ctx.logger.info(`orders-0001-money-rules: ${migrated} orders got their totals`);
		},
	},
];
