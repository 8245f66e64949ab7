import { render } from "preact";
import { useState } from "preact/hooks";
import { Link, match, navigate, useLocation } from "../router";
import "../style.css";
import { ErrorBox, Field, useAction } from "../ui";
import { OrdersPage, ReturnsPage } from "./orders";
import { ProductEditPage, ProductsPage } from "./products";
import { PromotionsPage, ShippingPage, TaxPage } from "./money-rules";
import { api, setAdmin, useAdmin } from "./session";

const TABS: [string, string][] = [
	["/admin/products", "Products"],
	["/admin/orders", "Orders"],
	["/admin/returns", "Returns"],
	["/admin/promotions", "Discount codes"],
	["/admin/shipping", "Shipping methods"],
	["/admin/tax", "Tax rates"],
];

function AdminLogin() {
	const [email, setEmail] = useState("");
	const [password, setPassword] = useState("");
	const action = useAction();
	return (
		<section class="narrow">
			<h1>Admin console</h1>
			<form
				onSubmit={e => {
					e.preventDefault();
					void action.run(async () => {
						const auth = await api.login({ email, password });
						if (auth.user.role !== "admin") throw new Error("This account is not an administrator.");
						setAdmin(auth);
					});
				}}
			>
				<Field label="Email" type="email" value={email} onInput={setEmail} required autocomplete="username" />
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
		</section>
	);
}

function Page({ path }: { path: string }) {
	let m: Record<string, string> | null;
	if (path === "/admin" || path === "/admin/" || path === "/admin/products") return <ProductsPage />;
	if ((m = match("/admin/products/:id", path))) return <ProductEditPage id={m.id} />;
	if (path === "/admin/orders") return <OrdersPage />;
	if (path === "/admin/returns") return <ReturnsPage />;
	if (path === "/admin/promotions") return <PromotionsPage />;
	if (path === "/admin/shipping") return <ShippingPage />;
	if (path === "/admin/tax") return <TaxPage />;
	return <h1>Not found</h1>;
}

function App() {
	const { path } = useLocation();
	const admin = useAdmin();
	return (
		<>
			<header class="top">
				<Link href="/admin" class="brand">
					Emporium admin
				</Link>
				{admin && (
					<nav aria-label="Admin">
						<span class="tabs">
							{TABS.map(([href, label]) => (
								<Link key={href} href={href} aria-current={path.startsWith(href) ? "page" : undefined}>
									{label}
								</Link>
							))}
						</span>
						<button
							type="button"
							onClick={() => {
								setAdmin(null);
								navigate("/admin");
							}}
						>
							Log out
						</button>
					</nav>
				)}
			</header>
			<main>{admin ? <Page path={path} /> : <AdminLogin />}</main>
		</>
	);
}

render(<App />, document.getElementById("app")!);
