import { spawnSync } from "node:child_process";
import { once } from "node:events";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { ServiceBroker } from "moleculer";
import { startPrivate, type InfraServer } from "./infra";

/**
 * The real Prometheus and its promtool (Debian's package, `infra/servers install prometheus`) for tests: promtool
 * validates exposition text, configurations and rules; a private Prometheus scrapes the nodes and answers PromQL.
 * Tests read sample values through it, never by parsing exposition text themselves.
 */

export function promtool(args: string[], input?: string): { code: number | null; output: string } {
	const res = spawnSync("promtool", args, { input, encoding: "utf8" });
	return { code: res.status, output: `${res.stdout}${res.stderr}` };
}

/**
 * `promtool check metrics` on exposition text: throws when promtool cannot parse it; returns its lint findings, one
 * `<metric> <problem>` line each (exit code 3), none when the text is clean.
 */
export function lintMetrics(text: string): string[] {
	const { code, output } = promtool(["check", "metrics"], text);
	if (code !== 0 && code !== 3) throw new Error(`promtool check metrics exited with ${code}:\n${output}`);
	return output.split("\n").filter(Boolean);
}

export interface Series {
	metric: Record<string, string>;
	value: [number, string];
}

export interface PrometheusServer {
	readonly server: InfraServer;
	/** The configuration file it runs with. */
	readonly config: string;
	/** An instant query; throws with Prometheus' error when it fails. */
	query(expr: string): Promise<Series[]>;
	/**
	 * Waits until each of `instances` (all targets by default) has been scraped since the call; throws with the scrape
	 * error of one that is down. Prometheus starts scraping a target up to 5 s after it starts.
	 */
	scraped(instances?: string[]): Promise<void>;
	/**
	 * The value of the one series `name{labels}` as last scraped; 0 when there is none (a counter not yet incremented).
	 */
	value(name: string, labels?: Record<string, string>): Promise<number>;
	/** The TYPE and HELP of a metric family, as Prometheus read them. */
	metadata(name: string): Promise<{ type: string; help: string } | undefined>;
	dispose(): Promise<void>;
}

/** A private Prometheus scraping `targets` (host:port, path /metrics) as job "emporium", with `ruleFiles` loaded. */
export async function startPrometheus(options: {
	targets: string[];
	scrapeInterval?: string;
	ruleFiles?: string[];
}): Promise<PrometheusServer> {
	const { targets, scrapeInterval = "1s", ruleFiles = [] } = options;
	const dir = await mkdtemp(path.join(os.tmpdir(), "emporium-prometheus-"));
	const config = path.join(dir, "prometheus.yml");
	await writeFile(
		config,
		[
			`global: { scrape_interval: ${scrapeInterval}, evaluation_interval: ${scrapeInterval} }`,
			`rule_files: ${JSON.stringify(ruleFiles)}`,
			"scrape_configs:",
			"  - job_name: emporium",
			`    static_configs: [{ targets: ${JSON.stringify(targets)} }]`,
			"",
		].join("\n"),
	);
	let server: InfraServer;
	try {
		server = await startPrivate("prometheus", { PROMETHEUS_CONFIG: config });
	} catch (err) {
		await rm(dir, { recursive: true, force: true });
		throw err;
	}
	const api = async <T>(pathAndQuery: string): Promise<T> => {
		const body = (await (await fetch(`${server.url}/api/v1/${pathAndQuery}`)).json()) as {
			status: string;
			error?: string;
			data: T;
		};
		if (body.status !== "success") throw new Error(`Prometheus ${pathAndQuery}: ${body.error ?? body.status}`);
		return body.data;
	};
	const query = async (expr: string) =>
		(await api<{ result: Series[] }>(`query?query=${encodeURIComponent(expr)}`)).result;

	return {
		server,
		config,
		query,
		async scraped(instances = targets) {
			const since = Date.now();
			const timeoutMs = 10_000;
			for (;;) {
				// A scrape's `up` sample carries its start time and is committed with the scraped samples.
				const fresh = (await query("timestamp(up)")).filter(
					s => instances.includes(s.metric.instance) && Number(s.value[1]) * 1000 > since,
				);
				if (fresh.length === instances.length) break;
				if (Date.now() - since > timeoutMs)
					throw new Error(`Prometheus did not scrape ${instances.join(", ")} in ${timeoutMs} ms`);
				await new Promise(resolve => setTimeout(resolve, 50));
			}
			const { activeTargets } = await api<{
				activeTargets: { labels: { instance: string }; scrapeUrl: string; health: string; lastError: string }[];
			}>("targets?state=active");
			for (const target of activeTargets)
				if (instances.includes(target.labels.instance) && target.health !== "up")
					throw new Error(`Prometheus scraping ${target.scrapeUrl}: ${target.lastError}`);
		},
		async value(name, labels = {}) {
			const selector = Object.entries(labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
			const series = await query(`${name}{${selector.join(",")}}`);
			if (series.length > 1) throw new Error(`${series.length} series of ${name} match ${JSON.stringify(labels)}`);
			return series.length ? Number(series[0].value[1]) : 0;
		},
		async metadata(name) {
			const data = await api<Record<string, { type: string; help: string }[]>>(
				`metadata?metric=${encodeURIComponent(name)}`,
			);
			const [first] = data[name] ?? [];
			return first && { type: first.type, help: first.help };
		},
		async dispose() {
			await server.dispose();
			await rm(dir, { recursive: true, force: true });
		},
	};
}

/**
 * Where a broker's Prometheus reporter listens (its metrics port), once it does: the reporter starts listening
 * during the broker's start without the start waiting for it.
 */
export async function metricsAddress(broker: ServiceBroker): Promise<{ base: string; address: AddressInfo }> {
	const [reporter] = (broker.metrics as unknown as { reporter: { server: Server }[] }).reporter;
	if (!reporter.server.listening) await once(reporter.server, "listening");
	const address = reporter.server.address() as AddressInfo;
	return { base: `http://127.0.0.1:${address.port}`, address };
}
