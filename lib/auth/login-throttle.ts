import type { ServiceBroker } from "moleculer";
import type { Redis } from "ioredis";
import { TooManyRequestsError } from "../errors";

/**
 * Attempts per key in a fixed window. In Redis when the broker's cacher is Redis, so every node shares the count;
 * otherwise in this process's memory. The users actor keeps three: failed logins per email + client address (a
 * successful login clears it), login attempts per client address and registrations per client address.
 * An attempt is counted before its password is checked, so guesses sent in parallel cannot all get under the
 * limit before the first failure is recorded.
 */
export class LoginThrottle {
	private readonly local = new Map<string, { count: number; resetAt: number }>();
	/** Expired memory entries are swept when the map has doubled since the last sweep (amortised, bounded). */
	private sweepAt = 1000;

	/** `scope` names the count in Redis; `message` is what the 429 says. */
	constructor(
		private readonly broker: ServiceBroker,
		private readonly maxFailures: number,
		private readonly windowMs: number,
		private readonly scope = "login-failures",
		private readonly message = "Too many failed logins, try again later",
	) {}

	private get redis(): Redis | undefined {
		return (this.broker.cacher as unknown as { client?: Redis } | null)?.client;
	}

	private redisKey(key: string): string {
		return `emporium:${this.broker.namespace || "-"}:${this.scope}:${key}`;
	}

	/** Counts one attempt; throws 429 (with the seconds until the window ends) once the limit is used up. */
	async attempt(key: string): Promise<void> {
		const { count, retryAfterMs } = await this.count(key);
		if (count > this.maxFailures) {
			throw new TooManyRequestsError(this.message, Math.max(1, Math.ceil(retryAfterMs / 1000)));
		}
	}

	/** Counts one attempt and says how many the window holds so far and when it ends (the gateway's rate limits). */
	count(key: string): Promise<{ count: number; retryAfterMs: number }> {
		return this.redis ? this.countInRedis(this.redisKey(key)) : Promise.resolve(this.countInMemory(key));
	}

	async reset(key: string): Promise<void> {
		if (this.redis) await this.redis.del(this.redisKey(key));
		else this.local.delete(key);
	}

	private async countInRedis(k: string): Promise<{ count: number; retryAfterMs: number }> {
		// One transaction: the first attempt opens the window (SET NX PX), so a key never lives without an expiry.
		const replies = await this.redis!.multi().set(k, "0", "PX", this.windowMs, "NX").incr(k).pttl(k).exec();
		const failed = replies?.find(([err]) => err);
		if (!replies || failed) throw failed?.[0] ?? new Error("Redis transaction aborted");
		return { count: Number(replies[1][1]), retryAfterMs: Number(replies[2][1]) };
	}

	private countInMemory(key: string): { count: number; retryAfterMs: number } {
		const now = Date.now();
		let entry = this.local.get(key);
		if (!entry || entry.resetAt <= now) {
			if (this.local.size >= this.sweepAt) {
				for (const [k, e] of this.local) if (e.resetAt <= now) this.local.delete(k);
				this.sweepAt = Math.max(1000, this.local.size * 2);
			}
			entry = { count: 0, resetAt: now + this.windowMs };
			this.local.set(key, entry);
		}
		entry.count++;
		return { count: entry.count, retryAfterMs: entry.resetAt - now };
	}
}
