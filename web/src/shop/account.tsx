import { useState } from "preact/hooks";
import { Link, navigate } from "../router";
import { ErrorBox, Field, LoginForm, useAction } from "../ui";
import { api, signedIn } from "./session";

/** Only a path of this site: `next` comes from the address bar. */
function safeNext(next: string | null): string {
	return next && next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

export function LoginPage({ query }: { query: URLSearchParams }) {
	const next = safeNext(query.get("next"));
	return (
		<section class="narrow">
			<h1>Log in</h1>
			<LoginForm
				emailAutocomplete="email"
				login={async credentials => {
					await signedIn(await api.login(credentials));
					navigate(next);
				}}
			/>
			<p>
				New here? <Link href={`/register?next=${encodeURIComponent(next)}`}>Create an account</Link>
			</p>
		</section>
	);
}

export function RegisterPage({ query }: { query: URLSearchParams }) {
	const [form, setForm] = useState({ name: "", email: "", password: "" });
	const action = useAction();
	const next = safeNext(query.get("next"));
	return (
		<section class="narrow">
			<h1>Register</h1>
			<form
				onSubmit={e => {
					e.preventDefault();
					void action.run(async () => {
						await signedIn(await api.register(form));
						navigate(next);
					});
				}}
			>
				<Field
					label="Name"
					value={form.name}
					onInput={v => setForm({ ...form, name: v })}
					required
					autocomplete="name"
				/>
				<Field
					label="Email"
					type="email"
					value={form.email}
					onInput={v => setForm({ ...form, email: v })}
					required
					autocomplete="email"
				/>
				<Field
					label="Password (at least 8 characters)"
					type="password"
					value={form.password}
					onInput={v => setForm({ ...form, password: v })}
					required
					minLength={8}
					autocomplete="new-password"
				/>
				<button type="submit" class="primary" disabled={action.busy}>
					Register
				</button>
				<ErrorBox error={action.error} />
			</form>
			<p>
				Have an account? <Link href={`/login?next=${encodeURIComponent(next)}`}>Log in</Link>
			</p>
		</section>
	);
}
