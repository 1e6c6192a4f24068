import { execFileSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { findEntry } from '../../lib/registry.ts'
import { expectedCopies, GITOPS_RULE, MODULE_COPIES } from '../../scripts/monitoring-copies.ts'
import { REPO_ROOT, runTool, tofuEnv } from '../ops/tools.ts'

const MODULE = 'terraform/modules/monitoring'
const RULES = findEntry('platform.gmail_oauth_token').monitoring!.rules
/** Where a deployer's forge serves credflow's README (the module's required runbook_base_url). */
const RUNBOOK = 'https://git.corp.internal/platform/credflow/src/branch/main/README.md'

/** The rule file as the module must embed it: each runbook_url (a README #section) behind `base`. */
function rulesWithRunbook(base: string): any {
  const rules = parse(readFileSync(join(REPO_ROOT, RULES), 'utf8'))
  for (const g of rules.groups) for (const r of g.rules) r.annotations.runbook_url = base + r.annotations.runbook_url
  return rules
}

interface Rendered {
  files: string[]
  variables: Record<string, unknown>
  resources: Record<string, { manifest: any }>
  outputs: Record<string, unknown>
}

/** Parses and evaluates the module with tfrender (hashicorp/hcl/v2); throws with its diagnostics. */
function render(dir: string, args: string[] = [], cwd = REPO_ROOT): Rendered {
  const r = runTool('tfrender', ['-var', `runbook_base_url=${RUNBOOK}`, ...args, dir], { cwd })
  if (r.status !== 0) throw new Error(`tfrender ${dir} exited ${r.status}:\n${r.stderr}`)
  return JSON.parse(r.stdout) as Rendered
}

/** A scratch copy of the module alone, nothing of the repository beside it (as from a registry); returns the copy's root. */
function scratchRepo(): string {
  const dir = mkdtempSync(join(tmpdir(), 'credflow-tf-'))
  cpSync(join(REPO_ROOT, MODULE), join(dir, MODULE), { recursive: true })
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
  const r = runTool('tfrender', ['-var', `runbook_base_url=${RUNBOOK}`, MODULE], { cwd: dir })
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

  it('takes the spec from the one rule file via yamldecode(file(...)), only each runbook_url completed by var.runbook_base_url', () => {
    expect(readFileSync(join(REPO_ROOT, MODULE, 'main.tf'), 'utf8')).toContain('yamldecode(file("${path.module}/rules/gmail-oauth-expiry.rules.yaml"))')
    expect(`${MODULE}/rules/gmail-oauth-expiry.rules.yaml`).toBe(RULES)
    expect(manifest.spec).toEqual(rulesWithRunbook(RUNBOOK))
    const urls = manifest.spec.groups.flatMap((g: any) => g.rules.map((r: any) => r.annotations.runbook_url))
    expect(urls).toEqual([`${RUNBOOK}#runbook-the-weekly-one-minute-re-auth-over-ssh`, `${RUNBOOK}#runbook-the-weekly-one-minute-re-auth-over-ssh`, `${RUNBOOK}#expiry-metrics-and-alerts`, `${RUNBOOK}#runbook-the-weekly-one-minute-re-auth-over-ssh`])
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

  it('deploy/ holds the same PrometheusRule for GitOps users as the module renders (the runbook URL filled in by kustomize, below)', () => {
    const gitops = parse(readFileSync(join(REPO_ROOT, GITOPS_RULE), 'utf8'))
    expect(gitops.spec, `${GITOPS_RULE}: its spec must be the rule file (node scripts/monitoring-copies.ts)`).toEqual(rulesWithRunbook(''))
    const { 'app.kubernetes.io/managed-by': _, ...labels } = manifest.metadata.labels
    expect(gitops.metadata).toEqual({ name: manifest.metadata.name, namespace: manifest.metadata.namespace, labels })
  })

  it('honours variables: namespace and extra labels', () => {
    const custom = render(MODULE, ['-var', 'namespace=observability'])
    expect(custom.resources['kubernetes_manifest.gmail_oauth_expiry'].manifest.metadata.namespace).toBe('observability')
    expect(manifest.metadata.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'terraform' })
  })
})

describe('the module is self-contained: what it reads lives inside it', () => {
  it("holds byte-for-byte copies of deploy/'s files, and deploy/'s PrometheusRule is generated from the rule file (scripts/monitoring-copies.ts)", () => {
    const expected = expectedCopies()
    expect(Object.keys(expected).sort()).toEqual([...Object.values(MODULE_COPIES), GITOPS_RULE].sort())
    for (const [file, text] of Object.entries(expected)) {
      expect(readFileSync(join(REPO_ROOT, file), 'utf8') === text, `${file} differs from its source: run \`node scripts/monitoring-copies.ts\``).toBe(true)
    }
    const r = execFileSync('node', [join(REPO_ROOT, 'scripts/monitoring-copies.ts'), '--check'], { encoding: 'utf8' })
    expect(r).toContain('all copies up to date')
  })

  it('the copy check fails when deploy/ changes and the module copy does not', () => {
    const root = mkdtempSync(join(tmpdir(), 'credflow-copies-'))
    for (const f of [...Object.keys(MODULE_COPIES), ...Object.values(MODULE_COPIES), RULES, GITOPS_RULE]) {
      mkdirSync(join(root, f, '..'), { recursive: true })
      cpSync(join(REPO_ROOT, f), join(root, f))
    }
    const crd = join(root, 'deploy/credentialexpiry-crd.yaml')
    writeFileSync(crd, readFileSync(crd, 'utf8').replace('credentialexpiries', 'credentialexpirys'))
    const stale = Object.entries(expectedCopies(root)).filter(([f, text]) => readFileSync(join(root, f), 'utf8') !== text).map(([f]) => f)
    expect(stale).toEqual([`${MODULE}/manifests/credentialexpiry-crd.yaml`])
  })

  it('reads no file outside its directory (every file() path starts at path.module)', () => {
    const tf = readdirSync(join(REPO_ROOT, MODULE)).filter((f) => f.endsWith('.tf')).map((f) => readFileSync(join(REPO_ROOT, MODULE, f), 'utf8')).join('\n')
    const paths = [...tf.matchAll(/file\("([^"]+)"\)/g)].map((m) => m[1])
    expect(paths.length).toBeGreaterThan(0)
    for (const p of paths) {
      expect(p, p).toMatch(/^\$\{(path\.module|local\.manifests)\}\//)
      expect(p, p).not.toContain('..')
    }
    expect(tf).toMatch(/manifests\s+= "\$\{path\.module\}\/manifests"/)
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

  /**
   * A root module that calls a copy of ours given by absolute path: tofu copies such a source
   * into .terraform/modules like a download, so only what is inside the module comes along.
   */
  function rootModule(inputs: Record<string, string>): string {
    const dir = mkdtempSync(join(tmpdir(), 'credflow-tf-root-'))
    const args = Object.entries(inputs).map(([k, v]) => `  ${k} = ${JSON.stringify(v)}\n`).join('')
    writeFileSync(join(dir, 'main.tf'), `provider "kubernetes" {}\n\nmodule "monitoring" {\n  source = ${JSON.stringify(copyModule())}\n${args}}\n`)
    const get = tofu(['get', '-no-color'], dir)
    expect(get.status, get.stderr).toBe(0)
    return dir
  }

  it('tofu validate succeeds for a root module using a copy of the module alone (as from a registry)', () => {
    const dir = rootModule({ runbook_base_url: RUNBOOK })
    expect(readdirSync(join(dir, '.terraform/modules/monitoring/manifests')).sort()).toEqual(Object.values(MODULE_COPIES).map((f) => f.replace(`${MODULE}/manifests/`, '')).sort())
    const r = tofu(['validate', '-no-color'], dir)
    expect(r.stdout, r.stderr).toContain('Success! The configuration is valid')
    expect(r.status).toBe(0)
  })

  it('tofu refuses a missing runbook_base_url, a placeholder host and a #fragment, saying what to set', () => {
    const missing = tofu(['validate', '-no-color'], rootModule({}))
    expect(missing.status).toBe(1)
    expect(missing.stderr).toMatch(/Missing required argument[\s\S]*"runbook_base_url" is required/)
    for (const url of ['https://forgejo.example.com/platform/credflow/src/branch/main/README.md', 'https://git.example.org/README.md', 'http://localhost:3000/README.md', 'https://set-runbook-url-in-deploy-monitoring-kustomization.invalid/README.md']) {
      const r = tofu(['validate', '-no-color'], rootModule({ runbook_base_url: url }))
      expect(r.status, url).toBe(1)
      expect(r.stderr.replace(/\s+/g, ' '), url).toContain('runbook_base_url names a placeholder host')
    }
    for (const url of [`${RUNBOOK}#top`, 'git.corp.internal/README.md', `${RUNBOOK}?plain=1`]) {
      const r = tofu(['validate', '-no-color'], rootModule({ runbook_base_url: url }))
      expect(r.status, url).toBe(1)
      expect(r.stderr.replace(/\s+/g, ' '), url).toContain('runbook_base_url must be an http(s) URL without a query or #fragment')
    }
    // A real host whose name merely contains a reserved word is fine.
    expect(tofu(['validate', '-no-color'], rootModule({ runbook_base_url: 'https://test.corp.internal/myexample.com/README.md' })).status).toBe(0)
  })

  it('tofu validate rejects an argument kubernetes_manifest does not have (which tfrender cannot know)', () => {
    const r = tofu(['validate', '-no-color'], copyModule((t) => t.replace(/^ {2}manifest = \{/m, '  manifests = {')))
    expect(r.status).toBe(1)
    expect(r.stderr).toContain('An argument named "manifests" is not expected here. Did you mean "manifest"?')
  })
})
