import { useState } from "preact/hooks";
import { Link, navigate } from "../router";
import { ErrorBox, Field, MoneyField, Pager, money, useAsync } from "../ui";
import { api } from "./session";

const PAGE_SIZE = 12;

/** Query string value in cents from a price typed in dollars; "" when empty or not a number. */
function cents(v: string): string {
	const n = Number(v);
	return v.trim() === "" || !Number.isFinite(n) || n < 0 ? "" : String(Math.round(n * 100));
}

export function Catalogue({ query }: { query: URLSearchParams }) {
	const search = query.get("search") ?? "";
	const category = query.get("category") ?? "";
	const minPrice = query.get("minPrice") ?? "";
	const maxPrice = query.get("maxPrice") ?? "";
	const page = Number(query.get("page") ?? "1") || 1;
	const [form, setForm] = useState({
		search,
		category,
		min: minPrice ? String(Number(minPrice) / 100) : "",
		max: maxPrice ? String(Number(maxPrice) / 100) : "",
	});
	// Categories come from the catalogue itself (there is no category route): the first 100 products.
	const categories = useAsync(
		async () => [...new Set((await api.products({ pageSize: 100 })).rows.map(p => p.category))].sort(),
		[],
	);
	const list = useAsync(
		() =>
			api.products({
				search,
				category,
				minPrice: minPrice ? Number(minPrice) : undefined,
				maxPrice: maxPrice ? Number(maxPrice) : undefined,
				page,
				pageSize: PAGE_SIZE,
				sort: "name",
			}),
		[search, category, minPrice, maxPrice, page],
	);

	const go = (p: number, f = form) => {
		const qs = new URLSearchParams();
		if (f.search) qs.set("search", f.search);
		if (f.category) qs.set("category", f.category);
		if (cents(f.min)) qs.set("minPrice", cents(f.min));
		if (cents(f.max)) qs.set("maxPrice", cents(f.max));
		if (p > 1) qs.set("page", String(p));
		navigate(`/${qs.size ? `?${qs.toString()}` : ""}`);
	};

	return (
		<section>
			<h1>Catalogue</h1>
			<form
				class="filters"
				role="search"
				onSubmit={e => {
					e.preventDefault();
					go(1);
				}}
			>
				<Field label="Search" type="search" value={form.search} onInput={v => setForm({ ...form, search: v })} />
				<label class="field">
					<span>Category</span>
					<select value={form.category} onChange={e => setForm({ ...form, category: e.currentTarget.value })}>
						<option value="">All categories</option>
						{(categories.data ?? []).map(c => (
							<option key={c} value={c}>
								{c}
							</option>
						))}
					</select>
				</label>
				<MoneyField label="Min price ($)" value={form.min} onInput={v => setForm({ ...form, min: v })} />
				<MoneyField label="Max price ($)" value={form.max} onInput={v => setForm({ ...form, max: v })} />
				<button type="submit">Filter</button>
			</form>
			<ErrorBox error={list.error} />
			{list.data && list.data.rows.length === 0 && <p>No products match.</p>}
			<ul class="grid">
				{list.data?.rows.map(p => (
					<li key={p.id} class="card">
						<Link href={`/products/${encodeURIComponent(p.id)}`}>
							<h2>{p.name}</h2>
						</Link>
						<p class="muted">{p.category}</p>
						<p>
							{p.variants.length > 1 ? "from " : ""}
							<strong>{money(p.price, p.currency)}</strong>
						</p>
					</li>
				))}
			</ul>
			<Pager page={page} totalPages={list.data?.totalPages} go={go} />
		</section>
	);
}
