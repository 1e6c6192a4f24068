// deploy/monitoring for kubectl and GitOps users (Argo CD, Flux build kustomize): the one marked
// line of kustomization.yaml sets the URL of the README, and every alert's runbook_url becomes
// that URL followed by the README #section the rule file names, exactly what the Terraform
// module renders for the same runbook_base_url. Built with the real kubectl (its kustomize).
import { execFileSync } from 'node:child_process'
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseAllDocuments } from 'yaml'
import { REPO_ROOT, runTool } from '../ops/tools.ts'

const KUSTOMIZATION = join(REPO_ROOT, 'deploy/monitoring/kustomization.yaml')
const MARKED = /^( {6}- runbook-url=)(\S+)( # <- SET THIS)$/m
const BASE = 'https://git.corp.internal/platform/credflow/src/branch/main/README.md'

const kubectl = () => execFileSync('bash', [join(REPO_ROOT, 'test/k8s/kubectl.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim().split('\n').pop()!

/** `kubectl kustomize` of a copy of deploy/monitoring, its marked line set to `url` (or left as shipped). */
function build(url?: string): any[] {
  const dir = join(mkdtempSync(join(tmpdir(), 'credflow-kustomize-')), 'monitoring')
  cpSync(join(REPO_ROOT, 'deploy/monitoring'), dir, { recursive: true })
  if (url) writeFileSync(join(dir, 'kustomization.yaml'), readFileSync(KUSTOMIZATION, 'utf8').replace(MARKED, `$1${url}$3`))
  const out = execFileSync(kubectl(), ['kustomize', dir], { encoding: 'utf8', timeout: 60_000 })
  return parseAllDocuments(out).map((d) => d.toJS())
}

const runbookUrls = (docs: any[]) => docs.find((d) => d.kind === 'PrometheusRule').spec.groups.flatMap((g: any) => g.rules.map((r: any) => [r.alert, r.annotations.runbook_url]))

describe('kubectl kustomize deploy/monitoring', () => {
  it('has one marked line to set, shipped with a .invalid host that names the file', () => {
    const text = readFileSync(KUSTOMIZATION, 'utf8')
    expect(text.match(new RegExp(MARKED.source, 'gm'))).toHaveLength(1)
    expect(MARKED.exec(text)![2]).toBe('https://set-runbook-url-in-deploy-monitoring-kustomization.invalid/README.md')
  })

  it('completes every runbook_url from the marked line, as the Terraform module does for the same URL; the ConfigMap stays local', () => {
    const docs = build(BASE)
    expect(docs.map((d) => d.kind).sort()).toEqual(['ClusterRole', 'ClusterRoleBinding', 'PrometheusRule'])
    const urls = runbookUrls(docs)
    expect(urls.length).toBe(4)
    for (const [alert, url] of urls) expect(url, alert).toMatch(new RegExp(`^${BASE.replace(/[.]/g, '\\.')}#[-a-z0-9]+$`))
    const tf = runTool('tfrender', ['-var', `runbook_base_url=${BASE}`, 'terraform/modules/monitoring'])
    expect(tf.status, tf.stderr).toBe(0)
    const module = JSON.parse(tf.stdout).resources['kubernetes_manifest.gmail_oauth_expiry'].manifest
    expect(docs.find((d) => d.kind === 'PrometheusRule').spec).toEqual(module.spec)
  })

  it('left unset, points every alert at the .invalid host (so a page says where to fix it)', () => {
    for (const [alert, url] of runbookUrls(build())) expect(url, alert).toMatch(/^https:\/\/set-runbook-url-in-deploy-monitoring-kustomization\.invalid\/README\.md#[-a-z0-9]+$/)
  })
})
