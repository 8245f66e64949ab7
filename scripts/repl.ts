import os from "node:os";
import { ServiceBroker } from "moleculer";
import { brokerOptions } from "../moleculer.config";

/**
 * `npm run repl`: a node without services that joins a running cluster (`npm run cluster`, `npm start` nodes,
 * Compose) over `TRANSPORTER` in the same `NAMESPACE`, with the Moleculer REPL open:
 *   nodes | services | actions
 *   call orders.list --#user.id ops --#user.role admin      (`--#a.b v` sets meta.a.b; actions with `auth` need a user)
 *   call orders.list '{"status":"FAILED"}' '{"user":{"id":"ops","role":"admin"}}'
 *   check --settled                                         (the stock and money invariants)
 */
const env: NodeJS.ProcessEnv = {
	...process.env,
	TRANSPORTER: process.env.TRANSPORTER || "nats://127.0.0.1:4222",
	NODEID: process.env.NODEID || `repl-${os.hostname().toLowerCase()}-${process.pid}`,
	// It hosts no service, so it publishes and consumes no event: no event bus needed unless EVENTS_URL names one.
	EVENTS_IN_PROCESS: "true",
	// Its metrics port would collide with a node's on the same machine, and a REPL has nothing to report.
	METRICS: "false",
};

const broker = new ServiceBroker(brokerOptions(env));

broker
	.start()
	.then(() => broker.repl())
	.catch((err: Error) => {
		broker.logger.error(`Cannot join the cluster at ${env.TRANSPORTER}: ${err.message}`);
		process.exit(1);
	});
