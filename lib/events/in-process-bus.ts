import { Adapters } from "@moleculer/channels";
import type { GenericObject, Service } from "moleculer";
import { afterFailure } from "./delivery";

type BaseAdapter = InstanceType<typeof Adapters.Base>;
type Channel = Parameters<BaseAdapter["subscribe"]>[0];
type Headers = Record<string, string>;
type Handler = (payload: unknown, raw: { payload: unknown; headers: Headers }) => Promise<unknown>;

// The names @moleculer/channels gives them (src/constants.js), which its typings do not export as values.
const ORIGINAL_CHANNEL = "x-original-channel";
const ORIGINAL_GROUP = "x-original-group";
const METRIC = {
	errors: "moleculer.channels.messages.errors.total",
	retries: "moleculer.channels.messages.retries.total",
	deadLettered: "moleculer.channels.messages.deadLettering.total",
};

/** One group's subscriber: at most `maxInFlight` messages in its handler at once, the others wait their turn. */
class Subscriber {
	private active = 0;
	private readonly waiting: (() => void)[] = [];
	readonly inFlight = new Set<Promise<unknown>>();

	constructor(readonly chan: Channel) {}

	async run(payload: unknown, headers: Headers): Promise<void> {
		const max = this.chan.maxInFlight ?? 1;
		if (this.active >= max) await new Promise<void>(resolve => this.waiting.push(resolve));
		else this.active++;
		const work = (this.chan.handler as Handler)(payload, { payload, headers });
		this.inFlight.add(work);
		try {
			await work;
		} finally {
			this.inFlight.delete(work);
			// The slot goes straight to the next waiting message, so nothing can overtake it.
			const next = this.waiting.shift();
			if (next) next();
			else this.active--;
		}
	}
}

/**
 * The event bus of the one-process shop (no `EVENTS_URL`): an adapter of @moleculer/channels, like its Fake adapter,
 * but with the delivery promise of the real ones. `publish` hands the message to one subscriber of every consumer
 * group of the channel and resolves once each has handled it: a handler that throws gets the message again, up to
 * `maxRetries` deliveries, and then the message goes to the dead-letter channel. So the outbox deletes an event's
 * row only once every group is done with it. Messages are serialised as on a wire: a handler cannot change what
 * the next delivery receives. Consumers in other processes never see these messages (the startup check in
 * `lib/config` refuses TRANSPORTER without EVENTS_URL unless EVENTS_IN_PROCESS=true says that is intended).
 */
export class InProcessAdapter extends Adapters.Base {
	/** Channel name → consumer group → its subscribers in this process (one per service instance). */
	private readonly groups = new Map<string, Map<string, Subscriber[]>>();
	private turn = 0;
	stopping = false;

	connect(): Promise<void> {
		this.connected = true;
		this.stopping = false;
		return Promise.resolve();
	}

	disconnect(): Promise<void> {
		this.stopping = true;
		this.connected = false;
		return Promise.resolve();
	}

	subscribe(chan: Channel, _svc: Service): Promise<void> {
		chan.maxInFlight ??= this.opts.maxInFlight;
		chan.maxRetries ??= this.opts.maxRetries;
		chan.deadLettering = { ...this.opts.deadLettering, ...chan.deadLettering };
		if (chan.deadLettering.enabled) chan.deadLettering.queueName = this.addPrefixTopic(chan.deadLettering.queueName);
		const groups = this.groups.get(chan.name) ?? new Map<string, Subscriber[]>();
		this.groups.set(chan.name, groups);
		groups.set(chan.group, [...(groups.get(chan.group) ?? []), new Subscriber(chan)]);
		return Promise.resolve();
	}

	/** Lets the messages its handler is working on finish; a group left without subscriber keeps its place. */
	async unsubscribe(chan: Channel): Promise<void> {
		chan.unsubscribing = true;
		const groups = this.groups.get(chan.name);
		const subscribers = groups?.get(chan.group) ?? [];
		const leaving = subscribers.filter(s => s.chan === chan);
		groups?.set(
			chan.group,
			subscribers.filter(s => s.chan !== chan),
		);
		await Promise.allSettled(leaving.flatMap(s => [...s.inFlight]));
	}

	async publish(channelName: string, payload: unknown, opts: { headers?: Headers } | null = {}): Promise<void> {
		if (this.stopping) throw new Error("the in-process event bus is closed");
		const wire = this.serializer.serialize(payload as GenericObject);
		const groups = [...(this.groups.get(channelName) ?? new Map<string, Subscriber[]>()).entries()];
		await Promise.all(
			groups.map(([group, subscribers]) => this.deliver(group, subscribers, wire, opts?.headers ?? {})),
		);
	}

	private async deliver(group: string, subscribers: Subscriber[], wire: Buffer, headers: Headers): Promise<void> {
		for (let attempt = 1; ; attempt++) {
			// One subscriber per delivery, taking turns, as a group's members share a real bus's messages.
			const subscriber = subscribers[this.turn++ % Math.max(subscribers.length, 1)];
			if (!subscriber) {
				// The group's service is stopping with the broker: the outbox keeps the event for the next start.
				if (this.broker.stopping) throw new Error(`consumer group ${group} has stopped`);
				return;
			}
			const { chan } = subscriber;
			try {
				await subscriber.run(this.serializer.deserialize(wire), headers);
				return;
			} catch (err) {
				this.metricsIncrement(METRIC.errors, chan);
				const next = afterFailure(attempt, {
					maxRetries: chan.maxRetries,
					deadLettering: !!chan.deadLettering?.enabled,
					isDeadLetterChannel: chan.name === chan.deadLettering?.queueName,
					stopping: this.broker.stopping,
				});
				if (next === "keep") throw err;
				if (next === "retry") {
					this.metricsIncrement(METRIC.retries, chan);
					continue;
				}
				this.logger.error(`Event on '${chan.name}' failed in group '${chan.group}' after ${attempt} deliveries`, err);
				if (next === "dead-letter") await this.moveToDeadLetter(chan, wire);
				return;
			}
		}
	}

	/** As the JetStream adapter does: the message as it came, with the channel and group it failed in. */
	private async moveToDeadLetter(chan: Channel, wire: Buffer): Promise<void> {
		const queue = chan.deadLettering!.queueName;
		await this.publish(queue, this.serializer.deserialize(wire), {
			headers: { [ORIGINAL_CHANNEL]: chan.name, [ORIGINAL_GROUP]: chan.group },
		});
		this.metricsIncrement(METRIC.deadLettered, chan);
		this.logger.warn(`Moved the message of '${chan.name}' (group '${chan.group}') to '${queue}'`);
	}
}
