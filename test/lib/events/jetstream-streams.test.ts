import { afterEach, expect, it, vi } from "vitest";
import { connect, type JetStreamManager } from "nats";
import type { ServiceBroker } from "moleculer";
import { ensureStream, JetStreamStreamsMiddleware } from "../../../lib/events/channels";
import { DEAD_LETTER_CHANNEL, DOMAIN_EVENTS } from "../../../lib/events/catalog";
import { describeWithServers, SERVERS } from "../../support/servers";
import { dropNamespace, uniqueNamespace } from "../../support/cluster";

type Starting = { starting(broker: ServiceBroker): Promise<void> };

/** What every node of a namespace does at start: create each domain-event stream on the real NATS server. */
function startNodeStreams(namespace: string): Promise<void> {
	const middleware = JetStreamStreamsMiddleware(SERVERS.nats.url) as unknown as Starting;
	return middleware.starting({ namespace } as ServiceBroker);
}

async function withStreams<T>(use: (jsm: JetStreamManager) => Promise<T>): Promise<T> {
	const nats = await connect({ servers: new URL(SERVERS.nats.url).host });
	try {
		return await use(await nats.jetstreamManager());
	} finally {
		await nats.close();
	}
}

await describeWithServers(["nats", "redis"], "JetStream streams created at start", () => {
	const namespaces: string[] = [];
	const fresh = () => {
		const namespace = uniqueNamespace("streams");
		namespaces.push(namespace);
		return namespace;
	};
	afterEach(async () => {
		for (const namespace of namespaces.splice(0)) await dropNamespace(namespace);
	});

	it("twelve nodes starting at once all start, and each channel has one stream holding its subject", async () => {
		const namespace = fresh();
		await Promise.all(Array.from({ length: 12 }, () => startNodeStreams(namespace)));
		await withStreams(async jsm => {
			for (const channel of [...DOMAIN_EVENTS, DEAD_LETTER_CHANNEL]) {
				const subject = `${namespace}.${channel}`;
				const info = await jsm.streams.info(subject.split(".").join("_"));
				expect(info.config.subjects).toEqual([subject]);
				expect(info.config.max_age).toBe(7 * 24 * 3600 * 1e9);
			}
		});
	});

	it("keeps a stream an earlier version created with other limits", async () => {
		const namespace = fresh();
		const subject = `${namespace}.order.created`;
		const name = subject.split(".").join("_");
		await withStreams(jsm => jsm.streams.add({ name, subjects: [subject], max_age: 3600 * 1e9 }));
		await startNodeStreams(namespace);
		await withStreams(async jsm => expect((await jsm.streams.info(name)).config.max_age).toBe(3600 * 1e9));
	});

	it("fails the start when a stream of another name holds a channel's subject", async () => {
		const namespace = fresh();
		const subject = `${namespace}.order.created`;
		await withStreams(jsm => jsm.streams.add({ name: `${namespace}_foreign`, subjects: [subject] }));
		await expect(startNodeStreams(namespace)).rejects.toThrow(/overlap/);
	});
});

it("waits for the stream another node is still setting up when the server says its subject overlaps", async () => {
	// The server's answer in CI's run, replayed: a real server gives it only in a narrow race.
	const subject = "shop.order.created";
	const add = vi.fn().mockRejectedValue(new Error("subjects overlap with an existing stream"));
	const info = vi
		.fn()
		.mockRejectedValueOnce(new Error("stream not found"))
		.mockResolvedValue({ config: { name: "shop_order_created", subjects: [subject] } });
	await ensureStream({ streams: { add, info } } as unknown as JetStreamManager, "shop_order_created", subject);
	expect(add).toHaveBeenCalledTimes(2);
});
