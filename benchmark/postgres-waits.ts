import { Sequelize } from "sequelize";

/** How often the sessions are sampled: often enough for a 10 s run, rarely enough to cost PostgreSQL little. */
const SAMPLE_MS = 200;

/** A session's state and what it waits on, e.g. "idle in transaction: Client/ClientRead" (waiting for the shop). */
interface SessionSample {
	what: string;
	sessions: number;
}

/**
 * What the PostgreSQL sessions of one database did while `work` ran, sampled from pg_stat_activity: the share of
 * session samples (%) per state and wait event. "idle in transaction: Client/ClientRead" is a transaction waiting
 * for the shop's next statement, "active: LWLock/WALWrite" or "IO/WALSync" a commit waiting for the WAL flush,
 * "active: Lock/transactionid" a row lock held by another transaction (a stock row); the idle sessions of the pools
 * are left out. Shows whether an order waits on PostgreSQL (locks, the WAL) or PostgreSQL on the shop.
 */
export async function postgresWaitsDuring<T>(
	uri: string,
	work: () => Promise<T>,
): Promise<{ result: T; waits: Record<string, number> }> {
	const url = new URL(uri);
	const database = decodeURIComponent(url.pathname.slice(1));
	url.pathname = "/postgres";
	const admin = new Sequelize(url.toString(), { logging: false, pool: { max: 1 } });
	const counts = new Map<string, number>();
	const record = (what: string, sessions: number) => void counts.set(what, (counts.get(what) ?? 0) + sessions);
	// A failed sample is counted as such, so a report never shows an empty or partial picture as the whole.
	const sample = (): Promise<void> =>
		admin
			.query(
				`SELECT state || ': ' || coalesce(wait_event_type || '/' || wait_event, 'running') AS what,
					count(*)::int AS sessions
				FROM pg_stat_activity WHERE datname = $1 AND state <> 'idle' AND pid <> pg_backend_pid() GROUP BY 1`,
				{ bind: [database] },
			)
			.then(
				([rows]) => (rows as SessionSample[]).forEach(({ what, sessions }) => record(what, sessions)),
				(err: Error) => record(`sample failed: ${err.message}`, 1),
			);
	// One sample at a time: a slow answer delays the next instead of piling up.
	let sampling = Promise.resolve();
	const timer = setInterval(() => {
		sampling = sampling.then(sample);
	}, SAMPLE_MS);
	try {
		const result = await work();
		return { result, waits: shares(counts) };
	} finally {
		clearInterval(timer);
		await sampling;
		await admin.close();
	}
}

/** Each entry's share of the total in %, largest first, rounded to 0.1. */
function shares(counts: Map<string, number>): Record<string, number> {
	const total = [...counts.values()].reduce((sum, n) => sum + n, 0);
	return Object.fromEntries(
		[...counts].sort((a, b) => b[1] - a[1]).map(([what, n]) => [what, Math.round((n / total) * 1000) / 10]),
	);
}
