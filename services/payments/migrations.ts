import { DuplicateKeyError } from "../../lib/errors";
import { sequelizeLibrary, type Migration } from "../../lib/storage";
import { PAYMENTS, REFUNDS } from "./contract";
import { fullRefund } from "./refund-rules";

/**
 * The versioned steps of the payments actor's store, in name order. Names are never changed once released.
 * `payments-0001-refunded`: payments gain `refunded` (what their refunds count against the charge: all of it for a
 * REFUNDED payment, else 0), which partial refunds compare-and-set, and each REFUNDED payment gets its full refund
 * as a row of `refunds`, as the release with partial refunds stores it.
 */
export const PAYMENT_MIGRATIONS: readonly Migration[] = [
	{
		name: "payments-0001-refunded",
		async up({ sequelize, storeFor, logger }) {
			if (sequelize) {
				const qi = sequelize.getQueryInterface();
				const columns = await qi.describeTable(PAYMENTS.name);
				if (!columns.refunded)
					await qi.addColumn(PAYMENTS.name, "refunded", { type: sequelizeLibrary().DataTypes.BIGINT, allowNull: true });
			}
			const payments = storeFor(PAYMENTS);
			const refunds = storeFor(REFUNDS);
			let migrated = 0;
			for (const p of await payments.find({}, { limit: 100_000_000 })) {
				if (typeof p.refunded === "number") continue;
				const refunded = p.status === "REFUNDED" ? p.amount : 0;
				// Only if unchanged since read: a node of this release may have counted a refund meanwhile.
				migrated += await payments.update({ id: p.id, updatedAt: p.updatedAt }, { set: { refunded } });
				if (p.status !== "REFUNDED") continue;
				await refunds.insert(fullRefund(p, p.refundedAt ?? p.updatedAt)).catch((err: unknown) => {
					if (!(err instanceof DuplicateKeyError)) throw err;
				});
			}
			logger.info(`payments-0001-refunded: ${migrated} payments got their refunded amount`);
		},
	},
];
