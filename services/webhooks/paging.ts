import { pageOf, type Page } from "../../lib/actor";
import type { Doc, Store, Where } from "../../lib/storage";

export type Paging = { page?: number; pageSize?: number };

/** One page of a collection (default: the first 20), with the total count. */
export async function pageFrom<T extends Doc>(
	store: Store<T>,
	where: Where<T>,
	sort: string[],
	p: Paging,
): Promise<Page<T>> {
	const { page: n = 1, pageSize: size = 20 } = p;
	const [rows, total] = await Promise.all([
		store.find(where, { sort, limit: size, offset: (n - 1) * size }),
		store.count(where),
	]);
	return pageOf(rows, total, n, size);
}
