// One collection of a service over whichever store the URI picks (in-process SQLite, SQL, MongoDB), with only atomic
// operations. Knows no actor and no entity: each actor declares its collections and types.

export * from "./store";
export * from "./migrations";
