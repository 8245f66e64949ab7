import { randomUUID } from "node:crypto";
import type { Context, Service } from "moleculer";
import { DbMixin, type DbThis } from "../../mixins/db.mixin";
import { AuthMixin, type AuthThis } from "../../mixins/auth.mixin";
import { ConflictError, DuplicateKeyError, NotFoundError } from "../../lib/errors";
import { auditPage, currency, defineService, IDEMPOTENT_RETRY, id, money, pageOf, params } from "../../lib/actor";
import type { ActionName, ActionParams, ActionResult } from "../../lib/actor";
import type { Store, Where } from "../../lib/storage";
import { PROMOTIONS, type Promotion, type PromotionView } from "./contract";
import {
	buildPromotion,
	changedPromotion,
	createFields,
	listFields,
	normaliseCode,
	updateFields,
} from "./promotion-input";
import {
	discountRuleOf,
	exhausted,
	notApplicable,
	notApplicableReason,
	released,
	unusableReason,
} from "./promotion-rules";
import { PROMOTION_USES, UsesLedger } from "./uses-ledger";

interface PromotionsState {
	promotions: Store<Promotion>;
	ledger: UsesLedger;
}
interface PromotionsMethods {
	load(promotionId: string): Promise<Promotion>;
	byCode(code: string): Promise<Promotion | null>;
	view(promotion: Promotion): Promise<PromotionView>;
	save<T>(work: () => Promise<T>, code: string): Promise<T>;
}
type PromotionsThis = Service & DbThis & AuthThis & PromotionsMethods & PromotionsState;
type Ctx<N extends ActionName> = Context<ActionParams<N>, { $statusCode?: number; $location?: string }>;
type Result<N extends ActionName> = Promise<ActionResult<N>>;

/** A code as another actor passes it: any text (one that was never issued is UNKNOWN), compared upper case. */
const code = { type: "string", min: 1, max: 64, trim: true } as const;

/**
 * Discount codes (README "Money rules"): admins manage them; carts and orders ask whether one applies (`check`); the
 * order saga holds a use of it for an order (`reserve`) and gives it back when the order fails or is cancelled
 * (`release`). The limits live in the uses ledger (uses-ledger.ts), the rules in promotion-rules.ts.
 *
 * Deleting a promotion leaves the uses held: orders keep the code they were priced with, and releasing them still
 * works. A new promotion with the same code starts with no uses.
 */
const PromotionsService = defineService<PromotionsThis>({
	name: "promotions",
	mixins: [DbMixin(PROMOTIONS, PROMOTION_USES), AuthMixin],

	actions: {
		create: {
			auth: "admin",
			params: params(createFields),
			async handler(this: PromotionsThis, ctx: Ctx<"promotions.create">): Result<"promotions.create"> {
				const now = new Date().toISOString();
				const promotion = buildPromotion(ctx.params, randomUUID(), now);
				await this.save(() => this.promotions.insert(promotion), promotion.code);
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = `/api/promotions/${promotion.id}`;
				return { ...promotion, timesUsed: 0 };
			},
		},

		list: {
			auth: "admin",
			params: params(listFields),
			async handler(this: PromotionsThis, ctx: Ctx<"promotions.list">): Result<"promotions.list"> {
				const { page: p = 1, pageSize: size = 20, active, code: wanted } = ctx.params;
				// Only the documented filters become a query; nothing from the client is passed through.
				const where: Where<Promotion> = {};
				if (active !== undefined) where.active = active;
				if (wanted !== undefined) where.code = normaliseCode(wanted);
				const [rows, total] = await Promise.all([
					this.promotions.find(where, { sort: ["code", "id"], limit: size, offset: (p - 1) * size }),
					this.promotions.count(where),
				]);
				return pageOf(await Promise.all(rows.map(row => this.view(row))), total, p, size);
			},
		},

		get: {
			auth: "admin",
			params: params({ id }),
			async handler(this: PromotionsThis, ctx: Ctx<"promotions.get">): Result<"promotions.get"> {
				return this.view(await this.load(ctx.params.id));
			},
		},

		/** Absent fields stay, null clears; lowering a limit under the uses held refuses new uses, nothing more. */
		update: {
			auth: "admin",
			params: params({ id, ...updateFields }),
			async handler(this: PromotionsThis, ctx: Ctx<"promotions.update">): Result<"promotions.update"> {
				const { id: promotionId, ...changes } = ctx.params;
				for (;;) {
					const before = await this.load(promotionId);
					const after = changedPromotion(before, changes, new Date().toISOString());
					const { id: _id, ...fields } = after;
					// Compare-and-set on the version: the fields were checked together, a concurrent change redoes it.
					const version = { id: promotionId, updatedAt: before.updatedAt };
					if (await this.save(() => this.promotions.update(version, { set: fields }), after.code))
						return this.view(after);
				}
			},
		},

		remove: {
			auth: "admin",
			params: params({ id }),
			async handler(this: PromotionsThis, ctx: Ctx<"promotions.remove">): Result<"promotions.remove"> {
				const view = await this.view(await this.load(ctx.params.id));
				if (!(await this.promotions.remove({ id: view.id }))) throw new NotFoundError("Promotion", { id: view.id });
				return view;
			},
		},

		/** Internal: the rule the code applies with, or 422 DISCOUNT_NOT_APPLICABLE with `data.reason`. */
		check: {
			params: params({
				code,
				subtotal: money,
				currency: { ...currency, optional: false },
				userId: { ...id, optional: true },
			}),
			async handler(this: PromotionsThis, ctx: Ctx<"promotions.check">): Result<"promotions.check"> {
				const { subtotal, currency: cur, userId } = ctx.params;
				const promotion = await this.byCode(ctx.params.code);
				const uses = promotion ? await this.ledger.held(promotion, userId) : { total: 0, customer: 0 };
				const reason = notApplicableReason(promotion, { subtotal, currency: cur }, new Date().toISOString(), uses);
				if (reason || !promotion) throw notApplicable(reason ?? "UNKNOWN", { code: normaliseCode(ctx.params.code) });
				return discountRuleOf(promotion);
			},
		},

		/**
		 * Internal, idempotent per order: holds one use of the code, or 409 DISCOUNT_EXHAUSTED (a limit is reached) or
		 * 422 DISCOUNT_NOT_APPLICABLE (unknown, inactive, not started or expired now), each with `data.orderId`.
		 */
		reserve: {
			retryPolicy: IDEMPOTENT_RETRY,
			params: params({ orderId: id, code, userId: id }),
			async handler(this: PromotionsThis, ctx: Ctx<"promotions.reserve">): Result<"promotions.reserve"> {
				const { orderId, userId } = ctx.params;
				const wanted = normaliseCode(ctx.params.code);
				const [promotion, rows] = await Promise.all([this.byCode(wanted), this.ledger.rowsOf(orderId)]);
				if (rows.some(row => row.kind === "RELEASED")) throw released(orderId);
				// A retry is answered with what the order holds, whatever became of the code since.
				const held = rows.find(row => row.kind === "USE");
				if (held?.code === wanted) return { orderId, code: held.code };
				const unusable = unusableReason(promotion, new Date().toISOString());
				if (unusable || !promotion) throw notApplicable(unusable ?? "UNKNOWN", { code: wanted, orderId });
				const refusal =
					(await this.ledger.take(promotion, orderId, userId, rows)) ??
					(await this.ledger.verify(promotion, orderId, userId));
				if (refusal) throw exhausted(refusal, { code: wanted, orderId });
				// Released while this reserve ran (a late call): what it took goes back.
				if (await this.ledger.wasReleased(orderId)) {
					await this.ledger.giveBack(orderId);
					throw released(orderId);
				}
				return { orderId, code: promotion.code };
			},
		},

		/** Internal, idempotent per order: gives back the order's use (`released`: 0 when it held none). */
		release: {
			retryPolicy: IDEMPOTENT_RETRY,
			params: params({ orderId: id }),
			async handler(this: PromotionsThis, ctx: Ctx<"promotions.release">): Result<"promotions.release"> {
				return { orderId: ctx.params.orderId, released: await this.ledger.release(ctx.params.orderId) };
			},
		},

		/** Internal: the uses held, page by page, for the invariant check (`emporium check`). */
		audit: {
			params: params(auditPage),
			handler(this: PromotionsThis, ctx: Ctx<"promotions.audit">): Result<"promotions.audit"> {
				const { offset = 0, limit = 10_000_000 } = ctx.params;
				return this.ledger.audit(offset, limit);
			},
		},
	},

	methods: {
		async load(this: PromotionsThis, promotionId: string): Promise<Promotion> {
			const promotion = await this.promotions.findOne({ id: promotionId });
			if (!promotion) throw new NotFoundError("Promotion", { id: promotionId });
			return promotion;
		},

		byCode(this: PromotionsThis, text: string): Promise<Promotion | null> {
			return this.promotions.findOne({ code: normaliseCode(text) });
		},

		async view(this: PromotionsThis, promotion: Promotion): Promise<PromotionView> {
			return { ...promotion, timesUsed: await this.ledger.timesUsed(promotion.id) };
		},

		/** Runs a write of a promotion; its code taken by another is 409 CODE_TAKEN. */
		async save<T>(this: PromotionsThis, work: () => Promise<T>, promotionCode: string): Promise<T> {
			try {
				return await work();
			} catch (err) {
				if (err instanceof DuplicateKeyError)
					throw new ConflictError("A promotion with this code exists", "CODE_TAKEN", { code: promotionCode });
				throw err;
			}
		},
	},

	created(this: PromotionsThis) {
		this.promotions = this.storeFor(PROMOTIONS);
		this.ledger = new UsesLedger(this.storeFor(PROMOTION_USES));
	},
});

export default PromotionsService;
