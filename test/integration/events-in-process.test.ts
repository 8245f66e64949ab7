import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { randomBytes } from "node:crypto";
import { ServiceBroker } from "moleculer";
import { startShop, type Shop } from "../support/shop";
import { eventually } from "../support/http";
import { AS_ADMIN, eventProbe, gate, outboxOf } from "../support/events";
import { CHANNEL_DEFAULTS, DEAD_LETTER_CHANNEL, type DomainEvent } from "../../lib/events";
import type { Store } from "../../lib/storage";
import { brokerOptions } from "../../moleculer.config";
import ProductsService from "../../services/products/products.service";

/**
 * Issue 17, item 7 (and the shutdown part of item 9): without EVENTS_URL the shop runs one process, and its event bus
 * keeps the promise of the real ones: a consumer that throws gets the event again, up to the retries of
 * CHANNEL_DEFAULTS and then the dead-letter channel, and the outbox row goes only once every group has handled it.
 */
const unique = () => randomBytes(4).toString("hex");
const productInput = (sku: string) => ({ name: `Product ${sku}`, price: 990, category: "test", sku });

describe("in-process event bus: at least once", () => {
	let shop: Shop;

	beforeAll(async () => {
		shop = await startShop({ services: ["products", "inventory"] });
	});
	afterEach(() => vi.restoreAllMocks());
	afterAll(() => shop?.stop());

	const createProduct = (sku = `p-${unique()}`) =>
		shop.broker.call<{ id: string }, object>("products.create", productInput(sku), AS_ADMIN);

	it("a consumer that throws gets the event again: the stock record is made on the second delivery", async () => {
		const ledger = (shop.broker.getLocalService("inventory") as unknown as { ledger: { ensure(id: string): unknown } })
			.ledger;
		const ensure = vi.spyOn(ledger, "ensure").mockRejectedValueOnce(new Error("injected: inventory store hiccup"));
		const product = await createProduct();
		expect(await eventually(() => shop.broker.call("inventory.get", { productId: product.id }))).toMatchObject({
			available: 0,
		});
		expect(ensure.mock.calls.filter(([id]) => id === product.id)).toHaveLength(2);
	});

	it("keeps the outbox row until every consumer group has handled the event", async () => {
		const steps: string[] = [];
		const hold = gate();
		const entered = gate();
		await eventProbe(
			shop.broker,
			["product.updated"],
			async () => {
				entered.open();
				await hold.wait;
				steps.push("handled");
			},
			"slow-probe",
		);
		const product = await createProduct();
		const outbox = outboxOf(shop.broker, "products");
		await eventually(async () => (await outbox.count({})) === 0);
		const remove = outbox.remove.bind(outbox);
		vi.spyOn(outbox, "remove").mockImplementation(async (where, tx) => {
			const n = await remove(where, tx);
			if (n) steps.push("row deleted");
			return n;
		});
		await shop.broker.call("products.update", { id: product.id, price: 1990 }, AS_ADMIN);
		await entered.wait;
		// Long enough for a send that does not wait for its consumers to have deleted the row already.
		await new Promise(resolve => setTimeout(resolve, 300));
		expect(await outbox.count({ type: "product.updated" })).toBe(1);
		hold.open();
		await eventually(async () => (await outbox.count({ type: "product.updated" })) === 0);
		expect(steps).toEqual(["handled", "row deleted"]);
		await shop.broker.destroyService(shop.broker.getLocalService("slow-probe"));
	});

	it("a consumer that keeps failing is tried maxRetries times, then dead-lettered; the others flow on", async () => {
		const poison = `poison-${unique()}`;
		const attempts: string[] = [];
		const deadLetters: { payload: DomainEvent; headers: Record<string, string> }[] = [];
		await eventProbe(
			shop.broker,
			["product.created"],
			event => {
				attempts.push(String(event.data.sku));
				return event.data.sku === poison ? Promise.reject(new Error("injected: poison")) : Promise.resolve();
			},
			"picky-probe",
		);
		shop.broker.createService({
			name: "dead-letter-watch",
			channels: {
				[DEAD_LETTER_CHANNEL]: {
					context: false,
					handler(payload: DomainEvent, raw: { headers: Record<string, string> }) {
						deadLetters.push({ payload, headers: raw.headers });
					},
				},
			},
		});
		await shop.broker.waitForServices("dead-letter-watch");

		const bad = await createProduct(poison);
		const good = await createProduct();
		await eventually(() => Promise.resolve(deadLetters.length === 1));
		expect(attempts.filter(sku => sku === poison)).toHaveLength(CHANNEL_DEFAULTS.maxRetries);
		expect(deadLetters[0].payload).toMatchObject({ type: "product.created", data: { productId: bad.id } });
		expect(deadLetters[0].headers).toMatchObject({
			"x-original-channel": "product.created",
			"x-original-group": "picky-probe",
		});
		expect(await eventually(() => shop.broker.call("inventory.get", { productId: good.id }))).toBeTruthy();
		await eventually(async () => (await outboxOf(shop.broker, "products").count({})) === 0);
	});
});

describe("shutdown: events of requests still draining are sent before the bus closes", () => {
	it("sends the event of a request that finishes after the broker began to stop", async () => {
		vi.stubEnv("SEED", "false");
		const broker = new ServiceBroker({ ...brokerOptions({ METRICS: "false" }), logger: false });
		broker.createService(ProductsService);
		await broker.start();
		vi.unstubAllEnvs();
		const { catalogue } = broker.getLocalService("products") as unknown as { catalogue: { products: Store } };
		const products = { store: catalogue.products };
		const adapter = broker.channelAdapter as unknown as {
			publish(channel: string, payload: DomainEvent): Promise<void>;
			disconnect(): Promise<void>;
		};
		const steps: string[] = [];
		const publish = adapter.publish.bind(adapter);
		vi.spyOn(adapter, "publish").mockImplementation((channel, payload) => {
			steps.push(`publish ${channel}`);
			return publish(channel, payload);
		});
		const disconnect = adapter.disconnect.bind(adapter);
		vi.spyOn(adapter, "disconnect").mockImplementation(() => {
			steps.push("bus closed");
			return disconnect();
		});
		const insert = products.store.insert.bind(products.store);
		const hold = gate();
		const entered = gate();
		vi.spyOn(products.store, "insert").mockImplementation(async (doc, tx) => {
			entered.open();
			await hold.wait;
			return insert(doc, tx);
		});

		const creating = broker.call("products.create", productInput(`drain-${unique()}`), AS_ADMIN);
		await entered.wait;
		const stopping = broker.stop();
		await eventually(() => Promise.resolve(broker.stopping));
		hold.open();
		expect(((await creating) as { sku: string }).sku).toMatch(/^drain-/);
		await stopping;
		expect(steps).toEqual(["publish product.created", "bus closed"]);
	});
});
