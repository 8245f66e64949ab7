import { useState } from "preact/hooks";
import type { Order, OrderReturn, OrderStatus } from "../api/types";
import { ErrorBox, Field, StatusBadge, money, useAction, useAsync } from "../ui";
import { api } from "./session";

const ORDER_STATUSES: OrderStatus[] = [
	"PENDING",
	"CONFIRMED",
	"FAILED",
	"CANCELLED",
	"SHIPPED",
	"DELIVERED",
	"PARTIALLY_RETURNED",
	"RETURNED",
];
const RETURN_STATUSES: OrderReturn["status"][] = ["REQUESTED", "RECEIVED", "REJECTED"];

/** The filter a select's value names: one of `known`, or none ("" is "any"). */
function filterOf<T extends string>(known: T[], value: string): T | undefined {
	return known.find(k => k === value);
}

function OrderRow({ order }: { order: Order }) {
	const [o, setO] = useState(order);
	const action = useAction();
	const move = (status: "SHIPPED" | "DELIVERED") =>
		void action.run(async () => setO(await api.setOrderStatus(o.id, status)));
	return (
		<tr data-order={o.id}>
			<td>{o.id.slice(0, 8)}</td>
			<td>{o.userId.slice(0, 8)}</td>
			<td>
				<StatusBadge status={o.status} />
			</td>
			<td>{money(o.total, o.currency)}</td>
			<td>{new Date(o.createdAt).toLocaleString()}</td>
			<td>
				{o.status === "CONFIRMED" && (
					<button type="button" disabled={action.busy} onClick={() => move("SHIPPED")}>
						Mark shipped
					</button>
				)}
				{o.status === "SHIPPED" && (
					<button type="button" disabled={action.busy} onClick={() => move("DELIVERED")}>
						Mark delivered
					</button>
				)}
				<ErrorBox error={action.error} />
			</td>
		</tr>
	);
}

export function OrdersPage() {
	const [status, setStatus] = useState<OrderStatus | undefined>(undefined);
	const [userId, setUserId] = useState("");
	const [page, setPage] = useState(1);
	const list = useAsync(
		() => api.orders({ status, userId: userId.trim(), page, pageSize: 20 }),
		[status, userId, page],
	);
	return (
		<section>
			<h1>Orders</h1>
			<div class="filters">
				<label class="field">
					<span>Status</span>
					<select
						value={status ?? ""}
						onChange={e => (setStatus(filterOf(ORDER_STATUSES, e.currentTarget.value)), setPage(1))}
					>
						<option value="">Any status</option>
						{ORDER_STATUSES.map(s => (
							<option key={s} value={s}>
								{s}
							</option>
						))}
					</select>
				</label>
				<Field label="Customer id" value={userId} onInput={v => (setUserId(v), setPage(1))} />
			</div>
			<ErrorBox error={list.error} />
			<div class="scroll">
				<table>
					<thead>
						<tr>
							<th scope="col">Order</th>
							<th scope="col">Customer</th>
							<th scope="col">Status</th>
							<th scope="col">Total</th>
							<th scope="col">Placed</th>
							<th scope="col">
								<span class="sr-only">Actions</span>
							</th>
						</tr>
					</thead>
					<tbody>
						{list.data?.rows.map(o => (
							<OrderRow key={`${o.id}:${o.status}`} order={o} />
						))}
					</tbody>
				</table>
			</div>
			{list.data && list.data.totalPages > 1 && (
				<nav class="pager" aria-label="Pages">
					<button type="button" disabled={page <= 1} onClick={() => setPage(page - 1)}>
						Previous
					</button>
					<span>
						Page {page} of {list.data.totalPages}
					</span>
					<button type="button" disabled={page >= list.data.totalPages} onClick={() => setPage(page + 1)}>
						Next
					</button>
				</nav>
			)}
		</section>
	);
}

function ReturnRow({ ret }: { ret: OrderReturn }) {
	const [r, setR] = useState(ret);
	const action = useAction();
	return (
		<tr data-return={r.id}>
			<td>{r.id.slice(0, 8)}</td>
			<td>{r.orderId.slice(0, 8)}</td>
			<td>
				<StatusBadge status={r.status} />
			</td>
			<td>{r.items.map(i => `${i.quantity} × ${i.variantId.slice(0, 8)}`).join(", ")}</td>
			<td>{money(r.refundAmount, r.currency)}</td>
			<td>{r.reason}</td>
			<td>
				{r.status === "REQUESTED" && (
					<>
						<button type="button" onClick={() => void action.run(async () => setR(await api.receiveReturn(r.id)))}>
							Receive
						</button>{" "}
						<button type="button" onClick={() => void action.run(async () => setR(await api.rejectReturn(r.id)))}>
							Reject
						</button>
					</>
				)}
				<ErrorBox error={action.error} />
			</td>
		</tr>
	);
}

export function ReturnsPage() {
	const [status, setStatus] = useState<OrderReturn["status"] | undefined>(undefined);
	const list = useAsync(() => api.returns({ status, pageSize: 50 }), [status]);
	return (
		<section>
			<h1>Returns</h1>
			<label class="field">
				<span>Status</span>
				<select value={status ?? ""} onChange={e => setStatus(filterOf(RETURN_STATUSES, e.currentTarget.value))}>
					<option value="">Any status</option>
					{RETURN_STATUSES.map(s => (
						<option key={s} value={s}>
							{s}
						</option>
					))}
				</select>
			</label>
			<ErrorBox error={list.error} />
			<div class="scroll">
				<table>
					<thead>
						<tr>
							<th scope="col">Return</th>
							<th scope="col">Order</th>
							<th scope="col">Status</th>
							<th scope="col">Items</th>
							<th scope="col">Refund</th>
							<th scope="col">Reason</th>
							<th scope="col">
								<span class="sr-only">Actions</span>
							</th>
						</tr>
					</thead>
					<tbody>
						{list.data?.rows.map(r => (
							<ReturnRow key={`${r.id}:${r.status}`} ret={r} />
						))}
					</tbody>
				</table>
			</div>
		</section>
	);
}
