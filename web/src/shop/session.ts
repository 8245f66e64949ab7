// The customer's session: token and user, and the cart id (a guest's cart survives reloads and is claimed at login).
import { useEffect, useState } from "preact/hooks";
import { ApiError, Client } from "../api/client";
import type { Auth, Cart, User } from "../api/types";

const TOKEN = "emporium.token";
const USER = "emporium.user";
const CART = "emporium.cartId";

interface State {
	token: string | null;
	user: User | null;
	cart: Cart | null;
}

const state: State = {
	token: localStorage.getItem(TOKEN),
	user: parseUser(localStorage.getItem(USER)),
	cart: null,
};
const listeners = new Set<() => void>();

export const api = new Client(() => state.token);

function parseUser(raw: string | null): User | null {
	try {
		return raw ? (JSON.parse(raw) as User) : null;
	} catch {
		return null;
	}
}

function changed(): void {
	for (const l of listeners) l();
}

export function useSession(): State {
	const [, setTick] = useState(0);
	useEffect(() => {
		const l = () => setTick(t => t + 1);
		listeners.add(l);
		return () => void listeners.delete(l);
	}, []);
	return state;
}

export function setCart(cart: Cart | null): void {
	state.cart = cart && cart.status === "ACTIVE" ? cart : null;
	if (state.cart) localStorage.setItem(CART, state.cart.id);
	else localStorage.removeItem(CART);
	changed();
}

/** The cart as the shop has it now: the customer's current cart, or the guest cart whose id this browser keeps. */
export async function loadCart(): Promise<void> {
	const id = localStorage.getItem(CART);
	try {
		if (state.token) setCart(await api.myCart());
		else if (id) setCart(await api.cart(id));
	} catch (e) {
		if (e instanceof ApiError && (e.status === 404 || e.status === 401)) setCart(null);
		else throw e;
	}
}

/** The cart to add to, created on first use. */
export async function ensureCart(): Promise<Cart> {
	if (state.cart) return state.cart;
	const cart = await api.createCart();
	setCart(cart);
	return cart;
}

/** Signs in and makes a guest cart of this browser the customer's (merged into theirs if they have one). */
export async function signedIn(auth: Auth): Promise<void> {
	state.token = auth.token;
	state.user = auth.user;
	localStorage.setItem(TOKEN, auth.token);
	localStorage.setItem(USER, JSON.stringify(auth.user));
	const guestId = state.cart && !state.cart.userId ? state.cart.id : localStorage.getItem(CART);
	if (guestId && !state.cart?.userId) {
		try {
			setCart(await api.claimCart(guestId));
			return;
		} catch {
			// A guest cart that is gone or already checked out: the customer's own cart (if any) is loaded below.
		}
	}
	await loadCart();
	changed();
}

export function signOut(): void {
	state.token = null;
	state.user = null;
	state.cart = null;
	localStorage.removeItem(TOKEN);
	localStorage.removeItem(USER);
	localStorage.removeItem(CART);
	changed();
}
