import { useState } from "preact/hooks";
import type { Product, Variant } from "../api/types";
import { Link, navigate } from "../router";
import { ErrorBox, Field, ListTable, MoneyField, Notice, Pager, money, useAction, useAsync } from "../ui";
import { api } from "./session";

/** inventory.low fires under LOW_STOCK_THRESHOLD, 5 by default; the console highlights the same. */
export const LOW_STOCK = 5;

const toCents = (v: string) => Math.round(Number(v) * 100);

function NewProduct() {
	const [f, setF] = useState({ name: "", category: "", description: "", option: "", values: "", sku: "", price: "" });
	const action = useAction();
	const set = (k: keyof typeof f) => (v: string) => setF({ ...f, [k]: v });
	return (
		<form
			class="address"
			onSubmit={e => {
				e.preventDefault();
				const values = f.values
					.split(",")
					.map(v => v.trim())
					.filter(Boolean);
				const base = { name: f.name, category: f.category, ...(f.description ? { description: f.description } : {}) };
				const body =
					f.option && values.length
						? {
								...base,
								options: [{ name: f.option, values }],
								variants: values.map(v => ({
									sku: `${f.sku}-${v}`.toUpperCase().replace(/[^A-Z0-9_-]/g, ""),
									options: { [f.option]: v },
									price: toCents(f.price),
								})),
							}
						: { ...base, sku: f.sku, price: toCents(f.price) };
				void action.run(async () => {
					const p = await api.createProduct(body);
					navigate(`/admin/products/${encodeURIComponent(p.id)}`);
				});
			}}
		>
			<h2>New product</h2>
			<Field label="Name" value={f.name} onInput={set("name")} required />
			<Field label="Category" value={f.category} onInput={set("category")} required />
			<Field label="Description" value={f.description} onInput={set("description")} />
			<Field label="Option name (e.g. Size; empty for one variant)" value={f.option} onInput={set("option")} />
			<Field label="Option values, comma-separated (e.g. S, M, L)" value={f.values} onInput={set("values")} />
			<Field label="SKU (prefix of the variants' SKUs)" value={f.sku} onInput={set("sku")} required />
			<MoneyField label="Price ($)" value={f.price} onInput={set("price")} required />
			<button type="submit" class="primary" disabled={action.busy}>
				Create product
			</button>
			<ErrorBox error={action.error} />
		</form>
	);
}

export function ProductsPage() {
	const [search, setSearch] = useState("");
	const [page, setPage] = useState(1);
	const list = useAsync(() => api.products({ search, page, pageSize: 20, sort: "-createdAt" }), [search, page]);
	return (
		<section>
			<h1>Products</h1>
			<Field label="Search products" type="search" value={search} onInput={v => (setSearch(v), setPage(1))} />
			<ErrorBox error={list.error} />
			<ListTable columns={["Name", "Category", "Variants", "Price"]}>
				{list.data?.rows.map(p => (
					<tr key={p.id}>
						<td>
							<Link href={`/admin/products/${encodeURIComponent(p.id)}`}>{p.name}</Link>
						</td>
						<td>{p.category}</td>
						<td>{p.variants.length}</td>
						<td>{money(p.price, p.currency)}</td>
					</tr>
				))}
			</ListTable>
			<Pager page={page} totalPages={list.data?.totalPages} go={setPage} />
			<NewProduct />
		</section>
	);
}

function VariantRow({
	product,
	variant,
	onChange,
}: {
	product: Product;
	variant: Variant;
	onChange: (p: Product) => void;
}) {
	const stock = useAsync(() => api.stock(variant.id), [variant.id]);
	const [price, setPrice] = useState(String(variant.price / 100));
	const [available, setAvailable] = useState("");
	const action = useAction();
	const low = stock.data !== undefined && stock.data.available < LOW_STOCK;
	return (
		<tr class={low ? "low" : undefined} data-sku={variant.sku}>
			<td>{variant.sku}</td>
			<td>{variant.title}</td>
			<td>
				<form
					class="inline"
					onSubmit={e => {
						e.preventDefault();
						void action.run(async () =>
							onChange(await api.updateVariant(product.id, variant.id, { price: toCents(price) })),
						);
					}}
				>
					<MoneyField label={`Price of ${variant.sku} ($)`} value={price} onInput={setPrice} />
					<button type="submit">Save price</button>
				</form>
			</td>
			<td>
				<span class={low ? "low" : undefined}>
					{stock.data
						? `${stock.data.available} available${low ? " (low)" : ""}, ${stock.data.reserved} reserved`
						: "…"}
				</span>
				<form
					class="inline"
					onSubmit={e => {
						e.preventDefault();
						void action.run(async () => {
							stock.setData(await api.setStock(variant.id, Number(available)));
							setAvailable("");
						});
					}}
				>
					<Field
						label={`Stock of ${variant.sku}`}
						type="number"
						min="0"
						value={available}
						onInput={setAvailable}
						required
					/>
					<button type="submit">Set stock</button>
				</form>
			</td>
			<td>
				<button
					type="button"
					onClick={() => void action.run(async () => onChange(await api.deleteVariant(product.id, variant.id)))}
				>
					Delete variant
				</button>
				<ErrorBox error={action.error ?? stock.error} />
			</td>
		</tr>
	);
}

function AddVariant({ product, onChange }: { product: Product; onChange: (p: Product) => void }) {
	const [values, setValues] = useState<Record<string, string>>({});
	const [sku, setSku] = useState("");
	const [price, setPrice] = useState("");
	const action = useAction();
	return (
		<form
			class="address"
			onSubmit={e => {
				e.preventDefault();
				void action.run(async () => {
					onChange(await api.addVariant(product.id, { sku, options: values, price: toCents(price) }));
					setSku("");
				});
			}}
		>
			<h2>Add a variant</h2>
			{product.options.map(o => (
				<Field
					key={o.name}
					label={`${o.name} (one of ${o.values.join(", ")})`}
					value={values[o.name] ?? ""}
					onInput={v => setValues({ ...values, [o.name]: v })}
					required
				/>
			))}
			<Field label="Variant SKU" value={sku} onInput={setSku} required />
			<MoneyField label="Variant price ($)" value={price} onInput={setPrice} required />
			<button type="submit">Add variant</button>
			<ErrorBox error={action.error} />
		</form>
	);
}

export function ProductEditPage({ id }: { id: string }) {
	const product = useAsync(() => api.product(id), [id]);
	const [f, setF] = useState<{ name: string; category: string; description: string } | null>(null);
	const [saved, setSaved] = useState(false);
	const action = useAction();
	const p = product.data;
	if (product.error) return <ErrorBox error={product.error} />;
	if (!p) return <p>Loading…</p>;
	const form = f ?? { name: p.name, category: p.category, description: p.description ?? "" };
	const set = (k: keyof typeof form) => (v: string) => (setSaved(false), setF({ ...form, [k]: v }));
	return (
		<section>
			<p>
				<Link href="/admin/products">All products</Link>
			</p>
			<h1>{p.name}</h1>
			<form
				class="address"
				onSubmit={e => {
					e.preventDefault();
					void action.run(async () => {
						product.setData(await api.updateProduct(p.id, form));
						setSaved(true);
					});
				}}
			>
				<Field label="Name" value={form.name} onInput={set("name")} required />
				<Field label="Category" value={form.category} onInput={set("category")} required />
				<Field label="Description" value={form.description} onInput={set("description")} />
				<button type="submit">Save product</button>
				{saved && <Notice>Saved.</Notice>}
			</form>
			<h2>Variants and stock</h2>
			<ListTable columns={["SKU", "Variant", "Price", "Stock"]} actions>
				{p.variants.map(v => (
					<VariantRow key={v.id} product={p} variant={v} onChange={product.setData} />
				))}
			</ListTable>
			{p.options.length > 0 && <AddVariant product={p} onChange={product.setData} />}
			<button
				type="button"
				onClick={() =>
					void action.run(async () => {
						if (!confirm(`Delete ${p.name}?`)) return;
						await api.deleteProduct(p.id);
						navigate("/admin/products");
					})
				}
			>
				Delete product
			</button>
			<ErrorBox error={action.error} />
		</section>
	);
}
