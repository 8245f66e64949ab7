import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, get, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { staticFiles } from "../../../services/api/static-files";

let root: string;
let server: Server;
let base: string;

beforeAll(async () => {
	root = mkdtempSync(join(tmpdir(), "static-files-"));
	mkdirSync(join(root, "admin"));
	mkdirSync(join(root, "assets"));
	writeFileSync(join(root, "index.html"), "<p>shop</p>");
	writeFileSync(join(root, "admin/index.html"), "<p>admin</p>");
	writeFileSync(join(root, "assets/app-abc123.js"), "export {}");
	writeFileSync(join(root, "robots.txt"), "ok");
	writeFileSync(join(root, "..", "secret.txt"), "secret");
	const serve = staticFiles(root);
	server = createServer((req, res) => {
		if (!serve(req, res)) {
			res.writeHead(599);
			res.end("gateway");
		}
	});
	await new Promise<void>(r => server.listen(0, "127.0.0.1", r));
	base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => {
	server.close();
	rmSync(root, { recursive: true, force: true });
	rmSync(join(root, "..", "secret.txt"), { force: true });
});

describe("staticFiles", () => {
	// 599: not answered by the static handler, left to the gateway (moleculer-web's routes and its 404).
	it.each([
		["/", 200, "<p>shop</p>", "text/html; charset=utf-8", "no-cache"],
		["/products/42", 200, "<p>shop</p>", "text/html; charset=utf-8", "no-cache"],
		["/admin", 200, "<p>admin</p>", "text/html; charset=utf-8", "no-cache"],
		["/admin/orders/7", 200, "<p>admin</p>", "text/html; charset=utf-8", "no-cache"],
		["/administrator", 200, "<p>shop</p>", "text/html; charset=utf-8", "no-cache"],
		[
			"/assets/app-abc123.js",
			200,
			"export {}",
			"text/javascript; charset=utf-8",
			"public, max-age=31536000, immutable",
		],
		["/robots.txt", 200, "ok", "text/plain; charset=utf-8", "no-cache"],
		["/assets/missing.js", 599, "gateway", null, null],
		["/api/products", 599, "gateway", null, null],
		["/api", 599, "gateway", null, null],
		["/health/live", 599, "gateway", null, null],
		["/%2e%2e/secret.txt", 599, "gateway", null, null],
		["/..%2fsecret.txt", 599, "gateway", null, null],
		["/%00", 599, "gateway", null, null],
		["/%E0%A4%A", 599, "gateway", null, null],
	])("GET %s: %i", async (path, status, body, type, cache) => {
		const res = await fetch(base + path);
		expect(res.status).toBe(status);
		expect(await res.text()).toBe(body);
		expect(res.headers.get("content-type")).toBe(type ?? null);
		expect(res.headers.get("cache-control")).toBe(cache ?? null);
	});

	it("never serves a file outside the root, whatever the raw path says", async () => {
		for (const path of ["/../secret.txt", "/assets/../../secret.txt", "/%2e%2e/secret.txt", "/..\\secret.txt"]) {
			const { status, body } = await new Promise<{ status: number; body: string }>((done, fail) => {
				get(`${base}/`, { path }, res => {
					let text = "";
					res.on("data", (c: Buffer) => (text += c.toString()));
					res.on("end", () => done({ status: res.statusCode ?? 0, body: text }));
				}).on("error", fail);
			});
			expect(body, path).not.toContain("secret");
			expect(status, path).toBe(599);
		}
	});

	it("answers HEAD without a body, leaves other methods to the gateway, and sends a CSP with the pages", async () => {
		const head = await fetch(`${base}/admin`, { method: "HEAD" });
		expect(head.status).toBe(200);
		expect(head.headers.get("content-length")).toBe(String("<p>admin</p>".length));
		expect(head.headers.get("content-security-policy")).toContain("default-src 'self'");
		expect((await fetch(`${base}/`, { method: "POST" })).status).toBe(599);
	});
});
