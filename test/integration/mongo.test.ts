import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, it } from "vitest";
import { startShop, type Shop } from "../support/shop";
import { orderFlowScenario } from "../support/scenarios";

/**
 * The MongoDB path (moleculer-db-adapter-mongo, filtered updates with $inc). No MongoDB server runs on the
 * development and CI machines, so this runs only when MONGO_URI is set, e.g. MONGO_URI=mongodb://127.0.0.1:27017.
 */
const mongoUri = process.env.MONGO_URI;

describe.skipIf(!mongoUri)(
	`order flow on MongoDB${mongoUri ? "" : " [skipped: MONGO_URI not set, no MongoDB server here]"}`,
	() => {
		let shop: Shop;

		beforeAll(async () => {
			const db = `emporium_t_${randomBytes(4).toString("hex")}`;
			shop = await startShop({ env: { DB_URI: `${mongoUri!.replace(/\/$/, "")}/${db}` } });
		});

		afterAll(async () => {
			await shop?.stop();
		});

		it("places, notifies, cancels and never oversells", async () => {
			await orderFlowScenario(shop, "MongoDB");
		}, 60_000);
	},
);
