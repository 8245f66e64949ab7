import { useState } from "preact/hooks";
import type { Order, OrderItem } from "../api/types";
import { Link } from "../router";
import { ErrorBox, Field, Notice, StatusBadge, money, useAction, useAsync } from "../ui";
import { TotalsTable } from "./cart";
import { api } from "./session";

const RETURNABLE = ["SHIPPED", "DELIVERED", "PARTIALLY_RETURNED"];

export function OrdersPage() {
	const orders = useAsync(() => api.orders({ pageSize: 50 }), []);
	return (
		<section>
			<h1>Your orders</h1>
			<ErrorBox error={orders.error} />
			{orders.data?.rows.length === 0 && <p>No orders yet.</p>}
			<ul class="list">
				{orders.data?.rows.map(o => (
					<li key={o.id}>
						<Link href={`/orders/${encodeURIComponent(o.id)}`}>Order {o.id.slice(0, 8)}</Link>{" "}
						<StatusBadge status={o.status} /> {money(o.total, o.currency)}{" "}
						<span class="muted">{new Date(o.createdAt).toLocaleString()}</span>
					</li>
				))}
			</ul>
		</section>
	);
}

function describeItem(i: OrderItem): string {
	const options = Object.values(i.options);
	return options.length ? `${i.name} (${options.join(" / ")})` : i.name;
}

function ReturnForm({ order, onDone }: { order: Order; onDone: () => void }) {
	const [qty, setQty] = useState<Record<string, string>>({});
	const [reason, setReason] = useState("");
	const action = useAction();
	return (
		<form
			class="return"
			onSubmit={e => {
				e.preventDefault();
				const items = order.items
					.map(i => ({ variantId: i.variantId, quantity: Number(qty[i.variantId] ?? "0") }))
					.filter(i => i.quantity > 0);
				void action.run(async () => {
					await api.requestReturn(order.id, { items, ...(reason ? { reason } : {}) });
					setQty({});
					setReason("");
					onDone();
				});
			}}
		>
			<h2>Return items</h2>
			{order.items.map(i => (
				<Field
					key={i.variantId}
					label={`Quantity of ${describeItem(i)} to return`}
					type="number"
					min="0"
					max={String(i.quantity)}
					value={qty[i.variantId] ?? "0"}
					onInput={v => setQty({ ...qty, [i.variantId]: v })}
				/>
			))}
			<Field label="Reason (optional)" value={reason} onInput={setReason} maxLength={500} />
			<button type="submit" disabled={action.busy}>
				Request return
			</button>
			<ErrorBox error={action.error} />
		</form>
	);
}

function Returns({ orderId, version }: { orderId: string; version: number }) {
	const returns = useAsync(async () => (await api.orderReturns(orderId)).rows, [orderId, version]);
	if (returns.error) return <ErrorBox error={returns.error} />;
	if (!returns.data?.length) return null;
	return (
		<>
			<h2>Returns</h2>
			<ul class="list">
				{returns.data.map(r => (
					<li key={r.id}>
						Return {r.id.slice(0, 8)} <StatusBadge status={r.status} /> refund {money(r.refundAmount, r.currency)}
					</li>
				))}
			</ul>
		</>
	);
}

export function OrderPage({ id, placed }: { id: string; placed: boolean }) {
	const order = useAsync(() => api.order(id), [id]);
	const action = useAction();
	const [returned, setReturned] = useState(0);
	const o = order.data;
	if (order.error) return <ErrorBox error={order.error} />;
	if (!o) return <p>Loading…</p>;
	return (
		<section>
			<h1>Order {o.id.slice(0, 8)}</h1>
			{placed && o.status !== "FAILED" && <Notice>Thank you! Your order has been placed.</Notice>}
			<p>
				Status: <StatusBadge status={o.status} />
				{o.failureReason && <span class="muted"> ({o.failureReason})</span>}
			</p>
			<table class="lines">
				<thead>
					<tr>
						<th scope="col">Item</th>
						<th scope="col">Quantity</th>
						<th scope="col">Total</th>
					</tr>
				</thead>
				<tbody>
					{o.items.map(i => (
						<tr key={i.variantId}>
							<td>
								{i.name} <span class="muted">{Object.values(i.options).join(" / ")}</span>
							</td>
							<td>{i.quantity}</td>
							<td>{money(i.lineTotal, o.currency)}</td>
						</tr>
					))}
				</tbody>
			</table>
			<TotalsTable totals={o.totals} currency={o.currency} />
			{o.status === "CONFIRMED" && (
				<button
					type="button"
					disabled={action.busy}
					onClick={() => void action.run(async () => order.setData(await api.cancelOrder(o.id)))}
				>
					Cancel order
				</button>
			)}
			<ErrorBox error={action.error} />
			{returned > 0 && <Notice>Your return request was sent.</Notice>}
			<Returns orderId={o.id} version={returned} />
			{RETURNABLE.includes(o.status) && <ReturnForm order={o} onDone={() => setReturned(n => n + 1)} />}
		</section>
	);
}

export function NotificationsPage() {
	const list = useAsync(() => api.notifications({ pageSize: 50 }), []);
	return (
		<section>
			<h1>Notifications</h1>
			<ErrorBox error={list.error} />
			{list.data?.rows.length === 0 && <p>No notifications.</p>}
			<ul class="list">
				{list.data?.rows.map(n => (
					<li key={n.id}>
						<strong>{n.title}</strong> <span>{n.body}</span>{" "}
						<span class="muted">{new Date(n.createdAt).toLocaleString()}</span>
					</li>
				))}
			</ul>
		</section>
	);
}
