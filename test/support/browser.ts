import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { build } from "vite";

/** Debian's Chromium (`.ci/run` installs it when missing); playwright-core never downloads a browser. */
export const CHROMIUM = "/usr/bin/chromium";

/** The flags this machine needs (../shared/INFRA-NOTES.md): no sandbox as root, and none of Chromium's own traffic. */
const FLAGS = [
	"--no-sandbox",
	"--disable-gpu",
	"--disable-quic",
	"--no-first-run",
	"--disable-background-networking",
	"--disable-component-update",
	"--disable-sync",
];

/** Failure screenshots land here (gitignored). */
export const FAILURE_DIR = resolve("test-results/screenshots");

export const WEB_DIST = resolve("web/dist");

/** Builds the storefront and admin console the gateway serves (about a second), so tests never see a stale build. */
export async function buildWeb(): Promise<void> {
	await build({ configFile: resolve("web/vite.config.mts"), logLevel: "warn" });
	if (!existsSync(join(WEB_DIST, "index.html"))) throw new Error("the web build wrote no index.html");
}

export interface Browser {
	/** A fresh page in a fresh browser profile: one per customer. */
	newPage(viewport?: { width: number; height: number }): Promise<Page>;
	/** What the pages logged as errors, and their uncaught exceptions. */
	errors: string[];
	close(): Promise<void>;
}

/**
 * Chromium headless, one fresh `--user-data-dir` per page (so two pages are two customers with their own storage).
 * Console errors and uncaught exceptions are collected; the browser's own "Failed to load resource" lines for 4xx
 * answers the app handles (a declined card is a 402) are not errors of the app.
 */
export function launchBrowser(): Browser {
	const contexts: { context: BrowserContext; dir: string }[] = [];
	const errors: string[] = [];
	return {
		errors,
		async newPage(viewport = { width: 1280, height: 900 }) {
			const dir = mkdtempSync(join(tmpdir(), "emporium-chromium-"));
			const context = await chromium.launchPersistentContext(dir, {
				executablePath: CHROMIUM,
				headless: true,
				args: FLAGS,
				viewport,
			});
			contexts.push({ context, dir });
			const page = context.pages()[0] ?? (await context.newPage());
			page.on("console", msg => {
				if (msg.type() === "error" && !msg.text().startsWith("Failed to load resource")) errors.push(msg.text());
			});
			page.on("pageerror", err => errors.push(`uncaught: ${err.message}`));
			page.on("dialog", dialog => void dialog.accept());
			return page;
		},
		async close() {
			for (const { context, dir } of contexts.splice(0)) {
				await context.close().catch(() => undefined);
				rmSync(dir, { recursive: true, force: true });
			}
		},
	};
}

/** Runs a journey; on failure saves a full-page screenshot of each page (named after the journey) and rethrows. */
export async function withScreenshots(name: string, pages: () => Page[], journey: () => Promise<void>): Promise<void> {
	try {
		await journey();
	} catch (err) {
		mkdirSync(FAILURE_DIR, { recursive: true });
		const slug = name.replace(/[^a-z0-9]+/gi, "-").toLowerCase();
		for (const [i, page] of pages().entries())
			await page.screenshot({ path: join(FAILURE_DIR, `${slug}-${i}.png`), fullPage: true }).catch(() => undefined);
		throw err;
	}
}
