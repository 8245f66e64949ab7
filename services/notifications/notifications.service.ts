import { createHash } from "node:crypto";
import type { Context, Service } from "moleculer";
import { DbMixin, type DbThis } from "../../mixins/db.mixin";
import { AuthMixin, type AuthThis } from "../../mixins/auth.mixin";
import { consume } from "../../mixins/events.mixin";
import { DuplicateKeyError } from "../../lib/errors";
import { call, defineService, params, page, pageSize, pageOf, type Page } from "../../lib/actor";
import type { DomainEvent } from "../../lib/events";
import type { CollectionSpec, Store } from "../../lib/storage";
import { LogSender, describe, type NotificationSender } from "./notification-sender";
import type { Notification, NotifiedType } from "./contract";

const NOTIFICATIONS: CollectionSpec<Notification> = {
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
};

/** Events addressed to the user named in their data; ADMIN_EVENTS go to every admin. */
const USER_EVENTS = [
	"user.registered",
	"order.confirmed",
	"order.failed",
	"order.cancelled",
	"order.shipped",
	"payment.refunded",
	"return.requested",
	"return.received",
	"return.rejected",
] as const satisfies readonly NotifiedType[];
const ADMIN_EVENTS: readonly NotifiedType[] = ["inventory.low", "webhook.disabled"];

interface NotificationsMethods {
	record(event: DomainEvent, userId: string): Promise<void>;
}
interface NotificationsState {
	store: Store<Notification>;
	sender: NotificationSender;
}
type NotificationsThis = Service & DbThis & AuthThis & NotificationsMethods & NotificationsState;

async function notify(this: NotificationsThis, ctx: Context<DomainEvent>): Promise<void> {
	const event = ctx.params;
	const recipients = ADMIN_EVENTS.includes(event.type as NotifiedType)
		? await call(ctx, "users.adminIds", {})
		: [String(event.data.userId)];
	for (const userId of recipients) await this.record(event, userId);
	this.broker.metrics.increment("emporium.events.consumed", { type: event.type, group: this.name });
}

const NotificationsService = defineService<NotificationsThis>({
	name: "notifications",
	mixins: [DbMixin(NOTIFICATIONS), AuthMixin],

	actions: {
		list: {
			auth: "user",
			params: params({ page, pageSize }),
			async handler(
				this: NotificationsThis,
				ctx: Context<{ page?: number; pageSize?: number }>,
			): Promise<Page<Notification>> {
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

	channels: Object.fromEntries(
		[...USER_EVENTS, ...ADMIN_EVENTS].map(type => [type, consume<NotificationsThis>(notify)]),
	),

	methods: {
		/** One notification per event and recipient: the id is derived from both, so a redelivery inserts nothing. */
		async record(this: NotificationsThis, event: DomainEvent, userId: string): Promise<void> {
			const { title, body } = describe(event);
			const notification: Notification = {
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

	created(this: NotificationsThis) {
		this.store = this.storeFor(NOTIFICATIONS);
		this.sender = new LogSender(this.logger);
	},
});

export default NotificationsService;
