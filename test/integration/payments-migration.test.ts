import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServiceBroker } from "moleculer";
import { call } from "../../lib/actor";
import { Store, createSequelize, type CollectionSpec } from "../../lib/storage";
import { PAYMENTS, REFUNDS, type Payment } from "../../services/payments/contract";
import type { DbThis } from "../../mixins/db.mixin";
import { startShop, type Shop } from "../support/shop";
import { createTestDatabase } from "../support/databases";
import { describeWithServers } from "../support/servers";

/** A payment as the release before partial refunds stored it: no `refunded`. */
type ReleasedPayment = Omit<Payment, "refunded" | "refundIds">;
const { refunded: _r, refundIds: _m, ...releasedFields } = PAYMENTS.fields;
const RELEASED_PAYMENTS: CollectionSpec<ReleasedPayment> = {
	name: "payments",
	fields: releasedFields,
	unique: ["orderId"],
	indexes: ["status"],
};

const NOW = "2026-01-01T00:00:00.000Z";
const released = (orderId: string, status: Payment["status"]): ReleasedPayment => ({
	id: `pay-${orderId}`,
	orderId,
	userId: "u1",
	amount: 4000,
	currency: "USD",
	status,
	paymentToken: "tok_visa",
	failureReason: status === "REFUNDED" ? "cancelled" : null,
	createdAt: NOW,
	updatedAt: NOW,
	refundedAt: status === "REFUNDED" ? NOW : null,
});

/**
 * Issue 13: payments written by the release before partial refunds are upgraded when payments starts on them
 * (`payments-0001-refunded`): each gets `refunded` (all of a REFUNDED charge, else 0) and a REFUNDED one its full
 * refund as a refund row; a charge of that release can then be refunded in parts.
 */
function suite(kind: "nedb" | "mariadb" | "postgres") {
	return () => {
		let db: { uri: string; drop(): Promise<void> } | undefined;
		let shop: Shop;

		beforeAll(async () => {
			if (kind === "nedb") {
				const dir = await mkdtemp(path.join(tmpdir(), "emporium-payments-"));
				db = { uri: `nedb://${dir}`, drop: () => rm(dir, { recursive: true, force: true }) };
			} else db = await createTestDatabase(kind);
			const broker = new ServiceBroker({ logger: false });
			const sequelize = kind === "nedb" ? undefined : createSequelize(db.uri);
			const payments = new Store(RELEASED_PAYMENTS, db.uri, broker.getLogger("released"));
			await payments.connect(broker, sequelize);
			for (const p of [released("o-paid", "SUCCEEDED"), released("o-cancelled", "REFUNDED")]) await payments.insert(p);
			await payments.disconnect();
			await sequelize?.close();
			shop = await startShop({ services: ["payments"], env: { DB_URI: db.uri, DATA_DIR: undefined } });
		});

		afterAll(async () => {
			await shop?.stop();
			await db?.drop();
		});

		const stores = () => shop.broker.getLocalService("payments") as unknown as DbThis;
		const audit = async (orderId: string) =>
			(await call(shop.broker, "payments.audit", {})).find(p => p.orderId === orderId);

		it("gives each payment what its refunds count, and a refunded one its full refund row", async () => {
			const payments = stores().storeFor(PAYMENTS);
			expect(await payments.findOne({ orderId: "o-paid" })).toMatchObject({ status: "SUCCEEDED", refunded: 0 });
			expect(await payments.findOne({ orderId: "o-cancelled" })).toMatchObject({ status: "REFUNDED", refunded: 4000 });
			expect(await stores().storeFor(REFUNDS).find({})).toEqual([
				{
					id: "pay-o-cancelled:refund",
					orderId: "o-cancelled",
					paymentId: "pay-o-cancelled",
					...(kind === "nedb" ? {} : { returnId: null }),
					amount: 4000,
					currency: "USD",
					status: "SUCCEEDED",
					reason: "cancelled",
					counted: true,
					createdAt: NOW,
					updatedAt: NOW,
				},
			]);
			expect(await audit("o-cancelled")).toMatchObject({ status: "REFUNDED", refunded: 4000 });
			expect(await audit("o-paid")).toMatchObject({ status: "SUCCEEDED", refunded: 0 });
		});

		it("refunds a charge of the release before in parts", async () => {
			const part = { orderId: "o-paid", returnId: "ret-1", amount: 1500 };
			expect(await call(shop.broker, "payments.refundPart", part)).toMatchObject({ status: "SUCCEEDED" });
			expect(await audit("o-paid")).toMatchObject({ status: "PARTIALLY_REFUNDED", refunded: 1500 });
			const over = call(
				shop.broker,
				"payments.refundPart",
				{ ...part, returnId: "ret-2", amount: 2501 },
				{ retries: 0 },
			);
			await expect(over).rejects.toMatchObject({ type: "REFUND_EXCEEDS_CHARGE" });
		});
	};
}

describe("upgrading a SQLite payments store of the release before partial refunds", suite("nedb"));
for (const kind of ["mariadb", "postgres"] as const)
	await describeWithServers(
		[kind],
		`upgrading a ${kind} payments store of the release before partial refunds`,
		suite(kind),
	);
