import { describe, expect, it } from "vitest";
import { HOST_IDENTIFYING_METRICS, metricsOptions } from "../../../lib/observability";

/** Issue 18, finding 7: where the metrics port listens and what it leaves out. */
describe("metrics reporter options", () => {
	const optionsOf = (env: NodeJS.ProcessEnv) =>
		(metricsOptions(env).reporter as unknown as { opts: { host?: string; port: number; excludes?: string[] } }[])[0]
			.opts;

	it("listens on METRICS_HOST, else HOST, else every interface, also with METRICS_PORT=0", () => {
		expect(optionsOf({}).host).toBe("0.0.0.0");
		expect(optionsOf({ HOST: "127.0.0.1" }).host).toBe("127.0.0.1");
		expect(optionsOf({ HOST: "127.0.0.1", METRICS_PORT: "0" }).host).toBe("127.0.0.1");
		expect(optionsOf({ HOST: "127.0.0.1", METRICS_HOST: "10.1.2.3" }).host).toBe("10.1.2.3");
	});

	it("excludes the series that identify the host: hostname, user, network, kernel, argv, pid", () => {
		expect(optionsOf({}).excludes).toEqual(HOST_IDENTIFYING_METRICS);
		for (const name of ["os.hostname", "os.user.*", "os.network.*", "os.release", "process.arguments", "process.pid"])
			expect(HOST_IDENTIFYING_METRICS).toContain(name);
	});
});
