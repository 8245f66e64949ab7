import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// `npm run test:compose`: the Docker Compose stack, built and brought up for real (minutes, not seconds).
export default defineConfig({
	test: {
		root: fileURLToPath(new URL("../..", import.meta.url)),
		include: ["test/compose/**/*.test.ts"],
		testTimeout: 600_000,
		hookTimeout: 1_800_000,
		fileParallelism: false,
		pool: "forks",
		reporters: ["verbose"],
	},
});
