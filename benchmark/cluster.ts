import { ServiceBroker } from "moleculer";
import type { ShopNode } from "../scripts/nodes";

/**
 * A broker without services that joins the benchmark's shop through the transporter: it waits for the nodes and
 * calls the internal audit actions afterwards.
 */
export async function joinShop(namespace: string, transporter: string): Promise<ServiceBroker> {
	const broker = new ServiceBroker({
		namespace,
		nodeID: `${namespace}-bench-client`,
		transporter,
		logger: false,
		requestTimeout: 30_000,
	});
	await broker.start();
	return broker;
}

/** Resolves once every node's services are available; fails with the node's output as soon as one exits. */
export async function waitForShop(broker: ServiceBroker, nodes: ShopNode[], timeoutMs: number): Promise<void> {
	const services = [...new Set(nodes.flatMap(node => node.services))];
	const crashed = Promise.race(
		nodes.map(node =>
			node.exited.then(code =>
				Promise.reject(new Error(`node ${node.name} exited (${code}) during start:\n${node.recentOutput()}`)),
			),
		),
	);
	await Promise.race([broker.waitForServices(services, timeoutMs, 200), crashed]);
}
