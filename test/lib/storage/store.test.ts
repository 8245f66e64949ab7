import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServiceBroker } from "moleculer";
import { Store, type CollectionSpec, type Doc } from "../../../lib/storage";

interface Counter extends Doc {
	value: number;
	note: string;
}
const COUNTERS: CollectionSpec<Counter> = { name: "counters", fields: { value: "int", note: "string" } };

/** Issue 17, item 9: NeDB files under DATA_DIR append a line per write; they must not grow without bound. */
describe("NeDB files (DATA_DIR, nedb://) are compacted as they grow", () => {
	const dir = mkdtempSync(path.join(tmpdir(), "emporium-nedb-"));
	const file = path.join(dir, "counters.db");
	const broker = new ServiceBroker({ logger: false });
	const lines = () => readFileSync(file, "utf8").split("\n").filter(Boolean).length;
	let store: Store<Counter>;

	beforeAll(async () => {
		store = new Store(COUNTERS, `nedb://${dir}`, broker.getLogger("test"));
		await store.connect(broker);
	});
	afterAll(async () => {
		await store?.disconnect();
		rmSync(dir, { recursive: true, force: true });
	});

	it("keeps the file near the live data after thousands of updates of a few documents", async () => {
		for (let i = 0; i < 10; i++) await store.insert({ id: `c${i}`, value: 0, note: "x".repeat(100) });
		for (let round = 0; round < 400; round++)
			for (let i = 0; i < 10; i++) await store.update({ id: `c${i}` }, { inc: { value: 1 } });
		// Any later operation runs after a compaction queued before it.
		expect(await store.count({})).toBe(10);
		expect(lines()).toBeLessThan(1100);

		const reopened = new Store(COUNTERS, `nedb://${dir}`, broker.getLogger("test"));
		await reopened.connect(broker);
		expect((await reopened.find({}, { sort: ["id"] })).map(c => c.value)).toEqual(Array(10).fill(400));
		await reopened.disconnect();
	});
});
