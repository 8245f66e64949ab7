// Domain events: the catalogue of types and payload envelope, and the @moleculer/channels bus they travel on.
// Knows no actor's rules and no store: the outbox that writes events with their change is mixins/events.mixin.ts.

export * from "./catalog";
export * from "./channels";
export * from "./delivery";
export * from "./in-process-bus";
export * from "./kafka-topics";
