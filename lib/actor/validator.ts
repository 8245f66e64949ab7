import { Validators } from "moleculer";

/** A compiled check: `true`, or the issues found (a promise of either for async schemas). */
type Check = ((params: unknown, opts?: unknown) => unknown) & { async?: boolean };

/** What the check reports for a value it could not even describe. */
const UNDESCRIBABLE = [
	{ type: "invalid", message: "A value of the parameters cannot be checked (an object with a non-function toString?)" },
];

const describeFailure = (err: unknown) => {
	if (err instanceof TypeError) return UNDESCRIBABLE;
	throw err;
};

/**
 * fastest-validator 1.x throws a TypeError instead of reporting the field when its message quotes a value holding an
 * object whose `toString` is not a function (a client's JSON `{"sku": [{"toString": "x"}]}`): a 500 for a client's
 * mistake. Every check compiled here answers such params as invalid (422 `VALIDATION_ERROR`) instead.
 */
export class GuardedValidator extends Validators.Fastest {
	compile(schema: Record<string, unknown>): Check {
		const check = super.compile(schema) as Check;
		const guarded: Check = (params, opts) => {
			try {
				const result = check(params, opts);
				return check.async ? (result as Promise<unknown>).catch(describeFailure) : result;
			} catch (err) {
				return describeFailure(err);
			}
		};
		guarded.async = check.async;
		return guarded;
	}
}
