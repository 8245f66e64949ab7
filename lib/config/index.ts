// The typed configuration read from the environment (and *_FILE secrets), with its development defaults, and the
// rules a production secret must pass. Reads process.env and nothing else; knows the actors' names only to pick each
// one's database URI.

export * from "./config";
export * from "./secrets";
export * from "./http-server";
