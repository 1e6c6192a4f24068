// The PrometheusRule that terraform/modules/monitoring declares, rendered from the .tf files
// by tfrender, against the real PrometheusRule CRD (vendored from prometheus-operator) on
// the real apiserver: the CRD's OpenAPI schema accepts it and rejects broken rules.
import * as k8s from '@kubernetes/client-node'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { join } from 'node:path'
import { beforeAll, describe, expect, inject, it } from 'vitest'
import { applyManifestFiles } from '../ops/cluster.ts'
import { REPO_ROOT, runTool, tofuEnv } from '../ops/tools.ts'

const admin = inject('kubeconfig')
const runDir = inject('runDir')
const CRD = join(REPO_ROOT, 'test/ops/crds/monitoring.coreos.com_prometheusrules.yaml')
const CRD_NAME = 'prometheusrules.monitoring.coreos.com'
const GVP = { group: 'monitoring.coreos.com', version: 'v1', plural: 'prometheusrules' }

let objects: k8s.CustomObjectsApi
let manifest: any

function render(): any {
  const r = runTool('tfrender', ['terraform/modules/monitoring'])
  if (r.status !== 0) throw new Error(`tfrender failed:\n${r.stderr}`)
  return JSON.parse(r.stdout).resources['kubernetes_manifest.gmail_oauth_expiry'].manifest
}

async function until(what: string, ok: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`)
    await sleep(200)
  }
}

/** Creates with strict field validation (unknown fields are errors, as with kubectl apply). */
function create(body: any, dryRun?: 'All') {
  return objects.createNamespacedCustomObject({ ...GVP, namespace: body.metadata.namespace, body, fieldValidation: 'Strict', dryRun })
}

async function rejection(body: any): Promise<{ code: number; message: string }> {
  try {
    await create(body, 'All')
  } catch (e) {
    if (!(e instanceof k8s.ApiException)) throw e
    const status = typeof e.body === 'string' ? JSON.parse(e.body) : e.body
    return { code: e.code, message: status.message }
  }
  throw new Error('expected the apiserver to reject this PrometheusRule, but it accepted it')
}

beforeAll(async () => {
  const kc = new k8s.KubeConfig()
  kc.loadFromFile(admin)
  objects = kc.makeApiClient(k8s.CustomObjectsApi)
  const ext = kc.makeApiClient(k8s.ApiextensionsV1Api)
  const core = kc.makeApiClient(k8s.CoreV1Api)
  manifest = render()

  await applyManifestFiles(admin, [CRD])
  await until(`CRD ${CRD_NAME} Established`, async () => {
    const crd = await ext.readCustomResourceDefinition({ name: CRD_NAME })
    return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ?? false
  })
  await core.createNamespace({ body: { metadata: { name: manifest.metadata.namespace } } }).catch((e) => {
    if (e?.code !== 409) throw e
  })
  // Established does not mean every apiserver handler serves the new type yet.
  await until('the prometheusrules endpoint', async () => {
    try {
      await objects.listNamespacedCustomObject({ ...GVP, namespace: manifest.metadata.namespace })
      return true
    } catch {
      return false
    }
  })
})

describe('the rendered PrometheusRule is accepted by the CRD schema', () => {
  it('is created as declared and reads back with the rule file as its spec', async () => {
    const { namespace, name } = manifest.metadata
    await objects.deleteNamespacedCustomObject({ ...GVP, namespace, name }).catch((e) => {
      if (e?.code !== 404) throw e
    })
    await create(manifest)
    const stored = await objects.getNamespacedCustomObject({ ...GVP, namespace, name })
    expect(stored.kind).toBe('PrometheusRule')
    expect(stored.metadata).toMatchObject({ namespace: 'monitoring', name: 'gmail-oauth-expiry' })
    // Nothing pruned or defaulted away by the structural schema.
    expect(stored.spec).toEqual(manifest.spec)
    expect(stored.spec.groups[0].rules.map((r: any) => r.alert)).toEqual(['GmailOAuthTokenExpiresSoon', 'GmailOAuthTokenExpired', 'GmailOAuthTokenExpiryUnknown', 'GmailOAuthTokenSecretAbsent'])
    // Leave the name to the `tofu apply` below, which must create it itself.
    await objects.deleteNamespacedCustomObject({ ...GVP, namespace, name })
  })
})

describe('the CRD schema rejects a broken rule', () => {
  const broken = (edit: (rule: any, group: any) => void) => {
    const copy = structuredClone(manifest)
    copy.metadata.name = 'gmail-oauth-expiry-broken'
    edit(copy.spec.groups[0].rules[0], copy.spec.groups[0])
    return copy
  }

  it('a rule without expr', async () => {
    const r = await rejection(broken((rule) => delete rule.expr))
    expect(r.code).toBe(422)
    expect(r.message).toContain('spec.groups[0].rules[0].expr: Required value')
  })

  it('a `for` that is not a Prometheus duration', async () => {
    const r = await rejection(broken((rule) => (rule.for = '10 minutes')))
    expect(r.code).toBe(422)
    expect(r.message).toMatch(/spec\.groups\[0\]\.rules\[0\]\.for: Invalid value: "10 minutes": spec\.groups\[0\]\.rules\[0\]\.for in body should match/)
  })

  it('a misspelled field (strict field validation)', async () => {
    const r = await rejection(broken((rule) => (rule.annotation = rule.annotations)))
    expect(r.code).toBe(400) // strict decoding fails before schema validation: BadRequest
    expect(r.message).toContain('unknown field "spec.groups[0].rules[0].annotation"')
  })

  it('a group without a name', async () => {
    const r = await rejection(broken((_, group) => delete group.name))
    expect(r.code).toBe(422)
    expect(r.message).toContain('spec.groups[0].name: Required value')
  })

  it('accepts the unedited manifest under the same temporary name (so the edits are what fail)', async () => {
    const copy = broken(() => {})
    const created = await create(copy, 'All')
    expect(created.metadata.name).toBe('gmail-oauth-expiry-broken')
  })
})

describe('tofu apply of terraform/modules/monitoring creates the same PrometheusRule', () => {
  // A root module that uses ours as is, with the provider pointed at the test plane. The
  // provider plans kubernetes_manifest against the live CRD schema (it needs the CRD at plan time).
  const root = () => {
    const dir = mkdtempSync(join(runDir, 'tofu-root-'))
    writeFileSync(join(dir, 'main.tf'), [
      `provider "kubernetes" {\n  config_path = ${JSON.stringify(admin)}\n}\n`,
      `module "monitoring" {\n  source = ${JSON.stringify(join(REPO_ROOT, 'terraform/modules/monitoring'))}\n}\n`,
      'output "prometheus_rule" {\n  value = module.monitoring.prometheus_rule\n}\n',
    ].join('\n'))
    return dir
  }
  const tofu = (dir: string, ...args: string[]) => {
    const r = runTool('tofu', [...args], { cwd: dir, env: tofuEnv() })
    return { ...r, log: `tofu ${args.join(' ')} exited ${r.status}:\n${r.stdout}\n${r.stderr}` }
  }

  it('applies, reads back equal to the rule file, plans no changes after, and destroys', async () => {
    const dir = root()
    // `tofu get` installs the local module; `tofu init` would look for the provider in a registry.
    expect(tofu(dir, 'get', '-no-color').status).toBe(0)

    const apply = tofu(dir, 'apply', '-auto-approve', '-no-color')
    expect(apply.status, apply.log).toBe(0)
    expect(apply.stdout).toContain('Apply complete! Resources: 1 added, 0 changed, 0 destroyed.')

    const { namespace, name } = manifest.metadata
    const stored = await objects.getNamespacedCustomObject({ ...GVP, namespace, name })
    expect(stored.spec).toEqual(manifest.spec)
    expect(stored.metadata.labels).toEqual(manifest.metadata.labels)

    const plan = tofu(dir, 'plan', '-detailed-exitcode', '-no-color')
    expect(plan.status, plan.log).toBe(0) // 0 = no changes: the module converges

    const output = tofu(dir, 'output', '-json', 'prometheus_rule')
    expect(JSON.parse(output.stdout)).toEqual({ namespace: 'monitoring', name: 'gmail-oauth-expiry' })

    const destroy = tofu(dir, 'destroy', '-auto-approve', '-no-color')
    expect(destroy.status, destroy.log).toBe(0)
    await expect(objects.getNamespacedCustomObject({ ...GVP, namespace, name })).rejects.toMatchObject({ code: 404 })
  })
})
