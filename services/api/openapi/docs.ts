/**
 * `GET /api/openapi.json` and the reference page at `GET /api/docs`: Swagger UI (swagger-ui-dist, a dependency) served
 * from node_modules by the gateway itself, nothing from a CDN, under a Content-Security-Policy that allows only this
 * origin's scripts (the page's settings are a script file too, not inline).
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { ServiceBroker } from "moleculer";
import type { ActionEndpoint } from "moleculer";
import { NotFoundError } from "../../../lib/errors";
import { API_ROUTES } from "../routes";
import { buildOpenApi, type ActionLookup } from "./openapi";
import type { JsonSchema } from "./json-schema";

/** What the gateway sets on its answer for the actions below (moleculer-web reads these from `ctx.meta`). */
export interface FileMeta {
	$responseType?: string;
	$responseHeaders?: Record<string, string>;
}

/**
 * The registry's view of an action: the local endpoint's definition when this node runs the actor (its `params` as
 * written), else another node's, as that node announced it (JSON: a RegExp pattern is lost there, see json-schema.ts).
 */
export function registryActions(broker: ServiceBroker): ActionLookup {
	return name => {
		const endpoints = (broker.registry.actions.get(name)?.endpoints ?? []) as ActionEndpoint[];
		const endpoint = endpoints.find(ep => ep.local) ?? endpoints[0];
		if (!endpoint) return undefined;
		const { params, auth } = endpoint.action as { params?: Record<string, unknown>; auth?: unknown };
		return { params, auth };
	};
}

function packageVersion(): string {
	for (let dir = __dirname; path.dirname(dir) !== dir; dir = path.dirname(dir)) {
		const file = path.join(dir, "package.json");
		if (existsSync(file)) {
			const pkg = JSON.parse(readFileSync(file, "utf8")) as { name?: string; version?: string };
			if (pkg.name === "emporium") return pkg.version ?? "0.0.0";
		}
	}
	return "0.0.0";
}
const VERSION = packageVersion();

/** The document as the registry knows the actions now (actors come and go: it is built per request). */
export function openApiDocument(broker: ServiceBroker): JsonSchema {
	return buildOpenApi(API_ROUTES, registryActions(broker), VERSION);
}

const CSP = [
	"default-src 'none'",
	"script-src 'self'",
	// Swagger UI (React) sets style attributes.
	"style-src 'self' 'unsafe-inline'",
	"img-src 'self' data:",
	"connect-src 'self'",
	"base-uri 'none'",
	"form-action 'none'",
	"frame-ancestors 'none'",
].join("; ");

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Emporium API</title>
<link rel="stylesheet" href="docs/swagger-ui.css">
<link rel="icon" type="image/png" href="docs/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/init.js"></script>
</body>
</html>
`;
/** Relative to the page (`/api/docs`): `/api/openapi.json`. */
const INIT = `window.ui = SwaggerUIBundle({ url: "openapi.json", dom_id: "#swagger-ui", deepLinking: true });\n`;

/** The files the page loads: Swagger UI's own, read once from node_modules, and the settings above. */
const ASSETS: Record<string, { type: string; file?: string; text?: string }> = {
	"swagger-ui.css": { type: "text/css; charset=utf-8", file: "swagger-ui.css" },
	"swagger-ui-bundle.js": { type: "text/javascript; charset=utf-8", file: "swagger-ui-bundle.js" },
	"favicon-32x32.png": { type: "image/png", file: "favicon-32x32.png" },
	"init.js": { type: "text/javascript; charset=utf-8", text: INIT },
};
const loaded = new Map<string, Buffer>();

function assetBytes(name: string): Buffer {
	const asset = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
	if (!asset) throw new NotFoundError("File");
	let bytes = loaded.get(name);
	if (!bytes) {
		const dir = path.dirname(require.resolve("swagger-ui-dist/package.json"));
		bytes = asset.text !== undefined ? Buffer.from(asset.text) : readFileSync(path.join(dir, asset.file ?? name));
		loaded.set(name, bytes);
	}
	return bytes;
}

export function docsPage(meta: FileMeta): string {
	meta.$responseType = "text/html; charset=utf-8";
	meta.$responseHeaders = { "Content-Security-Policy": CSP, "Cache-Control": "no-cache" };
	return PAGE;
}

export function docsAsset(file: string, meta: FileMeta): Buffer {
	const bytes = assetBytes(file);
	meta.$responseType = ASSETS[file].type;
	meta.$responseHeaders = { "Cache-Control": "public, max-age=3600" };
	return bytes;
}
