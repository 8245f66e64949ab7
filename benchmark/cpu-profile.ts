import { readFileSync } from "node:fs";
import path from "node:path";
import { ROOT } from "../scripts/nodes";

/**
 * `tsx benchmark/cpu-profile.ts <file.cpuprofile> [top]`: where a `node --cpu-prof` profile of a shop process spent
 * its time, by self time per function and per package (node_modules/<name>, the shop's own code, Node internals).
 */
interface ProfileNode {
	id: number;
	callFrame: { functionName: string; url: string; lineNumber: number };
	children?: number[];
}
interface Profile {
	nodes: ProfileNode[];
	samples: number[];
	timeDeltas: number[];
}

function owner(url: string): string {
	if (!url) return "(native/V8)";
	if (url.startsWith("node:")) return "node internals";
	const nm = url.lastIndexOf("node_modules/");
	if (nm >= 0) {
		const parts = url.slice(nm + "node_modules/".length).split("/");
		return parts[0].startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0];
	}
	return path
		.relative(ROOT, url.replace(/^file:\/\//, ""))
		.split("/")
		.slice(0, 2)
		.join("/");
}

export function summarise(file: string, top = 25): string {
	const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
	const byId = new Map(profile.nodes.map(n => [n.id, n]));
	const self = new Map<number, number>();
	profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
	let total = 0;
	const byFunction = new Map<string, number>();
	const byOwner = new Map<string, number>();
	for (const [id, us] of self) {
		const { callFrame: f } = byId.get(id)!;
		total += us;
		if (f.functionName === "(idle)" || f.functionName === "(program)") continue;
		const key = `${f.functionName || "(anonymous)"}  ${f.url ? `${path.relative(ROOT, f.url.replace(/^file:\/\//, ""))}:${f.lineNumber + 1}` : ""}`;
		byFunction.set(key, (byFunction.get(key) ?? 0) + us);
		const o = f.functionName === "(garbage collector)" ? "(garbage collector)" : owner(f.url);
		byOwner.set(o, (byOwner.get(o) ?? 0) + us);
	}
	const idle = [...self]
		.filter(([id]) => byId.get(id)!.callFrame.functionName === "(idle)")
		.reduce((a, [, us]) => a + us, 0);
	const pct = (us: number) => `${((us / total) * 100).toFixed(1).padStart(5)} %`;
	const lines = [
		`${path.basename(file)}: ${(total / 1e6).toFixed(1)} s sampled, idle ${pct(idle)}`,
		"",
		"self time by package:",
	];
	for (const [o, us] of [...byOwner].sort((a, b) => b[1] - a[1]).slice(0, 15)) lines.push(`  ${pct(us)}  ${o}`);
	lines.push("", `top ${top} functions by self time:`);
	for (const [fn, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(us)}  ${fn}`);

	// Inclusive time of the shop's own functions (compiled dist/): which action, method or mixin the CPU works for.
	const parent = new Map<number, number>();
	for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
	const inclusive = new Map<string, number>();
	for (const [id, us] of self) {
		const seen = new Set<string>();
		for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
			const { callFrame: f } = byId.get(at)!;
			if (!f.url.includes("/dist/")) continue;
			const key = `${f.functionName || "(anonymous)"}  ${path.relative(ROOT, f.url.replace(/^file:\/\//, ""))}:${f.lineNumber + 1}`;
			if (seen.has(key)) continue;
			seen.add(key);
			inclusive.set(key, (inclusive.get(key) ?? 0) + us);
		}
	}
	lines.push("", `top ${top} of the shop's own functions by inclusive time (synchronous part only):`);
	for (const [fn, us] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(us)}  ${fn}`);
	return lines.join("\n");
}

if (require.main === module) {
	const [file, top] = process.argv.slice(2);
	if (!file) throw new Error("usage: tsx benchmark/cpu-profile.ts <file.cpuprofile> [top]");
	process.stdout.write(summarise(file, top ? Number(top) : undefined) + "\n");
}
