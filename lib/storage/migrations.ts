import type { LoggerInstance } from "moleculer";
import type { Sequelize } from "sequelize";
import { SequelizeStorage, Umzug, type UmzugStorage } from "umzug";
import { DuplicateKeyError } from "../errors";
import type { CollectionSpec, Doc, Store, StoreKind } from "./store";

/**
 * Versioned schema and data changes of one actor's collections, run by umzug at start (and by `npm run migrate`).
 * SQL records the steps done in a table through umzug's Sequelize storage; NeDB and MongoDB in a collection of the
 * actor's store. Each step is one function for every store kind, given the actor's connected stores (and on SQL the
 * connection, for schema changes). Steps are idempotent: two nodes starting together may both run one.
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

/** Where NeDB and MongoDB record the steps done: one collection per actor. */
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
	const ran = await umzug.up();
	for (const { name } of ran) context.logger.info(`Migration ${name} applied`, { actor });
	return ran.map(m => m.name);
}
