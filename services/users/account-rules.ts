// The users actor's input rules: what an email, a password, a name and an address may be (fastest-validator rules).
import { plainText } from "../../lib/actor";
import type { UserRecord, User } from "./contract";

export const email = plainText({ type: "email", normalize: true, max: 254 } as const);
export const password = { type: "string", min: 8, max: 200 } as const;
export const loginPassword = { type: "string", min: 1, max: 200 } as const;
export const name = plainText({ type: "string", min: 1, max: 100, trim: true } as const);
export const address = {
	type: "object",
	optional: true,
	nullable: true,
	strict: "remove",
	props: {
		line1: plainText({ type: "string", max: 200, trim: true } as const),
		line2: plainText({ type: "string", max: 200, trim: true, optional: true } as const),
		city: plainText({ type: "string", max: 100, trim: true } as const),
		postalCode: plainText({ type: "string", max: 20, trim: true } as const),
		country: plainText({ type: "string", max: 56, trim: true } as const),
	},
} as const;

/** The public view: the password hash never leaves the service. */
export function toUser({ passwordHash: _hash, ...user }: UserRecord): User {
	return user;
}
