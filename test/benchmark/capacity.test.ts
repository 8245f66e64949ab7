import { describe, expect, it } from "vitest";
import { PLANNED_UTILISATION, capacityPlan, coresFor } from "../../benchmark/capacity";

describe("capacity plan from the measured CPU per order", () => {
	it.each([
		// rate × ms / 1000 / 0.7, rounded up to a tenth of a core
		[1000, 7, 10],
		[1000, 0.7, 1],
		[10_000, 0.35, 5],
		[300, 1, 0.5],
		[1000, 0, 0],
	])("%i orders/s at %f ms need %f cores", (rate, ms, cores) => {
		expect(coresFor(rate, ms)).toBe(cores);
	});

	it("sizes actors in whole nodes and servers in cores, busiest first, without the load generator", () => {
		const plan = capacityPlan(
			{ api: 1.4, inventory: 3.5, mariadbd: 2.1, "load generator": 2, "nats-server": 0.7 },
			[1000, 10_000],
		);
		expect(plan.map(row => row.process)).toEqual(["inventory", "mariadbd", "api", "nats-server"]);
		expect(plan[0]).toEqual({ process: "inventory", cpuMsPerOrder: 3.5, cores: [5, 50], nodes: [5, 50] });
		expect(plan[1]).toEqual({ process: "mariadbd", cpuMsPerOrder: 2.1, cores: [3, 30], nodes: null });
		expect(plan[2].nodes).toEqual([2, 20]);
	});

	it("plans at least one node of every actor", () => {
		expect(capacityPlan({ shipping: 0.01 }, [10])[0].nodes).toEqual([1]);
		expect(PLANNED_UTILISATION).toBeLessThan(1);
	});
});
