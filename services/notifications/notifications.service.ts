import { createHash } from "node:crypto";
import type { Context, ServiceSchema } from "moleculer";
import { DbMixin } from "../../mixins/db.mixin";
import { AuthMixin } from "../../mixins/auth.mixin";
import { consume } from "../../mixins/events.mixin";
import { DuplicateKeyError } from "../../lib/errors";
import { params, page, pageSize, pageOf } from "../../lib/actor";
import type { DomainEvent } from "../../lib/events";
import type { Store } from "../../lib/storage";
import { LogSender, describe, type NotificationSender } from "./notification-sender";

/** Events addressed to the user named in their data; `inventory.low` goes to every admin. */
const USER_EVENTS = [
	"user.registered",
	"order.confirmed",
	"order.failed",
	"order.cancelled",
	"order.shipped",
	"payment.refunded",
] as const;

async function notify(this: any, ctx: Context<DomainEvent>) {
	const event = ctx.params;
	const recipients: string[] = event.type === "inventory.low" ? await ctx.call("users.adminIds") : [event.data.userId];
	for (const userId of recipients) await this.record(event, userId);
	this.broker.metrics.increment("emporium.events.consumed", { type: event.type, group: this.name });
}

const NotificationsService: ServiceSchema = {
	name: "notifications",
	mixins: [
		DbMixin({
			name: "notifications",
			fields: {
				userId: "string",
				eventId: "string",
				type: "string",
				title: "string",
				body: "text",
				data: "json",
				createdAt: "string",
			},
			indexes: ["userId", "createdAt"],
		}),
		AuthMixin,
	],

	actions: {
		list: {
			auth: "user",
			params: params({ page, pageSize }),
			async handler(ctx: Context<{ page?: number; pageSize?: number }>) {
				const { page: p = 1, pageSize: size = 20 } = ctx.params;
				const where = { userId: this.currentUser(ctx).id };
				const [rows, total] = await Promise.all([
					this.store.find(where, { sort: ["-createdAt", "id"], limit: size, offset: (p - 1) * size }),
					this.store.count(where),
				]);
				return pageOf(rows, total, p, size);
			},
		},
	},

	channels: Object.fromEntries([...USER_EVENTS, "inventory.low"].map(type => [type, consume(notify)])),

	methods: {
		/** One notification per event and recipient: the id is derived from both, so a redelivery inserts nothing. */
		async record(event: DomainEvent, userId: string): Promise<void> {
			const { title, body } = describe(event.type, event.data);
			const notification = {
				id: createHash("sha256").update(`${event.id}|${userId}`).digest("hex").slice(0, 32),
				userId,
				eventId: event.id,
				type: event.type,
				title,
				body,
				data: event.data,
				createdAt: new Date().toISOString(),
			};
			try {
				await this.store.insert(notification);
			} catch (err) {
				if (err instanceof DuplicateKeyError) return;
				throw err;
			}
			await this.sender.send(notification);
			this.broker.metrics.increment("emporium.notifications.sent", { type: event.type });
		},
	},

	created() {
		this.store = this.stores.notifications as Store;
		this.sender = new LogSender(this.logger) as NotificationSender;
	},
};

export default NotificationsService;
