// The typed configuration read from the environment (and *_FILE secrets), with its development defaults.
// Reads process.env and nothing else; knows the actors' names only to pick each one's database URI.

export * from "./config";
