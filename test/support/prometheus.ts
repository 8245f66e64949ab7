/**
 * A strict parser for the Prometheus text exposition format 0.0.4, following the reference parser
 * (prometheus/common expfmt) and adding the rules Prometheus enforces when it ingests a scrape:
 * no duplicate series, each metric family in one group, histogram buckets cumulative up to le="+Inf".
 * Any violation throws with its line number.
 */

export type MetricType = "counter" | "gauge" | "histogram" | "summary" | "untyped";

export interface Sample {
	name: string;
	labels: Record<string, string>;
	value: number;
	timestamp?: number;
}

export interface MetricFamily {
	name: string;
	type: MetricType;
	help?: string;
	samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const TYPES = new Set<MetricType>(["counter", "gauge", "histogram", "summary", "untyped"]);

/** Go's strconv.ParseFloat as expfmt uses it, without hex floats or underscores. */
export function parseFloatStrict(token: string): number {
	if (/^[+-]?(inf|infinity)$/i.test(token)) return token.startsWith("-") ? -Infinity : Infinity;
	if (/^nan$/i.test(token)) return NaN;
	if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(token)) throw new Error(`not a float: "${token}"`);
	return Number(token);
}

/** Reads a quoted string starting at `text[start] === '"'`; returns its value and the index after the closing quote. */
function readQuoted(text: string, start: number, escapes: Record<string, string>): [string, number] {
	let value = "";
	for (let i = start + 1; i < text.length; i++) {
		const c = text[i];
		if (c === '"') return [value, i + 1];
		if (c === "\\") {
			const next = text[++i];
			if (next === undefined || !(next in escapes)) throw new Error(`invalid escape sequence "\\${next ?? ""}"`);
			value += escapes[next];
		} else value += c;
	}
	throw new Error("unterminated label value");
}

/** HELP docstrings know two escapes, backslash-backslash and backslash-n (expfmt also takes backslash-quote). */
function unescapeHelp(text: string): string {
	return text.replace(/\\(.?)/g, (_, c: string) => {
		if (c === "\\") return "\\";
		if (c === "n") return "\n";
		if (c === '"') return '"';
		throw new Error(`invalid escape sequence "\\${c}" in HELP`);
	});
}

function skipBlanks(text: string, i: number): number {
	while (text[i] === " " || text[i] === "\t") i++;
	return i;
}

function parseSample(line: string): Sample {
	const nameMatch = METRIC_NAME.exec(line);
	if (!nameMatch) throw new Error("invalid metric name");
	const name = nameMatch[0];
	let i = skipBlanks(line, name.length);
	const labels: Record<string, string> = {};
	if (line[i] === "{") {
		i = skipBlanks(line, i + 1);
		while (line[i] !== "}") {
			const labelMatch = LABEL_NAME.exec(line.slice(i));
			if (!labelMatch) throw new Error(`invalid label name at column ${i + 1}`);
			const label = labelMatch[0];
			if (label === "__name__") throw new Error('label name "__name__" is reserved');
			if (label in labels) throw new Error(`duplicate label name "${label}"`);
			i = skipBlanks(line, i + label.length);
			if (line[i] !== "=") throw new Error(`expected '=' after label name "${label}"`);
			i = skipBlanks(line, i + 1);
			if (line[i] !== '"') throw new Error(`expected '"' at start of the value of label "${label}"`);
			[labels[label], i] = readQuoted(line, i, { "\\": "\\", '"': '"', n: "\n" });
			i = skipBlanks(line, i);
			if (line[i] === ",") i = skipBlanks(line, i + 1);
			else if (line[i] !== "}") throw new Error(`expected ',' or '}' after the value of label "${label}"`);
		}
		i++;
	}
	const rest = line.slice(i);
	if (!/^[ \t]/.test(rest)) throw new Error("expected whitespace before the value");
	const tokens = rest.trim().split(/[ \t]+/);
	if (tokens.length > 2) throw new Error(`spurious text after the sample: "${tokens.slice(2).join(" ")}"`);
	const sample: Sample = { name, labels, value: parseFloatStrict(tokens[0]) };
	if (tokens.length === 2) {
		if (!/^-?\d+$/.test(tokens[1])) throw new Error(`expected an integer timestamp, got "${tokens[1]}"`);
		sample.timestamp = Number(tokens[1]);
	}
	return sample;
}

function seriesKey(name: string, labels: Record<string, string>, omit?: string): string {
	const pairs = Object.keys(labels)
		.filter(k => k !== omit)
		.sort()
		.map(k => `${k}=${JSON.stringify(labels[k])}`);
	return `${name}{${pairs.join(",")}}`;
}

/** Buckets cumulative in `le` order, a +Inf bucket, and `_count` equal to it. */
function checkHistogram(family: MetricFamily): void {
	const groups = new Map<string, { buckets: [number, number][]; count?: number }>();
	for (const s of family.samples) {
		const key = seriesKey(family.name, s.labels, "le");
		const group = groups.get(key) ?? { buckets: [] };
		groups.set(key, group);
		if (s.name === `${family.name}_bucket`) {
			if (s.labels.le === undefined) throw new Error(`${s.name} without an "le" label`);
			group.buckets.push([parseFloatStrict(s.labels.le), s.value]);
		} else if (s.name === `${family.name}_count`) group.count = s.value;
	}
	for (const [key, { buckets, count }] of groups) {
		if (buckets.length === 0) continue;
		buckets.sort((a, b) => a[0] - b[0]);
		for (let k = 1; k < buckets.length; k++) {
			if (buckets[k][1] < buckets[k - 1][1])
				throw new Error(`histogram ${key}: buckets are not cumulative at le=${buckets[k][0]}`);
		}
		const last = buckets[buckets.length - 1];
		if (last[0] !== Infinity) throw new Error(`histogram ${key}: no le="+Inf" bucket`);
		if (count !== undefined && count !== last[1])
			throw new Error(`histogram ${key}: _count ${count} differs from the +Inf bucket ${last[1]}`);
	}
}

export function parsePrometheusText(text: string): Map<string, MetricFamily> {
	const families = new Map<string, MetricFamily>();
	const series = new Set<string>();
	const finished = new Set<string>();
	const typed = new Set<string>();
	let current: MetricFamily | undefined;

	const familyOf = (name: string): MetricFamily => {
		let family = families.get(name);
		if (!family) {
			for (const [suffix, types] of [
				["_bucket", ["histogram"]],
				["_sum", ["histogram", "summary"]],
				["_count", ["histogram", "summary"]],
			] as const) {
				const base = families.get(name.slice(0, -suffix.length));
				if (name.endsWith(suffix) && base && (types as readonly string[]).includes(base.type)) return base;
			}
			family = { name, type: "untyped", samples: [] };
			families.set(name, family);
		}
		return family;
	};
	const enter = (family: MetricFamily) => {
		if (current === family) return;
		if (finished.has(family.name)) throw new Error(`lines of metric "${family.name}" are not in one group`);
		if (current) finished.add(current.name);
		current = family;
	};

	const lines = text.split("\n");
	if (lines[lines.length - 1] === "") lines.pop();
	lines.forEach((line, index) => {
		try {
			if (/^[ \t]*$/.test(line)) return;
			const directive = /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(line);
			if (directive) {
				const [, kind, name, rest = ""] = directive;
				if (METRIC_NAME.exec(name)?.[0] !== name) throw new Error(`invalid metric name "${name}"`);
				const family = familyOf(name);
				if (family.name !== name)
					throw new Error(`${kind} for "${name}", a sample name of histogram or summary "${family.name}"`);
				enter(family);
				if (kind === "HELP") {
					if (family.help !== undefined) throw new Error(`second HELP line for "${name}"`);
					family.help = unescapeHelp(rest);
				} else {
					if (family.samples.length > 0 || typed.has(name))
						throw new Error(`second TYPE line for "${name}", or TYPE after its samples`);
					if (!TYPES.has(rest.trim() as MetricType)) throw new Error(`unknown metric type "${rest.trim()}"`);
					family.type = rest.trim() as MetricType;
					typed.add(name);
				}
				return;
			}
			if (line.startsWith("#")) return;
			const sample = parseSample(line);
			const family = familyOf(sample.name);
			enter(family);
			if (family.type === "summary" && sample.name === family.name) parseFloatStrict(sample.labels.quantile ?? "");
			const key = seriesKey(sample.name, sample.labels);
			if (series.has(key)) throw new Error(`duplicate series ${key}`);
			series.add(key);
			family.samples.push(sample);
		} catch (err) {
			throw new Error(`Prometheus text, line ${index + 1}: ${(err as Error).message}\n  ${line}`);
		}
	});
	for (const family of families.values()) if (family.type === "histogram") checkHistogram(family);
	return families;
}

/**
 * The value of the one sample of `name` whose labels include `labels`; 0 when there is none (a counter not yet
 * incremented).
 */
export function sampleValue(
	families: Map<string, MetricFamily>,
	name: string,
	labels: Record<string, string> = {},
): number {
	const matches = [...families.values()]
		.flatMap(f => f.samples)
		.filter(s => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
	if (matches.length > 1) throw new Error(`${matches.length} samples of ${name} match ${JSON.stringify(labels)}`);
	return matches[0]?.value ?? 0;
}
