import type { ServiceSchema, ServiceSettingSchema } from "moleculer";

/**
 * Service and mixin schemas whose handlers, methods and lifecycle are typed on the service's `this`. Moleculer's
 * `ServiceSchema<S, This>` types only the lifecycle on `This`, and its `mixins` and `createService` accept only
 * `ServiceSchema<S, Service>`, which a lifecycle typed on a richer `this` does not fit: the cast is made here once.
 */
export function defineService<This, S = ServiceSettingSchema>(schema: ServiceSchema<S, This>): ServiceSchema<S> {
	return schema as unknown as ServiceSchema<S>;
}

export function defineMixin<This>(schema: Partial<ServiceSchema<ServiceSettingSchema, This>>): Partial<ServiceSchema> {
	return schema as unknown as Partial<ServiceSchema>;
}
