/**
 * Preloaded (`node --require`) into the nodes that scripts/nodes.ts starts. A node whose parent died without
 * stopping it (killed `npm run cluster`, crashed test worker) stops itself instead of staying in the cluster.
 */
const parentPid = process.ppid;

setInterval(() => {
	if (process.ppid !== parentPid) process.kill(process.pid, "SIGTERM");
}, 1000).unref();

export {};
