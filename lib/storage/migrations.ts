import type { LoggerInstance } from "moleculer";
import type { Sequelize, Transaction } from "sequelize";
import { SequelizeStorage, Umzug, type UmzugStorage } from "umzug";
import { DuplicateKeyError } from "../errors";
import { IDLE_TRANSACTION_SECONDS, type CollectionSpec, type Doc, type Store, type StoreKind } from "./store";

/**
 * Versioned schema and data changes of one actor's collections, run by umzug at start (and by `npm run migrate`).
 * SQL records the steps done in a table through umzug's Sequelize storage; memory:// and MongoDB in a collection of the
 * actor's store. Each step is one function for every store kind, given the actor's connected stores (and on SQL the
 * connection, for schema changes). On SQL one node at a time runs an actor's steps (a database lock); on the document
 * stores steps are idempotent, as two nodes starting together may both run one.
 */

/** What a step works with: the actor's connected stores, and on SQL the connection. */
export interface MigrationContext {
	kind: StoreKind;
	sequelize?: Sequelize;
	storeFor: <T extends Doc>(spec: CollectionSpec<T>) => Store<T>;
	logger: LoggerInstance;
}

/** One versioned step; `name` orders the steps and is recorded once done (e.g. `products-0001-variants`). */
export interface Migration {
	name: string;
	up(ctx: MigrationContext): Promise<void>;
}

export interface MigrationRecord extends Doc {
	executedAt: string;
}

/** Where memory:// and MongoDB record the steps done: one collection per actor. */
export function migrationsCollection(actor: string): CollectionSpec<MigrationRecord> {
	return { name: `${actor}_migrations`, fields: { executedAt: "string" } };
}

/** umzug's storage over a document store (the ids are the step names). */
export function documentStorage(store: Store<MigrationRecord>): UmzugStorage<MigrationContext> {
	return {
		async logMigration({ name }) {
			await store.insert({ id: name, executedAt: new Date().toISOString() }).catch((err: unknown) => {
				if (!(err instanceof DuplicateKeyError)) throw err; // another node recorded it
			});
		},
		async unlogMigration({ name }) {
			await store.remove({ id: name });
		},
		async executed() {
			return (await store.find({}, { sort: ["id"] })).map(r => r.id);
		},
	};
}

/** Runs the steps not done yet, in name order; returns the names of those it ran. */
export async function runMigrations(
	actor: string,
	steps: readonly Migration[],
	context: MigrationContext,
	documents?: Store<MigrationRecord>,
): Promise<string[]> {
	const storage = context.sequelize
		? new SequelizeStorage({ sequelize: context.sequelize, tableName: `${actor}_migrations` })
		: documentStorage(documents!);
	const umzug = new Umzug<MigrationContext>({
		migrations: [...steps]
			.sort((a, b) => a.name.localeCompare(b.name))
			.map(step => ({ name: step.name, up: ({ context: ctx }) => step.up(ctx) })),
		context,
		storage,
		logger: undefined,
	});
	const ran = context.sequelize
		? await withMigrationLock(context.sequelize, actor, () => umzug.up())
		: await umzug.up();
	for (const { name } of ran) context.logger.info(`Migration ${name} applied`, { actor });
	return ran.map(m => m.name);
}

const LOCK_WAIT_SECONDS = 120;

/**
 * Sets how long the database lets this transaction's connection idle in it (0: for ever). PostgreSQL: for this
 * transaction only. MariaDB: for the session; MySQL has no such limit (its unknown variable is ignored).
 */
async function allowIdle(sequelize: Sequelize, transaction: Transaction, seconds: number): Promise<void> {
	if (sequelize.getDialect() === "postgres")
		await sequelize.query(`SET LOCAL idle_in_transaction_session_timeout = ${seconds * 1000}`, { transaction });
	else
		await sequelize
			.query(`SET SESSION idle_transaction_timeout = ${seconds}`, { transaction })
			.catch((err: { original?: { code?: string } }) => {
				if (err.original?.code !== "ER_UNKNOWN_SYSTEM_VARIABLE") throw err;
			});
}

/**
 * Runs `work` while this node holds the actor's migration lock, so that nodes of one actor starting together apply
 * each step once (the second finds it recorded): an advisory lock taken by a transaction's connection (PostgreSQL:
 * released at its end; MySQL/MariaDB: `GET_LOCK`, released before it ends), while the steps use other connections.
 */
async function withMigrationLock<T>(sequelize: Sequelize, actor: string, work: () => Promise<T>): Promise<T> {
	const name = `emporium_migrations_${actor}`;
	const postgres = sequelize.getDialect() === "postgres";
	return sequelize.transaction(async transaction => {
		const query = (sql: string) => sequelize.query(sql, { replacements: { name }, transaction, plain: true });
		// This transaction idles while the steps run: the database must not end it (IDLE_TRANSACTION_SECONDS).
		await allowIdle(sequelize, transaction, 0);
		if (postgres) await query("SELECT pg_advisory_xact_lock(hashtext(:name))");
		else {
			const got = (await query(`SELECT GET_LOCK(:name, ${LOCK_WAIT_SECONDS}) AS got`)) as { got: number } | null;
			if (got?.got !== 1) throw new Error(`Migrations of ${actor}: no lock within ${LOCK_WAIT_SECONDS} s`);
		}
		try {
			return await work();
		} finally {
			if (!postgres) {
				await query("SELECT RELEASE_LOCK(:name)");
				// The connection goes back to the pool: with the limit every other session has.
				await allowIdle(sequelize, transaction, IDLE_TRANSACTION_SECONDS);
			}
		}
	});
}
