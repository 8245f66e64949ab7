import { Adapters } from "@moleculer/channels";

type NatsChannel = Parameters<InstanceType<typeof Adapters.NATS>["subscribe"]>[0];

/** JetStream's error code for a durable consumer name that another create has just taken. */
const CONSUMER_NAME_IN_USE = 10013;
const SUBSCRIBE_ATTEMPTS = 5;
const RETRY_DELAY_MS = 200;

function isConsumerNameInUse(err: unknown): boolean {
	return (err as { api_error?: { err_code?: number } } | null)?.api_error?.err_code === CONSUMER_NAME_IN_USE;
}

/**
 * The NATS (JetStream) adapter of @moleculer/channels 0.1.8. Its subscribe looks the group's durable consumer up and
 * creates it when missing: two nodes of one group starting together both find it missing, the server creates the
 * first one's and refuses the other's (10013 "consumer name already in use": each asks for its own delivery
 * subject), and that node failed its start (CI: an inventory node of multinode.test.ts). Subscribing again finds the
 * consumer and joins its delivery group, as a node starting later does.
 */
export class JetStreamAdapter extends Adapters.NATS {
	async subscribe(chan: NatsChannel): Promise<void> {
		// The adapter rewrites these in place (the dead-letter queue gets the prefix): each attempt starts from the
		// channel as it was given.
		const { deadLettering } = chan;
		for (let attempt = 1; ; attempt++) {
			try {
				return await super.subscribe(chan);
			} catch (err) {
				if (!isConsumerNameInUse(err) || attempt === SUBSCRIBE_ATTEMPTS) throw err;
				this.logger.info(
					`Consumer of '${chan.name}' for '${chan.group}' created meanwhile by another node: joining it`,
				);
				chan.deadLettering = deadLettering;
				this.stopChannelActiveMessages(chan.id);
				await new Promise(resolve => setTimeout(resolve, RETRY_DELAY_MS * attempt));
			}
		}
	}
}
