import type { CallingOptions, Context, ServiceBroker } from "moleculer";

/**
 * The actions one actor (or the gateway, or a test) may call on another, by full name, with their params and
 * result. Empty here: each actor's `contract.ts` adds its own actions by declaration merging, so this module never
 * names an actor, and a wrong action name, a missing or misspelt param or a wrong result type fails the type check.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ActionContracts {}

export type ActionName = keyof ActionContracts;
export type ActionParams<N extends ActionName> = ActionContracts[N] extends { params: infer P } ? P : never;
export type ActionResult<N extends ActionName> = ActionContracts[N] extends { result: infer R } ? R : never;

/** Anything that can call an action: a handler's context (keeps meta and the trace) or the broker. */
export type Caller = Pick<Context, "call"> | Pick<ServiceBroker, "call">;

/** `ctx.call` checked against the callee's contract. */
export function call<N extends ActionName>(
	caller: Caller,
	name: N,
	params: ActionParams<N>,
	opts?: CallingOptions,
): Promise<ActionResult<N>> {
	return (caller as Pick<ServiceBroker, "call">).call<ActionResult<N>, ActionParams<N>>(name, params, opts);
}
