import { randomUUID } from "node:crypto";
import type { Context, Service } from "moleculer";
import type { Transaction } from "sequelize";
import { DbMixin, type DbThis } from "../../mixins/db.mixin";
import { EventsMixin, outboxCollection, type EventsThis } from "../../mixins/events.mixin";
import { AuthMixin, type AuthThis } from "../../mixins/auth.mixin";
import { CacheCleanerMixin, type CacheCleanerThis } from "../../mixins/cache-cleaner.mixin";
import { loadAdminConfig, loadAuthConfig, loadConfig, type AdminAccount, type AuthConfig } from "../../lib/config";
import { ConflictError, DuplicateKeyError, NotFoundError, UnauthorizedError } from "../../lib/errors";
import { defineService, params, id, page, pageSize, pageOf, type Page } from "../../lib/actor";
import { LoginThrottle, signToken, type AuthUser, type Role } from "../../lib/auth";
import type { Change, Store } from "../../lib/storage";
import { DUMMY_HASH, hashPassword, verifyPassword } from "./passwords";
import { deadlineOf, HashQueue } from "./hash-queue";
import { address, email, loginPassword, name, password, toUser } from "./account-rules";
import { USERS, type Address, type User, type UserRecord } from "./contract";

type Credentials = { email: string; password: string };
type Registration = Credentials & { name: string };
type SignedIn = { token: string; user: User };
type Created = { $statusCode?: number; $location?: string };
/** Writes the event of a new account, in the transaction that stores it. */
type Announce = (user: User, tx?: Transaction) => Promise<unknown>;
/** The gateway puts the client address in meta; a body field could be forged. */
type FromClient = { clientIp?: string };

interface UsersMethods {
	/** `deadline`: when the request gives up (hashing not started by then is dropped). */
	createUser(input: Registration, role: Role, opts?: { deadline?: number; announce?: Announce }): Promise<User>;
	limitAddress(throttle: LoginThrottle, ctx: Context<unknown, FromClient>): Promise<void>;
	findUser(userId: string): Promise<User>;
	issueToken(user: User): string;
	ensureAdmin(): Promise<void>;
}
interface UsersState {
	auth: AuthConfig;
	admin: AdminAccount | null;
	store: Store<UserRecord>;
	/** Failed logins per email + client address; logins and registrations per client address. */
	throttle: LoginThrottle;
	loginsPerAddress: LoginThrottle;
	registrationsPerAddress: LoginThrottle;
	hashing: HashQueue;
}
type UsersThis = Service & DbThis & EventsThis & AuthThis & CacheCleanerThis & UsersMethods & UsersState;

const UsersService = defineService<UsersThis>({
	name: "users",
	mixins: [DbMixin(USERS, outboxCollection("users")), EventsMixin, AuthMixin, CacheCleanerMixin],

	actions: {
		register: {
			params: params({ email, password, name }),
			async handler(this: UsersThis, ctx: Context<Registration, Created & FromClient>): Promise<SignedIn> {
				await this.limitAddress(this.registrationsPerAddress, ctx);
				const user = await this.createUser(ctx.params, "customer", {
					deadline: deadlineOf(ctx),
					announce: (created, tx) =>
						this.publishEvent(
							ctx,
							"user.registered",
							{ userId: created.id, email: created.email, name: created.name },
							{ id: `${created.id}:registered`, tx },
						),
				});
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = "/api/users/me";
				return { token: this.issueToken(user), user };
			},
		},

		login: {
			params: params({ email, password: loginPassword }),
			async handler(this: UsersThis, ctx: Context<Credentials, FromClient>): Promise<SignedIn> {
				await this.limitAddress(this.loginsPerAddress, ctx);
				const throttleKey = `${ctx.params.email}|${ctx.meta.clientIp ?? ""}`;
				await this.throttle.attempt(throttleKey);
				const doc = await this.store.findOne({ email: ctx.params.email });
				const ok = await this.hashing.run(
					() => verifyPassword(ctx.params.password, doc?.passwordHash ?? DUMMY_HASH),
					deadlineOf(ctx),
				);
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
			input: Registration,
			role: Role,
			{ deadline = Infinity, announce }: { deadline?: number; announce?: Announce } = {},
		): Promise<User> {
			const now = new Date().toISOString();
			const doc: UserRecord = {
				id: randomUUID(),
				email: input.email,
				name: input.name,
				role,
				address: null,
				passwordHash: await this.hashing.run(() => hashPassword(input.password), deadline),
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

		/** Counts one attempt from the caller's address (none for internal and REPL calls, which have no address). */
		async limitAddress(this: UsersThis, throttle: LoginThrottle, ctx: Context<unknown, FromClient>): Promise<void> {
			if (ctx.meta.clientIp) await throttle.attempt(ctx.meta.clientIp);
		},

		async findUser(this: UsersThis, userId: string): Promise<User> {
			const doc = await this.store.findOne({ id: userId });
			if (!doc) throw new NotFoundError("User");
			return toUser(doc);
		},

		issueToken(this: UsersThis, user: User): string {
			return signToken({ sub: user.id, role: user.role }, this.auth.jwtSecret, this.auth.tokenTtlSeconds);
		},

		async ensureAdmin(this: UsersThis): Promise<void> {
			const admin = this.admin;
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
		const config = loadConfig();
		this.auth = loadAuthConfig();
		this.admin = loadAdminConfig();
		this.store = this.storeFor(USERS);
		const window = config.loginWindowMs;
		this.throttle = new LoginThrottle(this.broker, config.loginMaxFailures, window);
		const perAddress = (max: number, scope: string, what: string) =>
			new LoginThrottle(this.broker, max, window, scope, `Too many ${what} from this address, try again later`);
		this.loginsPerAddress = perAddress(config.loginMaxPerAddress, "login-address", "logins");
		this.registrationsPerAddress = perAddress(config.registerMaxPerAddress, "register-address", "registrations");
		this.hashing = new HashQueue(config.passwordHashConcurrency, config.passwordHashQueue);
	},

	async started(this: UsersThis) {
		await this.ensureAdmin();
	},
});

export default UsersService;
