import { randomUUID } from "node:crypto";
import type { Context, Service } from "moleculer";
import type { Transaction } from "sequelize";
import { DbMixin, type DbThis } from "../../mixins/db.mixin";
import { EventsMixin, outboxCollection, type EventsThis } from "../../mixins/events.mixin";
import { AuthMixin, type AuthThis } from "../../mixins/auth.mixin";
import { CacheCleanerMixin, type CacheCleanerThis } from "../../mixins/cache-cleaner.mixin";
import { loadAuthConfig, loadConfig, type AppConfig, type AuthConfig } from "../../lib/config";
import { ConflictError, DuplicateKeyError, NotFoundError, UnauthorizedError } from "../../lib/errors";
import { defineService, params, id, page, pageSize, pageOf, type Page } from "../../lib/actor";
import { LoginThrottle, signToken, type AuthUser, type Role } from "../../lib/auth";
import type { Change, CollectionSpec, Store } from "../../lib/storage";
import { DUMMY_HASH, hashPassword, verifyPassword } from "./passwords";
import type { Address, User, UserRecord } from "./contract";

const USERS: CollectionSpec<UserRecord> = {
	name: "users",
	fields: {
		email: "string",
		name: "string",
		role: "string",
		passwordHash: "string",
		address: "json",
		createdAt: "string",
		updatedAt: "string",
	},
	unique: ["email"],
	indexes: ["role"],
};

const email = { type: "email", normalize: true, max: 254 } as const;
const password = { type: "string", min: 8, max: 200 } as const;
const name = { type: "string", min: 1, max: 100, trim: true } as const;
const address = {
	type: "object",
	optional: true,
	nullable: true,
	strict: "remove",
	props: {
		line1: { type: "string", max: 200, trim: true },
		line2: { type: "string", max: 200, trim: true, optional: true },
		city: { type: "string", max: 100, trim: true },
		postalCode: { type: "string", max: 20, trim: true },
		country: { type: "string", max: 56, trim: true },
	},
} as const;

/** The public view: the password hash never leaves the service. */
function toUser({ passwordHash: _hash, ...user }: UserRecord): User {
	return user;
}

interface Credentials {
	email: string;
	password: string;
}
type SignedIn = { token: string; user: User };
type Created = { $statusCode?: number; $location?: string };
/** Writes the event of a new account, in the transaction that stores it. */
type Announce = (user: User, tx?: Transaction) => Promise<unknown>;

interface UsersMethods {
	createUser(input: Credentials & { name: string }, role: Role, announce?: Announce): Promise<User>;
	findUser(userId: string): Promise<User>;
	issueToken(user: User): string;
	ensureAdmin(): Promise<void>;
}
interface UsersState {
	config: AppConfig;
	auth: AuthConfig;
	store: Store<UserRecord>;
	throttle: LoginThrottle;
}
type UsersThis = Service & DbThis & EventsThis & AuthThis & CacheCleanerThis & UsersMethods & UsersState;

const UsersService = defineService<UsersThis>({
	name: "users",
	mixins: [DbMixin(USERS, outboxCollection("users")), EventsMixin, AuthMixin, CacheCleanerMixin],

	actions: {
		register: {
			params: params({ email, password, name }),
			async handler(this: UsersThis, ctx: Context<Credentials & { name: string }, Created>): Promise<SignedIn> {
				const user = await this.createUser(ctx.params, "customer", (created, tx) =>
					this.publishEvent(
						ctx,
						"user.registered",
						{ userId: created.id, email: created.email, name: created.name },
						{ id: `${created.id}:registered`, tx },
					),
				);
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = "/api/users/me";
				return { token: this.issueToken(user), user };
			},
		},

		login: {
			params: params({ email, password: { type: "string", min: 1, max: 200 } }),
			async handler(this: UsersThis, ctx: Context<Credentials, { clientIp?: string }>): Promise<SignedIn> {
				// The gateway puts the client address in meta; a body field could be forged.
				const throttleKey = `${ctx.params.email}|${ctx.meta.clientIp ?? ""}`;
				await this.throttle.attempt(throttleKey);
				const doc = await this.store.findOne({ email: ctx.params.email });
				const ok = await verifyPassword(ctx.params.password, doc?.passwordHash ?? DUMMY_HASH);
				if (!doc || !ok) throw new UnauthorizedError("Invalid email or password", "INVALID_CREDENTIALS");
				await this.throttle.reset(throttleKey);
				const user = toUser(doc);
				return { token: this.issueToken(user), user };
			},
		},

		me: {
			auth: "user",
			params: params({}),
			handler(this: UsersThis, ctx: Context): Promise<User> {
				return this.findUser(this.currentUser(ctx).id);
			},
		},

		updateMe: {
			auth: "user",
			params: params({ name: { ...name, optional: true }, address }),
			async handler(this: UsersThis, ctx: Context<{ name?: string; address?: Address | null }>): Promise<User> {
				const userId = this.currentUser(ctx).id;
				const set: Change<UserRecord>["set"] = { updatedAt: new Date().toISOString() };
				if (ctx.params.name !== undefined) set.name = ctx.params.name;
				if (ctx.params.address !== undefined) set.address = ctx.params.address;
				if (!(await this.store.update({ id: userId }, { set }))) throw new NotFoundError("User");
				await this.cleanCache();
				return this.findUser(userId);
			},
		},

		list: {
			auth: "admin",
			params: params({ page, pageSize, role: { type: "enum", values: ["customer", "admin"], optional: true } }),
			async handler(
				this: UsersThis,
				ctx: Context<{ page?: number; pageSize?: number; role?: Role }>,
			): Promise<Page<User>> {
				const { page: p = 1, pageSize: size = 20, role } = ctx.params;
				const where = role ? { role } : {};
				const [rows, total] = await Promise.all([
					this.store.find(where, { sort: ["createdAt", "id"], limit: size, offset: (p - 1) * size }),
					this.store.count(where),
				]);
				return pageOf(rows.map(toUser), total, p, size);
			},
		},

		/** The gateway's view of a token's subject; cached, and cleared when the user changes or is removed. */
		principal: {
			params: params({ id }),
			cache: { keys: ["id"], ttl: 60 },
			async handler(this: UsersThis, ctx: Context<{ id: string }>): Promise<AuthUser | null> {
				const doc = await this.store.findOne({ id: ctx.params.id });
				return doc ? { id: doc.id, email: doc.email, name: doc.name, role: doc.role } : null;
			},
		},

		/** Ids of every admin, for notifications addressed to staff. */
		adminIds: {
			params: params({}),
			async handler(this: UsersThis): Promise<string[]> {
				return (await this.store.find({ role: "admin" }, { limit: 1000 })).map(d => d.id);
			},
		},

		/** Operator action (REPL): removing a user invalidates its tokens at once. */
		remove: {
			auth: "admin",
			params: params({ id }),
			async handler(this: UsersThis, ctx: Context<{ id: string }>): Promise<{ id: string; removed: true }> {
				if (!(await this.store.remove({ id: ctx.params.id }))) throw new NotFoundError("User");
				await this.cleanCache();
				return { id: ctx.params.id, removed: true };
			},
		},
	},

	methods: {
		async createUser(
			this: UsersThis,
			input: Credentials & { name: string },
			role: Role,
			announce?: Announce,
		): Promise<User> {
			const now = new Date().toISOString();
			const doc: UserRecord = {
				id: randomUUID(),
				email: input.email,
				name: input.name,
				role,
				address: null,
				passwordHash: await hashPassword(input.password),
				createdAt: now,
				updatedAt: now,
			};
			try {
				return await this.store.transaction(async tx => {
					const user = toUser(await this.store.insert(doc, tx));
					await announce?.(user, tx);
					return user;
				});
			} catch (err) {
				if (err instanceof DuplicateKeyError)
					throw new ConflictError("An account with this email already exists", "EMAIL_TAKEN");
				throw err;
			}
		},

		async findUser(this: UsersThis, userId: string): Promise<User> {
			const doc = await this.store.findOne({ id: userId });
			if (!doc) throw new NotFoundError("User");
			return toUser(doc);
		},

		issueToken(this: UsersThis, user: User): string {
			return signToken({ sub: user.id, role: user.role }, this.auth.jwtSecret, this.auth.jwtExpiresIn);
		},

		async ensureAdmin(this: UsersThis): Promise<void> {
			const admin = this.config.admin;
			if (!admin) return;
			if (await this.store.findOne({ email: admin.email.toLowerCase() })) return;
			try {
				await this.createUser(
					{ email: admin.email.toLowerCase(), password: admin.password, name: "Administrator" },
					"admin",
				);
				this.logger.info(`Admin account ${admin.email} created`);
			} catch (err) {
				// Another users node created it first.
				if (!(err instanceof ConflictError)) throw err;
			}
		},
	},

	created(this: UsersThis) {
		this.config = loadConfig();
		this.auth = loadAuthConfig();
		this.store = this.storeFor(USERS);
		this.throttle = new LoginThrottle(this.broker, this.config.loginMaxFailures, this.config.loginWindowMs);
	},

	async started(this: UsersThis) {
		await this.ensureAdmin();
	},
});

export default UsersService;
