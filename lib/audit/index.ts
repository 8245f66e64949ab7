// The shop's stock and money invariants, checked over every actor's internal audit action (tests and the REPL).
// Reads through the broker only: never opens an actor's store or imports an actor's code.

export * from "./invariants";
