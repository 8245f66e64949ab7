import path from "node:path";
import type { ServiceBroker, LoggerInstance } from "moleculer";
import { MemoryAdapter } from "moleculer-db";
import SequelizeAdapter from "moleculer-db-adapter-sequelize";
import MongoAdapter from "moleculer-db-adapter-mongo";
import {
	Sequelize,
	DataTypes,
	Op,
	literal,
	type ModelAttributeColumnOptions,
	type Transaction,
	type WhereOptions,
} from "sequelize";
import { DuplicateKeyError, StorageUnavailableError } from "../errors";
import { linesBeforeCompaction } from "./compaction";

/**
 * One collection (table) of a service, over whichever moleculer-db adapter the URI picks.
 * It offers only what the services need, in a form every adapter can do atomically:
 * conditional updates with `$inc` are single statements (NeDB in-process, SQL `UPDATE ... WHERE`,
 * MongoDB `updateMany` with a filter), never read-then-write.
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
	 * Fields only the document stores (NeDB, MongoDB) keep: no SQL column. For what SQL does with a transaction
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
	entityToObject(entity: unknown): Record<string, unknown>;

	[key: string]: any;
}

/** Driver errors that mean the database went away mid-query (mysql2 codes, pg messages). */
const LOST_CONNECTION = new RegExp(
	[
		"^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|PROTOCOL_CONNECTION_LOST|ER_SERVER_SHUTDOWN|57P01)$",
		"Connection terminated",
		"server closed the connection",
	].join("|"),
);

const SQL_OPS = { $gte: Op.gte, $lte: Op.lte, $gt: Op.gt, $lt: Op.lt, $ne: Op.ne, $in: Op.in } as const;

function escapeRegExp(text: string): string {
	return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export function storeKind(uri: string): StoreKind {
	const scheme = uri.split(":")[0].toLowerCase();
	if (scheme === "memory" || scheme === "nedb") return "memory";
	if (["mysql", "mariadb", "postgres", "postgresql"].includes(scheme)) return "sql";
	if (scheme === "mongodb" || scheme === "mongodb+srv") return "mongo";
	throw new Error(`Unsupported DB_URI scheme "${scheme}:" (memory, nedb, mysql, mariadb, postgres, mongodb)`);
}

/** A SQL connection shared by all collections of one service. */
export function createSequelize(uri: string): Sequelize {
	const url = uri.replace(/^mariadb:/i, "mysql:").replace(/^postgresql:/i, "postgres:");
	return new Sequelize(url, {
		logging: false,
		pool: { max: 10, min: 0, acquire: 5000, idle: 10000 },
		retry: { max: 0 },
		// Sequelize connects to MySQL with -FOUND_ROWS, so an UPDATE counts changed rows; FOUND_ROWS makes it count
		// matched rows, as PostgreSQL, NeDB and MongoDB do (`update` below relies on it).
		dialectOptions: url.startsWith("mysql:")
			? { connectTimeout: 5000, flags: "FOUND_ROWS" }
			: { connectionTimeoutMillis: 5000 },
	});
}

/** BIGINT comes back as a string from mysql2 and pg: read it as a Number (exact below 2^53). */
function bigint(field: string): ModelAttributeColumnOptions {
	return {
		type: DataTypes.BIGINT,
		get(this: any) {
			const v = this.getDataValue(field);
			return v == null ? v : Number(v);
		},
	};
}

function sqlColumn(field: string, type: FieldType): ModelAttributeColumnOptions {
	switch (type) {
		case "string":
			return { type: DataTypes.STRING(255) };
		case "text":
			return { type: DataTypes.TEXT };
		case "int":
		case "money":
			return bigint(field);
		case "bool":
			return { type: DataTypes.BOOLEAN };
		case "json":
			return { type: DataTypes.TEXT("medium") };
	}
}

export class Store<T extends Doc = Doc> {
	readonly kind: StoreKind;
	private adapter!: AdapterLike;
	private readonly jsonFields: string[];
	private sequelize?: Sequelize;
	/** A NeDB store kept in a file: lines appended since its last compaction, and how many trigger the next one. */
	private nedbFile?: string;
	private appended = 0;
	private compactAfter = linesBeforeCompaction(0);

	constructor(
		readonly spec: CollectionSpec<T>,
		private readonly uri: string,
		private readonly logger: LoggerInstance,
	) {
		this.kind = storeKind(uri);
		this.jsonFields = Object.entries<FieldType>(spec.fields)
			.filter(([, t]) => t === "json")
			.map(([f]) => f);
	}

	/** `sequelize` is the service's shared SQL connection (required for SQL URIs). */
	async connect(broker: ServiceBroker, sequelize?: Sequelize): Promise<void> {
		this.sequelize = sequelize;
		this.adapter = this.createAdapter();
		// Adapters read their model/collection from `service.schema`; a collection is not a service, so pass just that.
		this.adapter.init(broker, { schema: { model: this.sqlModel(), collection: this.spec.name }, logger: this.logger });
		await this.adapter.connect();
		// Loading rewrote the file with the live documents only.
		if (this.nedbFile) this.compactAfter = linesBeforeCompaction(this.adapter.db.getAllData().length);
		await this.ensureIndexes();
		await this.widenIntegerColumns();
	}

	async disconnect(): Promise<void> {
		// The SQL connection is shared and closed by its owner.
		if (this.adapter && this.kind !== "sql") await this.adapter.disconnect();
	}

	private createAdapter(): AdapterLike {
		if (this.kind === "memory") {
			const dir = this.uri.startsWith("nedb://") ? this.uri.slice("nedb://".length) : process.env.DATA_DIR;
			this.nedbFile = dir ? path.join(dir, `${this.spec.name}.db`) : undefined;
			return new MemoryAdapter(
				this.nedbFile ? { filename: this.nedbFile, autoload: true } : {},
			) as unknown as AdapterLike;
		}
		if (this.kind === "sql") return new SequelizeAdapter(this.sequelize!) as unknown as AdapterLike;
		return new MongoAdapter(this.uri, { useUnifiedTopology: true }) as unknown as AdapterLike;
	}

	/** The fields that are SQL columns (all but `documentOnly`). */
	private sqlFields(): [string, FieldType][] {
		const documentOnly: readonly string[] = this.spec.documentOnly ?? [];
		return Object.entries<FieldType>(this.spec.fields).filter(([field]) => !documentOnly.includes(field));
	}

	private sqlModel() {
		if (this.kind !== "sql") return {};
		const define: Record<string, ModelAttributeColumnOptions> = {
			id: { type: DataTypes.STRING(128), primaryKey: true },
		};
		for (const [field, type] of this.sqlFields()) {
			define[field] = {
				...sqlColumn(field, type),
				allowNull: true,
				unique: (this.spec.unique as readonly string[] | undefined)?.includes(field) || undefined,
			};
		}
		return {
			name: this.spec.name,
			define,
			options: {
				tableName: this.spec.name,
				timestamps: false,
				indexes: (this.spec.indexes ?? []).map(f => ({ fields: [f] })),
			},
		};
	}

	private async ensureIndexes(): Promise<void> {
		if (this.kind === "memory") {
			await this.adapter.db.ensureIndex({ fieldName: "id", unique: true });
			for (const f of this.spec.unique ?? [])
				await this.adapter.db.ensureIndex({ fieldName: f, unique: true, sparse: true });
			for (const f of this.spec.indexes ?? []) await this.adapter.db.ensureIndex({ fieldName: f });
		} else if (this.kind === "mongo") {
			const col = this.adapter.collection;
			await col.createIndex({ id: 1 }, { unique: true });
			for (const f of this.spec.unique ?? []) await col.createIndex({ [f]: 1 }, { unique: true, sparse: true });
			for (const f of this.spec.indexes ?? []) await col.createIndex({ [f]: 1 });
		}
	}

	/**
	 * `sync()` creates missing tables but never alters a column: a table made when `int` was a 32-bit INTEGER is
	 * widened here to BIGINT, one ALTER per column (a table rewrite: brief on small tables, a lock on big ones).
	 */
	private async widenIntegerColumns(): Promise<void> {
		if (this.kind !== "sql") return;
		const qi = this.sequelize!.getQueryInterface();
		const columns = await qi.describeTable(this.spec.name);
		for (const [field, type] of this.sqlFields()) {
			if ((type === "int" || type === "money") && /^INT/i.test(columns[field]?.type ?? "")) {
				this.logger.info(`Widening ${this.spec.name}.${field} from ${columns[field].type} to BIGINT`);
				await qi.changeColumn(this.spec.name, field, { type: DataTypes.BIGINT, allowNull: true });
			}
		}
	}

	/** Maps adapter failures to what callers can act on: duplicate keys, and 503 for an unreachable store. */
	private async guard<T>(work: () => Promise<T>): Promise<T> {
		try {
			return await work();
		} catch (err: any) {
			if (
				err?.errorType === "uniqueViolated" ||
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

	private toDoc(raw: unknown): T {
		const obj = this.kind === "sql" ? this.adapter.entityToObject(raw) : { ...(raw as Record<string, unknown>) };
		delete obj._id;
		for (const f of this.jsonFields) if (typeof obj[f] === "string") obj[f] = JSON.parse(obj[f]);
		return obj as unknown as T;
	}

	private toRow(doc: Record<string, unknown>): Record<string, unknown> {
		if (this.kind !== "sql") return doc;
		const row = { ...doc };
		for (const f of this.spec.documentOnly ?? []) delete row[f];
		for (const f of this.jsonFields) if (row[f] !== undefined) row[f] = row[f] === null ? null : JSON.stringify(row[f]);
		return row;
	}

	private query(where: Where<T>, search?: FindOptions<T>["search"]): Record<string | symbol, unknown> {
		if (this.kind !== "sql") {
			const q: Record<string, unknown> = { ...where };
			if (search) {
				// NeDB takes a RegExp object; MongoDB the string form (mongo-java-server rejects a BSON regex in $regex).
				const pattern = escapeRegExp(search.text);
				const regex = this.kind === "mongo" ? { $regex: pattern, $options: "i" } : { $regex: new RegExp(pattern, "i") };
				q.$or = [
					...search.fields.map(f => ({ [f]: regex })),
					...(search.ids?.length ? [{ id: { $in: search.ids } }] : []),
				];
			}
			return q;
		}
		const q: Record<string | symbol, unknown> = {};
		for (const [field, cond] of Object.entries(where)) {
			if (cond !== null && typeof cond === "object") {
				const ops: Record<symbol, unknown> = {};
				for (const [op, v] of Object.entries(cond)) ops[SQL_OPS[op as keyof typeof SQL_OPS]] = v;
				q[field] = ops;
			} else q[field] = cond;
		}
		if (search) {
			const like = this.sequelize!.getDialect() === "postgres" ? Op.iLike : Op.like;
			const pattern = `%${search.text.replace(/[\\%_]/g, "\\$&")}%`;
			q[Op.or] = [
				...search.fields.map(f => ({ [f]: { [like]: pattern } })),
				...(search.ids?.length ? [{ id: { [Op.in]: search.ids } }] : []),
			];
		}
		return q;
	}

	/** Rejects when the database does not answer (readiness probes). */
	async ping(): Promise<void> {
		if (this.kind === "sql") await this.sequelize!.authenticate();
		else if (this.kind === "mongo") await this.adapter.db.command({ ping: 1 });
	}

	/** Rewrites the NeDB file once the lines appended by `written` more documents make it due (compaction.ts). */
	private compactIfGrown(written: number): void {
		if (!this.nedbFile || written <= 0) return;
		this.appended += written;
		if (this.appended < this.compactAfter) return;
		this.appended = 0;
		this.compactAfter = linesBeforeCompaction(this.adapter.db.getAllData().length);
		// Queued behind the writes already made; later operations wait for it (NeDB runs them one at a time).
		this.adapter.db
			.compactDatafileAsync()
			.catch((err: Error) => this.logger.warn(`Compacting ${this.nedbFile} failed: ${err.message}`));
	}

	/** Inserts a new document; throws DuplicateKeyError when the id or a unique field exists. */
	insert(doc: T, tx?: Transaction): Promise<T> {
		return this.guard(async () => {
			if (this.kind !== "sql") {
				// Sparse unique indexes skip missing fields but not nulls: leave unset unique fields out.
				const stored: Record<string, unknown> = { ...(doc as Record<string, unknown>), _id: doc.id };
				for (const f of this.spec.unique ?? []) if (stored[f] == null) delete stored[f];
				if (this.kind === "memory") {
					const inserted = this.toDoc(await this.adapter.db.insert(stored));
					this.compactIfGrown(1);
					return inserted;
				}
				await this.adapter.collection.insertOne(stored);
				return { ...doc };
			}
			return this.toDoc(
				await this.adapter.model.create(this.toRow({ ...(doc as Record<string, unknown>) }), { transaction: tx }),
			);
		});
	}

	findOne(where: Where<T>, tx?: Transaction): Promise<T | null> {
		return this.guard(async () => {
			const q = this.query(where);
			const raw =
				this.kind === "sql"
					? await this.adapter.model.findOne({ where: q, transaction: tx })
					: await this.adapter.findOne(q);
			return raw ? this.toDoc(raw) : null;
		});
	}

	find(where: Where<T>, opts: FindOptions<T> = {}): Promise<T[]> {
		return this.guard(async () => {
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
		return this.guard(() => this.adapter.count({ query: this.query(where, search) }));
	}

	/**
	 * Applies `set`/`inc` (and `push`/`pull` on the document stores) to every document matching `where` in one atomic
	 * statement; returns how many matched, also those the change left as they were (on MySQL thanks to FOUND_ROWS, see
	 * createSequelize), so callers can use it as a compare-and-set.
	 */
	update(where: Where<T>, change: Change<T>, tx?: Transaction): Promise<number> {
		return this.guard(async () => {
			const q = this.query(where);
			if (this.kind === "sql") {
				if (change.push || change.pull) throw new Error(`push/pull on ${this.spec.name}: document stores only`);
				const values: Record<string, unknown> = { ...this.toRow(change.set ?? {}) };
				const quote = (f: string) => this.sequelize!.getQueryInterface().quoteIdentifier(f);
				for (const [f, n] of Object.entries(change.inc ?? {}) as [string, number][])
					values[f] = literal(`${quote(f)} + ${Math.trunc(n)}`);
				// No validators or hooks are defined: skipping them halves Sequelize's CPU per UPDATE (it builds an
				// instance to validate).
				const [n] = await this.adapter.model.update(values, {
					where: q as WhereOptions,
					transaction: tx,
					validate: false,
					hooks: false,
				});
				return n;
			}
			const modifier: Record<string, unknown> = {};
			if (change.set && Object.keys(change.set).length) modifier.$set = change.set;
			if (change.inc && Object.keys(change.inc).length) modifier.$inc = change.inc;
			if (change.push && Object.keys(change.push).length) modifier.$push = change.push;
			if (change.pull && Object.keys(change.pull).length) modifier.$pull = change.pull;
			if (this.kind === "memory") {
				const [n] = await this.adapter.db.update(q, modifier, { multi: true });
				this.compactIfGrown(n);
				return n as number;
			}
			const res = await this.adapter.collection.updateMany(q, modifier);
			return res.matchedCount as number;
		});
	}

	remove(where: Where<T>, tx?: Transaction): Promise<number> {
		return this.guard(async () => {
			const q = this.query(where);
			if (this.kind === "sql") return this.adapter.model.destroy({ where: q, transaction: tx });
			if (this.kind === "memory") {
				const n: number = await this.adapter.db.remove(q, { multi: true });
				this.compactIfGrown(n);
				return n;
			}
			const res = await this.adapter.collection.deleteMany(q);
			return res.deletedCount as number;
		});
	}

	/** Runs `work` in a SQL transaction; on NeDB (one process) and MongoDB (no replica set assumed) it runs as is. */
	transaction<T>(work: (tx?: Transaction) => Promise<T>): Promise<T> {
		if (this.kind !== "sql") return work(undefined);
		return this.guard(() => this.sequelize!.transaction(t => work(t)));
	}
}
