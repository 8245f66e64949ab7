import { createHash } from "node:crypto";
import { TracerExporters, type TracerOptions } from "moleculer";

const HEX_TRACE_ID = /^(?:[0-9a-f]{16}|[0-9a-f]{32})$/;

/**
 * The Zipkin trace id of a request: the request id itself when it is a UUID or 16/32 hex digits (dashes removed,
 * lower case), else the first 32 hex digits of its SHA-256. Every span of a request carries the request id as
 * its trace id, so an operator finds the trace from the response's `X-Request-ID`: paste it without dashes into
 * Zipkin's trace id box, or search the tag `requestID=<X-Request-ID>` for client-chosen ids.
 */
export function traceIdOf(requestID: string): string {
	const compact = requestID.replace(/-/g, "").toLowerCase();
	return HEX_TRACE_ID.test(compact) ? compact : createHash("sha256").update(requestID).digest("hex").slice(0, 32);
}

interface SpanLike {
	traceID: string;
	type: string;
	service?: { fullName?: string };
}
type ZipkinPayload = Record<string, unknown> & {
	parentId: string | null;
	duration: number | null;
	localEndpoint: { serviceName: string | null };
	remoteEndpoint?: unknown;
	tags: Record<string, unknown>;
};
type ZipkinExporterClass = new (
	opts: Record<string, unknown>,
) => TracerExporters.Zipkin & { makePayload(span: SpanLike): ZipkinPayload };
const MoleculerZipkinExporter = TracerExporters.Zipkin as unknown as ZipkinExporterClass;

/**
 * Moleculer's Zipkin exporter cuts ids to 16 characters after removing dashes; a client-supplied request id
 * that is not hex then makes Zipkin reject the whole batch (400). This one sends valid Zipkin v2 spans:
 * trace ids from `traceIdOf`, no null parent id on roots, a service name on every span, channel spans of kind
 * CONSUMER, durations of at least 1 µs.
 */
export class ZipkinExporter extends MoleculerZipkinExporter {
	makePayload(span: SpanLike): ZipkinPayload {
		const payload = super.makePayload(span);
		const serviceName = span.service?.fullName ?? "emporium";
		payload.traceId = traceIdOf(span.traceID);
		if (payload.parentId == null) delete (payload as Partial<ZipkinPayload>).parentId;
		payload.localEndpoint = { serviceName };
		// An action span is the server side of its call, a channel span the consumer of a message; the caller is
		// another span of the trace, not a remote endpoint.
		if (span.type === "channel") payload.kind = "CONSUMER";
		delete payload.remoteEndpoint;
		payload.tags.service = serviceName;
		if (payload.duration != null) payload.duration = Math.max(1, payload.duration);
		return payload;
	}
}

/**
 * Zipkin tracing when `ZIPKIN_URL` is set (e.g. http://zipkin:9411), sampling `TRACING_SAMPLE_RATE` (0..1, default 1).
 */
export function tracingOptions(env: NodeJS.ProcessEnv): TracerOptions {
	const zipkinUrl = env.ZIPKIN_URL;
	const rate = Number(env.TRACING_SAMPLE_RATE ?? 1);
	if (!(rate >= 0 && rate <= 1))
		throw new Error(`TRACING_SAMPLE_RATE must be between 0 and 1, got "${env.TRACING_SAMPLE_RATE}"`);
	return {
		enabled: !!zipkinUrl,
		sampling: { rate },
		// Params hold passwords and payment tokens, and validation error data echoes them: neither goes to Zipkin.
		tags: { action: { params: false }, event: { params: false } },
		errorFields: ["name", "message", "code", "type"],
		exporter: zipkinUrl ? [new ZipkinExporter({ baseURL: zipkinUrl.replace(/\/$/, ""), interval: 1 }) as never] : [],
	};
}
