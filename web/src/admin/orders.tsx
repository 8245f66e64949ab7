import { useState } from "preact/hooks";
import type { Order, OrderReturn, OrderStatus } from "../api/types";
import { ErrorBox, Field, FilterSelect, ListTable, Pager, StatusBadge, money, useAction, useAsync } from "../ui";
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
				<FilterSelect
					label="Status"
					any="Any status"
					values={ORDER_STATUSES}
					value={status}
					onChange={v => (setStatus(v), setPage(1))}
				/>
				<Field label="Customer id" value={userId} onInput={v => (setUserId(v), setPage(1))} />
			</div>
			<ErrorBox error={list.error} />
			<ListTable columns={["Order", "Customer", "Status", "Total", "Placed"]} actions>
				{list.data?.rows.map(o => (
					<OrderRow key={`${o.id}:${o.status}`} order={o} />
				))}
			</ListTable>
			<Pager page={page} totalPages={list.data?.totalPages} go={setPage} />
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
			<FilterSelect label="Status" any="Any status" values={RETURN_STATUSES} value={status} onChange={setStatus} />
			<ErrorBox error={list.error} />
			<ListTable columns={["Return", "Order", "Status", "Items", "Refund", "Reason"]} actions>
				{list.data?.rows.map(r => (
					<ReturnRow key={`${r.id}:${r.status}`} ret={r} />
				))}
			</ListTable>
		</section>
	);
}
