import { ForbiddenError, UnauthorizedError } from "../errors";

export type Role = "customer" | "admin";
/** What an action requires of its caller: any signed-in user, or an admin. */
export type AccessRule = "user" | "admin";

export interface AuthUser {
	id: string;
	email: string;
	name: string;
	role: Role;
}

/** One rule for HTTP (the gateway's authorize step) and REPL/internal calls (the auth mixin's hook). */
export function checkAccess(user: AuthUser | null | undefined, rule: AccessRule | undefined): void {
	if (!rule) return;
	if (!user) throw new UnauthorizedError();
	if (rule === "admin" && user.role !== "admin") throw new ForbiddenError("Admin role required");
}
