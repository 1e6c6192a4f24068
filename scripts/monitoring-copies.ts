// Writes the monitoring files that exist twice, from their one source each, so that the two
// ways of installing the alerts ship the same objects:
//   - terraform/modules/monitoring/manifests/*: byte-for-byte copies of deploy/'s files, so the
//     module is self-contained (a registry download or a copied directory has no deploy/ beside it);
//   - deploy/monitoring/gmail-oauth-expiry-prometheusrule.yaml: the PrometheusRule for kubectl and
//     GitOps users, its spec the module's rule file (the one promtool tests).
//
//   node scripts/monitoring-copies.ts          # rewrite the copies
//   node scripts/monitoring-copies.ts --check  # exit 1 naming every copy that differs
//
// test/unit/ops-terraform.test.ts fails when a copy differs from what this writes.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse, stringify } from 'yaml'

const ROOT = fileURLToPath(new URL('../', import.meta.url))
const MODULE = 'terraform/modules/monitoring'

/** deploy/ file -> its copy in the module. */
export const MODULE_COPIES: Record<string, string> = Object.fromEntries(
  ['credentialexpiry-crd.yaml', 'monitoring/kube-state-metrics-clusterrole.yaml', 'monitoring/kube-state-metrics-clusterrolebinding.yaml', 'monitoring/kube-state-metrics-servicemonitor.yaml', 'monitoring/kube-state-metrics-config.yaml'].map(
    (f) => [`deploy/${f}`, `${MODULE}/manifests/${f.replace('monitoring/', '')}`],
  ),
)
export const RULE_FILE = `${MODULE}/rules/gmail-oauth-expiry.rules.yaml`
export const GITOPS_RULE = 'deploy/monitoring/gmail-oauth-expiry-prometheusrule.yaml'

const GITOPS_HEADER = `# PrometheusRule monitoring/gmail-oauth-expiry for kubectl and GitOps users (Argo CD, Flux): the
# alerts of ${RULE_FILE}, the one rule file
# (promtool-tested; Terraform embeds it). Generated from it by scripts/monitoring-copies.ts, and a
# test fails when they differ: edit the rule file, then run that script.
# Apply it with kustomize (kubectl apply -k deploy/monitoring, or point Argo CD / Flux at that
# directory): kustomization.yaml puts the URL of your README in front of each runbook_url's
# #section (one marked line there). kube-prometheus-stack picks it up with
# prometheus.prometheusSpec.ruleSelectorNilUsesHelmValues: false
# (deploy/monitoring/kube-prometheus-stack-values.yaml); else add your release label.
`

/** Every generated file (repository path) with the text it must have. */
export function expectedCopies(root: string = ROOT): Record<string, string> {
  const read = (f: string) => readFileSync(`${root}/${f}`, 'utf8')
  const files: Record<string, string> = Object.fromEntries(Object.entries(MODULE_COPIES).map(([from, to]) => [to, read(from)]))
  const rule = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: { name: 'gmail-oauth-expiry', namespace: 'monitoring', labels: { 'app.kubernetes.io/name': 'gmail-oauth-expiry', 'app.kubernetes.io/part-of': 'credflow' } },
    spec: parse(read(RULE_FILE)),
  }
  files[GITOPS_RULE] = GITOPS_HEADER + stringify(rule, { lineWidth: 0 })
  return files
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const check = process.argv[2] === '--check'
  if (process.argv.length > 3 || (process.argv[2] && !check)) {
    console.error('usage: node scripts/monitoring-copies.ts [--check]')
    process.exit(2)
  }
  const stale: string[] = []
  for (const [file, text] of Object.entries(expectedCopies())) {
    let current: string | undefined
    try {
      current = readFileSync(`${ROOT}/${file}`, 'utf8')
    } catch {
      current = undefined
    }
    if (current === text) continue
    stale.push(file)
    if (check) continue
    mkdirSync(dirname(`${ROOT}/${file}`), { recursive: true })
    writeFileSync(`${ROOT}/${file}`, text)
  }
  if (check && stale.length > 0) {
    console.error(`out of date: ${stale.join(', ')}\nrun: node scripts/monitoring-copies.ts`)
    process.exit(1)
  }
  console.log(stale.length === 0 ? 'all copies up to date' : `wrote ${stale.join(', ')}`)
}
