import { useState } from "preact/hooks";
import type { Cart, Totals } from "../api/types";
import { navigate } from "../router";
import { ErrorBox, Field, TableHead, money, reasonText, useAction } from "../ui";
import { api, setCart, useSession } from "./session";

export function TotalsTable({ totals, currency }: { totals: Totals; currency: string }) {
	const rows: [string, number | undefined][] = [
		["Subtotal", totals.subtotal],
		// No discount row without a discount (a "-$0.00" line says nothing).
		["Discount", totals.discount ? -totals.discount : undefined],
		["Shipping", totals.shipping],
		["Tax", totals.tax],
	];
	return (
		<table class="totals" aria-label="Totals">
			<tbody>
				{rows
					.filter(([, v]) => v !== undefined)
					.map(([label, v]) => (
						<tr key={label}>
							<th scope="row">{label}</th>
							<td>{money(v, currency)}</td>
						</tr>
					))}
				<tr class="grand">
					<th scope="row">Total</th>
					<td>{money(totals.total, currency)}</td>
				</tr>
			</tbody>
		</table>
	);
}

function DiscountForm({ cart }: { cart: Cart }) {
	const [code, setCode] = useState("");
	const action = useAction();
	return (
		<form
			class="inline"
			onSubmit={e => {
				e.preventDefault();
				void action.run(async () => {
					setCart(await api.applyDiscount(cart.id, code.trim()));
					setCode("");
				});
			}}
		>
			<Field label="Discount code" value={code} onInput={setCode} autocomplete="off" required />
			<button type="submit" disabled={action.busy || !code.trim()}>
				Apply
			</button>
			{cart.discountCode && (
				<p>
					Code <strong>{cart.discountCode}</strong> applied.{" "}
					{cart.discountProblem && (
						<span class="warn">It takes nothing off now ({reasonText(cart.discountProblem)}). </span>
					)}
					<button
						type="button"
						onClick={() => void action.run(async () => setCart(await api.removeDiscount(cart.id, cart.discountCode!)))}
					>
						Remove code
					</button>
				</p>
			)}
			<ErrorBox error={action.error} />
		</form>
	);
}

export function CartPage() {
	const { cart } = useSession();
	const action = useAction();
	if (!cart || cart.items.length === 0)
		return (
			<section>
				<h1>Your cart</h1>
				<p>Your cart is empty.</p>
			</section>
		);
	return (
		<section>
			<h1>Your cart</h1>
			<table class="lines">
				<TableHead columns={["Item", "Price", "Quantity", "Total"]} actions />
				<tbody>
					{cart.items.map(line => (
						<tr key={line.id}>
							<td>
								{line.name ?? "No longer available"}
								{Object.keys(line.options).length > 0 && (
									<span class="muted"> ({Object.values(line.options).join(" / ")})</span>
								)}
								{line.available < line.quantity && <span class="warn"> Only {line.available} in stock</span>}
							</td>
							<td>{money(line.unitPrice, cart.currency)}</td>
							<td>
								<label class="field qty">
									<span class="sr-only">Quantity of {line.name}</span>
									<input
										type="number"
										min="0"
										max="1000"
										value={line.quantity}
										onChange={e => {
											const q = Number(e.currentTarget.value);
											if (Number.isInteger(q) && q >= 0)
												void action.run(async () => setCart(await api.setQuantity(cart.id, line.id, q)));
										}}
									/>
								</label>
							</td>
							<td>{money(line.lineTotal, cart.currency)}</td>
							<td>
								<button
									type="button"
									onClick={() => void action.run(async () => setCart(await api.removeItem(cart.id, line.id)))}
								>
									Remove
								</button>
							</td>
						</tr>
					))}
				</tbody>
			</table>
			<ErrorBox error={action.error} />
			<DiscountForm cart={cart} />
			<TotalsTable totals={cart.totals} currency={cart.currency} />
			<button type="button" class="primary" onClick={() => navigate("/checkout")}>
				Checkout
			</button>
		</section>
	);
}
