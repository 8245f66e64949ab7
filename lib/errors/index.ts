// The error types every actor throws (HTTP code + UPPER_SNAKE type) and their one JSON shape over HTTP.
// Knows no actor, store or transport.

export * from "./errors";
export * from "./http-errors";
