import { describe, expect, it } from "vitest";
import { HashQueue } from "../../../services/users/hash-queue";

/** Issue 18, finding 2: password hashing is bounded work; what cannot wait is refused at once. */
describe("the password hashing queue", () => {
	function gate() {
		let open!: () => void;
		const opened = new Promise<void>(resolve => (open = resolve));
		return { open, opened };
	}

	it("runs at most `concurrency` tasks at once and queues at most `maxQueue` more", async () => {
		const queue = new HashQueue(2, 3);
		const g = gate();
		let running = 0;
		let peak = 0;
		const task = async () => {
			running++;
			peak = Math.max(peak, running);
			await g.opened;
			running--;
			return "done";
		};
		const accepted = Array.from({ length: 5 }, () => queue.run(task));
		const refused = Array.from({ length: 3 }, () => queue.run(task));
		for (const p of refused) await expect(p).rejects.toMatchObject({ code: 503, type: "OVERLOADED" });
		expect(queue.stats()).toEqual({ active: 2, waiting: 3 });
		g.open();
		expect(await Promise.all(accepted)).toEqual(["done", "done", "done", "done", "done"]);
		expect(peak).toBe(2);
		expect(queue.stats()).toEqual({ active: 0, waiting: 0 });
	});

	it("tells the client when to retry", async () => {
		const queue = new HashQueue(1, 0);
		const g = gate();
		const first = queue.run(() => g.opened);
		await expect(queue.run(() => Promise.resolve(1))).rejects.toMatchObject({
			data: { retryAfter: 1 },
			retryable: true,
		});
		g.open();
		await first;
	});

	it("skips a queued task whose deadline passed while it waited, and runs the next one", async () => {
		const queue = new HashQueue(1, 5);
		const g = gate();
		const ran: string[] = [];
		const first = queue.run(async () => {
			await g.opened;
			ran.push("first");
		});
		const stale = queue.run(() => Promise.resolve(void ran.push("stale")), Date.now() + 20);
		const fresh = queue.run(() => Promise.resolve(void ran.push("fresh")), Date.now() + 60_000);
		await new Promise(r => setTimeout(r, 40));
		g.open();
		await first;
		await expect(stale).rejects.toMatchObject({ code: 503, type: "OVERLOADED" });
		await fresh;
		expect(ran).toEqual(["first", "fresh"]);
	});

	it("refuses at once a task whose deadline has already passed", async () => {
		const queue = new HashQueue(1, 5);
		let ran = false;
		await expect(queue.run(() => Promise.resolve(void (ran = true)), Date.now() - 1)).rejects.toMatchObject({
			code: 503,
		});
		expect(ran).toBe(false);
	});

	it("frees its slot when a task fails", async () => {
		const queue = new HashQueue(1, 0);
		await expect(queue.run(() => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
		expect(await queue.run(() => Promise.resolve(42))).toBe(42);
	});
});
