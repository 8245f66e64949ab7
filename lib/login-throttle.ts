import type { ServiceBroker } from "moleculer";
import type { Redis } from "ioredis";
import { TooManyRequestsError } from "./errors";

/**
 * Failed logins per key (email + client IP) in a fixed window. In Redis when the broker's cacher is Redis,
 * so every node shares the count; otherwise in this process's memory.
 */
export class LoginThrottle {
	private readonly local = new Map<string, { count: number; resetAt: number }>();

	constructor(private readonly broker: ServiceBroker, private readonly maxFailures: number, private readonly windowMs: number) {}

	private get redis(): Redis | undefined {
		return (this.broker.cacher as unknown as { client?: Redis } | null)?.client;
	}

	private redisKey(key: string): string {
		return `emporium:login-failures:${key}`;
	}

	async assertAllowed(key: string): Promise<void> {
		let count = 0;
		let retryAfterMs = 0;
		if (this.redis) {
			const [c, ttl] = await Promise.all([this.redis.get(this.redisKey(key)), this.redis.pttl(this.redisKey(key))]);
			count = Number(c ?? 0);
			retryAfterMs = ttl;
		} else {
			const entry = this.local.get(key);
			if (entry && entry.resetAt > Date.now()) {
				count = entry.count;
				retryAfterMs = entry.resetAt - Date.now();
			}
		}
		if (count >= this.maxFailures) {
			throw new TooManyRequestsError("Too many failed logins, try again later", Math.max(1, Math.ceil(retryAfterMs / 1000)));
		}
	}

	async recordFailure(key: string): Promise<void> {
		if (this.redis) {
			const k = this.redisKey(key);
			const count = await this.redis.incr(k);
			if (count === 1) await this.redis.pexpire(k, this.windowMs);
			return;
		}
		const now = Date.now();
		const entry = this.local.get(key);
		if (!entry || entry.resetAt <= now) this.local.set(key, { count: 1, resetAt: now + this.windowMs });
		else entry.count++;
	}

	async reset(key: string): Promise<void> {
		if (this.redis) await this.redis.del(this.redisKey(key));
		else this.local.delete(key);
	}
}
