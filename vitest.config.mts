import { configDefaults, defineConfig } from "vitest/config";

export default defineConfig({
	test: {
		include: ["test/**/*.test.ts"],
		// The Compose stack runs apart: `npm run test:compose` (test/compose/vitest.config.mts), called by .ci/run.
		exclude: [...configDefaults.exclude, "test/compose/**"],
		testTimeout: 60_000,
		hookTimeout: 90_000,
		// Integration files start brokers, servers and processes: run files one at a time on these 2-core machines.
		fileParallelism: false,
		pool: "forks",
		reporters: ["verbose"],
	},
});
