import type { K8sObject } from './kustomize.ts';

/** What kubernetes-models and its prometheus-operator package export for each kind. */
type ModelClass = new (data: unknown) => { validate(): void };

/**
 * The module holding the model for `apiVersion` + `kind`: kubernetes-models for the built-in API
 * groups (core is "v1"), @kubernetes-models/prometheus-operator for monitoring.coreos.com.
 */
function modelModule(apiVersion: string, kind: string): string {
  if (apiVersion.startsWith('monitoring.coreos.com/')) {
    return `@kubernetes-models/prometheus-operator/${apiVersion}/${kind}`;
  }
  return `kubernetes-models/${apiVersion}/${kind}`;
}

/**
 * Validates `object` against the Kubernetes (or prometheus-operator CRD) OpenAPI schema of its
 * kind. Returns the schema errors, or one error if no schema is known for the kind: an object
 * nobody can check is a failure, not a pass. The schemas allow unknown fields, as the API
 * server's non-strict decoding does; the deploy tests check the fields that matter by name.
 */
export async function validateObject(object: K8sObject): Promise<string[]> {
  let Model: ModelClass | undefined;
  try {
    const module = (await import(modelModule(object.apiVersion, object.kind))) as Record<string, ModelClass>;
    Model = module[object.kind];
  } catch {
    Model = undefined;
  }
  if (!Model)
    return [`${object.kind}/${object.metadata.name}: no schema for ${object.apiVersion} ${object.kind}`];
  try {
    new Model(object).validate();
    return [];
  } catch (error) {
    return [`${object.kind}/${object.metadata.name}: ${(error as Error).message}`];
  }
}
