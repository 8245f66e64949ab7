// Logs, metrics, traces, readiness and the request context they share.
// Knows no actor's rules or data: actors report through these, never the other way round.

export * from "./logging";
export * from "./metrics";
export * from "./request-metrics";
export * from "./prometheus-reporter";
export * from "./tracing";
export * from "./node-health";
export * from "./request-context";
