import { render } from "preact";
import { Link, match, navigate, useLocation } from "../router";
import "../style.css";
import { LoginForm } from "../ui";
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
	return (
		<section class="narrow">
			<h1>Admin console</h1>
			<LoginForm
				emailAutocomplete="username"
				login={async credentials => {
					const auth = await api.login(credentials);
					if (auth.user.role !== "admin") throw new Error("This account is not an administrator.");
					setAdmin(auth);
				}}
			/>
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
