import { mkdirSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { StorageUnavailableError } from "../errors";
import { CONTAINS_FUNCTION, type SqlStatement, type SqlValue } from "./sql";

/** Prepared statements kept per database; past this many distinct texts (long `$in` lists) the cache starts over. */
const MAX_STATEMENTS = 500;

/**
 * The directory an in-process store keeps its files in: `sqlite://<dir>`, `nedb://<dir>` (the scheme of the store
 * before SQLite, kept as an alias), else `DATA_DIR` for `memory://`; none: the store lives in memory only.
 */
export function dataDirectory(uri: string): string | undefined {
	const match = /^(?:sqlite|nedb):\/\/(.*)$/i.exec(uri);
	return (match ? match[1] : process.env.DATA_DIR) || undefined;
}

/** better-sqlite3 binds no booleans, and binds every JS number as a REAL: whole numbers go as 64-bit integers. */
function bindValue(value: SqlValue): Database.BindValue {
	if (typeof value === "boolean") return value ? 1 : 0;
	if (typeof value === "number" && Number.isSafeInteger(value)) return BigInt(value);
	return value;
}

/**
 * One SQLite database of the in-process store (better-sqlite3, synchronous: each statement is atomic on its own,
 * nothing else runs while it does). In memory, or the file `<dir>/<name>.sqlite` in WAL mode; `synchronous=NORMAL`
 * may lose the last commits on a power cut but never corrupts the file, which suits a development store.
 */
export class SqliteDatabase {
	private readonly db: Database.Database;
	private readonly statements = new Map<string, Database.Statement>();

	constructor(name: string, dir: string | undefined) {
		if (dir) {
			mkdirSync(dir, { recursive: true });
			this.db = new Database(path.join(dir, `${name}.sqlite`), { timeout: 5000 });
			this.db.pragma("journal_mode = WAL");
			this.db.pragma("synchronous = NORMAL");
		} else this.db = new Database(":memory:");
		// Searches fold case as NeDB's RegExp with the `i` flag did, beyond ASCII.
		this.db.function(CONTAINS_FUNCTION, { deterministic: true }, (text, part) =>
			typeof text === "string" && typeof part === "string" && text.toLowerCase().includes(part.toLowerCase()) ? 1 : 0,
		);
	}

	private prepare(text: string): Database.Statement {
		// A store used after its service stopped answers as an unreachable database would.
		if (!this.db.open) throw new StorageUnavailableError();
		let statement = this.statements.get(text);
		if (!statement) {
			if (this.statements.size >= MAX_STATEMENTS) this.statements.clear();
			statement = this.db.prepare(text);
			this.statements.set(text, statement);
		}
		return statement;
	}

	all<R>(statement: SqlStatement): R[] {
		return this.prepare(statement.text).all(...statement.values.map(bindValue)) as R[];
	}

	get<R>(statement: SqlStatement): R | undefined {
		return this.prepare(statement.text).get(...statement.values.map(bindValue)) as R | undefined;
	}

	/** Runs a write; how many rows it matched (SQLite counts every row an UPDATE matched, changed or not). */
	run(statement: SqlStatement): number {
		return this.prepare(statement.text).run(...statement.values.map(bindValue)).changes;
	}

	close(): void {
		if (this.db.open) this.db.close();
	}
}
