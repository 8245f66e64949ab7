import type { Condition } from "./store";

/**
 * The SQL text of the Store's statements, with positional bind values: pure, so each statement the Store runs is
 * table-tested (test/lib/storage/sql.test.ts). Identifiers are quoted per dialect; every value is bound, none is
 * spliced into the text.
 *
 * `mysql` (MariaDB) and `postgres` keep what Sequelize generated before: `$n` markers (Sequelize's bind turns them
 * into `?` for mysql2), `field = null` is `IS NULL`, `$ne: null` is `IS NOT NULL`, `$ne: v` is `!= v` (no NULLs),
 * `$in: []` matches nothing, and an `inc` of a NULL column leaves it NULL.
 *
 * `sqlite` is the in-process document store (better-sqlite3): a table of `id` and `doc`, the document as JSON. A
 * field is `json_extract` of `doc` (indexed by expression indexes on that same text), and the conditions keep what
 * NeDB, the store before it, did: `$ne: v` matches missing fields too (`IS NOT`), a scalar matches a `lists` field
 * (a JSON array) that contains it, an `inc` of a missing field starts from 0, and an unsorted find comes in id order.
 * Unlike NeDB, and as MongoDB, `field = null` matches a missing field too. Markers are `?` (bound in text order). A
 * search calls the function CONTAINS_FUNCTION the database defines (sqlite.ts): SQLite's LIKE folds ASCII letters only.
 */
export type SqlDialect = "mysql" | "postgres" | "sqlite";
export type SqlValue = string | number | boolean | null;
export interface SqlStatement {
	text: string;
	values: SqlValue[];
}
/** A table and the columns a row is read with (the id first). */
export interface SqlTable {
	name: string;
	columns: readonly string[];
	/** sqlite: the fields holding JSON arrays, which a scalar condition matches by containment. */
	lists?: readonly string[];
}
/** The Store's `Where` and `FindOptions`, over any table. */
export type SqlWhere = Record<string, Condition | undefined>;
export interface SqlSearch {
	text: string;
	fields: readonly string[];
	ids?: readonly string[];
}
export interface SqlFind {
	sort?: readonly string[];
	limit?: number;
	offset?: number;
	search?: SqlSearch;
}
/**
 * Column values written by an UPDATE: `set` assigns, `inc` adds (a whole number on mysql and postgres). On sqlite the
 * values of `set`, `push` and `pull` are JSON texts, `unset` fields are removed from the document.
 */
export interface SqlChange {
	set: Record<string, SqlValue>;
	inc: Record<string, number>;
	unset?: readonly string[];
	push?: Record<string, string>;
	pull?: Record<string, string>;
}
/** sqlite: the column holding the document. */
export const DOCUMENT_COLUMN = "doc";
/** sqlite: a function of `(text, part)`: 1 when `part` is in the string `text` ignoring case (any letter), else 0. */
export const CONTAINS_FUNCTION = "contains_ignoring_case";

/** MySQL needs a LIMIT before an OFFSET: its documented "all rows" (2^64 - 1). */
const MYSQL_NO_LIMIT = "18446744073709551615";
const COMPARISONS = { $gte: ">=", $lte: "<=", $gt: ">", $lt: "<" } as const;

export function quoteIdentifier(dialect: SqlDialect, name: string): string {
	return dialect === "mysql" ? `\`${name.replace(/`/g, "``")}\`` : `"${name.replace(/"/g, '""')}"`;
}

/** sqlite: the JSON path of a document field; only plain names, as the path is part of the text (index matching). */
function jsonPath(field: string): string {
	if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(field)) throw new Error(`Unsupported field name "${field}"`);
	return `'$.${field}'`;
}

/** A field as an expression: its column, or on sqlite the document's field (the id is a column there too). */
export function fieldSql(dialect: SqlDialect, field: string): string {
	if (dialect !== "sqlite" || field === "id") return quoteIdentifier(dialect, field);
	return `json_extract(${quoteIdentifier(dialect, DOCUMENT_COLUMN)}, ${jsonPath(field)})`;
}

/** Collects one statement's bind values and names their markers. */
class Binder {
	readonly values: SqlValue[] = [];
	constructor(private readonly dialect: SqlDialect) {}
	bind(value: SqlValue): string {
		this.values.push(value);
		return this.dialect === "sqlite" ? "?" : `$${this.values.length}`;
	}
}

/** `%text%` for LIKE, its wildcards and the escape character (backslash, both dialects' default) escaped. */
export function containsPattern(text: string): string {
	return `%${text.replace(/[\\%_]/g, "\\$&")}%`;
}

function conditionSql(
	dialect: SqlDialect,
	table: SqlTable,
	field: string,
	cond: Condition | undefined,
	binder: Binder,
): string[] {
	const column = fieldSql(dialect, field);
	// Sequelize refused an undefined value rather than guess; so does this.
	if (cond === undefined) throw new Error(`WHERE parameter "${field}" has invalid "undefined" value`);
	if (cond === null) return [`${column} IS NULL`];
	if (typeof cond !== "object") {
		if (dialect === "sqlite" && table.lists?.includes(field)) {
			const elements = `json_each(${quoteIdentifier(dialect, DOCUMENT_COLUMN)}, ${jsonPath(field)})`;
			return [`EXISTS (SELECT 1 FROM ${elements} WHERE value = ${binder.bind(cond)})`];
		}
		return [`${column} = ${binder.bind(cond)}`];
	}
	const parts: string[] = [];
	for (const [op, value] of Object.entries(cond)) {
		if (value === undefined) continue;
		if (op === "$ne" && dialect === "sqlite") parts.push(`${column} IS NOT ${binder.bind(value as SqlValue)}`);
		else if (op === "$ne")
			parts.push(value === null ? `${column} IS NOT NULL` : `${column} != ${binder.bind(value as SqlValue)}`);
		else if (op === "$in") {
			const list = value as readonly SqlValue[];
			parts.push(list.length ? `${column} IN (${list.map(v => binder.bind(v)).join(", ")})` : "1 = 0");
		} else if (op in COMPARISONS)
			parts.push(`${column} ${COMPARISONS[op as keyof typeof COMPARISONS]} ${binder.bind(value as string | number)}`);
		else throw new Error(`Unsupported condition ${op} on ${field}`);
	}
	return parts;
}

function whereSql(
	dialect: SqlDialect,
	table: SqlTable,
	where: SqlWhere,
	search: SqlSearch | undefined,
	binder: Binder,
): string {
	const parts = Object.entries(where).flatMap(([field, cond]) => conditionSql(dialect, table, field, cond, binder));
	if (search) {
		const like = dialect === "postgres" ? "ILIKE" : "LIKE";
		const pattern = containsPattern(search.text);
		const alternatives = search.fields.map(f =>
			dialect === "sqlite"
				? `${CONTAINS_FUNCTION}(${fieldSql(dialect, f)}, ${binder.bind(search.text)})`
				: `${fieldSql(dialect, f)} ${like} ${binder.bind(pattern)}`,
		);
		if (search.ids?.length) alternatives.push(...conditionSql(dialect, table, "id", { $in: [...search.ids] }, binder));
		parts.push(alternatives.length ? `(${alternatives.join(" OR ")})` : "1 = 0");
	}
	return parts.length ? ` WHERE ${parts.join(" AND ")}` : "";
}

function orderSql(dialect: SqlDialect, sort: readonly string[] | undefined): string {
	// The order NeDB gave an unsorted find, which callers of the in-process store may have come to expect.
	if (!sort?.length) return dialect === "sqlite" ? ` ORDER BY ${quoteIdentifier(dialect, "id")}` : "";
	const keys = sort.map(s =>
		s.startsWith("-") ? `${fieldSql(dialect, s.slice(1))} DESC` : `${fieldSql(dialect, s)} ASC`,
	);
	// In-process, rows equal on every key come in the order they were written (SQLite's rowid): two documents
	// created in the same millisecond keep their order.
	if (dialect === "sqlite") keys.push("rowid");
	return ` ORDER BY ${keys.join(", ")}`;
}

/** As moleculer-db did: a limit or offset that is not a positive number is none. */
function pageSql(dialect: SqlDialect, limit: number | undefined, offset: number | undefined, binder: Binder): string {
	const rows = typeof limit === "number" && limit > 0 ? Math.trunc(limit) : undefined;
	const skip = typeof offset === "number" && offset > 0 ? Math.trunc(offset) : undefined;
	let text = "";
	if (rows !== undefined) text += ` LIMIT ${binder.bind(rows)}`;
	else if (skip !== undefined && dialect === "mysql") text += ` LIMIT ${MYSQL_NO_LIMIT}`;
	else if (skip !== undefined && dialect === "sqlite") text += " LIMIT -1";
	if (skip !== undefined) text += ` OFFSET ${binder.bind(skip)}`;
	return text;
}

function columnsSql(dialect: SqlDialect, table: SqlTable): string {
	return table.columns.map(c => quoteIdentifier(dialect, c)).join(", ");
}

export function selectSql(dialect: SqlDialect, table: SqlTable, where: SqlWhere, opts: SqlFind = {}): SqlStatement {
	const binder = new Binder(dialect);
	const text =
		`SELECT ${columnsSql(dialect, table)} FROM ${quoteIdentifier(dialect, table.name)}` +
		whereSql(dialect, table, where, opts.search, binder) +
		orderSql(dialect, opts.sort) +
		pageSql(dialect, opts.limit, opts.offset, binder);
	return { text, values: binder.values };
}

/** The first matching row (`LIMIT 1`, as Sequelize's findOne). */
export function selectOneSql(dialect: SqlDialect, table: SqlTable, where: SqlWhere): SqlStatement {
	const binder = new Binder(dialect);
	const text =
		`SELECT ${columnsSql(dialect, table)} FROM ${quoteIdentifier(dialect, table.name)}` +
		`${whereSql(dialect, table, where, undefined, binder)} LIMIT 1`;
	return { text, values: binder.values };
}

/** The count comes back as the column `n`. */
export function countSql(dialect: SqlDialect, table: SqlTable, where: SqlWhere, search?: SqlSearch): SqlStatement {
	const binder = new Binder(dialect);
	const condition = whereSql(dialect, table, where, search, binder);
	return {
		text: `SELECT COUNT(*) AS n FROM ${quoteIdentifier(dialect, table.name)}${condition}`,
		values: binder.values,
	};
}

export function insertSql(dialect: SqlDialect, table: SqlTable, row: Record<string, SqlValue>): SqlStatement {
	const binder = new Binder(dialect);
	const columns = Object.keys(row);
	const names = columns.map(c => quoteIdentifier(dialect, c)).join(", ");
	const text =
		`INSERT INTO ${quoteIdentifier(dialect, table.name)} (${names})` +
		` VALUES (${columns.map(c => binder.bind(row[c])).join(", ")})`;
	return { text, values: binder.values };
}

/** Null when the change writes no column (Sequelize then ran nothing and answered 0). */
export function updateSql(
	dialect: SqlDialect,
	table: SqlTable,
	where: SqlWhere,
	change: SqlChange,
): SqlStatement | null {
	const binder = new Binder(dialect);
	if (dialect === "sqlite") return updateDocumentSql(table, where, change, binder);
	const assignments = Object.entries(change.set).map(([f, v]) => `${quoteIdentifier(dialect, f)} = ${binder.bind(v)}`);
	for (const [f, n] of Object.entries(change.inc)) {
		const column = quoteIdentifier(dialect, f);
		assignments.push(`${column} = ${column} + ${binder.bind(Math.trunc(n))}`);
	}
	if (!assignments.length) return null;
	const text =
		`UPDATE ${quoteIdentifier(dialect, table.name)} SET ${assignments.join(", ")}` +
		whereSql(dialect, table, where, undefined, binder);
	return { text, values: binder.values };
}

export function deleteSql(dialect: SqlDialect, table: SqlTable, where: SqlWhere): SqlStatement {
	const binder = new Binder(dialect);
	const condition = whereSql(dialect, table, where, undefined, binder);
	const text = `DELETE FROM ${quoteIdentifier(dialect, table.name)}${condition}`;
	return { text, values: binder.values };
}

/** sqlite: one `json_set` of the document (then `json_remove` of the `unset` fields), each value from the row read. */
function updateDocumentSql(table: SqlTable, where: SqlWhere, change: SqlChange, binder: Binder): SqlStatement | null {
	const doc = quoteIdentifier("sqlite", DOCUMENT_COLUMN);
	const pairs: string[] = [];
	for (const [f, json] of Object.entries(change.set)) pairs.push(`${jsonPath(f)}, json(${binder.bind(json)})`);
	for (const [f, n] of Object.entries(change.inc))
		pairs.push(`${jsonPath(f)}, coalesce(${fieldSql("sqlite", f)}, 0) + ${binder.bind(n)}`);
	for (const [f, json] of Object.entries(change.push ?? {})) {
		const list = `coalesce(${fieldSql("sqlite", f)}, '[]')`;
		pairs.push(`${jsonPath(f)}, json_insert(${list}, '$[#]', json(${binder.bind(json)}))`);
	}
	for (const [f, json] of Object.entries(change.pull ?? {})) {
		// json() keeps the subquery's text an array rather than a string; `value` compares as json_extract reads it.
		const kept =
			`SELECT json_group_array(value) FROM json_each(${doc}, ${jsonPath(f)})` +
			` WHERE value IS NOT json_extract(${binder.bind(json)}, '$')`;
		pairs.push(`${jsonPath(f)}, json((${kept}))`);
	}
	const unset = change.unset ?? [];
	if (!pairs.length && !unset.length) return null;
	let value = pairs.length ? `json_set(${doc}, ${pairs.join(", ")})` : doc;
	if (unset.length) value = `json_remove(${value}, ${unset.map(jsonPath).join(", ")})`;
	const text =
		`UPDATE ${quoteIdentifier("sqlite", table.name)} SET ${doc} = ${value}` +
		whereSql("sqlite", table, where, undefined, binder);
	return { text, values: binder.values };
}

/**
 * sqlite: the statements creating a document table if missing, and an expression index per indexed field. The unique
 * ones leave out missing and null fields (NULLs are distinct), as NeDB's sparse indexes did.
 */
export function createDocumentTableSql(
	table: SqlTable,
	unique: readonly string[],
	indexes: readonly string[],
): string[] {
	const name = quoteIdentifier("sqlite", table.name);
	const doc = quoteIdentifier("sqlite", DOCUMENT_COLUMN);
	const index = (field: string, kind: string) =>
		`CREATE ${kind}INDEX IF NOT EXISTS ${quoteIdentifier("sqlite", `${table.name}_${field}`)}` +
		` ON ${name} (${fieldSql("sqlite", field)})`;
	return [
		`CREATE TABLE IF NOT EXISTS ${name} ("id" TEXT PRIMARY KEY NOT NULL, ${doc} TEXT NOT NULL)`,
		...unique.map(f => index(f, "UNIQUE ")),
		...indexes.map(f => index(f, "")),
	];
}
