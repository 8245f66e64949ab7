// Type-aware rules catch what matters most in saga code (a promise nobody awaits, an async callback where a sync
// one is expected); Prettier owns the layout, so the rules that only concern layout are off.
import eslint from "@eslint/js";
import tseslint from "typescript-eslint";
import prettier from "eslint-config-prettier";

export default tseslint.config(
	{
		ignores: [
			"dist/",
			"web/dist/",
			"test-results/",
			"node_modules/",
			"benchmark/results/",
			"data/",
			"clients/",
			"**/*.js",
			"**/*.mjs",
		],
	},
	eslint.configs.recommended,
	...tseslint.configs.recommendedTypeChecked,
	{
		languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
		rules: {
			"@typescript-eslint/no-floating-promises": "error",
			"@typescript-eslint/no-misused-promises": "error",
			"@typescript-eslint/no-unused-vars": [
				"error",
				{ argsIgnorePattern: "^_", varsIgnorePattern: "^_", ignoreRestSiblings: true },
			],
		},
	},
	{
		// The adapter boundary: moleculer-db's adapters are untyped JavaScript, and only this file touches them.
		files: ["lib/storage/store.ts"],
		rules: {
			"@typescript-eslint/no-explicit-any": "off",
			"@typescript-eslint/no-unsafe-assignment": "off",
			"@typescript-eslint/no-unsafe-call": "off",
			"@typescript-eslint/no-unsafe-member-access": "off",
			"@typescript-eslint/no-unsafe-return": "off",
			"@typescript-eslint/no-unsafe-argument": "off",
		},
	},
	{
		// vitest's asymmetric matchers (expect.any, objectContaining, ...) are typed any on purpose, to fit any slot of an
		// expected object; the other no-unsafe-* rules still flag every use of an any value in tests.
		files: ["test/**"],
		rules: { "@typescript-eslint/no-unsafe-assignment": "off" },
	},
	prettier,
	// After eslint-config-prettier, which turns max-len off: Prettier does not break strings and comments.
	{ rules: { "max-len": ["error", { code: 120, tabWidth: 2, ignoreUrls: true, ignoreRegExpLiterals: true }] } },
);
