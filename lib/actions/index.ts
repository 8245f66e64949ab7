// What every action declares: fastest-validator rules for params, the retry policy of idempotent internal calls,
// and typed calls between actors. Knows no actor by name: each actor's contract.ts adds its actions to ActionContracts.

export * from "./params";
export * from "./retry";
