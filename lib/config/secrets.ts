// What a production node accepts as a secret: pure rules, no environment access (config.ts reads the variables).

export const DEV_JWT_SECRET = "dev-only-secret-do-not-use-in-production";
export const DEV_ADMIN = { email: "admin@example.com", password: "admin-password" } as const;

/** A JWT secret needs at least this many bytes and this many different characters. */
export const MIN_SECRET_BYTES = 32;
export const MIN_SECRET_DISTINCT_CHARS = 10;
/** An admin password needs at least this many characters and this many different ones. */
export const MIN_ADMIN_PASSWORD_LENGTH = 12;
export const MIN_ADMIN_PASSWORD_DISTINCT_CHARS = 5;

/**
 * Values this repository ships as stand-ins (docker/emporium.env, k8s/secret.yaml, the README, the dev defaults),
 * compared in lower case and trimmed. Anything that says it is a placeholder is refused as well.
 */
const KNOWN_PLACEHOLDERS = new Set(
	[
		DEV_JWT_SECRET,
		DEV_ADMIN.password,
		"change-me-this-is-a-placeholder-jwt-secret-0123456789",
		"change-me-admin-password",
		"change-me-db-password",
		"change-me",
		"changeme",
		"secret",
		"password",
	].map(s => s.toLowerCase()),
);
const PLACEHOLDER_WORDS = /change[-_ ]?me|placeholder|do[-_ ]?not[-_ ]?use/i;

function isPlaceholder(value: string): boolean {
	return KNOWN_PLACEHOLDERS.has(value.trim().toLowerCase()) || PLACEHOLDER_WORDS.test(value);
}

const distinctChars = (value: string) => new Set(value).size;

/**
 * Why `secret` cannot sign production tokens, or undefined when it can. A floor, not a proof of randomness:
 * `openssl rand -hex 32` (64 hex digits) passes; 40 spaces, 32 × `a` or a placeholder do not.
 */
export function jwtSecretProblem(secret: string | undefined): string | undefined {
	if (!secret) return "is not set";
	if (isPlaceholder(secret)) return "is a placeholder";
	if (Buffer.byteLength(secret) < MIN_SECRET_BYTES) return `is shorter than ${MIN_SECRET_BYTES} bytes`;
	if (distinctChars(secret) < MIN_SECRET_DISTINCT_CHARS)
		return `has fewer than ${MIN_SECRET_DISTINCT_CHARS} different characters`;
	return undefined;
}

/** Why `password` cannot protect the production admin account, or undefined when it can. */
export function adminPasswordProblem(password: string): string | undefined {
	if (isPlaceholder(password)) return "is a placeholder or the development default";
	if ([...password].length < MIN_ADMIN_PASSWORD_LENGTH)
		return `is shorter than ${MIN_ADMIN_PASSWORD_LENGTH} characters`;
	if (distinctChars(password) < MIN_ADMIN_PASSWORD_DISTINCT_CHARS)
		return `has fewer than ${MIN_ADMIN_PASSWORD_DISTINCT_CHARS} different characters`;
	return undefined;
}

const UNIT_SECONDS: Record<string, number> = { "": 1, s: 1, m: 60, h: 3600, d: 86400 };

/** `JWT_EXPIRES_IN` in seconds: `3600`, `90s`, `15m`, `1h`, `7d`; undefined for anything else. */
export function durationSeconds(text: string): number | undefined {
	const match = /^([1-9][0-9]{0,8})([smhd]?)$/.exec(text);
	return match ? Number(match[1]) * UNIT_SECONDS[match[2]] : undefined;
}
