import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { findEntry } from '../../lib/registry.ts'
import { REPO_ROOT, runTool, tofuEnv } from '../ops/tools.ts'

const MODULE = 'terraform/modules/monitoring'
const RULES = findEntry('platform.gmail_oauth_token').monitoring!.rules

interface Rendered {
  files: string[]
  variables: Record<string, unknown>
  resources: Record<string, { manifest: any }>
  outputs: Record<string, unknown>
}

/** Parses and evaluates the module with tfrender (hashicorp/hcl/v2); throws with its diagnostics. */
function render(dir: string, args: string[] = [], cwd = REPO_ROOT): Rendered {
  const r = runTool('tfrender', [...args, dir], { cwd })
  if (r.status !== 0) throw new Error(`tfrender ${dir} exited ${r.status}:\n${r.stderr}`)
  return JSON.parse(r.stdout) as Rendered
}

/** A scratch copy of the module and the deploy/ files it reads, laid out as in the repository; returns the copy's root. */
function scratchRepo(): string {
  const dir = mkdtempSync(join(tmpdir(), 'credflow-tf-'))
  cpSync(join(REPO_ROOT, MODULE), join(dir, MODULE), { recursive: true })
  cpSync(join(REPO_ROOT, 'deploy'), join(dir, 'deploy'), { recursive: true })
  return dir
}

/** A copy of the module in a temp dir with main.tf edited; returns tfrender's exit and stderr. */
function renderEdited(edit: (mainTf: string) => string): { status: number | null; stderr: string } {
  const dir = scratchRepo()
  const main = join(dir, MODULE, 'main.tf')
  const original = readFileSync(main, 'utf8')
  const edited = edit(original)
  expect(edited).not.toBe(original)
  writeFileSync(main, edited)
  const r = runTool('tfrender', [MODULE], { cwd: dir })
  return { status: r.status, stderr: r.stderr }
}

describe('tfrender: the monitoring module parses, is fmt-clean and renders the PrometheusRule', () => {
  const out = render(MODULE)
  const manifest = out.resources['kubernetes_manifest.gmail_oauth_expiry']?.manifest

  it('reads every .tf file of the module', () => {
    expect(out.files.map((f) => f.replace(`${MODULE}/`, ''))).toEqual(['main.tf', 'outputs.tf', 'variables.tf', 'versions.tf'])
  })

  it('declares PrometheusRule monitoring/gmail-oauth-expiry', () => {
    expect(manifest).toMatchObject({
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PrometheusRule',
      metadata: { name: 'gmail-oauth-expiry', namespace: 'monitoring' },
    })
  })

  it('takes the spec from the one rule file, unchanged, via yamldecode(file(...))', () => {
    expect(readFileSync(join(REPO_ROOT, MODULE, 'main.tf'), 'utf8')).toContain(
      'spec = yamldecode(file("${path.module}/rules/gmail-oauth-expiry.rules.yaml"))',
    )
    expect(`${MODULE}/rules/gmail-oauth-expiry.rules.yaml`).toBe(RULES)
    expect(manifest.spec).toEqual(parse(readFileSync(join(REPO_ROOT, RULES), 'utf8')))
  })

  it('outputs the rule name, the alert names, the CRD and the kube-state-metrics config', () => {
    expect(out.outputs).toEqual({
      prometheus_rule: { namespace: 'monitoring', name: 'gmail-oauth-expiry' },
      alert_names: ['GmailOAuthTokenExpiresSoon', 'GmailOAuthTokenExpired', 'GmailOAuthTokenExpiryUnknown', 'GmailOAuthTokenSecretAbsent'],
      credential_expiry_crd: 'credentialexpiries.credflow.dev',
      kube_state_metrics_custom_resource_state_config: readFileSync(join(REPO_ROOT, 'deploy/monitoring/kube-state-metrics-config.yaml'), 'utf8'),
    })
  })

  it("ships what the cluster needs from deploy/'s own files: the CRD, kube-state-metrics' RBAC, optionally its ServiceMonitor", () => {
    const deploy = (f: string) => parse(readFileSync(join(REPO_ROOT, 'deploy', f), 'utf8'))
    expect(out.resources['kubernetes_manifest.credential_expiry_crd'].manifest).toEqual(deploy('credentialexpiry-crd.yaml'))
    expect(out.resources['kubernetes_manifest.kube_state_metrics_cluster_role'].manifest).toEqual(deploy('monitoring/kube-state-metrics-clusterrole.yaml'))
    // The binding's subject is the module's variable (kube-prometheus-stack's ServiceAccount by default, as in the file).
    expect(out.resources['kubernetes_manifest.kube_state_metrics_cluster_role_binding'].manifest).toEqual(deploy('monitoring/kube-state-metrics-clusterrolebinding.yaml'))
    expect(out.variables.service_monitor).toBe(false) // kube-prometheus-stack scrapes kube-state-metrics itself
    const sm = out.resources['kubernetes_manifest.kube_state_metrics_service_monitor'].manifest
    expect(sm).toEqual(deploy('monitoring/kube-state-metrics-servicemonitor.yaml'))
    expect(sm.spec.endpoints[0].honorLabels).toBe(true) // else namespace becomes exported_namespace and the alerts select nothing
  })

  it('deploy/ holds the same PrometheusRule for GitOps users as the module renders', () => {
    const gitops = parse(readFileSync(join(REPO_ROOT, 'deploy/monitoring/gmail-oauth-expiry-prometheusrule.yaml'), 'utf8'))
    // To regenerate: the rule file's content under spec (yaml stringify), the module's name, namespace and labels but managed-by.
    expect(gitops.spec, 'deploy/monitoring/gmail-oauth-expiry-prometheusrule.yaml: its spec must be the rule file').toEqual(manifest.spec)
    const { 'app.kubernetes.io/managed-by': _, ...labels } = manifest.metadata.labels
    expect(gitops.metadata).toEqual({ name: manifest.metadata.name, namespace: manifest.metadata.namespace, labels })
  })

  it('honours variables: namespace and extra labels', () => {
    const custom = render(MODULE, ['-var', 'namespace=observability'])
    expect(custom.resources['kubernetes_manifest.gmail_oauth_expiry'].manifest.metadata.namespace).toBe('observability')
    expect(manifest.metadata.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'terraform' })
  })
})

describe('tfrender rejects a broken module with file:line:col', () => {
  it('reports a syntax error', () => {
    const r = renderEdited((t) => t.replace('merge(var.rule_labels, {', 'merge(var.rule_labels {'))
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(/monitoring\/main\.tf:\d+:\d+: Missing argument separator/)
  })

  it('reports a reference to an undeclared variable', () => {
    const r = renderEdited((t) => t.replace('namespace = var.namespace', 'namespace = var.ns'))
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(/monitoring\/main\.tf:\d+:\d+: Unsupported attribute/)
  })

  it('reports a rule file that is not there', () => {
    const r = renderEdited((t) => t.replace('rules/gmail-oauth-expiry.rules.yaml', 'rules/missing.yaml'))
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(/main\.tf:\d+:\d+: Error in function call: .*missing\.yaml: no such file/)
  })

  it('reports formatting that terraform fmt would change', () => {
    const r = renderEdited((t) => t.replace('    kind       = "PrometheusRule"', '    kind = "PrometheusRule"'))
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(/monitoring\/main\.tf:1:1: not in canonical format/)
  })
})

describe('OpenTofu accepts the module (real provider schema)', () => {
  /** A scratch copy of the module (tofu may write .terraform files), optionally with main.tf edited. */
  function copyModule(edit?: (mainTf: string) => string): string {
    const dir = join(scratchRepo(), MODULE)
    if (edit) {
      const main = join(dir, 'main.tf')
      const original = readFileSync(main, 'utf8')
      const edited = edit(original)
      expect(edited).not.toBe(original)
      writeFileSync(main, edited)
    }
    return dir
  }
  const tofu = (args: string[], cwd: string) => runTool('tofu', args, { cwd, env: tofuEnv() })

  it('tofu fmt -check finds nothing to change', () => {
    const r = tofu(['fmt', '-check', '-diff', '-recursive'], copyModule())
    expect(r.stdout + r.stderr).toBe('')
    expect(r.status).toBe(0)
  })

  it('tofu validate succeeds with the hashicorp/kubernetes provider schema', () => {
    const r = tofu(['validate', '-no-color'], copyModule())
    expect(r.stdout).toContain('Success! The configuration is valid')
    expect(r.status).toBe(0)
  })

  it('tofu validate rejects an argument kubernetes_manifest does not have (which tfrender cannot know)', () => {
    const r = tofu(['validate', '-no-color'], copyModule((t) => t.replace(/^ {2}manifest = \{/m, '  manifests = {')))
    expect(r.status).toBe(1)
    expect(r.stderr).toContain('An argument named "manifests" is not expected here. Did you mean "manifest"?')
  })
})
