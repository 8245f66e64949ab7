import type { Context, ServiceSchema } from "moleculer";

/**
 * Clears this service's cached action results on every node when its data changes.
 * With a shared Redis cacher one clean would do; a memory cacher per node needs the broadcast.
 */
export const CacheCleanerMixin: Partial<ServiceSchema> = {
	events: {
		"cache.clean.*": {
			async handler(ctx: Context) {
				if (ctx.eventName === `cache.clean.${this.name}`) await this.broker.cacher?.clean(`${this.name}.**`);
			},
		},
	},

	methods: {
		async cleanCache(): Promise<void> {
			await this.broker.cacher?.clean(`${this.name}.**`);
			this.broker.broadcast(`cache.clean.${this.name}`);
		},
	},
};
