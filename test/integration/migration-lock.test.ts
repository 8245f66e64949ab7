import { afterAll, beforeAll, expect, it } from "vitest";
import { ServiceBroker } from "moleculer";
import type { Sequelize } from "sequelize";
import { IDLE_TRANSACTION_SECONDS, createSequelize, runMigrations, type Migration } from "../../lib/storage";
import { createTestDatabase } from "../support/databases";
import { describeWithServers } from "../support/servers";

/**
 * Nodes of one actor starting together (a rolling start, two replicas) run its migrations one at a time on SQL: a
 * step that is not idempotent (a column added) is applied once, and every node starts.
 */
for (const kind of ["mariadb", "postgres"] as const)
	await describeWithServers([kind], `migrations of nodes starting together (${kind})`, () => {
		let db: Awaited<ReturnType<typeof createTestDatabase>>;
		const connections: Sequelize[] = [];
		const logger = new ServiceBroker({ logger: false }).getLogger("migrations");

		beforeAll(async () => {
			db = await createTestDatabase(kind);
			for (let i = 0; i < 4; i++) connections.push(createSequelize(db.uri));
			await connections[0].query("CREATE TABLE things (id VARCHAR(64) PRIMARY KEY)");
		});

		/** Every node runs the actor's migrations at once. */
		const migrateOnEveryNode = (steps: Migration[]) =>
			Promise.all(
				connections.map(sequelize =>
					runMigrations("things", steps, { kind: "sql", sequelize, storeFor: () => never(), logger }),
				),
			);

		afterAll(async () => {
			await Promise.all(connections.map(c => c.close()));
			await db?.drop();
		});

		it("applies each step once, whichever node gets there first, and every node starts", async () => {
			let applied = 0;
			const steps: Migration[] = [
				{
					name: "things-0001-colour",
					async up(ctx) {
						applied++;
						// A second run of this step would fail: the column exists.
						await ctx.sequelize!.query("ALTER TABLE things ADD COLUMN colour VARCHAR(20)");
						await new Promise(resolve => setTimeout(resolve, 200));
					},
				},
			];
			const ran = await migrateOnEveryNode(steps);
			expect(applied).toBe(1);
			expect(ran.flat()).toEqual(["things-0001-colour"]);
		});

		it("holds the lock through a step longer than the databases' idle-transaction limit", async () => {
			let applied = 0;
			const steps: Migration[] = [
				{
					name: "things-0002-size",
					async up(ctx) {
						applied++;
						await ctx.sequelize!.query("ALTER TABLE things ADD COLUMN size VARCHAR(20)");
						await new Promise(resolve => setTimeout(resolve, IDLE_TRANSACTION_SECONDS * 1000 + 1500));
					},
				},
			];
			const ran = await migrateOnEveryNode(steps);
			expect(applied).toBe(1);
			expect(ran.flat()).toEqual(["things-0002-size"]);
		}, 30_000);
	});

function never(): never {
	throw new Error("no store in this test");
}
