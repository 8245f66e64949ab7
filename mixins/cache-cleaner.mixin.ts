import type { Context, Service, ServiceSchema } from "moleculer";

/** What the mixin adds to a service's `this`. */
export interface CacheCleanerThis {
	cleanCache(): Promise<void>;
}

/**
 * Clears this service's cached action results on every node when its data changes.
 * With a shared Redis cacher one clean would do; a memory cacher per node needs the broadcast.
 */
export const CacheCleanerMixin: Partial<ServiceSchema> = {
	events: {
		"cache.clean.*": {
			async handler(this: Service, ctx: Context) {
				if (ctx.eventName === `cache.clean.${this.name}`) await this.broker.cacher?.clean(`${this.name}.**`);
			},
		},
	},

	methods: {
		async cleanCache(this: Service): Promise<void> {
			await this.broker.cacher?.clean(`${this.name}.**`);
			await this.broker.broadcast(`cache.clean.${this.name}`);
		},
	},
};
