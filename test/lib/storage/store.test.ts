import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ServiceBroker } from "moleculer";
import { DuplicateKeyError, StorageUnavailableError } from "../../../lib/errors";
import { Store, storeKind, type CollectionSpec, type Doc } from "../../../lib/storage";

interface Counter extends Doc {
	value: number;
	note: string;
	code?: string | null;
	active?: boolean;
	moves?: string[];
	pending?: number;
}
const COUNTERS: CollectionSpec<Counter> = {
	name: "counters",
	fields: { value: "int", note: "string", code: "string", active: "bool", moves: "json", pending: "int" },
	unique: ["code"],
	indexes: ["value"],
	documentOnly: ["moves", "pending"],
};
const broker = new ServiceBroker({ logger: false });
const open = async (uri: string) => {
	const store = new Store(COUNTERS, uri, broker.getLogger("test"));
	await store.connect(broker);
	return store;
};

describe("the in-process store (memory://): documents in SQLite, as the document stores query them", () => {
	let store: Store<Counter>;
	beforeAll(async () => {
		store = await open("memory://");
		for (const [id, value, extra] of [
			["c3", 3, { code: "X", active: true }],
			["c1", 1, { active: false }],
			["c2", 2, { code: null }],
		] as const)
			await store.insert({ id, value, note: `n${value}`, ...extra });
	});
	afterAll(() => store.disconnect());

	it("takes sqlite:// and nedb:// as the same kind", () => {
		expect(["memory://", "sqlite:///tmp/x", "nedb:///tmp/x"].map(storeKind)).toEqual(["memory", "memory", "memory"]);
	});

	it.each<[string, Parameters<Store<Counter>["find"]>[0], string[]]>([
		["everything, in id order when unsorted", {}, ["c1", "c2", "c3"]],
		["a boolean", { active: false }, ["c1"]],
		["$ne matches documents without the field", { code: { $ne: "X" } }, ["c1", "c2"]],
		["$in and a range", { id: { $in: ["c1", "c3"] }, value: { $gt: 1, $lte: 3 } }, ["c3"]],
		["null matches a missing field", { code: null }, ["c1", "c2"]],
	])("find: %s", async (_title, where, ids) => {
		expect((await store.find(where)).map(c => c.id)).toEqual(ids);
	});

	it("sorts, pages, counts and searches", async () => {
		expect((await store.find({}, { sort: ["-value"], limit: 2, offset: 1 })).map(c => c.id)).toEqual(["c2", "c1"]);
		expect(await store.count({ value: { $gte: 2 } })).toBe(2);
		expect((await store.find({}, { search: { text: "N2", fields: ["note"], ids: ["c3"] } })).map(c => c.id)).toEqual([
			"c2",
			"c3",
		]);
		await store.insert({ id: "c4", value: 4, note: "Crème Brûlée 50%" });
		expect((await store.find({}, { search: { text: "BRÛLÉE 50%", fields: ["note"] } })).map(c => c.id)).toEqual(["c4"]);
		expect(await store.count({}, { text: "_", fields: ["note"] })).toBe(0);
		await store.remove({ id: "c4" });
	});

	it("leaves an unset unique field out, lets many lack it, and refuses a duplicate id or unique value", async () => {
		expect(await store.findOne({ id: "c2" })).toEqual({ id: "c2", value: 2, note: "n2" });
		await expect(store.insert({ id: "c1", value: 9, note: "" })).rejects.toBeInstanceOf(DuplicateKeyError);
		await expect(store.insert({ id: "c9", value: 9, note: "", code: "X" })).rejects.toBeInstanceOf(DuplicateKeyError);
		await expect(store.update({ id: "c1" }, { set: { code: "X" } })).rejects.toBeInstanceOf(DuplicateKeyError);
	});

	it("updates atomically: guarded inc (from 0 when missing), push and pull, a count of the matched", async () => {
		const take = { inc: { value: -1, pending: 1 }, push: { moves: "m1" } };
		expect(await store.update({ id: "c3", value: { $gte: 1 } }, take)).toBe(1);
		expect(await store.update({ id: "c3", value: { $gte: 5 } }, take)).toBe(0);
		expect(await store.findOne({ moves: "m1" })).toMatchObject({ id: "c3", value: 2, pending: 1, moves: ["m1"] });
		const give = { inc: { pending: -1 }, pull: { moves: "m1" }, set: { note: undefined } };
		expect(await store.update({ id: "c3", moves: "m1" }, give)).toBe(1);
		expect(await store.update({ id: "c3", moves: "m1" }, give)).toBe(0);
		expect(await store.findOne({ id: "c3" })).toEqual({
			id: "c3",
			value: 2,
			code: "X",
			active: true,
			pending: 0,
			moves: [],
		});
		// Matched but left as it was still counts: callers use the count as a compare-and-set.
		expect(await store.update({ value: 2 }, { set: { value: 2 } })).toBe(2);
	});

	it("keeps whole numbers exact up to 2^53 - 1", async () => {
		await store.update({ id: "c1" }, { set: { value: 2 ** 53 - 3 } });
		await store.update({ id: "c1" }, { inc: { value: 2 } });
		expect((await store.findOne({ id: "c1" }))?.value).toBe(Number.MAX_SAFE_INTEGER);
	});

	it("removes what matches", async () => {
		expect(await store.remove({ value: { $lt: 3 } })).toBe(2);
		expect((await store.find({})).map(c => c.id)).toEqual(["c1"]);
	});
});

describe("a store kept in files (DATA_DIR, sqlite://, nedb://)", () => {
	const dir = mkdtempSync(path.join(tmpdir(), "emporium-sqlite-"));
	const saved = process.env.DATA_DIR;
	afterEach(() => {
		process.env.DATA_DIR = saved;
	});
	afterAll(() => rmSync(dir, { recursive: true, force: true }));

	it("finds after a restart what the last one left, in <dir>/<collection>.sqlite", async () => {
		process.env.DATA_DIR = dir;
		const first = await open("memory://");
		for (let i = 0; i < 10; i++) await first.insert({ id: `c${i}`, value: 0, note: "x" });
		for (let round = 0; round < 50; round++) await first.update({}, { inc: { value: 1 } });
		await first.disconnect();
		await expect(first.count({})).rejects.toBeInstanceOf(StorageUnavailableError);
		expect(existsSync(path.join(dir, "counters.sqlite"))).toBe(true);

		delete process.env.DATA_DIR;
		for (const uri of [`sqlite://${dir}`, `nedb://${dir}`]) {
			const reopened = await open(uri);
			expect((await reopened.find({}, { sort: ["id"] })).map(c => c.value)).toEqual(Array(10).fill(50));
			await expect(reopened.insert({ id: "c0", value: 0, note: "" })).rejects.toBeInstanceOf(DuplicateKeyError);
			await reopened.disconnect();
		}
	});
});
