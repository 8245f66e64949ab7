// One collection of a service over whichever moleculer-db adapter the URI picks (memory/NeDB, SQL, MongoDB),
// with only atomic operations. Knows no actor and no entity: each actor declares its collections and types.

export * from "./compaction";
export * from "./store";
export * from "./migrations";
