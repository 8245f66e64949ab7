// The users actor's contract: its entity, the actions other actors and the gateway call and the events it publishes.
import type { AuthUser, Role } from "../../lib/auth";
import type { CollectionSpec, Doc } from "../../lib/storage";

export interface Address {
	line1: string;
	line2?: string;
	city: string;
	postalCode: string;
	country: string;
}

/** A user as stored; the password hash never leaves the users actor. */
export interface UserRecord extends Doc {
	email: string;
	name: string;
	role: Role;
	passwordHash: string;
	address: Address | null;
	createdAt: string;
	updatedAt: string;
}
/** The users collection: a column for every field of UserRecord. */
export const USERS: CollectionSpec<UserRecord> = {
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

/** What clients and other actors see of a user. */
export type User = Omit<UserRecord, "passwordHash">;

declare module "../../lib/actor" {
	interface ActionContracts {
		/** The signed-in user behind a token's subject; null when the account no longer exists. */
		"users.principal": { params: { id: string }; result: AuthUser | null };
		/** Ids of every admin, for notifications addressed to staff. */
		"users.adminIds": { params: Record<string, never>; result: string[] };
	}
}

declare module "../../lib/events" {
	interface EventPayloads {
		"user.registered": { userId: string; email: string; name: string };
	}
}
