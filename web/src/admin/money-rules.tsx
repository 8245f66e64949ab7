// Discount codes, shipping methods and tax rates (issue 13's admin routes).
import { useState } from "preact/hooks";
import type { Promotion } from "../api/types";
import { ErrorBox, Field, ListTable, MoneyField, money, useAction, useAsync } from "../ui";
import { api } from "./session";

const optionalInt = (v: string) => (v.trim() === "" ? undefined : Math.round(Number(v)));
const optionalCents = (v: string) => (v.trim() === "" ? undefined : Math.round(Number(v) * 100));
const PROMOTION_TYPES: { type: Promotion["type"]; label: string }[] = [
	{ type: "PERCENTAGE", label: "Percentage" },
	{ type: "FIXED", label: "Fixed amount (USD)" },
	{ type: "FREE_SHIPPING", label: "Free shipping" },
];

/** A page's list of rules and the action that changes one: `change` runs a call, then loads the list again. */
function useRules<T>(load: () => Promise<T>) {
	const list = useAsync(load, []);
	const action = useAction();
	const change = (call: () => Promise<unknown>) => void action.run(async () => (await call(), list.reload()));
	return { list, action, change };
}

/** "Deactivate X" (or "Activate X") and "Delete X" for a row of the list; `change` runs the call and reloads. */
function ActivateDelete({
	name,
	active,
	change,
	toggle,
	remove,
}: {
	name: string;
	active: boolean;
	change: (call: () => Promise<unknown>) => void;
	toggle: () => Promise<unknown>;
	remove: () => Promise<unknown>;
}) {
	return (
		<>
			<button type="button" onClick={() => change(toggle)}>
				{active ? "Deactivate" : "Activate"} {name}
			</button>{" "}
			<button type="button" onClick={() => change(remove)}>
				Delete {name}
			</button>
		</>
	);
}

export function PromotionsPage() {
	const { list, action, change } = useRules(() => api.promotions({ pageSize: 100 }));
	const [type, setType] = useState<Promotion["type"]>("PERCENTAGE");
	const [f, setF] = useState({
		code: "",
		value: "",
		minSubtotal: "",
		usageLimit: "",
		perCustomer: "",
	});
	const set = (k: keyof typeof f) => (v: string) => setF({ ...f, [k]: v });
	return (
		<section>
			<h1>Discount codes</h1>
			<ErrorBox error={list.error} />
			<ListTable columns={["Code", "Type", "Value", "Used", "Active"]} actions>
				{list.data?.rows.map(p => (
					<tr key={p.id}>
						<td>{p.code}</td>
						<td>{p.type}</td>
						<td>
							{p.type === "PERCENTAGE"
								? `${p.value}%`
								: p.type === "FIXED"
									? money(p.value ?? 0, p.currency ?? "USD")
									: "—"}
						</td>
						<td>
							{p.timesUsed}
							{p.usageLimit !== null ? ` / ${p.usageLimit}` : ""}
						</td>
						<td>{p.active ? "yes" : "no"}</td>
						<td>
							<ActivateDelete
								name={p.code}
								active={p.active}
								change={change}
								toggle={() => api.updatePromotion(p.id, { active: !p.active })}
								remove={() => api.deletePromotion(p.id)}
							/>
						</td>
					</tr>
				))}
			</ListTable>
			<form
				class="address"
				onSubmit={e => {
					e.preventDefault();
					const value =
						type === "PERCENTAGE" ? optionalInt(f.value) : type === "FIXED" ? optionalCents(f.value) : undefined;
					const body = {
						code: f.code,
						type,
						...(value !== undefined ? { value } : {}),
						...(type === "FIXED" ? { currency: "USD" } : {}),
						...(optionalCents(f.minSubtotal) !== undefined ? { minSubtotal: optionalCents(f.minSubtotal) } : {}),
						...(optionalInt(f.usageLimit) !== undefined ? { usageLimit: optionalInt(f.usageLimit) } : {}),
						...(optionalInt(f.perCustomer) !== undefined ? { perCustomerLimit: optionalInt(f.perCustomer) } : {}),
						active: true,
					};
					change(() => api.createPromotion(body));
				}}
			>
				<h2>New discount code</h2>
				<Field label="Code" value={f.code} onInput={set("code")} required pattern="[A-Za-z0-9_\-]{3,32}" />
				<label class="field">
					<span>Type</span>
					<select
						value={type}
						onChange={e => setType(PROMOTION_TYPES.find(t => t.type === e.currentTarget.value)?.type ?? type)}
					>
						{PROMOTION_TYPES.map(t => (
							<option key={t.type} value={t.type}>
								{t.label}
							</option>
						))}
					</select>
				</label>
				<Field label="Value (% or $)" type="number" min="0" step="0.01" value={f.value} onInput={set("value")} />
				<MoneyField label="Minimum subtotal ($)" value={f.minSubtotal} onInput={set("minSubtotal")} />
				<Field label="Usage limit" type="number" min="1" value={f.usageLimit} onInput={set("usageLimit")} />
				<Field label="Uses per customer" type="number" min="1" value={f.perCustomer} onInput={set("perCustomer")} />
				<button type="submit" class="primary" disabled={action.busy}>
					Create code
				</button>
			</form>
			<ErrorBox error={action.error} />
		</section>
	);
}

export function ShippingPage() {
	const { list, action, change } = useRules(() => api.shippingMethods({ pageSize: 100 }));
	const [f, setF] = useState({ name: "", price: "", countries: "*", freeOver: "" });
	const set = (k: keyof typeof f) => (v: string) => setF({ ...f, [k]: v });
	return (
		<section>
			<h1>Shipping methods</h1>
			<ErrorBox error={list.error} />
			<ListTable columns={["Name", "Price", "Countries", "Free over", "Active"]} actions>
				{list.data?.rows.map(m => (
					<tr key={m.id}>
						<td>{m.name}</td>
						<td>{money(m.price, m.currency)}</td>
						<td>{m.countries.join(", ")}</td>
						<td>{m.freeOver === null ? "—" : money(m.freeOver, m.currency)}</td>
						<td>{m.active ? "yes" : "no"}</td>
						<td>
							<ActivateDelete
								name={m.name}
								active={m.active}
								change={change}
								toggle={() => api.updateShippingMethod(m.id, { active: !m.active })}
								remove={() => api.deleteShippingMethod(m.id)}
							/>
						</td>
					</tr>
				))}
			</ListTable>
			<form
				class="address"
				onSubmit={e => {
					e.preventDefault();
					const body = {
						name: f.name,
						price: optionalCents(f.price) ?? 0,
						currency: "USD",
						countries: f.countries
							.split(",")
							.map(c => c.trim().toUpperCase())
							.filter(Boolean),
						...(optionalCents(f.freeOver) !== undefined ? { freeOver: optionalCents(f.freeOver) } : {}),
						active: true,
					};
					change(() => api.createShippingMethod(body));
				}}
			>
				<h2>New shipping method</h2>
				<Field label="Method name" value={f.name} onInput={set("name")} required />
				<MoneyField label="Price ($)" value={f.price} onInput={set("price")} required />
				<Field
					label="Countries (codes, comma-separated, * for all)"
					value={f.countries}
					onInput={set("countries")}
					required
				/>
				<MoneyField label="Free over ($, optional)" value={f.freeOver} onInput={set("freeOver")} />
				<button type="submit" class="primary" disabled={action.busy}>
					Create method
				</button>
			</form>
			<ErrorBox error={action.error} />
		</section>
	);
}

export function TaxPage() {
	const { list, action, change } = useRules(() => api.taxRates({ pageSize: 100 }));
	const [f, setF] = useState({ country: "", rate: "", shippingTaxable: false });
	return (
		<section>
			<h1>Tax rates</h1>
			<ErrorBox error={list.error} />
			<ListTable columns={["Country", "Rate", "Shipping taxed"]} actions>
				{list.data?.rows.map(t => (
					<tr key={t.country}>
						<td>{t.country}</td>
						<td>{(t.rate / 100).toFixed(2)} %</td>
						<td>{t.shippingTaxable ? "yes" : "no"}</td>
						<td>
							<button type="button" onClick={() => change(() => api.deleteTaxRate(t.country))}>
								Delete {t.country}
							</button>
						</td>
					</tr>
				))}
			</ListTable>
			<form
				class="address"
				onSubmit={e => {
					e.preventDefault();
					const body = { rate: Math.round(Number(f.rate) * 100), shippingTaxable: f.shippingTaxable };
					change(() => api.putTaxRate(f.country.toUpperCase(), body));
				}}
			>
				<h2>Set a tax rate</h2>
				<Field
					label="Country (2-letter code)"
					value={f.country}
					onInput={v => setF({ ...f, country: v })}
					required
					minLength={2}
					maxLength={2}
				/>
				<Field
					label="Rate (%)"
					type="number"
					min="0"
					max="100"
					step="0.01"
					value={f.rate}
					onInput={v => setF({ ...f, rate: v })}
					required
				/>
				<label class="option">
					<input
						type="checkbox"
						checked={f.shippingTaxable}
						onChange={e => setF({ ...f, shippingTaxable: e.currentTarget.checked })}
					/>
					Shipping is taxed
				</label>
				<button type="submit" class="primary" disabled={action.busy}>
					Save rate
				</button>
			</form>
			<ErrorBox error={action.error} />
		</section>
	);
}
