// What every actor is built from: schemas typed on the service's `this`, fastest-validator rules for params, the
// retry policy of idempotent internal calls, and typed calls. Names no actor: each contract.ts adds its own actions.

export * from "./params";
export * from "./retry";
export * from "./call";
export * from "./schema";
export * from "./shared-cache";
