// better-sqlite3 12 ships no typings; the part of its API lib/storage/sqlite.ts uses.
declare module "better-sqlite3" {
	namespace Database {
		type BindValue = string | number | bigint | Buffer | null;
		interface RunResult {
			changes: number;
			lastInsertRowid: number | bigint;
		}
		interface Statement {
			readonly reader: boolean;
			run(...params: BindValue[]): RunResult;
			get(...params: BindValue[]): unknown;
			all(...params: BindValue[]): unknown[];
		}
		interface Options {
			readonly?: boolean;
			fileMustExist?: boolean;
			/** Milliseconds a statement waits for a lock held by another connection. */
			timeout?: number;
		}
		interface Database {
			readonly open: boolean;
			readonly name: string;
			prepare(source: string): Statement;
			exec(source: string): this;
			pragma(source: string, options?: { simple?: boolean }): unknown;
			function(
				name: string,
				options: { deterministic?: boolean },
				implementation: (...args: unknown[]) => BindValue,
			): this;
			close(): this;
		}
	}
	const Database: new (filename?: string, options?: Database.Options) => Database.Database;
	export = Database;
}
