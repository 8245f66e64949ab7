import { afterEach, expect, it, vi } from "vitest";
import { connect } from "nats";
import { ServiceBroker, type Middleware } from "moleculer";
import { Middleware as ChannelsMiddleware } from "@moleculer/channels";
import { channelAdapter, ensureStream } from "../../../lib/events/channels";
import { DEAD_LETTER_CHANNEL } from "../../../lib/events/catalog";
import type { JetStreamAdapter } from "../../../lib/events/jetstream-adapter";
import { describeWithServers, SERVERS } from "../../support/servers";
import { dropNamespace, uniqueNamespace } from "../../support/cluster";

const CHANNEL = "order.created";

/** JetStream's answer to the second of two creates of one durable consumer (CI's run), as nats.js throws it. */
const consumerNameInUse = () =>
	Object.assign(new Error("consumer name already in use"), {
		code: "400",
		api_error: { code: 400, err_code: 10013, description: "consumer name already in use" },
	});

/** A node of one consumer group (`notifications`) on the real NATS, counting what it is delivered. */
function groupNode(namespace: string, n: number, received: string[], adapter = nodeAdapter(namespace, n)) {
	const broker = new ServiceBroker({
		namespace,
		nodeID: `${namespace}-node-${n}`,
		logger: false,
		middlewares: [ChannelsMiddleware({ adapter } as never) as unknown as Middleware],
	});
	broker.createService({
		name: "notifications",
		channels: { [CHANNEL]: (payload: { id: string }) => void received.push(payload.id) },
	});
	return broker;
}

function nodeAdapter(namespace: string, n: number): JetStreamAdapter {
	return channelAdapter(SERVERS.nats.url, `${namespace}-node-${n}`, namespace) as JetStreamAdapter;
}

/** The channel's stream, as every node's start creates it (`JetStreamStreamsMiddleware`). */
async function createStream(namespace: string): Promise<void> {
	const nats = await connect({ servers: new URL(SERVERS.nats.url).host });
	try {
		const subject = `${namespace}.${CHANNEL}`;
		await ensureStream(await nats.jetstreamManager(), subject.split(".").join("_"), subject);
	} finally {
		await nats.close();
	}
}

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!check() && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 50));
}

await describeWithServers(
	["nats", "redis"],
	"JetStream consumers of one group created by nodes starting together",
	() => {
		const brokers: ServiceBroker[] = [];
		const namespaces: string[] = [];
		const fresh = async () => {
			const namespace = uniqueNamespace("consumers");
			namespaces.push(namespace);
			await createStream(namespace);
			return namespace;
		};
		afterEach(async () => {
			await Promise.all(brokers.splice(0).map(broker => broker.stop()));
			for (const namespace of namespaces.splice(0)) await dropNamespace(namespace);
		});

		it("six nodes of one group starting at once all start, and the group gets each event once", async () => {
			const namespace = await fresh();
			const received: string[] = [];
			brokers.push(...Array.from({ length: 6 }, (_, n) => groupNode(namespace, n, received)));
			await Promise.all(brokers.map(broker => broker.start()));
			for (let i = 0; i < 12; i++) await brokers[i % 6].sendToChannel(CHANNEL, { id: `event-${i}` });
			await until(() => received.length >= 12);
			await new Promise(resolve => setTimeout(resolve, 300));
			expect(received.sort()).toEqual(Array.from({ length: 12 }, (_, i) => `event-${i}`).sort());
		});

		it("joins the group's consumer when the server says another node created it meanwhile", async () => {
			const namespace = await fresh();
			const received: string[] = [];
			const adapter = nodeAdapter(namespace, 0);
			// The race itself is narrow on a real server: its answer is replayed once, after the adapter has connected.
			const connectAdapter = adapter.connect.bind(adapter);
			adapter.connect = async () => {
				await connectAdapter();
				const client = (adapter as unknown as { client: { subscribe: () => Promise<unknown> } }).client;
				vi.spyOn(client, "subscribe").mockRejectedValueOnce(consumerNameInUse());
			};
			const subscribed: Parameters<JetStreamAdapter["subscribe"]>[0][] = [];
			const subscribe = adapter.subscribe.bind(adapter);
			adapter.subscribe = chan => {
				subscribed.push(chan);
				return subscribe(chan);
			};
			const broker = groupNode(namespace, 0, received, adapter);
			brokers.push(broker);
			await broker.start();
			await broker.sendToChannel(CHANNEL, { id: "after-the-race" });
			await until(() => received.length > 0);
			expect(received).toEqual(["after-the-race"]);
			// The adapter prefixes the dead-letter queue in place: after two attempts it still has one prefix.
			expect(subscribed.map(chan => chan.deadLettering?.queueName)).toEqual([`${namespace}.${DEAD_LETTER_CHANNEL}`]);
		});
	},
);
