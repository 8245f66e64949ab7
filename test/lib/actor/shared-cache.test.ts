import { randomBytes } from "node:crypto";
import { Errors, ServiceBroker, type BrokerOptions, type Middleware } from "moleculer";
import { afterAll, beforeAll, expect, it } from "vitest";
import { SharedCacheMiddleware } from "../../../lib/actor/shared-cache";
import { GuardedValidator } from "../../../lib/actor/validator";
import { SERVERS, describeWithServers } from "../../support/servers";

/** Two nodes over the loopback NATS: `caller` calls `catalogue.get`, cached, which runs on `owner`. */
async function pair(cacher: BrokerOptions["cacher"]) {
	const namespace = `sc-${randomBytes(4).toString("hex")}`;
	const options = (nodeID: string): BrokerOptions => ({
		namespace,
		nodeID,
		logger: false,
		transporter: SERVERS.nats.url,
		cacher,
		validator: new GuardedValidator(),
		middlewares: [SharedCacheMiddleware()],
	});
	let arrivals = 0;
	let version = 1;
	// Counts the calls that reach the owner, before its cacher (listed first, the innermost, as in moleculer.config.ts).
	const counted: Middleware = {
		localAction: (next: (ctx: unknown) => Promise<unknown>) => (ctx: unknown) => {
			arrivals++;
			return next(ctx);
		},
	} as Middleware;
	const owner = new ServiceBroker({
		...options("owner"),
		internalMiddlewares: false,
		middlewares: ["Cacher", "Validator", counted] as Middleware[],
	});
	owner.createService({
		name: "catalogue",
		actions: {
			get: {
				params: { $$strict: "remove", id: { type: "string", min: 1, max: 64, trim: true } },
				cache: { keys: ["id"] },
				handler: (ctx: { params: { id: string } }) => ({ id: ctx.params.id, version }),
			},
		},
	});
	const caller = new ServiceBroker(options("caller"));
	await Promise.all([owner.start(), caller.start()]);
	await caller.waitForServices("catalogue");
	return {
		owner,
		caller,
		arrivals: () => arrivals,
		bump: () => version++,
		stop: () => Promise.all([caller.stop(), owner.stop()]),
	};
}

await describeWithServers(["nats", "redis"], "reading a shared cache before calling another node", () => {
	let nodes: Awaited<ReturnType<typeof pair>>;
	beforeAll(async () => {
		nodes = await pair({ type: "Redis", options: { redis: SERVERS.redis.url, prefix: `sc-${Date.now()}`, ttl: 60 } });
	});
	afterAll(() => nodes?.stop());

	it("calls the owner on a miss; a hit is answered from Redis without a call", async () => {
		expect(await nodes.caller.call("catalogue.get", { id: "a" })).toEqual({ id: "a", version: 1 });
		expect(nodes.arrivals()).toBe(1);
		nodes.bump();
		expect(await nodes.caller.call("catalogue.get", { id: "a" })).toEqual({ id: "a", version: 1 });
		expect(nodes.arrivals()).toBe(1);
	});

	it("checks params with the action's rules first: a normalised id's cached key, a 422 for a wrong type", async () => {
		expect(await nodes.caller.call("catalogue.get", { id: "  a ", extra: 1 })).toEqual({ id: "a", version: 1 });
		await nodes.caller.call("catalogue.get", { id: "5" });
		const before = nodes.arrivals();
		const refused = await nodes.caller.call("catalogue.get", { id: 5 }).catch((err: unknown) => err);
		expect(refused).toBeInstanceOf(Errors.ValidationError);
		expect(refused).toMatchObject({ code: 422, data: [expect.objectContaining({ field: "id", type: "string" })] });
		expect(nodes.arrivals()).toBe(before);
	});

	it("calls the owner when the caller asks for no cache, and after the owner cleaned its cache", async () => {
		const before = nodes.arrivals();
		await nodes.caller.call("catalogue.get", { id: "a" }, { meta: { $cache: false } });
		expect(nodes.arrivals()).toBe(before + 1);
		await nodes.owner.cacher!.clean("catalogue.**");
		expect(await nodes.caller.call("catalogue.get", { id: "a" })).toEqual({ id: "a", version: 2 });
		expect(nodes.arrivals()).toBe(before + 2);
	});
});

await describeWithServers(["nats"], "with the memory cacher, each node's own", () => {
	it("leaves calls to other nodes alone", async () => {
		const nodes = await pair({ type: "MemoryLRU", options: { ttl: 60, max: 100 } });
		try {
			await nodes.caller.call("catalogue.get", { id: "a" });
			await nodes.caller.call("catalogue.get", { id: "a" });
			expect(nodes.arrivals()).toBe(2);
		} finally {
			await nodes.stop();
		}
	});
});
