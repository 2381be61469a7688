/**
 * Validates rendered manifests against the Kubernetes API schemas that the npm package
 * kubernetes-models carries (compiled JSON Schema validators), and rejects unknown fields,
 * which those schemas allow. Unknown fields are found by watching the validator: it reads
 * every property its schema defines (a Proxy records the reads), and enumerates the keys of
 * free-form maps (labels, data); any other key of an object is one the API does not know —
 * the API server would drop it, or refuse it under strict field validation.
 * The prometheus-operator kinds (ServiceMonitor, PrometheusRule) are checked against the
 * subset of their CRD schemas that the chart uses, with additionalProperties false.
 */
import { Ajv } from 'ajv'
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap'
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim'
import { Pod } from 'kubernetes-models/v1/Pod'
import { Secret } from 'kubernetes-models/v1/Secret'
import { Service } from 'kubernetes-models/v1/Service'
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount'
import { Deployment } from 'kubernetes-models/apps/v1/Deployment'
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler'
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy'
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget'
import { MONITORING_SCHEMAS } from './monitoring-schemas.js'

type Manifest = Record<string, unknown>
interface ModelClass {
  prototype: { validate(this: unknown): void }
}

const MODELS: Record<string, ModelClass> = {
  'v1/ConfigMap': ConfigMap,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'v1/Pod': Pod,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
}

const ajv = new Ajv({ allErrors: true, strict: false })
const CRDS = Object.fromEntries(Object.entries(MONITORING_SCHEMAS).map(([k, schema]) => [k, ajv.compile(schema)]))

/** The kinds this validator knows (apiVersion/kind). */
export const KNOWN_KINDS = [...Object.keys(MODELS), ...Object.keys(CRDS)]

interface Seen {
  read: Set<PropertyKey>
  enumerated: boolean
}

/** Wraps `data` so every property read and key enumeration is recorded per object. */
function watch(data: unknown, seen: WeakMap<object, Seen>): unknown {
  if (data === null || typeof data !== 'object') return data
  const target = data as object
  if (!seen.has(target)) seen.set(target, { read: new Set(), enumerated: false })
  const record = seen.get(target) as Seen
  return new Proxy(target, {
    get(t, key, receiver) {
      record.read.add(key)
      return watch(Reflect.get(t, key, receiver), seen)
    },
    has(t, key) {
      record.read.add(key)
      return Reflect.has(t, key)
    },
    ownKeys(t) {
      record.enumerated = true
      return Reflect.ownKeys(t)
    },
  })
}

function unknownFields(data: unknown, seen: WeakMap<object, Seen>, path: string, out: string[]): void {
  if (data === null || typeof data !== 'object') return
  const record = seen.get(data)
  if (Array.isArray(data)) {
    data.forEach((item, i) => unknownFields(item, seen, `${path}/${i}`, out))
    return
  }
  for (const [key, value] of Object.entries(data)) {
    if (record && !record.enumerated && !record.read.has(key)) {
      out.push(`${path}/${key}: unknown field`)
      continue
    }
    unknownFields(value, seen, `${path}/${key}`, out)
  }
}

/** Problems of one manifest: schema errors and unknown fields ("/spec/template/…: …"). */
export function validateManifest(doc: Manifest): string[] {
  const key = `${String(doc.apiVersion)}/${String(doc.kind)}`
  const crd = CRDS[key]
  if (crd) return crd(doc) ? [] : (crd.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`)
  const model = MODELS[key]
  if (!model) return [`no schema for ${key}`]
  const seen = new WeakMap<object, Seen>()
  const problems: string[] = []
  try {
    model.prototype.validate.call(watch(doc, seen))
  } catch (e) {
    problems.push(e instanceof Error ? e.message : String(e))
  }
  unknownFields(doc, seen, '', problems)
  return problems
}
