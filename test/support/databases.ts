import { randomBytes } from "node:crypto";
import { Sequelize } from "sequelize";
import { SERVERS } from "./servers";

/** A throwaway database on the loopback MariaDB or PostgreSQL, so test files never share tables. */
export async function createTestDatabase(
	kind: "mariadb" | "postgres",
): Promise<{ uri: string; drop: () => Promise<void> }> {
	const name = `emporium_t_${randomBytes(4).toString("hex")}`;
	const base = SERVERS[kind].url;
	const admin = new Sequelize(kind === "postgres" ? `${base}/postgres` : `${base}/test`, { logging: false });
	await admin.query(`CREATE DATABASE ${name}`);
	await admin.close();
	return {
		uri: `${base}/${name}`,
		async drop() {
			const a = new Sequelize(kind === "postgres" ? `${base}/postgres` : `${base}/test`, { logging: false });
			await a.query(
				kind === "postgres" ? `DROP DATABASE IF EXISTS ${name} WITH (FORCE)` : `DROP DATABASE IF EXISTS ${name}`,
			);
			await a.close();
		},
	};
}
