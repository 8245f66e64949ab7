import { defineConfig } from "vitest/config";

export default defineConfig({
	test: {
		include: ["test/**/*.test.ts"],
		testTimeout: 60_000,
		hookTimeout: 90_000,
		// Integration files start brokers, servers and processes: run files one at a time on these 2-core machines.
		fileParallelism: false,
		pool: "forks",
		reporters: ["verbose"],
	},
});
