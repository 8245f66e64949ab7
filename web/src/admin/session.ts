// The admin console's session, kept apart from a customer session of the storefront in the same browser.
import { useEffect, useState } from "preact/hooks";
import { Client } from "../api/client";
import type { Auth, User } from "../api/types";

const KEY = "emporium.admin";
let current: Auth | null = read();
const listeners = new Set<() => void>();

export const api = new Client(() => current?.token ?? null);

function read(): Auth | null {
	try {
		const raw = localStorage.getItem(KEY);
		return raw ? (JSON.parse(raw) as Auth) : null;
	} catch {
		return null;
	}
}

export function setAdmin(auth: Auth | null): void {
	current = auth;
	if (auth) localStorage.setItem(KEY, JSON.stringify(auth));
	else localStorage.removeItem(KEY);
	for (const l of listeners) l();
}

export function useAdmin(): User | null {
	const [, setTick] = useState(0);
	useEffect(() => {
		const l = () => setTick(t => t + 1);
		listeners.add(l);
		return () => void listeners.delete(l);
	}, []);
	return current?.user ?? null;
}
