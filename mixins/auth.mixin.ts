import type { Context, ServiceSchema } from "moleculer";
import { checkAccess, type AuthUser } from "../lib/auth";
import { NotFoundError, UnauthorizedError } from "../lib/errors";

type Meta = { user?: AuthUser };

/** What the mixin adds to a service's `this`. */
export interface AuthThis {
	currentUser(ctx: Context<unknown, Meta>): AuthUser;
	isAdmin(ctx: Context<unknown, Meta>): boolean;
	assertOwner(ctx: Context<unknown, Meta>, ownerId: string, what: string): void;
}

/**
 * Enforces each action's `auth` rule ("user" | "admin") with `ctx.meta.user`, whoever calls:
 * the gateway sets the user from the bearer token, a REPL call passes it in `meta`.
 */
export const AuthMixin: Partial<ServiceSchema> = {
	hooks: {
		before: {
			"*"(ctx: Context<unknown, Meta>) {
				checkAccess(ctx.meta.user, ctx.action?.auth);
			},
		},
	},

	methods: {
		currentUser(ctx: Context<unknown, Meta>): AuthUser {
			if (!ctx.meta.user) throw new UnauthorizedError();
			return ctx.meta.user;
		},

		isAdmin(ctx: Context<unknown, Meta>): boolean {
			return ctx.meta.user?.role === "admin";
		},

		/** Another customer's resource is reported missing, never forbidden, so its existence does not leak. */
		assertOwner(ctx: Context<unknown, Meta>, ownerId: string, what: string): void {
			const user = ctx.meta.user;
			if (!user || (user.role !== "admin" && user.id !== ownerId)) throw new NotFoundError(what);
		},
	},
};
