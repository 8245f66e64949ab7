import { render } from "preact";
import { useEffect } from "preact/hooks";
import { ApiError } from "../api/client";
import { Link, match, navigate, useLocation } from "../router";
import "../style.css";
import { LoginPage, RegisterPage } from "./account";
import { CartPage } from "./cart";
import { Catalogue } from "./catalogue";
import { CheckoutPage } from "./checkout";
import { NotificationsPage, OrderPage, OrdersPage } from "./orders";
import { ProductPage } from "./product";
import { api, loadCart, signOut, useSession } from "./session";

function Page({ path, query }: { path: string; query: URLSearchParams }) {
	let m: Record<string, string> | null;
	if (path === "/") return <Catalogue query={query} />;
	if ((m = match("/products/:id", path))) return <ProductPage id={m.id} />;
	if (path === "/cart") return <CartPage />;
	if (path === "/checkout") return <CheckoutPage />;
	if (path === "/login") return <LoginPage query={query} />;
	if (path === "/register") return <RegisterPage query={query} />;
	if (path === "/orders") return <OrdersPage />;
	if ((m = match("/orders/:id", path))) return <OrderPage id={m.id} placed={query.has("placed")} />;
	if (path === "/notifications") return <NotificationsPage />;
	return (
		<section>
			<h1>Not found</h1>
			<p>
				<Link href="/">Back to the catalogue</Link>
			</p>
		</section>
	);
}

function App() {
	const { path, query } = useLocation();
	const { user, cart } = useSession();
	useEffect(() => {
		// A token the shop no longer accepts (expired, user removed) signs the customer out.
		if (user)
			api.me().catch((e: unknown) => {
				if (e instanceof ApiError && e.status === 401) signOut();
			});
		loadCart().catch(() => undefined);
	}, [user?.id]);
	const count = cart?.items.reduce((n, i) => n + i.quantity, 0) ?? 0;
	return (
		<>
			<header class="top">
				<Link href="/" class="brand">
					Emporium
				</Link>
				<nav aria-label="Main">
					<Link href="/">Catalogue</Link>
					<Link href="/cart">Cart ({count})</Link>
					{user ? (
						<>
							<Link href="/orders">Orders</Link>
							<Link href="/notifications">Notifications</Link>
							<span class="muted who">{user.name}</span>
							<button
								type="button"
								onClick={() => {
									signOut();
									navigate("/");
								}}
							>
								Log out
							</button>
						</>
					) : (
						<>
							<Link href="/login">Log in</Link>
							<Link href="/register">Register</Link>
						</>
					)}
				</nav>
			</header>
			<main>
				<Page path={path} query={query} />
			</main>
		</>
	);
}

render(<App />, document.getElementById("app")!);
