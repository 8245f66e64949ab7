// Small pieces both apps share: money, errors, labelled fields, async state.
import type { ComponentChildren, InputHTMLAttributes } from "preact";
import { useCallback, useEffect, useState } from "preact/hooks";
import { ApiError } from "./api/client";

export function money(minor: number | undefined, currency = "USD"): string {
	return new Intl.NumberFormat("en-US", { style: "currency", currency }).format((minor ?? 0) / 100);
}

/** A message a person can act on, for the error types the shop answers. */
export function describeError(err: unknown): string {
	if (!(err instanceof ApiError)) return err instanceof Error ? err.message : String(err);
	switch (err.type) {
		case "PAYMENT_DECLINED":
			return "Your card was declined. No money was taken: choose another card and place the order again.";
		case "PAYMENT_UNAVAILABLE":
			return "The payment provider is unavailable right now. No money was taken: please try again in a moment.";
		case "OUT_OF_STOCK":
			return "Some items are no longer in stock in the quantity you asked for. Change the quantities and try again.";
		case "INVALID_CREDENTIALS":
			return "Wrong email or password.";
		case "EMAIL_TAKEN":
			return "An account with this email already exists. Log in instead.";
		case "DISCOUNT_NOT_APPLICABLE": {
			const reason = (err.data as { reason?: string } | undefined)?.reason;
			return `This code cannot be used${reason ? ` (${reasonText(reason)})` : ""}.`;
		}
		case "SHIPPING_REQUIRED":
			return "Save a shipping address and choose a shipping method first.";
		case "SHIPPING_NOT_AVAILABLE":
			return "This shipping method does not deliver to your address: choose another one.";
		case "NOT_FOUND":
			return err.message || "Not found.";
		default:
			return `${err.message}${err.type && err.type !== "HTTP_ERROR" ? ` (${err.type})` : ""}`;
	}
}

/** "MIN_SUBTOTAL" as "min subtotal": the shop's reason codes, readable. */
export function reasonText(reason: string): string {
	return reason.toLowerCase().replace(/_/g, " ");
}

export function ErrorBox({ error }: { error: unknown }) {
	if (!error) return null;
	return (
		<p class="error" role="alert">
			{describeError(error)}
		</p>
	);
}

export function Notice({ children }: { children: ComponentChildren }) {
	return (
		<p class="notice" role="status">
			{children}
		</p>
	);
}

/** An input with its visible label; the attributes the apps use, passed through. */
export interface FieldProps {
	label: string;
	value: string;
	onInput: (v: string) => void;
	type?: "text" | "email" | "password" | "number" | "search";
	required?: boolean;
	min?: string;
	max?: string;
	step?: string;
	minLength?: number;
	maxLength?: number;
	pattern?: string;
	autocomplete?: string;
}

export function Field({ label, value, onInput, ...rest }: FieldProps) {
	// Preact 11 types an input's attributes per literal `type`; a `type` known only as a union needs the wider type.
	const attrs = { type: "text", ...rest } as InputHTMLAttributes;
	return (
		<label class="field">
			<span>{label}</span>
			<input {...attrs} value={value} onInput={e => onInput(e.currentTarget.value)} />
		</label>
	);
}

/** Loads `load()` now and whenever `deps` change; `reload` loads again. */
export function useAsync<T>(load: () => Promise<T>, deps: unknown[]) {
	const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
	const run = useCallback(load, deps);
	const reload = useCallback(() => {
		setState(s => ({ ...s, loading: true }));
		run().then(
			data => setState({ data, loading: false }),
			(error: unknown) => setState({ error, loading: false }),
		);
	}, [run]);
	useEffect(reload, [reload]);
	return { ...state, reload, setData: (data: T) => setState({ data, loading: false }) };
}

/** Runs an action, keeping its error and whether it is busy, for buttons that call the API. */
export function useAction() {
	const [busy, setBusy] = useState(false);
	const [error, setError] = useState<unknown>(null);
	const run = async <T,>(fn: () => Promise<T>): Promise<T | undefined> => {
		setBusy(true);
		setError(null);
		try {
			return await fn();
		} catch (e) {
			setError(e);
			return undefined;
		} finally {
			setBusy(false);
		}
	};
	return { busy, error, setError, run };
}

export function StatusBadge({ status }: { status: string }) {
	return <span class={`badge badge-${status.toLowerCase()}`}>{status.replace(/_/g, " ")}</span>;
}

/** A dollar amount typed as dollars and cents: a number field from 0 in steps of a cent. */
export function MoneyField(props: Omit<FieldProps, "type" | "min" | "step">) {
	return <Field {...props} type="number" min="0" step="0.01" />;
}

/** A table's header row; `actions` adds the last, unlabelled column of buttons. */
export function TableHead({ columns, actions = false }: { columns: string[]; actions?: boolean }) {
	return (
		<thead>
			<tr>
				{columns.map(c => (
					<th key={c} scope="col">
						{c}
					</th>
				))}
				{actions && (
					<th scope="col">
						<span class="sr-only">Actions</span>
					</th>
				)}
			</tr>
		</thead>
	);
}

/** A list of rows that scrolls sideways on narrow screens. */
export function ListTable({
	columns,
	actions,
	children,
}: {
	columns: string[];
	actions?: boolean;
	children: ComponentChildren;
}) {
	return (
		<div class="scroll">
			<table>
				<TableHead columns={columns} actions={actions} />
				<tbody>{children}</tbody>
			</table>
		</div>
	);
}

/** Previous / Next for a paged list; nothing when there is one page. */
export function Pager({
	page,
	totalPages,
	go,
}: {
	page: number;
	totalPages: number | undefined;
	go: (page: number) => void;
}) {
	if (!totalPages || totalPages <= 1) return null;
	return (
		<nav class="pager" aria-label="Pages">
			<button type="button" disabled={page <= 1} onClick={() => go(page - 1)}>
				Previous
			</button>
			<span>
				Page {page} of {totalPages}
			</span>
			<button type="button" disabled={page >= totalPages} onClick={() => go(page + 1)}>
				Next
			</button>
		</nav>
	);
}

/** A labelled select over `values`, with a first option `any` that stands for none (""). */
export function FilterSelect<T extends string>({
	label,
	any,
	values,
	value,
	onChange,
}: {
	label: string;
	any: string;
	values: readonly T[];
	value: T | undefined;
	onChange: (v: T | undefined) => void;
}) {
	return (
		<label class="field">
			<span>{label}</span>
			<select value={value ?? ""} onChange={e => onChange(values.find(v => v === e.currentTarget.value))}>
				<option value="">{any}</option>
				{values.map(v => (
					<option key={v} value={v}>
						{v}
					</option>
				))}
			</select>
		</label>
	);
}

/** Email and password, and "Log in": `login` gets what was typed; its error shows under the button. */
export function LoginForm({
	login,
	emailAutocomplete,
}: {
	login: (credentials: { email: string; password: string }) => Promise<void>;
	emailAutocomplete: "email" | "username";
}) {
	const [email, setEmail] = useState("");
	const [password, setPassword] = useState("");
	const action = useAction();
	return (
		<form
			onSubmit={e => {
				e.preventDefault();
				void action.run(() => login({ email, password }));
			}}
		>
			<Field label="Email" type="email" value={email} onInput={setEmail} required autocomplete={emailAutocomplete} />
			<Field
				label="Password"
				type="password"
				value={password}
				onInput={setPassword}
				required
				autocomplete="current-password"
			/>
			<button type="submit" class="primary" disabled={action.busy}>
				Log in
			</button>
			<ErrorBox error={action.error} />
		</form>
	);
}
