import { vi } from "vitest";
import type { ServiceBroker } from "moleculer";
import { consume, type OutboxRow } from "../../mixins/events.mixin";
import type { DomainEvent, DomainEventType } from "../../lib/events";
import type { Store } from "../../lib/storage";

/** The caller an admin-only action needs in `meta`, as the gateway puts it there from a token. */
export const AS_ADMIN = { meta: { user: { id: "admin-1", role: "admin", email: "admin@example.com", name: "Admin" } } };

/** A consumer group of its own (`probe`) recording every event of `types` it is handed, in a started broker. */
export async function eventProbe(
	broker: ServiceBroker,
	types: DomainEventType[],
	handle: (event: DomainEvent) => Promise<void> = () => Promise.resolve(),
	name = "probe",
): Promise<DomainEvent[]> {
	const seen: DomainEvent[] = [];
	broker.createService({
		name,
		channels: Object.fromEntries(
			types.map(type => [
				type,
				consume(async function (ctx) {
					seen.push(ctx.params);
					await handle(ctx.params);
				}),
			]),
		),
	});
	await broker.waitForServices(name);
	return seen;
}

/** The outbox of a service running on `broker`. */
export function outboxOf(broker: ServiceBroker, service: string): Store<OutboxRow> {
	const svc = broker.getLocalService(service) as unknown as { stores: Record<string, Store<OutboxRow>> };
	return svc.stores[`${service}_outbox`];
}

/** Makes the next outbox write of an event of `type` by `service` fail, as a lost connection or a full disk would. */
export function failNextOutboxWrite(broker: ServiceBroker, service: string, type: DomainEventType): void {
	const store = outboxOf(broker, service);
	const insert = store.insert.bind(store);
	let failed = false;
	vi.spyOn(store, "insert").mockImplementation((row, tx) => {
		if (failed || row.type !== type) return insert(row, tx);
		failed = true;
		return Promise.reject(new Error(`injected: the ${type} outbox write failed`));
	});
}

/** A promise to hold a step at, released by the test. */
export function gate(): { wait: Promise<void>; open(): void } {
	let open!: () => void;
	const wait = new Promise<void>(resolve => (open = resolve));
	return { wait, open };
}
