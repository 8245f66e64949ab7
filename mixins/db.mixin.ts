import type { ServiceSchema } from "moleculer";
import { dbUriFor } from "../lib/config";
import { Store, createSequelize, storeKind, type CollectionSpec } from "../lib/storage";

const CONNECT_RETRY_MS = 2000;

/**
 * Gives a service its own collections in the store chosen by `<SERVICE>_DB_URI` / `DB_URI`
 * (memory:// NeDB by default). `this.stores.<name>` is a Store; a SQL service shares one connection pool.
 * Connecting retries until the database answers, so a node can start before its database.
 */
export function DbMixin(...collections: CollectionSpec[]): Partial<ServiceSchema> {
	return {
		created() {
			this.dbUri = dbUriFor(this.name);
			this.stores = Object.fromEntries(collections.map(spec => [spec.name, new Store(spec, this.dbUri, this.logger)]));
		},

		methods: {
			/** Readiness probe: true when the service's database answers. */
			async storageReachable(): Promise<boolean> {
				// On SQL every collection shares one connection: one ping answers for all.
				const stores = Object.values(this.stores as Record<string, Store>);
				return Promise.all((this.sequelize ? stores.slice(0, 1) : stores).map(store => store.ping())).then(
					() => true,
					() => false,
				);
			},
		},

		async started() {
			const sql = storeKind(this.dbUri) === "sql";
			for (;;) {
				// A failed model sync closes the Sequelize instance, so every attempt starts from a fresh one.
				this.sequelize = sql ? createSequelize(this.dbUri) : undefined;
				try {
					for (const store of Object.values(this.stores as Record<string, Store>))
						await store.connect(this.broker, this.sequelize);
					return;
				} catch (err: any) {
					this.logger.warn(
						`Cannot open the ${this.name} database (${err.message}); retrying in ${CONNECT_RETRY_MS} ms`,
					);
					await this.sequelize?.close().catch(() => undefined);
					await new Promise(resolve => setTimeout(resolve, CONNECT_RETRY_MS));
				}
			}
		},

		async stopped() {
			for (const store of Object.values(this.stores as Record<string, Store>)) await store.disconnect();
			await this.sequelize?.close();
		},
	};
}
