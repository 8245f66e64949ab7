import { Loggers, type LoggerBindings, type LogLevels } from "moleculer";
import pino, { type Logger as PinoInstance } from "pino";
import { currentContext } from "./request-context";

/**
 * Logging for the shop: one JSON object per line (`LOG_FORMAT=json`, for ELK/Loki) or Moleculer's readable console
 * format (the dev default). Both redact secrets first, whatever logs them and at whatever level: libraries log
 * params, options and errors at debug (moleculer-web can log request bodies, which carry passwords).
 */

const SECRET_KEY = /pass(word|wd)|secret|token|authorization|cookie|api[-_]?key/i;
const SECRET_TEXT: [RegExp, string][] = [
	[/\beyJ[\w-]*\.[\w-]+\.[\w-]+/g, "[REDACTED JWT]"],
	[/\bscrypt\$[0-9a-f]+\$[0-9a-f]+/gi, "[REDACTED HASH]"],
	[/\b(Bearer|Basic)\s+[\w.~+/=-]+/g, "$1 [REDACTED]"],
];
const REDACTED = "[REDACTED]";
const MAX_DEPTH = 8;

export function redactText(text: string): string {
	return SECRET_TEXT.reduce((s, [pattern, replacement]) => s.replace(pattern, replacement), text);
}

/**
 * A copy of `value` with secret-looking keys masked and tokens or password hashes in strings replaced.
 * Plain objects and arrays are copied; other objects (errors, buffers, class instances) are kept as they are.
 */
export function redact(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
	if (typeof value === "string") return redactText(value);
	if (value === null || typeof value !== "object") return value;
	const isPlain =
		Array.isArray(value) || Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null;
	if (!isPlain) return value;
	if (seen.has(value)) return "[Circular]";
	if (depth >= MAX_DEPTH) return "[Object]";
	seen.add(value);
	if (Array.isArray(value)) return value.map(item => redact(item, depth + 1, seen));
	// A validation error names the field and echoes its value: `{ field: "password", actual: "..." }`.
	const echoesSecret =
		typeof (value as { field?: unknown }).field === "string" && SECRET_KEY.test((value as { field: string }).field);
	return Object.fromEntries(
		Object.entries(value).map(([key, item]) => {
			const secret = SECRET_KEY.test(key) || (echoesSecret && key === "actual");
			return [key, secret && item != null ? REDACTED : redact(item, depth + 1, seen)];
		}),
	);
}

function errorFields(err: Error & { code?: unknown; type?: unknown; data?: unknown }) {
	return redact({
		type: err.name,
		message: err.message,
		code: err.code,
		errorType: err.type,
		data: err.data,
		stack: err.stack,
	});
}

/**
 * Moleculer loggers are called like `console.log` (`logger.warn("text", obj, err)`), pino takes one object and one
 * message and drops the rest: texts become the message, an error goes to `err`, other objects to `data`.
 */
export function toLogRecord(args: unknown[]): { fields: Record<string, unknown>; msg: string } {
	const texts: string[] = [];
	const data: unknown[] = [];
	const fields: Record<string, unknown> = {};
	for (const arg of args) {
		if (arg instanceof Error) fields.err = errorFields(arg);
		else if (arg !== null && typeof arg === "object") data.push(redact(arg));
		else texts.push(redactText(String(arg)));
	}
	if (data.length) fields.data = data.length === 1 ? data[0] : data;
	return { fields, msg: texts.join(" ") };
}

/**
 * @moleculer/channels 0.1.8's Kafka adapter logs every message it has handled at info: a line per event and consumer
 * group, which would bury what an operator reads at info. It is logged at debug instead.
 */
const PER_MESSAGE_LINES = new Set(["Message is processed. Committing offset"]);

/** The level a line is logged at: its own, or debug for a library's per-message line. */
export function levelOf(type: LogLevels, args: unknown[]): LogLevels {
	return type === "info" && PER_MESSAGE_LINES.has(args[0] as string) ? "debug" : type;
}

type LoggerClass = new (opts: Record<string, unknown>) => Loggers.Base & { opts: Record<string, unknown> };
const { Pino: PinoLogger, Console: ConsoleLogger } = Loggers as unknown as { Pino: LoggerClass; Console: LoggerClass };

/** Moleculer's Pino logger with the fields log pipelines index: nodeID, service, requestID, and a level name. */
class JsonLogger extends PinoLogger {
	declare pino: PinoInstance;

	getLogHandler(bindings?: LoggerBindings) {
		const level = bindings ? this.getLogLevel(bindings.mod) : null;
		if (!bindings || !level) return null;
		const logger = this.pino.child(
			{
				nodeID: bindings.nodeID,
				ns: bindings.ns || undefined,
				service: bindings.svc ?? bindings.mod,
				version: bindings.ver,
			},
			{ level },
		);
		return (logged: LogLevels, args: unknown[]) => {
			const type = levelOf(logged, args);
			// Redacting is the costly part: not for a level that is off (moleculer-web logs every request at debug).
			if (!logger.isLevelEnabled(type)) return;
			const { fields, msg } = toLogRecord(args);
			const requestID = currentContext()?.requestID;
			logger[type]({ requestID: requestID ?? undefined, ...fields }, msg);
		};
	}
}

const LEVELS: readonly LogLevels[] = ["fatal", "error", "warn", "info", "debug", "trace"];

class RedactingConsoleLogger extends ConsoleLogger {
	getLogHandler(bindings?: LoggerBindings) {
		const handler = super.getLogHandler(bindings);
		if (!handler) return handler;
		// The console logger drops a level that is off only after this redacts, which costs on every request.
		const enabled = LEVELS.indexOf(this.getLogLevel(bindings!.mod) as LogLevels);
		return (logged: LogLevels, args: unknown[]) => {
			const type = levelOf(logged, args);
			if (LEVELS.indexOf(type) <= enabled)
				handler(
					type,
					args.map(arg => redact(arg)),
				);
		};
	}
}

/** The broker's `logger`: JSON lines when `LOG_FORMAT=json`, else the readable console format; level `LOGLEVEL`. */
export function createLogger(env: NodeJS.ProcessEnv): Loggers.Base {
	const level = (env.LOGLEVEL || "info") as LogLevels;
	if (env.LOG_FORMAT === "json") {
		return new JsonLogger({
			level,
			pino: {
				options: {
					// nodeID comes with each module's bindings; pid and hostname would repeat it.
					base: null,
					timestamp: pino.stdTimeFunctions.isoTime,
					formatters: { level: (label: string) => ({ level: label }) },
				},
			},
		});
	}
	const tty = !!process.stdout.isTTY;
	return new RedactingConsoleLogger({ level, formatter: "short", colors: tty, moduleColors: tty });
}
