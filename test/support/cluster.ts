import { randomBytes } from "node:crypto";
import { ServiceBroker } from "moleculer";
import { dropNamespace as dropNamespaceOn, type ShopNode } from "../../scripts/nodes";
import { SERVERS } from "./servers";

/** A namespace of its own per test run: parallel runs and streams left by old runs never mix. */
export function uniqueNamespace(label: string): string {
	return `t-${label}-${randomBytes(4).toString("hex")}`;
}

/** A broker without services that joins a cluster, to inspect its registry and call internal actions (audits). */
export async function joinCluster(namespace: string, transporter: string = SERVERS.nats.url): Promise<ServiceBroker> {
	const broker = new ServiceBroker({
		namespace,
		nodeID: `${namespace}-test-client`,
		transporter,
		logger: false,
		requestTimeout: 10_000,
	});
	await broker.start();
	return broker;
}

/** Services each node hosts, as `broker`'s registry sees them (only available nodes). */
export function hostedServices(broker: ServiceBroker): Map<string, Set<string>> {
	const byNode = new Map<string, Set<string>>();
	const list = broker.registry.getServiceList({ onlyAvailable: true, skipInternal: true }) as {
		name: string;
		nodeID: string;
		available: boolean;
	}[];
	for (const { name, nodeID } of list) byNode.set(nodeID, (byNode.get(nodeID) ?? new Set()).add(name));
	return byNode;
}

/**
 * Waits until every node runs all its services as seen from `broker`. Fails at once, with the node's last output,
 * when one of the processes exits instead.
 */
export async function waitForNodes(broker: ServiceBroker, nodes: ShopNode[], timeoutMs = 60_000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const dead = nodes.find(node => !node.running());
		if (dead) throw new Error(`node ${dead.name} exited during start:\n${dead.recentOutput()}`);
		const hosted = hostedServices(broker);
		const missing = nodes.filter(node => !node.services.every(s => hosted.get(node.nodeID)?.has(s)));
		if (missing.length === 0) return;
		if (Date.now() > deadline)
			throw new Error(`nodes not up within ${timeoutMs} ms: ${missing.map(n => n.name).join(", ")}`);
		await new Promise(resolve => setTimeout(resolve, 200));
	}
}

/** Deletes what a test namespace left on the loopback servers: JetStream streams and Redis keys. */
export function dropNamespace(namespace: string): Promise<void> {
	return dropNamespaceOn(namespace, SERVERS.nats.url, SERVERS.redis.url);
}
