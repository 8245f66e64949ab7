import { sequelizeLibrary, type Migration } from "../../lib/storage";
import { CARTS } from "./contract";

/**
 * The versioned steps of the carts actor's store, in name order. Names are never changed once released.
 * `carts-0001-money`: carts gain `discountCode` and `shippingMethodId` (SQL: two nullable columns; memory:// and
 * MongoDB need nothing, the repository reads a missing field as null).
 */
export const CART_MIGRATIONS: readonly Migration[] = [
	{
		name: "carts-0001-money",
		async up({ sequelize }) {
			if (!sequelize) return;
			const qi = sequelize.getQueryInterface();
			const columns = await qi.describeTable(CARTS.name);
			for (const column of ["discountCode", "shippingMethodId"])
				if (!columns[column])
					await qi.addColumn(CARTS.name, column, { type: sequelizeLibrary().DataTypes.STRING(255), allowNull: true });
		},
	},
];
