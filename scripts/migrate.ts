import { ServiceBroker } from "moleculer";
import { dbUriFor } from "../lib/config";
import {
	Store,
	createSequelize,
	migrationsCollection,
	runMigrations,
	storeKind,
	type AnyCollectionSpec,
	type CollectionSpec,
	type Doc,
	type Migration,
} from "../lib/storage";
import { PRODUCTS, VARIANTS } from "../services/products/catalogue";
import { PRODUCT_MIGRATIONS } from "../services/products/migrations";

/**
 * `npm run migrate`: runs the versioned migrations of every actor's store (`<ACTOR>_DB_URI` / `DB_URI`), then exits.
 * The services run the same steps at start; this is for upgrading a database before the new release serves.
 * `memory://` is skipped: it starts empty in every process.
 */
const ACTORS: { actor: string; collections: AnyCollectionSpec[]; steps: readonly Migration[] }[] = [
	{ actor: "products", collections: [PRODUCTS, VARIANTS], steps: PRODUCT_MIGRATIONS },
];

async function migrate(
	broker: ServiceBroker,
	actor: string,
	collections: AnyCollectionSpec[],
	steps: readonly Migration[],
) {
	const uri = dbUriFor(actor);
	const logger = broker.getLogger(`migrate-${actor}`);
	if (uri === "memory://") return logger.info(`${actor}: memory:// holds no data between runs, nothing to migrate`);
	const sequelize = storeKind(uri) === "sql" ? createSequelize(uri) : undefined;
	const stores = new Map(collections.map(spec => [spec.name, new Store(spec as CollectionSpec, uri, logger)]));
	const done = new Store(migrationsCollection(actor), uri, logger);
	try {
		for (const store of [...stores.values(), ...(sequelize ? [] : [done])]) await store.connect(broker, sequelize);
		const storeFor = <T extends Doc>(spec: CollectionSpec<T>) => stores.get(spec.name) as unknown as Store<T>;
		const ran = await runMigrations(actor, steps, { kind: storeKind(uri), sequelize, storeFor, logger }, done);
		logger.info(`${actor}: ${ran.length ? ran.join(", ") : "up to date"}`);
	} finally {
		for (const store of [...stores.values(), done]) await store.disconnect().catch(() => undefined);
		await sequelize?.close();
	}
}

async function main(): Promise<void> {
	const broker = new ServiceBroker({ logger: { type: "Console", options: { level: "info" } } });
	for (const { actor, collections, steps } of ACTORS) await migrate(broker, actor, collections, steps);
}

main().catch((err: unknown) => {
	process.exitCode = 1;
	process.stderr.write(`Migration failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
});
