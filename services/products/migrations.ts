import { DuplicateKeyError } from "../../lib/errors";
import { sequelizeLibrary, type Migration, type MigrationContext } from "../../lib/storage";
import { PRODUCTS, VARIANTS } from "./catalogue";
import type { ProductRecord } from "./contract";

/** A product as the release before variants stored it: its own SKU, price and currency. */
interface LegacyProduct extends ProductRecord {
	sku?: string | null;
}

/** The products as stored, with the columns the current model no longer reads (SQL: `sku`). */
async function storedProducts({ sequelize, storeFor }: MigrationContext): Promise<LegacyProduct[]> {
	if (!sequelize) return storeFor(PRODUCTS).find({});
	const qi = sequelize.getQueryInterface();
	const columns = await qi.describeTable(PRODUCTS.name);
	if (!columns.sku) return []; // created by this release: no product of the old shape
	const q = (name: string) => qi.quoteIdentifier(name);
	const fields = ["id", "name", "sku", "price", "currency", "createdAt", "updatedAt"].map(q).join(", ");
	const rows = await sequelize.query<Record<string, unknown>>(`SELECT ${fields} FROM ${q(PRODUCTS.name)}`, {
		type: sequelizeLibrary().QueryTypes.SELECT,
	});
	return rows.map(r => ({ ...r, price: Number(r.price) }) as unknown as LegacyProduct);
}

/**
 * The versioned steps of the products actor's store, in name order. Names are never changed once released.
 * `products-0001-variants`: products gain `options`; each product of the release before gets its one variant, with
 * the product's id, SKU, price and currency (its stock, keyed by that id, becomes the variant's). The old `sku`
 * column stays on SQL (unused, NULL for new products) so that the previous release can still read its rows.
 */
export const PRODUCT_MIGRATIONS: readonly Migration[] = [
	{
		name: "products-0001-variants",
		async up(ctx) {
			const { sequelize, storeFor } = ctx;
			if (sequelize) {
				const qi = sequelize.getQueryInterface();
				const columns = await qi.describeTable(PRODUCTS.name);
				if (!columns.options)
					await qi.addColumn(PRODUCTS.name, "options", {
						type: sequelizeLibrary().DataTypes.TEXT("medium"),
						allowNull: true,
					});
			}
			const products = storeFor(PRODUCTS);
			const variants = storeFor(VARIANTS);
			let migrated = 0;
			for (const p of await storedProducts(ctx)) {
				if (!p.sku) continue;
				const { id, name, sku, price, currency, createdAt, updatedAt } = p;
				const variant = { id, productId: id, sku, title: name, options: {}, price, currency, position: 0 };
				await variants.insert({ ...variant, createdAt, updatedAt }).then(
					() => migrated++,
					(err: unknown) => {
						if (!(err instanceof DuplicateKeyError)) throw err; // a node running this step too made it
					},
				);
				await products.update({ id }, { set: { options: [] } });
			}
			ctx.logger.info(`products-0001-variants: ${migrated} products got their variant`);
		},
	},
];
