import type { Service } from "moleculer";
import type { Sequelize } from "sequelize";
import { defineMixin } from "../lib/actor";
import { dbUriFor } from "../lib/config";
import {
	Store,
	createSequelize,
	migrationsCollection,
	runMigrations,
	storeKind,
	type Migration,
	type AnyCollectionSpec,
	type CollectionSpec,
	type Doc,
} from "../lib/storage";

const CONNECT_RETRY_MS = 2000;

/** What the mixin adds to a service's `this`. */
export interface DbThis {
	dbUri: string;
	/** Each collection's store, by collection name; `storeFor` gives one with its entity type. */
	stores: Record<string, Pick<Store, "connect" | "disconnect" | "ping">>;
	sequelize?: Sequelize;
	/** The store of one of the service's collections, typed by its spec. */
	storeFor<T extends Doc>(spec: CollectionSpec<T>): Store<T>;
	storageReachable(): Promise<boolean>;
	/** Runs the versioned steps not done yet on the service's stores (lib/storage/migrations.ts); once connected. */
	migrate(steps: readonly Migration[]): Promise<string[]>;
}
type This = Service & DbThis;

/**
 * Gives a service its own collections in the store chosen by `<SERVICE>_DB_URI` / `DB_URI`
 * (memory://, SQLite in the process, by default). `this.stores.<name>` is a Store; a SQL service shares one
 * connection pool.
 * Connecting retries until the database answers, so a node can start before its database.
 */
export function DbMixin(...collections: AnyCollectionSpec[]) {
	return defineMixin<This>({
		created(this: This) {
			this.dbUri = dbUriFor(this.name);
			this.stores = Object.fromEntries(
				collections.map(spec => [spec.name, new Store(spec as CollectionSpec, this.dbUri, this.logger)]),
			);
		},

		methods: {
			storeFor<T extends Doc>(this: This, spec: CollectionSpec<T>): Store<T> {
				return this.stores[spec.name] as unknown as Store<T>;
			},

			/** Readiness probe: true when the service's database answers. */
			async storageReachable(this: This): Promise<boolean> {
				// On SQL every collection shares one connection: one ping answers for all.
				const stores = Object.values(this.stores);
				return Promise.all((this.sequelize ? stores.slice(0, 1) : stores).map(store => store.ping())).then(
					() => true,
					() => false,
				);
			},

			async migrate(this: This, steps: readonly Migration[]): Promise<string[]> {
				const context = {
					kind: storeKind(this.dbUri),
					sequelize: this.sequelize,
					storeFor: this.storeFor.bind(this),
					logger: this.logger,
				};
				if (this.sequelize) return runMigrations(this.name, steps, context);
				const done = new Store(migrationsCollection(this.name), this.dbUri, this.logger);
				await done.connect(this.broker);
				try {
					return await runMigrations(this.name, steps, context, done);
				} finally {
					await done.disconnect();
				}
			},
		},

		async started(this: This) {
			const sql = storeKind(this.dbUri) === "sql";
			for (;;) {
				// A failed model sync closes the Sequelize instance, so every attempt starts from a fresh one.
				this.sequelize = sql ? createSequelize(this.dbUri) : undefined;
				try {
					for (const store of Object.values(this.stores)) await store.connect(this.broker, this.sequelize);
					return;
				} catch (err) {
					this.logger.warn(
						`Cannot open the ${this.name} database (${(err as Error).message}); retrying in ${CONNECT_RETRY_MS} ms`,
					);
					await this.sequelize?.close().catch(() => undefined);
					await new Promise(resolve => setTimeout(resolve, CONNECT_RETRY_MS));
				}
			}
		},

		async stopped(this: This) {
			for (const store of Object.values(this.stores)) await store.disconnect();
			await this.sequelize?.close();
		},
	});
}
