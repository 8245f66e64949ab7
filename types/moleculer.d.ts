// Where the typings of Moleculer (0.14.36), moleculer-web (0.10.8) and @moleculer/channels (0.1.8) miss what the
// running code has, said once here.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { CallingOptions, Context } from "moleculer";
import type { AccessRule } from "../lib/auth";

declare module "moleculer" {
	interface ActionSchema {
		/** Who may call the action (checked by the gateway and the auth mixin); absent: internal, no user needed. */
		auth?: AccessRule;
	}

	interface ServiceBroker {
		/** Set by `stop()` once the node has withdrawn its services, while requests still drain (service-broker.js). */
		stopping: boolean;
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

	interface ServiceRegistry {
		/** Declared by the registry's code (registry.js) but missing from the typings. */
		hasService(fullName: string, nodeID?: string): boolean;
	}

	interface EndpointList {
		/** True when some node offering the action can take a call (connected, circuit breaker not open). */
		hasAvailable(): boolean;
	}
}

// moleculer-web 0.10.8 types its settings and route hooks as plain objects and functions, but calls every hook with
// the gateway service as `this`, and types no method its mixin adds to the service.
declare module "moleculer-web" {
	/** The known settings, without the `[k: string]: any` that lets any misspelt setting through. */
	type KnownApiSettings = { [K in keyof ApiSettingsSchema as string extends K ? never : K]: ApiSettingsSchema[K] };

	/** The gateway's settings as moleculer-web reads them. */
	export interface GatewaySettings<This> extends Omit<KnownApiSettings, "rootCallOptions" | "onError" | "routes"> {
		/** Typed as options only; a function is called with the service as `this` to fill in each request's options. */
		rootCallOptions?:
			CallingOptions | ((this: This, options: CallingOptions, req: IncomingMessage, res: ServerResponse) => void);
		onError?: (this: This, req: IncomingRequest, res: ServerResponse, err: Error) => void;
		routes?: GatewayRoute<This>[];
	}

	export interface GatewayRoute<This> extends Omit<ApiRouteSchema, "onBeforeCall" | "onError"> {
		onBeforeCall?: (this: This, ctx: Context, route: Route, req: IncomingRequest, res: GatewayResponse) => void;
		onError?: (this: This, req: IncomingRequest, res: ServerResponse, err: Error) => void;
	}

	/** What the mixin adds to the service's `this` (the part this shop uses). */
	export interface GatewayThis {
		/** Answers with the error through the route's or the settings' `onError`, else moleculer-web's own format. */
		sendError(req: IncomingRequest, res: ServerResponse, err: Error): void;
	}
}
