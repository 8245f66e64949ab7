import { AsyncLocalStorage } from "node:async_hooks";
import type { Context, Middleware, Service, ServiceBroker } from "moleculer";

/**
 * The Moleculer context of the handler that is running, kept across `await`s, so that code which is not handed
 * the context (the JSON logger, above all) still knows the request it works for.
 */
const storage = new AsyncLocalStorage<Context>();

export function currentContext(): Context | undefined {
	return storage.getStore();
}

/** Runs `fn` (and whatever it schedules) outside any request: for work shared by many requests, such as a relay. */
export function outsideRequest<T>(fn: () => T): T {
	return storage.exit(fn);
}

type Handler = (ctx: Context, ...rest: unknown[]) => Promise<unknown>;

/**
 * With `keepContext`, runs every local action, event and channel handler inside its context; only the JSON logger
 * reads it, and async context tracking costs a little on every call, so it is off with the console logger.
 * It always gives channel contexts their service: @moleculer/channels creates them without one, which leaves
 * their trace spans without a service name. Register it after the channels' Tracing middleware, so that the
 * channel span starts with the service set.
 */
export function RequestContextMiddleware(keepContext: boolean): Middleware {
	let broker: ServiceBroker;
	const within = (ctx: Context, run: () => Promise<unknown>) => (keepContext ? storage.run(ctx, run) : run());
	return {
		name: "RequestContext",
		created(b: ServiceBroker) {
			broker = b;
		},
		localAction(handler: Handler) {
			return keepContext ? (ctx: Context) => within(ctx, () => handler(ctx)) : handler;
		},
		localEvent(handler: Handler) {
			return keepContext ? (ctx: Context) => within(ctx, () => handler(ctx)) : handler;
		},
		localChannel(handler: Handler, chan: { context?: boolean; group: string }) {
			if (!chan.context) return handler;
			let service: Service | undefined;
			return (ctx: Context, ...rest: unknown[]) => {
				// Consumer groups are named after their service (the channels default), so the group finds it.
				service ??= broker.getLocalService(chan.group) as Service | undefined;
				if (!ctx.service && service) (ctx as { service: Service }).service = service;
				return within(ctx, () => handler(ctx, ...rest));
			};
		},
	} as unknown as Middleware;
}
