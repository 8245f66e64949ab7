import type { Context } from "moleculer";
import { OverloadedError } from "../../lib/errors";

interface Waiting {
	start(): void;
	refuse(err: Error): void;
	deadline: number;
}

/**
 * Password hashing (scrypt: ~60 ms of CPU and 16 MB each) as bounded work: at most `concurrency` hashes at once and
 * `maxQueue` waiting. A request beyond that is refused at once (503 OVERLOADED, Retry-After), so a flood of logins
 * cannot make a real user wait seconds, and work whose request has already timed out is dropped unstarted.
 */
export class HashQueue {
	private active = 0;
	private readonly waiting: Waiting[] = [];

	constructor(
		private readonly concurrency: number,
		private readonly maxQueue: number,
	) {}

	/** Runs `task` when a slot is free, unless `deadline` (epoch ms) has passed by then. */
	run<T>(task: () => Promise<T>, deadline = Infinity): Promise<T> {
		if (Date.now() >= deadline) return Promise.reject(expired());
		if (this.active < this.concurrency) return this.execute(task);
		if (this.waiting.length >= this.maxQueue)
			return Promise.reject(new OverloadedError("Too many logins and registrations at once, try again shortly"));
		return new Promise<T>((resolve, reject) => {
			this.waiting.push({
				deadline,
				start: () => void this.execute(task).then(resolve, reject),
				refuse: reject,
			});
		});
	}

	stats(): { active: number; waiting: number } {
		return { active: this.active, waiting: this.waiting.length };
	}

	private async execute<T>(task: () => Promise<T>): Promise<T> {
		this.active++;
		try {
			return await task();
		} finally {
			this.active--;
			this.next();
		}
	}

	private next(): void {
		for (let item = this.waiting.shift(); item; item = this.waiting.shift()) {
			if (Date.now() < item.deadline) return item.start();
			item.refuse(expired());
		}
	}
}

function expired(): OverloadedError {
	return new OverloadedError("The request timed out while waiting for a password check");
}

/** When the caller stops waiting for `ctx` (Moleculer's distributed timeout), in epoch ms; Infinity without one. */
export function deadlineOf(ctx: Context): number {
	const timeout = ctx.options?.timeout;
	const started = (ctx as Context & { startHrTime?: [number, number] }).startHrTime;
	if (!timeout || timeout <= 0) return Infinity;
	if (!started) return Date.now() + timeout;
	const [s, ns] = process.hrtime(started);
	return Date.now() + timeout - (s * 1000 + ns / 1e6);
}
