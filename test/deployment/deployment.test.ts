import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { METRIC } from "moleculer";
import { describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { ACTORS } from "../../lib/config";
import { BUSINESS_METRICS } from "../../lib/observability";

/**
 * Neither Docker nor Kubernetes runs on the development machines, so this checks the deployment files against
 * the code instead: every actor has its container and Deployment, every variable they set is one the code reads,
 * every probe and scrape target uses the configured ports, and every file they name exists.
 */

const ROOT = path.resolve(__dirname, "../..");
const NODE_NAMES = ["api", ...ACTORS];

type Env = Record<string, string>;

// --- The parts of the deployment files the checks read ---------------------------------------------------------
// Parsed YAML and JSON are read as these shapes; the assertions below are what check them.

interface ComposeService {
	build?: unknown;
	env_file?: string | string[];
	environment?: string[] | Record<string, string | number | boolean>;
	healthcheck?: { test: string[]; disable?: boolean };
	ports?: (string | number)[];
	volumes: string[];
	depends_on?: string[] | Record<string, { condition?: string }>;
}
interface Metadata {
	name: string;
	labels?: Env;
	annotations?: Env;
}
interface Probe {
	httpGet: { path: string; port: number | string };
}
interface Container {
	name: string;
	image: string;
	env?: { name: string; value?: string }[];
	envFrom?: { configMapRef?: { name: string } }[];
	ports?: { name?: string; containerPort: number }[];
	readinessProbe?: Probe;
	livenessProbe?: Probe;
	startupProbe?: Probe;
	resources: { requests?: Env; limits?: Env };
	volumeMounts: { name: string; mountPath: string }[];
}
interface Deployment {
	kind: "Deployment";
	metadata: Metadata;
	spec: {
		selector: { matchLabels: Env };
		template: {
			metadata: { labels: Env; annotations: Env };
			spec: {
				containers: Container[];
				volumes: { name: string; secret: { secretName: string; items: { key: string; path: string }[] } }[];
			};
		};
	};
}
type Manifest =
	| Deployment
	| { kind: "ConfigMap"; metadata: Metadata; data?: Env }
	| { kind: "Secret"; metadata: Metadata; data?: Env; stringData?: Env }
	| {
			kind: "Service";
			metadata: Metadata;
			spec: { selector: Env; ports: { name?: string; targetPort: number | string }[] };
	  }
	| {
			kind: "Ingress";
			metadata: Metadata;
			spec: { rules: { http: { paths: { backend: { service: { name: string; port: { name: string } } } }[] } }[] };
	  }
	| { kind: "HorizontalPodAutoscaler"; metadata: Metadata; spec: { scaleTargetRef: { name: string } } }
	| { kind: "Namespace"; metadata: Metadata };
type Kind = Manifest["kind"];
interface ScrapeJob {
	job_name: string;
	metrics_path?: string;
	static_configs: { targets: string[] }[];
}
interface Dashboard {
	panels: { type: string; title: string; datasource: { uid: string }; targets: { expr: string }[] }[];
}
interface PackageJson {
	scripts: Record<string, string>;
}

const read = (file: string) => readFileSync(path.join(ROOT, file), "utf8");
/** A parsed YAML file, read as the shape `T` the checks expect of it. */
const yamlFile = <T>(file: string) => parse(read(file), { merge: true }) as T;
/** A parsed JSON file, read as the shape `T` the checks expect of it. */
const jsonFile = <T>(file: string) => JSON.parse(read(file)) as T;

function tsFiles(dir: string): string[] {
	return readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap(entry => {
		const rel = path.join(dir, entry.name);
		if (entry.isDirectory()) return tsFiles(rel);
		return entry.name.endsWith(".ts") ? [rel] : [];
	});
}

/** Every variable name the nodes read: our code, plus moleculer-runner (SERVICES, SERVICEDIR), which starts them. */
function variablesTheCodeReads(): Set<string> {
	const names = new Set<string>();
	const sources = ["moleculer.config.ts", ...tsFiles("lib"), ...tsFiles("mixins"), ...tsFiles("services")].map(read);
	sources.push(read("node_modules/moleculer/src/runner.js"));
	const literal = "[\"']([A-Z][A-Z0-9_]*)[\"']";
	const perService = "`\\$\\{\\s*\\w+\\.toUpperCase\\(\\)\\s*\\}(_[A-Z0-9_]+)`";
	for (const source of sources) {
		for (const pattern of [
			/process\.env\.([A-Z][A-Z0-9_]*)/g,
			/\benv\.([A-Z][A-Z0-9_]*)/g,
			new RegExp(`\\benv\\[\\s*${literal}\\s*\\]`, "g"),
			new RegExp(`\\(\\s*env\\s*,\\s*${literal}`, "g"),
		]) {
			for (const m of source.matchAll(pattern)) names.add(m[1]);
		}
		// readSecret("X") reads X and X_FILE.
		for (const m of source.matchAll(new RegExp(`readSecret\\(\\s*${literal}`, "g")))
			names.add(m[1]).add(`${m[1]}_FILE`);
		// readSecret(`${service.toUpperCase()}_DB_URI`) reads one variable (and its _FILE) per actor.
		for (const m of source.matchAll(new RegExp(`readSecret\\(\\s*${perService}`, "g"))) {
			for (const actor of ACTORS) names.add(`${actor.toUpperCase()}${m[1]}`).add(`${actor.toUpperCase()}${m[1]}_FILE`);
		}
		for (const m of source.matchAll(new RegExp(`\\benv\\[\\s*${perService}\\s*\\]`, "g"))) {
			for (const actor of ACTORS) names.add(`${actor.toUpperCase()}${m[1]}`);
		}
	}
	return names;
}

function parseEnvFile(text: string): Env {
	const env: Env = {};
	for (const line of text.split("\n").map(l => l.trim())) {
		if (!line || line.startsWith("#")) continue;
		const eq = line.indexOf("=");
		env[line.slice(0, eq)] = line.slice(eq + 1);
	}
	return env;
}

/** Later variables win, as in `Object.assign`. */
function merged(envs: (Env | undefined)[]): Env {
	return envs.reduce<Env>((all, env) => ({ ...all, ...env }), {});
}

function listOrMap(value: unknown): Env {
	if (!value) return {};
	if (Array.isArray(value)) return parseEnvFile(value.join("\n"));
	return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
}

/** The Dockerfile's instructions, continuation lines joined. */
function dockerfileInstructions(): { op: string; args: string }[] {
	return read("Dockerfile")
		.replace(/\\\n/g, " ")
		.split("\n")
		.map(l => l.trim())
		.filter(l => l && !l.startsWith("#"))
		.map(l => ({ op: l.split(/\s+/)[0].toUpperCase(), args: l.slice(l.indexOf(" ") + 1).trim() }));
}

const dockerfile = dockerfileInstructions();
/** ENV of the final stage: the defaults every container starts from. */
const imageEnv: Env = (() => {
	const lastFrom = dockerfile.map(i => i.op).lastIndexOf("FROM");
	const env: Env = {};
	for (const { args } of dockerfile.slice(lastFrom).filter(i => i.op === "ENV")) {
		for (const m of args.matchAll(/([A-Z][A-Z0-9_]*)=(\S+)/g)) env[m[1]] = m[2];
	}
	return env;
})();

// --- Compose -------------------------------------------------------------------------------------------------
const compose = yamlFile<{ services: Record<string, ComposeService> }>("docker/docker-compose.yml");
const composeServices = compose.services;
/** Emporium nodes are the services built from the repository's Dockerfile; the rest are servers. */
const composeNodes = Object.entries(composeServices).filter(([, svc]) => svc.build);
function composeEnv(svc: ComposeService): { fromFiles: Env; inline: Env; effective: Env } {
	const files: string[] = svc.env_file ? [svc.env_file].flat() : [];
	const fromFiles = merged(files.map(f => parseEnvFile(read(path.join("docker", f)))));
	const inline = listOrMap(svc.environment);
	return { fromFiles, inline, effective: { ...imageEnv, ...fromFiles, ...inline } };
}
/** The actors a Compose node hosts (its SERVICES list). */
const hosts = (svc: ComposeService) =>
	(composeEnv(svc).effective.SERVICES ?? "")
		.split(",")
		.map(s => s.trim())
		.filter(Boolean);

// --- Kubernetes ----------------------------------------------------------------------------------------------
const kustomization = yamlFile<{ resources: string[]; namespace: string; images: { name: string }[] }>(
	"k8s/kustomization.yaml",
);
const manifestFiles = readdirSync(path.join(ROOT, "k8s")).filter(
	f => /\.ya?ml$/.test(f) && !/^kustomization\.ya?ml$/.test(f),
);
const manifests = manifestFiles
	.flatMap(file =>
		parseAllDocuments(read(path.join("k8s", file))).map(doc => {
			if (doc.errors.length) throw new Error(`k8s/${file}: ${doc.errors.map(e => e.message).join("; ")}`);
			return doc.toJS() as Manifest | null;
		}),
	)
	.filter((m): m is Manifest => Boolean(m));
const ofKind = <K extends Kind>(kind: K) =>
	manifests.filter((m): m is Extract<Manifest, { kind: K }> => m.kind === kind);
const configMapData = merged(ofKind("ConfigMap").map(m => m.data ?? {}));
const secrets = ofKind("Secret");
const deployments = ofKind("Deployment");
function containerEnv(container: Container): { inline: Env; effective: Env } {
	const inline: Env = Object.fromEntries((container.env ?? []).map(e => [e.name, e.value ?? ""]));
	const fromConfigMaps = merged(
		(container.envFrom ?? []).map(src => {
			const cm = ofKind("ConfigMap").find(m => m.metadata.name === src.configMapRef?.name);
			expect(cm, `ConfigMap ${src.configMapRef?.name} referenced by ${container.name}`).toBeDefined();
			return cm!.data;
		}),
	);
	return { inline, effective: { ...imageEnv, ...fromConfigMaps, ...inline } };
}
const k8sNode = (d: Deployment) => d.spec.template.spec.containers[0];
const containerPort = (container: Container, port: number | string) =>
	typeof port === "number" ? port : container.ports?.find(p => p.name === port)?.containerPort;

function portAndPath(url: string): { port: number; path: string } {
	const u = new URL(url);
	return { port: Number(u.port), path: u.pathname };
}

describe("Dockerfile", () => {
	it("builds with dev dependencies, ships production dependencies only, and runs as a non-root user", () => {
		expect(dockerfile.filter(i => i.op === "FROM").length).toBeGreaterThanOrEqual(2);
		expect(dockerfile.some(i => i.op === "RUN" && /npm run build/.test(i.args))).toBe(true);
		expect(dockerfile.some(i => i.op === "RUN" && /npm ci --omit=dev/.test(i.args))).toBe(true);
		const user = dockerfile.filter(i => i.op === "USER").at(-1)?.args;
		expect(user).toBeDefined();
		expect(["root", "0"]).not.toContain(user!.split(":")[0]);
	});

	it("starts moleculer-runner on the compiled config and services, with a liveness health check", () => {
		const cmd = JSON.parse(dockerfile.find(i => i.op === "CMD")!.args) as string[];
		const runner = ["node", "--max-semi-space-size=4", "node_modules/moleculer/bin/moleculer-runner.js"];
		expect(cmd.slice(0, 3)).toEqual(runner);
		// The image starts a node as `npm start` does, with the same Node flags (README "One process").
		expect(jsonFile<PackageJson>("package.json").scripts.start).toContain(runner.join(" "));
		expect(cmd[cmd.indexOf("--config") + 1]).toBe("dist/moleculer.config.js");
		expect(existsSync(path.join(ROOT, "moleculer.config.ts"))).toBe(true);
		expect(imageEnv.SERVICEDIR).toBe("dist/services");
		const build = jsonFile<{ include: string[] }>("tsconfig.build.json");
		expect(build.include).toEqual(expect.arrayContaining(["moleculer.config.ts", "services"]));
		expect(jsonFile<{ compilerOptions: unknown }>("tsconfig.json").compilerOptions).toMatchObject({
			outDir: "dist",
			rootDir: ".",
		});
		expect(jsonFile<PackageJson>("package.json").scripts.build).toContain("tsconfig.build.json");

		const healthcheck = dockerfile.find(i => i.op === "HEALTHCHECK")!.args;
		expect(healthcheck).toContain("/health/live");
		expect(healthcheck).toContain("${PORT:-");
		expect(healthcheck).toContain("${METRICS_PORT:-");
		const exposed = dockerfile.filter(i => i.op === "EXPOSE").flatMap(i => i.args.split(/\s+/));
		expect(exposed).toEqual(expect.arrayContaining([imageEnv.PORT, imageEnv.METRICS_PORT]));
	});

	it("keeps in the build context everything the build compiles", () => {
		const ignored = read(".dockerignore")
			.split("\n")
			.map(l => l.trim())
			.filter(l => l && !l.startsWith("#"));
		const compiled = jsonFile<{ include: string[] }>("tsconfig.build.json").include;
		for (const entry of compiled) expect(ignored, entry).not.toContain(entry);
		// A compiled file importing from an ignored directory (say test/) would break the image build only.
		const sources = compiled.flatMap(entry =>
			entry.endsWith(".ts") ? [entry] : existsSync(path.join(ROOT, entry)) ? tsFiles(entry) : [],
		);
		for (const file of sources) {
			for (const m of read(file).matchAll(/from\s+["'](\.[^"']+)["']/g)) {
				const top = path.relative(ROOT, path.resolve(ROOT, path.dirname(file), m[1])).split(path.sep)[0];
				expect(ignored, `${file} imports ${m[1]}`).not.toContain(top);
			}
		}
	});
});

describe("Compose and Kubernetes name real actors", () => {
	it("have a service file whose schema carries each node's name", async () => {
		for (const name of NODE_NAMES) {
			const file = path.join(ROOT, "services", name, `${name}.service.ts`);
			expect(existsSync(file), file).toBe(true);
			const schema = ((await import(file)) as { default: { name: string } }).default;
			expect(schema.name, file).toBe(name);
		}
	});

	it("Compose runs one container per actor and two gateways, each SERVICES naming a service file", () => {
		for (const [name, svc] of composeNodes) {
			expect(hosts(svc).length, `${name} SERVICES`).toBeGreaterThan(0);
			for (const hosted of hosts(svc))
				expect(existsSync(path.join(ROOT, `services/${hosted}/${hosted}.service.ts`)), `${name} hosts ${hosted}`).toBe(
					true,
				);
		}
		const count = (actor: string) => composeNodes.filter(([, svc]) => hosts(svc).includes(actor)).length;
		for (const actor of ACTORS) expect(count(actor), actor).toBeGreaterThanOrEqual(1);
		expect(count("api")).toBeGreaterThanOrEqual(2);
		const nodeIDs = composeNodes.map(([, svc]) => composeEnv(svc).effective.NODEID);
		expect(new Set(nodeIDs).size, "distinct NODEIDs").toBe(composeNodes.length);
	});

	it("Kubernetes has one Deployment per actor and the gateway, each SERVICES naming a service file", () => {
		const byNode = deployments.map(d => containerEnv(k8sNode(d)).inline.SERVICES);
		expect([...byNode].sort()).toEqual([...NODE_NAMES].sort());
	});
});

describe("environment", () => {
	const known = variablesTheCodeReads();

	it("the scan of the code finds the variables it is known to read", () => {
		for (const name of [
			"NODE_ENV",
			"PORT",
			"TRANSPORTER",
			"JWT_SECRET_FILE",
			"ORDERS_DB_URI",
			"PRODUCTS_DB_URI_FILE",
			"METRICS_PORT",
			"SERVICES",
			"SERVICEDIR",
		])
			expect(known, name).toContain(name);
	});

	it("every variable the deployment files set is one the code reads", () => {
		const set: [where: string, name: string][] = [];
		for (const name of Object.keys(imageEnv)) set.push(["Dockerfile", name]);
		for (const [svcName, svc] of composeNodes) {
			const { fromFiles, inline } = composeEnv(svc);
			for (const name of Object.keys(fromFiles)) set.push([`compose ${svcName} env_file`, name]);
			for (const name of Object.keys(inline)) set.push([`compose ${svcName}`, name]);
		}
		for (const name of Object.keys(configMapData)) set.push(["ConfigMap", name]);
		for (const secret of secrets)
			for (const name of Object.keys({ ...secret.data, ...secret.stringData }))
				set.push([`Secret ${secret.metadata.name}`, name]);
		for (const d of deployments)
			for (const name of Object.keys(containerEnv(k8sNode(d)).inline))
				set.push([`Deployment ${d.metadata.name}`, name]);
		expect(set.length).toBeGreaterThan(20);
		expect(set.filter(([, name]) => !known.has(name)).map(([where, name]) => `${where}: ${name}`)).toEqual([]);
	});

	it("production settings are complete: JWT secret, admin account, one database per stateful actor", () => {
		// Secrets are never in the repository: Compose requires them from the shell or docker/.env (`${VAR:?...}`),
		// on the nodes that sign or check tokens and on the node that creates the admin.
		const required = (name: string): unknown => expect.stringMatching(new RegExp(`^\\$\\{${name}:\\?.+\\}$`));
		for (const [name, svc] of composeNodes) {
			const env = composeEnv(svc).effective;
			expect(env.NODE_ENV, name).toBe("production");
			if (hosts(svc).some(actor => actor === "api" || actor === "users"))
				expect(env, `${name} JWT_SECRET`).toMatchObject({ JWT_SECRET: required("JWT_SECRET") });
		}
		const users = composeNodes.find(([, svc]) => hosts(svc).includes("users"))![1];
		expect(composeEnv(users).effective).toMatchObject({
			ADMIN_EMAIL: expect.any(String),
			ADMIN_PASSWORD: required("ADMIN_PASSWORD"),
			SEED: "true",
		});
		for (const d of deployments) {
			const { effective } = containerEnv(k8sNode(d));
			expect(effective.NODE_ENV).toBe("production");
			expect(effective.JWT_SECRET_FILE ?? effective.JWT_SECRET, `${d.metadata.name} JWT secret`).toBeTruthy();
			const actor = effective.SERVICES;
			if (actor !== "api") expect(effective[`${actor.toUpperCase()}_DB_URI_FILE`], `${actor} database`).toBeTruthy();
		}
	});

	it(
		"URLs in the Compose configuration point at Compose services, " +
			"and MySQL databases exist with those credentials",
		() => {
			const mysql = composeServices.mysql;
			const mysqlEnv = listOrMap(mysql.environment);
			const initDir = mysql.volumes
				.map(v => v.split(":"))
				.find(([, target]) => target === "/docker-entrypoint-initdb.d")![0];
			const initSql = readdirSync(path.join(ROOT, "docker", initDir))
				.map(f => read(path.join("docker", initDir, f)))
				.join("\n");
			const created = [...initSql.matchAll(/CREATE DATABASE (?:IF NOT EXISTS )?`?(\w+)`?/gi)].map(m => m[1]);
			for (const [name, svc] of composeNodes) {
				for (const [key, value] of Object.entries(composeEnv(svc).effective)) {
					if (!/^[a-z]+:\/\//.test(value)) continue;
					const url = new URL(value.replace(/^(kafka|nats|redis|mysql|mongodb):/, "http:"));
					expect(composeServices, `${name} ${key} host`).toHaveProperty([url.hostname]);
					if (value.startsWith("mysql:")) {
						expect([decodeURIComponent(url.username), decodeURIComponent(url.password)], `${key} credentials`).toEqual([
							mysqlEnv.MYSQL_USER,
							mysqlEnv.MYSQL_PASSWORD,
						]);
						expect(created, `${key} database`).toContain(url.pathname.slice(1));
					}
				}
			}
		},
	);
});

describe("ports of health checks, probes and scrape targets", () => {
	it("Compose health checks and published ports use PORT on gateways and METRICS_PORT elsewhere", () => {
		for (const [name, svc] of composeNodes) {
			const env = composeEnv(svc).effective;
			const isGateway = hosts(svc).includes("api");
			const check = portAndPath(svc.healthcheck!.test.find(arg => arg.startsWith("http"))!);
			expect(check.port, `${name} health check port`).toBe(Number(isGateway ? env.PORT : env.METRICS_PORT));
			expect(check.path, name).toMatch(/^\/health\/(ready|live)$/);
			if (isGateway) {
				const published = (svc.ports ?? []).map(p => Number(String(p).split(":").at(-1)));
				expect(published, `${name} published port`).toEqual([Number(env.PORT)]);
			}
		}
	});

	it("Prometheus scrapes METRICS_PORT on every node, and its other targets are Compose services", () => {
		const prometheus = yamlFile<{ scrape_configs: ScrapeJob[] }>("docker/prometheus.yml");
		const targets = (job: ScrapeJob) => job.static_configs.flatMap(c => c.targets);
		const nodeJob = prometheus.scrape_configs.find(job => job.job_name === "emporium")!;
		expect(nodeJob.metrics_path ?? "/metrics").toBe("/metrics");
		const expected = composeNodes.map(([name, svc]) => `${name}:${composeEnv(svc).effective.METRICS_PORT}`);
		expect([...targets(nodeJob)].sort()).toEqual([...expected].sort());
		for (const job of prometheus.scrape_configs)
			for (const target of targets(job)) expect(composeServices, target).toHaveProperty([target.split(":")[0]]);
		const mounted = composeServices.prometheus.volumes.map(v => v.split(":"));
		expect(mounted).toContainEqual(["./prometheus.yml", "/etc/prometheus/prometheus.yml", "ro"]);
	});

	it("Prometheus loads the alerting rules of infra/prometheus, mounted by Compose, also with the local file", () => {
		const infraConfig = yamlFile<{ rule_files: string[] }>("infra/prometheus/prometheus.yml");
		const infraRules = infraConfig.rule_files.map(f => path.resolve(ROOT, "infra/prometheus", f));
		expect(infraRules).toEqual([path.join(ROOT, "infra/prometheus/rules.yml")]);
		/** Compose merges `volumes` of an override by container path. */
		const mounts = (...services: { volumes?: string[] }[]) =>
			new Map(
				services
					.flatMap(svc => svc.volumes ?? [])
					.map(v => v.split(":"))
					.map(([source, target]) => [target, path.resolve(ROOT, "docker", source)]),
			);
		const local = yamlFile<{ services: Record<string, ComposeService> }>("docker/docker-compose.local.yml");
		const setups = [
			{ config: "docker/prometheus.yml", mounts: mounts(composeServices.prometheus) },
			{
				config: "docker/local/prometheus.yml",
				mounts: mounts(composeServices.prometheus, local.services.prometheus),
			},
		];
		for (const { config, mounts: mounted } of setups) {
			const containerConfig = "/etc/prometheus/prometheus.yml";
			expect(mounted.get(containerConfig), config).toBe(path.join(ROOT, config));
			const ruleFiles = yamlFile<{ rule_files?: string[] }>(config).rule_files ?? [];
			const sources = ruleFiles.map(f => mounted.get(path.posix.resolve(path.posix.dirname(containerConfig), f)));
			expect(sources, `${config} rule_files, as mounted`).toEqual(infraRules);
			for (const source of sources) expect(existsSync(source!), source).toBe(true);
		}
		// The local configuration is the Compose one without `fallback_scrape_protocol` (Prometheus 3.x only).
		const scrapeJobs = (config: string) =>
			yamlFile<{ scrape_configs: (ScrapeJob & { fallback_scrape_protocol?: string })[] }>(config).scrape_configs.map(
				({ fallback_scrape_protocol: _, ...job }) => job,
			);
		expect(scrapeJobs("docker/local/prometheus.yml")).toEqual(scrapeJobs("docker/prometheus.yml"));
	});

	it("Kubernetes probes, Service, Ingress and scrape annotations use the configured ports", () => {
		for (const d of deployments) {
			const container = k8sNode(d);
			const env = containerEnv(container).effective;
			const isGateway = env.SERVICES === "api";
			const healthPort = Number(isGateway ? env.PORT : env.METRICS_PORT);
			const probes = {
				readinessProbe: "/health/ready",
				livenessProbe: "/health/live",
				startupProbe: "/health/live",
			} as const;
			for (const [probe, healthPath] of Object.entries(probes) as [keyof typeof probes, string][]) {
				if (probe !== "startupProbe") expect(container[probe], `${d.metadata.name} ${probe}`).toBeDefined();
				const check = container[probe];
				if (!check) continue;
				expect(check.httpGet.path, `${d.metadata.name} ${probe}`).toBe(healthPath);
				expect(containerPort(container, check.httpGet.port), `${d.metadata.name} ${probe} port`).toBe(healthPort);
			}
			expect(Number(d.spec.template.metadata.annotations["prometheus.io/port"]), `${d.metadata.name} scrape port`).toBe(
				Number(env.METRICS_PORT),
			);
			expect(containerPort(container, "metrics")).toBe(Number(env.METRICS_PORT));
			expect(container.resources.requests).toBeDefined();
			expect(container.resources.limits).toBeDefined();
			expect(d.spec.selector.matchLabels).toEqual(expect.objectContaining(d.spec.template.metadata.labels));
		}

		const gateway = deployments.find(d => containerEnv(k8sNode(d)).inline.SERVICES === "api")!;
		const gatewayPort = Number(containerEnv(k8sNode(gateway)).effective.PORT);
		const [service] = ofKind("Service");
		expect(service.spec.selector).toEqual(gateway.spec.template.metadata.labels);
		for (const port of service.spec.ports) expect(containerPort(k8sNode(gateway), port.targetPort)).toBe(gatewayPort);
		for (const ingress of ofKind("Ingress")) {
			for (const rulePath of ingress.spec.rules.flatMap(r => r.http.paths)) {
				expect(rulePath.backend.service.name).toBe(service.metadata.name);
				expect(service.spec.ports.map(p => p.name)).toContain(rulePath.backend.service.port.name);
			}
		}
	});
});

describe("orchestration", () => {
	it("every Compose service has a health check, and depends_on waits for healthy services that exist", () => {
		for (const [name, svc] of Object.entries(composeServices)) {
			expect(svc.healthcheck?.test, `${name} healthcheck`).toBeDefined();
			expect(svc.healthcheck!.disable, name).not.toBe(true);
			if (!svc.depends_on) continue;
			expect(Array.isArray(svc.depends_on), `${name} depends_on must use conditions`).toBe(false);
			for (const [dependency, spec] of Object.entries(svc.depends_on as Record<string, { condition?: string }>)) {
				expect(composeServices, `${name} depends on ${dependency}`).toHaveProperty([dependency]);
				expect(spec.condition, `${name} -> ${dependency}`).toBe("service_healthy");
			}
		}
		const nodeDependencies = (svc: ComposeService) => Object.keys(svc.depends_on ?? {});
		for (const [name, svc] of composeNodes)
			expect(nodeDependencies(svc), name).toEqual(expect.arrayContaining(["nats", "redis", "kafka"]));
	});

	it("the kustomization lists every manifest and only files that exist, in its own namespace", () => {
		const listed = kustomization.resources;
		for (const file of listed) expect(existsSync(path.join(ROOT, "k8s", file)), file).toBe(true);
		expect([...listed].sort()).toEqual([...manifestFiles].sort());
		expect(ofKind("Namespace").map(n => n.metadata.name)).toEqual([kustomization.namespace]);
		const imageNames = new Set(deployments.flatMap(d => d.spec.template.spec.containers.map(c => c.image)));
		expect([...imageNames]).toEqual(kustomization.images.map(i => i.name));
	});

	it("autoscalers target the gateway and orders Deployments", () => {
		const targets = ofKind("HorizontalPodAutoscaler").map(h => h.spec.scaleTargetRef);
		const names = deployments.map(d => d.metadata.name);
		for (const target of targets) expect(names).toContain(target.name);
		const scaled = targets.map(
			t => containerEnv(k8sNode(deployments.find(d => d.metadata.name === t.name)!)).inline.SERVICES,
		);
		expect(scaled.sort()).toEqual(["api", "orders"]);
	});

	it("secret files named by *_FILE variables are mounted from keys the Secret has", () => {
		const secretKeys = (name: string) =>
			Object.keys({
				...secrets.find(s => s.metadata.name === name)?.data,
				...secrets.find(s => s.metadata.name === name)?.stringData,
			});
		for (const d of deployments) {
			const container = k8sNode(d);
			for (const [name, file] of Object.entries(containerEnv(container).inline).filter(([n]) => n.endsWith("_FILE"))) {
				const mount = container.volumeMounts.find(m => file.startsWith(`${m.mountPath}/`));
				expect(mount, `${d.metadata.name} ${name}`).toBeDefined();
				const volume = d.spec.template.spec.volumes.find(v => v.name === mount!.name)!;
				const item = volume.secret.items.find(i => i.path === file.slice(mount!.mountPath.length + 1));
				expect(item, `${d.metadata.name} ${name}`).toBeDefined();
				expect(secretKeys(volume.secret.secretName), `${d.metadata.name} ${name}`).toContain(item!.key);
			}
		}
	});

	it("package.json has a shortcut for the Compose file", () => {
		const scripts = jsonFile<PackageJson>("package.json").scripts;
		const up = scripts["docker:up"];
		expect(up).toMatch(/^docker compose -f (\S+) up/);
		expect(existsSync(path.join(ROOT, /-f (\S+)/.exec(up)![1]))).toBe(true);
	});
});

describe("Grafana", () => {
	const dashboardsMount = composeServices.grafana.volumes
		.map(v => v.split(":"))
		.find(([source]) => source === "./grafana/dashboards")!;
	const provider = yamlFile<{ providers: { options: { path: string } }[] }>(
		"docker/grafana/provisioning/dashboards/emporium.yml",
	).providers[0];
	const datasource = yamlFile<{ datasources: { url: string; uid: string }[] }>(
		"docker/grafana/provisioning/datasources/prometheus.yml",
	).datasources[0];
	const dashboards = readdirSync(path.join(ROOT, "docker/grafana/dashboards")).filter(f => f.endsWith(".json"));

	it("is provisioned with the Prometheus data source and the dashboards directory", () => {
		expect(composeServices.grafana.volumes).toContain("./grafana/provisioning:/etc/grafana/provisioning:ro");
		expect(provider.options.path).toBe(dashboardsMount[1]);
		expect(new URL(datasource.url).hostname).toBe("prometheus");
		expect(dashboards.length).toBeGreaterThan(0);
	});

	it("the dashboard queries only metrics the nodes export, through the provisioned data source", () => {
		const exported = new Set<string>();
		const names = [
			...Object.values(METRIC as Record<string, unknown>).filter(
				(v): v is string => typeof v === "string" && v.startsWith("moleculer."),
			),
			// The shop's own counters are exposed with Prometheus' `_total` suffix.
			...BUSINESS_METRICS.map(m => (m.type === "counter" && !m.name.endsWith(".total") ? `${m.name}_total` : m.name)),
		];
		for (const name of names.map(n => n.replace(/[.-]/g, "_")))
			for (const suffix of ["", "_bucket", "_sum", "_count"]) exported.add(name + suffix);

		for (const file of dashboards) {
			const dashboard = jsonFile<Dashboard>(path.join("docker/grafana/dashboards", file));
			const panels = dashboard.panels.filter(p => p.type !== "row");
			const exprs = panels.flatMap(p => p.targets.map(t => t.expr));
			for (const p of panels) expect(p.datasource.uid, p.title).toBe(datasource.uid);
			const used = exprs.flatMap(e => [...e.matchAll(/\b(?:moleculer|emporium)_[a-z0-9_]+/g)].map(m => m[0]));
			expect(used.filter(name => !exported.has(name))).toEqual([]);
			// Kafka consumer lag comes from kafka-exporter, which Prometheus must scrape.
			if (exprs.some(e => /\bkafka_/.test(e))) expect(read("docker/prometheus.yml")).toMatch(/\bkafka-exporter:\d+/);
			// The panels: requests, latency, errors, circuit breakers, orders per status, stock rejections, event
			// lag.
			for (const metric of [
				"moleculer_request_total",
				"moleculer_request_time_bucket",
				"moleculer_request_error_total",
				"moleculer_circuit_breaker_opened_active",
				"emporium_orders_total",
				"emporium_inventory_rejections_total",
				"emporium_events_consumed_total",
			]) {
				expect(used, metric).toContain(metric);
			}
		}
	});
});
