import { Cachers, type Context, type Middleware, type ServiceBroker } from "moleculer";

type Handler = (ctx: Context) => Promise<unknown>;
interface CacheOptions {
	enabled?: boolean;
	keys?: string[];
}
/** A remote action as the registry knows it from the node that runs it: its schema without the handler. */
interface RemoteAction {
	name: string;
	cache?: boolean | CacheOptions;
}

function cacheOptions(action: RemoteAction): CacheOptions | null {
	const opts = typeof action.cache === "object" ? action.cache : { enabled: !!action.cache };
	return opts.enabled === false ? null : opts;
}

/**
 * With a shared cacher (Redis), a node calling a cached action of another node reads the cache first, under the key
 * that node's cacher uses, and makes the call only on a miss (the callee then fills the cache): a hit costs one Redis
 * read instead of a call over the transporter and the callee's work. The params are checked here first with the
 * action's own rules, as the callee checks them before its cacher, so a hit answers only what the callee would (an
 * invalid request is refused here with the same 422). `ctx.meta.$cache === false`, a disconnected or failing cacher:
 * the call is made. With the memory cacher each node caches for itself, and calls are left alone.
 */
export function SharedCacheMiddleware(): Middleware {
	return {
		name: "SharedCacheReads",
		remoteAction(this: ServiceBroker, next: Handler, action: RemoteAction): Handler {
			const cacher = this.cacher;
			const opts = cacheOptions(action);
			if (!(cacher instanceof Cachers.Redis) || !opts) return next;
			const read = (ctx: Context<unknown, { $cache?: boolean }>) => {
				if (ctx.meta.$cache === false || !(cacher as { connected?: boolean }).connected) return next(ctx);
				const key = cacher.getCacheKey(action.name, ctx.params as object, ctx.meta, opts.keys ?? null);
				return cacher.get(key).then(
					cached => (cached != null ? cached : next(ctx)),
					() => next(ctx),
				);
			};
			// A broker without a validator (`validator: false`) checks params nowhere, the callee included.
			const validator = this.validator as unknown as { middleware(b: ServiceBroker): Middleware } | undefined;
			if (!validator) return read;
			const validate = validator.middleware(this) as { localAction(h: Handler, a: RemoteAction): Handler };
			return validate.localAction(read, action);
		},
	} as unknown as Middleware;
}
