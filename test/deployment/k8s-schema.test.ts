import { readFileSync } from "node:fs";
import path from "node:path";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import { Ingress } from "kubernetes-models/networking.k8s.io/v1/Ingress";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";

/**
 * The manifests of k8s/ against the official OpenAPI schemas of Kubernetes 1.33.0, as compiled by kubernetes-models
 * 4.5.1 (pinned in package.json; JSON-schema validation with ajv, the schema of each kind generated from the
 * Kubernetes release's OpenAPI spec). No cluster and no kubectl ran here: this checks fields, types, required
 * properties and enums, not admission or defaulting. Unknown fields are NOT rejected (the schemas allow additional
 * properties, like kubeconform without -strict): a misspelt optional field would pass.
 */

const ROOT = path.resolve(__dirname, "../..");
const kustomization = parseAllDocuments(
	readFileSync(path.join(ROOT, "k8s/kustomization.yaml"), "utf8"),
)[0].toJSON() as {
	resources: string[];
};

interface Validating {
	validate(): void;
}
type Model = new (data: Record<string, unknown>) => Validating;
const MODELS: Record<string, Model> = {
	"v1/Namespace": Namespace,
	"v1/ConfigMap": ConfigMap,
	"v1/Secret": Secret,
	"v1/Service": Service,
	"apps/v1/Deployment": Deployment,
	"autoscaling/v2/HorizontalPodAutoscaler": HorizontalPodAutoscaler,
	"networking.k8s.io/v1/Ingress": Ingress,
};

const manifests = kustomization.resources.flatMap(file =>
	parseAllDocuments(readFileSync(path.join(ROOT, "k8s", file), "utf8"))
		.map(doc => doc.toJSON() as Record<string, unknown> | null)
		.filter((doc): doc is Record<string, unknown> => doc !== null)
		.map(doc => ({ file, doc, type: `${String(doc.apiVersion)}/${String(doc.kind)}` })),
);

describe("Kubernetes manifests against the Kubernetes 1.33 schemas", () => {
	it("every manifest is of a kind the pinned schemas cover", () => {
		expect(manifests.length).toBeGreaterThan(10);
		expect(manifests.filter(m => !MODELS[m.type]).map(m => `${m.file}: ${m.type}`)).toEqual([]);
	});

	it.each(manifests.map(m => [`${m.file} ${m.type} ${String((m.doc.metadata as { name?: string }).name)}`, m]))(
		"%s is valid",
		(_, { doc, type }) => {
			expect(() => new MODELS[type](doc).validate()).not.toThrow();
		},
	);

	it("the validator rejects what the schemas forbid", () => {
		const deployment = manifests.find(m => m.type === "apps/v1/Deployment")!.doc;
		const model = MODELS["apps/v1/Deployment"];
		const spec = deployment.spec as Record<string, unknown>;
		expect(() => new model({ ...deployment, spec: { ...spec, replicas: "two" } }).validate()).toThrow();
		expect(() => new model({ ...deployment, spec: { template: spec.template } }).validate()).toThrow();
	});
});
