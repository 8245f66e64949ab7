import { resolve } from "node:path";
import { defineConfig } from "vite";

// Two single-page apps from one build: the storefront (index.html, served at /) and the admin console
// (admin/index.html, served at /admin). Hashed files land in dist/assets, which the gateway caches for a year.
export default defineConfig({
	root: import.meta.dirname,
	base: "/",
	oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
	build: {
		outDir: "dist",
		emptyOutDir: true,
		rollupOptions: {
			input: {
				shop: resolve(import.meta.dirname, "index.html"),
				admin: resolve(import.meta.dirname, "admin/index.html"),
			},
		},
	},
	server: { proxy: { "/api": "http://127.0.0.1:3000" } },
});
