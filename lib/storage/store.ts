import type { Connection as MysqlConnection, QueryError } from "mysql2";
import type { ServiceBroker, LoggerInstance } from "moleculer";
import { createRequire } from "node:module";
import type * as SequelizeLibrary from "sequelize";
import type { ModelAttributeColumnOptions, Sequelize, Transaction } from "sequelize";
import { DuplicateKeyError, StorageUnavailableError } from "../errors";
import { dbPoolMax } from "../config";
import {
	DOCUMENT_COLUMN,
	countSql,
	createDocumentTableSql,
	deleteSql,
	insertSql,
	selectOneSql,
	selectSql,
	updateSql,
	type SqlDialect,
	type SqlStatement,
	type SqlChange,
	type SqlTable,
	type SqlValue,
} from "./sql";
import { SqliteDatabase, dataDirectory } from "./sqlite";

/**
 * One collection (table) of a service, over the store the URI picks: the in-process document store (`memory`: one
 * SQLite database per collection, each document as JSON, see sqlite.ts), MongoDB through its moleculer-db adapter,
 * SQL as statements of its own (sql.ts) over a shared Sequelize connection pool.
 * It offers only what the services need, in a form every store can do atomically:
 * conditional updates with `$inc` are single statements (SQL `UPDATE ... WHERE`, also in-process, and MongoDB
 * `updateMany` with a filter), never read-then-write.
 */

/**
 * A column's type. `int` (counts) and `money` (integer minor units) are 64-bit on SQL, read back as Numbers: exact up
 * to Number.MAX_SAFE_INTEGER (2^53 - 1), which the params bounds keep them under (lib/actor/params.ts).
 */
export type FieldType = "string" | "text" | "int" | "money" | "bool" | "json";
/** A stored document: a string id and fields; each actor declares its entities as interfaces extending this. */
export interface Doc {
	id: string;
}
type FieldOf<T> = Exclude<keyof T, "id"> & string;

/** One collection and its columns: every field of the entity `T` but `id` (implicit string primary key). */
export interface CollectionSpec<T extends Doc = Doc> {
	name: string;
	fields: { [K in FieldOf<T>]-?: FieldType };
	unique?: readonly FieldOf<T>[];
	indexes?: readonly FieldOf<T>[];
	/**
	 * Fields only the document stores (in-process, MongoDB) keep: no SQL column. For what SQL does with a transaction
	 * instead (inventory's in-flight stock moves), so existing SQL tables need no new column.
	 */
	documentOnly?: readonly FieldOf<T>[];
}

/** A collection spec of any entity, as a service holding several collections sees them. */
export interface AnyCollectionSpec {
	name: string;
	fields: Record<string, FieldType>;
	unique?: readonly string[];
	indexes?: readonly string[];
	documentOnly?: readonly string[];
}

type Scalar = string | number | boolean | null;
export type Condition =
	| Scalar
	| {
			$gte?: number | string;
			$lte?: number | string;
			$gt?: number | string;
			$lt?: number | string;
			$ne?: Scalar;
			$in?: Scalar[];
	  };
export type Where<T extends Doc = Doc> = { [K in keyof T & string]?: Condition };
export interface FindOptions<T extends Doc = Doc> {
	sort?: string[];
	limit?: number;
	offset?: number;
	/**
	 * A case-insensitive substring of one of `fields`; the documents whose id is in `ids` match too (a match found in
	 * another collection, e.g. a product by its variants' SKUs).
	 */
	search?: { text: string; fields: (keyof T & string)[]; ids?: string[] };
}
export interface Change<T extends Doc = Doc> {
	set?: Partial<Omit<T, "id">>;
	inc?: { [K in FieldOf<T>]?: number };
	/** Appends to / removes from an array field: document stores only (`documentOnly` fields). */
	push?: { [K in FieldOf<T>]?: Scalar };
	pull?: { [K in FieldOf<T>]?: Scalar };
}
export type StoreKind = "memory" | "sql" | "mongo";

/** Adapters are untyped JS; this is the slice of their surface used here. */
interface AdapterLike {
	init(broker: ServiceBroker, service: unknown): void;
	connect(): Promise<unknown>;
	disconnect(): Promise<unknown>;
	find(filters: Record<string, unknown>): Promise<unknown[]>;
	count(filters: Record<string, unknown>): Promise<number>;

	[key: string]: any;
}

/**
 * Driver errors that mean the database went away mid-query (mysql2 codes, pg messages), or before a query on a
 * transaction's connection that it had closed (then both drivers give no code, only a message).
 */
const LOST_CONNECTION = new RegExp(
	[
		"^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|PROTOCOL_CONNECTION_LOST|ER_SERVER_SHUTDOWN|57P01)$",
		"Connection terminated",
		"server closed the connection",
		"connection is in closed state",
		"is not queryable",
	].join("|"),
);

function escapeRegExp(text: string): string {
	return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export function storeKind(uri: string): StoreKind {
	const scheme = uri.split(":")[0].toLowerCase();
	if (scheme === "memory" || scheme === "sqlite" || scheme === "nedb") return "memory";
	if (["mysql", "mariadb", "postgres", "postgresql"].includes(scheme)) return "sql";
	if (scheme === "mongodb" || scheme === "mongodb+srv") return "mongo";
	throw new Error(`Unsupported DB_URI scheme "${scheme}:" (memory, sqlite, nedb, mysql, mariadb, postgres, mongodb)`);
}

/**
 * How long the database lets a connection sit idle inside a transaction before it ends the session (rolling the
 * transaction back). The shop's transactions wait on nothing but their own statements; a process paused mid-transaction
 * (SIGSTOP, a frozen VM) would otherwise hold its row locks, and so its orders' leases, until it resumed.
 */
export const IDLE_TRANSACTION_SECONDS = 5;

/** On MariaDB (10.3+); MySQL has no such variable, and there the setting is skipped. */
function limitIdleTransactions(connection: object): Promise<void> {
	const sql = `SET SESSION idle_transaction_timeout = ${IDLE_TRANSACTION_SECONDS}`;
	return new Promise((resolve, reject) =>
		(connection as MysqlConnection).query(sql, (err: QueryError | null) =>
			err && err.code !== "ER_UNKNOWN_SYSTEM_VARIABLE" ? reject(err) : resolve(),
		),
	);
}

const requireFromHere = createRequire(__filename);
let sequelizeLoaded: typeof SequelizeLibrary | undefined;

/**
 * Sequelize, loaded by the first SQL store: a node whose stores are in process or on MongoDB never loads it (about
 * 12 MB of RSS with its dependencies).
 */
export function sequelizeLibrary(): typeof SequelizeLibrary {
	return (sequelizeLoaded ??= requireFromHere("sequelize") as typeof SequelizeLibrary);
}

/** A SQL connection pool shared by all collections of one service, of at most `poolMax` connections. */
export function createSequelize(uri: string, poolMax = dbPoolMax()): Sequelize {
	const url = uri.replace(/^mariadb:/i, "mysql:").replace(/^postgresql:/i, "postgres:");
	const mysql = url.startsWith("mysql:");
	return new (sequelizeLibrary().Sequelize)(url, {
		logging: false,
		pool: { max: poolMax, min: 0, acquire: 5000, idle: 10000 },
		retry: { max: 0 },
		// Sequelize connects to MySQL with -FOUND_ROWS, so an UPDATE counts changed rows; FOUND_ROWS makes it count
		// matched rows, as PostgreSQL, SQLite and MongoDB do (`update` below relies on it).
		dialectOptions: mysql
			? { connectTimeout: 5000, flags: "FOUND_ROWS" }
			: { connectionTimeoutMillis: 5000, idle_in_transaction_session_timeout: IDLE_TRANSACTION_SECONDS * 1000 },
		hooks: mysql ? { afterConnect: limitIdleTransactions } : {},
	});
}

/** The column type `sync()` creates a table with. */
function sqlColumn(type: FieldType): ModelAttributeColumnOptions {
	const { DataTypes } = sequelizeLibrary();
	switch (type) {
		case "string":
			return { type: DataTypes.STRING(255) };
		case "text":
			return { type: DataTypes.TEXT };
		case "int":
		case "money":
			return { type: DataTypes.BIGINT };
		case "bool":
			return { type: DataTypes.BOOLEAN };
		case "json":
			return { type: DataTypes.TEXT("medium") };
	}
}

/** A column value as the driver returns it, as the document holds it. */
function readColumn(type: FieldType, value: unknown): unknown {
	if (value == null) return value;
	switch (type) {
		case "int":
		case "money":
			// BIGINT comes back as a string from pg (and from mysql2 past 2^53): a Number, exact below 2^53.
			return Number(value);
		case "bool":
			// MySQL's BOOLEAN is TINYINT(1): 0 or 1.
			return typeof value === "boolean" ? value : Number(value) !== 0;
		case "json":
			return typeof value === "string" ? JSON.parse(value) : value;
		default:
			return value;
	}
}

/** A document's field as the column stores it: JSON as its text. */
function writeColumn(type: FieldType, value: unknown): SqlValue {
	if (type === "json" && value !== null) return JSON.stringify(value);
	return value as SqlValue;
}

export class Store<T extends Doc = Doc> {
	readonly kind: StoreKind;
	private adapter!: AdapterLike;
	private readonly jsonFields: string[];
	private sequelize?: Sequelize;
	/** SQL: the dialect, and the table with its columns (the id, then every field but `documentOnly`). */
	private dialect: SqlDialect = "mysql";
	private table?: SqlTable;
	private readonly columnTypes = new Map<string, FieldType>();
	/** In-process: the collection's database, and its table of documents (`json` fields may hold arrays). */
	private sqlite?: SqliteDatabase;
	private readonly documents: SqlTable;

	constructor(
		readonly spec: CollectionSpec<T>,
		private readonly uri: string,
		private readonly logger: LoggerInstance,
	) {
		this.kind = storeKind(uri);
		this.jsonFields = Object.entries<FieldType>(spec.fields)
			.filter(([, t]) => t === "json")
			.map(([f]) => f);
		if (this.kind === "sql") {
			this.columnTypes.set("id", "string");
			for (const [field, type] of this.sqlFields()) this.columnTypes.set(field, type);
			this.table = { name: spec.name, columns: [...this.columnTypes.keys()] };
		}
		this.documents = { name: spec.name, columns: [DOCUMENT_COLUMN], lists: this.jsonFields };
	}

	/** `sequelize` is the service's shared SQL connection (required for SQL URIs). */
	async connect(broker: ServiceBroker, sequelize?: Sequelize): Promise<void> {
		this.sequelize = sequelize;
		if (this.kind === "sql") return this.connectSql();
		if (this.kind === "memory") return this.connectSqlite();
		// Loaded only by a node that stores in MongoDB: the driver alone adds about 30 MB to every other node's RSS.
		const { default: MongoAdapter } = await import("moleculer-db-adapter-mongo");
		this.adapter = new MongoAdapter(this.uri, { useUnifiedTopology: true });
		// Adapters read their collection from `service.schema`; a collection is not a service, so pass just that.
		this.adapter.init(broker, { schema: { collection: this.spec.name }, logger: this.logger });
		await this.adapter.connect();
		await this.ensureIndexes();
	}

	private connectSqlite(): void {
		this.sqlite = new SqliteDatabase(this.spec.name, dataDirectory(this.uri));
		const statements = createDocumentTableSql(this.documents, this.spec.unique ?? [], this.spec.indexes ?? []);
		for (const text of statements) this.sqlite.run({ text, values: [] });
	}

	/** Creates the table if missing (the model is only for `sync()`); a failed sync closes the connection. */
	private async connectSql(): Promise<void> {
		const sequelize = this.sequelize!;
		this.dialect = sequelize.getDialect() === "postgres" ? "postgres" : "mysql";
		await sequelize.authenticate();
		const { define, options } = this.sqlModel();
		try {
			await sequelize.define(this.spec.name, define, options).sync();
		} catch (err) {
			await sequelize.close().catch(() => undefined);
			throw err;
		}
		await this.widenIntegerColumns();
	}

	async disconnect(): Promise<void> {
		// The SQL connection is shared and closed by its owner; an in-process database is the store's own.
		this.sqlite?.close();
		if (this.adapter) await this.adapter.disconnect();
	}

	/** The fields that are SQL columns (all but `documentOnly`). */
	private sqlFields(): [string, FieldType][] {
		const documentOnly: readonly string[] = this.spec.documentOnly ?? [];
		return Object.entries<FieldType>(this.spec.fields).filter(([field]) => !documentOnly.includes(field));
	}

	/** The table as a Sequelize model: only for `sync()`, which creates it if missing. */
	private sqlModel() {
		const define: Record<string, ModelAttributeColumnOptions> = {
			id: { type: sequelizeLibrary().DataTypes.STRING(128), primaryKey: true },
		};
		for (const [field, type] of this.sqlFields()) {
			define[field] = {
				...sqlColumn(type),
				allowNull: true,
				unique: (this.spec.unique as readonly string[] | undefined)?.includes(field) || undefined,
			};
		}
		return {
			define,
			options: {
				tableName: this.spec.name,
				timestamps: false,
				indexes: (this.spec.indexes ?? []).map(f => ({ fields: [f] })),
			},
		};
	}

	private async ensureIndexes(): Promise<void> {
		const col = this.adapter.collection;
		await col.createIndex({ id: 1 }, { unique: true });
		for (const f of this.spec.unique ?? []) await col.createIndex({ [f]: 1 }, { unique: true, sparse: true });
		for (const f of this.spec.indexes ?? []) await col.createIndex({ [f]: 1 });
	}

	/**
	 * `sync()` creates missing tables but never alters a column: a table made when `int` was a 32-bit INTEGER is
	 * widened here to BIGINT, one ALTER per column (a table rewrite: brief on small tables, a lock on big ones).
	 */
	private async widenIntegerColumns(): Promise<void> {
		const qi = this.sequelize!.getQueryInterface();
		const columns = await qi.describeTable(this.spec.name);
		for (const [field, type] of this.sqlFields()) {
			if ((type === "int" || type === "money") && /^INT/i.test(columns[field]?.type ?? "")) {
				this.logger.info(`Widening ${this.spec.name}.${field} from ${columns[field].type} to BIGINT`);
				await qi.changeColumn(this.spec.name, field, { type: sequelizeLibrary().DataTypes.BIGINT, allowNull: true });
			}
		}
	}

	/** Maps adapter failures to what callers can act on: duplicate keys, and 503 for an unreachable store. */
	private async guard<T>(work: () => Promise<T>): Promise<T> {
		try {
			return await work();
		} catch (err: any) {
			if (
				/^SQLITE_CONSTRAINT_(UNIQUE|PRIMARYKEY)$/.test(err?.code) ||
				err?.name === "SequelizeUniqueConstraintError" ||
				err?.code === 11000
			) {
				throw new DuplicateKeyError(this.spec.name);
			}
			const name: string = err?.name ?? "";
			if (
				/Sequelize(Connection\w*|HostNotFound|HostNotReachable|AccessDenied|Timeout)Error/.test(name) ||
				/^Mongo(Network|ServerSelection|NotConnected)/.test(name) ||
				LOST_CONNECTION.test(String(err?.original?.code ?? err?.original?.message ?? ""))
			) {
				this.logger.warn(`Store ${this.spec.name} unavailable: ${err.message}`);
				throw new StorageUnavailableError();
			}
			throw err;
		}
	}

	/** A stored document (in-process or MongoDB) as the caller's entity. */
	private toDoc(raw: unknown): T {
		const obj: Record<string, any> = { ...(raw as Record<string, unknown>) };
		delete obj._id;
		for (const f of this.jsonFields) if (typeof obj[f] === "string") obj[f] = JSON.parse(obj[f]);
		return obj as T;
	}

	/** A SQL row (every column, NULL as null) as the caller's entity. */
	private fromRow(row: Record<string, unknown>): T {
		const doc: Record<string, unknown> = {};
		for (const [column, type] of this.columnTypes) doc[column] = readColumn(type, row[column]);
		return doc as unknown as T;
	}

	/** The fields of `values` that are columns, as stored; others (`documentOnly`, unknown) are left out. */
	private toColumns(values: Record<string, unknown>): Record<string, SqlValue> {
		const row: Record<string, SqlValue> = {};
		for (const [field, value] of Object.entries(values)) {
			const type = this.columnTypes.get(field);
			if (type && value !== undefined) row[field] = writeColumn(type, value);
		}
		return row;
	}

	/** The MongoDB query of a `where` (and a text search). */
	private query(where: Where<T>, search?: FindOptions<T>["search"]): Record<string, unknown> {
		const q: Record<string, unknown> = { ...where };
		if (search) {
			// The string form: mongo-java-server rejects a BSON regex in $regex.
			const regex = { $regex: escapeRegExp(search.text), $options: "i" };
			q.$or = [
				...search.fields.map(f => ({ [f]: regex })),
				...(search.ids?.length ? [{ id: { $in: search.ids } }] : []),
			];
		}
		return q;
	}

	/**
	 * Runs one statement on the shared pool (or the transaction's connection). Bind values: MySQL runs them as
	 * prepared statements (mysql2 caches them per connection), which costs the server less than text; errors still
	 * come through the dialect's formatError (SequelizeUniqueConstraintError, ...), which `guard` maps.
	 */
	private runSql<R>(
		statement: SqlStatement,
		kind: "INSERT" | "SELECT" | "BULKUPDATE" | "BULKDELETE",
		tx?: Transaction,
	): Promise<R> {
		return this.sequelize!.query(statement.text, {
			bind: statement.values,
			type: sequelizeLibrary().QueryTypes[kind],
			transaction: tx,
			raw: true,
		}) as Promise<R>;
	}

	/** Rejects when the database does not answer (readiness probes). */
	async ping(): Promise<void> {
		if (this.kind === "sql") await this.sequelize!.authenticate();
		else if (this.kind === "mongo") await this.adapter.db.command({ ping: 1 });
	}

	/** In-process: the documents of the rows a statement reads. */
	private readDocs(statement: SqlStatement): T[] {
		return this.sqlite!.all<{ doc: string }>(statement).map(row => this.toDoc(JSON.parse(row.doc)));
	}

	/** In-process: a change as the document update of sql.ts takes it (values as JSON; `set` to undefined removes). */
	private documentChange(change: Change<T>): SqlChange {
		const json = (values: object | undefined) =>
			Object.fromEntries(Object.entries(values ?? {}).map(([f, v]) => [f, JSON.stringify(v)]));
		const set = Object.entries(change.set ?? {});
		return {
			set: json(Object.fromEntries(set.filter(([, v]) => v !== undefined))),
			unset: set.filter(([, v]) => v === undefined).map(([f]) => f),
			inc: (change.inc ?? {}) as Record<string, number>,
			push: json(change.push),
			pull: json(change.pull),
		};
	}

	/** Inserts a new document; throws DuplicateKeyError when the id or a unique field exists. */
	insert(doc: T, tx?: Transaction): Promise<T> {
		return this.guard(async () => {
			if (this.kind !== "sql") {
				// MongoDB's sparse unique indexes skip missing fields but not nulls: leave unset unique fields out
				// (in-process too, so both document stores give back the same document).
				const stored: Record<string, unknown> = { ...(doc as Record<string, unknown>) };
				for (const f of this.spec.unique ?? []) if (stored[f] == null) delete stored[f];
				if (this.kind === "memory") {
					const json = JSON.stringify(stored);
					this.sqlite!.run(insertSql("sqlite", this.documents, { id: doc.id, [DOCUMENT_COLUMN]: json }));
					return this.toDoc(JSON.parse(json));
				}
				await this.adapter.collection.insertOne({ ...stored, _id: doc.id });
				return { ...doc };
			}
			const row = this.toColumns(doc as Record<string, any>);
			await this.runSql(insertSql(this.dialect, this.table!, row), "INSERT", tx);
			// The document as stored: its columns (as the insert with Sequelize's model answered on MySQL).
			const inserted: Record<string, unknown> = {};
			for (const column of this.columnTypes.keys()) if (column in row) inserted[column] = doc[column as keyof T];
			return inserted as unknown as T;
		});
	}

	findOne(where: Where<T>, tx?: Transaction): Promise<T | null> {
		return this.guard(async () => {
			if (this.kind === "sql") {
				const statement = selectOneSql(this.dialect, this.table!, where);
				const [row] = await this.runSql<Record<string, unknown>[]>(statement, "SELECT", tx);
				return row ? this.fromRow(row) : null;
			}
			if (this.kind === "memory") return this.readDocs(selectOneSql("sqlite", this.documents, where))[0] ?? null;
			const raw = await this.adapter.findOne(this.query(where));
			return raw ? this.toDoc(raw) : null;
		});
	}

	find(where: Where<T>, opts: FindOptions<T> = {}): Promise<T[]> {
		return this.guard(async () => {
			if (this.kind === "sql") {
				const statement = selectSql(this.dialect, this.table!, where, opts);
				const rows = await this.runSql<Record<string, unknown>[]>(statement, "SELECT");
				return rows.map(row => this.fromRow(row));
			}
			if (this.kind === "memory") return this.readDocs(selectSql("sqlite", this.documents, where, opts));
			const rows = await this.adapter.find({
				query: this.query(where, opts.search),
				sort: opts.sort,
				limit: opts.limit,
				offset: opts.offset,
			});
			return rows.map(r => this.toDoc(r));
		});
	}

	count(where: Where<T>, search?: FindOptions<T>["search"]): Promise<number> {
		return this.guard(async () => {
			if (this.kind === "memory")
				return this.sqlite!.get<{ n: number }>(countSql("sqlite", this.documents, where, search))!.n;
			if (this.kind === "mongo") return this.adapter.count({ query: this.query(where, search) });
			const statement = countSql(this.dialect, this.table!, where, search);
			const [row] = await this.runSql<{ n: number | string }[]>(statement, "SELECT");
			return Number(row.n);
		});
	}

	/**
	 * Applies `set`/`inc` (and `push`/`pull` on the document stores) to every document matching `where` in one atomic
	 * statement; returns how many matched, also those the change left as they were (on MySQL thanks to FOUND_ROWS, see
	 * createSequelize), so callers can use it as a compare-and-set.
	 */
	update(where: Where<T>, change: Change<T>, tx?: Transaction): Promise<number> {
		return this.guard(async () => {
			if (this.kind === "sql") {
				if (change.push || change.pull) throw new Error(`push/pull on ${this.spec.name}: document stores only`);
				const inc: Record<string, number> = {};
				for (const [f, n] of Object.entries(change.inc ?? {}) as [string, number][])
					if (this.columnTypes.has(f)) inc[f] = n;
				const set = this.toColumns(change.set ?? {});
				const statement = updateSql(this.dialect, this.table!, where, { set, inc });
				return statement ? this.runSql<number>(statement, "BULKUPDATE", tx) : 0;
			}
			if (this.kind === "memory") {
				const statement = updateSql("sqlite", this.documents, where, this.documentChange(change));
				return statement ? this.sqlite!.run(statement) : 0;
			}
			const q = this.query(where);
			const modifier: Record<string, unknown> = {};
			if (change.set && Object.keys(change.set).length) modifier.$set = change.set;
			if (change.inc && Object.keys(change.inc).length) modifier.$inc = change.inc;
			if (change.push && Object.keys(change.push).length) modifier.$push = change.push;
			if (change.pull && Object.keys(change.pull).length) modifier.$pull = change.pull;
			const res = await this.adapter.collection.updateMany(q, modifier);
			return res.matchedCount as number;
		});
	}

	remove(where: Where<T>, tx?: Transaction): Promise<number> {
		return this.guard(async () => {
			if (this.kind === "sql")
				return this.runSql<number>(deleteSql(this.dialect, this.table!, where), "BULKDELETE", tx);
			if (this.kind === "memory") return this.sqlite!.run(deleteSql("sqlite", this.documents, where));
			const res = await this.adapter.collection.deleteMany(this.query(where));
			return res.deletedCount as number;
		});
	}

	/**
	 * Runs `work` in a SQL transaction; in-process and on MongoDB (no replica set assumed) it runs as is: the services
	 * keep each step there a single atomic statement instead.
	 */
	transaction<T>(work: (tx?: Transaction) => Promise<T>): Promise<T> {
		if (this.kind !== "sql") return work(undefined);
		return this.guard(() => this.sequelize!.transaction(t => work(t)));
	}
}
