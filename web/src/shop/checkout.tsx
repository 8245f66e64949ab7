import { useState } from "preact/hooks";
import { ApiError } from "../api/client";
import type { Address, Cart } from "../api/types";
import { Link, navigate } from "../router";
import { ErrorBox, Field, money, useAction, useAsync } from "../ui";
import { TotalsTable } from "./cart";
import { api, setCart, useSession } from "./session";

const TOKENS = [
	{ token: "tok_visa", label: "Test card that succeeds (tok_visa)" },
	{ token: "tok_declined", label: "Test card that is declined (tok_declined)" },
	{ token: "tok_unavailable", label: "Payment provider unavailable (tok_unavailable)" },
];

const EMPTY: Address = { line1: "", line2: "", city: "", postalCode: "", country: "" };

function AddressForm({ cart }: { cart: Cart }) {
	const [addr, setAddr] = useState<Address>({ ...EMPTY, ...cart.shippingAddress });
	const [saved, setSaved] = useState(false);
	const action = useAction();
	const set = (k: keyof Address) => (v: string) => {
		setSaved(false);
		setAddr({ ...addr, [k]: v });
	};
	return (
		<form
			class="address"
			onSubmit={e => {
				e.preventDefault();
				const { line2, ...rest } = addr;
				const shippingAddress = { ...rest, country: rest.country.toUpperCase(), ...(line2 ? { line2 } : {}) };
				void action.run(async () => {
					setCart(await api.updateCart(cart.id, { shippingAddress }));
					setSaved(true);
				});
			}}
		>
			<h2>Shipping address</h2>
			<Field label="Address line 1" value={addr.line1} onInput={set("line1")} required autocomplete="address-line1" />
			<Field label="Address line 2" value={addr.line2 ?? ""} onInput={set("line2")} autocomplete="address-line2" />
			<Field label="City" value={addr.city} onInput={set("city")} required autocomplete="address-level2" />
			<Field
				label="Postal code"
				value={addr.postalCode}
				onInput={set("postalCode")}
				required
				autocomplete="postal-code"
			/>
			<Field
				label="Country (2-letter code)"
				value={addr.country}
				onInput={set("country")}
				required
				minLength={2}
				maxLength={2}
				autocomplete="country"
			/>
			<button type="submit" disabled={action.busy}>
				Save address
			</button>
			{saved && <span class="ok"> Saved.</span>}
			<ErrorBox error={action.error} />
		</form>
	);
}

function ShippingChoice({ cart }: { cart: Cart }) {
	const country = cart.shippingAddress?.country;
	const methods = useAsync(async () => (country ? api.cartShippingMethods(cart.id) : []), [cart.id, country]);
	// The choice shows at once; the cart (and its totals) follow when the shop has it, or it falls back on an error.
	const [chosen, setChosen] = useState<string | null>(null);
	const action = useAction();
	if (!country) return <p>Save a shipping address to see the shipping methods.</p>;
	const current = methods.data?.find(m => m.id === cart.shippingMethodId);
	const choose = (id: string) => {
		setChosen(id);
		void action
			.run(async () => setCart(await api.updateCart(cart.id, { shippingMethodId: id })))
			.finally(() => setChosen(null));
	};
	return (
		<fieldset class="shipping">
			<legend>Shipping method</legend>
			<ErrorBox error={methods.error} />
			{methods.data?.length === 0 && <p>No shipping method delivers to {country}.</p>}
			{methods.data?.map(m => (
				<label key={m.id} class="option">
					<input
						type="radio"
						name="shipping"
						checked={(chosen ?? cart.shippingMethodId) === m.id}
						onChange={() => choose(m.id)}
					/>
					{m.name} ({m.price === 0 ? "free" : money(m.price, m.currency)})
				</label>
			))}
			{current && !chosen && !cart.shippingProblem && (
				<p class="ok" role="status">
					Shipping by {current.name}.
				</p>
			)}
			{cart.shippingMethodId && cart.shippingProblem === "SHIPPING_NOT_AVAILABLE" && (
				<p class="warn">The chosen method does not deliver to this address: choose another one.</p>
			)}
			<ErrorBox error={action.error} />
		</fieldset>
	);
}

export function CheckoutPage() {
	const { cart, user } = useSession();
	const [token, setToken] = useState("tok_visa");
	const action = useAction();
	if (!user)
		return (
			<section>
				<h1>Checkout</h1>
				<p>
					<Link href="/login?next=/checkout">Log in</Link> or <Link href="/register?next=/checkout">Register</Link> to
					check out. Your cart is kept.
				</p>
			</section>
		);
	if (!cart || cart.items.length === 0)
		return (
			<section>
				<h1>Checkout</h1>
				<p>Your cart is empty.</p>
			</section>
		);
	const place = () =>
		void action.run(async () => {
			try {
				const order = await api.checkout(cart.id, token);
				setCart(null);
				navigate(`/orders/${encodeURIComponent(order.id)}?placed=1`);
			} catch (e) {
				// A failed payment leaves the cart as it was: read it again (its status is ACTIVE once more).
				if (e instanceof ApiError) setCart(await api.cart(cart.id).catch(() => cart));
				throw e;
			}
		});
	return (
		<section class="checkout">
			<h1>Checkout</h1>
			<AddressForm cart={cart} />
			<ShippingChoice cart={cart} />
			<fieldset class="payment">
				<legend>Payment</legend>
				{TOKENS.map(t => (
					<label key={t.token} class="option">
						<input
							type="radio"
							name="payment"
							value={t.token}
							checked={token === t.token}
							onChange={() => setToken(t.token)}
						/>
						{t.label}
					</label>
				))}
			</fieldset>
			<TotalsTable totals={cart.totals} currency={cart.currency} />
			<button type="button" class="primary" disabled={action.busy} onClick={place}>
				Place order
			</button>
			<ErrorBox error={action.error} />
		</section>
	);
}
