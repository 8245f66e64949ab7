// The users actor's contract: the actions other actors and the gateway call and the events it publishes.
import type { AuthUser } from "../../lib/auth";

declare module "../../lib/actor" {
	interface ActionContracts {
		/** The signed-in user behind a token's subject; null when the account no longer exists. */
		"users.principal": { params: { id: string }; result: AuthUser | null };
		/** Ids of every admin, for notifications addressed to staff. */
		"users.adminIds": { params: Record<string, never>; result: string[] };
	}
}
