import { createReadStream, statSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join, normalize, sep } from "node:path";

const CONTENT_TYPES: Record<string, string> = {
	".html": "text/html; charset=utf-8",
	".js": "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
	".json": "application/json; charset=utf-8",
	".svg": "image/svg+xml",
	".png": "image/png",
	".ico": "image/x-icon",
	".woff2": "font/woff2",
	".txt": "text/plain; charset=utf-8",
	".map": "application/json; charset=utf-8",
};

/** Paths the gateway's routes own; the web apps never answer them. */
const API_PREFIXES = ["/api/", "/health/"];

/** The single-page apps: a client route under `prefix` that is not a file gets the app's index.html. */
const APPS = [
	{ prefix: "/admin", index: "admin/index.html" },
	{ prefix: "/", index: "index.html" },
];

function fileAt(root: string, relative: string): string | undefined {
	const path = normalize(join(root, relative));
	// normalize() resolves "..": anything that lands outside the root is refused, not served.
	if (path !== root && !path.startsWith(root + sep)) return undefined;
	try {
		return statSync(path).isFile() ? path : undefined;
	} catch {
		return undefined;
	}
}

/** The apps load only their own files and call only this origin's API. */
const CSP = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'";

function send(req: IncomingMessage, res: ServerResponse, path: string, cacheControl: string): void {
	const type = extname(path);
	res.setHeader("Content-Type", CONTENT_TYPES[type] ?? "application/octet-stream");
	if (type === ".html") {
		res.setHeader("Content-Security-Policy", CSP);
		res.setHeader("Referrer-Policy", "same-origin");
	}
	res.setHeader("Cache-Control", cacheControl);
	res.setHeader("Content-Length", statSync(path).size);
	res.writeHead(200);
	if (req.method === "HEAD") {
		res.end();
		return;
	}
	createReadStream(path)
		.on("error", () => res.destroy())
		.pipe(res);
}

/**
 * Serves the built storefront and admin console (Vite's output) from `root`: files as they are, Vite's hashed
 * `assets/` for a year (their names change with their content), anything else revalidated, and the app's index.html
 * for a client route (a path without an extension). Returns false for what it does not answer (API routes, other
 * methods, a missing file), which the gateway then answers as usual.
 */
export function staticFiles(root: string | undefined): (req: IncomingMessage, res: ServerResponse) => boolean {
	const base = root ? normalize(root) : undefined;
	return (req, res) => {
		if (!base || (req.method !== "GET" && req.method !== "HEAD")) return false;
		// The API's requests, most of the traffic, skip the URL parsing below.
		const url = req.url ?? "/";
		if (API_PREFIXES.some(p => url.startsWith(p))) return false;
		let pathname: string;
		try {
			pathname = decodeURIComponent(new URL(url, "http://x").pathname);
		} catch {
			return false;
		}
		if (pathname.includes("\0") || API_PREFIXES.some(p => pathname.startsWith(p) || pathname + "/" === p)) return false;
		const file = fileAt(base, pathname);
		if (file) {
			const hashed = pathname.startsWith("/assets/");
			send(req, res, file, hashed ? "public, max-age=31536000, immutable" : "no-cache");
			return true;
		}
		if (extname(pathname)) return false;
		const app = APPS.find(a => pathname === a.prefix || pathname.startsWith(a.prefix === "/" ? "/" : a.prefix + "/"));
		const index = app && fileAt(base, app.index);
		if (!index) return false;
		send(req, res, index, "no-cache");
		return true;
	};
}
