// A tiny history router: the gateway answers every client route with the app's index.html.
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";

const listeners = new Set<() => void>();

export function navigate(to: string, replace = false): void {
	if (replace) history.replaceState(null, "", to);
	else history.pushState(null, "", to);
	window.scrollTo(0, 0);
	for (const l of listeners) l();
}

/** The current path and query, re-rendering on navigation and on the back button. */
export function useLocation(): { path: string; query: URLSearchParams } {
	const [, setTick] = useState(0);
	useEffect(() => {
		const update = () => setTick(t => t + 1);
		listeners.add(update);
		window.addEventListener("popstate", update);
		return () => {
			listeners.delete(update);
			window.removeEventListener("popstate", update);
		};
	}, []);
	return { path: location.pathname, query: new URLSearchParams(location.search) };
}

/** Matches `/products/:id` against a path; the named segments, or null. */
export function match(pattern: string, path: string): Record<string, string> | null {
	const p = pattern.split("/").filter(Boolean);
	const s = path.split("/").filter(Boolean);
	if (p.length !== s.length) return null;
	const out: Record<string, string> = {};
	for (let i = 0; i < p.length; i++) {
		if (p[i].startsWith(":")) out[p[i].slice(1)] = decodeURIComponent(s[i]);
		else if (p[i] !== s[i]) return null;
	}
	return out;
}

export function Link(props: { href: string; children: ComponentChildren; class?: string; "aria-current"?: "page" }) {
	const { href, children, ...rest } = props;
	return (
		<a
			{...rest}
			href={href}
			onClick={e => {
				if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
				e.preventDefault();
				navigate(href);
			}}
		>
			{children}
		</a>
	);
}
