// The PrometheusRule that terraform/modules/monitoring declares, rendered from the .tf files
// by tfrender, against the real PrometheusRule CRD (vendored from prometheus-operator) on
// the real apiserver: the CRD's OpenAPI schema accepts it and rejects broken rules. The same
// for deploy/monitoring's PrometheusRule and ServiceMonitor (a GitOps user applies those), and
// `tofu apply` of the whole module: the CredentialExpiry CRD, kube-state-metrics' RBAC, the rule.
import * as k8s from '@kubernetes/client-node'
import { execFileSync } from 'node:child_process'
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { parseAllDocuments, stringify } from 'yaml'
import { applyManifestFiles, deleteManifestFiles, readManifests } from '../ops/cluster.ts'
import { REPO_ROOT, runTool, tofuEnv } from '../ops/tools.ts'
import { KSM_RBAC } from '../ops/monitoring.ts'
import { resetFixtures } from '../k8s/fixtures.ts'
import { buildKubectl } from '../../bench/world.ts'

const admin = inject('kubeconfig')
const runDir = inject('runDir')
const CRD = join(REPO_ROOT, 'test/ops/crds/monitoring.coreos.com_prometheusrules.yaml')
const CRD_NAME = 'prometheusrules.monitoring.coreos.com'
const SM_CRD = join(REPO_ROOT, 'test/ops/crds/monitoring.coreos.com_servicemonitors.yaml')
const EXPIRY_CRD = join(REPO_ROOT, 'deploy/credentialexpiry-crd.yaml')
const GITOPS = ['gmail-oauth-expiry-prometheusrule.yaml', 'kube-state-metrics-servicemonitor.yaml'].map((f) => join(REPO_ROOT, 'deploy/monitoring', f))
const GVP = { group: 'monitoring.coreos.com', version: 'v1', plural: 'prometheusrules' }

let objects: k8s.CustomObjectsApi
let manifest: any

/** Where a deployer's forge serves credflow's README (the module's required runbook_base_url). */
const RUNBOOK = 'https://git.corp.internal/platform/credflow/src/branch/main/README.md'

function render(): any {
  const r = runTool('tfrender', ['-var', `runbook_base_url=${RUNBOOK}`, 'terraform/modules/monitoring'])
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
  // With real kubectl: the client library's typed CRD model drops x-kubernetes-int-or-string,
  // which the ServiceMonitor CRD uses (the apiserver then rejects the schema).
  execFileSync(buildKubectl(), ['--kubeconfig', admin, 'apply', '--server-side', '--field-manager=credflow-ops-tests', '-f', SM_CRD], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 60_000 })
  for (const name of [CRD_NAME, 'servicemonitors.monitoring.coreos.com']) {
    await until(`CRD ${name} Established`, async () => {
      const crd = await ext.readCustomResourceDefinition({ name })
      return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ?? false
    })
  }
  await core.createNamespace({ body: { metadata: { name: manifest.metadata.namespace } } }).catch((e) => {
    if (e?.code !== 409) throw e
  })
  // Established does not mean every apiserver handler serves the new type yet.
  for (const plural of ['prometheusrules', 'servicemonitors']) {
    await until(`the ${plural} endpoint`, async () => {
      try {
        await objects.listNamespacedCustomObject({ ...GVP, plural, namespace: manifest.metadata.namespace })
        return true
      } catch {
        return false
      }
    })
  }
})

describe("deploy/monitoring's manifests for GitOps users are accepted by the real CRDs", () => {
  it('the PrometheusRule and the ServiceMonitor pass a strict server-side dry run, also as `kubectl kustomize deploy/monitoring` builds the rule', async () => {
    const plural: Record<string, string> = { PrometheusRule: 'prometheusrules', ServiceMonitor: 'servicemonitors' }
    const kustomized = join(mkdtempSync(join(runDir, 'kustomize-')), 'prometheusrule.yaml')
    const built = parseAllDocuments(execFileSync(buildKubectl(), ['kustomize', join(REPO_ROOT, 'deploy/monitoring')], { encoding: 'utf8', timeout: 60_000 })).map((d) => d.toJS())
    writeFileSync(kustomized, stringify(built.find((d) => d.kind === 'PrometheusRule')))
    for (const file of [...GITOPS, kustomized]) {
      for (const obj of readManifests(file)) {
        const created = await objects.createNamespacedCustomObject({ ...GVP, plural: plural[obj.kind!], namespace: obj.metadata!.namespace!, body: obj, fieldValidation: 'Strict', dryRun: 'All' })
        expect(created.kind, file).toBe(obj.kind)
        expect((created as any).spec, file).toEqual((obj as any).spec) // nothing pruned by the structural schema
      }
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

describe('tofu apply of terraform/modules/monitoring creates what the cluster needs', () => {
  // The plane as the other test files expect it: the CredentialExpiry CRD back in place.
  afterAll(() => resetFixtures(admin))

  // A root module that uses ours as is, with the provider pointed at the test plane. The
  // provider plans kubernetes_manifest against the live CRD schema (it needs the CRD at plan time).
  const root = () => {
    const dir = mkdtempSync(join(runDir, 'tofu-root-'))
    // A copy of the module alone, given by absolute path: tofu copies it into .terraform/modules
    // like a registry download, so nothing of the repository comes along.
    const module = join(mkdtempSync(join(runDir, 'tofu-module-')), 'monitoring')
    cpSync(join(REPO_ROOT, 'terraform/modules/monitoring'), module, { recursive: true })
    writeFileSync(join(dir, 'main.tf'), [
      `provider "kubernetes" {\n  config_path = ${JSON.stringify(admin)}\n}\n`,
      `module "monitoring" {\n  source           = ${JSON.stringify(module)}\n  runbook_base_url = ${JSON.stringify(RUNBOOK)}\n}\n`,
      'output "prometheus_rule" {\n  value = module.monitoring.prometheus_rule\n}\n',
    ].join('\n'))
    return dir
  }
  const tofu = (dir: string, ...args: string[]) => {
    const r = runTool('tofu', [...args], { cwd: dir, env: tofuEnv() })
    return { ...r, log: `tofu ${args.join(' ')} exited ${r.status}:\n${r.stdout}\n${r.stderr}` }
  }

  it('applies the CRD, the RBAC and the rule, reads them back as declared, plans no changes after, and destroys', async () => {
    const dir = root()
    // `tofu get` installs the local module; `tofu init` would look for the provider in a registry.
    expect(tofu(dir, 'get', '-no-color').status).toBe(0)
    // As on a cluster that never had credflow: the test plane's fixtures installed the CRD and
    // the expiry test the RBAC, which `tofu apply` must create itself (it refuses to adopt).
    await deleteManifestFiles(admin, [...KSM_RBAC, EXPIRY_CRD])
    const ext = (() => {
      const kc = new k8s.KubeConfig()
      kc.loadFromFile(admin)
      return kc.makeApiClient(k8s.ApiextensionsV1Api)
    })()
    await until('the CredentialExpiry CRD gone', async () => ext.readCustomResourceDefinition({ name: 'credentialexpiries.credflow.dev' }).then(() => false, (e) => e?.code === 404))

    const apply = tofu(dir, 'apply', '-auto-approve', '-no-color')
    expect(apply.status, apply.log).toBe(0)
    expect(apply.stdout).toContain('Apply complete! Resources: 4 added, 0 changed, 0 destroyed.')
    const crd = await ext.readCustomResourceDefinition({ name: 'credentialexpiries.credflow.dev' })
    expect(crd.spec.versions.map((v) => v.name)).toEqual(['v1'])
    const rbac = new k8s.KubeConfig()
    rbac.loadFromFile(admin)
    const rbacApi = rbac.makeApiClient(k8s.RbacAuthorizationV1Api)
    const role = await rbacApi.readClusterRole({ name: 'credflow-kube-state-metrics' })
    expect(role.rules).toEqual((readManifests(KSM_RBAC[0])[0] as any).rules)
    const binding = await rbacApi.readClusterRoleBinding({ name: 'credflow-kube-state-metrics' })
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'kube-prometheus-stack-kube-state-metrics', namespace: 'monitoring' }])

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
    expect(destroy.stdout).toContain('Destroy complete! Resources: 4 destroyed.')
    await expect(objects.getNamespacedCustomObject({ ...GVP, namespace, name })).rejects.toMatchObject({ code: 404 })
    await expect(rbacApi.readClusterRole({ name: 'credflow-kube-state-metrics' })).rejects.toMatchObject({ code: 404 })
  })
})
