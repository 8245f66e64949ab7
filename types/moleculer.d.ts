// Where Moleculer's typings (0.14.36) and @moleculer/channels' (0.1.8) miss what the running code has, said once here.
import type { AccessRule } from "../lib/auth";

declare module "moleculer" {
	interface ActionSchema {
		/** Who may call the action (checked by the gateway and the auth mixin); absent: internal, no user needed. */
		auth?: AccessRule;
	}

	interface ServiceBroker {
		/** Added by the @moleculer/channels middleware, which declares no types for what it adds to the broker. */
		sendToChannel(
			channelName: string,
			payload: unknown,
			opts?: { ctx?: Context; headers?: Record<string, string> },
		): Promise<void>;
		channelAdapter?: { stopping?: boolean };
		/** Opens the moleculer-repl console on this broker (0.14 implements it but does not declare it). */
		repl(): unknown;
	}
}
