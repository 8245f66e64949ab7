import { describe, expect, it } from "vitest";
import {
	containsPattern,
	countSql,
	createDocumentTableSql,
	deleteSql,
	insertSql,
	selectOneSql,
	selectSql,
	updateSql,
	type SqlDialect,
	type SqlFind,
	type SqlStatement,
	type SqlWhere,
} from "../../../lib/storage/sql";

const TABLE = { name: "orders", columns: ["id", "userId", "total", "createdAt"] };
const COLUMNS = {
	mysql: "SELECT `id`, `userId`, `total`, `createdAt` FROM `orders`",
	postgres: 'SELECT "id", "userId", "total", "createdAt" FROM "orders"',
};
/** A statement written with MySQL's identifier quotes, in the dialect's. */
const quoted = (dialect: SqlDialect, text: string) => (dialect === "mysql" ? text : text.replace(/`/g, '"'));

describe("selectSql: the Store's where and find options as one SELECT", () => {
	const cases: [title: string, where: SqlWhere, opts: SqlFind, tail: string, values: unknown[]][] = [
		["no condition", {}, {}, "", []],
		["equality, ANDed", { userId: "u1", total: 5 }, {}, " WHERE `userId` = $1 AND `total` = $2", ["u1", 5]],
		["a boolean", { userId: true }, {}, " WHERE `userId` = $1", [true]],
		["null is IS NULL", { userId: null }, {}, " WHERE `userId` IS NULL", []],
		["$ne null is IS NOT NULL", { userId: { $ne: null } }, {}, " WHERE `userId` IS NOT NULL", []],
		["$ne a value", { userId: { $ne: "u1" } }, {}, " WHERE `userId` != $1", ["u1"]],
		["$in", { id: { $in: ["a", "b"] } }, {}, " WHERE `id` IN ($1, $2)", ["a", "b"]],
		["$in nothing matches nothing", { id: { $in: [] } }, {}, " WHERE 1 = 0", []],
		[
			"comparisons on one field",
			{ total: { $gte: 1, $lt: 10 }, createdAt: { $gt: "2024", $lte: "2025" } },
			{},
			" WHERE `total` >= $1 AND `total` < $2 AND `createdAt` > $3 AND `createdAt` <= $4",
			[1, 10, "2024", "2025"],
		],
		["sort, '-' descending", {}, { sort: ["-createdAt", "id"] }, " ORDER BY `createdAt` DESC, `id` ASC", []],
		["limit", { userId: "u" }, { limit: 20 }, " WHERE `userId` = $1 LIMIT $2", ["u", 20]],
		[
			"limit and offset",
			{},
			{ sort: ["id"], limit: 20, offset: 40 },
			" ORDER BY `id` ASC LIMIT $1 OFFSET $2",
			[20, 40],
		],
		["a zero limit or offset is none", {}, { limit: 0, offset: 0 }, "", []],
	];
	for (const dialect of ["mysql", "postgres"] as const) {
		it.each(cases)(`${dialect}: %s`, (_title, where, opts, tail, values) => {
			expect(selectSql(dialect, TABLE, where, opts)).toEqual({
				text: COLUMNS[dialect] + quoted(dialect, tail),
				values,
			});
		});
	}

	it("an offset without a limit: MySQL needs a LIMIT first, PostgreSQL does not", () => {
		expect(selectSql("mysql", TABLE, {}, { offset: 5 }).text).toBe(
			`${COLUMNS.mysql} LIMIT 18446744073709551615 OFFSET $1`,
		);
		expect(selectSql("postgres", TABLE, {}, { offset: 5 })).toEqual({
			text: `${COLUMNS.postgres} OFFSET $1`,
			values: [5],
		});
	});

	it("searches case-insensitively: ILIKE on PostgreSQL, LIKE (case-insensitive collation) on MySQL", () => {
		const search = { text: "50%_off", fields: ["userId", "createdAt"], ids: ["p1"] };
		const tail = " WHERE `total` > $1 AND (`userId` LIKE $2 OR `createdAt` LIKE $3 OR `id` IN ($4))";
		const values = [0, "%50\\%\\_off%", "%50\\%\\_off%", "p1"];
		expect(selectSql("mysql", TABLE, { total: { $gt: 0 } }, { search })).toEqual({
			text: COLUMNS.mysql + quoted("mysql", tail),
			values,
		});
		expect(selectSql("postgres", TABLE, { total: { $gt: 0 } }, { search })).toEqual({
			text: COLUMNS.postgres + quoted("postgres", tail.replace(/LIKE/g, "ILIKE")),
			values,
		});
	});

	it("a search with no field and no id matches nothing", () => {
		expect(selectSql("postgres", TABLE, {}, { search: { text: "x", fields: [], ids: [] } }).text).toBe(
			`${COLUMNS.postgres} WHERE 1 = 0`,
		);
	});

	it("refuses an undefined value and an unknown operator rather than guess", () => {
		expect(() => selectSql("mysql", TABLE, { userId: undefined })).toThrow(/invalid "undefined"/);
		expect(() => selectSql("mysql", TABLE, { userId: { $regex: "x" } as never })).toThrow(/Unsupported condition/);
	});

	it("quotes identifiers, doubling the quote character inside them", () => {
		const table = { name: 'we`ird"', columns: ["id"] };
		expect(selectSql("mysql", table, {}).text).toBe('SELECT `id` FROM `we``ird"`');
		expect(selectSql("postgres", table, {}).text).toBe('SELECT "id" FROM "we`ird"""');
	});
});

describe("containsPattern: a LIKE pattern of a literal substring", () => {
	it.each([
		["abc", "%abc%"],
		["100%", "%100\\%%"],
		["a_b", "%a\\_b%"],
		["back\\slash", "%back\\\\slash%"],
	])("%s", (text, pattern) => expect(containsPattern(text)).toBe(pattern));
});

describe("the other statements", () => {
	const cases: [title: string, dialect: SqlDialect, statement: SqlStatement | null, text: string, values: unknown[]][] =
		[
			[
				"findOne takes the first row",
				"postgres",
				selectOneSql("postgres", TABLE, { id: "o1" }),
				`${COLUMNS.postgres} WHERE "id" = $1 LIMIT 1`,
				["o1"],
			],
			[
				"count",
				"mysql",
				countSql("mysql", TABLE, { userId: "u" }, { text: "x", fields: ["id"] }),
				"SELECT COUNT(*) AS n FROM `orders` WHERE `userId` = $1 AND (`id` LIKE $2)",
				["u", "%x%"],
			],
			[
				"insert binds every given column",
				"mysql",
				insertSql("mysql", TABLE, { id: "o1", userId: null, total: 5 }),
				"INSERT INTO `orders` (`id`, `userId`, `total`) VALUES ($1, $2, $3)",
				["o1", null, 5],
			],
			[
				"update: set and a guarded increment in one statement",
				"postgres",
				updateSql("postgres", TABLE, { id: "o1", total: { $gte: 3 } }, { set: { userId: "u2" }, inc: { total: -3 } }),
				'UPDATE "orders" SET "userId" = $1, "total" = "total" + $2 WHERE "id" = $3 AND "total" >= $4',
				["u2", -3, "o1", 3],
			],
			[
				"update: an increment is a whole number",
				"mysql",
				updateSql("mysql", TABLE, {}, { set: {}, inc: { total: 2.7 } }),
				"UPDATE `orders` SET `total` = `total` + $1",
				[2],
			],
			[
				"delete",
				"postgres",
				deleteSql("postgres", TABLE, { createdAt: { $lt: "2024" } }),
				'DELETE FROM "orders" WHERE "createdAt" < $1',
				["2024"],
			],
		];
	it.each(cases)("%s (%s)", (_title, _dialect, statement, text, values) => {
		expect(statement).toEqual({ text, values });
	});

	it("an update that writes no column is no statement", () => {
		expect(updateSql("mysql", TABLE, { id: "o1" }, { set: {}, inc: {} })).toBeNull();
	});
});

describe("the sqlite dialect: documents as JSON in a table of id and doc", () => {
	const DOCS = { name: "stock", columns: ["doc"], lists: ["moves"] };
	const SELECT = 'SELECT "doc" FROM "stock"';
	const f = (field: string) => `json_extract("doc", '$.${field}')`;
	const cases: [title: string, statement: SqlStatement | null, text: string, values: unknown[]][] = [
		["an unsorted find comes in id order", selectSql("sqlite", DOCS, {}), `${SELECT} ORDER BY "id"`, []],
		[
			"a field is the document's, the id its column; `?` markers",
			selectSql("sqlite", DOCS, { id: "s1", productId: "p1" }),
			`${SELECT} WHERE "id" = ? AND ${f("productId")} = ? ORDER BY "id"`,
			["s1", "p1"],
		],
		[
			"$ne matches a missing field too, as NeDB did",
			selectSql("sqlite", DOCS, { status: { $ne: "DONE" }, code: { $ne: null } }),
			`${SELECT} WHERE ${f("status")} IS NOT ? AND ${f("code")} IS NOT ? ORDER BY "id"`,
			["DONE", null],
		],
		[
			"a scalar matches a list field containing it",
			selectSql("sqlite", DOCS, { moves: "m1", available: { $gte: 2 } }),
			`${SELECT} WHERE EXISTS (SELECT 1 FROM json_each("doc", '$.moves') WHERE value = ?)` +
				` AND ${f("available")} >= ? ORDER BY "id"`,
			["m1", 2],
		],
		[
			"sort, and an offset without a limit",
			selectSql("sqlite", DOCS, {}, { sort: ["-createdAt", "id"], offset: 5 }),
			`${SELECT} ORDER BY ${f("createdAt")} DESC, "id" ASC, rowid LIMIT -1 OFFSET ?`,
			[5],
		],
		[
			"rows equal on the sort keys in the order they were written",
			selectSql("sqlite", DOCS, {}, { sort: ["createdAt"] }),
			`${SELECT} ORDER BY ${f("createdAt")} ASC, rowid`,
			[],
		],
		[
			"search: the text as it is, to the function of the database that folds case",
			countSql("sqlite", DOCS, {}, { text: "5%", fields: ["name"], ids: ["p1"] }),
			`SELECT COUNT(*) AS n FROM "stock" WHERE (contains_ignoring_case(${f("name")}, ?) OR "id" IN (?))`,
			["5%", "p1"],
		],
		[
			"update: set, guarded inc from 0 when missing, push and pull in one json_set",
			updateSql(
				"sqlite",
				DOCS,
				{ productId: "p1", moves: "m1" },
				{ set: { updatedAt: '"t"' }, inc: { pending: -3 }, push: { moves: '"m2"' }, pull: { moves: '"m1"' } },
			),
			`UPDATE "stock" SET "doc" = json_set("doc", '$.updatedAt', json(?), ` +
				`'$.pending', coalesce(${f("pending")}, 0) + ?, ` +
				`'$.moves', json_insert(coalesce(${f("moves")}, '[]'), '$[#]', json(?)), ` +
				`'$.moves', json((SELECT json_group_array(value) FROM json_each("doc", '$.moves')` +
				` WHERE value IS NOT json_extract(?, '$')))) ` +
				`WHERE ${f("productId")} = ? AND EXISTS (SELECT 1 FROM json_each("doc", '$.moves') WHERE value = ?)`,
			['"t"', -3, '"m2"', '"m1"', "p1", "m1"],
		],
		[
			"update: a field set to undefined is removed",
			updateSql("sqlite", DOCS, { id: "s1" }, { set: {}, inc: {}, unset: ["note", "code"] }),
			`UPDATE "stock" SET "doc" = json_remove("doc", '$.note', '$.code') WHERE "id" = ?`,
			["s1"],
		],
		[
			"an increment keeps its fraction, as NeDB's did",
			updateSql("sqlite", DOCS, {}, { set: {}, inc: { rating: 0.5 } }),
			`UPDATE "stock" SET "doc" = json_set("doc", '$.rating', coalesce(${f("rating")}, 0) + ?)`,
			[0.5],
		],
		[
			"insert and delete as in the other dialects",
			insertSql("sqlite", DOCS, { id: "s1", doc: "{}" }),
			'INSERT INTO "stock" ("id", "doc") VALUES (?, ?)',
			["s1", "{}"],
		],
		[
			"delete",
			deleteSql("sqlite", DOCS, { updatedAt: { $lt: "2024" } }),
			`DELETE FROM "stock" WHERE ${f("updatedAt")} < ?`,
			["2024"],
		],
	];
	it.each(cases)("%s", (_title, statement, text, values) => {
		expect(statement).toEqual({ text, values });
	});

	it("an update with nothing to write is no statement", () => {
		expect(updateSql("sqlite", DOCS, { id: "s1" }, { set: {}, inc: {}, unset: [] })).toBeNull();
	});

	it("refuses a field name that is no plain name: the JSON path is part of the text", () => {
		expect(() => selectSql("sqlite", DOCS, { "a'b": 1 })).toThrow(/Unsupported field name/);
	});

	it("creates the table and an expression index per indexed field, the unique ones sparse by NULLs", () => {
		expect(createDocumentTableSql(DOCS, ["productId"], ["updatedAt"])).toEqual([
			'CREATE TABLE IF NOT EXISTS "stock" ("id" TEXT PRIMARY KEY NOT NULL, "doc" TEXT NOT NULL)',
			`CREATE UNIQUE INDEX IF NOT EXISTS "stock_productId" ON "stock" (${f("productId")})`,
			`CREATE INDEX IF NOT EXISTS "stock_updatedAt" ON "stock" (${f("updatedAt")})`,
		]);
	});
});
