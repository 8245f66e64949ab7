import type { Context, Service } from "moleculer";
import { DbMixin, type DbThis } from "../../mixins/db.mixin";
import { AuthMixin, type AuthThis } from "../../mixins/auth.mixin";
import { EventsMixin, consume, outboxCollection, type EventsThis } from "../../mixins/events.mixin";
import { defineService, id, page, pageSize, params, type Page } from "../../lib/actor";
import { loadWebhookConfig, type WebhookConfig } from "../../lib/config";
import { DuplicateKeyError, NotFoundError } from "../../lib/errors";
import { DOMAIN_EVENTS, type DomainEvent } from "../../lib/events";
import { outsideRequest } from "../../lib/observability";
import type { Store } from "../../lib/storage";
import { pageFrom, type Paging } from "./paging";
import { DELIVERIES, EPOCH, WEBHOOKS, deliveryView, newDelivery, newWebhook, subscribes, view } from "./contract";
import { description, events, url } from "./contract";
import type { Delivery, DeliveryView, Webhook, WebhookFields, WebhookView, WebhookWithSecret } from "./contract";
import { DELIVERY_STATUSES, afterAttempt, isSuccess, redeliver, shouldDisable } from "./delivery-state";
import { deliveryHeaders, postWebhook } from "./sender";
import { newSecret } from "./signature";
import { assertUrl } from "./url-policy";

interface WebhooksMethods {
	load(id: string): Promise<Webhook>;
	pollDue(): void;
	pumpAll(hookIds: string[]): void;
	pump(webhookId: string): Promise<void>;
	attempt(hook: Webhook, d: Delivery, lease: string): Promise<void>;
	recordHealth(hook: Webhook, ok: boolean): Promise<void>;
}
interface WebhooksState {
	hooks: Store<Webhook>;
	deliveries: Store<Delivery>;
	cfg: WebhookConfig;
	pumping: Map<string, Promise<void>>;
	pollTimer?: NodeJS.Timeout;
	stopping: boolean;
}
type WebhooksThis = Service & DbThis & EventsThis & AuthThis & WebhooksMethods & WebhooksState;
type Meta = { $statusCode?: number };

/** One delivery per subscribed active webhook; its id derives from webhook and event, so a redelivery adds none. */
async function enqueue(this: WebhooksThis, ctx: Context<DomainEvent>): Promise<void> {
	const event = ctx.params;
	const now = Date.now();
	const subscribed = (await this.hooks.find({ active: true })).filter(hook => subscribes(hook, event.type));
	for (const hook of subscribed) {
		await this.deliveries.insert(newDelivery(hook.id, event, now)).catch(err => {
			if (!(err instanceof DuplicateKeyError)) throw err;
		});
	}
	this.broker.metrics.increment("emporium.events.consumed", { type: event.type, group: this.name });
	// Only these webhooks got a delivery; the others' are left to the poll timer.
	this.pumpAll(subscribed.map(hook => hook.id));
}

export default defineService<WebhooksThis>({
	name: "webhooks",
	mixins: [DbMixin(WEBHOOKS, DELIVERIES, outboxCollection("webhooks")), EventsMixin, AuthMixin],

	actions: {
		create: {
			auth: "admin",
			params: params({ url, events, description, active: { type: "boolean", optional: true } }),
			async handler(this: WebhooksThis, ctx: Context<WebhookFields, Meta>): Promise<WebhookWithSecret> {
				assertUrl(ctx.params.url, this.cfg.allowPrivate);
				const hook = newWebhook(ctx.params, newSecret(), Date.now());
				await this.hooks.insert(hook);
				ctx.meta.$statusCode = 201;
				return hook;
			},
		},
		list: {
			auth: "admin",
			params: params({ page, pageSize }),
			async handler(this: WebhooksThis, ctx: Context<Paging>): Promise<Page<WebhookView>> {
				const found = await pageFrom(this.hooks, {}, ["createdAt", "id"], ctx.params);
				return { ...found, rows: found.rows.map(view) };
			},
		},
		get: {
			auth: "admin",
			params: params({ id }),
			async handler(this: WebhooksThis, ctx: Context<{ id: string }>): Promise<WebhookView> {
				return view(await this.load(ctx.params.id));
			},
		},
		update: {
			auth: "admin",
			params: params({
				...{ id, url: { ...url, optional: true }, events: { ...events, optional: true }, description },
				active: { type: "boolean", optional: true },
			}),
			async handler(this: WebhooksThis, ctx: Context<{ id: string } & Partial<WebhookFields>>): Promise<WebhookView> {
				const { id: hookId, ...change } = ctx.params;
				if (change.url !== undefined) assertUrl(change.url, this.cfg.allowPrivate);
				// Re-activating starts the failure clock again.
				const reset = change.active === true ? { failingSince: null } : {};
				const set = { ...change, ...reset, updatedAt: new Date().toISOString() };
				if (!(await this.hooks.update({ id: hookId }, { set }))) throw new NotFoundError("Webhook");
				return view(await this.load(hookId));
			},
		},
		remove: {
			auth: "admin",
			params: params({ id }),
			async handler(this: WebhooksThis, ctx: Context<{ id: string }>): Promise<{ id: string; removed: true }> {
				if (!(await this.hooks.remove({ id: ctx.params.id }))) throw new NotFoundError("Webhook");
				await this.deliveries.remove({ webhookId: ctx.params.id });
				return { id: ctx.params.id, removed: true };
			},
		},
		rotateSecret: {
			auth: "admin",
			params: params({ id }),
			async handler(this: WebhooksThis, ctx: Context<{ id: string }>): Promise<WebhookWithSecret> {
				const secret = newSecret();
				const set = { secret, updatedAt: new Date().toISOString() };
				if (!(await this.hooks.update({ id: ctx.params.id }, { set }))) throw new NotFoundError("Webhook");
				return { ...(await this.load(ctx.params.id)), secret };
			},
		},
		deliveries: {
			auth: "admin",
			params: params({ id, status: { type: "enum", values: DELIVERY_STATUSES, optional: true }, page, pageSize }),
			async handler(
				this: WebhooksThis,
				ctx: Context<{ id: string; status?: Delivery["status"] } & Paging>,
			): Promise<Page<DeliveryView>> {
				const { id: webhookId, status } = ctx.params;
				await this.load(webhookId);
				const where = status ? { webhookId, status } : { webhookId };
				const found = await pageFrom(this.deliveries, where, ["-occurredAt", "-createdAt", "id"], ctx.params);
				return { ...found, rows: found.rows.map(deliveryView) };
			},
		},
		redeliver: {
			auth: "admin",
			params: params({ id, deliveryId: id }),
			async handler(this: WebhooksThis, ctx: Context<{ id: string; deliveryId: string }>): Promise<DeliveryView> {
				const d = await this.deliveries.findOne({ id: ctx.params.deliveryId, webhookId: ctx.params.id });
				if (!d) throw new NotFoundError("Delivery");
				const next = { ...redeliver(d, Date.now()), claimedUntil: EPOCH, updatedAt: new Date().toISOString() };
				// Compare-and-set on the status read: a concurrent redelivery or attempt makes this one a no-op.
				await this.deliveries.update({ id: d.id, status: d.status }, { set: next });
				this.pollDue();
				return deliveryView({ ...d, ...next });
			},
		},
	},

	channels: Object.fromEntries(DOMAIN_EVENTS.map(type => [type, consume<WebhooksThis>(enqueue)])),

	methods: {
		async load(this: WebhooksThis, hookId: string): Promise<Webhook> {
			const hook = await this.hooks.findOne({ id: hookId });
			if (!hook) throw new NotFoundError("Webhook");
			return hook;
		},

		/** Starts a sender for every active webhook this node is not already sending to. */
		pollDue(this: WebhooksThis) {
			if (this.stopping) return;
			outsideRequest(
				() =>
					void this.hooks.find({ active: true }).then(
						hooks => this.pumpAll(hooks.map(hook => hook.id)),
						(err: Error) => this.logger.warn(`Polling webhook deliveries failed: ${err.message}`),
					),
			);
		},

		/** Starts a sender for each of these webhooks this node is not already sending to. */
		pumpAll(this: WebhooksThis, hookIds: string[]) {
			for (const hookId of hookIds) {
				if (this.stopping || this.pumping.has(hookId)) continue;
				const run = outsideRequest(() => this.pump(hookId))
					.catch((err: Error) => this.logger.warn(`Webhook ${hookId} sender failed: ${err.message}`))
					.finally(() => this.pumping.delete(hookId));
				this.pumping.set(hookId, run);
			}
		},

		/**
		 * Sends one webhook's deliveries one at a time, oldest event first: only the oldest PENDING one (the head) is
		 * sent, once it is due and nobody holds it. A failing head holds back the later ones until it succeeds or fails
		 * for good; a node holding the head (lease) keeps every other node off this webhook.
		 */
		async pump(this: WebhooksThis, hookId: string): Promise<void> {
			while (!this.stopping) {
				const hook = await this.hooks.findOne({ id: hookId, active: true });
				const [head] = await this.deliveries.find(
					{ webhookId: hookId, status: "PENDING" },
					{ sort: ["occurredAt", "createdAt", "id"], limit: 1 },
				);
				const now = new Date().toISOString();
				if (!hook || !head || head.claimedUntil > now || (head.nextAttemptAt ?? now) > now) return;
				const lease = new Date(Date.now() + this.cfg.timeoutMs + 10_000).toISOString();
				const claim = { id: head.id, status: "PENDING", claimedUntil: head.claimedUntil } as const;
				const held = { claimedUntil: lease, claimedBy: this.broker.nodeID };
				if (!(await this.deliveries.update(claim, { set: held }))) return;
				await this.attempt(hook, head, lease);
			}
		},

		async attempt(this: WebhooksThis, hook: Webhook, d: Delivery, lease: string): Promise<void> {
			const { timeoutMs, allowPrivate, retryBaseMs: baseMs, retryMaxMs: maxMs, maxAttempts } = this.cfg;
			const headers = deliveryHeaders(d, hook.secret, Date.now());
			const outcome = await postWebhook({ url: hook.url, headers, body: d.body, timeoutMs, allowPrivate });
			const next = afterAttempt(d, outcome, { baseMs, maxMs, maxAttempts }, Date.now(), Math.random());
			const set = { ...next, claimedUntil: EPOCH, updatedAt: new Date().toISOString() };
			// Only while this node's lease holds: a node that lost it (too slow) records nothing over the new holder.
			if (!(await this.deliveries.update({ id: d.id, claimedUntil: lease }, { set })))
				this.logger.warn(`Delivery ${d.id}: lease lost before its outcome was recorded`, { webhookId: hook.id });
			if (next.status !== "SUCCEEDED")
				this.logger.info(`Delivery ${d.id} failed (${next.lastError})`, { webhookId: hook.id, status: next.status });
			await this.recordHealth(hook, isSuccess(outcome));
		},

		/** Clears the failure clock on a success; disables the webhook (once, and tells admins) past the limit. */
		async recordHealth(this: WebhooksThis, hook: Webhook, ok: boolean): Promise<void> {
			const current = await this.hooks.findOne({ id: hook.id });
			const since = current?.failingSince ?? null;
			if (!current || (ok && !since)) return;
			const now = new Date().toISOString();
			if (ok || !since) {
				await this.hooks.update({ id: hook.id, failingSince: since }, { set: { failingSince: ok ? null : now } });
				return;
			}
			if (!shouldDisable(since, Date.now(), this.cfg.disableAfterHours)) return;
			if (!(await this.hooks.update({ id: hook.id, active: true }, { set: { active: false, updatedAt: now } }))) return;
			this.logger.warn(`Webhook ${hook.id} disabled: failing since ${since}`, { webhookId: hook.id });
			const data = { webhookId: hook.id, url: hook.url, failingSince: since };
			await this.publishEvent(null, "webhook.disabled", data, { id: `${hook.id}:disabled:${since}` });
		},
	},

	created(this: WebhooksThis) {
		this.hooks = this.storeFor(WEBHOOKS);
		this.deliveries = this.storeFor(DELIVERIES);
		this.cfg = loadWebhookConfig();
		this.pumping = new Map();
		this.stopping = false;
	},
	started(this: WebhooksThis) {
		this.pollTimer = setInterval(() => this.pollDue(), this.cfg.pollMs);
	},
	async stopped(this: WebhooksThis) {
		this.stopping = true;
		clearInterval(this.pollTimer);
		await Promise.allSettled([...this.pumping.values()]);
	},
});
