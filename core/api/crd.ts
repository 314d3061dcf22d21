/**
 * zod → CustomResourceDefinition: the PowerPlan and PowerEvent CRDs, their printer columns and the CEL rules the API
 * server checks, built on the structural schemas of ./crd-schema.ts. The CRDs in `crds/` are rendered from these
 * objects by `npm run gen:crds` (hack/gen-crds.ts); a test fails when the files drift.
 */
import { type CelRule, extendAt, type JsonSchema, toCrdSchema } from './crd-schema.js';
import { API_VERSION, GROUP, VERSION } from './meta.js';
import { powerEventSpec, powerEventStatus } from './powerevent.js';
import { powerPlanSpec, powerPlanStatus } from './powerplan.js';

/** The apiextensions.k8s.io/v1 CustomResourceDefinition fields Hecate writes. */
export interface CustomResourceDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    group: string;
    names: {
      kind: string;
      listKind: string;
      plural: string;
      singular: string;
      shortNames: string[];
      categories: string[];
    };
    scope: 'Cluster' | 'Namespaced';
    versions: CrdVersion[];
  };
}

export interface CrdVersion {
  name: string;
  served: boolean;
  storage: boolean;
  subresources: { status: Record<string, never> };
  additionalPrinterColumns: PrinterColumn[];
  schema: { openAPIV3Schema: JsonSchema };
}

export interface PrinterColumn {
  name: string;
  type: 'string' | 'boolean' | 'integer' | 'number' | 'date';
  jsonPath: string;
  description?: string;
  priority?: number;
}

interface Kind {
  kind: string;
  plural: string;
  shortName: string;
  scope: 'Cluster' | 'Namespaced';
  description: string;
  spec: JsonSchema;
  status: JsonSchema;
  columns: PrinterColumn[];
}

export const CATEGORY = 'hecate';

const AGE: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

/** The two CRDs, PowerPlan then PowerEvent. Pure: same objects on every call. */
export function buildCrds(): CustomResourceDefinition[] {
  return [crd(powerPlanKind()), crd(powerEventKind())];
}

function powerPlanKind(): Kind {
  const spec = toCrdSchema(powerPlanSpec);
  extendAt(spec, ['nodes'], listMap('name'));
  extendAt(spec, ['bootstrapChain'], listMap('name'));
  extendAt(spec, [], { 'x-kubernetes-validations': [HARBOR_NODE_LISTED] });
  extendAt(spec, ['ups'], { 'x-kubernetes-validations': UPS_SOURCE_RULES });
  const status = toCrdSchema(powerPlanStatus);
  extendAt(status, ['conditions'], listMap('type'));
  return {
    kind: 'PowerPlan',
    plural: 'powerplans',
    shortName: 'pplan',
    scope: 'Cluster',
    description: 'The facts and policies of one cluster: Flux, the bootstrap chain, Harbor, nodes, drain, UPS',
    spec,
    status,
    columns: [
      { name: 'Harbor', type: 'string', jsonPath: '.spec.harbor.node', description: 'The Harbor node' },
      { name: 'UPS', type: 'string', jsonPath: '.spec.ups.source', description: 'Where the UPS reading comes from' },
      AGE,
    ],
  };
}

function powerEventKind(): Kind {
  const spec = toCrdSchema(powerEventSpec);
  extendAt(spec, ['action'], { 'x-kubernetes-validations': [immutable('spec.action')] });
  extendAt(spec, ['planRef'], { 'x-kubernetes-validations': [immutable('spec.planRef')] });
  const status = toCrdSchema(powerEventStatus);
  extendAt(status, ['conditions'], listMap('type'));
  return {
    kind: 'PowerEvent',
    plural: 'powerevents',
    shortName: 'pev',
    scope: 'Namespaced',
    description: 'One planned power action (prepare, shutdown, startup, harbor-seed) against a PowerPlan',
    spec,
    status,
    columns: [
      { name: 'Action', type: 'string', jsonPath: '.spec.action' },
      { name: 'Execute', type: 'boolean', jsonPath: '.spec.execute', description: 'false: dry-run' },
      { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
      { name: 'Stage', type: 'string', jsonPath: '.status.stage' },
      { name: 'Plan', type: 'string', jsonPath: '.spec.planRef.name', priority: 1 },
      AGE,
    ],
  };
}

/** NOTE: the key must be required (or defaulted) in every item; the API server then refuses duplicate keys. */
function listMap(key: string): JsonSchema {
  return { 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': [key] };
}

function immutable(field: string): CelRule {
  return { rule: 'self == oldSelf', message: `${field} is immutable: create a new PowerEvent` };
}

/** Mirrors checkPlanSpec in powerplan.ts; MAX_NODES there keeps the rule's cost within the API server's budget. */
const HARBOR_NODE_LISTED: CelRule = {
  rule: '!has(self.harbor) || self.nodes.exists(n, n.name == self.harbor.node)',
  message: 'spec.harbor.node must be the name of one of spec.nodes',
  fieldPath: '.harbor.node',
};

/** NOTE: `has(self.source)` guards the defaults (`ups: {}`), which the API server also checks against these rules. */
const UPS_SOURCE_RULES: CelRule[] = [
  ['nut', 'nut'],
  ['command', 'command'],
  ['static', 'staticCharge'],
].map(([source, field]) => ({
  rule: `!has(self.source) || self.source != '${source}' || has(self.${field})`,
  message: `spec.ups.${field} is required when spec.ups.source is ${source}`,
  fieldPath: `.${field}`,
}));

function crd(kind: Kind): CustomResourceDefinition {
  const singular = kind.kind.toLowerCase();
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${kind.plural}.${GROUP}`, labels: { 'app.kubernetes.io/part-of': 'hecate' } },
    spec: {
      group: GROUP,
      names: {
        kind: kind.kind,
        listKind: `${kind.kind}List`,
        plural: kind.plural,
        singular,
        shortNames: [kind.shortName],
        categories: [CATEGORY],
      },
      scope: kind.scope,
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: kind.columns,
          schema: { openAPIV3Schema: rootSchema(kind) },
        },
      ],
    },
  };
}

/** NOTE: metadata is only `type: object`: the API server owns its schema and rejects anything more. */
function rootSchema(kind: Kind): JsonSchema {
  return {
    description: kind.description,
    type: 'object',
    properties: {
      apiVersion: { description: `The versioned schema of this object, here ${API_VERSION}`, type: 'string' },
      kind: { description: `The REST resource this object represents, here ${kind.kind}`, type: 'string' },
      metadata: { type: 'object' },
      spec: { description: kind.spec.description ?? `The desired state of the ${kind.kind}`, ...kind.spec },
      status: { description: 'What the operator observed; written through the status subresource', ...kind.status },
    },
    required: ['spec'],
  };
}
