import { useEffect, useState } from "preact/hooks";
import type { Variant } from "../api/types";
import { ErrorBox, Notice, money, useAction, useAsync } from "../ui";
import { api, ensureCart, setCart } from "./session";

export function ProductPage({ id }: { id: string }) {
	const product = useAsync(() => api.product(id), [id]);
	const [choice, setChoice] = useState<Record<string, string>>({});
	const [quantity, setQuantity] = useState(1);
	const [added, setAdded] = useState(false);
	const action = useAction();
	const p = product.data;

	useEffect(() => {
		if (p) setChoice({ ...p.variants[0].options });
	}, [p]);

	const variant: Variant | undefined = p?.variants.find(v =>
		p.options.every(o => v.options[o.name] === choice[o.name]),
	);
	const stock = useAsync(async () => (variant ? api.stock(variant.id) : undefined), [variant?.id]);
	const available = stock.data?.available;

	if (product.error) return <ErrorBox error={product.error} />;
	if (!p) return <p>Loading…</p>;
	return (
		<section class="product">
			<h1>{p.name}</h1>
			<p class="muted">{p.category}</p>
			<p>{p.description}</p>
			<form
				onSubmit={e => {
					e.preventDefault();
					if (!variant) return;
					void action.run(async () => {
						const cart = await ensureCart();
						setCart(await api.addItem(cart.id, variant.id, quantity));
						setAdded(true);
					});
				}}
			>
				{p.options.map(o => (
					<fieldset key={o.name} class="options">
						<legend>{o.name}</legend>
						{o.values.map(v => (
							<label key={v} class="option">
								<input
									type="radio"
									name={o.name}
									value={v}
									checked={choice[o.name] === v}
									onChange={() => {
										setAdded(false);
										setChoice({ ...choice, [o.name]: v });
									}}
								/>
								{v}
							</label>
						))}
					</fieldset>
				))}
				{variant ? (
					<>
						<p class="price">{money(variant.price, variant.currency)}</p>
						<p class={available === 0 ? "stock out" : "stock"} data-testid="stock">
							{available === undefined
								? "Checking stock…"
								: available === 0
									? "Out of stock"
									: `In stock: ${available}`}
						</p>
					</>
				) : (
					<p>This combination is not available.</p>
				)}
				<label class="field qty">
					<span>Quantity</span>
					<input
						type="number"
						min="1"
						max="1000"
						value={quantity}
						onInput={e => setQuantity(Math.max(1, Number(e.currentTarget.value) || 1))}
					/>
				</label>
				<button type="submit" class="primary" disabled={!variant || available === 0 || action.busy}>
					Add to cart
				</button>
			</form>
			<ErrorBox error={action.error} />
			{added && <Notice>Added to your cart.</Notice>}
		</section>
	);
}
